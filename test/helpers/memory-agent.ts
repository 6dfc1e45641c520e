/**
 * A StorageAgent kept in memory, for tests of the controller and the agent
 * API without LVM: volumes and snapshots in maps, ids and LV names made the
 * way the real agent makes them, idempotent by name. No command runs.
 */
import { formatId, shortNodeId } from '../../src/agent/ids.js';
import type { SnapshotParams } from '../../src/agent/params.js';
import type { SizeRange } from '../../src/agent/sizing.js';
import type {
  CapacityQuery,
  CreateVolumeArgs,
  ListVolumesOptions,
  PublishArgs,
  SnapshotInfo,
  StorageAgent,
  VolumeInfo,
} from '../../src/agent/types.js';
import { AlreadyExists, FailedPrecondition, InvalidArgument, NotFound } from '../../src/errors.js';
import { snapshotLvName, volumeLvName } from '../../src/lvm/names.js';

export class MemoryAgent implements StorageAgent {
  readonly nodeId: string;
  readonly volumes = new Map<string, VolumeInfo>();
  readonly snapshots = new Map<string, SnapshotInfo>();
  /** Every call, by method name. */
  readonly calls: string[] = [];

  constructor(
    readonly nodeName: string,
    private readonly vgs: readonly string[] = ['vg1'],
    private readonly freeBytes = 10 * 2 ** 30,
  ) {
    this.nodeId = shortNodeId(nodeName);
  }

