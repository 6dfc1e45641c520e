/**
 * The in-process storage agent: owns the configured volume groups (each with
 * an optional thin pool) and does all LVM work for the controller.
 * LVM is the only persistent state. The agent reads it through CachedLvm
 * (src/lvm/cached-lvm.ts): its VGs in memory, checked against the PVs'
 * metadata stamps before every use, so a call runs the one mutating command
 * it stands for; dynamic values (pool use, COW snapshot validity, the device
 * a job writes to) are read when older than the decision allows.
 */
import { AlreadyExists, Busy, DomainError, FailedPrecondition, InvalidArgument, NotFound, OutOfCapacity, OutOfRange } from '../errors.js';
import type { CommandRunner } from '../exec/runner.js';
import type { Logger } from '../log.js';
import type { Lvm } from '../lvm/lvm.js';
import { snapshotLvName, temporaryLvName, volumeLvName } from '../lvm/names.js';
import { ThickPool, ThinPool, type VolumePool } from '../lvm/pool.js';
import type { Lv } from '../lvm/report.js';
import { decodeTags, encodeTags, tagChanges } from '../lvm/tags.js';
import { copyBlocks, zeroBlocks } from './blockcopy.js';
import { capacityFor, noRoomReason, thinPoolHealth, thinPoolProblem, type CapacityLimits } from './capacity.js';
import { formatId, parseId, shortNodeId } from './ids.js';
import type { Exports } from './exports.js';
import type { JobContext, Jobs } from './jobs.js';
import { lvBlockDevice, sysDeviceProbe, type DeviceProbe } from './lv-device.js';
import { sameVolumeParams, type SnapshotParams } from './params.js';
import { checkAgainstSource, chooseSize, sameSource, sizeFits, type SizeRange } from './sizing.js';
import { encodeSource, tagsFor, tagValues, toSnapshot, toVolume } from './records.js';
import type {
  CallOptions, Capacity, CapacityQuery, CreateVolumeArgs, PoolStatus, PublishArgs, PublishInfo, SnapshotInfo, SourceRef, StorageAgent, VolumeInfo,
} from './types.js';

export interface AgentOptions extends CapacityLimits {
  nodeName: string;
  volumeGroups: readonly string[];
  thinPool: string | undefined;
  /** Size of a thin pool the agent creates, in percent of its VG (the rest stays for thick volumes). */
  thinPoolPercentOfVg: number;
  /** How long an RPC waits for a background job before answering ABORTED. */
  jobWaitMs: number;
  /** dd chunk size for copies and zeroing. */
  copyChunkBytes?: number;
  /** How LV device paths are proven before a job writes to them (tests may replace it). */
  deviceProbe?: DeviceProbe;
}

/**
 * How old a thin pool's data/metadata use may be when thin CreateVolume,
 * CreateSnapshot and expansion check the pool threshold, GetCapacity answers
 * and the volume condition reports it (one `lvs` of the pool when older; the
 * timer refresh renews it too). Writes move it without any metadata commit.
 * The threshold is an admission limit on new thin volumes, like the
 * external-provisioner's periodically published capacity; the pool's
 * --errorwhenfull is the hard limit.
 */
export const POOL_USE_MAX_AGE_MS = 30_000;

