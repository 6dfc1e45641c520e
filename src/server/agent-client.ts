/**
 * A remote storage agent: the StorageAgent interface over the agent API
 * (proto/agent.proto), mutual TLS. A remote agent's domain errors come back
 * as the same errors (status.ts fromStatus), so the controller cannot tell it
 * from the in-process agent. The RPC's AbortSignal cancels the call.
 */
import type { ChannelCredentials, ChannelOptions, Client, ServiceError } from '@grpc/grpc-js';
import { shortNodeId } from '../agent/ids.js';
import type {
  CallOptions, Capacity, CapacityQuery, CreateVolumeArgs, PoolStatus, PublishArgs, PublishInfo, SnapshotInfo, StorageAgent, VolumeInfo,
} from '../agent/types.js';
import type { SnapshotParams } from '../agent/params.js';
import type { SizeRange } from '../agent/sizing.js';
import {
  chapToWire, infoFromWire, num, paramsToWire, poolFromWire, publicationToWire, publishInfoFromWire, snapshotFromWire, sourceToWire, volumeFromWire,
  type AgentIdentity,
} from '../agent/wire.js';
import { FailedPrecondition, Unavailable } from '../errors.js';
import type { AgentClient } from '../gen/csilvmiscsi/agent/v1/Agent.js';
import { loadAgent } from './proto.js';
import { fromStatus } from './status.js';

export interface RemoteAgentOptions {
  nodeName: string;
  /** host:port */
  address: string;
  creds: ChannelCredentials;
  channelOptions?: ChannelOptions;
  /** Deadline of one call. Default 5 minutes (a CreateVolume may wait for a copy). */
  timeoutMs?: number;
}

type Callback<Res> = (err: ServiceError | null, res?: Res) => void;
type Unary<Req, Res> = (req: Req, options: { deadline: Date }, cb: Callback<Res>) => { cancel(): void };

export class RemoteAgent implements StorageAgent {
  readonly nodeId: string;
  readonly nodeName: string;
  readonly address: string;
  private readonly client: AgentClient;
  private readonly timeoutMs: number;
  private info: AgentIdentity | undefined;

  constructor(o: RemoteAgentOptions) {
    this.nodeName = o.nodeName;
    this.nodeId = shortNodeId(o.nodeName);
    this.address = o.address;
    this.timeoutMs = o.timeoutMs ?? 300_000;
    const Agent = loadAgent().csilvmiscsi.agent.v1.Agent;
    this.client = new Agent(o.address, o.creds, o.channelOptions ?? {});
  }

  /** Reads the agent's identity and volume groups; the agent must be the node it was listed as. */
  async connect(o?: CallOptions): Promise<void> {
    const info = infoFromWire(await this.call('GetInfo', {}, o));
    if (info.nodeName !== this.nodeName || info.nodeId !== this.nodeId) {
      throw new FailedPrecondition(`agent at ${this.address} is storage node ${info.nodeName}, not ${this.nodeName}`);
    }
    this.info = info;
  }

  get connected(): boolean {
    return this.info !== undefined;
  }

  close(): void {
    (this.client as Client).close();
  }

  volumeGroups(): readonly string[] {
    return this.info?.volumeGroups ?? [];
  }

  hasThinPool(vg: string): boolean {
    return this.info?.thinPoolVgs.includes(vg) ?? false;
  }

