/**
 * Metadata in LV tags.
 *
 * LVM tags allow only [A-Za-z0-9] and `_ + . - / = ! : & #` (lvm2
 * validate_tag(); checked on 2.03.16: ';' ',' '@' '%' '~' and spaces are
 * refused). We keep each tag within 1024 characters.
 *
 * A plugin tag is `<prefix><key>=<value>` with the default prefix "csi.":
 *
 *   csi.name=pvc-3f1c2a9e+2D8b7d  csi.kind=volume  csi.ready=1
 *
 * Value encoding: the UTF-8 bytes of the value; [A-Za-z0-9._-] stand for
 * themselves, every other byte becomes `+XX` (two upper-case hex digits).
 * So '+' itself is "+2B", '/' is "+2F", a space "+20", "é" "+C3+A9".
 * Decoding is strict: a '+' must be followed by two hex digits and the
 * bytes must be valid UTF-8.
 *
 * A value whose tag would exceed 1024 characters is split into chunks
 * `<prefix><key>#<i>=<part>` (i = 0, 1, ...; '#' never appears in a key),
 * never inside a `+XX` escape. lvm prints tags sorted by name, so chunks are
 * reassembled by index, not by position. Changing a value (add the new tags,
 * delete the old ones) happens in one lvchange call, which lvm commits in one
 * metadata write, so a reader never sees half of a chunked value.
 *
 * Tags without our prefix are "foreign": kept, never touched.
 */

import { InvalidArgument } from '../errors.js';

export const TAG_MAX_LENGTH = 1024;
const DEFAULT_TAG_PREFIX = 'csi.';

/** The keys the plugin uses. Others are allowed (see KEY_PATTERN). */
export const TagKey = {
  /** The CSI name (CreateVolume.name / CreateSnapshot.name). */
  name: 'name',
  /** "volume" | "snapshot". */
  kind: 'kind',
  /** Content source: the volume id or snapshot id this LV was made from. */
  source: 'source',
  /** Creation time, RFC 3339. */
  created: 'created',
  /** StorageClass parameters, JSON. */
  params: 'params',
  /** Completion mark: present once the LV's content is complete (copies done). */
  ready: 'ready',
} as const;

export type TagMap = Record<string, string>;

/** Keys: lower-case letters, digits, '.', '_', '-'; start with a letter or digit; at most 64. */
const KEY_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

