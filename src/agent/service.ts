/**
 * The in-process storage agent: owns the configured volume groups (each with
 * an optional thin pool) and does all LVM work for the controller.
 * LVM is the only persistent state. The agent reads it through CachedLvm
 * (src/lvm/cached-lvm.ts): its VGs in memory, checked against the PVs'
 * metadata stamps before every use, so a call runs the one mutating command
 * it stands for; dynamic values (pool use, COW snapshot validity, the device
 * a job writes to) are read when older than the decision allows.
 *
 * This class only wires the parts, one job each: reads.ts, volumes.ts,
 * snapshots.ts, copy-jobs.ts, removal.ts, recovery.ts; every thin/thick
 * difference is in pool.ts.
 */
import { NotFound } from '../errors.js';
import type { CommandRunner } from '../exec/runner.js';
import type { Logger } from '../log.js';
import type { Lvm } from '../lvm/lvm.js';
import type { AgentContext, AgentOptions } from './context.js';
import { CopyJobs } from './copy-jobs.js';
import type { Exports } from './exports.js';
import { shortNodeId } from './ids.js';
import type { Jobs } from './jobs.js';
import type { SnapshotParams } from './params.js';
import { Pools } from './pool.js';
import { Reads } from './reads.js';
import { Recovery } from './recovery.js';
import { Removal } from './removal.js';
import type { SizeRange } from './sizing.js';
import { Snapshots } from './snapshots.js';
import type {
  CallOptions,
  ListVolumesOptions,
  Capacity,
  CapacityQuery,
  CreateVolumeArgs,
  PoolStatus,
  PublishArgs,
  PublishInfo,
  SnapshotInfo,
  StorageAgent,
  VolumeInfo,
} from './types.js';
import { Volumes } from './volumes.js';

export { type AgentOptions } from './context.js';

export class LocalAgent implements StorageAgent {
  readonly nodeId: string;
  readonly nodeName: string;
  private readonly reads: Reads;
  private readonly volumes: Volumes;
  private readonly snapshots: Snapshots;
  private readonly recovery: Recovery;

  constructor(
    lvm: Lvm,
    runner: CommandRunner,
    jobs: Jobs,
    private readonly exports: Exports,
    log: Logger,
    private readonly o: AgentOptions,
  ) {
    this.nodeId = shortNodeId(o.nodeName);
    this.nodeName = o.nodeName;
    const c: AgentContext = { lvm, runner, jobs, exports, log, o, nodeId: this.nodeId };
    const pools = new Pools(c);
    this.reads = new Reads(c);
    const removal = new Removal(c, pools);
    const copies = new CopyJobs(c, pools, this.reads);
    this.volumes = new Volumes(c, pools, this.reads, copies, removal);
    this.snapshots = new Snapshots(c, pools, this.reads, removal);
    this.recovery = new Recovery(c, this.reads, copies, removal);
  }

  volumeGroups(): readonly string[] {
    return this.o.volumeGroups;
  }

  hasThinPool(vg: string): boolean {
    return this.o.thinPool !== undefined && this.o.volumeGroups.includes(vg);
  }

  getVolume(vg: string, lv: string, o?: CallOptions): Promise<VolumeInfo | undefined> {
    return this.reads.getVolume(vg, lv, o);
  }

  findVolumeByName(name: string, o?: CallOptions): Promise<VolumeInfo | undefined> {
    return this.reads.findVolumeByName(name, o);
  }

  listVolumes(o?: ListVolumesOptions): Promise<VolumeInfo[]> {
    return this.reads.listVolumes(o);
  }

  getSnapshot(vg: string, lv: string, o?: CallOptions): Promise<SnapshotInfo | undefined> {
    return this.reads.getSnapshot(vg, lv, o);
  }

  findSnapshotByName(name: string, o?: CallOptions): Promise<SnapshotInfo | undefined> {
    return this.reads.findSnapshotByName(name, o);
  }

  listSnapshots(o?: CallOptions): Promise<SnapshotInfo[]> {
    return this.reads.listSnapshots(o);
  }

  /** `thinUse` false: the thin pool's use as last read (a thick decision does not depend on it). */
  poolStatus(vg: string, o?: CallOptions, thinUse = true): Promise<PoolStatus> {
    return this.reads.poolStatus(vg, o, thinUse);
  }

  capacity(q: CapacityQuery, o?: CallOptions): Promise<Capacity> {
    return this.reads.capacity(q, o);
  }

  createVolume(args: CreateVolumeArgs, o?: CallOptions): Promise<VolumeInfo> {
    return this.volumes.create(args, o);
  }

  deleteVolume(vg: string, lv: string, o?: CallOptions): Promise<void> {
    return this.volumes.delete(vg, lv, o);
  }

  expandVolume(vg: string, lv: string, range: SizeRange, o?: CallOptions): Promise<VolumeInfo> {
    return this.volumes.expand(vg, lv, range, o);
  }

  async publish(args: PublishArgs, o?: CallOptions): Promise<PublishInfo> {
    if (!this.o.volumeGroups.includes(args.vg)) throw new NotFound(`volume group ${args.vg} is not served here`);
    return this.exports.publish(args, o);
  }

  async unpublish(vg: string, lv: string, nodeId: string, o?: CallOptions): Promise<void> {
    if (!this.o.volumeGroups.includes(vg)) return;
    await this.exports.unpublish(vg, lv, nodeId, o);
  }

  createSnapshot(name: string, vg: string, lv: string, params: SnapshotParams, o?: CallOptions): Promise<SnapshotInfo> {
    return this.snapshots.create(name, vg, lv, params, o);
  }

  deleteSnapshot(vg: string, lv: string, o?: CallOptions): Promise<void> {
    return this.snapshots.delete(vg, lv, o);
  }

  /** Every configured VG must exist (a missing thin pool is created), then interrupted work is resumed and exports reconciled. */
  async setup(): Promise<void> {
    await this.recovery.checkVolumeGroups();
    await this.recovery.recover();
    await this.reconcileExports();
  }

  recover(): Promise<void> {
    return this.recovery.recover();
  }

  /** Live targets against published volumes (see Exports.reconcile); run at start and on a timer. */
  reconcileExports(): Promise<void> {
    return this.exports.reconcile(() => this.listVolumes());
  }
}
