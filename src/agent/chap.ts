/**
 * CHAP credentials. The StorageClass names a Secret (controller-publish secret
 * on the target side, node-stage secret on the initiator side) with the keys
 * below. Each volume gets its own password, an HMAC of the volume id keyed
 * with the secret, so neither side stores or sends per-volume secrets and a
 * credential leaked from one volume opens no other.
 *
 *   chapUser        user name the initiator presents          (one-way CHAP)
 *   chapSecret      key from which per-volume passwords derive (one-way CHAP)
 *   mutualUser      user name the target presents             (mutual CHAP, optional)
 *   mutualSecret    key for the target's per-volume password   (mutual CHAP, optional)
 */
import { createHmac } from 'node:crypto';
import { InvalidArgument } from '../errors.js';
import type { ChapCredentials } from '../target/types.js';

export type { ChapCredentials };

export const CHAP_KEYS = { user: 'chapUser', secret: 'chapSecret', mutualUser: 'mutualUser', mutualSecret: 'mutualSecret' } as const;

/** 24 characters from [A-Za-z0-9_-]: within LIO's and open-iscsi's limits, above the 12 some initiators need. */
export function derivePassword(key: string, volumeId: string, purpose: 'initiator' | 'target'): string {
  return createHmac('sha256', key).update(`${purpose}:${volumeId}`).digest('base64url').slice(0, 24);
}

const USER = /^[A-Za-z0-9._:@-]{1,255}$/;

/** undefined when the secrets name no CHAP at all; InvalidArgument naming the key when half-configured. */
export function chapFromSecrets(secrets: Readonly<Record<string, string>>, volumeId: string, field: string): ChapCredentials | undefined {
  const user = secrets[CHAP_KEYS.user];
  const key = secrets[CHAP_KEYS.secret];
  const mUser = secrets[CHAP_KEYS.mutualUser];
  const mKey = secrets[CHAP_KEYS.mutualSecret];
  if (user === undefined && key === undefined && mUser === undefined && mKey === undefined) return undefined;
  if (!user || !USER.test(user)) throw new InvalidArgument(`${field}.${CHAP_KEYS.user}`, 'is required for CHAP (1-255 characters of [A-Za-z0-9._:@-])');
  if (!key || key.length < 16) throw new InvalidArgument(`${field}.${CHAP_KEYS.secret}`, 'is required for CHAP and must be at least 16 characters');
  const creds: ChapCredentials = { userid: user, password: derivePassword(key, volumeId, 'initiator') };
  if (mUser !== undefined || mKey !== undefined) {
    if (!mUser || !USER.test(mUser)) throw new InvalidArgument(`${field}.${CHAP_KEYS.mutualUser}`, 'is required for mutual CHAP');
    if (!mKey || mKey.length < 16) throw new InvalidArgument(`${field}.${CHAP_KEYS.mutualSecret}`, 'is required for mutual CHAP and must be at least 16 characters');
    creds.mutualUserid = mUser;
    creds.mutualPassword = derivePassword(mKey, volumeId, 'target');
  }
  return creds;
}
