/**
 * kubelet asks NodeGetVolumeStats of a raw block volume at a path of its own,
 * not at the target this plugin published: its per-pod map of the device,
 * `<kubelet dir>/plugins/kubernetes.io/csi/volumeDevices/<pv>/dev/<pod uid>`, a
 * bind mount of the publish target (kubelet's csi_plugin.go NewBlockVolumeMapper
 * gives that path to its metrics provider; the request carries no staging
 * path). No state file or index entry names that path, so it is proven
 * otherwise: it counts as volumeId's only when it is a block device with the
 * device number of the device a stage of volumeId uses, and that stage (found
 * through the publish index, the stage state naming the volume and listing the
 * target) has a publish target that is the same device now. The path's name
 * is never parsed: another CO's layout works the same way.
 */
import { stat } from 'node:fs/promises';
import type { Located, PublishIndex } from './node-state.js';
import { readState } from './node-state.js';

/** Device number of a block device at path (following links), undefined when there is none. */
async function blockRdev(path: string): Promise<number | undefined> {
  try {
    const st = await stat(path);
    return st.isBlockDevice() ? st.rdev : undefined;
  } catch {
    return undefined;
  }
}

/** The stage of volumeId whose device `path` is (a raw block volume published on this node), or undefined. */
export async function locateBlockMap(
  index: PublishIndex,
  volumeId: string,
  path: string,
): Promise<Located | undefined> {
  const rdev = await blockRdev(path);
  if (rdev === undefined) return undefined;
  const seen = new Set<string>();
  for (const rec of await index.forVolume(volumeId)) {
    if (seen.has(rec.stagingPath)) continue;
    seen.add(rec.stagingPath);
    const s = await readState(rec.stagingPath);
    if (!s || s.volumeId !== volumeId || !s.block || !s.targets.includes(rec.targetPath)) continue;
    if ((await blockRdev(s.device)) !== rdev) continue;
    for (const t of s.targets) {
      if ((await blockRdev(t)) === rdev) return { state: s, stagingPath: rec.stagingPath, isStaging: false };
    }
  }
  return undefined;
}
