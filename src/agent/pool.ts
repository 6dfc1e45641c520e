/**
 * Everything that differs between thin and thick volumes, in one place
 * (TopoLVM's "device classes"): the rest of the agent asks the pool of an LV
 * (`pools.of(lv)`) or of a volume's parameters (`pools.kind(type)`) and never
 * branches on thin or thick itself.
 *
 * Thin: LVs in the configured thin pool; instant snapshots and clones; the
 * pool zeroes new blocks, so extents go back without writing.
 * Thick: LVs straight in the VG (linear, striped, raid1/raid10); COW
 * snapshots, which hold their origin; clones need a copy; extents are zeroed
 * before they go back, or the VG is marked as holding unzeroed extents.
 */
import { FailedPrecondition, InvalidArgument, NotFound, OutOfCapacity } from '../errors.js';
import type { CallOptions } from '../lvm/lvm.js';
import type { Lv } from '../lvm/report.js';
import { decodeTags, encodeTags } from '../lvm/tags.js';
import { zeroBlocks } from './blockcopy.js';
import { thinPoolProblem } from './capacity.js';
import { assertClosed, blockOptions, withClosedDevice, type AgentContext } from './context.js';
import type { JobContext } from './jobs.js';
import type { LvmType, SnapshotParams, VolumeParams } from './params.js';
import { tagsFor, type TagFields } from './records.js';
import type { PoolStatus, VolumeInfo } from './types.js';

/** VG tag key: extents of a thick LV went back to this VG without zeroing. */
const UNZEROED = 'unzeroed';

/** The pool's status; `thinUse` false: the thin pool's use as last read (a thick decision does not depend on it). */
type PoolStatusOf = (vg: string, o: CallOptions | undefined, thinUse: boolean) => Promise<PoolStatus>;

export interface VolumePool {
  readonly kind: LvmType;
  /** A new volume, tagged in the same lvcreate. */
  create(
    vg: string,
    lv: string,
    sizeBytes: number,
    tags: string[],
    params: VolumeParams,
    o?: CallOptions,
  ): Promise<void>;
  /**
   * A new volume holding `source`'s data without a copy, when this pool can
   * (thin from a thin LV of the same VG); false when it must be created and copied.
   */
  cloneInPlace(
    vg: string,
    source: { vg: string; lv: string },
    lv: string,
    sizeBytes: number,
    tags: TagFields,
    o?: CallOptions,
  ): Promise<boolean>;
  /** Whether a new volume without a source must be filled with zeros before it is ready. */
  zeroesNewVolume(vg: string, params: VolumeParams, o?: CallOptions): Promise<boolean>;
  /** Throws when the volume cannot grow now. */
  checkExpand(v: VolumeInfo): void;
  /** Checks the room for a CSI snapshot of `src` and takes it. */
  snapshot(
    src: VolumeInfo,
    name: string,
    tags: string[],
    params: SnapshotParams,
    status: PoolStatusOf,
    o?: CallOptions,
  ): Promise<void>;
  /** A read-only snapshot of a source volume to copy from. */
  temporarySnapshot(src: Lv, name: string, tags: string[], signal: AbortSignal): Promise<void>;
  /** Whether a copy onto an LV of this pool may skip zero blocks (it reads zeros where never written). */
  readonly sparseCopies: boolean;
  /** Completes a volume that already holds its data (a thin clone): grows it to `wantBytes`; false when it needs a copy. */
  completeInPlace(target: Lv, wantBytes: number, signal: AbortSignal): Promise<boolean>;
  /** Whether this pool's snapshots hold their origin (it cannot be removed before them). */
  readonly snapshotsHoldOrigin: boolean;
  /** Whether an LV's extents are zeroed before they go back, for a volume of these parameters (unknown: the default, zero). */
  zeroesOnRemove(params: VolumeParams | undefined): boolean;
  /** Removes the LV now, without zeroing (gone already is fine). */
  removeNow(l: Lv, o?: CallOptions): Promise<void>;
  /** Gives the LV's extents back inside a job, zeroed first when `zero` and the pool does not zero itself. */
  release(l: Lv, zero: boolean, signal?: AbortSignal, progress?: JobContext['setProgress']): Promise<void>;
}

const gone = (e: unknown) => {
  if (!(e instanceof NotFound)) throw e;
};

class ThinPool implements VolumePool {
  readonly kind = 'thin' as const;
  readonly sparseCopies = true;
  readonly snapshotsHoldOrigin = false;

  constructor(private readonly c: AgentContext) {}

  private name(vg: string): string {
    if (!this.c.o.thinPool) throw new FailedPrecondition(`no thin pool configured for ${vg}`);
    return this.c.o.thinPool;
  }

  /** The LV when it is a thin volume of the configured pool. */
  private async mine(vg: string, lv: string, o?: CallOptions): Promise<Lv> {
    const l = await this.c.lvm.getLv(vg, lv, o);
    if (!l || l.attr.volumeType !== 'thin-volume' || l.pool !== this.name(vg))
      throw new NotFound(`logical volume ${vg}/${lv} not found in thin pool ${this.name(vg)}`);
    return l;
  }

