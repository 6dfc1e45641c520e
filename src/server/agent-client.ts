/**
 * A remote storage agent: the StorageAgent interface over the agent API
 * (proto/agent.proto), mutual TLS. A remote agent's domain errors come back
 * as the same errors (status.ts fromStatus), so the controller cannot tell it
 * from the in-process agent. The RPC's AbortSignal cancels the call.
 */
import {
  status as Code,
  type ChannelCredentials,
  type ChannelOptions,
  type Client,
  type ServiceError,
} from '@grpc/grpc-js';
import { shortNodeId } from '../agent/ids.js';
import type {
  CallOptions,
  Capacity,
  CapacityQuery,
  CreateVolumeArgs,
  ListVolumesOptions,
  PoolStatus,
  PublishArgs,
  PublishInfo,
  SnapshotInfo,
  StorageAgent,
  VolumeInfo,
} from '../agent/types.js';
import type { SnapshotParams } from '../agent/params.js';
import type { SizeRange } from '../agent/sizing.js';
import {
  chapToWire,
  infoFromWire,
  num,
  paramsToWire,
  poolFromWire,
  publicationToWire,
  publishInfoFromWire,
  snapshotFromWire,
  sourceToWire,
  volumeFromWire,
  type AgentIdentity,
} from '../agent/wire.js';
import { Backoff, type BackoffOptions } from '../backoff.js';
import { FailedPrecondition, Unavailable } from '../errors.js';
import type { AgentClient } from '../gen/csilvmiscsi/agent/v1/Agent.js';
import { loadAgent } from './proto.js';
import { fromStatus, KIND_KEY } from './status.js';

export interface RemoteAgentOptions {
  nodeName: string;
  /** host:port */
  address: string;
  creds: ChannelCredentials;
  channelOptions?: ChannelOptions;
  /** Deadline of one call. Default 5 minutes (a CreateVolume may wait for a copy). */
  timeoutMs?: number;
  /** Backoff between reconnection attempts while unreachable. Default 1 s doubling to 30 s. */
  retry?: BackoffOptions;
  /** Told when the agent becomes reachable or unreachable. */
  onReachability?: (agent: RemoteAgent, reachable: boolean, reason?: string) => void;
  now?: () => number;
}

/** Deadline of the GetInfo call that (re)connects an agent. */
const CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_RETRY: BackoffOptions = { initialMs: 1_000, maxMs: 30_000 };

/**
 * A failure of the transport, not an answer of the agent: the agent's own
 * errors carry their kind in the trailing metadata (status.ts), a dead
 * connection, a refused one, a failed handshake or a call that never came
 * back does not.
 */
