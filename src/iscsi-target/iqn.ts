/**
 * iSCSI names (RFC 3720 3.2.6, RFC 3722): the target IQN and unit serial
 * derived from a volume, and the validator for initiator names.
 *
 * An iSCSI name is at most 223 bytes, in its normalized (stringprep'd) form
 * lower case, made of a-z 0-9 '-' '.' ':' (ASCII only here). Three forms:
 *   iqn.YYYY-MM.<reversed domain>[:<anything>]   iqn.2024-01.org.example:storage.vol1
 *   eui.<16 hex digits>                          eui.02004567A425678D
 *   naa.<16 or 32 hex digits>                    naa.52004567BA64678D
 */
import { createHash } from 'node:crypto';
import { InvalidArgument } from '../errors.js';

const MAX_ISCSI_NAME_BYTES = 223;
export const DEFAULT_IQN_PREFIX = 'iqn.2024-01.org.example.csi-lvm-iscsi';
/** Hex characters of the unit serial: fits tgt's scsi_sn / scsi_id (36) and LIO's 254. */
const SERIAL_HEX_LENGTH = 32;

const LABEL = '[a-z0-9](?:[a-z0-9-]*[a-z0-9])?';
const IQN_HEAD = `iqn\\.[0-9]{4}-(?:0[1-9]|1[0-2])\\.${LABEL}(?:\\.${LABEL})*`;
const IQN_RE = new RegExp(`^${IQN_HEAD}(?::[a-z0-9.:-]*)?$`);
const EUI_RE = /^eui\.[0-9A-Fa-f]{16}$/;
const NAA_RE = /^naa\.(?:[0-9A-Fa-f]{16}|[0-9A-Fa-f]{32})$/;

/** Why `name` is not a valid iSCSI name, or undefined when it is. */
export function iscsiNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (Buffer.byteLength(name) > MAX_ISCSI_NAME_BYTES) return `longer than ${MAX_ISCSI_NAME_BYTES} bytes`;
  if (name.startsWith('iqn.')) {
    if (/[A-Z]/.test(name)) return 'iqn names are lower case (RFC 3722 normalizes them)';
    return IQN_RE.test(name)
      ? undefined
      : 'not of the form iqn.YYYY-MM.reversed.domain[:unique] with only a-z 0-9 - . :';
  }
  if (name.startsWith('eui.')) return EUI_RE.test(name) ? undefined : 'eui. must be followed by 16 hex digits';
  if (name.startsWith('naa.')) return NAA_RE.test(name) ? undefined : 'naa. must be followed by 16 or 32 hex digits';
  return 'must start with iqn., eui. or naa.';
}

export function isValidIscsiName(name: string): boolean {
  return iscsiNameProblem(name) === undefined;
}

/** Throws InvalidArgument(field) for a name that is not a valid iSCSI name. */
export function assertIscsiName(field: string, name: string): void {
  const problem = iscsiNameProblem(name);
  if (problem) throw new InvalidArgument(field, `invalid iSCSI name ${JSON.stringify(name)}: ${problem}`);
}

/** Throws InvalidArgument for an IQN prefix that target IQNs cannot be built on. */
export function assertIqnPrefix(prefix: string, field = 'iqnPrefix'): void {
  if (!IQN_RE.test(prefix)) {
    throw new InvalidArgument(
      field,
      `${JSON.stringify(prefix)} is not an IQN (iqn.YYYY-MM.reversed.domain[:...], lower case)`,
    );
  }
  // room for ":<vg>:<lv>" with at least one character each and a hash
  if (Buffer.byteLength(prefix) > MAX_ISCSI_NAME_BYTES - 40)
    throw new InvalidArgument(field, `longer than ${MAX_ISCSI_NAME_BYTES - 40} bytes`);
}

const IQN_SAFE = /^[a-z0-9.-]+$/;

function hashHex(text: string, chars: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, chars);
}

/**
 * The target IQN of volume vg/lv: `<prefix>:<vg>:<lv>` when both names are
 * already valid IQN text (lower case a-z 0-9 . -; LVM names may also hold
 * A-Z + _) and the whole fits 223 bytes, e.g.
 *   iqn.2024-01.org.example.csi-lvm-iscsi:csivg:vol-abcd...
 * Otherwise `<prefix>:<vg'>:<lv'>:<16 hex of sha256("vg/lv")>` with vg'/lv'
 * lower-cased, other characters turned into '-', shortened to fit. ':' never
 * occurs in LVM names, so the two forms cannot collide and the mapping is
 * one-to-one (up to the hash).
 */
export function targetIqn(vg: string, lv: string, prefix: string = DEFAULT_IQN_PREFIX): string {
  assertIqnPrefix(prefix);
  if (vg.length === 0 || lv.length === 0) throw new InvalidArgument('volume', 'VG and LV names must not be empty');
  const plain = `${prefix}:${vg}:${lv}`;
  if (IQN_SAFE.test(vg) && IQN_SAFE.test(lv) && Buffer.byteLength(plain) <= MAX_ISCSI_NAME_BYTES) return plain;
  const clean = (s: string) => s.toLowerCase().replace(/[^a-z0-9.-]/g, '-');
  const hash = hashHex(`${vg}/${lv}`, 16);
  const budget = MAX_ISCSI_NAME_BYTES - prefix.length - hash.length - 3;
  let v = clean(vg);
  let l = clean(lv);
  if (v.length + l.length > budget) {
    const half = Math.floor(budget / 2);
    if (v.length > half && l.length > half) {
      v = v.slice(0, half);
      l = l.slice(0, budget - half);
    } else if (v.length > half) v = v.slice(0, budget - l.length);
    else l = l.slice(0, budget - v.length);
  }
  return `${prefix}:${v}:${l}:${hash}`;
}

/**
 * The unit serial of volume vg/lv: 32 lower-case hex digits of
 * sha256("vg/lv"). LIO builds the NAA-6 WWID from its first 25 hex digits
 * (naa.6001405 + 25 digits), tgt gets it as scsi_id and scsi_sn; the
 * initiator's WWID therefore stays the same across re-exports.
 */
export function unitSerial(vg: string, lv: string): string {
  return hashHex(`${vg}/${lv}`, SERIAL_HEX_LENGTH);
}

/** Serials this package writes: hex, or at least nothing that breaks a configfs write or a tgtadm --params list. */
export function assertSerial(serial: string): void {
  if (!/^[A-Za-z0-9_.-]{1,36}$/.test(serial)) {
    throw new InvalidArgument('serial', `${JSON.stringify(serial)}: 1-36 characters of A-Z a-z 0-9 _ . - expected`);
  }
}
