/**
 * The node_id this plugin hands to the CO: "<node name>:<initiator IQN>", e.g.
 *   worker-1:iqn.1993-08.org.debian:01:4f6c0a9e2b
 * Node names are DNS subdomains (no ':'), so the first ':' separates the two.
 * At most 256 bytes (CSI); stable across restarts because both parts are.
 */
const MAX_NODE_ID_BYTES = 256;

export interface NodeIdParts {
  node: string;
  iqn: string;
}

const NODE = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;
/** iqn.YYYY-MM.reversed.domain[:anything] (RFC 3720), eui.16HEX, naa.16or32HEX; lower case. */
const INITIATOR =
  /^(iqn\.\d{4}-\d{2}\.[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::[a-z0-9.:_-]+)?|eui\.[0-9a-f]{16}|naa\.(?:[0-9a-f]{16}|[0-9a-f]{32}))$/;

export function isInitiatorName(iqn: string): boolean {
  return Buffer.byteLength(iqn) <= 223 && INITIATOR.test(iqn);
}

/** Throws with the reason when the parts cannot form a node id. */
export function formatNodeId(p: NodeIdParts): string {
  if (!NODE.test(p.node)) throw new Error(`node name "${p.node}" is not a Kubernetes node name`);
  if (!isInitiatorName(p.iqn))
    throw new Error(`initiator name "${p.iqn}" is not a valid iSCSI name (iqn., eui. or naa.)`);
  const id = `${p.node}:${p.iqn}`;
  if (Buffer.byteLength(id) > MAX_NODE_ID_BYTES)
    throw new Error(`node id ${id} is longer than ${MAX_NODE_ID_BYTES} bytes`);
  return id;
}

/** undefined for anything that is not a node id of this plugin. */
export function parseNodeId(id: string): NodeIdParts | undefined {
  if (Buffer.byteLength(id) > MAX_NODE_ID_BYTES) return undefined;
  const i = id.indexOf(':');
  if (i <= 0) return undefined;
  const node = id.slice(0, i);
  const iqn = id.slice(i + 1);
  return NODE.test(node) && isInitiatorName(iqn) ? { node, iqn } : undefined;
}
