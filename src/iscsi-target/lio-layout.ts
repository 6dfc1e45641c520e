/**
 * Where things live in LIO's configfs tree, how backstores are named, and
 * the parsers for what LIO's attribute files show. Pure functions.
 *
 *   <root>/core/<hba>/<backstore>/          iblock backstore (hba "iblock_0")
 *       control        write-only: "udev_path=/dev/vg/lv" (what iblock opens), "readonly=1"
 *       udev_path      "/dev/vg/lv\n" only when written itself (control does not set it; tools read it)
 *       alias          the target IQN (written by us: ties an orphan backstore to its target)
 *       wwn/vpd_unit_serial   "T10 VPD Unit Serial Number: <serial>\n"
 *       enable         "1" opens the device (exclusively)
 *       attrib/emulate_tpu    "1": UNMAP passes discards down (only after enable!)
 *       attrib/emulate_tpws   "1": so does WRITE SAME with UNMAP, what Linux initiators send
 *       info           "... iBlock device: dm-0  UDEV PATH: /dev/vg/lv  readonly: 0 ..."
 *   <root>/iscsi/<iqn>/tpgt_1/
 *       attrib/{authentication,generate_node_acls,demo_mode_write_protect,prod_mode_write_protect,cache_dynamic_acls}
 *       param/<key>       what the target offers at login (TPG_PARAMS); read by each new session
 *       lun/lun_0/<backstore> -> <root>/core/<hba>/<backstore>
 *       np/<addr>:<port>  ([v6addr]:<port>)
 *       acls/<initiator>/
 *           attrib/authentication   1 / 0 (-1 = inherit the TPG's; kernel >= 5.19)
 *           auth/{userid,password,userid_mutual,password_mutual}  "NULL" clears
 *           lun_0/link -> <root>/iscsi/<iqn>/tpgt_1/lun/lun_0
 *           lun_0/write_protect
 *           info       "No active iSCSI Session ..." or "LIO Session ID: ..." lines
 *       enable
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { InvalidArgument } from '../errors.js';
import type { Portal } from './types.js';
import { formatHostPort } from '../host-port.js';

export const DEFAULT_CONFIGFS_ROOT = '/sys/kernel/config/target';
export const DEFAULT_SYS_BLOCK = '/sys/class/block';
export const DEFAULT_HBA = 'iblock_0';
const TPG = 'tpgt_1';
export const LIO_LUN = 0;
const LUN_DIR = `lun_${LIO_LUN}`;
/** Name of the symlink in acls/<initiator>/lun_0 pointing at the TPG's lun_0. */
export const MAPPED_LUN_LINK = 'link';
/** Backstore names are kept this short; configfs would take 255, tools print them in columns. */
const MAX_BACKSTORE_NAME = 64;

/**
 * The iSCSI login keys the target offers, in the order they are written
 * (MaxBurstLength before FirstBurstLength, which must not exceed it). LIO's
 * own defaults (MaxRecvDataSegmentLength 8192, MaxBurstLength 262144,
 * FirstBurstLength 65536, InitialR2T Yes) split every write into 8 KiB
 * Data-Out PDUs, each burst waiting for an R2T; open-iscsi offers 262144,
 * 16776192, 262144 and No, and the negotiated value is the smaller / the
 * stricter one. With these, open-iscsi's offer wins: 256 KiB PDUs, the
 * first 256 KiB of a write sent unsolicited, 1 MiB per R2T burst. Measured
 * in the VM tier (docs/performance.md, "Data path"). A session gets them at
 * its next login; a live one keeps what it negotiated.
 */
export const TPG_PARAMS: ReadonlyArray<readonly [key: string, value: string]> = [
  ['MaxRecvDataSegmentLength', '262144'],
  ['MaxBurstLength', '1048576'],
  ['FirstBurstLength', '262144'],
  ['InitialR2T', 'No'],
  ['ImmediateData', 'Yes'],
];

export class LioPaths {
  constructor(
    readonly root: string,
    readonly hba: string,
  ) {}

  get hbaDir(): string {
    return join(this.root, 'core', this.hba);
  }
  backstore(name: string): string {
    return join(this.hbaDir, name);
  }
  get iscsi(): string {
    return join(this.root, 'iscsi');
  }
  target(iqn: string): string {
    return join(this.iscsi, iqn);
  }
  tpg(iqn: string): string {
    return join(this.target(iqn), TPG);
  }
  lun(iqn: string): string {
    return join(this.tpg(iqn), 'lun', LUN_DIR);
  }
  np(iqn: string, portal?: Portal): string {
    const dir = join(this.tpg(iqn), 'np');
    return portal ? join(dir, portalDirName(portal)) : dir;
  }
  acls(iqn: string): string {
    return join(this.tpg(iqn), 'acls');
  }
  acl(iqn: string, initiator: string): string {
    return join(this.acls(iqn), initiator);
  }
  mappedLun(iqn: string, initiator: string): string {
    return join(this.acl(iqn, initiator), LUN_DIR);
  }
}

