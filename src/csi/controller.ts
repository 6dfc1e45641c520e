/**
 * CSI Controller service: CSI semantics only (validation, idempotency, error
 * codes). Storage work is done by the storage agents.
 */
import { thinPoolProblem } from '../agent/capacity.js';
import { parseSnapshotParams, parseVolumeParams, sameVolumeParams } from '../agent/params.js';
import type { AgentDirectory, PoolStatus, StorageAgent, VolumeInfo } from '../agent/types.js';
import { AlreadyExists, Busy, DomainError, InvalidArgument, NotFound, Unavailable, Unimplemented } from '../errors.js';
import type { ControllerHandlers } from '../gen/csi/v1/Controller.js';
import type { ControllerExpandVolumeRequest__Output } from '../gen/csi/v1/ControllerExpandVolumeRequest.js';
import type { ControllerExpandVolumeResponse } from '../gen/csi/v1/ControllerExpandVolumeResponse.js';
import type { ControllerGetVolumeRequest__Output } from '../gen/csi/v1/ControllerGetVolumeRequest.js';
import type { ControllerGetVolumeResponse } from '../gen/csi/v1/ControllerGetVolumeResponse.js';
import type { ControllerServiceCapability } from '../gen/csi/v1/ControllerServiceCapability.js';
import type { CreateSnapshotRequest__Output } from '../gen/csi/v1/CreateSnapshotRequest.js';
import type { CreateSnapshotResponse } from '../gen/csi/v1/CreateSnapshotResponse.js';
import type { CreateVolumeRequest__Output } from '../gen/csi/v1/CreateVolumeRequest.js';
import type { CreateVolumeResponse } from '../gen/csi/v1/CreateVolumeResponse.js';
import type { DeleteSnapshotRequest__Output } from '../gen/csi/v1/DeleteSnapshotRequest.js';
import type { DeleteVolumeRequest__Output } from '../gen/csi/v1/DeleteVolumeRequest.js';
import type { GetCapacityRequest__Output } from '../gen/csi/v1/GetCapacityRequest.js';
import type { GetCapacityResponse } from '../gen/csi/v1/GetCapacityResponse.js';
import type { ListSnapshotsRequest__Output } from '../gen/csi/v1/ListSnapshotsRequest.js';
import type { ListSnapshotsResponse } from '../gen/csi/v1/ListSnapshotsResponse.js';
import type { ListVolumesRequest__Output } from '../gen/csi/v1/ListVolumesRequest.js';
import type { ListVolumesResponse } from '../gen/csi/v1/ListVolumesResponse.js';
import type { ValidateVolumeCapabilitiesRequest__Output } from '../gen/csi/v1/ValidateVolumeCapabilitiesRequest.js';
import type { ValidateVolumeCapabilitiesResponse } from '../gen/csi/v1/ValidateVolumeCapabilitiesResponse.js';
import type { VolumeCondition } from '../gen/csi/v1/VolumeCondition.js';
import { unary, type AdapterDeps, type CallContext } from '../server/adapter.js';
import {
  contentSourceOf,
  pickAgent,
  resolve,
  volumeOrNotFound,
  sizeRequest,
  toCsiSnapshot,
  toCsiVolume,
} from './controller-ops.js';
import { publish, unpublish, validatePublish } from './controller-publish.js';
import { askEach, describeSkipped, type Skipped } from './agent-fanout.js';
import { CreateAttempts } from './create-attempts.js';
import { page, tokenAfter } from './pagination.js';
import { checkRequisite, inSegment, type Segment } from './topology.js';
import { requireCapabilities, requireField, requireSupportedCapabilities, unsupportedReason } from './validate.js';

export interface ControllerOptions {
  agents: AgentDirectory;
  /** Size of a volume whose request has no capacity_range. */
  defaultVolumeBytes: number;
  /** Thin pool data or metadata percent at which a volume's condition is abnormal. */
  thinPoolThresholdPercent: number;
  /** Volumes one node may have published at once; 0 = no limit. */
  maxVolumesPerNode: number;
  /** --allow-publish-without-chap: the operator's opt-out of CHAP (default false: a publish without CHAP is refused). */
  allowPublishWithoutChap: boolean;
  /** The driver's one topology segment: volumes carry it, requisite topologies must name it, capacity is counted for it. */
  topology: Segment;
}

