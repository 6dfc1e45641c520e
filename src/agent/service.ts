/**
 * The in-process storage agent: owns the configured volume groups (each with
 * an optional thin pool) and does all LVM work for the controller.
 * LVM is the only state: every answer is read back from lvs.
 */
import { Busy, DomainError, FailedPrecondition, NotFound, OutOfCapacity } from '../errors.js';
import type { CommandRunner } from '../exec/runner.js';
import type { Logger } from '../log.js';
import type { Lvm } from '../lvm/lvm.js';
import { snapshotLvName, temporaryLvName, volumeLvName } from '../lvm/names.js';
import { ThickPool, ThinPool, type VolumePool } from '../lvm/pool.js';
import type { Lv } from '../lvm/report.js';
import { tagChanges } from '../lvm/tags.js';
import { copyBlocks, zeroBlocks } from './blockcopy.js';
import { capacityFor, noRoomReason, thinPoolHealth, thinPoolProblem, type CapacityLimits } from './capacity.js';
import { formatId, parseId, shortNodeId } from './ids.js';
import type { Exports } from './exports.js';
import type { JobContext, Jobs } from './jobs.js';
import type { SnapshotParams } from './params.js';
import { encodeSource, tagsFor, tagValues, toSnapshot, toVolume } from './records.js';
import type {
  CallOptions, Capacity, CapacityQuery, CreateVolumeArgs, PoolStatus, PublishArgs, PublishInfo, SnapshotInfo, StorageAgent, VolumeInfo,
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
}

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

  private device(lv: Lv): string {
    return lv.dmPath ?? `/dev/${lv.vg}/${lv.name}`;
  }

  /** Waits up to jobWaitMs for the job on key; true when none runs any more. */
  private async settle(key: string): Promise<boolean> {
    if (!this.jobs.get(key)) return true;
    await Promise.race([this.jobs.wait(key), sleep(this.o.jobWaitMs)]);
    return !this.jobs.get(key);
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
    const l = await this.lvm.getLv(vg, lv, o);
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

  async poolStatus(vg: string, o?: CallOptions): Promise<PoolStatus> {
    const v = await this.lvm.getVg(vg, o);
    if (!v) throw new FailedPrecondition(`volume group ${vg} does not exist`);
    let thinPool: PoolStatus['thinPool'];
    if (this.o.thinPool) {
      const all = await this.lvs(vg, o);
      const pool = all.find((l) => l.name === this.o.thinPool);
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
    return capacityFor(await this.poolStatus(q.vg, o), q, this.o);
  }

  private async ensureRoom(q: CapacityQuery, bytes: number, o?: CallOptions): Promise<void> {
    const why = noRoomReason(await this.poolStatus(q.vg, o), q, bytes, this.o);
    if (why) throw new OutOfCapacity(why);
  }

  // --------------------------------------------------------------- volumes

  async createVolume(args: CreateVolumeArgs, o?: CallOptions): Promise<VolumeInfo> {
    const { params } = args;
    const vg = params.volumeGroup;
    const lv = volumeLvName(args.name);
    const existing = await this.getVolume(vg, lv, o);
    if (existing) {
      if (existing.state === 'copying') return this.resume(existing);
      return existing;
    }
    await this.ensureRoom({ vg, lvmType: params.lvmType, mirrors: params.mirrors, stripes: params.stripes }, args.sizeBytes, o);

    const source = args.source ? parseId(args.source.id) : undefined;
    const tags = {
      name: args.name,
      kind: 'volume' as const,
      params: JSON.stringify(params),
      created: new Date().toISOString(),
      source: encodeSource(args.source),
      size: String(args.sizeBytes),
    };
    if (!args.source || !source) {
      await this.createLv(vg, lv, args.sizeBytes, tagsFor({ ...tags, ready: '1' }), params, o);
    } else if (params.lvmType === 'thin' && source.vg === vg && (await this.isThin(vg, source.lv, o))) {
      // Thin from thin: a writable thin snapshot that activates like any LV (-kn) so it comes back after a reboot,
      // grown to the requested size. The completion mark comes last (complete() redoes the growth after a crash).
      await this.pool(vg, 'thin').createFrom(source.lv, lv, args.sizeBytes, tagsFor(tags), o);
    } else {
      await this.createLv(vg, lv, args.sizeBytes, tagsFor(tags), params, o);
    }
    const created = await this.getVolume(vg, lv, o);
    if (!created) throw new NotFound(`volume ${args.name} vanished right after creation`);
    return created.state === 'copying' ? this.resume(created) : created;
  }

  private async isThin(vg: string, lv: string, o?: CallOptions): Promise<boolean> {
    return Boolean((await this.lvm.getLv(vg, lv, o))?.pool);
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
    this.jobs.start(key, 'copy', (ctx) => this.complete(v.vg, v.lv, ctx.signal, ctx.setProgress));
    await this.settle(key);
    this.throwIfJobFailed(key);
    const now = await this.getVolume(v.vg, v.lv);
    if (!now) throw new NotFound(`volume ${v.name} was cleaned up because its source is gone`);
    if (now.state !== 'ready') throw new Busy(`volume ${v.name} is being filled from its source: ${this.jobs.describe(key) || 'resuming'}`);
    return now;
  }

  /**
   * Completes a volume made from a source: thin snapshots are grown to the
   * requested size; copies are (re)done from the source or from a temporary
   * snapshot of the source volume. Then the completion mark is set. A volume
   * whose source is gone is removed.
   */
  private async complete(vg: string, lv: string, signal: AbortSignal, progress: JobContext['setProgress']): Promise<void> {
    const target = await this.lvm.getLv(vg, lv);
    if (!target) return;
    const t = tagValues(target);
    const want = Number(t['size']) || target.sizeBytes;
    const sourceId = (t['source'] ?? '').slice((t['source'] ?? '').indexOf(':') + 1);
    const ref = parseId(sourceId);
    if (target.pool && target.origin) {
      // thin snapshot: only the size and the mark are missing
      if (target.sizeBytes < want) await this.lvm.extend(vg, lv, want, { signal });
    } else {
      const src = ref && ref.node === this.nodeId ? await this.lvm.getLv(ref.vg, ref.lv) : undefined;
      if (!ref || !src) {
        this.log.warn({ vg, lv, source: sourceId }, 'source of an unfinished copy is gone; removing the partial volume');
        await this.lvm.remove(vg, lv);
        return;
      }
      const isVolume = t['source']?.startsWith('volume:') ?? false;
      const from = isVolume ? await this.temporarySnapshot(src, lv, signal) : src;
      if (!from.active) await this.lvm.activate(from.vg, from.name, { ignoreSkip: true, signal });
      const bytes = Number(tagValues(src)['size']) || src.originSizeBytes || src.sizeBytes;
      const sparse = Boolean(target.pool);
      await copyBlocks(this.runner, this.device(from), this.device(target), Math.min(bytes, target.sizeBytes), sparse, {
        signal,
        onProgress: progress, // Jobs logs it (every 10%, at least every 30 s)
        ...(this.o.copyChunkBytes ? { chunkBytes: this.o.copyChunkBytes } : {}),
      });
      // A thick LV's extents may hold a former volume's data past the copied part.
      if (!sparse && target.sizeBytes > bytes) await zeroBlocks(this.runner, this.device(target), bytes, target.sizeBytes - bytes, { signal });
      if (from !== src) await this.lvm.remove(from.vg, from.name);
    }
    const changes = tagChanges(target.tags, { ready: '1' });
    await this.lvm.changeTags(vg, lv, changes);
  }

  /** A snapshot of a source volume to copy from, so the copy is consistent while the source stays in use. */
  private async temporarySnapshot(src: Lv, forLv: string, signal: AbortSignal): Promise<Lv> {
    const name = temporaryLvName(forLv);
    const have = await this.lvm.getLv(src.vg, name);
    if (have) return have;
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

  /** Removes an LV, zeroing it first (in a background job) when asked; Busy while the job runs. */
  private async removeLv(l: Lv, zero: boolean, o?: CallOptions, device?: { path: string; bytes: number }): Promise<void> {
    if (!zero) {
      await this.lvm.remove(l.vg, l.name, o).catch((e: unknown) => {
        if (!(e instanceof NotFound)) throw e;
      });
      return;
    }
    const key = this.key(l.vg, l.name);
    if (tagValues(l)['state'] !== 'deleting') await this.lvm.changeTags(l.vg, l.name, tagChanges(l.tags, { state: 'deleting' }), o);
    this.jobs.start(key, 'zero', async (ctx) => {
      const target = device ?? { path: this.device(l), bytes: l.sizeBytes };
      await zeroBlocks(this.runner, target.path, 0, target.bytes, {
        signal: ctx.signal,
        onProgress: ctx.setProgress, // Jobs logs it (every 10%, at least every 30 s)
        ...(this.o.copyChunkBytes ? { chunkBytes: this.o.copyChunkBytes } : {}),
      });
      await this.lvm.remove(l.vg, l.name);
      await this.afterSnapshotRemoved(l);
    });
    if (!(await this.settle(key))) throw new Busy(`${l.vg}/${l.name}: ${this.jobs.describe(key)}`);
    this.throwIfJobFailed(key);
  }

  async expandVolume(vg: string, lv: string, sizeBytes: number, o?: CallOptions): Promise<VolumeInfo> {
    const v = await this.getVolume(vg, lv, o);
    if (!v || v.state === 'deleting') throw new NotFound(`volume ${vg}/${lv} does not exist`);
    if (v.params.lvmType === 'thick' && v.snapshotCount > 0) {
      throw new FailedPrecondition(`volume ${v.id} has ${v.snapshotCount} COW snapshot(s); LVM cannot resize the origin of a thick snapshot - delete the snapshots first`);
    }
    if (sizeBytes > v.sizeBytes) {
      const p = v.params;
      await this.ensureRoom({ vg, lvmType: p.lvmType, mirrors: p.mirrors, stripes: p.stripes }, sizeBytes - v.sizeBytes, o);
      await this.pool(vg, p.lvmType).extend(lv, sizeBytes, o);
      await this.exports.refreshSize(vg, lv, o);
    }
    const after = await this.getVolume(vg, lv, o);
    if (!after) throw new NotFound(`volume ${vg}/${lv} vanished during expansion`);
    return after;
  }

  // --------------------------------------------------------------- exports

  async publish(args: PublishArgs, o?: CallOptions): Promise<PublishInfo> {
    if (!this.o.volumeGroups.includes(args.vg)) throw new NotFound(`volume group ${args.vg} is not served here`);
    return this.exports.publish(args, o);
  }

  async unpublish(vg: string, lv: string, nodeId: string, initiatorIqn: string, o?: CallOptions): Promise<void> {
    if (!this.o.volumeGroups.includes(vg)) return;
    await this.exports.unpublish(vg, lv, nodeId, initiatorIqn, o);
  }

  // ------------------------------------------------------------- snapshots

  async createSnapshot(name: string, vg: string, lv: string, params: SnapshotParams, o?: CallOptions): Promise<SnapshotInfo> {
    const snapLv = snapshotLvName(name);
    const have = await this.getSnapshot(vg, snapLv, o);
    if (have) return have;
    const src = await this.getVolume(vg, lv, o);
    if (!src || src.state === 'deleting') throw new NotFound(`source volume ${vg}/${lv} does not exist`);
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
      const status = await this.poolStatus(vg, o);
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
    const zeroCow = originParams?.volumeClear === 'zero' && l.dmPath !== undefined;
    // A COW snapshot's exception store holds the origin's old data: zero it like a thick volume.
    await this.removeLv(l, zeroCow, o, zeroCow ? { path: `${l.dmPath}-cow`, bytes: l.sizeBytes } : undefined);
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
    for (const vg of this.o.volumeGroups) {
      const all = await this.lvs(vg);
      for (const l of all) {
        const t = tagValues(l);
        if (t['kind'] === 'temporary') {
          const owner = all.find((x) => x.name === t['for']);
          if (!owner || tagValues(owner)['ready'] === '1') {
            this.log.info({ vg, lv: l.name }, 'removing a temporary snapshot left behind');
            await this.lvm.remove(vg, l.name);
          }
        }
      }
      for (const l of all) {
        const t = tagValues(l);
        const key = this.key(vg, l.name);
        if (t['state'] === 'deleting') {
          this.log.info({ vg, lv: l.name }, 'resuming an interrupted zero-and-delete');
          const cow = t['kind'] === 'snapshot' && l.dmPath ? { path: `${l.dmPath}-cow`, bytes: l.sizeBytes } : undefined;
          await this.removeLv(l, true, undefined, cow).catch((e: unknown) => {
            if (!(e instanceof Busy)) this.log.error({ vg, lv: l.name, err: String(e) }, 'resume failed');
          });
        } else if (t['kind'] === 'volume' && t['ready'] !== '1' && !this.jobs.get(key)) {
          this.log.info({ vg, lv: l.name }, 'resuming an interrupted copy');
          this.jobs.start(key, 'copy', (ctx) => this.complete(vg, l.name, ctx.signal, ctx.setProgress));
        }
      }
    }
  }
}