  volumeGroups() {
    return this.vgs;
  }
  hasThinPool() {
    return true;
  }
  private vgOf(vg: string): void {
    if (!this.vgs.includes(vg))
      throw new InvalidArgument('parameters.volumeGroup', `storage node ${this.nodeName} has no volume group ${vg}`);
  }
  async createVolume(a: CreateVolumeArgs): Promise<VolumeInfo> {
    this.calls.push('createVolume');
    this.vgOf(a.params.volumeGroup);
    const existing = [...this.volumes.values()].find((v) => v.name === a.name);
    const size = Math.max(
      a.range.required,
      a.range.required === 0 && a.range.limit === 0 ? a.defaultBytes : 0,
      a.range.limit > 0 && a.range.required === 0 ? Math.min(a.defaultBytes, a.range.limit) : 0,
    );
    if (existing) {
      if (existing.sizeBytes < a.range.required || (a.range.limit > 0 && existing.sizeBytes > a.range.limit))
        throw new AlreadyExists(`volume ${a.name} exists with another size`);
      return existing;
    }
    if (a.source) {
      const where = a.source.id.split('/');
      const found =
        a.source.kind === 'snapshot' ? this.snapshots.get(where[2] ?? '') : this.volumes.get(where[2] ?? '');
      if (!found || where[0] !== this.nodeId)
        throw new NotFound(`source ${a.source.id} does not exist on ${this.nodeName}`);
    }
    const lv = volumeLvName(a.name);
    const v: VolumeInfo = {
      id: formatId({ node: this.nodeId, vg: a.params.volumeGroup, lv }),
      name: a.name,
      vg: a.params.volumeGroup,
      lv,
      sizeBytes: size || a.defaultBytes,
      params: a.params,
      source: a.source,
      createdAt: new Date(1_700_000_000_000),
      state: 'ready',
      active: true,
      partial: false,
      devicePath: `/dev/${a.params.volumeGroup}/${lv}`,
      snapshotCount: 0,
      published: [],
    };
    this.volumes.set(lv, v);
    return v;
  }
  async findVolumeByName(name: string) {
    this.calls.push('findVolumeByName');
    return [...this.volumes.values()].find((v) => v.name === name);
  }
  async getVolume(vg: string, lv: string) {
    this.calls.push('getVolume');
    const v = this.volumes.get(lv);
    return v && v.vg === vg ? v : undefined;
  }
  /** What each listVolumes was asked (the page options). */
  readonly listAsks: ListVolumesOptions[] = [];
  /** Answer every volume whatever is asked, as an agent from before paging did. */
  pagesLists = true;
  async listVolumes(o: ListVolumesOptions = {}) {
    this.calls.push('listVolumes');
    this.listAsks.push({
      ...(o.after !== undefined ? { after: o.after } : {}),
      limit: o.limit,
      readyOnly: o.readyOnly,
    });
    const all = [...this.volumes.values()];
    if (!this.pagesLists) return all;
    const after = o.after;
    const mine = all.filter((v) => (after === undefined || v.id > after) && (!o.readyOnly || v.state === 'ready'));
    return o.limit ? mine.sort((x, y) => (x.id < y.id ? -1 : 1)).slice(0, o.limit) : mine;
  }
  async deleteVolume(_vg: string, lv: string) {
    this.calls.push('deleteVolume');
    const v = this.volumes.get(lv);
    if (v && v.published.length > 0) throw new FailedPrecondition(`volume ${v.id} is published`);
    this.volumes.delete(lv);
  }
  async expandVolume(vg: string, lv: string, range: SizeRange) {
    this.calls.push('expandVolume');
    const v = await this.getVolume(vg, lv);
    if (!v) throw new NotFound(`volume ${vg}/${lv} does not exist`);
    v.sizeBytes = Math.max(v.sizeBytes, range.required);
    return v;
  }
  async createSnapshot(name: string, vg: string, lv: string, _p: SnapshotParams): Promise<SnapshotInfo> {
    this.calls.push('createSnapshot');
    const src = await this.getVolume(vg, lv);
    if (!src) throw new NotFound(`source volume ${vg}/${lv} does not exist`);
    const existing = [...this.snapshots.values()].find((s) => s.name === name);
    if (existing) {
      if (existing.sourceVolumeId !== src.id) throw new AlreadyExists(`snapshot ${name} exists for another source`);
      return existing;
    }
    const slv = snapshotLvName(name);
    const s: SnapshotInfo = {
      id: formatId({ node: this.nodeId, vg, lv: slv }),
      name,
      vg,
      lv: slv,
      sourceVolumeId: src.id,
      sizeBytes: src.sizeBytes,
      createdAt: new Date(1_700_000_000_000),
      readyToUse: true,
      lvmType: 'thin',
    };
    this.snapshots.set(slv, s);
    return s;
  }
  async findSnapshotByName(name: string) {
    this.calls.push('findSnapshotByName');
    return [...this.snapshots.values()].find((s) => s.name === name);
  }
  async getSnapshot(vg: string, lv: string) {
    this.calls.push('getSnapshot');
    const s = this.snapshots.get(lv);
    return s && s.vg === vg ? s : undefined;
  }
  async listSnapshots() {
    this.calls.push('listSnapshots');
    return [...this.snapshots.values()];
  }
  async deleteSnapshot(_vg: string, lv: string) {
    this.calls.push('deleteSnapshot');
    this.snapshots.delete(lv);
  }
  async publish(a: PublishArgs) {
    this.calls.push('publish');
    const v = await this.getVolume(a.vg, a.lv);
    if (!v) throw new NotFound(`volume ${a.vg}/${a.lv} does not exist`);
    if (!v.published.some((p) => p.nodeId === a.publication.nodeId)) v.published.push(a.publication);
    return {
      kind: 'iscsi' as const,
      targetIqn: `iqn.2024-01.org.example:${a.vg}:${a.lv}`,
      portals: ['127.0.0.1:3260'],
      lun: 0,
    };
  }
  async unpublish(vg: string, lv: string, nodeId: string) {
    this.calls.push('unpublish');
    const v = await this.getVolume(vg, lv);
    if (v) v.published = nodeId ? v.published.filter((p) => p.nodeId !== nodeId) : [];
  }
  async poolStatus(vg: string) {
    this.calls.push('poolStatus');
    return {
      vg,
      vgSizeBytes: 2 * this.freeBytes,
      vgFreeBytes: this.freeBytes,
      extentBytes: 4 << 20,
      pvCount: 1,
      thinPool: {
        name: 'pool',
        sizeBytes: this.freeBytes,
        dataPercent: 1,
        metadataPercent: 1,
        provisionedBytes: 0,
        zeroing: true,
        health: 'ok',
      },
    };
  }
  async capacity(q: CapacityQuery) {
    this.calls.push('capacity');
    this.vgOf(q.vg);
    return { availableBytes: this.freeBytes, maximumVolumeBytes: this.freeBytes };
  }
}
