/**
 * Thin and thick volumes behind one small interface (TopoLVM's "device
 * classes"): a pool is a VG (thick) or a thin pool in a VG (thin). The agent
 * service picks a pool per StorageClass and calls it; names, tags and
 * idempotency decisions stay with the caller.
 */

import { FailedPrecondition, InvalidArgument, NotFound } from '../errors.js';
import type { CallOptions, CreateLinearOptions, Lvm } from './lvm.js';
import type { Lv } from './report.js';

export interface PoolCapacity {
  /** What the pool offers in total (thin: pool size x over-provisioning ratio; thick: VG size). */
  totalBytes: number;
  /** What new volumes may still take. */
  availableBytes: number;
  /** The largest single new volume. */
  maxVolumeBytes: number;
}

/** Layout options; only thick pools accept mirrors and stripes. */
export type PoolCreateOptions = Pick<CreateLinearOptions, 'mirrors' | 'stripes' | 'stripeSizeKiB'> & CallOptions;

export interface PoolSnapshotOptions extends CallOptions {
  /** Thick only: the copy-on-write area. Default: the origin's size (can never overflow). */
  sizeBytes?: number;
}

export interface CreateFromResult {
  lv: Lv;
  /**
   * False when the new LV already holds the source's content (thin snapshot);
   * true when it is empty and the caller must copy the data (thick) before
   * marking it ready.
   */
  needsCopy: boolean;
}

export interface VolumePool {
  readonly kind: 'thin' | 'thick';
  readonly vg: string;
  /** The thin pool LV (thin pools only). */
  readonly thinPool: string | undefined;

  /** A new volume, tagged in the same lvcreate. AlreadyExists / OutOfCapacity from lvm. */
  create(name: string, sizeBytes: number, tags: readonly string[], opts?: PoolCreateOptions): Promise<Lv>;
  /** A read-only snapshot of `origin` (a volume of this pool). */
  snapshot(origin: string, name: string, tags: readonly string[], opts?: PoolSnapshotOptions): Promise<Lv>;
  /**
   * A new writable volume of at least `sizeBytes` holding (thin) or sized for
   * (thick) the content of `source` (a volume or snapshot of this pool).
   * Thin: if the process dies between the snapshot and its extension, the LV
   * exists with the source's size; a retry must compare sizes and extend.
   */
  createFrom(source: string, name: string, sizeBytes: number, tags: readonly string[], opts?: CallOptions): Promise<CreateFromResult>;
  /** Grow to at least `sizeBytes` (never shrinks); resolves with the LV as it now is. */
  extend(name: string, sizeBytes: number, opts?: CallOptions): Promise<Lv>;
  /** Remove; NotFound when already gone (the caller decides whether that is fine). */
  remove(name: string, opts?: CallOptions): Promise<void>;
  /** The LV when it exists AND belongs to this pool. */
  get(name: string, opts?: CallOptions): Promise<Lv | undefined>;
  /** The LVs of this pool (the caller filters by tag). */
  list(opts?: CallOptions): Promise<Lv[]>;
  capacity(opts?: CallOptions): Promise<PoolCapacity>;
}

async function mustGet(pool: VolumePool, name: string, opts: CallOptions | undefined): Promise<Lv> {
  const lv = await pool.get(name, opts);
  if (!lv) throw new NotFound(`logical volume ${pool.vg}/${name} not found in ${pool.kind} pool${pool.thinPool ? ` ${pool.thinPool}` : ''}`);
  return lv;
}

export interface ThinPoolOptions {
  /**
   * Capacity offered = pool size x ratio, minus the virtual sizes of all thin
   * LVs in the pool (snapshots included). 1 = never promise more than the
   * pool holds. Must be >= 1.
   */
  overprovisionRatio?: number;
}

/** Thin LVs in one thin pool: instant snapshots and clones, zeroing done by the pool. */
export class ThinPool implements VolumePool {
  readonly kind = 'thin' as const;
  private readonly ratio: number;

  constructor(
    private readonly lvm: Lvm,
    readonly vg: string,
    readonly thinPool: string,
    options: ThinPoolOptions = {},
  ) {
    this.ratio = options.overprovisionRatio ?? 1;
    if (!(this.ratio >= 1) || !Number.isFinite(this.ratio)) throw new Error(`ThinPool: overprovisionRatio must be >= 1, got ${this.ratio}`);
  }

  private mine(lv: Lv): boolean {
    return lv.attr.volumeType === 'thin-volume' && lv.pool === this.thinPool;
  }

  async create(name: string, sizeBytes: number, tags: readonly string[], opts: PoolCreateOptions = {}): Promise<Lv> {
    if ((opts.mirrors ?? 0) > 0 || (opts.stripes ?? 1) > 1 || opts.stripeSizeKiB !== undefined) {
      throw new InvalidArgument('parameters', 'mirrors and stripes are not available for thin volumes (set them on the thin pool)');
    }
    await this.lvm.createThin(this.vg, this.thinPool, name, sizeBytes, tags, opts);
    return mustGet(this, name, opts);
  }

  async snapshot(origin: string, name: string, tags: readonly string[], opts: PoolSnapshotOptions = {}): Promise<Lv> {
    await mustGet(this, origin, opts);
    await this.lvm.createThinSnapshot(this.vg, origin, name, tags, { ...opts, readOnly: true, activationSkip: false, activate: false });
    return mustGet(this, name, opts);
  }

