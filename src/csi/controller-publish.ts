/**
 * ControllerPublishVolume / ControllerUnpublishVolume: the CSI request to one
 * agent call. Who may hold a volume (agent/access.ts) and the export itself
 * (iSCSI target, ACL, CHAP) are the agent's work: it applies the rules to
 * every caller.
 */
import { READER_ONLY_MODES } from '../agent/access.js';
import { chapFromSecrets } from '../agent/chap.js';
import type { AgentDirectory, PublishInfo } from '../agent/types.js';
import { InvalidArgument, NotFound, OutOfCapacity } from '../errors.js';
import type { ControllerPublishVolumeRequest__Output } from '../gen/csi/v1/ControllerPublishVolumeRequest.js';
import type { ControllerUnpublishVolumeRequest__Output } from '../gen/csi/v1/ControllerUnpublishVolumeRequest.js';
import { resolve } from './controller-ops.js';
import { parseNodeId } from '../agent/node-id.js';
import { requireField, requireSupportedCapabilities } from './validate.js';

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
function publishContext(info: PublishInfo): Record<string, string> {
  if (info.kind === 'local') return { attach: 'local', devicePath: info.devicePath };
  return { attach: 'iscsi', targetIqn: info.targetIqn, portals: info.portals.join(','), lun: String(info.lun) };
}

/** Volumes other than `except` published to the node, on every storage node. */
async function countOnNode(agents: AgentDirectory, nodeId: string, except: string): Promise<number> {
  let n = 0;
  for (const a of agents.all())
    n += (await a.listVolumes()).filter((v) => v.id !== except && v.published.some((p) => p.nodeId === nodeId)).length;
  return n;
}

/**
 * One agent call: the agent checks the access rules against its record of
 * the volume (agent/access.ts) and exports it. Only a per-node limit, which
 * spans storage nodes, is counted here first.
 */
export async function publish(
  o: PublishOptions,
  r: ControllerPublishVolumeRequest__Output,
): Promise<{ publish_context: Record<string, string> }> {
  const node = parseNodeId(r.node_id);
  if (!node) throw new NotFound(`node ${r.node_id} is not a node id of this plugin (<node name>:<initiator IQN>)`);
  const where = resolve(o.agents, r.volume_id);
  if (!where) throw new NotFound(`volume ${r.volume_id} does not exist`);
  const mode = r.volume_capability?.access_mode?.mode ?? 'UNKNOWN';
  // Reader-only modes are exported read-only whatever the CO's flag (see agent/access.ts).
  const readOnly = r.readonly || READER_ONLY_MODES.has(mode);
  if (o.maxVolumesPerNode > 0 && (await countOnNode(o.agents, r.node_id, r.volume_id)) >= o.maxVolumesPerNode) {
    throw new OutOfCapacity(
      `node ${node.node} already has ${o.maxVolumesPerNode} volumes published (max_volumes_per_node)`,
    );
  }
  const chap = chapFromSecrets(r.secrets, r.volume_id, 'secrets');
  const info = await where.agent.publish({
    vg: where.vg,
    lv: where.lv,
    publication: { nodeId: r.node_id, readOnly, mode },
    initiatorIqn: node.iqn,
    nodeName: node.node,
    chap,
  });
  return { publish_context: publishContext(info) };
}

/** One agent call: the agent ends that node's access (every node's when node_id is empty). */
export async function unpublish(
  o: PublishOptions,
  r: ControllerUnpublishVolumeRequest__Output,
): Promise<Record<string, never>> {
  const where = resolve(o.agents, r.volume_id);
  if (where) await where.agent.unpublish(where.vg, where.lv, r.node_id);
  return {};
}
