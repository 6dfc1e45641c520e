/**
 * CHAP credentials. The StorageClass names a Secret (controller-publish secret
 * on the target side, node-stage secret on the initiator side) with the keys
 * below. Each volume gets its own credentials, derived from the secret and
 * the volume id, so neither side stores or sends per-volume secrets and a
 * credential leaked from one volume opens no other:
 *
 *   chapUser        base of the user name the initiator presents (one-way CHAP)
 *   chapSecret      key from which per-volume passwords derive   (one-way CHAP)
 *   mutualUser      base of the user name the target presents    (mutual CHAP, optional)
 *   mutualSecret    key for the target's per-volume password     (mutual CHAP, optional)
 *
 * password = HMAC-SHA256(key, "<purpose>:<volume id>"), 24 base64url chars.
 * user     = "<base>.<10 base32 chars of SHA-256(volume id)>". Per-volume
 * user names are what tgt needs (its accounts are daemon-wide: one user
 * cannot have a different password on each target); LIO gets the same names
 * so both backends behave alike.
 *
 * Modes (the Secret's optional `chapMode` key):
 *
 *   shared    (default) every node gets the Secret as its node-stage secret,
 *             so every node can derive every volume's credentials.
 *   per-node  the controller first derives the node's own secrets from the
 *             Secret and the node name (nodeSecrets below: each key an HMAC
 *             of the master key, user names tagged with the node), then the
 *             volume's credentials from those. A node holds only its own
 *             derived secrets (a file, --chap-node-key-file), so it cannot
 *             derive another node's credentials for any volume. The
 *             StorageClass names no node-stage secret; publish_context says
 *             `chapMode: per-node` (never a secret).
 */
import { createHash, createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FailedPrecondition, InvalidArgument } from '../errors.js';
import { base32 } from '../lvm/names.js';
import type { ChapCredentials } from '../iscsi-target/types.js';

export type { ChapCredentials };

export const CHAP_KEYS = {
  user: 'chapUser',
  secret: 'chapSecret',
  mutualUser: 'mutualUser',
  mutualSecret: 'mutualSecret',
} as const;

/** The Secret's key naming the mode; publish_context's key saying it to the node. */
export const CHAP_MODE_KEY = 'chapMode';
export type ChapMode = 'shared' | 'per-node';

/** 24 characters from [A-Za-z0-9_-]: within LIO's and open-iscsi's limits, above the 12 some initiators need. */
export function derivePassword(key: string, volumeId: string, purpose: 'initiator' | 'target'): string {
  return createHmac('sha256', key).update(`${purpose}:${volumeId}`).digest('base64url').slice(0, 24);
}

/** "<base>.<tag>": the user name for one volume (the tag is 10 base32 characters of the volume id's SHA-256). */
export function volumeUser(base: string, volumeId: string): string {
  return `${base}.${base32(createHash('sha256').update(volumeId).digest(), 10)}`;
}

/** Leaves room for the 11-character per-volume suffix within the 255 that LIO and open-iscsi accept. */
const MAX_USER = 200;
const USER = new RegExp(`^[A-Za-z0-9._:@-]{1,${MAX_USER}}$`);

/** The Secret's mode: `shared` unless chapMode says `per-node`; InvalidArgument for another value (never echoed). */
export function chapMode(secrets: Readonly<Record<string, string>>, field: string): ChapMode {
  const m = secrets[CHAP_MODE_KEY];
  if (m === undefined || m === '' || m === 'shared') return 'shared';
  if (m === 'per-node') return 'per-node';
  throw new InvalidArgument(`${field}.${CHAP_MODE_KEY}`, 'must be shared or per-node');
}

/** "<base>.<tag>" with 10 base32 characters of SHA-256("node:<node name>"). */
function nodeUser(base: string, nodeName: string): string {
  return `${base}.${base32(createHash('sha256').update(`node:${nodeName}`).digest(), 10)}`;
}

/** A node's key: HMAC-SHA256(master key, "node:<node name>"), 43 base64url characters. */
function nodeKey(key: string, nodeName: string): string {
  return createHmac('sha256', key).update(`node:${nodeName}`).digest('base64url');
}

/**
 * Per-node mode: the secrets of one node, with the same keys as the master
 * Secret (so chapFromSecrets derives the volume's credentials from them):
 * user names tagged with the node, keys HMACs of the master's keys. Only the
 * holder of the master (the controller, the agent's --chap-secret-dir, the
 * operator) can make them; one node's cannot be turned into another's.
 * The master is checked as chapFromSecrets checks it (messages name `field`).
 */
