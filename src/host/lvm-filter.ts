/**
 * Node hygiene: the host's own LVM (udev's event activation, `vgchange -aay`,
 * an admin's `lvs`) must not scan the iSCSI disks this node attaches. A
 * tenant who made a volume group inside a volume would otherwise see it
 * activated on the node: its LVs hold the disk (unstage cannot delete it),
 * its names can clash with the node's own, and a dead session stalls every
 * scan. The plugin's own LVM commands already pass a global_filter (src/lvm/
 * settings.ts); this checks the host's configuration, as `lvmconfig` reports
 * it, and never changes it.
 *
 * The host counts as safe when either
 * - devices/use_devicesfile=1 and the devices file exists (/etc/lvm/devices/
 *   <devices/devicesfile>): LVM then uses only the devices listed in it, and
 *   an iSCSI disk is never listed unless someone adds it (lvm2 2.03.16 uses
 *   every device when the file is missing, whatever the setting says); or
 * - devices/global_filter or devices/filter rejects sample names of an iSCSI
 *   disk (/dev/sdb, its /dev/disk/by-path/ip-...-iscsi-<iqn>-lun-0 link, its
 *   by-id links) and of a multipath map over such disks, evaluated the way
 *   lvm.conf(5) describes: per name the first matching pattern decides; the
 *   device is accepted when any name meets an "a" pattern first, rejected
 *   when every matching name meets an "r" pattern first, accepted when no
 *   name matches at all.
 *
 * The recommended setting (also what the plugin passes on its own commands):
 *   devices { global_filter = [ "r|^/dev/disk/by-path/.*-iscsi-.*|", "r|^/dev/disk/by-id/dm-uuid-mpath-.*|" ] }
 * Local disks accepted by kernel name ("a|/dev/sd.*|") defeat it: iSCSI disks
 * are sdX too.
 */
import { join } from 'node:path';
import { stat } from 'node:fs/promises';
import { CommandFailed } from '../errors.js';
import type { CommandRunner } from '../exec/runner.js';

export const RECOMMENDED_GLOBAL_FILTER =
  'global_filter = [ "r|^/dev/disk/by-path/.*-iscsi-.*|", "r|^/dev/disk/by-id/dm-uuid-mpath-.*|" ]';

export interface LvmDeviceSettings {
  globalFilter: string[];
  filter: string[];
  useDevicesFile: boolean;
  devicesFile: string;
}