function isTransportFailure(err: ServiceError): boolean {
  if (err.code !== Code.UNAVAILABLE && err.code !== Code.DEADLINE_EXCEEDED) return false;
  return (err.metadata?.get(KIND_KEY).length ?? 0) === 0;
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
  private readonly backoff: Backoff;
  private readonly now: () => number;
  /** Set while the agent is unreachable (never connected counts): why, since when, when to try again. */
  private down: { reason: string; since: number; retryAt: number } | undefined;
  private connecting: Promise<void> | undefined;

  constructor(private readonly o: RemoteAgentOptions) {
    this.nodeName = o.nodeName;
    this.backoff = new Backoff(o.retry ?? DEFAULT_RETRY);
    this.now = o.now ?? Date.now;
    this.down = { reason: 'not connected yet', since: this.now(), retryAt: 0 };
    this.nodeId = shortNodeId(o.nodeName);
    this.address = o.address;
    this.timeoutMs = o.timeoutMs ?? 300_000;
    const Agent = loadAgent().csilvmiscsi.agent.v1.Agent;
    this.client = new Agent(o.address, o.creds, o.channelOptions ?? {});
  }

  /**
   * Reads the agent's identity and volume groups; the agent must be the node
   * it was listed as. Success makes the agent reachable; failure marks it
   * unreachable and sets when to try again (backoff). Concurrent calls share one.
   */
  connect(o?: CallOptions): Promise<void> {
    this.connecting ??= (async () => {
      try {
        const info = infoFromWire(await this.call('GetInfo', {}, o, CONNECT_TIMEOUT_MS));
        if (info.nodeName !== this.nodeName || info.nodeId !== this.nodeId) {
          throw new FailedPrecondition(
            `agent at ${this.address} is storage node ${info.nodeName}, not ${this.nodeName}`,
          );
        }
        this.info = info;
        this.markUp();
      } catch (e) {
        this.markDown(e instanceof Error ? e.message : String(e));
        throw e;
      } finally {
        this.connecting = undefined;
      }
    })();
    return this.connecting;
  }

  /** Has answered GetInfo at least once (its volume groups are known). */
  get connected(): boolean {
    return this.info !== undefined;
  }

  /** Connected and not marked unreachable since. */
  get reachable(): boolean {
    return this.info !== undefined && this.down === undefined;
  }

  /** Why calls to this agent fail now, or undefined when it is reachable. */
  unreachableReason(): string | undefined {
    if (!this.down) return this.info ? undefined : 'not connected yet';
    const retryS = Math.max(0, Math.ceil((this.down.retryAt - this.now()) / 1000));
    return `storage agent ${this.nodeName} (${this.address}) is unreachable since ${new Date(this.down.since).toISOString()}: ${this.down.reason}; next try in ${retryS} s`;
  }

  /** Unreachable and its backoff has passed: time for connect(). */
  retryDue(): boolean {
    return this.down !== undefined && this.connecting === undefined && this.now() >= this.down.retryAt;
  }

  private markUp(): void {
    const was = this.down;
    this.down = undefined;
    this.backoff.reset();
    if (was) this.o.onReachability?.(this, true);
  }

  private markDown(reason: string): void {
    const first = this.down === undefined;
    const since = this.down?.since ?? this.now();
    this.down = { reason, since, retryAt: this.now() + this.backoff.next() };
    if (first) this.o.onReachability?.(this, false, reason);
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

  private call<Res>(method: string, req: object, o?: CallOptions, timeoutMs = this.timeoutMs): Promise<Res> {
    const signal = o?.signal;
    if (signal?.aborted) return Promise.reject(new Unavailable(`call to agent ${this.nodeName} cancelled`));
    // An agent marked unreachable is not called until a reconnection succeeds: the caller learns why at once.
    if (method !== 'GetInfo' && this.down && this.info)
      return Promise.reject(new Unavailable(this.unreachableReason() ?? 'unreachable'));
    const fn = (this.client as unknown as Record<string, Unary<object, Res>>)[method];
    if (!fn) throw new Error(`agent API has no method ${method}`);
    return new Promise<Res>((resolve, reject) => {
      const onAbort = () => call.cancel();
      const call = fn.call(this.client, req, { deadline: new Date(Date.now() + timeoutMs) }, (err, res) => {
        signal?.removeEventListener('abort', onAbort);
        if (err) {
          if (method !== 'GetInfo' && isTransportFailure(err) && !signal?.aborted) {
            // the connection failed or a call never came back: confirm with a short GetInfo before marking it
            this.connect().catch(() => undefined);
          }
          reject(fromStatus(err, `agent ${this.nodeName} (${this.address})`));
        } else resolve(res as Res);
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  async createVolume(a: CreateVolumeArgs, o?: CallOptions): Promise<VolumeInfo> {
    return volumeFromWire(
      await this.call(
        'CreateVolume',
        {
          name: a.name,
          required_bytes: String(a.range.required),
          limit_bytes: String(a.range.limit),
          default_bytes: String(a.defaultBytes),
          params: paramsToWire(a.params),
          source: sourceToWire(a.source),
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

  async listVolumes(o: ListVolumesOptions = {}): Promise<VolumeInfo[]> {
    const request = { after: o.after ?? '', limit: o.limit ?? 0, ready_only: o.readyOnly ?? false };
    return (
      await this.call<{ volumes: Parameters<typeof volumeFromWire>[0][] }>('ListVolumes', request, o)
    ).volumes.map(volumeFromWire);
  }

  async deleteVolume(vg: string, lv: string, o?: CallOptions): Promise<void> {
    await this.call('DeleteVolume', { vg, lv }, o);
  }

  async expandVolume(vg: string, lv: string, range: SizeRange, o?: CallOptions): Promise<VolumeInfo> {
    return volumeFromWire(
      await this.call(
        'ExpandVolume',
        { vg, lv, required_bytes: String(range.required), limit_bytes: String(range.limit) },
        o,
      ),
    );
  }

  async createSnapshot(
    name: string,
    sourceVg: string,
    sourceLv: string,
    params: SnapshotParams,
    o?: CallOptions,
  ): Promise<SnapshotInfo> {
    return snapshotFromWire(
      await this.call(
        'CreateSnapshot',
        { name, source_vg: sourceVg, source_lv: sourceLv, snapshot_reserve: params.snapshotReserve },
        o,
      ),
    );
  }

  findSnapshotByName(name: string, o?: CallOptions): Promise<SnapshotInfo | undefined> {
    return this.maybeSnapshot('FindSnapshotByName', { name }, o);
  }

  getSnapshot(vg: string, lv: string, o?: CallOptions): Promise<SnapshotInfo | undefined> {
    return this.maybeSnapshot('GetSnapshot', { vg, lv }, o);
  }

  async listSnapshots(o?: CallOptions): Promise<SnapshotInfo[]> {
    return (
      await this.call<{ snapshots: Parameters<typeof snapshotFromWire>[0][] }>('ListSnapshots', {}, o)
    ).snapshots.map(snapshotFromWire);
  }

  async deleteSnapshot(vg: string, lv: string, o?: CallOptions): Promise<void> {
    await this.call('DeleteSnapshot', { vg, lv }, o);
  }

  async publish(a: PublishArgs, o?: CallOptions): Promise<PublishInfo> {
    return publishInfoFromWire(
      await this.call(
        'Publish',
        {
          vg: a.vg,
          lv: a.lv,
          publication: publicationToWire(a.publication),
          initiator_iqn: a.initiatorIqn,
          node_name: a.nodeName,
          chap: chapToWire(a.chap),
        },
        o,
      ),
    );
  }

  async unpublish(vg: string, lv: string, nodeId: string, o?: CallOptions): Promise<void> {
    await this.call('Unpublish', { vg, lv, node_id: nodeId }, o);
  }

  async poolStatus(vg: string, o?: CallOptions): Promise<PoolStatus> {
    return poolFromWire(await this.call('PoolStatus', { vg }, o));
  }

  async capacity(q: CapacityQuery, o?: CallOptions): Promise<Capacity> {
    const r = await this.call<{ available_bytes: string; maximum_volume_bytes: string }>(
      'Capacity',
      { vg: q.vg, lvm_type: q.lvmType, mirrors: q.mirrors, stripes: q.stripes },
      o,
    );
    return { availableBytes: num(r.available_bytes), maximumVolumeBytes: num(r.maximum_volume_bytes) };
  }
}
