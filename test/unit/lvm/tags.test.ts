import { describe, expect, it } from 'vitest';
import { InvalidArgument } from '../../../src/errors.js';
import {
  TAG_MAX_LENGTH,
  TagKey,
  decodeTagValue,
  decodeTags,
  encodeTag,
  encodeTagValue,
  encodeTags,
  isValidLvmTag,
  tagChanges,
} from '../../../src/lvm/tags.js';

/** Deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random well-formed strings mixing ASCII (incl. the tag alphabet's specials), BMP and astral code points. */
function randomString(r: () => number, maxLen: number): string {
  const n = Math.floor(r() * maxLen);
  let s = '';
  for (let i = 0; i < n; i++) {
    const pick = r();
    let cp: number;
    if (pick < 0.4) cp = 0x20 + Math.floor(r() * 0x5f);
    else if (pick < 0.5) cp = Math.floor(r() * 0x20);
    else if (pick < 0.8) cp = 0xa0 + Math.floor(r() * (0xd800 - 0xa0));
    else if (pick < 0.9) cp = 0xe000 + Math.floor(r() * 0x2000);
    else cp = 0x10000 + Math.floor(r() * 0xfffff);
    s += String.fromCodePoint(cp);
  }
  return s;
}

describe('tag value encoding', () => {
  it('keeps [A-Za-z0-9._-] and escapes every other byte as +XX', () => {
    expect(encodeTagValue('pvc-3f1c_A.b')).toBe('pvc-3f1c_A.b');
    expect(encodeTagValue('a b+c/d')).toBe('a+20b+2Bc+2Fd');
    expect(encodeTagValue('é')).toBe('+C3+A9');
    expect(encodeTagValue('😀')).toBe('+F0+9F+98+80');
    expect(encodeTagValue('')).toBe('');
    expect(encodeTagValue('{"fsType":"xfs"}')).toBe('+7B+22fsType+22+3A+22xfs+22+7D');
  });

  it('round-trips random unicode strings and stays in the LVM tag alphabet', () => {
    const r = rng(20260125);
    for (let i = 0; i < 2000; i++) {
      const s = randomString(r, 40);
      const enc = encodeTagValue(s);
      expect(enc).toMatch(/^[A-Za-z0-9._+-]*$/);
      expect(decodeTagValue(enc)).toBe(s);
    }
  });

  it('refuses unpaired surrogates (not representable in UTF-8)', () => {
    expect(() => encodeTagValue('a\uD800b')).toThrow(InvalidArgument);
    expect(() => encodeTagValue('\uDC00')).toThrow(InvalidArgument);
  });

  it('decodes strictly', () => {
    expect(decodeTagValue('+2')).toBeUndefined();
    expect(decodeTagValue('+2b')).toBeUndefined(); // lower-case hex is never produced
    expect(decodeTagValue('a=b')).toBeUndefined();
    expect(decodeTagValue('+FF')).toBeUndefined(); // not UTF-8
    expect(decodeTagValue('+C3')).toBeUndefined(); // truncated sequence
  });
});

describe('tag value decoding, repeated values', () => {
  it('gives the same answer for a value seen before, past the bound of remembered values, and for invalid ones', () => {
    const values = Array.from({ length: 1200 }, (_, i) => `{"lvmType":"thin","n":${i % 700}} é`);
    for (const v of values) expect(decodeTagValue(encodeTagValue(v))).toBe(v);
    for (const v of values.slice(0, 50)) expect(decodeTagValue(encodeTagValue(v))).toBe(v);
    expect(decodeTagValue('a+ZZ')).toBeUndefined();
    expect(decodeTagValue('a+ZZ')).toBeUndefined();
    expect(decodeTagValue('+C3+A9')).toBe('é');
  });
});

