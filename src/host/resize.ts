/**
 * Sizes and growing.
 *
 *   deviceSize:  blockdev --getsize64 DEV                         bytes
 *   fsSize ext*: dumpe2fs -h DEV   "Block count" x "Block size"   (works mounted or not)
 *   fsSize xfs:  xfs_info MOUNTPOINT|DEV  data "bsize=" x "blocks="
 *   growfs ext*: resize2fs DEV           (online when mounted)
 *   growfs xfs:  xfs_growfs MOUNTPOINT   (xfs grows only while mounted)
 *
 * NodeExpandVolume: rescan the session(s) first (Iscsiadm.rescan, and
 * Multipath.resize for a map), check deviceSize reached the new size, then
 * growfs. Growing a file system that already fills its device is a no-op.
 */
import { FailedPrecondition, InvalidArgument } from '../errors.js';
import type { CommandRunner } from '../exec/runner.js';

export interface SizeCallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export async function deviceSize(runner: CommandRunner, device: string, o: SizeCallOptions = {}): Promise<number> {
  const r = await runner.run(['blockdev', '--getsize64', device], {
    signal: o.signal,
    timeoutMs: o.timeoutMs ?? 30_000,
  });
  const n = Number(r.stdout.trim());
  if (!Number.isSafeInteger(n) || n < 0)
    throw new Error(`blockdev --getsize64 ${device} printed ${JSON.stringify(r.stdout.trim())}`);
  return n;
}

/** "Block count:" x "Block size:" from `dumpe2fs -h`. */
export function parseDumpe2fsSize(text: string): number {
  const field = (name: string) => {
    const m = new RegExp(`^${name}:\\s+(\\d+)\\s*$`, 'm').exec(text);
    if (!m) throw new Error(`dumpe2fs -h output has no "${name}"`);
    return Number(m[1]);
  };
  return field('Block count') * field('Block size');
}

/** Data section "bsize=N blocks=M" from `xfs_info`. */
export function parseXfsInfoSize(text: string): number {
  const m = /^data\s+=\s+bsize=(\d+)\s+blocks=(\d+)/m.exec(text);
  if (!m) throw new Error('xfs_info output has no data section');
  return Number(m[1]) * Number(m[2]);
}

/** Size of the file system in bytes (what it can grow into is deviceSize). `where` is the device (ext*) or mount point / device (xfs). */
export async function fsSize(
  runner: CommandRunner,
  fsType: string,
  where: string,
  o: SizeCallOptions = {},
): Promise<number> {
  const run = { signal: o.signal, timeoutMs: o.timeoutMs ?? 60_000 };
  if (fsType.startsWith('ext')) return parseDumpe2fsSize((await runner.run(['dumpe2fs', '-h', where], run)).stdout);
  if (fsType === 'xfs') return parseXfsInfoSize((await runner.run(['xfs_info', where], run)).stdout);
  throw new InvalidArgument('fs_type', `cannot read the size of a ${JSON.stringify(fsType)} file system`);
}

/**
 * Grows the file system to fill its device. ext*: resize2fs on the device
 * (mounted or not); xfs: xfs_growfs on the mount point (FailedPrecondition
 * without one).
 */
export async function growfs(
  runner: CommandRunner,
  fsType: string,
  device: string,
  mountPoint: string | undefined,
  o: SizeCallOptions = {},
): Promise<void> {
  const run = { signal: o.signal, timeoutMs: o.timeoutMs ?? 600_000 };
  if (fsType.startsWith('ext')) {
    await runner.run(['resize2fs', device], run);
  } else if (fsType === 'xfs') {
    if (!mountPoint) throw new FailedPrecondition(`xfs on ${device} can only grow while mounted`);
    await runner.run(['xfs_growfs', mountPoint], run);
  } else {
    throw new InvalidArgument('fs_type', `cannot grow a ${JSON.stringify(fsType)} file system`);
  }
}
