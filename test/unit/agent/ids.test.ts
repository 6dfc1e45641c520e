import { describe, expect, it } from 'vitest';
import { formatId, MAX_ID_BYTES, parseId, shortNodeId } from '../../../src/agent/ids.js';

describe('volume ids', () => {
  it('round-trip node, VG and LV', () => {
    const id = formatId({ node: shortNodeId('worker-1.example.org'), vg: 'vg0', lv: 'vol_abc' });
    expect(parseId(id)).toEqual({ node: shortNodeId('worker-1.example.org'), vg: 'vg0', lv: 'vol_abc' });
  });

  it('short node ids are stable, 8 characters, and differ between nodes', () => {
    expect(shortNodeId('a')).toBe(shortNodeId('a'));
    expect(shortNodeId('a')).toMatch(/^[a-z2-7]{8}$/);
    expect(shortNodeId('a')).not.toBe(shortNodeId('b'));
  });

  it('reject what this plugin did not make', () => {
    for (const bad of [
      '',
      'x',
      'a/b',
      'a/b/c/d',
      'a//c',
      '../vg/lv',
      'n/vg/-lv',
      'n/v g/lv',
      `n/vg/${'x'.repeat(200)}`,
    ]) {
      expect(parseId(bad), bad).toBeUndefined();
    }
  });

  it('refuse to make an id over 128 bytes', () => {
    expect(() => formatId({ node: 'n', vg: 'v'.repeat(64), lv: 'l'.repeat(64) })).toThrow(String(MAX_ID_BYTES));
  });
});
