/**
 * CSI snapshots: taken by the pool of their source volume (thin snapshot, or
 * a COW snapshot sized by snapshotReserve), deleted with their COW area
 * zeroed when the origin's class wants it, and a hidden origin removed with
 * its last snapshot.
 */
import { AlreadyExists, Busy, NotFound } from '../errors.js';
import { snapshotLvName } from '../lvm/names.js';
import { jobKey, settle, type AgentContext } from './context.js';
import { formatId } from './ids.js';
import type { SnapshotParams } from './params.js';
import type { Pools } from './pool.js';
import type { Reads } from './reads.js';
import { tagsFor, tagValues, toVolume } from './records.js';
import type { Removal } from './removal.js';
import type { CallOptions, SnapshotInfo } from './types.js';

export class Snapshots {
  constructor(
    private readonly c: AgentContext,
    private readonly pools: Pools,
    private readonly reads: Reads,
    private readonly removal: Removal,
  ) {}

  async create(name: string, vg: string, lv: string, params: SnapshotParams, o?: CallOptions): Promise<SnapshotInfo> {
    const snapLv = snapshotLvName(name);
    const sourceId = formatId({ node: this.c.nodeId, vg, lv });
    const have = await this.reads.findSnapshotByName(name, o);
    if (have) {
      if (have.sourceVolumeId !== sourceId)
        throw new AlreadyExists(`snapshot ${name} exists for another source volume (${have.sourceVolumeId})`);
      return have;
    }
    const src = this.c.o.volumeGroups.includes(vg) ? await this.reads.getVolume(vg, lv, o) : undefined;
    if (!src || src.state === 'deleting') throw new NotFound(`source volume ${sourceId} does not exist`);
    if (src.state !== 'ready') throw new Busy(`volume ${src.id} is not ready yet (${src.state}); retry later`);
    const tags = tagsFor({
      name,
      kind: 'snapshot',
      source: src.id,
      created: new Date().toISOString(),
      size: String(src.sizeBytes),
      ready: '1',
    });
    await this.pools
      .kind(src.params.lvmType)
      .snapshot(src, snapLv, tags, params, (v, so, thinUse) => this.reads.poolStatus(v, so, thinUse), o);
    const made = await this.reads.getSnapshot(vg, snapLv, o);
    if (!made) throw new NotFound(`snapshot ${name} vanished right after creation`);
    return made;
  }

  async delete(vg: string, lv: string, o?: CallOptions): Promise<void> {
    if (!this.c.o.volumeGroups.includes(vg)) return;
    const { lvm, jobs, nodeId } = this.c;
    const l = await lvm.getLv(vg, lv, o);
    if (!l || tagValues(l)['kind'] !== 'snapshot') return;
    const key = jobKey(vg, lv);
    if (jobs.get(key) && !(await settle(this.c, key))) throw new Busy(`snapshot ${vg}/${lv}: ${jobs.describe(key)}`);
    const restoring = (await this.reads.lvs(vg, o)).find(
      (x) =>
        tagValues(x)['source'] === `snapshot:${formatId({ node: nodeId, vg, lv })}` && tagValues(x)['ready'] !== '1',
    );
    if (restoring) throw new Busy(`snapshot ${vg}/${lv} is being restored into ${restoring.name}; retry later`);
    const pool = this.pools.of(l);
    const origin = l.origin && pool.snapshotsHoldOrigin ? await lvm.getLv(vg, l.origin, o) : undefined;
    const originParams = origin ? toVolume(nodeId, origin, [])?.params : undefined;
    // A COW snapshot's exception store holds the origin's old data: zeroed like a thick volume
    // (split from its origin first, see ThickPool.release()). Thin snapshots go back to the pool, which zeroes.
    const zero = pool.zeroesOnRemove(originParams);
    await this.removal.remove(l, zero, o);
    if (!zero) await this.removal.afterSnapshotRemoved(l, o);
  }
}