  async create(
    vg: string,
    lv: string,
    sizeBytes: number,
    tags: string[],
    _params: VolumeParams,
    o?: CallOptions,
  ): Promise<void> {
    await this.c.lvm.createThin(vg, this.name(vg), lv, sizeBytes, tags, o);
  }

  async cloneInPlace(
    vg: string,
    source: { vg: string; lv: string },
    lv: string,
    sizeBytes: number,
    tags: TagFields,
    o: CallOptions = {},
  ): Promise<boolean> {
    if (source.vg !== vg) return false;
    const l = await this.c.lvm.getLv(vg, source.lv, o);
    if (!l?.pool) return false;
    // A writable thin snapshot that activates like any LV (-kn) so it comes back after a reboot, grown to the
    // requested size. When it must grow, the completion mark comes last (completeInPlace() redoes the growth
    // after a crash); at the source's size the lvcreate makes it whole and carries the mark itself.
    const whole = sizeBytes <= l.sizeBytes;
    const src = await this.mine(vg, source.lv, o);
    if (sizeBytes < src.sizeBytes)
      throw new InvalidArgument('size', `${sizeBytes} bytes is smaller than the source (${src.sizeBytes} bytes)`);
    await this.c.lvm.createThinSnapshot(vg, source.lv, lv, tagsFor(whole ? { ...tags, ready: '1' } : tags), {
      ...o,
      readOnly: false,
      activationSkip: false,
      activate: true,
    });
    if (sizeBytes > src.sizeBytes) await this.c.lvm.extend(vg, lv, sizeBytes, o);
    return true;
  }

  async zeroesNewVolume(): Promise<boolean> {
    return false; // the pool zeroes new blocks
  }

  checkExpand(): void {}

  async snapshot(
    src: VolumeInfo,
    name: string,
    tags: string[],
    _params: SnapshotParams,
    status: PoolStatusOf,
    o?: CallOptions,
  ): Promise<void> {
    // the same pool thresholds and health CreateVolume honours: a snapshot shares the pool's blocks and metadata
    const problem = thinPoolProblem(await status(src.vg, o, true), this.c.o.thinPoolThresholdPercent);
    if (problem) throw new OutOfCapacity(`cannot take a thin snapshot of ${src.id}: ${problem}`);
    await this.mine(src.vg, src.lv, o);
    await this.c.lvm.createThinSnapshot(src.vg, src.lv, name, tags, {
      ...o,
      readOnly: true,
      activationSkip: false,
      activate: false,
    });
  }

  async temporarySnapshot(src: Lv, name: string, tags: string[], signal: AbortSignal): Promise<void> {
    await this.c.lvm.createThinSnapshot(src.vg, src.name, name, tags, {
      readOnly: true,
      activationSkip: false,
      signal,
    });
  }

  async completeInPlace(target: Lv, wantBytes: number, signal: AbortSignal): Promise<boolean> {
    if (!target.origin) return false;
    // thin snapshot: only the size and the mark are missing
    if (target.sizeBytes < wantBytes) await this.c.lvm.extend(target.vg, target.name, wantBytes, { signal });
    return true;
  }

  zeroesOnRemove(): boolean {
    return false; // the pool zeroes new blocks: a thin LV's blocks never reach another volume unzeroed
  }

  async removeNow(l: Lv, o?: CallOptions): Promise<void> {
    await this.c.lvm.remove(l.vg, l.name, o).catch(gone);
  }

  async release(l: Lv): Promise<void> {
    await this.removeNow(l);
  }
}

class ThickPool implements VolumePool {
  readonly kind = 'thick' as const;
  readonly sparseCopies = false;
  readonly snapshotsHoldOrigin = true;

  constructor(private readonly c: AgentContext) {}

  private static readonly TYPES = new Set([
    'plain',
    'origin',
    'origin-merging',
    'snapshot',
    'raid',
    'raid-nosync',
    'mirrored',
    'mirrored-nosync',
  ]);

  async create(
    vg: string,
    lv: string,
    sizeBytes: number,
    tags: string[],
    params: VolumeParams,
    o?: CallOptions,
  ): Promise<void> {
    const layout = {
      mirrors: params.mirrors,
      stripes: params.stripes,
      ...(params.stripeSizeKiB !== undefined ? { stripeSizeKiB: params.stripeSizeKiB } : {}),
    };
    await this.c.lvm.createLinear(vg, lv, sizeBytes, tags, { ...layout, ...o });
  }

  async cloneInPlace(): Promise<boolean> {
    return false;
  }

  /** A thick volume never shows a former volume's data: on a VG holding unzeroed free extents a volume whose class zeroes is zeroed before it is ready. */
  async zeroesNewVolume(vg: string, params: VolumeParams, o?: CallOptions): Promise<boolean> {
    return params.volumeClear === 'zero' && (await this.hasUnzeroed(vg, o));
  }

