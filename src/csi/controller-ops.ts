/**
 * Controller logic that is not request plumbing: choosing an agent, sizing,
 * idempotency comparisons and conversion of agent records to CSI messages.
 */
import type { AgentDirectory, SnapshotInfo, StorageAgent, SourceRef, VolumeInfo } from '../agent/types.js';
import { parseId } from '../agent/ids.js';
import { parseVolumeParams, type ParamDefaults } from '../agent/params.js';
import type { SizeRange } from '../agent/sizing.js';
import { InvalidArgument, NotFound, OutOfRange, Unavailable } from '../errors.js';
import type { Snapshot } from '../gen/csi/v1/Snapshot.js';
import type { Volume } from '../gen/csi/v1/Volume.js';
import type { VolumeContentSource } from '../gen/csi/v1/VolumeContentSource.js';
import type { Segment } from './topology.js';
import { int64 } from './validate.js';

/**
 * The storage node for a new volume without a content source: the agent with
 * the most room for these parameters. Agents whose volume groups are not
 * known yet (a remote agent never reached) are skipped; with one candidate no
 * capacity is read. Agents marked unreachable are skipped too. When none
 * fits, the first agent's error (e.g. an unknown volumeGroup parameter) is
 * the answer.
 */
export async function pickAgent(
  agents: AgentDirectory,
  parameters: Record<string, string>,
  defaults: (a: StorageAgent) => ParamDefaults,
): Promise<StorageAgent> {
  const candidates = agents.all().filter((a) => a.volumeGroups().length > 0 && agents.unavailable(a) === undefined);
  if (candidates.length === 0) throw new Unavailable('no storage agent is available');
  if (candidates.length === 1) return candidates[0] as StorageAgent;
  let best: StorageAgent | undefined;
  let bestBytes = -1;
  let firstError: unknown;
  for (const a of candidates) {
    try {
      const p = parseVolumeParams(parameters, defaults(a));
      const c = await a.capacity({ vg: p.volumeGroup, lvmType: p.lvmType, mirrors: p.mirrors, stripes: p.stripes });
      if (c.availableBytes > bestBytes) [best, bestBytes] = [a, c.availableBytes];
    } catch (e) {
      firstError ??= e;
    }
  }
  if (best) return best;
  throw firstError;
}

/** The agent and LV an id names, or undefined when the id is not ours or its node is unknown. */
export function resolve(
  agents: AgentDirectory,
  id: string,
): { agent: StorageAgent; vg: string; lv: string } | undefined {
  const ref = parseId(id);
  if (!ref) return undefined;
  const agent = agents.byNodeId(ref.node);
  return agent ? { agent, vg: ref.vg, lv: ref.lv } : undefined;
}

/** The live volume an id names; NOT_FOUND (with `what` in the message) when it is not there or being deleted. */
export async function volumeOrNotFound(
  agents: AgentDirectory,
  id: string,
  what = 'volume',
): Promise<{ agent: StorageAgent; v: VolumeInfo }> {
  const where = resolve(agents, id);
  const v = where ? await where.agent.getVolume(where.vg, where.lv) : undefined;
  if (!where || !v || v.state === 'deleting') throw new NotFound(`${what} ${id} does not exist`);
  return { agent: where.agent, v };
}

export function sizeRequest(
  range: { required_bytes?: string | number; limit_bytes?: string | number } | null | undefined,
): SizeRange {
  const required = int64('capacity_range.required_bytes', range?.required_bytes);
  const limit = int64('capacity_range.limit_bytes', range?.limit_bytes);
  if (limit > 0 && required > limit) {
    throw new OutOfRange(
      `capacity_range.required_bytes ${required} is larger than capacity_range.limit_bytes ${limit}`,
    );
  }
  return { required, limit };
}

export function contentSourceOf(src: VolumeContentSource | null | undefined): SourceRef | undefined {
  if (!src) return undefined;
  if (src.type === 'snapshot') {
    const id = src.snapshot?.snapshot_id ?? '';
    if (!id) throw new InvalidArgument('volume_content_source.snapshot.snapshot_id', 'is required');
    return { kind: 'snapshot', id };
  }
  if (src.type === 'volume') {
    const id = src.volume?.volume_id ?? '';
    if (!id) throw new InvalidArgument('volume_content_source.volume.volume_id', 'is required');
    return { kind: 'volume', id };
  }
  throw new InvalidArgument('volume_content_source', 'must name a snapshot or a volume');
}

/** The CSI Volume of a volume: reachable from the driver's one topology segment. */
export function toCsiVolume(v: VolumeInfo, segment: Segment): Volume {
  const context: Record<string, string> = { lvmType: v.params.lvmType, volumeGroup: v.vg };
  if (v.params.fsType) context['fsType'] = v.params.fsType;
  if (v.params.localAttach) context['localAttach'] = 'true';
  const vol: Volume = {
    volume_id: v.id,
    capacity_bytes: String(v.sizeBytes),
    volume_context: context,
    accessible_topology: [{ segments: { ...segment } }],
  };
  if (v.source?.kind === 'snapshot') vol.content_source = { snapshot: { snapshot_id: v.source.id } };
  if (v.source?.kind === 'volume') vol.content_source = { volume: { volume_id: v.source.id } };
  return vol;
}

export function toCsiSnapshot(s: SnapshotInfo): Snapshot {
  const ms = s.createdAt.getTime();
  return {
    snapshot_id: s.id,
    source_volume_id: s.sourceVolumeId,
    size_bytes: String(s.sizeBytes),
    creation_time: { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 },
    ready_to_use: s.readyToUse,
  };
}
