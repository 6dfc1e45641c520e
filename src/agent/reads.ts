/**
 * The agent's reads: volumes, snapshots and pool status from its VGs as
 * CachedLvm holds them (src/lvm/cached-lvm.ts), values that change without a
 * metadata commit read when older than the caller allows.
 */
import { byCodeUnit } from '../compare.js';
import { FailedPrecondition, NotFound } from '../errors.js';
import type { Lv } from '../lvm/report.js';
import { snapshotLvName, volumeLvName } from '../lvm/names.js';
import { capacityFor, thinPoolHealth } from './capacity.js';
import { POOL_USE_MAX_AGE_MS, type AgentContext } from './context.js';
import { parseId } from './ids.js';
import { tagValues, toSnapshot, toVolume } from './records.js';
import type {
  CallOptions,
  Capacity,
  CapacityQuery,
  ListVolumesOptions,
  PoolStatus,
  SnapshotInfo,
  SourceRef,
  VolumeInfo,
} from './types.js';

/** Each listing's LVs by name, made once per listing (CreateVolume looks its name up in a VG of 1,000 LVs). */
const BY_NAME = new WeakMap<readonly Lv[], ReadonlyMap<string, Lv>>();

function byName(all: readonly Lv[]): ReadonlyMap<string, Lv> {
  let m = BY_NAME.get(all);
  if (!m) {
    m = new Map(all.map((l) => [l.name, l]));
    BY_NAME.set(all, m);
  }
  return m;
}

