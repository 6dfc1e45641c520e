/**
 * The embedded default for single-node trials: a volume group on a sparse loop
 * file under the data directory, created when no volume group is configured.
 * Not for production (a loop file on a file system is slower and less safe
 * than a real disk); README says so.
 */
import { mkdir, open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CommandRunner } from '../exec/runner.js';
import type { Logger } from '../log.js';
import type { Lvm } from '../lvm/lvm.js';

const LOOP_VG_NAME = 'csi-lvm-iscsi';
export const LOOP_THIN_POOL = 'thinpool';

/** Returns the VG name after making sure the file, the loop device and the VG exist. */
export async function ensureLoopVg(
  runner: CommandRunner,
  lvm: Lvm,
  log: Logger,
  dataDir: string,
  sizeBytes: number,
): Promise<string> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, 'loop-vg.img');
  const exists = await stat(file).then(
    () => true,
    () => false,
  );
  if (!exists) {
    const fh = await open(file, 'wx', 0o600);
    await fh.truncate(sizeBytes);
    await fh.close();
    log.info({ file, bytes: sizeBytes }, 'created the loop file of the embedded volume group');
  }
  const attached = (await runner.run(['losetup', '--associated', file, '--noheadings', '--output', 'NAME'])).stdout
    .trim()
    .split('\n')[0];
  const device = attached || (await runner.run(['losetup', '--find', '--show', file])).stdout.trim();
  if (!device.startsWith('/dev/')) throw new Error(`losetup gave no device for ${file}`);
  if (!(await lvm.getVg(LOOP_VG_NAME))) {
    await lvm.vgCreate(LOOP_VG_NAME, [device]);
    log.info({ vg: LOOP_VG_NAME, device }, 'created the embedded volume group');
  }
  return LOOP_VG_NAME;
}
