/**
 * NodeGetVolumeStats numbers from statfs(2) (Node's fs.statfs), in bytes and
 * inodes. `used` counts blocks not free (reserved blocks included);
 * `available` is what an unprivileged writer can still use (f_bavail).
 */
import { statfs } from 'node:fs/promises';

export interface FsStats {
  totalBytes: number;
  usedBytes: number;
  availableBytes: number;
  totalInodes: number;
  usedInodes: number;
  freeInodes: number;
}

export async function fsStats(path: string): Promise<FsStats> {
  const s = await statfs(path, { bigint: true });
  const bsize = s.bsize;
  const num = (v: bigint) => Number(v);
  return {
    totalBytes: num(s.blocks * bsize),
    usedBytes: num((s.blocks - s.bfree) * bsize),
    availableBytes: num(s.bavail * bsize),
    totalInodes: num(s.files),
    usedInodes: num(s.files - s.ffree),
    freeInodes: num(s.ffree),
  };
}