  checkExpand(v: VolumeInfo): void {
    if (v.snapshotCount > 0) {
      throw new FailedPrecondition(
        `volume ${v.id} has ${v.snapshotCount} COW snapshot(s); LVM cannot resize the origin of a thick snapshot - delete the snapshots first`,
      );
    }
  }

  async snapshot(
    src: VolumeInfo,
    name: string,
    tags: string[],
    params: SnapshotParams,
    status: PoolStatusOf,
    o?: CallOptions,
  ): Promise<void> {
    const s = await status(src.vg, o, false);
    const cow = Math.ceil((src.sizeBytes * params.snapshotReserve) / 100 / s.extentBytes) * s.extentBytes;
    const reserved = Math.ceil((s.vgSizeBytes * this.c.o.reservedPercent) / 100);
    if (cow > s.vgFreeBytes - reserved) {
      throw new OutOfCapacity(
        `volume group ${src.vg} has ${s.vgFreeBytes} bytes free, a ${params.snapshotReserve}% COW snapshot needs ${cow}`,
      );
    }
    const origin = await this.c.lvm.getLv(src.vg, src.lv, o);
    if (!origin || !ThickPool.TYPES.has(origin.attr.volumeType))
      throw new NotFound(`logical volume ${src.vg}/${src.lv} not found in thick pool`);
    await this.c.lvm.createCowSnapshot(src.vg, src.lv, name, cow, tags, { ...o, readOnly: true });
  }

  async temporarySnapshot(src: Lv, name: string, tags: string[], signal: AbortSignal): Promise<void> {
    await this.c.lvm.createCowSnapshot(src.vg, src.name, name, src.sizeBytes, tags, { signal });
  }

  async completeInPlace(): Promise<boolean> {
    return false;
  }

  zeroesOnRemove(params: VolumeParams | undefined): boolean {
    return params?.volumeClear !== 'none';
  }

  /**
   * Without zeroing: the VG is first marked as holding unzeroed extents (an
   * open LV is refused before that, which lvremove would do only after it).
   */
  async removeNow(l: Lv, o?: CallOptions): Promise<void> {
    if (!(await this.hasUnzeroed(l.vg, o))) await assertClosed(this.c, l, o);
    await this.markUnzeroed(l.vg, o);
    await this.c.lvm.remove(l.vg, l.name, o).catch(gone);
  }

  /** A COW snapshot is split from its origin first, so the origin's writes stop landing in what is being wiped. */
  async release(l: Lv, zero: boolean, signal?: AbortSignal, progress?: JobContext['setProgress']): Promise<void> {
    if (!zero) return this.removeNow(l);
    const { lvm } = this.c;
    await assertClosed(this.c, l, signal ? { signal } : {}); // before the split: an open LV is left as it is
    let cur = l;
    if (cur.origin && cur.attr.volumeType === 'snapshot') {
      await lvm.splitSnapshot(cur.vg, cur.name, signal ? { signal } : {});
      const split = await lvm.getLv(cur.vg, cur.name);
      if (!split) return;
      cur = split;
    }
    if (cur.attr.permission !== 'writeable') {
      // CSI and temporary snapshots are made read-only, and a split keeps that (dd: "Operation not permitted")
      await lvm.setPermission(cur.vg, cur.name, 'rw', signal ? { signal } : {});
      cur = (await lvm.getLv(cur.vg, cur.name)) ?? cur;
    }
    const opts = blockOptions(this.c, {
      signal: signal ?? new AbortController().signal,
      ...(progress ? { setProgress: progress } : {}),
    });
    await withClosedDevice(this.c, cur, signal, (path) => zeroBlocks(this.c.runner, path, 0, cur.sizeBytes, opts));
    await lvm.remove(cur.vg, cur.name).catch(gone);
  }

  /** Records on the VG, before the extents go back, that some of its free extents may hold data. */
  private async markUnzeroed(vg: string, o?: CallOptions): Promise<void> {
    if (await this.hasUnzeroed(vg, o)) return;
    this.c.log.info(
      { vg },
      'extents of a volumeClear=none LV go back unzeroed: new thick volumes that zero will be zeroed on create',
    );
    await this.c.lvm.addVgTags(vg, encodeTags({ [UNZEROED]: '1' }), o);
  }

  private async hasUnzeroed(vg: string, o?: CallOptions): Promise<boolean> {
    const v = await this.c.lvm.getVg(vg, o);
    return v !== undefined && decodeTags(v.tags).values[UNZEROED] === '1';
  }
}

/** The two pools of an agent. */
export class Pools {
  private readonly thin: ThinPool;
  private readonly thick: ThickPool;

  constructor(c: AgentContext) {
    this.thin = new ThinPool(c);
    this.thick = new ThickPool(c);
  }

  /** The pool of a volume's parameters. */
  kind(type: LvmType): VolumePool {
    return type === 'thin' ? this.thin : this.thick;
  }

  /** The pool an existing LV lives in. */
  of(l: Lv): VolumePool {
    return l.pool ? this.thin : this.thick;
  }
}
