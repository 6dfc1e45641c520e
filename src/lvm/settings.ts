/**
 * The LVM settings the plugin imposes on every command, so that behaviour
 * does not depend on the host's (or the image's) lvm.conf: written into the
 * agent's LVM configuration directory (system-dir.ts), or passed with
 * `--config` where there is none.
 *
 * Checked against lvm2 2.03.16 (`lvmconfig --type default`): every setting
 * named here exists in that version, and `--config` values override lvm.conf.
 */

export interface LvmSettings {
  /**
   * activation/udev_sync and activation/udev_rules. On (the lvm default) when
   * LVM runs on the host (directly or through nsenter). Turn off in a
   * container without a udev daemon: lvm then creates /dev/<vg>/<lv> itself
   * instead of waiting for udev (which would hang or time out), and it also
   * stops asking udev for the device list.
   */
  udevSync: boolean;
  /** activation/monitoring (dmeventd). Off in containers without dmeventd. */
  monitoring: boolean;
  /** backup/ section: keep metadata backups and a bounded archive of old versions. */
  backup: {
    /** backup/backup and backup/archive. */
    enabled: boolean;
    /** backup/retain_min: keep at least this many archived versions. */
    retainMin: number;
    /** backup/retain_days: and keep archives for this many days. */
    retainDays: number;
  };
  /**
   * `vgcreate --metadatasize` for VGs the plugin creates. Every LV carries its
   * tags (CSI name, parameters, ...) in the VG metadata, and lvm keeps room for
   * two copies in each metadata area, so the lvm default (1 MiB, ~500 KiB
   * usable) fills up after a few hundred volumes.
   */
  vgMetadataSizeBytes: number;
  /**
   * devices/global_filter rejecting iSCSI disks and multipath maps over them,
   * so LVM never scans a volume attached on this node (the storage node is
   * often a consumer too): a tenant's PVs inside a volume stay invisible, and
   * a session in recovery cannot block lvs. Default true.
   */
  rejectIscsiDisks: boolean;
  /**
   * Optional: devices/use_devicesfile. Unset = leave the host's setting alone
   * (RHEL 9 enables a devices file; Debian 12 does not).
   */
  useDevicesFile?: boolean;
  /**
   * Optional: run `lvm <command> ...` through this binary instead of the
   * per-command names (lvs, lvcreate, ...). E.g. "lvm" or "/usr/sbin/lvm".
   */
  lvmBinary?: string;
}

export const DEFAULT_LVM_SETTINGS: Readonly<LvmSettings> = Object.freeze({
  udevSync: true,
  monitoring: true,
  backup: Object.freeze({ enabled: true, retainMin: 10, retainDays: 7 }),
  rejectIscsiDisks: true,
  vgMetadataSizeBytes: 64 * 1024 * 1024,
});

/** What lvmSettings() accepts: any subset, backup too. */
export type LvmSettingsInput = Omit<Partial<LvmSettings>, 'backup'> & { backup?: Partial<LvmSettings['backup']> };

/** Fill in defaults and check ranges. Throws a plain Error on nonsense (a configuration bug). */
export function lvmSettings(partial: LvmSettingsInput = {}): LvmSettings {
  const s: LvmSettings = {
    ...DEFAULT_LVM_SETTINGS,
    ...partial,
    backup: { ...DEFAULT_LVM_SETTINGS.backup, ...partial.backup },
  };
  const ints: [string, number, number][] = [
    ['backup.retainMin', s.backup.retainMin, 0],
    ['backup.retainDays', s.backup.retainDays, 0],
    ['vgMetadataSizeBytes', s.vgMetadataSizeBytes, 1024 * 1024],
  ];
  for (const [name, v, min] of ints) {
    if (!Number.isSafeInteger(v) || v < min)
      throw new Error(`LvmSettings.${name} must be an integer >= ${min}, got ${v}`);
  }
  if (s.vgMetadataSizeBytes % 512 !== 0) throw new Error('LvmSettings.vgMetadataSizeBytes must be a multiple of 512');
  if (s.lvmBinary !== undefined && s.lvmBinary.trim() === '')
    throw new Error('LvmSettings.lvmBinary must not be empty');
  return s;
}

const b = (v: boolean): string => (v ? '1' : '0');

/** Names udev gives iSCSI disks and multipath maps; LVM rejects a device when one of its names matches. */
const ISCSI_REJECT = ['^/dev/disk/by-path/.*-iscsi-.*', '^/dev/disk/by-id/dm-uuid-mpath-.*'];

/**
 * The config tree text, one line, e.g.
 * `activation { udev_sync=1 udev_rules=1 monitoring=1 } backup { backup=1 archive=1 retain_min=10 retain_days=7 } report { list_item_separator="," binary_values_as_numeric=0 compact_output=0 time_format="%Y-%m-%d %T %z" }`
 *
 * The report section pins what the JSON parsers rely on, in case the host's
 * lvm.conf changed it: tags joined with ","; literal values such as "zero"
 * rather than 0/1; every requested field present (compact_output=1 drops
 * fields that are empty in every row, even from JSON, seen on 2.03.16);
 * lv_time as "2026-11-25 09:46:40 +0000".
 */
export function lvmConfigString(s: LvmSettings): string {
  const activation = [`udev_sync=${b(s.udevSync)}`, `udev_rules=${b(s.udevSync)}`, `monitoring=${b(s.monitoring)}`];
  const devices: string[] = [];
  if (!s.udevSync) devices.push('obtain_device_list_from_udev=0');
  if (s.useDevicesFile !== undefined) devices.push(`use_devicesfile=${b(s.useDevicesFile)}`);
  if (s.rejectIscsiDisks) devices.push(`global_filter=[ ${ISCSI_REJECT.map((r) => `"r|${r}|"`).join(', ')} ]`);
  const backup = [
    `backup=${b(s.backup.enabled)}`,
    `archive=${b(s.backup.enabled)}`,
    `retain_min=${s.backup.retainMin}`,
    `retain_days=${s.backup.retainDays}`,
  ];
  const report = [
    'list_item_separator=","',
    'binary_values_as_numeric=0',
    'compact_output=0',
    'time_format="%Y-%m-%d %T %z"',
  ];
  const sections: [string, string[]][] = [
    ['activation', activation],
    ['devices', devices],
    ['backup', backup],
    ['report', report],
  ];
  return sections
    .filter(([, items]) => items.length > 0)
    .map(([name, items]) => `${name} { ${items.join(' ')} }`)
    .join(' ');
}

/** The argv fragment every lvm command carries: ["--config", "<text>"]. */
export function lvmConfigArgs(s: LvmSettings): [string, string] {
  return ['--config', lvmConfigString(s)];
}
