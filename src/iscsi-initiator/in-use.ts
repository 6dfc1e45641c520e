/**
 * Whether an iSCSI disk is in use on this node, asked before anything tears
 * it down that no staged volume accounts for (the orphan clean-up at start):
 *
 * - mounted: the disk, one of its partitions or the multipath map over it is
 *   the source of a mount (matched by major:minor and by /dev name), or its
 *   device node is bind-mounted onto a file (a raw block volume published to
 *   a pod: the mount table shows "devtmpfs[/sdb]", fsroot "/sdb");
 * - held: another block device sits on it (LVM, md, dm-crypt, kpartx
 *   partitions, a second dm table), read from sysfs block/<name>/holders.
 *   The dm-multipath map directly over the disk is not a user: it is part of
 *   the attachment and is reported so the caller flushes it first;
 * - opened exclusively (probeExclusive): open(O_EXCL) on a block device fails
 *   with EBUSY while the kernel has it claimed (mounted in any mount
 *   namespace, held, or opened O_EXCL by another process such as a target
 *   backstore).
 *
 * A process that merely has the device open (without O_EXCL) is not seen.
 */
import { constants } from 'node:fs';
import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgument } from '../errors.js';
import { DEFAULT_SYSFS_ROOT } from './scsi.js';

/** The parts of a mount table entry (src/host/mountinfo.ts MountEntry) this check reads. */
export interface MountLike {
  target: string;
  /** SOURCE without a "[fsroot]" suffix, e.g. "/dev/sdb", "/dev/mapper/mpatha", "devtmpfs". */
  device: string;
  fstype: string;
  /** "major:minor" of the mounted file system's device. */
  majMin: string;
  fsroot: string;
}

export interface DiskUse {
  /** Why the disk must be left alone ("sdb is mounted at /mnt", "sdb1 is held by dm-4 (vg-lv)"); empty when nothing uses it. */
  users: string[];
  /** The dm-multipath map directly over the disk, if any. */
  multipath?: { name: string; dm: string };
}

/** Mounts and holders of a disk, its partitions and the multipath map over it, from sysfs and the given mount table. */
export async function diskUse(
  disk: string,
  mounts: readonly MountLike[],
  o: { sysfsRoot?: string } = {},
): Promise<DiskUse> {
  if (!/^[a-z][a-z0-9]*$/.test(disk))
    throw new InvalidArgument('disk', `${JSON.stringify(disk)} is not a kernel disk name`);
  const sys = o.sysfsRoot ?? DEFAULT_SYSFS_ROOT;
  const users: string[] = [];
  let multipath: DiskUse['multipath'];

  const visit = async (name: string, dir: string, isDisk: boolean): Promise<void> => {
    const devt = await readTrim(join(dir, 'dev'));
    for (const m of mounts) if (shows(m, name, devt)) users.push(`${name} is mounted at ${m.target}`);
    for (const holder of await list(join(dir, 'holders'))) {
      const uuid = await readTrim(join(sys, 'block', holder, 'dm', 'uuid'));
      const dmName = await readTrim(join(sys, 'block', holder, 'dm', 'name'));
      if (isDisk && !multipath && uuid?.startsWith('mpath-')) {
        multipath = { name: dmName ?? holder, dm: holder };
        await visit(holder, join(sys, 'block', holder), false);
      } else {
        users.push(`${name} is held by ${holder}${dmName ? ` (${dmName})` : ''}`);
      }
    }
    if (!isDisk) return;
    for (const part of (await list(dir)).filter((e) => e.startsWith(name) && e !== name)) {
      if ((await readTrim(join(dir, part, 'partition'))) !== undefined) await visit(part, join(dir, part), false);
    }
  };

  await visit(disk, join(sys, 'block', disk), true);
  return { users, ...(multipath ? { multipath } : {}) };
}

function shows(m: MountLike, name: string, devt: string | undefined): boolean {
  if (devt && m.majMin === devt) return true;
  if (m.device === `/dev/${name}`) return true;
  // a device node bind-mounted onto a file (raw block publish): the source is the devtmpfs, its root the node
  return m.fsroot === `/${name}` && (m.fstype === 'devtmpfs' || m.fstype === 'tmpfs');
}

export type ExclusiveProbe = 'free' | 'busy' | 'unknown';

/**
 * Opens a block device with O_EXCL and closes it again: "busy" (EBUSY) when
 * the kernel has it claimed, "free" when the open succeeds, "unknown" for any
 * other error or when the open does not finish within timeoutMs (an open
 * waits while the SCSI host is in error recovery; the late result is closed
 * when it arrives). Only meaningful on a device node.
 */
export async function probeExclusive(path: string, timeoutMs = 5000): Promise<ExclusiveProbe> {
  const opening = open(path, constants.O_RDONLY | constants.O_EXCL);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs)));
  try {
    const first = await Promise.race([opening, late]);
    if (first === 'late') {
      opening.then((fh) => fh.close()).catch(() => undefined);
      return 'unknown';
    }
    await first.close();
    return 'free';
  } catch (e) {
    return (e as { code?: string }).code === 'EBUSY' ? 'busy' : 'unknown';
  } finally {
    clearTimeout(timer);
  }
}

async function list(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw e;
  }
}

async function readTrim(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw e;
  }
}
