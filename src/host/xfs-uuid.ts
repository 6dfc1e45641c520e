/**
 * XFS refuses to mount a second file system with the UUID of one already
 * mounted: a snapshot or clone of an XFS volume, staged on the node that also
 * has the original, fails with "Filesystem has duplicate UUID". Two ways out:
 *
 * - mount with -o nouuid (XFS_NOUUID_MOUNT_OPTION): always works, changes
 *   nothing on disk; the recommended default for every XFS mount;
 * - xfs_admin -U generate DEV: gives the copy a new UUID for good. Only on an
 *   unmounted file system with a clean log: a snapshot taken while the origin
 *   was mounted has a dirty log and xfs_admin refuses (mount and unmount it
 *   once with nouuid to replay the log first).
 */
import type { CommandRunner } from '../exec/runner.js';

const XFS_NOUUID_MOUNT_OPTION = 'nouuid';

/** Mount options with "nouuid" added for XFS (unchanged for other file systems). */
export function withXfsNoUuid(fsType: string, options: readonly string[]): string[] {
  return fsType === 'xfs' && !options.includes(XFS_NOUUID_MOUNT_OPTION)
    ? [...options, XFS_NOUUID_MOUNT_OPTION]
    : [...options];
}

/** `xfs_admin -U generate DEV` on an unmounted XFS with a clean log. */
export async function regenerateXfsUuid(
  runner: CommandRunner,
  device: string,
  o: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<void> {
  await runner.run(['xfs_admin', '-U', 'generate', device], { signal: o.signal, timeoutMs: o.timeoutMs ?? 120_000 });
}
