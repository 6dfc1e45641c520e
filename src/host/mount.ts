/**
 * mount / umount with check-then-act: every call first reads the mount table
 * (/proc/self/mountinfo, src/host/mountinfo.ts) for what is mounted at the target, so a retry after a crash (or a second identical
 * call) finishes the job or does nothing.
 *
 *   mount(dev, dir, fs, opts)  mount -t FS [-o OPTS] DEV DIR
 *   bindMount(src, dst, ro)    mount --bind SRC DST; ro: mount -o remount,bind,ro DST
 *                              (a bind mount only becomes read-only on the remount)
 *   bindDevice(dev, file, ro)  the same onto a regular file (raw block volumes)
 *   unmount(dir)               umount DIR until nothing is mounted there; not mounted = OK
 *
 * Something ELSE mounted at the target (another device, another file system
 * type) is FailedPrecondition: the caller decides, nothing is unmounted
 * behind its back.
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { FailedPrecondition, InvalidArgument } from '../errors.js';
import type { CommandRunner } from '../exec/runner.js';
import { MountTable, type MountEntry } from './mountinfo.js';
import { pathKind } from './paths.js';

export interface MountCallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export type MountResult = 'mounted' | 'already-mounted';

/** Mount options are passed as one -o argument: no commas or whitespace inside a single option. */
function assertMountOptions(options: readonly string[]): void {
  for (const o of options) {
    if (!o || /[\s,\0]/.test(o))
      throw new InvalidArgument('mount_flags', `${JSON.stringify(o)} is not a single mount option`);
  }
}

const MAX_UNMOUNTS = 8;

/**
 * A new mount goes onto an empty directory or an empty regular file only (what kubelet and the node
 * service make): mounting over a directory with entries or a file with data hides them (/etc, /dev,
 * another volume's files), and over anything else (a device node, /proc) is not a mount target.
 */
async function assertEmptyTarget(target: string): Promise<void> {
  let st;
  try {
    st = await stat(target);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT')
      throw new FailedPrecondition(`mount target ${target} does not exist`);
    throw e;
  }
  if (st.isDirectory()) {
    const entries = await readdir(target);
    if (entries.length > 0)
      throw new FailedPrecondition(
        `mount target ${target} is a directory with ${entries.length} entries (${entries.slice(0, 3).join(', ')}); nothing is mounted over them`,
      );
    return;
  }
  if (st.isFile() && st.size === 0) return;
  throw new FailedPrecondition(
    `mount target ${target} is ${st.isFile() ? `a file of ${st.size} bytes` : 'not a directory or a regular file'}; nothing is mounted over it`,
  );
}

export class Mounter {
  constructor(
    private readonly runner: CommandRunner,
    readonly mounts: MountTable = new MountTable(),
  ) {}

  /**
   * Mounts a file system. Already mounted there from the same device is OK
   * (the options are not compared, except read-only vs read-write, which is
   * FailedPrecondition when it differs).
   */
  async mount(
    device: string,
    target: string,
    fsType: string,
    options: readonly string[] = [],
    o: MountCallOptions = {},
  ): Promise<MountResult> {
    assertMountOptions(options);
    if (!/^[a-z0-9_.]+$/.test(fsType))
      throw new InvalidArgument('fs_type', `${JSON.stringify(fsType)} is not a file system type`);
    const cur = await this.mounts.mountAt(target);
    if (cur) {
      if (!(await this.sameDevice(cur, device))) {
        throw new FailedPrecondition(`${target} already has ${cur.source} (${cur.fstype}) mounted, not ${device}`);
      }
      const wantRo = options.includes('ro');
      if (cur.readOnly !== wantRo)
        throw new FailedPrecondition(`${target} is mounted ${cur.readOnly ? 'read-only' : 'read-write'} already`);
      return 'already-mounted';
    }
    await assertEmptyTarget(target);
    const argv = ['mount', '-t', fsType, ...(options.length ? ['-o', options.join(',')] : []), device, target];
    await this.runner.run(argv, { signal: o.signal, timeoutMs: o.timeoutMs ?? 120_000 });
    return 'mounted';
  }