/** `lvmconfig --typeconfig full devices/global_filter devices/filter devices/use_devicesfile devices/devicesfile` output. */
export function parseLvmconfigDevices(text: string): LvmDeviceSettings {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*([a-z_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) values.set(m[1] ?? '', m[2] ?? '');
  }
  const strings = (v: string | undefined): string[] =>
    [...(v ?? '').matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((x) => (x[1] ?? '').replace(/\\(.)/g, '$1'));
  return {
    // lvm2's defaults when a line is missing
    globalFilter: values.has('global_filter') ? strings(values.get('global_filter')) : ['a|.*|'],
    filter: values.has('filter') ? strings(values.get('filter')) : ['a|.*|'],
    useDevicesFile: values.get('use_devicesfile') === '1',
    devicesFile: strings(values.get('devicesfile'))[0] ?? 'system.devices',
  };
}

interface Rule {
  accept: boolean;
  re: RegExp;
}

const CLOSERS: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

/** One filter entry ("a|regex|", "r/regex/", "a(regex)"); throws on one lvm would refuse or JavaScript cannot compile. */
export function parseFilterRule(entry: string): Rule {
  const kind = entry[0];
  const open = entry[1];
  if ((kind !== 'a' && kind !== 'r') || open === undefined)
    throw new Error(`filter entry ${JSON.stringify(entry)} must start with a or r and a delimiter`);
  const close = CLOSERS[open] ?? open;
  const end = entry.lastIndexOf(close);
  if (end < 2) throw new Error(`filter entry ${JSON.stringify(entry)} has no closing ${close}`);
  return { accept: kind === 'a', re: new RegExp(entry.slice(2, end)) };
}

/** Whether a device known by these names passes one filter list (lvm.conf(5) semantics, see above). */
export function filterAccepts(entries: readonly string[], names: readonly string[]): boolean {
  const rules = entries.map(parseFilterRule);
  let rejected = false;
  for (const name of names) {
    const rule = rules.find((r) => r.re.test(name));
    if (!rule) continue;
    if (rule.accept) return true;
    rejected = true;
  }
  return !rejected;
}

/** Names an iSCSI disk attached by this plugin, and a multipath map over such disks, are known by in /dev. */
export function sampleIscsiDeviceNames(iqnPrefix: string): { disk: string[]; multipath: string[] } {
  const wwid = '360014050123456789abcdef012345678'; // LIO: NAA 6001405 + 25 hex digits of the unit serial
  return {
    disk: [
      '/dev/sdb',
      `/dev/disk/by-path/ip-192.0.2.10:3260-iscsi-${iqnPrefix}:vg:vol-sample-lun-0`,
      `/dev/disk/by-id/scsi-${wwid}`,
      `/dev/disk/by-id/wwn-0x${wwid.slice(1)}`,
      '/dev/block/8:16',
    ],
    multipath: [
      '/dev/dm-7',
      '/dev/mapper/mpathb',
      `/dev/mapper/${wwid}`,
      `/dev/disk/by-id/dm-uuid-mpath-${wwid}`,
      '/dev/disk/by-id/dm-name-mpathb',
      '/dev/block/254:7',
    ],
  };
}

/** Why the host's LVM would use iSCSI disks, or undefined when it would not (pure: see the module comment). */
export function lvmIscsiProblem(
  s: LvmDeviceSettings,
  devicesFileExists: boolean,
  iqnPrefix: string,
): string | undefined {
  if (s.useDevicesFile && devicesFileExists) return undefined;
  const samples = sampleIscsiDeviceNames(iqnPrefix);
  const passes = (names: string[]) => filterAccepts(s.globalFilter, names) && filterAccepts(s.filter, names);
  const open = [
    passes(samples.disk) ? 'iSCSI disks' : '',
    passes(samples.multipath) ? 'multipath maps over them' : '',
  ].filter(Boolean);
  if (open.length === 0) return undefined;
  const devicesFileNote = s.useDevicesFile
    ? ` (use_devicesfile=1, but the devices file ${s.devicesFile} does not exist, so LVM uses every device)`
    : '';
  return (
    `the host's LVM would scan ${open.join(' and ')} attached by this node${devicesFileNote}: devices/global_filter ${JSON.stringify(s.globalFilter)} and devices/filter ${JSON.stringify(s.filter)} do not reject them, ` +
    `so a volume group a tenant made inside a volume could be activated on this node. Add to the devices section of /etc/lvm/lvm.conf: ${RECOMMENDED_GLOBAL_FILTER} ` +
    '(accept local disks by stable names, not /dev/sd*), or use an LVM devices file (use_devicesfile=1 with /etc/lvm/devices/system.devices listing the local PVs)'
  );
}

export type LvmCheck =
  { status: 'ok'; how: 'devices file' | 'filter' } | { status: 'problem' | 'unknown'; message: string };

/** Runs lvmconfig (the host's lvm.conf, no --config of the plugin's) and evaluates it. Never throws for a missing or failing lvmconfig: "unknown". */
export async function checkHostLvmIgnoresIscsi(
  runner: CommandRunner,
  o: { iqnPrefix: string; lvmSystemDir?: string; signal?: AbortSignal },
): Promise<LvmCheck> {
  let text: string;
  try {
    const argv = [
      'lvmconfig',
      '--typeconfig',
      'full',
      'devices/global_filter',
      'devices/filter',
      'devices/use_devicesfile',
      'devices/devicesfile',
    ];
    text = (await runner.run(argv, { timeoutMs: 30_000, signal: o.signal })).stdout;
  } catch (e) {
    if (!(e instanceof CommandFailed) || e.cancelled) throw e;
    return {
      status: 'unknown',
      message: `could not check that the host's LVM ignores iSCSI disks (${e.message}); make sure lvm.conf has ${RECOMMENDED_GLOBAL_FILTER}`,
    };
  }
  const s = parseLvmconfigDevices(text);
  const devicesFileExists =
    s.useDevicesFile && (await isFile(join(o.lvmSystemDir ?? '/etc/lvm', 'devices', s.devicesFile)));
  let problem: string | undefined;
  try {
    problem = lvmIscsiProblem(s, devicesFileExists, o.iqnPrefix);
  } catch (e) {
    return {
      status: 'unknown',
      message: `could not evaluate the host's LVM filters (${(e as Error).message}); make sure they reject iSCSI disks, e.g. ${RECOMMENDED_GLOBAL_FILTER}`,
    };
  }
  if (problem) return { status: 'problem', message: problem };
  return { status: 'ok', how: devicesFileExists ? 'devices file' : 'filter' };
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
