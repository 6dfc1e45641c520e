/**
 * What NodeStageVolume learned (target, portals, LUN, device), kept in a file
 * beside the staging path: unstage, expand and stats requests carry no
 * publish_context. Written atomically (temp file + rename).
 */
import { readFile, rename, rm, writeFile } from 'node:fs/promises';

export interface StageState {
  volumeId: string;
  attach: 'iscsi' | 'local';
  targetIqn?: string;
  portals: string[];
  lun: number;
  /** The device the volume is used through (/dev/sdX, /dev/mapper/mpathX or the LV). */
  device: string;
  /** The kernel names of the iSCSI disks (sdX) at stage; informational only, never acted on (names change). */
  disks: string[];
  /**
   * The WWIDs (sysfs device/wwid) of those disks at stage: unstage finds the
   * disks from the target again and refuses any whose WWID is not one of
   * these. Missing in state written by older versions.
   */
  wwids?: string[];
  multipathMap?: string;
  block: boolean;
  fsType?: string;
  /** NodePublishVolume targets currently bound. */
  targets: string[];
}

/** The state file's name is the staging path plus this suffix (written through `<file>.tmp`). */
export const STATE_SUFFIX = '.lvm-iscsi.json';

export function statePath(stagingPath: string): string {
  return `${stagingPath.replace(/\/+$/, '')}${STATE_SUFFIX}`;
}

export async function readState(stagingPath: string): Promise<StageState | undefined> {
  try {
    return JSON.parse(await readFile(statePath(stagingPath), 'utf8')) as StageState;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export async function writeState(stagingPath: string, s: StageState): Promise<void> {
  const path = statePath(stagingPath);
  await writeFile(`${path}.tmp`, JSON.stringify(s), { mode: 0o600 });
  await rename(`${path}.tmp`, path);
}

export async function removeState(stagingPath: string): Promise<void> {
  await rm(statePath(stagingPath), { force: true });
}
