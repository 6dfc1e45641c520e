/**
 * Where NodeStageVolume takes its CHAP credentials from, as the controller's
 * publish_context says (agent/chap.ts): `per-node` from this node's own key
 * file (--chap-node-key-file), `shared` from the node-stage secret, none
 * (no CHAP, or a publication by an older version) from the node-stage secret
 * if it names CHAP. A missing source is FAILED_PRECONDITION saying what to
 * install or set, before any login.
 */
import { CHAP_MODE_KEY, chapFromSecrets, readNodeKeyFile, type ChapCredentials } from '../agent/chap.js';
import { FailedPrecondition, InvalidArgument } from '../errors.js';

export interface NodeChapOptions {
  /** This node's name (--node-id): the key file must name it. */
  nodeName: string;
  /** --chap-node-key-file: read at every stage, so a replaced key applies at the next login. */
  chapNodeKeyFile: string | undefined;
}

export async function stageChap(
  o: NodeChapOptions,
  r: { volume_id: string; publish_context: Record<string, string>; secrets: Record<string, string> },
): Promise<ChapCredentials | undefined> {
  const mode = r.publish_context[CHAP_MODE_KEY];
  if (mode === 'per-node') {
    if (!o.chapNodeKeyFile)
      throw new FailedPrecondition(
        `volume ${r.volume_id} is published with per-node CHAP (publish_context.${CHAP_MODE_KEY}) and this node plugin has no --chap-node-key-file: install this node's key (csi-lvm-iscsi chap-node-key, see docs/security.md)`,
      );
    const secrets = await readNodeKeyFile(o.chapNodeKeyFile, o.nodeName);
    return chapFromSecrets(secrets, r.volume_id, 'chap-node-key-file');
  }
  if (mode !== undefined && mode !== 'shared')
    throw new InvalidArgument(`publish_context.${CHAP_MODE_KEY}`, 'must be shared or per-node');
  const chap = chapFromSecrets(r.secrets, r.volume_id, 'secrets');
  if (!chap && mode === 'shared')
    throw new FailedPrecondition(
      `volume ${r.volume_id} is published with CHAP and NodeStageVolume got no CHAP secret: name the StorageClass's CHAP Secret as node-stage secret too (csi.storage.k8s.io/node-stage-secret-name and -namespace)`,
    );
  return chap;
}