describe('tags for key/value maps', () => {
  it('encodes one tag per key with the csi. prefix', () => {
    expect(encodeTags({ [TagKey.name]: 'pvc-1', [TagKey.kind]: 'volume', [TagKey.ready]: '1' })).toEqual([
      'csi.name=pvc-1',
      'csi.kind=volume',
      'csi.ready=1',
    ]);
    expect(encodeTag('ready', '')).toEqual(['csi.ready=']);
  });

  it('decodes a real tag list (lvm sorts them) and keeps foreign tags', () => {
    const d = decodeTags([
      'csi-lvm-iscsi.pool',
      'csi.kind=volume',
      'csi.name=pvc-3f1c2a9e+2D8b7d+2D4e21',
      'csi.params=+7B+22fsType+22+3A+22xfs+22+7D',
      'csi.ready=1',
    ]);
    expect(d.values).toEqual({
      kind: 'volume',
      name: 'pvc-3f1c2a9e-8b7d-4e21',
      params: '{"fsType":"xfs"}',
      ready: '1',
    });
    expect(d.foreign).toEqual(['csi-lvm-iscsi.pool']);
    expect(d.invalid).toEqual([]);
  });

  it('reports tags with our prefix that do not decode', () => {
    const d = decodeTags(['csi.name=+ZZ', 'csi.NoKey', 'csi.kind=volume', 'csi.kind=snapshot']);
    expect(d.values).toEqual({ kind: 'volume' });
    expect(d.invalid).toEqual(['csi.name=+ZZ', 'csi.NoKey', 'csi.kind=snapshot']);
  });

  it('splits long values into #i chunks within 1024 characters and reassembles them in any order', () => {
    const params = JSON.stringify(
      Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`key${i}`, `välue ${i} / ✓`])),
    );
    const tags = encodeTag(TagKey.params, params);
    expect(tags.length).toBeGreaterThan(1);
    tags.forEach((t, i) => {
      expect(t.startsWith(`csi.params#${i}=`)).toBe(true);
      expect(isValidLvmTag(t)).toBe(true);
      expect(t.length).toBeLessThanOrEqual(TAG_MAX_LENGTH);
    });
    const sorted = [...tags, 'csi.kind=volume'].sort(); // lvm prints tags sorted: "#10" before "#2"
    expect(decodeTags(sorted).values).toEqual({ params, kind: 'volume' });
  });

  it('never cuts a chunk inside a +XX escape', () => {
    const r = rng(7);
    for (let i = 0; i < 200; i++) {
      const v = randomString(r, 2000);
      const tags = encodeTag('params', v);
      for (const t of tags) expect(t.slice(t.indexOf('=') + 1)).not.toMatch(/\+.?$/);
      expect(decodeTags(tags).values['params']).toBe(v);
    }
  });

  it('treats a missing chunk as invalid', () => {
    const tags = encodeTag('params', 'x'.repeat(3000));
    const d = decodeTags(tags.filter((_, i) => i !== 1));
    expect(d.values).toEqual({});
    expect(d.invalid).toHaveLength(tags.length - 1);
  });

  it('validates keys and the alphabet', () => {
    expect(() => encodeTag('Bad Key', 'x')).toThrow(InvalidArgument);
    expect(() => encodeTag('a=b', 'x')).toThrow(InvalidArgument);
    expect(isValidLvmTag('a;b')).toBe(false); // lvm 2.03.16 refuses ';'
    expect(isValidLvmTag('a!b:c&d#e/f=g+h')).toBe(true);
    expect(isValidLvmTag('')).toBe(false);
    expect(isValidLvmTag('x'.repeat(1025))).toBe(false);
  });

  it('computes the add/del lists for an update, touching only the named keys', () => {
    const current = ['csi.kind=volume', 'csi.name=pvc-1', 'other=1', 'csi.state=copying'];
    expect(tagChanges(current, { ready: '1', state: undefined, kind: 'volume' })).toEqual({
      add: ['csi.ready=1'],
      del: ['csi.state=copying'],
    });
    const long = encodeTag('params', 'y'.repeat(3000));
    expect(tagChanges([...long, 'csi.kind=volume'], { params: 'short' })).toEqual({
      add: ['csi.params=short'],
      del: long,
    });
  });
});