  private call<Res>(method: string, req: object, o?: CallOptions): Promise<Res> {
    const signal = o?.signal;
    if (signal?.aborted) return Promise.reject(new Unavailable(`call to agent ${this.nodeName} cancelled`));
    const fn = (this.client as unknown as Record<string, Unary<object, Res>>)[method];
    if (!fn) throw new Error(`agent API has no method ${method}`);
    return new Promise<Res>((resolve, reject) => {
      const onAbort = () => call.cancel();
      const call = fn.call(this.client, req, { deadline: new Date(Date.now() + this.timeoutMs) }, (err, res) => {
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(fromStatus(err, `agent ${this.nodeName} (${this.address})`));
        else resolve(res as Res);
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  async createVolume(a: CreateVolumeArgs, o?: CallOptions): Promise<VolumeInfo> {
    return volumeFromWire(
      await this.call(
        'CreateVolume',
        {
          name: a.name, required_bytes: String(a.range.required), limit_bytes: String(a.range.limit), default_bytes: String(a.defaultBytes),
          params: paramsToWire(a.params), source: sourceToWire(a.source),
        },
        o,
      ),
    );
  }

  /** A MaybeVolume reply: undefined when the agent has no such volume. */
  private async maybeVolume(method: string, req: object, o?: CallOptions): Promise<VolumeInfo | undefined> {
    const r = await this.call<{ volume: Parameters<typeof volumeFromWire>[0] | null }>(method, req, o);
    return r.volume ? volumeFromWire(r.volume) : undefined;
  }

  /** A MaybeSnapshot reply: undefined when the agent has no such snapshot. */
  private async maybeSnapshot(method: string, req: object, o?: CallOptions): Promise<SnapshotInfo | undefined> {
    const r = await this.call<{ snapshot: Parameters<typeof snapshotFromWire>[0] | null }>(method, req, o);
    return r.snapshot ? snapshotFromWire(r.snapshot) : undefined;
  }

  findVolumeByName(name: string, o?: CallOptions): Promise<VolumeInfo | undefined> {
    return this.maybeVolume('FindVolumeByName', { name }, o);
  }

  getVolume(vg: string, lv: string, o?: CallOptions): Promise<VolumeInfo | undefined> {
    return this.maybeVolume('GetVolume', { vg, lv }, o);
  }

  async listVolumes(o?: CallOptions): Promise<VolumeInfo[]> {
    return (await this.call<{ volumes: Parameters<typeof volumeFromWire>[0][] }>('ListVolumes', {}, o)).volumes.map(volumeFromWire);
  }

  async deleteVolume(vg: string, lv: string, o?: CallOptions): Promise<void> {
    await this.call('DeleteVolume', { vg, lv }, o);
  }

  async expandVolume(vg: string, lv: string, range: SizeRange, o?: CallOptions): Promise<VolumeInfo> {
    return volumeFromWire(await this.call('ExpandVolume', { vg, lv, required_bytes: String(range.required), limit_bytes: String(range.limit) }, o));
  }

  async createSnapshot(name: string, sourceVg: string, sourceLv: string, params: SnapshotParams, o?: CallOptions): Promise<SnapshotInfo> {
    return snapshotFromWire(await this.call('CreateSnapshot', { name, source_vg: sourceVg, source_lv: sourceLv, snapshot_reserve: params.snapshotReserve }, o));
  }

  findSnapshotByName(name: string, o?: CallOptions): Promise<SnapshotInfo | undefined> {
    return this.maybeSnapshot('FindSnapshotByName', { name }, o);
  }

  getSnapshot(vg: string, lv: string, o?: CallOptions): Promise<SnapshotInfo | undefined> {
    return this.maybeSnapshot('GetSnapshot', { vg, lv }, o);
  }

  async listSnapshots(o?: CallOptions): Promise<SnapshotInfo[]> {
    return (await this.call<{ snapshots: Parameters<typeof snapshotFromWire>[0][] }>('ListSnapshots', {}, o)).snapshots.map(snapshotFromWire);
  }

  async deleteSnapshot(vg: string, lv: string, o?: CallOptions): Promise<void> {
    await this.call('DeleteSnapshot', { vg, lv }, o);
  }

  async publish(a: PublishArgs, o?: CallOptions): Promise<PublishInfo> {
    return publishInfoFromWire(
      await this.call('Publish', { vg: a.vg, lv: a.lv, publication: publicationToWire(a.publication), initiator_iqn: a.initiatorIqn, node_name: a.nodeName, chap: chapToWire(a.chap) }, o),
    );
  }

  async unpublish(vg: string, lv: string, nodeId: string, o?: CallOptions): Promise<void> {
    await this.call('Unpublish', { vg, lv, node_id: nodeId }, o);
  }

  async poolStatus(vg: string, o?: CallOptions): Promise<PoolStatus> {
    return poolFromWire(await this.call('PoolStatus', { vg }, o));
  }

  async capacity(q: CapacityQuery, o?: CallOptions): Promise<Capacity> {
    const r = await this.call<{ available_bytes: string; maximum_volume_bytes: string }>('Capacity', { vg: q.vg, lvm_type: q.lvmType, mirrors: q.mirrors, stripes: q.stripes }, o);
    return { availableBytes: num(r.available_bytes), maximumVolumeBytes: num(r.maximum_volume_bytes) };
  }
}
