/**
 * LV names derived from CSI names, and validators for VG / LV names.
 *
 * Scheme: `<prefix>-<26 chars of base32(sha256(csiName))>`, base32 being the
 * RFC 4648 alphabet in lower case (a-z, 2-7): 130 bits of the hash, so
 * collisions are not a practical concern, and the same CSI name always gives
 * the same LV name (retries find the LV they made). The CSI name itself is
 * kept in the `csi.name` tag.
 *
 *   volume  "pvc-3f1c..."        -> "vol-" + 26 = 30 characters
 *   snapshot "snapshot-77aa..."  -> "snap-" + 26 = 31 characters
 *   temporary LVs                -> "tmp-" + 26 = 30 characters
 *
 * so a volume id `<node>/<vg>/<lv>` stays far below CSI's 128 bytes.
 *
 * Why '-' and not '_' after the prefix: lvm refuses LV names that CONTAIN
 * _tdata, _tmeta, _cdata, _rimage, ... A '_' followed by hash characters could
 * spell one of them ("vol_cdata..." is possible with hex or base32); a '-'
 * cannot. Hyphens are doubled in /dev/mapper names (vg-vol--abc), which lvm
 * handles; /dev/<vg>/<lv> keeps the name as is.
 */

import { createHash } from 'node:crypto';
import { InvalidArgument } from '../errors.js';

const LV_NAME_HASH_LENGTH = 26;
/** lvm's NAME_LEN is 128 including the terminating NUL. */
const MAX_NAME_LENGTH = 127;

export type LvNameKind = 'volume' | 'snapshot' | 'temporary';

const LV_NAME_PREFIX: Readonly<Record<LvNameKind, string>> = Object.freeze({
  volume: 'vol-',
  snapshot: 'snap-',
  temporary: 'tmp-',
});

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** RFC 4648 base32 (lower case, no padding) of the first `chars` * 5 bits of `bytes`. */
export function base32(bytes: Uint8Array, chars: number): string {
  let out = '';
  let bits = 0;
  let acc = 0;
  for (const byte of bytes) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < chars) {
      out += BASE32.charAt((acc >>> (bits - 5)) & 31);
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
    if (out.length >= chars) break;
  }
  return out;
}

/** The deterministic LV name for a CSI name (volume or snapshot) or a temporary-LV seed. */
function lvNameFor(kind: LvNameKind, csiName: string): string {
  if (csiName.length === 0) throw new InvalidArgument('name', 'must not be empty');
  const digest = createHash('sha256').update(csiName, 'utf8').digest();
  return LV_NAME_PREFIX[kind] + base32(digest, LV_NAME_HASH_LENGTH);
}

export const volumeLvName = (csiName: string): string => lvNameFor('volume', csiName);
export const snapshotLvName = (csiName: string): string => lvNameFor('snapshot', csiName);
/** A temporary LV (e.g. a copy target) named from a seed such as "<purpose>/<final lv>". */
export const temporaryLvName = (seed: string): string => lvNameFor('temporary', seed);

/** Which kind of generated name this is, or undefined for any other LV name. */
export function lvNameKind(lvName: string): LvNameKind | undefined {
  for (const [kind, prefix] of Object.entries(LV_NAME_PREFIX) as [LvNameKind, string][]) {
    if (
      lvName.length === prefix.length + LV_NAME_HASH_LENGTH &&
      lvName.startsWith(prefix) &&
      /^[a-z2-7]+$/.test(lvName.slice(prefix.length))
    ) {
      return kind;
    }
  }
  return undefined;
}

const NAME_CHARS = /^[A-Za-z0-9+_.-]+$/;

/** Substrings lvm reserves for its internal LVs (lvm(8) "VALID NAMES", plus _imeta and _wcorig). */
const RESERVED_LV_SUBSTRINGS: readonly string[] = [
  '_cdata',
  '_cmeta',
  '_corig',
  '_imeta',
  '_iorig',
  '_mimage',
  '_mlog',
  '_pmspare',
  '_rimage',
  '_rmeta',
  '_tdata',
  '_tmeta',
  '_vdata',
  '_vorigin',
  '_wcorig',
];

function commonProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.length > MAX_NAME_LENGTH) return `must be at most ${MAX_NAME_LENGTH} characters`;
  if (!NAME_CHARS.test(name)) return 'may contain only A-Z a-z 0-9 + _ . -';
  if (name.startsWith('-')) return 'must not start with "-"';
  if (name === '.' || name === '..') return 'must not be "." or ".."';
  return undefined;
}

/** Why `name` is not a valid VG name, or undefined when it is. */
export function vgNameProblem(name: string): string | undefined {
  return commonProblem(name);
}

/** Why `name` is not a valid (user-visible) LV name, or undefined when it is. */
export function lvNameProblem(name: string): string | undefined {
  const p = commonProblem(name);
  if (p) return p;
  // lvm: 'Names starting "snapshot" are reserved', same for "pvmove".
  if (name.startsWith('snapshot')) return 'must not start with "snapshot"';
  if (name.startsWith('pvmove')) return 'must not start with "pvmove"';
  const reserved = RESERVED_LV_SUBSTRINGS.find((s) => name.includes(s));
  if (reserved) return `must not contain "${reserved}"`;
  return undefined;
}

/** Throw InvalidArgument(field) unless `name` is a valid VG name. */
export function assertVgName(name: string, field = 'vg'): void {
  const p = vgNameProblem(name);
  if (p) throw new InvalidArgument(field, `volume group name "${name}" ${p}`);
}

/** Throw InvalidArgument(field) unless `name` is a valid LV name. */
export function assertLvName(name: string, field = 'lv'): void {
  const p = lvNameProblem(name);
  if (p) throw new InvalidArgument(field, `logical volume name "${name}" ${p}`);
}