const CAPABILITIES = [
  'CREATE_DELETE_VOLUME',
  'CREATE_DELETE_SNAPSHOT',
  'LIST_SNAPSHOTS',
  'CLONE_VOLUME',
  'EXPAND_VOLUME',
  'LIST_VOLUMES',
  'GET_CAPACITY',
  'GET_VOLUME',
  'VOLUME_CONDITION',
  'PUBLISH_UNPUBLISH_VOLUME',
  'PUBLISH_READONLY',
  'LIST_VOLUMES_PUBLISHED_NODES',
] as const;

function controllerCapabilities(): ControllerServiceCapability[] {
  return CAPABILITIES.map((type) => ({ rpc: { type } }));
}

/** Agent answers to CreateVolume that mean nothing was made. */
const REFUSALS = new Set(['InvalidArgument', 'OutOfCapacity', 'OutOfRange', 'NotFound', 'FailedPrecondition']);

function notReady(v: VolumeInfo): Busy {
  return new Busy(`volume ${v.id} is not ready yet (${v.state}); retry later`);
}

/** What the handlers share: the options, the adapter's deps (log, metrics) and the names sent to agents. */
interface Controller {
  o: ControllerOptions;
  agents: AgentDirectory;
  deps: AdapterDeps;
  attempts: CreateAttempts;
}

const nameLock = (name: string) => [`name:${name}`];
const idLock = (id: string) => [`id:${id}`];

const unimplemented = (what: string) => async (): Promise<never> => {
  throw new Unimplemented(`${what} is not supported by this plugin`);
};

/** The defaults a StorageClass's parameters are read against on one storage node. */
function defaultsOf(agent: StorageAgent) {
  return { volumeGroups: agent.volumeGroups(), thinPoolConfigured: (vg: string) => agent.hasThinPool(vg) };
}

/** An answer given without the skipped agents: logged and counted. */
function noteSkipped(c: Controller, ctx: CallContext, call: string, skipped: readonly Skipped[]): void {
  if (skipped.length === 0) return;
  c.deps.metrics?.agentSkipped.inc({ call }, skipped.length);
  ctx.log.warn(
    { skipped: skipped.map((s) => s.agent.nodeName), reasons: describeSkipped(skipped) },
    `${call}: answered without unreachable storage agents`,
  );
}

/** The agent holding a volume of that name (asked all at once), and the agents that could not be asked. */
async function ownerOfVolume(
  c: Controller,
  name: string,
): Promise<{ owner: StorageAgent | undefined; skipped: Skipped[] }> {
  const { answers, skipped } = await askEach(c.agents, (a) => a.findVolumeByName(name));
  return { owner: answers.find((x) => x.value)?.agent, skipped };
}

async function findSnapshotByName(c: Controller, name: string) {
  const { answers, skipped } = await askEach(c.agents, (a) => a.findSnapshotByName(name));
  return { snapshot: answers.find((x) => x.value)?.value, skipped };
}

/**
 * A name lookup that could not ask every agent. With a content source the
 * volume can only be on the source's node, so the others do not matter.
 * Without one it could be anywhere an earlier attempt went: when this
 * process sent the name to an agent that is unreachable now, UNAVAILABLE
 * (the volume may be there); otherwise the lookup is answered without them.
 */
function checkSkippedForCreate(c: Controller, name: string, skipped: readonly Skipped[], ctx: CallContext): void {
  const prior = c.attempts.where(name);
  const there = skipped.find((s) => s.agent.nodeId === prior);
  if (there) {
    throw new Unavailable(
      `volume ${name} may already exist on storage node ${there.agent.nodeName}, where an earlier CreateVolume of this name went, and that agent cannot be reached now: ${there.reason}`,
    );
  }
  noteSkipped(c, ctx, 'CreateVolume', skipped);
}

