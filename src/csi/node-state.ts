/**
 * What NodeStageVolume learned (target, portals, LUN, device), kept in a file
 * beside the staging path: unstage, expand and stats requests carry no
 * publish_context. Written atomically (temp file + rename).
 *
 * The publish index: kubelet calls NodeGetVolumeStats with the pod's target
 * path only, csi-sanity calls NodeExpandVolume so, and NodeUnpublishVolume
 * never carries the staging path. NodePublishVolume therefore writes one small
 * file per target path (`<index dir>/<sha256(target path)>.json`: volume id,
 * target path, staging path) in a directory of its own, and
 * NodeUnpublishVolume removes it. Like the state files it lives on the host,
 * so it survives a plugin restart, and it works for any CO's layout. An index
 * entry is only a pointer: a target path counts as the volume's only when the
 * stage state it points to names the volume and lists that target path.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFound } from '../errors.js';

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
  /** Staged through a reader-only access mode: mounted ro without journal replay, every publish bound read-only. */
  readOnly?: boolean;
  /** NodePublishVolume targets currently bound. */
  targets: string[];
}

/** The state file's name is the staging path plus this suffix (written through `<file>.tmp`). */
export const STATE_SUFFIX = '.lvm-iscsi.json';

function statePath(stagingPath: string): string {
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

/** The index's directory: the driver's own directory under kubelet's plugins directory (on the host, beside its socket). */
export function publishIndexDir(kubeletDir: string, driverName: string): string {
  return join(kubeletDir, 'plugins', driverName, 'publishes');
}

export interface PublishRecord {
  volumeId: string;
  targetPath: string;
  stagingPath: string;
}

export class PublishIndex {
  constructor(readonly dir: string) {}

  private file(targetPath: string): string {
    return join(this.dir, `${createHash('sha256').update(targetPath).digest('hex')}.json`);
  }

  async record(r: PublishRecord): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const file = this.file(r.targetPath);
    await writeFile(`${file}.tmp`, JSON.stringify(r), { mode: 0o600 });
    await rename(`${file}.tmp`, file);
  }

  /** The record of targetPath, or undefined (none, or a hash collision naming another path). */
  async lookup(targetPath: string): Promise<PublishRecord | undefined> {
    let r: PublishRecord;
    try {
      r = JSON.parse(await readFile(this.file(targetPath), 'utf8')) as PublishRecord;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    return r.targetPath === targetPath ? r : undefined;
  }

  async remove(targetPath: string): Promise<void> {
    await rm(this.file(targetPath), { force: true });
  }

  /** Every record naming volumeId (none when the index directory does not exist yet); unreadable entries are skipped. */
  async forVolume(volumeId: string): Promise<PublishRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: PublishRecord[] = [];
    for (const name of names) {
      if (!name.endsWith('.json')) continue;
      try {
        const file = join(this.dir, name);
        const r = JSON.parse(await readFile(file, 'utf8')) as PublishRecord;
        if (r.volumeId === volumeId && this.file(r.targetPath) === file) out.push(r);
      } catch {
        // removed meanwhile, or half written by an older version: not a record
      }
    }
    return out;
  }
}

export interface Located {
  state: StageState;
  stagingPath: string;
  /** True when the path asked about is the staging path itself. */
  isStaging: boolean;
}

/**
 * The stage state that `path` belongs to for volumeId: `path` is the staging
 * path (staging_target_path, when given, must be it or hold `path` as a
 * publish target), or a publish target found through the index. NotFound
 * otherwise, naming the other volume when `path` belongs to one.
 */
export async function locate(
  index: PublishIndex,
  volumeId: string,
  path: string,
  stagingPath?: string,
): Promise<Located> {
  const own = await readState(path);
  if (own) {
    if (own.volumeId !== volumeId) throw new NotFound(`${path} holds volume ${own.volumeId}, not ${volumeId}`);
    if (stagingPath && stagingPath !== path)
      throw new NotFound(
        `${path} is a staging path of volume ${volumeId}, not a target of staging path ${stagingPath}`,
      );
    return { state: own, stagingPath: path, isStaging: true };
  }
  const rec = await index.lookup(path);
  if (rec && rec.volumeId !== volumeId) throw new NotFound(`${path} holds volume ${rec.volumeId}, not ${volumeId}`);
  const staging = stagingPath ?? rec?.stagingPath;
  if (!staging) throw new NotFound(`volume ${volumeId} is neither staged nor published at ${path}`);
  const s = await readState(staging);
  if (!s) throw new NotFound(`volume ${volumeId} is not staged at ${staging}`);
  if (s.volumeId !== volumeId)
    throw new NotFound(`staging path ${staging} holds volume ${s.volumeId}, not ${volumeId}`);
  if (!s.targets.includes(path)) throw new NotFound(`volume ${volumeId} is not published at ${path}`);
  return { state: s, stagingPath: staging, isStaging: false };
}
