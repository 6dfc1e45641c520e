/**
 * What is mounted where, read from /proc/self/mountinfo (the file findmnt
 * itself reads; proc(5)): no process per question. One line a mount:
 *
 *   36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 *   (1)(2)(3)  (4)   (5)         (6)        (7...)  - (8)  (9)       (10)
 *
 * (3) major:minor of the file system's device, (4) the root of the mount in
 * that file system ("/dir" for a bind of a sub-tree, "/sdb" for a device node
 * bind-mounted from devtmpfs), (5) the mount point, (6) per-mount options,
 * (7) optional fields up to "-", (8) type, (9) source, (10) superblock
 * options. Space, tab, newline and backslash in paths are octal escapes
 * (\040, \011, \012, \134).
 */
import { readFile, realpath, stat } from 'node:fs/promises';

export interface MountEntry {
  target: string;
  /** The source as findmnt prints it: the device, with "[fsroot]" when the mount shows a sub-tree ("/dev/sdb[/dir]", "udev[/sdb]"). */
  source: string;
  /** The source without the "[fsroot]" suffix: "/dev/sdb", "tmpfs", "devtmpfs". */
  device: string;
  fstype: string;
  /** The mount's own options: first is always "rw" or "ro". */
  vfsOptions: string[];
  /** The superblock's options. */
  fsOptions: string[];
  /** "major:minor" of the file system's device. */
  majMin: string;
  /** The directory of the file system this mount shows ("/" unless a bind mount of a sub-tree). */
  fsroot: string;
  /** Read-only either per mount (mount -o remount,bind,ro) or for the whole file system. */
  readOnly: boolean;
}

const PROC_MOUNTINFO = '/proc/self/mountinfo';

function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

function opts(v: string | undefined): string[] {
  return (v ?? '').split(',').filter(Boolean);
}

/** Parses mountinfo text, in the kernel's order (parents before the mounts on them; stacked mounts: the topmost last). */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const f = line.split(' ');
    const dash = f.indexOf('-', 6);
    if (f.length < 10 || dash < 0 || dash + 3 > f.length)
      throw new Error(`unexpected mountinfo line: ${JSON.stringify(line)}`);
    const fsroot = unescape(f[3] ?? '/');
    const device = unescape(f[dash + 2] ?? '');
    const vfsOptions = opts(f[5]);
    const fsOptions = opts(f[dash + 3]);
    out.push({
      target: unescape(f[4] ?? ''),
      source: fsroot === '/' ? device : `${device}[${fsroot}]`,
      device,
      fstype: unescape(f[dash + 1] ?? ''),
      vfsOptions,
      fsOptions,
      majMin: f[2] ?? '',
      fsroot,
      readOnly: vfsOptions.includes('ro') || fsOptions.includes('ro'),
    });
  }
  return out;
}

async function canonical(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    return path;
  }
}

/** "major:minor" of a block device node, or undefined when the path is not one. */
async function deviceNumber(path: string): Promise<string | undefined> {
  try {
    const s = await stat(path, { bigint: true });
    if (!s.isBlockDevice()) return undefined;
    // glibc's major()/minor() of a Linux dev_t
    const d = s.rdev;
    const major = ((d & 0xfff00n) >> 8n) | ((d & 0xfffff00000000000n) >> 32n);
    const minor = (d & 0xffn) | ((d & 0xffffff00000n) >> 12n);
    return `${major}:${minor}`;
  } catch {
    return undefined;
  }
}

/** The mount table of this process's mount namespace, read fresh at every question. */
export class MountTable {
  constructor(private readonly read: () => Promise<string> = () => readFile(PROC_MOUNTINFO, 'utf8')) {}

  /** Every mount of this mount namespace. */
  async all(): Promise<MountEntry[]> {
    return parseMountinfo(await this.read());
  }

  /** Mounts whose mount point is exactly `target` (symbolic links resolved; stacked mounts: the topmost is last). */
  async mountsAt(target: string): Promise<MountEntry[]> {
    const path = await canonical(target);
    return (await this.all()).filter((m) => m.target === path || m.target === target);
  }

  /** The topmost mount at target, or undefined when nothing is mounted there. */
  async mountAt(target: string): Promise<MountEntry | undefined> {
    return (await this.mountsAt(target)).at(-1);
  }

  /** Mounts of a device, by its path under any name (/dev/disk/by-path/..., /dev/dm-3): bind mounts of it included. */
  async mountsOf(device: string): Promise<MountEntry[]> {
    const [path, devt] = await Promise.all([canonical(device), deviceNumber(device)]);
    return (await this.all()).filter(
      (m) => m.device === device || m.device === path || (devt !== undefined && m.majMin === devt),
    );
  }
}