/**
 * A listing of every agent that answers. An unreachable agent's entries are
 * left out (logged, counted): the external-attacher's ListVolumes reconcile
 * then re-publishes that agent's attached volumes, which fails UNAVAILABLE
 * and is retried, harmless; the health monitor reports nothing for a volume
 * it does not see. Failing the whole listing would stop both for every
 * volume of the cluster. With no agent answering, UNAVAILABLE.
 */
async function listedOrUnavailable<T>(
  c: Controller,
  ctx: CallContext,
  call: string,
  list: (a: StorageAgent) => Promise<T>,
) {
  const { answers, skipped } = await askEach(c.agents, list);
  if (answers.length === 0 && skipped.length > 0)
    throw new Unavailable(`no storage agent could be listed: ${describeSkipped(skipped)}`);
  noteSkipped(c, ctx, call, skipped);
  return answers;
}

/** `pool` answers the thin pool's status of a VG; a listing passes one that asks each agent once per VG. */
async function condition(
  o: ControllerOptions,
  v: VolumeInfo,
  pool: (vg: string) => Promise<PoolStatus>,
): Promise<VolumeCondition> {
  if (v.partial) return { abnormal: true, message: `a physical volume under ${v.vg}/${v.lv} is missing` };
  if (!v.active) return { abnormal: true, message: `logical volume ${v.vg}/${v.lv} is not active` };
  if (v.params.lvmType === 'thin') {
    // data or metadata at or above the threshold, or the pool failed / out of data space / read-only
    const problem = thinPoolProblem(await pool(v.vg), o.thinPoolThresholdPercent);
    if (problem) return { abnormal: true, message: problem };
  }
  return { abnormal: false, message: 'volume is healthy' };
}

// ---------------------------------------------------------------- validation (before any lock)

function validateCreateVolume(r: CreateVolumeRequest__Output): void {
  requireField('name', r.name);
  requireSupportedCapabilities('volume_capabilities', r.volume_capabilities);
  sizeRequest(r.capacity_range);
  contentSourceOf(r.volume_content_source);
  if (Object.keys(r.mutable_parameters ?? {}).length > 0) {
    throw new InvalidArgument(
      'mutable_parameters',
      'this plugin does not offer MODIFY_VOLUME, so mutable parameters cannot be given',
    );
  }
}

function validateValidateVolumeCapabilities(r: ValidateVolumeCapabilitiesRequest__Output): void {
  requireField('volume_id', r.volume_id);
  requireCapabilities('volume_capabilities', r.volume_capabilities);
}

function validateCreateSnapshot(r: CreateSnapshotRequest__Output): void {
  requireField('source_volume_id', r.source_volume_id);
  requireField('name', r.name);
  parseSnapshotParams(r.parameters);
}

function validateExpandVolume(r: ControllerExpandVolumeRequest__Output): void {
  requireField('volume_id', r.volume_id);
  if (!r.capacity_range) throw new InvalidArgument('capacity_range', 'is required');
  const size = sizeRequest(r.capacity_range);
  if (size.required === 0 && size.limit === 0)
    throw new InvalidArgument('capacity_range', 'required_bytes or limit_bytes must be given');
  if (r.volume_capability) requireSupportedCapabilities('volume_capability', [r.volume_capability]);
}

// ---------------------------------------------------------------- handlers

