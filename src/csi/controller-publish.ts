/**
 * ControllerPublishVolume / ControllerUnpublishVolume: CSI semantics of
 * attaching a volume to a node (who may hold it, idempotency, error codes).
 * The export itself (iSCSI target, ACL, CHAP) is the agent's work.
 */
import { exportReadOnly, READER_ONLY_MODES } from '../agent/access.js';
import { chapFromSecrets } from '../agent/chap.js';
import type { PublishInfo, StorageAgent, VolumeInfo } from '../agent/types.js';
import { AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, OutOfCapacity } from '../errors.js';
import type { ControllerPublishVolumeRequest__Output } from '../gen/csi/v1/ControllerPublishVolumeRequest.js';
import type { ControllerUnpublishVolumeRequest__Output } from '../gen/csi/v1/ControllerUnpublishVolumeRequest.js';
import { resolve, volumeOrNotFound, type AgentDirectory } from './controller-ops.js';
import { parseNodeId } from './node-id.js';
import { requireField, requireSupportedCapabilities } from './validate.js';

/** Access modes that allow one node at a time. */
const SINGLE_NODE = new Set(['SINGLE_NODE_WRITER', 'SINGLE_NODE_READER_ONLY', 'SINGLE_NODE_SINGLE_WRITER', 'SINGLE_NODE_MULTI_WRITER']);

export interface PublishOptions {
  agents: AgentDirectory;
  /** 0 = no limit. */
  maxVolumesPerNode: number;
}

export function validatePublish(r: ControllerPublishVolumeRequest__Output): void {
  requireField('volume_id', r.volume_id);
  requireField('node_id', r.node_id);
  if (!r.volume_capability) throw new InvalidArgument('volume_capability', 'is required');
  requireSupportedCapabilities('volume_capability', [r.volume_capability]);
}

/** publish_context keys the node reads (never a secret). */
export function publishContext(info: PublishInfo): Record<string, string> {
  if (info.kind === 'local') return { attach: 'local', devicePath: info.devicePath };
  return { attach: 'iscsi', targetIqn: info.targetIqn, portals: info.portals.join(','), lun: String(info.lun) };
}

async function countOnNode(agents: AgentDirectory, nodeId: string): Promise<number> {
  let n = 0;
  for (const a of agents.all()) n += (await a.listVolumes()).filter((v) => v.published.some((p) => p.nodeId === nodeId)).length;
  return n;
}

export async function publish(o: PublishOptions, r: ControllerPublishVolumeRequest__Output): Promise<{ publish_context: Record<string, string> }> {
  const node = parseNodeId(r.node_id);
  if (!node) throw new NotFound(`node ${r.node_id} is not a node id of this plugin (<node name>:<initiator IQN>)`);
  const { agent, v } = await volumeOrNotFound(o.agents, r.volume_id);
  if (v.state !== 'ready') throw new FailedPrecondition(`volume ${v.id} is not ready yet (${v.state})`);
  const mode = r.volume_capability?.access_mode?.mode ?? 'UNKNOWN';
  // Reader-only modes are exported read-only whatever the CO's flag (see agent/access.ts).
  const readOnly = r.readonly || READER_ONLY_MODES.has(mode);
  const mine = v.published.find((p) => p.nodeId === r.node_id);
  if (mine && (exportReadOnly(mine) !== readOnly || mine.mode !== mode)) {
    throw new AlreadyExists(`volume ${v.id} is published to ${r.node_id} with ${mine.mode}${exportReadOnly(mine) ? ' read-only' : ''}; unpublish it first`);
  }
  if (!mine) {
    // A single-node mode on either side refuses a second node (SINGLE_NODE_WRITER on A, then any mode on B, is refused here).
    const other = v.published.find((p) => p.nodeId !== r.node_id && (SINGLE_NODE.has(p.mode) || SINGLE_NODE.has(mode)));
    if (other) throw new FailedPrecondition(`volume ${v.id} is published to node ${other.nodeId} (${other.mode}); unpublish it there first`);
    // The export is read-only or read-write for every node at once (tgt's readonly is per LUN, LIO's backstore is
    // opened one way): a read-write node next to a read-only one would let the "reader-only" volume change under it.
    const mixed = v.published.find((p) => p.nodeId !== r.node_id && exportReadOnly(p) !== readOnly);
    if (mixed) {
      throw new FailedPrecondition(
        `volume ${v.id} is published ${exportReadOnly(mixed) ? 'read-only' : 'read-write'} to node ${mixed.nodeId} (${mixed.mode}); ` +
          `it cannot be published ${readOnly ? 'read-only' : 'read-write'} to another node at the same time`,
      );
    }
    if (o.maxVolumesPerNode > 0 && (await countOnNode(o.agents, r.node_id)) >= o.maxVolumesPerNode) {
      throw new OutOfCapacity(`node ${node.node} already has ${o.maxVolumesPerNode} volumes published (max_volumes_per_node)`);
    }
  }
  const chap = chapFromSecrets(r.secrets, v.id, 'secrets');
  const info = await agent.publish({
    vg: v.vg,
    lv: v.lv,
    publication: { nodeId: r.node_id, readOnly, mode },
    initiatorIqn: node.iqn,
    nodeName: node.node,
    chap,
  });
  return { publish_context: publishContext(info) };
}

export async function unpublish(o: PublishOptions, r: ControllerUnpublishVolumeRequest__Output): Promise<Record<string, never>> {
  const where = resolve(o.agents, r.volume_id);
  const v = where ? await where.agent.getVolume(where.vg, where.lv) : undefined;
  if (!where || !v) return {};
  const targets = r.node_id ? v.published.filter((p) => p.nodeId === r.node_id) : v.published;
  // A node id the volume was never published to may still hold a stale ACL (crash between steps): clean it too.
  const ids = targets.length > 0 ? targets.map((p) => p.nodeId) : r.node_id ? [r.node_id] : [];
  for (const nodeId of ids) {
    const node = parseNodeId(nodeId);
    if (node) await where.agent.unpublish(v.vg, v.lv, nodeId, node.iqn);
  }
  return {};
}
