/**
 * What is mounted where, from `findmnt -J -l -o <COLUMNS>` (util-linux reads
 * /proc/self/mountinfo). Flat list (-l), JSON (-J):
 *
 *   {"filesystems": [{"target": "/mnt/x", "source": "/dev/sdb", "fstype": "ext4",
 *     "options": "rw,relatime", "vfs-options": "rw,relatime", "fs-options": "rw",
 *     "maj:min": "8:16", "fsroot": "/"}]}
 *
 * A bind mount of a sub-tree shows its root in brackets in SOURCE
 * ("/dev/sdb[/dir]"), a block device bind-mounted onto a file shows the
 * devtmpfs and the device node ("udev[/sdb]"): `device` below strips that
 * suffix, `fsroot` keeps it. findmnt exits 1 when nothing matches.
 */
import type { CommandRunner } from '../exec/runner.js';

export const FINDMNT_COLUMNS = ['TARGET', 'SOURCE', 'FSTYPE', 'OPTIONS', 'VFS-OPTIONS', 'FS-OPTIONS', 'MAJ:MIN', 'FSROOT'] as const;

export interface MountEntry {
  target: string;
  /** SOURCE as findmnt prints it, e.g. "/dev/sdb", "/dev/sdb[/dir]", "udev[/sdb]", "tmpfs". */
  source: string;
  /** SOURCE without the "[fsroot]" suffix. */
  device: string;
  fstype: string;
  /** Every option (per-mount and superblock), e.g. ["ro", "relatime", "errors=remount-ro"]. */
  options: string[];
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

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function opts(v: unknown): string[] {
  return str(v)
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
}

/** Parses findmnt -J output (flat with -l, or the default tree: children are flattened, parents first). */
export function parseFindmnt(json: string): MountEntry[] {
  if (!json.trim()) return [];
  const doc = JSON.parse(json) as { filesystems?: unknown };
  const out: MountEntry[] = [];
  const walk = (list: unknown) => {
    if (!Array.isArray(list)) return;
    for (const raw of list as Record<string, unknown>[]) {
      const source = str(raw['source']);
      const fsroot = str(raw['fsroot']) || '/';
      const bracket = /^(.*)\[([^\]]*)\]$/.exec(source);
      const vfsOptions = opts(raw['vfs-options']);
      const fsOptions = opts(raw['fs-options']);
      const options = opts(raw['options']);
      out.push({
        target: str(raw['target']),
        source,
        device: bracket ? (bracket[1] ?? '') : source,
        fstype: str(raw['fstype']),
        options,
        vfsOptions,
        fsOptions,
        majMin: str(raw['maj:min']),
        fsroot,
        readOnly: (vfsOptions.length ? vfsOptions : options).includes('ro') || fsOptions.includes('ro'),
      });
      walk(raw['children']);
    }
  };
  walk(doc.filesystems);
  return out;
}

export interface FindmntCallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** findmnt queries. All answer [] when nothing matches (exit 1). */
export class Findmnt {
  constructor(private readonly runner: CommandRunner) {}

  /** Mounts whose mount point is exactly `target` (stacked mounts: the topmost is last). */
  mountsAt(target: string, o: FindmntCallOptions = {}): Promise<MountEntry[]> {
    return this.query(['--mountpoint', target], o);
  }

  /** Mounts of a device (by its path, e.g. /dev/sdb), bind mounts of it included. */
  mountsOf(source: string, o: FindmntCallOptions = {}): Promise<MountEntry[]> {
    return this.query(['--source', source], o);
  }

  /** Every mount of this mount namespace. */
  all(o: FindmntCallOptions = {}): Promise<MountEntry[]> {
    return this.query([], o);
  }

  /** The topmost mount at target, or undefined when nothing is mounted there. */
  async mountAt(target: string, o: FindmntCallOptions = {}): Promise<MountEntry | undefined> {
    return (await this.mountsAt(target, o)).at(-1);
  }

  private async query(filter: string[], o: FindmntCallOptions): Promise<MountEntry[]> {
    const r = await this.runner.run(['findmnt', '-J', '-l', '-o', FINDMNT_COLUMNS.join(','), ...filter], {
      okExitCodes: [1],
      signal: o.signal,
      timeoutMs: o.timeoutMs ?? 30_000,
    });
    return r.exitCode === 1 ? [] : parseFindmnt(r.stdout);
  }
}