/** The index of the first volume whose id sorts after `after` (binary search). */
function firstAfter(sorted: readonly VolumeInfo[], after: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as VolumeInfo).id > after) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export class Reads {
  /** Per listing: its volumes sorted by id (see volumesOf). Per instance: the records carry this node's id. */
  private readonly sorted = new WeakMap<readonly Lv[], readonly VolumeInfo[]>();

  constructor(private readonly c: AgentContext) {}

  lvs(vg: string, o?: CallOptions): Promise<Lv[]> {
    return this.c.lvm.listLvs(vg, o);
  }

  private serves(vg: string): boolean {
    return this.c.o.volumeGroups.includes(vg);
  }

  async getVolume(vg: string, lv: string, o?: CallOptions): Promise<VolumeInfo | undefined> {
    if (!this.serves(vg)) return undefined;
    const all = await this.lvs(vg, o);
    const l = byName(all).get(lv);
    return l ? toVolume(this.c.nodeId, l, all) : undefined;
  }

  async findVolumeByName(name: string, o?: CallOptions): Promise<VolumeInfo | undefined> {
    const lv = volumeLvName(name);
    for (const vg of this.c.o.volumeGroups) {
      const v = await this.getVolume(vg, lv, o);
      if (v && v.name === name) return v;
    }
    return undefined;
  }

  /**
   * Sorted by id. With a limit, the page is cut here: only it is converted and sent, not every
   * volume of the node; a page costs a binary search and its own entries, not a pass over the VG.
   */
  async listVolumes(o: ListVolumesOptions = {}): Promise<VolumeInfo[]> {
    const { after, limit, readyOnly } = o;
    const out: VolumeInfo[] = [];
    for (const vg of this.c.o.volumeGroups) {
      const sorted = this.volumesOf(await this.lvs(vg, o));
      let taken = 0;
      for (let i = after === undefined ? 0 : firstAfter(sorted, after); i < sorted.length; i++) {
        if (limit && taken >= limit) break;
        const v = sorted[i] as VolumeInfo;
        if (readyOnly && v.state !== 'ready') continue;
        out.push(v);
        taken++;
      }
    }
    const all = this.c.o.volumeGroups.length > 1 ? out.sort((a, b) => byCodeUnit(a.id, b.id)) : out;
    return limit ? all.slice(0, limit) : all;
  }

  /**
   * The volumes of one VG listing (none being deleted), sorted by id, made once per listing: a
   * listing is never changed after it is read (CachedLvm hands out one frozen array until the VG
   * changes), and ListVolumes of 1,000 volumes in pages of 100 otherwise made and sorted every
   * record again for each page.
   */
  private volumesOf(all: readonly Lv[]): readonly VolumeInfo[] {
    let sorted = this.sorted.get(all);
    if (!sorted) {
      sorted = Object.freeze(
        all
          .map((l) => toVolume(this.c.nodeId, l, all))
          .filter((v): v is VolumeInfo => v !== undefined && v.state !== 'deleting')
          .sort((a, b) => byCodeUnit(a.id, b.id)),
      );
      this.sorted.set(all, sorted);
    }
    return sorted;
  }

  async getSnapshot(vg: string, lv: string, o?: CallOptions): Promise<SnapshotInfo | undefined> {
    if (!this.serves(vg)) return undefined;
    let l = await this.c.lvm.getLv(vg, lv, o);
    // a COW snapshot is invalidated by writes to its origin, without a metadata change: read its state now
    if (l && !l.pool && l.origin) l = await this.c.lvm.getLv(vg, lv, { ...o, maxAgeMs: 0 });
    if (!l || tagValues(l)['state'] === 'deleting') return undefined;
    return toSnapshot(this.c.nodeId, l);
  }

  async findSnapshotByName(name: string, o?: CallOptions): Promise<SnapshotInfo | undefined> {
    const lv = snapshotLvName(name);
    for (const vg of this.c.o.volumeGroups) {
      const s = await this.getSnapshot(vg, lv, o);
      if (s && s.name === name) return s;
    }
    return undefined;
  }

  async listSnapshots(o?: CallOptions): Promise<SnapshotInfo[]> {
    const out: SnapshotInfo[] = [];
    for (const vg of this.c.o.volumeGroups) {
      for (const l of await this.lvs(vg, o)) {
        const s = tagValues(l)['state'] === 'deleting' ? undefined : toSnapshot(this.c.nodeId, l);
        if (s) out.push(s);
      }
    }
    return out;
  }

  /** `thinUse` false: the thin pool's use as last read (a thick decision does not depend on it). */
  async poolStatus(vg: string, o?: CallOptions, thinUse = true): Promise<PoolStatus> {
    const { lvm, o: opts } = this.c;
    const v = await lvm.getVg(vg, o);
    if (!v) throw new FailedPrecondition(`volume group ${vg} does not exist`);
    let thinPool: PoolStatus['thinPool'];
    if (opts.thinPool) {
      const all = await this.lvs(vg, o);
      // data and metadata use change with every write, not with the metadata: read no older than POOL_USE_MAX_AGE_MS
      const pool = all.some((l) => l.name === opts.thinPool)
        ? await lvm.getLv(vg, opts.thinPool, thinUse ? { ...o, maxAgeMs: POOL_USE_MAX_AGE_MS } : o)
        : undefined;
      if (pool) {
        const provisionedBytes = all.filter((l) => l.pool === pool.name).reduce((sum, l) => sum + l.sizeBytes, 0);
        thinPool = {
          name: pool.name,
          sizeBytes: pool.sizeBytes,
          dataPercent: pool.dataPercent ?? 0,
          metadataPercent: pool.metadataPercent ?? 0,
          provisionedBytes,
          zeroing: pool.zero === true,
          health: thinPoolHealth(pool),
        };
      }
    }
    return {
      vg,
      vgSizeBytes: v.sizeBytes,
      vgFreeBytes: v.freeBytes,
      extentBytes: v.extentSizeBytes,
      pvCount: v.pvCount,
      thinPool,
    };
  }

  async capacity(q: CapacityQuery, o?: CallOptions): Promise<Capacity> {
    return capacityFor(await this.poolStatus(q.vg, o, q.lvmType === 'thin'), q, this.c.o);
  }

  /**
   * The size of a new volume's source on this node: NOT_FOUND when it is not
   * here (or being deleted), FAILED_PRECONDITION for a snapshot that cannot be
   * read back (an invalidated COW snapshot, or one never completed).
   */
  async sourceBytes(src: SourceRef, o?: CallOptions): Promise<number> {
    const ref = parseId(src.id);
    const mine = ref && ref.node === this.c.nodeId;
    if (src.kind === 'snapshot') {
      const s = mine ? await this.getSnapshot(ref.vg, ref.lv, o) : undefined;
      if (!s) throw new NotFound(`snapshot ${src.id} does not exist`);
      if (!s.readyToUse)
        throw new FailedPrecondition(
          `snapshot ${src.id} is not usable (invalidated: its COW reserve overflowed, or never completed); it cannot be restored`,
        );
      return s.sizeBytes;
    }
    const v = mine ? await this.getVolume(ref.vg, ref.lv, o) : undefined;
    if (!v || v.state === 'deleting') throw new NotFound(`source volume ${src.id} does not exist`);
    return v.sizeBytes;
  }
}
