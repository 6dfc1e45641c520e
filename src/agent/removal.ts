/**
 * Removing LVs: at once, or zeroed first in a background job (Busy while it
 * runs), and a hidden origin removed with its last snapshot.
 */
import { Busy, FailedPrecondition, InUse } from '../errors.js';
import type { CallOptions } from '../lvm/lvm.js';
import type { Lv } from '../lvm/report.js';
import { tagChanges } from '../lvm/tags.js';
import { assertClosed, jobKey, openOnNode, settle, throwIfJobFailed, type AgentContext } from './context.js';
import type { VolumeParams } from './params.js';
import type { Pools } from './pool.js';
import { tagValues, toVolume } from './records.js';

export class Removal {
  constructor(
    private readonly c: AgentContext,
    private readonly pools: Pools,
  ) {}

  /**
   * Removes an LV, zeroing it first (in a background job) when asked; Busy
   * while the job runs. An LV that something on the storage node holds open
   * is FailedPrecondition, with nothing changed: lvremove refuses it itself,
   * and before a zeroing job (and before a thick pool marks its VG) its open
   * flag is read now.
   */
  async remove(l: Lv, zero: boolean, o?: CallOptions): Promise<void> {
    const { lvm, jobs } = this.c;
    if (!zero)
      return this.pools
        .of(l)
        .removeNow(l, o)
        .catch((e: unknown) => {
          throw e instanceof InUse ? openOnNode(this.c, l, e) : e;
        });
    const key = jobKey(l.vg, l.name);
    if (!jobs.get(key)) await assertClosed(this.c, l, o);
    if (tagValues(l)['state'] !== 'deleting')
      await lvm.changeTags(l.vg, l.name, tagChanges(l.tags, { state: 'deleting' }), o);
    jobs.start(key, 'zero', async (ctx) => {
      const now = await lvm.getLv(l.vg, l.name);
      if (now) await this.pools.of(now).release(now, true, ctx.signal, ctx.setProgress);
      await this.afterSnapshotRemoved(l);
    });
    if (!(await settle(this.c, key))) throw new Busy(`${l.vg}/${l.name}: ${jobs.describe(key)}`);
    throwIfJobFailed(this.c, key);
  }

  /** Removes a volume's LV, zeroed first when its pool and class want it. */
  removeVolume(l: Lv, v: { params: VolumeParams }, o?: CallOptions): Promise<void> {
    return this.remove(l, this.pools.kind(v.params.lvmType).zeroesOnRemove(v.params), o);
  }

  /** Removes a hidden origin once its last snapshot that holds it is gone. */
  async afterSnapshotRemoved(snap: Lv, o?: CallOptions): Promise<void> {
    if (!snap.origin || !this.pools.of(snap).snapshotsHoldOrigin || tagValues(snap)['kind'] !== 'snapshot') return;
    const all = await this.c.lvm.listLvs(snap.vg, o);
    const origin = all.find((x) => x.name === snap.origin);
    if (!origin || tagValues(origin)['state'] !== 'hidden') return;
    const v = toVolume(this.c.nodeId, origin, all);
    if (!v || v.snapshotCount > 0) return;
    this.c.log.info({ vg: snap.vg, lv: origin.name }, 'last snapshot gone: removing the hidden origin');
    await this.removeVolume(origin, v, o).catch((e: unknown) => {
      if (!(e instanceof Busy) && !(e instanceof FailedPrecondition)) throw e;
      // open on the storage node (or a zeroing job still running): it stays hidden; recovery removes it later
      this.c.log.warn({ vg: snap.vg, lv: origin.name, err: e.message }, 'hidden origin not removed yet');
    });
  }
}
