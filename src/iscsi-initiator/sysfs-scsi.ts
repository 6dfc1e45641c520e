/**
 * Who a SCSI disk is, read from sysfs at the moment of asking: the iSCSI
 * session (and so the target IQN) it hangs under, its LUN, its WWID and
 * unit serial. Kernel names (sdX) are handed out in probe order and reused:
 * after a reboot, or a logout and login, "sdb" can be another volume's disk.
 * Nothing that deletes or flushes a disk may go by a stored name; it asks
 * here first. Layout seen on Debian 12 (kernel 6.1, open-iscsi 2.1.8, LIO):
 *
 *   /sys/block/sda -> ../devices/platform/host0/session1/target0:0:0/0:0:0:0/block/sda
 *   /sys/block/sda/device/wwid          naa.60014050123456789abcdef012345678
 *   /sys/block/sda/device/vpd_pg80      00 80 00 21 "0123456789abcdef0123456789abcdef" 00
 *   /sys/block/sda/device/state         running
 *   /sys/class/iscsi_session/session1/targetname   the target IQN
 *   /sys/class/iscsi_session/session1/state        LOGGED_IN
 *
 * LIO derives the NAA-6 WWID from the unit serial (naa.6001405 + its first 25
 * hex digits); multipath names the map after scsi_id's form of it ("3" +
 * the NAA hex, dm uuid "mpath-3600140...").
 */
import { readdir, readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgument } from '../errors.js';
import { DEFAULT_SYSFS_ROOT } from './scsi.js';

export interface ScsiDevicePath {
  /** iSCSI session number (sessionN), undefined when the disk is not under an iSCSI session. */
  session: number | undefined;
  /** host:channel:target:lun */
  hctl: string;
  lun: number;
}

/**
 * Parses the resolved path of /sys/block/<name> (or of its device link):
 * ".../host0/session1/target0:0:0/0:0:0:0/block/sda" -> session 1, hctl
 * 0:0:0:0, LUN 0. Undefined when the path holds no SCSI H:C:T:L component
 * (virtio, loop, dm).
 */
export function parseScsiDevicePath(path: string): ScsiDevicePath | undefined {
  const parts = path.split('/').filter(Boolean);
  let session: number | undefined;
  let hctl: string | undefined;
  for (const p of parts) {
    const s = /^session(\d+)$/.exec(p);
    if (s) session = Number(s[1]);
    if (/^\d+:\d+:\d+:\d+$/.test(p)) hctl = p;
  }
  if (!hctl) return undefined;
  return { session, hctl, lun: Number(hctl.split(':')[3]) };
}

/** The WWID as sysfs device/wwid prints it ("naa.6001405...", trailing blanks and NULs dropped); undefined when empty. */
export function parseSysfsWwid(text: string): string | undefined {
  const w = text.replace(/[\s\0]+$/g, '').trim();
  return w ? w : undefined;
}

/**
 * The unit serial from VPD page 0x80 as sysfs gives it (binary: byte 1 is
 * the page code 0x80, bytes 2-3 the length, then the serial, padded with
 * blanks or NULs). Undefined for anything else.
 */
export function parseVpdUnitSerial(page: Buffer): string | undefined {
  if (page.length < 4 || page[1] !== 0x80) return undefined;
  const len = page.readUInt16BE(2);
  const s = page
    .subarray(4, 4 + len)
    .toString('latin1')
    .replace(/[\s\0]+$/g, '')
    .trim();
  return s ? s : undefined;
}

/**
 * The WWID in the form scsi_id and multipath use ("3" + NAA hex, "2" + EUI-64
 * hex, "8" + SCSI name string), from the sysfs form; undefined for a form it
 * does not know (t10 vendor ids are printed differently by the two).
 */
export function scsiIdOfWwid(wwid: string): string | undefined {
  const m = /^(naa|eui)\.([0-9a-fA-F]+)$/.exec(wwid);
  if (!m) return undefined;
  return `${m[1] === 'naa' ? '3' : '2'}${(m[2] ?? '').toLowerCase()}`;
}

export interface ScsiDiskIdentity {
  /** Kernel name, e.g. "sdb". */
  name: string;
  session: number | undefined;
  /** Target IQN of that session (sysfs iscsi_session/sessionN/targetname). */
  targetIqn: string | undefined;
  /** iscsi_session/sessionN/state, e.g. "LOGGED_IN", "FAILED", "FREE". */
  sessionState: string | undefined;
  hctl: string;
  lun: number;
  wwid: string | undefined;
  serial: string | undefined;
  /** SCSI device state ("running", "offline", "blocked"...). */
  state: string | undefined;
}

function assertDiskName(name: string): void {
  if (!/^[a-z][a-z0-9]*$/.test(name))
    throw new InvalidArgument('disk', `${JSON.stringify(name)} is not a kernel disk name`);
}

