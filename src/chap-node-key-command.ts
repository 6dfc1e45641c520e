/**
 * `csi-lvm-iscsi chap-node-key --node-id NODE [--secret-dir DIR]`: the
 * operator's command for per-node CHAP (agent/chap.ts). Reads the
 * StorageClass's CHAP Secret, either as a mounted directory (one file per key)
 * or as the Secret object in JSON on stdin (`kubectl get secret -o json`), and
 * prints the node's key file for --chap-node-key-file. Nothing is logged; the
 * output holds only that node's derived secrets, never the master's.
 */
import { CHAP_KEYS, nodeKeyFile, readSecretDir } from './agent/chap.js';
import { ConfigError, parseFlags } from './config.js';

export const CHAP_NODE_KEY_HELP = [
  'Usage: csi-lvm-iscsi chap-node-key --node-id NODE [--secret-dir DIR]',
  '',
  "Prints NODE's CHAP key file for --chap-node-key-file (per-node CHAP: the Secret says chapMode: per-node).",
  'The CHAP Secret is read from DIR (one file per key, as a mounted Secret) or, without --secret-dir, as a',
  'Kubernetes Secret in JSON on stdin, e.g.:',
  '  kubectl -n csi-lvm-iscsi get secret csi-lvm-iscsi-chap -o json | csi-lvm-iscsi chap-node-key --node-id worker-1',
  'Install the output on that node only, readable by root only (e.g. /etc/csi-lvm-iscsi/chap-node-key.json, mode 0600).',
].join('\n');

export interface ChapNodeKeyArgs {
  readonly nodeName: string;
  readonly secretDir: string | undefined;
}

/** argv after the word "chap-node-key". */
export function parseChapNodeKeyArgs(argv: readonly string[]): ChapNodeKeyArgs | { help: true } {
  const v = parseFlags(argv, ['node-id', 'secret-dir']);
  if (!v) return { help: true };
  const node = typeof v['node-id'] === 'string' ? v['node-id'] : '';
  const problems: string[] = [];
  if (!node) problems.push('node-id: required (the Kubernetes node name the key is for)');
  else if (!/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(node))
    problems.push(`node-id: "${node}" must be a Kubernetes node name`);
  const dir = typeof v['secret-dir'] === 'string' ? v['secret-dir'] : undefined;
  if (dir !== undefined && !dir.startsWith('/')) problems.push(`secret-dir: "${dir}" must be an absolute path`);
  if (problems.length > 0) throw new ConfigError(problems);
  return { nodeName: node, secretDir: dir };
}

/** The CHAP keys of a Kubernetes Secret object (data base64-encoded, or stringData). */
export function secretFromJson(text: string): Record<string, string> {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    throw new ConfigError(['stdin: not JSON (pipe `kubectl get secret NAME -o json`, or use --secret-dir)']);
  }
  const obj = (typeof o === 'object' && o !== null ? o : {}) as Record<string, unknown>;
  const data = (obj['data'] ?? {}) as Record<string, unknown>;
  const stringData = (obj['stringData'] ?? {}) as Record<string, unknown>;
  const out: Record<string, string> = {};
  for (const k of Object.values(CHAP_KEYS)) {
    if (typeof stringData[k] === 'string') out[k] = stringData[k];
    else if (typeof data[k] === 'string') out[k] = Buffer.from(data[k], 'base64').toString('utf8');
  }
  return out;
}

export async function runChapNodeKey(
  a: ChapNodeKeyArgs,
  stdin: () => Promise<string>,
  out: NodeJS.WritableStream,
): Promise<void> {
  const secrets = a.secretDir ? ((await readSecretDir(a.secretDir)) ?? {}) : secretFromJson(await stdin());
  out.write(nodeKeyFile(secrets, a.nodeName));
}