async function createVolume(
  c: Controller,
  r: CreateVolumeRequest__Output,
  ctx: CallContext,
): Promise<CreateVolumeResponse> {
  const { agents } = c;
  const range = sizeRequest(r.capacity_range);
  const source = contentSourceOf(r.volume_content_source);
  // With several storage nodes the name may be on any of them (an in-memory lookup on each, all at once);
  // with one, its agent decides idempotency in the same call that creates.
  const { owner, skipped } =
    agents.all().length > 1 ? await ownerOfVolume(c, r.name) : { owner: undefined, skipped: [] };
  if (!owner && !source) checkSkippedForCreate(c, r.name, skipped, ctx);
  else if (!owner) noteSkipped(c, ctx, 'CreateVolume', skipped);
  const src = source && !owner ? resolve(agents, source.id) : undefined;
  if (source && !owner && !src)
    throw new NotFound(`${source.kind === 'snapshot' ? 'snapshot' : 'source volume'} ${source.id} does not exist`);
  const agent = owner ?? src?.agent ?? (await pickAgent(agents, r.parameters, defaultsOf));
  const wantVg = r.parameters['volumeGroup'];
  if (src && wantVg !== undefined && !agent.volumeGroups().includes(wantVg)) {
    throw new InvalidArgument(
      'volume_content_source',
      `source ${source?.id} is on storage node ${agent.nodeName}, which has no volume group ${wantVg}; a copy cannot cross storage nodes`,
    );
  }
  const params = parseVolumeParams(r.parameters, defaultsOf(agent));
  c.attempts.note(r.name, agent.nodeId);
  const volume = await agent
    .createVolume({ name: r.name, range, defaultBytes: c.o.defaultVolumeBytes, params, source })
    .catch((e: unknown) => {
      // a refusal made nothing: the name may go elsewhere next time
      if (e instanceof DomainError && REFUSALS.has(e.kind)) c.attempts.forget(r.name);
      throw e;
    });
  if (volume.state !== 'ready') throw notReady(volume);
  return { volume: toCsiVolume(volume, c.o.topology) };
}

async function deleteVolume(c: Controller, r: DeleteVolumeRequest__Output): Promise<Record<string, never>> {
  // the agent refuses a volume that is still published or exported
  const where = resolve(c.agents, r.volume_id);
  if (where) await where.agent.deleteVolume(where.vg, where.lv);
  return {};
}

async function validateVolumeCapabilities(
  c: Controller,
  r: ValidateVolumeCapabilitiesRequest__Output,
): Promise<ValidateVolumeCapabilitiesResponse> {
  const { agent, v } = await volumeOrNotFound(c.agents, r.volume_id);
  const reasons = r.volume_capabilities.map(unsupportedReason).filter((x): x is string => Boolean(x));
  if (reasons.length > 0) return { message: reasons.join('; ') };
  if (Object.keys(r.parameters).length > 0) {
    try {
      if (!sameVolumeParams(parseVolumeParams(r.parameters, defaultsOf(agent)), v.params))
        return { message: "parameters differ from the volume's" };
    } catch (e) {
      return { message: (e as Error).message };
    }
  }
  return {
    confirmed: {
      volume_context: r.volume_context,
      volume_capabilities: r.volume_capabilities,
      parameters: r.parameters,
      mutable_parameters: {},
    },
  };
}

async function listVolumes(
  c: Controller,
  r: ListVolumesRequest__Output,
  ctx: CallContext,
): Promise<ListVolumesResponse> {
  if (r.max_entries < 0) throw new InvalidArgument('max_entries', 'must not be negative');
  // each storage node cuts its own page, one entry longer than asked: that entry says whether a next page exists
  const after = tokenAfter(r.starting_token);
  const ask = { readyOnly: true, limit: r.max_entries > 0 ? r.max_entries + 1 : 0, ...(after ? { after } : {}) };
  const all: VolumeInfo[] = [];
  for (const { value } of await listedOrUnavailable(c, ctx, 'ListVolumes', (a) => a.listVolumes(ask)))
    all.push(...value.filter((v) => v.state === 'ready')); // an agent from before paging answers all of them
  const { entries, nextToken } = page(all, r.max_entries, r.starting_token);
  // one pool status per agent and VG for the whole page, not one per volume (1,000 volumes: 1,000 asks)
  const pools = new Map<string, Promise<PoolStatus>>();
  const poolOf = (agent: StorageAgent, vg: string): Promise<PoolStatus> => {
    const key = `${agent.nodeId}/${vg}`;
    const status = pools.get(key) ?? agent.poolStatus(vg);
    pools.set(key, status);
    return status;
  };
  const out = [];
  for (const v of entries) {
    const agent = c.agents.byNodeId(v.id.split('/')[0] ?? '');
    out.push({
      volume: toCsiVolume(v, c.o.topology),
      status: {
        published_node_ids: v.published.map((x) => x.nodeId),
        volume_condition: agent ? await condition(c.o, v, (vg) => poolOf(agent, vg)) : null,
      },
    });
  }
  return { entries: out, next_token: nextToken };
}