  async createFrom(source: string, name: string, sizeBytes: number, tags: readonly string[], opts: CallOptions = {}): Promise<CreateFromResult> {
    const src = await mustGet(this, source, opts);
    if (sizeBytes < src.sizeBytes) throw new InvalidArgument('size', `${sizeBytes} bytes is smaller than the source (${src.sizeBytes} bytes)`);
    await this.lvm.createThinSnapshot(this.vg, source, name, tags, { ...opts, readOnly: false, activationSkip: false, activate: true });
    if (sizeBytes > src.sizeBytes) await this.lvm.extend(this.vg, name, sizeBytes, opts);
    return { lv: await mustGet(this, name, opts), needsCopy: false };
  }

  async extend(name: string, sizeBytes: number, opts?: CallOptions): Promise<Lv> {
    await this.lvm.extend(this.vg, name, sizeBytes, opts);
    return mustGet(this, name, opts);
  }

  /** Thin snapshots do not depend on their origin: removing an origin leaves them intact. */
  async remove(name: string, opts?: CallOptions): Promise<void> {
    await this.lvm.remove(this.vg, name, opts);
  }

  async get(name: string, opts?: CallOptions): Promise<Lv | undefined> {
    const lv = await this.lvm.getLv(this.vg, name, opts);
    return lv && this.mine(lv) ? lv : undefined;
  }

  async list(opts?: CallOptions): Promise<Lv[]> {
    return (await this.lvm.listLvs(this.vg, opts)).filter((lv) => this.mine(lv));
  }

  async capacity(opts?: CallOptions): Promise<PoolCapacity> {
    const all = await this.lvm.listLvs(this.vg, opts);
    const pool = all.find((lv) => lv.name === this.thinPool && lv.attr.volumeType === 'thin-pool');
    if (!pool) throw new NotFound(`thin pool ${this.vg}/${this.thinPool} not found`);
    const virtual = all.filter((lv) => this.mine(lv)).reduce((sum, lv) => sum + lv.sizeBytes, 0);
    const totalBytes = Math.floor(pool.sizeBytes * this.ratio);
    const availableBytes = Math.max(0, totalBytes - virtual);
    return { totalBytes, availableBytes, maxVolumeBytes: availableBytes };
  }
}

/** Thick LVs straight in a VG: linear, striped, raid1/raid10; COW snapshots; clones need a copy. */
export class ThickPool implements VolumePool {
  readonly kind = 'thick' as const;
  readonly thinPool = undefined;

  constructor(
    private readonly lvm: Lvm,
    readonly vg: string,
  ) {}

  private static readonly THICK_TYPES = new Set(['plain', 'origin', 'origin-merging', 'snapshot', 'raid', 'raid-nosync', 'mirrored', 'mirrored-nosync']);

  private mine(lv: Lv): boolean {
    return ThickPool.THICK_TYPES.has(lv.attr.volumeType);
  }

  async create(name: string, sizeBytes: number, tags: readonly string[], opts: PoolCreateOptions = {}): Promise<Lv> {
    await this.lvm.createLinear(this.vg, name, sizeBytes, tags, opts);
    return mustGet(this, name, opts);
  }

  async snapshot(origin: string, name: string, tags: readonly string[], opts: PoolSnapshotOptions = {}): Promise<Lv> {
    const src = await mustGet(this, origin, opts);
    await this.lvm.createCowSnapshot(this.vg, origin, name, opts.sizeBytes ?? src.sizeBytes, tags, { ...opts, readOnly: true });
    return mustGet(this, name, opts);
  }

  async createFrom(source: string, name: string, sizeBytes: number, tags: readonly string[], opts: CallOptions = {}): Promise<CreateFromResult> {
    const src = await mustGet(this, source, opts);
    const size = src.attr.volumeType === 'snapshot' ? (src.originSizeBytes ?? src.sizeBytes) : src.sizeBytes;
    if (sizeBytes < size) throw new InvalidArgument('size', `${sizeBytes} bytes is smaller than the source (${size} bytes)`);
    await this.lvm.createLinear(this.vg, name, sizeBytes, tags, opts);
    return { lv: await mustGet(this, name, opts), needsCopy: true };
  }

  async extend(name: string, sizeBytes: number, opts?: CallOptions): Promise<Lv> {
    await this.lvm.extend(this.vg, name, sizeBytes, opts);
    return mustGet(this, name, opts);
  }

  /**
   * Refuses (FailedPrecondition) to remove an origin that still has COW
   * snapshots: `lvremove --yes` would silently remove them too.
   */
  async remove(name: string, opts?: CallOptions): Promise<void> {
    const all = await this.lvm.listLvs(this.vg, opts);
    const snaps = all.filter((lv) => lv.origin === name && lv.attr.volumeType === 'snapshot').map((lv) => lv.name);
    if (snaps.length > 0) throw new FailedPrecondition(`${this.vg}/${name} has snapshots: ${snaps.join(', ')}`);
    await this.lvm.remove(this.vg, name, opts);
  }

  async get(name: string, opts?: CallOptions): Promise<Lv | undefined> {
    const lv = await this.lvm.getLv(this.vg, name, opts);
    return lv && this.mine(lv) ? lv : undefined;
  }

  async list(opts?: CallOptions): Promise<Lv[]> {
    return (await this.lvm.listLvs(this.vg, opts)).filter((lv) => this.mine(lv));
  }

  /** VG size and free space; a linear LV may span PVs, so the largest volume is all free space. */
  async capacity(opts?: CallOptions): Promise<PoolCapacity> {
    const vg = await this.lvm.getVg(this.vg, opts);
    if (!vg) throw new NotFound(`volume group ${this.vg} not found`);
    return { totalBytes: vg.sizeBytes, availableBytes: vg.freeBytes, maxVolumeBytes: vg.freeBytes };
  }
}
