import { describe, expect, it } from 'vitest';
import { InvalidArgument } from '../../../src/errors.js';
import {
  assertLvName,
  assertVgName,
  lvNameKind,
  lvNameProblem,
  snapshotLvName,
  temporaryLvName,
  vgNameProblem,
  volumeLvName,
} from '../../../src/lvm/names.js';

describe('generated LV names', () => {
  it('are deterministic, prefixed and short', () => {
    const a = volumeLvName('pvc-3f1c2a9e-8b7d-4e21-9a0b-1234567890ab');
    expect(a).toBe(volumeLvName('pvc-3f1c2a9e-8b7d-4e21-9a0b-1234567890ab'));
    expect(a).toMatch(/^vol-[a-z2-7]{26}$/);
    expect(snapshotLvName('snapshot-1')).toMatch(/^snap-[a-z2-7]{26}$/);
    expect(temporaryLvName('copy/vol-x')).toMatch(/^tmp-[a-z2-7]{26}$/);
  });

  it('match a known value (base32 of sha256, RFC 4648 lower case)', () => {
    // python3: base64.b32encode(hashlib.sha256(b'pvc-1').digest()).lower()[:26]
    expect(volumeLvName('pvc-1')).toBe('vol-6kdi4gvhzk3gsul43h22wg3zk7');
  });

  it('differ between kinds and names', () => {
    expect(volumeLvName('x')).not.toBe(volumeLvName('y'));
    expect(volumeLvName('x').slice(4)).toBe(snapshotLvName('x').slice(5));
    const names = new Set(Array.from({ length: 5000 }, (_, i) => volumeLvName(`pvc-${i}`)));
    expect(names.size).toBe(5000);
  });

  it('are always valid LV names (no reserved substring can appear)', () => {
    for (let i = 0; i < 5000; i++) {
      expect(lvNameProblem(volumeLvName(`n${i}`))).toBeUndefined();
      expect(lvNameProblem(snapshotLvName(`n${i}`))).toBeUndefined();
    }
  });

  it('are recognised', () => {
    expect(lvNameKind(volumeLvName('a'))).toBe('volume');
    expect(lvNameKind(snapshotLvName('a'))).toBe('snapshot');
    expect(lvNameKind(temporaryLvName('a'))).toBe('temporary');
    expect(lvNameKind('vol-short')).toBeUndefined();
    expect(lvNameKind('data')).toBeUndefined();
  });

  it('refuse an empty CSI name', () => {
    expect(() => volumeLvName('')).toThrow(InvalidArgument);
  });
});

describe('name validators', () => {
  it.each(['vg0', 'csi-vg', 'a.b_c+d', 'x'.repeat(127)])('accepts VG %s', (n) => {
    expect(vgNameProblem(n)).toBeUndefined();
  });

  it.each(['', '-vg', '.', '..', 'bad vg', 'vg/x', 'vgé', 'x'.repeat(128)])('rejects VG %j', (n) => {
    expect(vgNameProblem(n)).toBeDefined();
    expect(() => assertVgName(n)).toThrow(InvalidArgument);
  });

  it.each(['data', 'vol-abc', 'my_lv', 'snap-1', 'lv+1.x'])('accepts LV %s', (n) => {
    expect(lvNameProblem(n)).toBeUndefined();
  });

  it.each([
    ['snapshotfoo', /snapshot/],
    ['pvmove0', /pvmove/],
    ['a_tdata', /_tdata/],
    ['x_rimage_0', /_rimage/],
    ['y_cdata', /_cdata/],
    ['z_vorigin', /_vorigin/],
    ['x@y', /may contain only/],
    ['-x', /start with "-"/],
  ])('rejects LV %s', (n, why) => {
    expect(lvNameProblem(n)).toMatch(why);
    expect(() => assertLvName(n, 'lv')).toThrow(InvalidArgument);
  });
});