async function getCapacity(
  c: Controller,
  r: GetCapacityRequest__Output,
  ctx: CallContext,
): Promise<GetCapacityResponse> {
  if (r.volume_capabilities.length > 0) requireSupportedCapabilities('volume_capabilities', r.volume_capabilities);
  // no volume of this driver is reachable from another segment: nothing to count there
  if (!inSegment(r.accessible_topology, c.o.topology))
    return { available_capacity: '0', maximum_volume_size: { value: '0' } };
  let available = 0;
  let maximum = 0;
  // an agent that cannot be reached (or never was: its volume groups are unknown) adds nothing:
  // placement skips it too
  const { answers, skipped } = await askEach(c.agents, async (a) => {
    const p = parseVolumeParams(r.parameters, defaultsOf(a));
    return a.capacity({ vg: p.volumeGroup, lvmType: p.lvmType, mirrors: p.mirrors, stripes: p.stripes });
  });
  noteSkipped(c, ctx, 'GetCapacity', skipped);
  for (const { value: cap } of answers) {
    available += cap.availableBytes;
    maximum = Math.max(maximum, cap.maximumVolumeBytes);
  }
  return { available_capacity: String(available), maximum_volume_size: { value: String(maximum) } };
}

async function createSnapshot(
  c: Controller,
  r: CreateSnapshotRequest__Output,
  ctx: CallContext,
): Promise<CreateSnapshotResponse> {
  const params = parseSnapshotParams(r.parameters);
  // several storage nodes: the name may be on any of them; the source's agent decides the rest in one call.
  // A snapshot is always made on its source's node, so agents that cannot be asked cannot hold
  // this request's snapshot (only a same-named one of another source would go unseen).
  const found = c.agents.all().length > 1 ? await findSnapshotByName(c, r.name) : { snapshot: undefined, skipped: [] };
  noteSkipped(c, ctx, 'CreateSnapshot', found.skipped);
  const existing = found.snapshot;
  if (existing) {
    if (existing.sourceVolumeId !== r.source_volume_id) {
      throw new AlreadyExists(`snapshot ${r.name} exists for another source volume (${existing.sourceVolumeId})`);
    }
    return { snapshot: toCsiSnapshot(existing) };
  }
  const where = resolve(c.agents, r.source_volume_id);
  if (!where) throw new NotFound(`source volume ${r.source_volume_id} does not exist`);
  const s = await where.agent.createSnapshot(r.name, where.vg, where.lv, params);
  return { snapshot: toCsiSnapshot(s) };
}

async function deleteSnapshot(c: Controller, r: DeleteSnapshotRequest__Output): Promise<Record<string, never>> {
  const where = resolve(c.agents, r.snapshot_id);
  if (where) await where.agent.deleteSnapshot(where.vg, where.lv);
  return {};
}

async function listSnapshots(
  c: Controller,
  r: ListSnapshotsRequest__Output,
  ctx: CallContext,
): Promise<ListSnapshotsResponse> {
  let all = [];
  if (r.snapshot_id) {
    const where = resolve(c.agents, r.snapshot_id);
    const s = where ? await where.agent.getSnapshot(where.vg, where.lv) : undefined;
    all = s ? [s] : [];
  } else {
    for (const { value } of await listedOrUnavailable(c, ctx, 'ListSnapshots', (a) => a.listSnapshots()))
      all.push(...value);
  }
  if (r.source_volume_id) all = all.filter((s) => s.sourceVolumeId === r.source_volume_id);
  const { entries, nextToken } = page(all, r.max_entries, r.starting_token);
  return { entries: entries.map((s) => ({ snapshot: toCsiSnapshot(s) })), next_token: nextToken };
}

async function expandVolume(
  c: Controller,
  r: ControllerExpandVolumeRequest__Output,
): Promise<ControllerExpandVolumeResponse> {
  const where = resolve(c.agents, r.volume_id);
  if (!where) throw new NotFound(`volume ${r.volume_id} does not exist`);
  const grown = await where.agent.expandVolume(where.vg, where.lv, sizeRequest(r.capacity_range));
  return { capacity_bytes: String(grown.sizeBytes), node_expansion_required: true };
}

