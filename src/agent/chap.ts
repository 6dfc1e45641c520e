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
 */
import { createHash, createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgument } from '../errors.js';
import { base32 } from '../lvm/names.js';
import type { ChapCredentials } from '../iscsi-target/types.js';

export type { ChapCredentials };

export const CHAP_KEYS = {
  user: 'chapUser',
  secret: 'chapSecret',
  mutualUser: 'mutualUser',
  mutualSecret: 'mutualSecret',
} as const;

/** 24 characters from [A-Za-z0-9_-]: within LIO's and open-iscsi's limits, above the 12 some initiators need. */
export function derivePassword(key: string, volumeId: string, purpose: 'initiator' | 'target'): string {
  return createHmac('sha256', key).update(`${purpose}:${volumeId}`).digest('base64url').slice(0, 24);
}

/** "<base>.<tag>": the user name for one volume (the tag is 10 base32 characters of the volume id's SHA-256). */
export function volumeUser(base: string, volumeId: string): string {
  return `${base}.${base32(createHash('sha256').update(volumeId).digest(), 10)}`;
}

/** Leaves room for the 11-character per-volume suffix within the 255 that LIO and open-iscsi accept. */
const USER = /^[A-Za-z0-9._:@-]{1,200}$/;

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
 * 16 base32 characters of SHA-256 over a volume's CHAP credentials: equal
 * credentials, equal fingerprints. Stored with a publication (never the
 * credentials); the passwords are HMAC outputs of 144 bits, so the
 * fingerprint gives nothing away.
 */
export function chapFingerprint(chap: ChapCredentials): string {
  const text = [chap.userid, chap.password, chap.mutualUserid ?? '', chap.mutualPassword ?? ''].join('\u0000');
  return base32(createHash('sha256').update(text).digest(), 16);
}
