/**
 * ControllerPublishVolume / ControllerUnpublishVolume: the CSI request to one
 * agent call. Who may hold a volume (agent/access.ts) and the export itself
 * (iSCSI target, ACL, CHAP) are the agent's work: it applies the rules to
 * every caller.
 */
import { READER_ONLY_MODES } from '../agent/access.js';
import { CHAP_MODE_KEY, chapFromSecrets, chapMode, nodeSecrets, type ChapMode } from '../agent/chap.js';
import type { AgentDirectory, PublishInfo } from '../agent/types.js';
import { FailedPrecondition, InvalidArgument, NotFound, OutOfCapacity } from '../errors.js';
import type { ControllerPublishVolumeRequest__Output } from '../gen/csi/v1/ControllerPublishVolumeRequest.js';
import type { ControllerUnpublishVolumeRequest__Output } from '../gen/csi/v1/ControllerUnpublishVolumeRequest.js';
import { resolve } from './controller-ops.js';
import { parseNodeId } from '../agent/node-id.js';
import { requireField, requireSupportedCapabilities } from './validate.js';

export interface PublishOptions {
  agents: AgentDirectory;
  /** 0 = no limit. */
  maxVolumesPerNode: number;
  /** --allow-publish-without-chap: without it a publish whose secrets name no CHAP is refused. */
  allowPublishWithoutChap: boolean;
}

/** What a publish without CHAP is refused with: what to set, either way. */
const CHAP_REQUIRED =
  'names no CHAP secret: CHAP is required. Name a Secret with chapUser and chapSecret in the StorageClass ' +
  '(csi.storage.k8s.io/controller-publish-secret-name and -namespace; see docs/security.md), ' +
  'or start the controller with --allow-publish-without-chap true to publish without CHAP';

export function validatePublish(r: ControllerPublishVolumeRequest__Output): void {
  requireField('volume_id', r.volume_id);
  requireField('node_id', r.node_id);
  if (!r.volume_capability) throw new InvalidArgument('volume_capability', 'is required');
  requireSupportedCapabilities('volume_capability', [r.volume_capability]);
}

/** publish_context keys the node reads (never a secret); `chapMode` says where the node's CHAP comes from. */
function publishContext(info: PublishInfo, chap: ChapMode | undefined): Record<string, string> {
  if (info.kind === 'local') return { attach: 'local', devicePath: info.devicePath };
  return {
    attach: 'iscsi',
    targetIqn: info.targetIqn,
    portals: info.portals.join(','),
    lun: String(info.lun),
    ...(chap ? { [CHAP_MODE_KEY]: chap } : {}),
  };
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
  // per-node: the volume's credentials come from the node's own secrets, which only this node holds
  const chapModeOf = chapMode(r.secrets, 'secrets');
  const secrets = chapModeOf === 'per-node' ? nodeSecrets(r.secrets, node.node, 'secrets') : r.secrets;
  const chap = chapFromSecrets(secrets, r.volume_id, 'secrets');
  if (!chap && !o.allowPublishWithoutChap)
    throw new FailedPrecondition(`ControllerPublishVolume of volume ${r.volume_id} ${CHAP_REQUIRED}`);
  const mode = r.volume_capability?.access_mode?.mode ?? 'UNKNOWN';
  // Reader-only modes are exported read-only whatever the CO's flag (see agent/access.ts).
  const readOnly = r.readonly || READER_ONLY_MODES.has(mode);
  if (o.maxVolumesPerNode > 0 && (await countOnNode(o.agents, r.node_id, r.volume_id)) >= o.maxVolumesPerNode) {
    throw new OutOfCapacity(
      `node ${node.node} already has ${o.maxVolumesPerNode} volumes published (max_volumes_per_node)`,
    );
  }
  const info = await where.agent.publish({
    vg: where.vg,
    lv: where.lv,
    publication: { nodeId: r.node_id, readOnly, mode },
    initiatorIqn: node.iqn,
    nodeName: node.node,
    chap,
  });
  return { publish_context: publishContext(info, chap ? chapModeOf : undefined) };
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