const PLAIN = /^[A-Za-z0-9._-]$/;
const TAG_ALPHABET = /^[A-Za-z0-9_+.\-/=!:&#]+$/;

/** True when lvm accepts the string as a tag (alphabet, non-empty, our length limit). */
export function isValidLvmTag(tag: string): boolean {
  return tag.length > 0 && tag.length <= TAG_MAX_LENGTH && TAG_ALPHABET.test(tag);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Encode an arbitrary string (well-formed UTF-16) into the tag-safe alphabet. */
export function encodeTagValue(value: string): string {
  if (LONE_SURROGATE.test(value)) throw new InvalidArgument('tag value', 'contains an unpaired UTF-16 surrogate');
  let out = '';
  for (const ch of value) {
    if (PLAIN.test(ch)) {
      out += ch;
      continue;
    }
    for (const byte of Buffer.from(ch, 'utf8')) out += `+${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** One decoder for every value (making one per call showed in profiles); fatal: invalid UTF-8 is an error. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });
const PLAIN_ONLY = /^[A-Za-z0-9._-]*$/;

/** 0-15 for an upper-case hex digit's char code (the only ones encodeTagValue writes), -1 otherwise. */
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** A char code of PLAIN: A-Z, a-z, 0-9, '.', '_', '-'. */
function isPlain(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 46 || c === 95 || c === 45;
}

/**
 * Escaped values decoded lately. Many LVs carry the same escaped value (every volume of a
 * StorageClass has the same params tag), and the first listing of a node with 1,000 volumes
 * spent most of a second in the guest decoding them one by one. Bounded: emptied when full.
 */
const DECODED_VALUES = new Map<string, string | undefined>();
const DECODED_VALUES_MAX = 512;

/** Decode encodeTagValue's output. Returns undefined for anything encodeTagValue cannot produce. */
export function decodeTagValue(encoded: string): string | undefined {
  if (PLAIN_ONLY.test(encoded)) return encoded; // no escape: the value is itself
  if (DECODED_VALUES.has(encoded)) return DECODED_VALUES.get(encoded);
  const value = decodeEscaped(encoded);
  if (DECODED_VALUES.size >= DECODED_VALUES_MAX) DECODED_VALUES.clear();
  DECODED_VALUES.set(encoded, value);
  return value;
}

function decodeEscaped(encoded: string): string | undefined {
  const bytes = new Uint8Array(encoded.length);
  let n = 0;
  for (let i = 0; i < encoded.length;) {
    const c = encoded.charCodeAt(i);
    if (c === 43 /* + */) {
      const hi = hexDigit(encoded.charCodeAt(i + 1));
      const lo = hexDigit(encoded.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return undefined;
      bytes[n++] = hi * 16 + lo;
      i += 3;
    } else if (isPlain(c)) {
      bytes[n++] = c;
      i += 1;
    } else {
      return undefined;
    }
  }
  try {
    return UTF8.decode(bytes.subarray(0, n));
  } catch {
    return undefined;
  }
}

function checkKey(key: string): void {
  if (!KEY_PATTERN.test(key)) throw new InvalidArgument('tag key', `"${key}" must match ${KEY_PATTERN}`);
}

function checkPrefix(prefix: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/.test(prefix))
    throw new InvalidArgument('tag prefix', `"${prefix}" is not a valid tag prefix`);
}

/** Split an encoded value into pieces of at most `max` characters, never inside a "+XX" escape. */
function chunk(encoded: string, max: number): string[] {
  const parts: string[] = [];
  let i = 0;
  while (i < encoded.length) {
    let end = Math.min(i + max, encoded.length);
    // Step back if the cut lands inside "+XX": a '+' at end-1 or end-2.
    if (encoded.charAt(end - 1) === '+' && end < encoded.length) end -= 1;
    else if (encoded.charAt(end - 2) === '+' && end < encoded.length) end -= 2;
    parts.push(encoded.slice(i, end));
    i = end;
  }
  return parts;
}

/** The tag(s) for one key/value. One tag when it fits in 1024 characters, else "#i" chunks. */
export function encodeTag(key: string, value: string, prefix: string = DEFAULT_TAG_PREFIX): string[] {
  checkPrefix(prefix);
  checkKey(key);
  const encoded = encodeTagValue(value);
  const single = `${prefix}${key}=${encoded}`;
  if (single.length <= TAG_MAX_LENGTH) return [single];
  // Room for the longest index we could need; 1024-char tags leave > 900 per chunk.
  const room = TAG_MAX_LENGTH - `${prefix}${key}#9999=`.length;
  const parts = chunk(encoded, room);
  if (parts.length > 10_000) throw new InvalidArgument('tag value', `value of ${key} is too long`);
  return parts.map((p, i) => `${prefix}${key}#${i}=${p}`);
}

/** Tags for a whole map, keys in insertion order. */
export function encodeTags(map: Readonly<TagMap>, prefix: string = DEFAULT_TAG_PREFIX): string[] {
  return Object.entries(map).flatMap(([k, v]) => encodeTag(k, v, prefix));
}

export interface DecodedTags {
  /** Our keys and their decoded values. */
  values: TagMap;
  /** Tags without our prefix, untouched. */
  foreign: string[];
  /** Tags with our prefix that do not decode (bad escape, missing chunk): kept for diagnosis. */
  invalid: string[];
}

/** Parse an LV's tag list (Lv.tags) back into key -> value. */
export function decodeTags(tags: readonly string[], prefix: string = DEFAULT_TAG_PREFIX): DecodedTags {
  const values: TagMap = {};
  const foreign: string[] = [];
  const invalid: string[] = [];
  const chunks = new Map<string, { parts: Map<number, string>; tags: string[] }>();
  for (const tag of tags) {
    if (!tag.startsWith(prefix)) {
      foreign.push(tag);
      continue;
    }
    const m = /^([a-z0-9][a-z0-9._-]{0,63})(?:#(\d{1,4}))?=(.*)$/.exec(tag.slice(prefix.length));
    if (!m) {
      invalid.push(tag);
      continue;
    }
    const [, key = '', index, encoded = ''] = m;
    if (index === undefined) {
      const v = decodeTagValue(encoded);
      if (v === undefined || key in values) invalid.push(tag);
      else values[key] = v;
      continue;
    }
    const c = chunks.get(key) ?? { parts: new Map<number, string>(), tags: [] };
    chunks.set(key, c);
    c.parts.set(Number(index), encoded);
    c.tags.push(tag);
  }
  for (const [key, c] of chunks) {
    const joined: string[] = [];
    for (let i = 0; i < c.parts.size; i++) {
      const p = c.parts.get(i);
      if (p === undefined) break;
      joined.push(p);
    }
    const v = joined.length === c.parts.size && !(key in values) ? decodeTagValue(joined.join('')) : undefined;
    if (v === undefined) invalid.push(...c.tags);
    else values[key] = v;
  }
  return { values, foreign, invalid };
}

/**
 * The lvchange --addtag/--deltag lists that turn `current` (an LV's tags) into
 * one carrying `changes` (undefined = delete the key). Only our own tags of
 * the keys named in `changes` are touched. Apply both lists in ONE lvchange.
 */
export function tagChanges(
  current: readonly string[],
  changes: Readonly<Record<string, string | undefined>>,
  prefix: string = DEFAULT_TAG_PREFIX,
): { add: string[]; del: string[] } {
  const have = new Set(current);
  const add: string[] = [];
  const del: string[] = [];
  for (const [key, value] of Object.entries(changes)) {
    checkKey(key);
    const mine = current.filter((t) => t.startsWith(`${prefix}${key}=`) || t.startsWith(`${prefix}${key}#`));
    const want = value === undefined ? [] : encodeTag(key, value, prefix);
    const wantSet = new Set(want);
    del.push(...mine.filter((t) => !wantSet.has(t)));
    add.push(...want.filter((t) => !have.has(t)));
  }
  return { add, del };
}
