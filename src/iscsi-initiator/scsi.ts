/**
 * Clean-up of a SCSI disk before the session that carries it ends, so the
 * kernel does not keep a dead sdX around (or retry I/O to it) after logout:
 * flush the buffers, then delete the device through sysfs.
 *
 * Order for NodeUnstageVolume: umount -> (multipath -f MAP) ->
 * blockdev --flushbufs /dev/sdX -> deleteScsiDevice(sdX) -> iscsiadm logout
 * -> iscsiadm delete node.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgument } from '../errors.js';
import type { CommandRunner } from '../exec/runner.js';

export const DEFAULT_SYSFS_ROOT = '/sys';

/** sd, vd, dm-N... kernel names only: no slashes, no dots. */
function assertDeviceName(name: string): void {
  if (!/^[a-z][a-z0-9-]*$/.test(name))
    throw new InvalidArgument('device', `${JSON.stringify(name)} is not a kernel block device name`);
}

/** `blockdev --flushbufs DEV`: writes dirty buffers of the device out. */
export async function flushBuffers(
  runner: CommandRunner,
  device: string,
  o: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<void> {
  await runner.run(['blockdev', '--flushbufs', device], { signal: o.signal, timeoutMs: o.timeoutMs ?? 60_000 });
}

/**
 * Writes 1 to <sysfsRoot>/block/<name>/device/delete: the SCSI layer removes
 * the disk (it syncs its cache first). A device that is already gone is
 * success. Returns whether it was there.
 */
export async function deleteScsiDevice(name: string, sysfsRoot = DEFAULT_SYSFS_ROOT): Promise<boolean> {
  assertDeviceName(name);
  const file = join(sysfsRoot, 'block', name, 'device', 'delete');
  let fh;
  try {
    fh = await open(file, constants.O_WRONLY);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return false;
    throw e;
  }
  try {
    await fh.write('1');
  } finally {
    await fh.close();
  }
  return true;
}