/** VG tag key: extents of a thick LV went back to this VG without zeroing. */
const UNZEROED = 'unzeroed';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class LocalAgent implements StorageAgent {
  readonly nodeId: string;
  readonly nodeName: string;

  constructor(
    private readonly lvm: Lvm,
    private readonly runner: CommandRunner,
    private readonly jobs: Jobs,
    private readonly exports: Exports,
    private readonly log: Logger,
    private readonly o: AgentOptions,
  ) {
    this.nodeId = shortNodeId(o.nodeName);
    this.nodeName = o.nodeName;
  }

  volumeGroups(): readonly string[] {
    return this.o.volumeGroups;
  }

  hasThinPool(vg: string): boolean {
    return this.o.thinPool !== undefined && this.o.volumeGroups.includes(vg);
  }

  private key(vg: string, lv: string): string {
    return `${vg}/${lv}`;
  }

  /** The LV's own block device, activated and proven (lv-device.ts) right before a job writes to or reads from it. */
  private device(lv: Lv, signal?: AbortSignal): Promise<string> {
    return lvBlockDevice(this.lvm, this.o.deviceProbe ?? sysDeviceProbe, lv, 'data', signal ? { signal } : {});
  }

  private blockOptions(ctx: { signal: AbortSignal; setProgress?: JobContext['setProgress'] }) {
    return {
      signal: ctx.signal,
      ...(ctx.setProgress ? { onProgress: ctx.setProgress } : {}), // Jobs logs it (every 10%, at least every 30 s)
      ...(this.o.copyChunkBytes ? { chunkBytes: this.o.copyChunkBytes } : {}),
    };
  }

  /** Waits up to jobWaitMs for the job on key; true when none runs any more. */
  private async settle(key: string): Promise<boolean> {
    if (!this.jobs.get(key)) return true;
    await Promise.race([this.jobs.wait(key), sleep(this.o.jobWaitMs)]);
    return !this.jobs.get(key);
  }

  /** A failed job's cause, reported once to the CO (the failed volume is gone by then; a retry starts over). */
  private throwIfFailedBefore(key: string, name: string): void {
    const failure = this.jobs.takeFailure(key);
    if (failure) throw new DomainError('Internal', `filling volume ${name} failed: ${failure}; the partial volume was removed and the next attempt starts over`);
  }

  private throwIfJobFailed(key: string): void {
    const failure = this.jobs.lastFailure(key);
    if (failure) throw new DomainError('Internal', `background work on ${key} failed: ${failure}; it is retried at the next attempt`);
  }

  // ------------------------------------------------------------------ reads

  private async lvs(vg: string, o?: CallOptions): Promise<Lv[]> {
    return this.lvm.listLvs(vg, o);
  }

  async getVolume(vg: string, lv: string, o?: CallOptions): Promise<VolumeInfo | undefined> {
    if (!this.o.volumeGroups.includes(vg)) return undefined;
    const all = await this.lvs(vg, o);
    const l = all.find((x) => x.name === lv);
    return l ? toVolume(this.nodeId, l, all) : undefined;
  }

  async findVolumeByName(name: string, o?: CallOptions): Promise<VolumeInfo | undefined> {
    const lv = volumeLvName(name);
    for (const vg of this.o.volumeGroups) {
      const v = await this.getVolume(vg, lv, o);
      if (v && v.name === name) return v;
    }
    return undefined;
  }

  async listVolumes(o?: CallOptions): Promise<VolumeInfo[]> {
    const out: VolumeInfo[] = [];
    for (const vg of this.o.volumeGroups) {
      const all = await this.lvs(vg, o);
      for (const l of all) {
        const v = toVolume(this.nodeId, l, all);
        if (v && v.state !== 'deleting') out.push(v);
      }
    }
    return out;
  }

  async getSnapshot(vg: string, lv: string, o?: CallOptions): Promise<SnapshotInfo | undefined> {
    if (!this.o.volumeGroups.includes(vg)) return undefined;
    let l = await this.lvm.getLv(vg, lv, o);
    // a COW snapshot is invalidated by writes to its origin, without a metadata change: read its state now
    if (l && !l.pool && l.origin) l = await this.lvm.getLv(vg, lv, { ...o, maxAgeMs: 0 });
    if (!l || tagValues(l)['state'] === 'deleting') return undefined;
    return toSnapshot(this.nodeId, l);
  }

  async findSnapshotByName(name: string, o?: CallOptions): Promise<SnapshotInfo | undefined> {
    const lv = snapshotLvName(name);
    for (const vg of this.o.volumeGroups) {
      const s = await this.getSnapshot(vg, lv, o);
      if (s && s.name === name) return s;
    }
    return undefined;
  }

  async listSnapshots(o?: CallOptions): Promise<SnapshotInfo[]> {
    const out: SnapshotInfo[] = [];
    for (const vg of this.o.volumeGroups) {
      for (const l of await this.lvs(vg, o)) {
        const s = tagValues(l)['state'] === 'deleting' ? undefined : toSnapshot(this.nodeId, l);
        if (s) out.push(s);
      }
    }
    return out;
  }

  /** `thinUse` false: the thin pool's use as last read (a thick decision does not depend on it). */
  async poolStatus(vg: string, o?: CallOptions, thinUse = true): Promise<PoolStatus> {
    const v = await this.lvm.getVg(vg, o);
    if (!v) throw new FailedPrecondition(`volume group ${vg} does not exist`);
    let thinPool: PoolStatus['thinPool'];
    if (this.o.thinPool) {
      const all = await this.lvs(vg, o);
      // data and metadata use change with every write, not with the metadata: read no older than POOL_USE_MAX_AGE_MS
      const pool = all.some((l) => l.name === this.o.thinPool)
        ? await this.lvm.getLv(vg, this.o.thinPool, thinUse ? { ...o, maxAgeMs: POOL_USE_MAX_AGE_MS } : o)
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
    return { vg, vgSizeBytes: v.sizeBytes, vgFreeBytes: v.freeBytes, extentBytes: v.extentSizeBytes, pvCount: v.pvCount, thinPool };
  }

  async capacity(q: CapacityQuery, o?: CallOptions): Promise<Capacity> {
    return capacityFor(await this.poolStatus(q.vg, o, q.lvmType === 'thin'), q, this.o);
  }

  // --------------------------------------------------------------- volumes

  async createVolume(args: CreateVolumeArgs, o?: CallOptions): Promise<VolumeInfo> {
    const { params, range } = args;
    const vg = params.volumeGroup;
    if (!this.o.volumeGroups.includes(vg)) throw new InvalidArgument('parameters.volumeGroup', `volume group ${vg} is not served by storage node ${this.nodeName}`);
    const lv = volumeLvName(args.name);
    const existing = await this.findVolumeByName(args.name, o);
    if (existing) {
      if (existing.state === 'deleting') throw new Busy(`volume ${existing.id} is not ready yet (deleting); retry later`);
      if (!sizeFits(existing.sizeBytes, range)) throw new AlreadyExists(`volume ${args.name} exists with ${existing.sizeBytes} bytes, outside the requested capacity_range`);
      if (!sameVolumeParams(existing.params, params)) throw new AlreadyExists(`volume ${args.name} exists with other parameters`);
      if (!sameSource(existing.source, args.source)) throw new AlreadyExists(`volume ${args.name} exists with another content source`);
      // still being filled: only this agent knows how its job goes (progress, the cause of a failure, a source that is gone)
      return existing.state === 'copying' ? this.resume(existing) : existing;
    }
    if (!this.jobs.get(this.key(vg, lv))) this.throwIfFailedBefore(this.key(vg, lv), args.name);
    const sourceBytes = args.source ? await this.sourceBytes(args.source, o) : 0;
    if (args.source) checkAgainstSource(range, sourceBytes);
    const pool = await this.poolStatus(vg, o, params.lvmType === 'thin');
    const sizeBytes = chooseSize(range, args.defaultBytes, pool.extentBytes, sourceBytes);
    const why = noRoomReason(pool, { vg, lvmType: params.lvmType, mirrors: params.mirrors, stripes: params.stripes }, sizeBytes, this.o);
    if (why) throw new OutOfCapacity(why);

    const source = args.source ? parseId(args.source.id) : undefined;
    const tags = {
      name: args.name,
      kind: 'volume' as const,
      params: JSON.stringify(params),
      created: new Date().toISOString(),
      source: encodeSource(args.source),
      size: String(sizeBytes),
    };
    let thinSource: Lv | undefined;
    if (!args.source || !source) {
      // A thick volume never shows a former volume's data: on a VG holding unzeroed free extents
      // (a volumeClear: none LV went back to it) a volume whose class zeroes is zeroed before it is ready.
      const fill = params.lvmType === 'thick' && params.volumeClear === 'zero' && (await this.hasUnzeroed(vg, o));
      await this.createLv(vg, lv, sizeBytes, tagsFor(fill ? { ...tags, fill: 'zero' } : { ...tags, ready: '1' }), params, o);
    } else if (params.lvmType === 'thin' && source.vg === vg && (thinSource = await this.thinLv(vg, source.lv, o))) {
      // Thin from thin: a writable thin snapshot that activates like any LV (-kn) so it comes back after a reboot,
      // grown to the requested size. When it must grow, the completion mark comes last (complete() redoes the
      // growth after a crash); at the source's size the lvcreate makes it whole and carries the mark itself.
      const whole = sizeBytes <= thinSource.sizeBytes;
      await this.pool(vg, 'thin').createFrom(source.lv, lv, sizeBytes, tagsFor(whole ? { ...tags, ready: '1' } : tags), o);
    } else {
      await this.createLv(vg, lv, sizeBytes, tagsFor(tags), params, o);
    }
    const created = await this.getVolume(vg, lv, o);
    if (!created) throw new NotFound(`volume ${args.name} vanished right after creation`);
    return created.state === 'copying' ? this.resume(created) : created;
  }

  /**
   * The size of a new volume's source on this node: NOT_FOUND when it is not
   * here (or being deleted), FAILED_PRECONDITION for a snapshot that cannot be
   * read back (an invalidated COW snapshot, or one never completed).
   */
  private async sourceBytes(src: SourceRef, o?: CallOptions): Promise<number> {
    const ref = parseId(src.id);
    const mine = ref && ref.node === this.nodeId;
    if (src.kind === 'snapshot') {
      const s = mine ? await this.getSnapshot(ref.vg, ref.lv, o) : undefined;
      if (!s) throw new NotFound(`snapshot ${src.id} does not exist`);
      if (!s.readyToUse) throw new FailedPrecondition(`snapshot ${src.id} is not usable (invalidated: its COW reserve overflowed, or never completed); it cannot be restored`);
      return s.sizeBytes;
    }
    const v = mine ? await this.getVolume(ref.vg, ref.lv, o) : undefined;
    if (!v || v.state === 'deleting') throw new NotFound(`source volume ${src.id} does not exist`);
    return v.sizeBytes;
  }

  /** The LV when it is a thin one. */
  private async thinLv(vg: string, lv: string, o?: CallOptions): Promise<Lv | undefined> {
    const l = await this.lvm.getLv(vg, lv, o);
    return l?.pool ? l : undefined;
  }

  /** Thin and thick volumes behind one interface (src/lvm/pool.ts). */
  private pool(vg: string, type: 'thin' | 'thick'): VolumePool {
    if (type === 'thick') return new ThickPool(this.lvm, vg);
    if (!this.o.thinPool) throw new FailedPrecondition(`no thin pool configured for ${vg}`);
    return new ThinPool(this.lvm, vg, this.o.thinPool);
  }

  private async createLv(vg: string, lv: string, size: number, tags: string[], params: CreateVolumeArgs['params'], o?: CallOptions) {
    const layout = params.lvmType === 'thick' ? { mirrors: params.mirrors, stripes: params.stripes, ...(params.stripeSizeKiB !== undefined ? { stripeSizeKiB: params.stripeSizeKiB } : {}) } : {};
    await this.pool(vg, params.lvmType).create(lv, size, tags, { ...layout, ...o });
  }

  /** Starts (or joins) the job that completes a volume still without its completion mark; waits a little. */
  private async resume(v: VolumeInfo): Promise<VolumeInfo> {
    const key = this.key(v.vg, v.lv);
    this.jobs.start(key, 'copy', (ctx) => this.complete(v.vg, v.lv, ctx));
    if (!(await this.settle(key))) throw new Busy(`volume ${v.name} is being filled: ${this.jobs.describe(key)}`);
    this.throwIfFailedBefore(key, v.name);
    const now = await this.getVolume(v.vg, v.lv);
    if (!now) throw new NotFound(`volume ${v.name} was cleaned up because its source is gone`);
    if (now.state !== 'ready') throw new Busy(`volume ${v.name} is being filled from its source: ${this.jobs.describe(key) || 'resuming'}`);
    return now;
  }

  /**
   * Completes a volume without its completion mark: thin snapshots are grown
   * to the requested size; copies are (re)done from the source or from a
   * temporary snapshot of the source volume; a new thick volume on a VG with
   * unzeroed free extents is zeroed. Then the completion mark is set. A volume
   * whose source is gone is removed (zeroed first). When the work fails, the
   * partial volume is removed (zeroed first) and the job fails with the cause,
   * which the next CreateVolume reports; a shutdown leaves it to be resumed.
   */
  private async complete(vg: string, lv: string, ctx: JobContext): Promise<void> {
    const target = await this.lvm.getLv(vg, lv);
    if (!target) return;
    try {
      if (!(await this.fill(target, ctx))) return;
    } catch (e) {
      if (ctx.signal.aborted) throw e;
      this.log.warn({ vg, lv, err: e instanceof Error ? e.message : String(e) }, 'filling a volume failed; removing the partial volume');
      await this.discard(target, ctx.signal).catch((d: unknown) => this.log.error({ vg, lv, err: String(d) }, 'removing the partial volume failed'));
      throw e;
    }
    await this.lvm.changeTags(vg, lv, tagChanges(target.tags, { ready: '1' }));
  }

  /** The work behind complete(); false when the volume was removed because its source is gone. */
  private async fill(target: Lv, ctx: JobContext): Promise<boolean> {
    const { vg, name: lv } = target;
    const { signal } = ctx;
    const t = tagValues(target);
    if (t['fill'] === 'zero') {
      await zeroBlocks(this.runner, await this.device(target, signal), 0, target.sizeBytes, this.blockOptions(ctx));
      return true;
    }
    const want = Number(t['size']) || target.sizeBytes;
    if (target.pool && target.origin) {
      // thin snapshot: only the size and the mark are missing
      if (target.sizeBytes < want) await this.lvm.extend(vg, lv, want, { signal });
      return true;
    }
    const sourceId = (t['source'] ?? '').slice((t['source'] ?? '').indexOf(':') + 1);
    const ref = parseId(sourceId);
    const src = ref && ref.node === this.nodeId ? await this.lvm.getLv(ref.vg, ref.lv) : undefined;
    if (!ref || !src) {
      this.log.warn({ vg, lv, source: sourceId }, 'source of an unfinished copy is gone; removing the partial volume');
      await this.discard(target, signal);
      return false;
    }
    const isVolume = t['source']?.startsWith('volume:') ?? false;
    const from = isVolume ? await this.temporarySnapshot(src, lv, signal) : src;
    // The size of the data: the source's size when the temporary snapshot was taken, or the
    // origin's size when the CSI snapshot was (csi.size of snapshots), never a volume's creation size.
    const bytes = Math.min(Number(tagValues(from)['size']) || from.originSizeBytes || from.sizeBytes, target.sizeBytes);
    const sparse = Boolean(target.pool);
    const fromDevice = await this.device(from, signal);
    const toDevice = await this.device(target, signal);
    await copyBlocks(this.runner, fromDevice, toDevice, bytes, sparse, this.blockOptions(ctx));
    // A thick LV's extents may hold a former volume's data past the copied part.
    if (!sparse && target.sizeBytes > bytes) await zeroBlocks(this.runner, toDevice, bytes, target.sizeBytes - bytes, { signal });
    if (from !== src) await this.release(from, this.zeroesOnRelease(src), signal);
    return true;
  }

  /** Whether a thick LV's class wants its extents zeroed before they go back (unknown: yes). */
  private zeroesOnRelease(l: Lv | undefined): boolean {
    if (!l || l.pool) return false;
    const params = toVolume(this.nodeId, l, [])?.params;
    return params?.volumeClear !== 'none';
  }

  /** Removes a partial volume and its temporary snapshot, zeroing what its class wants zeroed (inside its job). */
  private async discard(target: Lv, signal?: AbortSignal): Promise<void> {
    const zero = this.zeroesOnRelease(target);
    if (zero && tagValues(target)['state'] !== 'deleting') {
      // a crash from here on resumes as a zero-and-delete
      await this.lvm.changeTags(target.vg, target.name, tagChanges(target.tags, { state: 'deleting' }));
    }
    const tmp = await this.lvm.getLv(target.vg, temporaryLvName(target.name));
    if (tmp) {
      const origin = tmp.origin ? await this.lvm.getLv(tmp.vg, tmp.origin) : undefined;
      await this.release(tmp, this.zeroesOnRelease(origin), signal);
    }
    await this.release(target, zero, signal);
  }

  /**
   * Gives an LV's extents back (inside a job): thin LVs to their pool, which zeroes;
   * thick LVs zeroed first when `zero`, else with the VG marked as holding unzeroed
   * extents (so new volumes that care are zeroed on create). A COW snapshot is split
   * from its origin first, so the origin's writes stop landing in what is being wiped.
   */
  private async release(l: Lv, zero: boolean, signal?: AbortSignal, progress?: JobContext['setProgress']): Promise<void> {
    const gone = (e: unknown) => {
      if (!(e instanceof NotFound)) throw e;
    };
    if (l.pool || !zero) {
      if (!l.pool) await this.markUnzeroed(l.vg);
      await this.lvm.remove(l.vg, l.name).catch(gone);
      return;
    }
    let cur = l;
    if (cur.origin && cur.attr.volumeType === 'snapshot') {
      await this.lvm.splitSnapshot(cur.vg, cur.name, signal ? { signal } : {});
      const split = await this.lvm.getLv(cur.vg, cur.name);
      if (!split) return;
      cur = split;
    }
    if (cur.attr.permission !== 'writeable') {
      // CSI and temporary snapshots are made read-only, and a split keeps that (dd: "Operation not permitted")
      await this.lvm.setPermission(cur.vg, cur.name, 'rw', signal ? { signal } : {});
      cur = (await this.lvm.getLv(cur.vg, cur.name)) ?? cur;
    }
    await zeroBlocks(this.runner, await this.device(cur, signal), 0, cur.sizeBytes, this.blockOptions({ signal: signal ?? new AbortController().signal, ...(progress ? { setProgress: progress } : {}) }));
    await this.lvm.remove(cur.vg, cur.name).catch(gone);
  }

  /** Records on the VG, before the extents go back, that some of its free extents may hold data. */
  private async markUnzeroed(vg: string, o?: CallOptions): Promise<void> {
    if (await this.hasUnzeroed(vg, o)) return;
    this.log.info({ vg }, 'extents of a volumeClear=none LV go back unzeroed: new thick volumes that zero will be zeroed on create');
    await this.lvm.addVgTags(vg, encodeTags({ [UNZEROED]: '1' }), o);
  }

  private async hasUnzeroed(vg: string, o?: CallOptions): Promise<boolean> {
    const v = await this.lvm.getVg(vg, o);
    return v !== undefined && decodeTags(v.tags).values[UNZEROED] === '1';
  }

  /** A snapshot of a source volume to copy from, so the copy is consistent while the source stays in use. */
  private async temporarySnapshot(src: Lv, forLv: string, signal: AbortSignal): Promise<Lv> {
    const name = temporaryLvName(forLv);
    const have = await this.lvm.getLv(src.vg, name);
    if (have && have.origin === src.name) return have;
    // A leftover already split off for zeroing (a crash during release()) is no snapshot any more: finish it.
    if (have) await this.release(have, this.zeroesOnRelease(src), signal);
    const tags = tagsFor({ kind: 'temporary', for: forLv, created: new Date().toISOString(), size: String(src.sizeBytes) });
    if (src.pool) await this.lvm.createThinSnapshot(src.vg, src.name, name, tags, { readOnly: true, activationSkip: false, signal });
    else await this.lvm.createCowSnapshot(src.vg, src.name, name, src.sizeBytes, tags, { signal });
    const made = await this.lvm.getLv(src.vg, name);
    if (!made) throw new Error(`temporary snapshot ${src.vg}/${name} vanished`);
    return made;
  }

  async deleteVolume(vg: string, lv: string, o?: CallOptions): Promise<void> {
    if (!this.o.volumeGroups.includes(vg)) return;
    const all = await this.lvs(vg, o);
    const l = all.find((x) => x.name === lv);
    const v = l ? toVolume(this.nodeId, l, all) : undefined;
    if (!l || !v) return;
    if (v.published.length > 0) {
      throw new FailedPrecondition(`volume ${v.id} is still published to ${v.published.map((p) => p.nodeId).join(', ')}; unpublish it first`);
    }
    if (await this.exports.isExported(vg, lv, o)) {
      throw new FailedPrecondition(`volume ${v.id} is still exported over iSCSI; unpublish it from every node first`);
    }
    const key = this.key(vg, lv);
    if (this.jobs.get(key) && (await this.settle(key)) === false) throw new Busy(`volume ${v.id}: ${this.jobs.describe(key)}`);
    if (all.some((x) => x.origin === lv && tagValues(x)['kind'] === 'temporary')) {
      throw new Busy(`volume ${v.id} is the source of a copy in progress; retry later`);
    }
    if (v.snapshotCount > 0) {
      // lvremove would take the COW snapshots with it: hide the origin, remove it with its last snapshot.
      await this.lvm.changeTags(vg, lv, tagChanges(l.tags, { state: 'hidden' }), o);
      this.log.info({ vg, lv, snapshots: v.snapshotCount }, 'volume hidden until its snapshots are deleted');
      return;
    }
    await this.removeLv(l, v.params.lvmType === 'thick' && v.params.volumeClear === 'zero', o);
  }

  /**
   * Removes an LV, zeroing it first (in a background job) when asked; Busy while the job runs.
   * Without zeroing, a thick LV's VG is first marked as holding unzeroed extents.
   */
  private async removeLv(l: Lv, zero: boolean, o?: CallOptions): Promise<void> {
    if (!zero) {
      if (!l.pool) await this.markUnzeroed(l.vg, o);
      await this.lvm.remove(l.vg, l.name, o).catch((e: unknown) => {
        if (!(e instanceof NotFound)) throw e;
      });
      return;
    }
    const key = this.key(l.vg, l.name);
    if (tagValues(l)['state'] !== 'deleting') await this.lvm.changeTags(l.vg, l.name, tagChanges(l.tags, { state: 'deleting' }), o);
    this.jobs.start(key, 'zero', async (ctx) => {
      const now = await this.lvm.getLv(l.vg, l.name);
      if (now) await this.release(now, true, ctx.signal, ctx.setProgress);
      await this.afterSnapshotRemoved(l);
    });
    if (!(await this.settle(key))) throw new Busy(`${l.vg}/${l.name}: ${this.jobs.describe(key)}`);
    this.throwIfJobFailed(key);
  }

  async expandVolume(vg: string, lv: string, range: SizeRange, o?: CallOptions): Promise<VolumeInfo> {
    const v = await this.getVolume(vg, lv, o);
    if (!v || v.state === 'deleting') throw new NotFound(`volume ${formatId({ node: this.nodeId, vg, lv })} does not exist`);
    if (v.state !== 'ready') throw new Busy(`volume ${v.id} is not ready yet (${v.state}); retry later`);
    if (range.required <= v.sizeBytes) {
      if (range.limit > 0 && v.sizeBytes > range.limit) throw new OutOfRange(`volume is already ${v.sizeBytes} bytes, above capacity_range.limit_bytes ${range.limit}`);
      return v;
    }
    if (v.params.lvmType === 'thick' && v.snapshotCount > 0) {
      throw new FailedPrecondition(`volume ${v.id} has ${v.snapshotCount} COW snapshot(s); LVM cannot resize the origin of a thick snapshot - delete the snapshots first`);
    }
    const p = v.params;
    const pool = await this.poolStatus(vg, o, p.lvmType === 'thin');
    const sizeBytes = chooseSize(range, range.required, pool.extentBytes, 0);
    const why = noRoomReason(pool, { vg, lvmType: p.lvmType, mirrors: p.mirrors, stripes: p.stripes }, sizeBytes - v.sizeBytes, this.o);
    if (why) throw new OutOfCapacity(why);
    // csi.size stays the creation size: copies take their length from the source LV (records.ts)
    await this.pool(vg, p.lvmType).extend(lv, sizeBytes, o);
    await this.exports.refreshSize(vg, lv, o);
    const after = await this.getVolume(vg, lv, o);
    if (!after) throw new NotFound(`volume ${vg}/${lv} vanished during expansion`);
    return after;
  }

  // --------------------------------------------------------------- exports

  async publish(args: PublishArgs, o?: CallOptions): Promise<PublishInfo> {
    if (!this.o.volumeGroups.includes(args.vg)) throw new NotFound(`volume group ${args.vg} is not served here`);
    return this.exports.publish(args, o);
  }

  async unpublish(vg: string, lv: string, nodeId: string, o?: CallOptions): Promise<void> {
    if (!this.o.volumeGroups.includes(vg)) return;
    await this.exports.unpublish(vg, lv, nodeId, o);
  }

  // ------------------------------------------------------------- snapshots

  async createSnapshot(name: string, vg: string, lv: string, params: SnapshotParams, o?: CallOptions): Promise<SnapshotInfo> {
    const snapLv = snapshotLvName(name);
    const sourceId = formatId({ node: this.nodeId, vg, lv });
    const have = await this.findSnapshotByName(name, o);
    if (have) {
      if (have.sourceVolumeId !== sourceId) throw new AlreadyExists(`snapshot ${name} exists for another source volume (${have.sourceVolumeId})`);
      return have;
    }
    const src = this.o.volumeGroups.includes(vg) ? await this.getVolume(vg, lv, o) : undefined;
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
    if (src.params.lvmType === 'thin') {
      // the same pool thresholds and health CreateVolume honours: a snapshot shares the pool's blocks and metadata
      const problem = thinPoolProblem(await this.poolStatus(vg, o), this.o.thinPoolThresholdPercent);
      if (problem) throw new OutOfCapacity(`cannot take a thin snapshot of ${src.id}: ${problem}`);
      await this.pool(vg, 'thin').snapshot(lv, snapLv, tags, o);
    } else {
      const status = await this.poolStatus(vg, o, false);
      const cow = Math.ceil((src.sizeBytes * params.snapshotReserve) / 100 / status.extentBytes) * status.extentBytes;
      const reserved = Math.ceil((status.vgSizeBytes * this.o.reservedPercent) / 100);
      if (cow > status.vgFreeBytes - reserved) {
        throw new OutOfCapacity(`volume group ${vg} has ${status.vgFreeBytes} bytes free, a ${params.snapshotReserve}% COW snapshot needs ${cow}`);
      }
      await this.pool(vg, 'thick').snapshot(lv, snapLv, tags, { sizeBytes: cow, ...o });
    }
    const made = await this.getSnapshot(vg, snapLv, o);
    if (!made) throw new NotFound(`snapshot ${name} vanished right after creation`);
    return made;
  }

  async deleteSnapshot(vg: string, lv: string, o?: CallOptions): Promise<void> {
    if (!this.o.volumeGroups.includes(vg)) return;
    const l = await this.lvm.getLv(vg, lv, o);
    if (!l || tagValues(l)['kind'] !== 'snapshot') return;
    const key = this.key(vg, lv);
    if (this.jobs.get(key) && !(await this.settle(key))) throw new Busy(`snapshot ${vg}/${lv}: ${this.jobs.describe(key)}`);
    const restoring = (await this.lvs(vg, o)).find((x) => tagValues(x)['source'] === `snapshot:${formatId({ node: this.nodeId, vg, lv })}` && tagValues(x)['ready'] !== '1');
    if (restoring) throw new Busy(`snapshot ${vg}/${lv} is being restored into ${restoring.name}; retry later`);
    const origin = l.origin && !l.pool ? await this.lvm.getLv(vg, l.origin, o) : undefined;
    const originParams = origin ? toVolume(this.nodeId, origin, [])?.params : undefined;
    // A COW snapshot's exception store holds the origin's old data: zero it like a thick volume
    // (split from its origin first, see release()). Thin snapshots go back to the pool, which zeroes.
    const zeroCow = !l.pool && (originParams?.volumeClear ?? 'zero') === 'zero';
    await this.removeLv(l, zeroCow, o);
    if (!zeroCow) await this.afterSnapshotRemoved(l, o);
  }

  /** Removes a hidden origin once its last COW snapshot is gone. */
  private async afterSnapshotRemoved(snap: Lv, o?: CallOptions): Promise<void> {
    if (!snap.origin || snap.pool || tagValues(snap)['kind'] !== 'snapshot') return;
    const all = await this.lvs(snap.vg, o);
    const origin = all.find((x) => x.name === snap.origin);
    if (!origin || tagValues(origin)['state'] !== 'hidden') return;
    const v = toVolume(this.nodeId, origin, all);
    if (!v || v.snapshotCount > 0) return;
    this.log.info({ vg: snap.vg, lv: origin.name }, 'last snapshot gone: removing the hidden origin');
    await this.removeLv(origin, v.params.lvmType === 'thick' && v.params.volumeClear === 'zero', o).catch((e: unknown) => {
      if (!(e instanceof Busy)) throw e;
    });
  }

  // --------------------------------------------------------------- startup

  /**
   * Cinder's check_for_setup_error plus recovery: every configured VG must
   * exist; a configured thin pool that is missing is created; work a crash
   * interrupted is resumed (copies, zeroing) or cleaned up (temporary LVs).
   */
  async setup(): Promise<void> {
    for (const vg of this.o.volumeGroups) {
      const v = await this.lvm.getVg(vg);
      if (!v) throw new FailedPrecondition(`volume group ${vg} does not exist on ${this.nodeName}; create it or fix --volume-group`);
      if (this.o.thinPool) await this.ensureThinPool(vg, this.o.thinPool);
    }
    await this.recover();
    await this.reconcileExports();
  }

  /** Live targets against published volumes (see Exports.reconcile); run at start and on a timer. */
  reconcileExports(): Promise<void> {
    return this.exports.reconcile(() => this.listVolumes());
  }

  private async ensureThinPool(vg: string, pool: string): Promise<void> {
    const l = await this.lvm.getLv(vg, pool);
    if (!l) {
      this.log.info({ vg, pool, percent: this.o.thinPoolPercentOfVg }, 'creating thin pool');
      await this.lvm.createThinPool(vg, pool, { percentOfVg: this.o.thinPoolPercentOfVg }, { zero: true, errorWhenFull: true });
      return;
    }
    if (l.attr.volumeType !== 'thin-pool') throw new FailedPrecondition(`${vg}/${pool} exists but is not a thin pool`);
    if (l.zero !== true) {
      this.log.warn({ vg, pool }, 'adopted thin pool does not zero new blocks: a new thin volume may read data a deleted one wrote (lvchange --zero y fixes it)');
    }
    if (l.whenFull !== 'error') this.log.warn({ vg, pool }, 'adopted thin pool queues writes when full instead of failing them (lvchange --errorwhenfull y fixes it)');
  }

  async recover(): Promise<void> {
    const busyOk = (vg: string, lv: string) => (e: unknown) => {
      if (!(e instanceof Busy)) this.log.error({ vg, lv, err: String(e) }, 'resume failed');
    };
    for (const vg of this.o.volumeGroups) {
      const all = await this.lvs(vg);
      for (const l of all) {
        const t = tagValues(l);
        if (t['kind'] === 'temporary' && t['state'] !== 'deleting') {
          const owner = all.find((x) => x.name === t['for']);
          if (!owner || tagValues(owner)['ready'] === '1') {
            this.log.info({ vg, lv: l.name }, 'removing a temporary snapshot left behind');
            const origin = all.find((x) => x.name === l.origin);
            await this.removeLv(l, this.zeroesOnRelease(origin), undefined).catch(busyOk(vg, l.name));
          }
        }
      }
      for (const l of all) {
        const t = tagValues(l);
        const key = this.key(vg, l.name);
        if (t['state'] === 'deleting') {
          this.log.info({ vg, lv: l.name }, 'resuming an interrupted zero-and-delete');
          await this.removeLv(l, true, undefined).catch(busyOk(vg, l.name));
        } else if (t['kind'] === 'volume' && t['ready'] !== '1' && !this.jobs.get(key)) {
          this.log.info({ vg, lv: l.name }, 'resuming an interrupted copy');
          this.jobs.start(key, 'copy', (ctx) => this.complete(vg, l.name, ctx));
        } else if (t['kind'] === 'volume' && t['state'] === 'hidden') {
          // a hidden origin whose last snapshot went while the agent was down (e.g. during its zeroing)
          const v = toVolume(this.nodeId, l, all);
          if (v && v.snapshotCount === 0) {
            this.log.info({ vg, lv: l.name }, 'removing a hidden origin without snapshots');
            await this.removeLv(l, v.params.lvmType === 'thick' && v.params.volumeClear === 'zero').catch(busyOk(vg, l.name));
          }
        }
      }
    }
  }
}