/** Who the SCSI disk `name` is now; undefined when there is no such disk or it is not a SCSI disk. */
export async function scsiDiskIdentity(
  name: string,
  o: { sysfsRoot?: string } = {},
): Promise<ScsiDiskIdentity | undefined> {
  assertDiskName(name);
  const sys = o.sysfsRoot ?? DEFAULT_SYSFS_ROOT;
  let path: string;
  try {
    path = await realpath(join(sys, 'block', name));
  } catch (e) {
    if (isMissing(e)) return undefined;
    throw e;
  }
  const where = parseScsiDevicePath(path);
  if (!where) return undefined;
  const dev = join(sys, 'block', name, 'device');
  const sessionDir =
    where.session === undefined ? undefined : join(sys, 'class', 'iscsi_session', `session${where.session}`);
  const wwidText = await readText(join(dev, 'wwid'));
  const pg80 = await readBytes(join(dev, 'vpd_pg80'));
  return {
    name,
    session: where.session,
    targetIqn: sessionDir ? await readText(join(sessionDir, 'targetname')) : undefined,
    sessionState: sessionDir ? await readText(join(sessionDir, 'state')) : undefined,
    hctl: where.hctl,
    lun: where.lun,
    wwid: wwidText === undefined ? undefined : parseSysfsWwid(wwidText),
    serial: pg80 ? parseVpdUnitSerial(pg80) : undefined,
    state: await readText(join(dev, 'state')),
  };
}

/** Every SCSI disk that hangs under an iSCSI session to targetIqn (optionally one LUN), as sysfs shows it now. */
export async function iscsiDisksOf(
  targetIqn: string,
  o: { lun?: number; sysfsRoot?: string } = {},
): Promise<ScsiDiskIdentity[]> {
  const sys = o.sysfsRoot ?? DEFAULT_SYSFS_ROOT;
  let names: string[];
  try {
    names = await readdir(join(sys, 'block'));
  } catch (e) {
    if (isMissing(e)) return [];
    throw e;
  }
  const out: ScsiDiskIdentity[] = [];
  for (const name of names.filter((n) => /^sd[a-z]+$/.test(n)).sort()) {
    const id = await scsiDiskIdentity(name, o.sysfsRoot ? { sysfsRoot: o.sysfsRoot } : {});
    if (id && id.targetIqn === targetIqn && (o.lun === undefined || id.lun === o.lun)) out.push(id);
  }
  return out;
}

/** The kernel names of the block devices a device-mapper device is built on (sysfs block/dm-N/slaves). */
export async function dmSlaves(dm: string, o: { sysfsRoot?: string } = {}): Promise<string[]> {
  if (!/^dm-\d+$/.test(dm)) throw new InvalidArgument('dm', `${JSON.stringify(dm)} is not a device-mapper kernel name`);
  try {
    return (await readdir(join(o.sysfsRoot ?? DEFAULT_SYSFS_ROOT, 'block', dm, 'slaves'))).sort();
  } catch (e) {
    if (isMissing(e)) return [];
    throw e;
  }
}

/** The dm uuid of a device-mapper device ("mpath-3600140..."), undefined when gone. */
export async function dmUuid(dm: string, o: { sysfsRoot?: string } = {}): Promise<string | undefined> {
  if (!/^dm-\d+$/.test(dm)) throw new InvalidArgument('dm', `${JSON.stringify(dm)} is not a device-mapper kernel name`);
  return readText(join(o.sysfsRoot ?? DEFAULT_SYSFS_ROOT, 'block', dm, 'dm', 'uuid'));
}

function isMissing(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENXIO' || code === 'ENODEV';
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (e) {
    if (isMissing(e)) return undefined;
    throw e;
  }
}

async function readBytes(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (e) {
    if (isMissing(e)) return undefined;
    throw e;
  }
}

/** The iSCSI session numbers whose target is targetIqn (sysfs class/iscsi_session/sessionN/targetname). */
export async function sessionsTo(targetIqn: string, o: { sysfsRoot?: string } = {}): Promise<number[]> {
  return (await sessionStatesTo(targetIqn, o)).map((s) => s.sid);
}

/**
 * The iSCSI sessions to targetIqn with their kernel state (sessionN/state: "LOGGED_IN", "FAILED", "FREE"),
 * by session number: what `iscsiadm -m session -P 3` reports as "iSCSI Session State", without a process
 * or iscsiadm's lock (a login or logout in progress holds it).
 */
export async function sessionStatesTo(
  targetIqn: string,
  o: { sysfsRoot?: string } = {},
): Promise<{ sid: number; state: string | undefined }[]> {
  const dir = join(o.sysfsRoot ?? DEFAULT_SYSFS_ROOT, 'class', 'iscsi_session');
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if (isMissing(e)) return [];
    throw e;
  }
  const out: { sid: number; state: string | undefined }[] = [];
  for (const n of names) {
    const m = /^session(\d+)$/.exec(n);
    if (m && (await readText(join(dir, n, 'targetname'))) === targetIqn)
      out.push({ sid: Number(m[1]), state: await readText(join(dir, n, 'state')) });
  }
  return out.sort((a, b) => a.sid - b.sid);
}