/**
 * The backstore name of volume "vg/lv": the device-mapper spelling of the
 * LV ("vg-lv" with '-' doubled inside each name, as in /dev/mapper), which
 * is unambiguous. Longer than 64 characters: its first 47 + "-" + 16 hex of
 * sha256(volumeKey).
 */
export function backstoreName(volumeKey: string): string {
  const parts = volumeKey.split('/');
  if (
    parts.length !== 2 ||
    !parts[0] ||
    !parts[1] ||
    !/^[A-Za-z0-9+_.-]+$/.test(parts[0]) ||
    !/^[A-Za-z0-9+_.-]+$/.test(parts[1])
  ) {
    throw new InvalidArgument('volumeKey', `${JSON.stringify(volumeKey)} is not "vg/lv"`);
  }
  const name = parts.map((p) => p.replace(/-/g, '--')).join('-');
  if (name.length <= MAX_BACKSTORE_NAME) return name;
  const hash = createHash('sha256').update(volumeKey).digest('hex').slice(0, 16);
  return `${name.slice(0, MAX_BACKSTORE_NAME - 17)}-${hash}`;
}

/** "127.0.0.1:3260", "[fd00::1]:3260" (LIO's np directory names). */
export function portalDirName(p: Portal): string {
  if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535)
    throw new InvalidArgument('portals', `bad port ${p.port}`);
  if (p.address.length === 0 || /[/\s[\]]/.test(p.address))
    throw new InvalidArgument('portals', `bad address ${JSON.stringify(p.address)}`);
  return formatHostPort(p.address, p.port);
}

export function parsePortalDirName(name: string): Portal | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(name);
  if (!m) return undefined;
  const address = m[1] ?? m[2];
  return address ? { address, port: Number(m[3]) } : undefined;
}

/** An attribute's value without the one newline the kernel appends. */
export function attrValue(shown: string): string {
  return shown.endsWith('\n') ? shown.slice(0, -1) : shown;
}

/** "T10 VPD Unit Serial Number: abc\n" -> "abc"; "" when not set. */
export function parseUnitSerial(shown: string): string {
  const m = /Unit Serial Number:[ \t]*(\S*)/.exec(shown);
  return m?.[1] ?? attrValue(shown).trim();
}

/** A CHAP attribute as shown: "" and "NULL" (what clears it) mean unset. */
export function authValue(shown: string): string | undefined {
  const v = attrValue(shown);
  return v === '' || v.startsWith('NULL') ? undefined : v;
}

export interface IblockInfo {
  /** Kernel name of the opened device ("dm-3"); undefined before enable. */
  device: string | undefined;
  /** The path iblock opened (from control udev_path=); undefined before enable. */
  udevPath: string | undefined;
  readOnly: boolean;
}

/**
 * core/<hba>/<name>/info of an iblock backstore, e.g. after enable:
 *   Status: ACTIVATED  Max Queue Depth: 0  SectorSize: 512  HwMaxSectors: 4294967288
 *           iBlock device: dm-0  UDEV PATH: /dev/xvg/lv1  readonly: 0
 *           Major: 253 Minor: 0  CLAIMED: IBLOCK
 */
export function parseIblockInfo(shown: string): IblockInfo {
  const device = /iBlock device:\s*(\S+)/.exec(shown)?.[1];
  const udevPath = /UDEV PATH:\s*(\S+)/.exec(shown)?.[1];
  const ro = /readonly:\s*(\d)/.exec(shown)?.[1];
  return { device, udevPath, readOnly: ro === '1' };
}

/** Sessions shown by acls/<initiator>/info (LIO keeps at most one per node ACL). */
export function countAclSessions(shown: string): number {
  return (shown.match(/^LIO Session ID:/gm) ?? []).length;
}

/**
 * The backstore a LUN symlink points at, as [hba, name]. The kernel shows
 * the link relative to configfs ("../../../../../../target/core/iblock_0/x");
 * the imitation in tests keeps the absolute path. Both end the same way.
 */
export function backstoreOfLink(link: string): { hba: string; name: string } | undefined {
  const parts = link.split('/').filter(Boolean);
  const name = parts.at(-1);
  const hba = parts.at(-2);
  if (!name || !hba || parts.at(-3) !== 'core') return undefined;
  return { hba, name };
}