export function nodeSecrets(
  master: Readonly<Record<string, string>>,
  nodeName: string,
  field: string,
): Record<string, string> {
  if (!chapFromSecrets(master, '', field))
    throw new InvalidArgument(`${field}.${CHAP_KEYS.user}`, 'is required for CHAP');
  const out: Record<string, string> = {
    [CHAP_KEYS.user]: nodeUser(master[CHAP_KEYS.user] as string, nodeName),
    [CHAP_KEYS.secret]: nodeKey(master[CHAP_KEYS.secret] as string, nodeName),
  };
  const mUser = master[CHAP_KEYS.mutualUser];
  const mKey = master[CHAP_KEYS.mutualSecret];
  if (mUser !== undefined && mKey !== undefined) {
    out[CHAP_KEYS.mutualUser] = nodeUser(mUser, nodeName);
    out[CHAP_KEYS.mutualSecret] = nodeKey(mKey, nodeName);
  }
  for (const k of [CHAP_KEYS.user, CHAP_KEYS.mutualUser])
    if ((out[k]?.length ?? 0) > MAX_USER)
      throw new InvalidArgument(`${field}.${k}`, `is at most ${MAX_USER - 11} characters with chapMode per-node`);
  return out;
}

/** undefined when the secrets name no CHAP at all; InvalidArgument naming the key when half-configured. */
export function chapFromSecrets(
  secrets: Readonly<Record<string, string>>,
  volumeId: string,
  field: string,
): ChapCredentials | undefined {
  const user = secrets[CHAP_KEYS.user];
  const key = secrets[CHAP_KEYS.secret];
  const mUser = secrets[CHAP_KEYS.mutualUser];
  const mKey = secrets[CHAP_KEYS.mutualSecret];
  if (user === undefined && key === undefined && mUser === undefined && mKey === undefined) return undefined;
  if (!user || !USER.test(user))
    throw new InvalidArgument(
      `${field}.${CHAP_KEYS.user}`,
      'is required for CHAP (1-200 characters of [A-Za-z0-9._:@-])',
    );
  if (!key || key.length < 16)
    throw new InvalidArgument(
      `${field}.${CHAP_KEYS.secret}`,
      'is required for CHAP and must be at least 16 characters',
    );
  const creds: ChapCredentials = {
    userid: volumeUser(user, volumeId),
    password: derivePassword(key, volumeId, 'initiator'),
  };
  if (mUser !== undefined || mKey !== undefined) {
    if (!mUser || !USER.test(mUser))
      throw new InvalidArgument(`${field}.${CHAP_KEYS.mutualUser}`, 'is required for mutual CHAP');
    if (!mKey || mKey.length < 16)
      throw new InvalidArgument(
        `${field}.${CHAP_KEYS.mutualSecret}`,
        'is required for mutual CHAP and must be at least 16 characters',
      );
    creds.mutualUserid = volumeUser(mUser, volumeId);
    creds.mutualPassword = derivePassword(mKey, volumeId, 'target');
  }
  return creds;
}

/**
 * The agent-level secret: a Secret mounted as a directory, one file per key
 * (the same keys as above). undefined when the directory holds none of them.
 */
export async function readSecretDir(dir: string): Promise<Record<string, string> | undefined> {
  const out: Record<string, string> = {};
  for (const key of Object.values(CHAP_KEYS)) {
    const text = await readFile(join(dir, key), 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    if (text !== undefined) out[key] = text.replace(/\r?\n$/, '');
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * The file a node holds in per-node mode (--chap-node-key-file), made by
 * `csi-lvm-iscsi chap-node-key`: JSON with the node's name and its secrets
 * (nodeSecrets). The name guards against a file installed on the wrong node.
 */
export function nodeKeyFile(master: Readonly<Record<string, string>>, nodeName: string): string {
  return `${JSON.stringify({ node: nodeName, ...nodeSecrets(master, nodeName, 'secret') }, null, 2)}\n`;
}

/**
 * Reads this node's key file: its secrets when it names `nodeName` and holds
 * the CHAP keys; FailedPrecondition naming the file otherwise (never a value).
 */
export async function readNodeKeyFile(path: string, nodeName: string): Promise<Record<string, string>> {
  const bad = (why: string) => new FailedPrecondition(`CHAP node key file ${path} (--chap-node-key-file) ${why}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw bad(code ? `cannot be read (${code})` : 'is not JSON (make it with csi-lvm-iscsi chap-node-key)');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw bad('is not a JSON object');
  const o = parsed as Record<string, unknown>;
  if (o['node'] !== nodeName) throw bad(`is not this node's (it names another node than ${nodeName})`);
  const out: Record<string, string> = {};
  for (const k of Object.values(CHAP_KEYS)) {
    const v = o[k];
    if (v === undefined) continue;
    if (typeof v !== 'string') throw bad(`has a ${k} that is not a string`);
    out[k] = v;
  }
  if (!out[CHAP_KEYS.user] || !out[CHAP_KEYS.secret]) throw bad(`lacks ${CHAP_KEYS.user} or ${CHAP_KEYS.secret}`);
  return out;
}

/**
 * 16 base32 characters of SHA-256 over a volume's CHAP credentials: equal
 * credentials, equal fingerprints. Stored with a publication (never the
 * credentials); the passwords are HMAC outputs of 144 bits, so the
 * fingerprint gives nothing away.
 */
export function chapFingerprint(chap: ChapCredentials): string {
  const text = [chap.userid, chap.password, chap.mutualUserid ?? '', chap.mutualPassword ?? ''].join('\u0000');
  return base32(createHash('sha256').update(text).digest(), 16);
}