async function getVolume(c: Controller, r: ControllerGetVolumeRequest__Output): Promise<ControllerGetVolumeResponse> {
  const { agent, v } = await volumeOrNotFound(c.agents, r.volume_id);
  return {
    volume: toCsiVolume(v, c.o.topology),
    status: {
      published_node_ids: v.published.map((x) => x.nodeId),
      volume_condition: await condition(c.o, v, (vg) => agent.poolStatus(vg)),
    },
  };
}

// ---------------------------------------------------------------- the service

/** Each RPC: its validation, its lock keys and its handler, through the one unary adapter. */
export function controllerHandlers(o: ControllerOptions, deps: AdapterDeps): ControllerHandlers {
  const c: Controller = { o, agents: o.agents, deps, attempts: new CreateAttempts() };
  const requireVolumeId = <R extends { volume_id: string }>(r: R) => requireField('volume_id', r.volume_id);
  const lockVolume = <R extends { volume_id: string }>(r: R) => idLock(r.volume_id);
  return {
    CreateVolume: unary(
      'Controller/CreateVolume',
      {
        validate: (r) => {
          validateCreateVolume(r);
          checkRequisite(r.accessibility_requirements, o.topology);
        },
        lockKeys: (r) => nameLock(r.name),
        handle: (r, ctx) => createVolume(c, r, ctx),
      },
      deps,
    ),
    DeleteVolume: unary(
      'Controller/DeleteVolume',
      { validate: requireVolumeId, lockKeys: lockVolume, handle: (r) => deleteVolume(c, r) },
      deps,
    ),
    ControllerPublishVolume: unary(
      'Controller/ControllerPublishVolume',
      { validate: validatePublish, lockKeys: lockVolume, handle: (r) => publish(o, r) },
      deps,
    ),
    ControllerUnpublishVolume: unary(
      'Controller/ControllerUnpublishVolume',
      { validate: requireVolumeId, lockKeys: lockVolume, handle: (r) => unpublish(o, r) },
      deps,
    ),
    ValidateVolumeCapabilities: unary(
      'Controller/ValidateVolumeCapabilities',
      { validate: validateValidateVolumeCapabilities, handle: (r) => validateVolumeCapabilities(c, r) },
      deps,
    ),
    ListVolumes: unary('Controller/ListVolumes', { handle: (r, ctx) => listVolumes(c, r, ctx) }, deps),
    GetCapacity: unary('Controller/GetCapacity', { handle: (r, ctx) => getCapacity(c, r, ctx) }, deps),
    ControllerGetCapabilities: unary(
      'Controller/ControllerGetCapabilities',
      { quiet: true, handle: async () => ({ capabilities: controllerCapabilities() }) },
      deps,
    ),
    CreateSnapshot: unary(
      'Controller/CreateSnapshot',
      {
        validate: validateCreateSnapshot,
        lockKeys: (r) => [...nameLock(`snapshot:${r.name}`), ...idLock(r.source_volume_id)],
        handle: (r, ctx) => createSnapshot(c, r, ctx),
      },
      deps,
    ),
    DeleteSnapshot: unary(
      'Controller/DeleteSnapshot',
      {
        validate: (r) => requireField('snapshot_id', r.snapshot_id),
        lockKeys: (r) => idLock(r.snapshot_id),
        handle: (r) => deleteSnapshot(c, r),
      },
      deps,
    ),
    ListSnapshots: unary('Controller/ListSnapshots', { handle: (r, ctx) => listSnapshots(c, r, ctx) }, deps),
    GetSnapshot: unary('Controller/GetSnapshot', { handle: unimplemented('GetSnapshot') }, deps),
    ControllerExpandVolume: unary(
      'Controller/ControllerExpandVolume',
      { validate: validateExpandVolume, lockKeys: lockVolume, handle: (r) => expandVolume(c, r) },
      deps,
    ),
    ControllerGetVolume: unary(
      'Controller/ControllerGetVolume',
      { validate: requireVolumeId, handle: (r) => getVolume(c, r) },
      deps,
    ),
    ControllerModifyVolume: unary(
      'Controller/ControllerModifyVolume',
      { handle: unimplemented('ControllerModifyVolume') },
      deps,
    ),
  };
}
