/**
 * CHAP credential checks shared by both targets. Messages name the field,
 * never the value.
 */
import { InvalidArgument } from '../errors.js';
import type { ChapCredentials } from './types.js';

/** LIO keeps each CHAP value in a 256-byte buffer (MAX_USERID_LEN, MAX_PASS_LEN) with its NUL. */
const MAX_CHAP_VALUE_BYTES = 255;

function check(field: string, value: string | undefined): void {
  if (value === undefined) return;
  if (value.length === 0) throw new InvalidArgument(field, 'must not be empty');
  if (Buffer.byteLength(value) > MAX_CHAP_VALUE_BYTES)
    throw new InvalidArgument(field, `longer than ${MAX_CHAP_VALUE_BYTES} bytes`);
  // control characters would end or split the value (configfs, tgtadm argv parsing);
  // LIO treats any value starting with "NULL" as "not set"; tgtadm splits --params on ','
  // eslint-disable-next-line no-control-regex -- rejecting control characters is the point
  if (/[\x00-\x1f\x7f]/.test(value)) throw new InvalidArgument(field, 'must not contain control characters');
  if (value.startsWith('NULL'))
    throw new InvalidArgument(field, 'must not start with "NULL" (LIO reads that as unset)');
}

/**
 * Userid and password are required; mutual userid and password come
 * together; the mutual password must differ from the initiator's (RFC 3720
 * 8.2.1: a secret used to authenticate the initiator must not authenticate
 * the target).
 */
export function assertChap(chap: ChapCredentials): void {
  check('chap.userid', chap.userid);
  check('chap.password', chap.password);
  check('chap.mutualUserid', chap.mutualUserid);
  check('chap.mutualPassword', chap.mutualPassword);
  if ((chap.mutualUserid === undefined) !== (chap.mutualPassword === undefined)) {
    throw new InvalidArgument('chap.mutualUserid', 'mutual userid and mutual password come together');
  }
  if (chap.mutualPassword !== undefined && chap.mutualPassword === chap.password) {
    throw new InvalidArgument('chap.mutualPassword', 'must differ from the password (RFC 3720 8.2.1)');
  }
}