  /**
   * Bind-mounts a directory (or file) onto another; with readOnly the bind
   * is remounted read-only. Idempotent: an existing bind from the same file
   * system and sub-tree is kept (and made read-only if it is not yet).
   */
  async bindMount(
    source: string,
    target: string,
    readOnly: boolean,
    o: MountCallOptions = {},
    extraOptions: readonly string[] = [],
  ): Promise<MountResult> {
    assertMountOptions(extraOptions);
    const cur = await this.mounts.mountAt(target);
    let result: MountResult = 'already-mounted';
    if (cur) {
      if (!(await this.isBindOf(cur, source)))
        throw new FailedPrecondition(`${target} already has ${cur.source} mounted, not a bind of ${source}`);
      if (cur.readOnly && !readOnly) throw new FailedPrecondition(`${target} is bind-mounted read-only already`);
      if (cur.readOnly === readOnly) return result;
    } else {
      await assertEmptyTarget(target);
      await this.runner.run(['mount', '--bind', source, target], {
        signal: o.signal,
        timeoutMs: o.timeoutMs ?? 60_000,
      });
      result = 'mounted';
    }
    if (readOnly || extraOptions.length) {
      const opts = ['remount', 'bind', ...(readOnly ? ['ro'] : []), ...extraOptions];
      await this.runner.run(['mount', '-o', opts.join(','), target], {
        signal: o.signal,
        timeoutMs: o.timeoutMs ?? 60_000,
      });
    }
    return result;
  }

  /** Bind-mounts a block device node onto an existing regular file (raw block volumes). */
  bindDevice(device: string, targetFile: string, readOnly: boolean, o: MountCallOptions = {}): Promise<MountResult> {
    return this.bindMount(device, targetFile, readOnly, o);
  }

  /**
   * Unmounts target until nothing is mounted there (stacked mounts too, at
   * most MAX_UNMOUNTS). Nothing mounted, or the path missing, is success.
   * Returns how many mounts were removed.
   */
  async unmount(target: string, o: MountCallOptions = {}): Promise<number> {
    let n = 0;
    while (await this.mounts.mountAt(target)) {
      if (n >= MAX_UNMOUNTS) throw new FailedPrecondition(`${target} still has mounts after ${n} umounts`);
      await this.runner.run(['umount', target], { signal: o.signal, timeoutMs: o.timeoutMs ?? 120_000 });
      n++;
    }
    return n;
  }

  /** True when something is mounted at exactly target. */
  async isMountPoint(target: string): Promise<boolean> {
    return (await this.mounts.mountAt(target)) !== undefined;
  }

  /** True when the mount at target is read-only (per mount or the whole file system); undefined when nothing is mounted. */
  async isReadOnly(target: string): Promise<boolean | undefined> {
    return (await this.mounts.mountAt(target))?.readOnly;
  }

  /**
   * Whether the mount `cur` shows `source`: a device node bind shows the
   * node's name as its root ("udev[/sdb]"); a directory bind shows the same
   * file system (maj:min) and root as the source's own mount. A source that
   * is neither a device nor a mount point cannot be checked and is accepted.
   */
  private async isBindOf(cur: MountEntry, source: string): Promise<boolean> {
    if ((await pathKind(source)) === 'block') return cur.fsroot === `/${basename(await realpath(source))}`;
    const src = await this.mounts.mountAt(source);
    return !src || (cur.majMin === src.majMin && cur.fsroot === src.fsroot);
  }

  private async sameDevice(cur: MountEntry, device: string): Promise<boolean> {
    if (cur.device === device) return true;
    // /dev/disk/by-path/... vs /dev/sdb, /dev/mapper/x vs /dev/dm-3: compare by the mounts of the device.
    const of = await this.mounts.mountsOf(device);
    return of.some((m) => m.target === cur.target);
  }
}
