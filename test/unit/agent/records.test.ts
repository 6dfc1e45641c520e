import { describe, expect, it } from 'vitest';
import { decodeSource, encodeSource, tagsFor, toSnapshot, toVolume } from '../../../src/agent/records.js';
import type { VolumeParams } from '../../../src/agent/params.js';
import type { Lv } from '../../../src/lvm/report.js';
import { parseLvAttr } from '../../../src/lvm/report.js';

const params: VolumeParams = {
  lvmType: 'thick',
  volumeGroup: 'vg0',
  mirrors: 0,
  stripes: 1,
  stripeSizeKiB: undefined,
  volumeClear: 'zero',
  fsType: 'ext4',
  localAttach: false,
};

function lv(name: string, tags: string[], extra: Partial<Lv> = {}): Lv {
  return {
    uuid: name,
    name,
    vg: 'vg0',
    path: `/dev/vg0/${name}`,
    dmPath: `/dev/mapper/vg0-${name}`,
    sizeBytes: 32 * 1024 * 1024,
    attr: parseLvAttr('-wi-a-----'),
    active: true,
    tags,
    createdAt: new Date('2026-01-01T00:00:00Z'),
    layout: ['linear'],
    segtype: 'linear',
    segCount: 1,
    stripes: 1,
    stripeSizeBytes: 0,
    pool: undefined,
    origin: undefined,
    originSizeBytes: undefined,
    dataPercent: undefined,
    metadataPercent: undefined,
    snapPercent: undefined,
    copyPercent: undefined,
    zero: undefined,
    discards: undefined,
    whenFull: undefined,
    metadataSizeBytes: undefined,
    ...extra,
  };
}

describe('records from LV tags', () => {
  it('a tagged LV is a volume; the completion mark decides readiness', () => {
    const tags = tagsFor({
      name: 'pvc-1',
      kind: 'volume',
      params: JSON.stringify(params),
      source: encodeSource({ kind: 'snapshot', id: 'n/vg0/snap-x' }),
    });
    const copying = toVolume('nodeid12', lv('vol-a', tags), []);
    expect(copying).toMatchObject({
      id: 'nodeid12/vg0/vol-a',
      name: 'pvc-1',
      state: 'copying',
      source: { kind: 'snapshot', id: 'n/vg0/snap-x' },
    });
    const ready = toVolume(
      'nodeid12',
      lv('vol-a', [...tags, ...tagsFor({ kind: 'volume', ready: '1' }).filter((t) => t.includes('ready'))]),
      [],
    );
    expect(ready?.state).toBe('ready');
  });

  it('foreign or unreadable LVs are not volumes', () => {
    expect(toVolume('n', lv('data', ['owner=someone']), [])).toBeUndefined();
    expect(toVolume('n', lv('x', tagsFor({ name: 'p', kind: 'volume', params: '{not json' })), [])).toBeUndefined();
  });

  it('counts COW snapshots of an origin and reports hidden origins as deleting', () => {
    const origin = lv(
      'vol-o',
      tagsFor({ name: 'o', kind: 'volume', params: JSON.stringify(params), ready: '1', state: 'hidden' }),
    );
    const snap = lv(
      'snap-s',
      tagsFor({ name: 's', kind: 'snapshot', source: 'n/vg0/vol-o', size: String(32 * 1024 * 1024), ready: '1' }),
      { origin: 'vol-o', attr: parseLvAttr('swi-a-s---') },
    );
    const v = toVolume('n', origin, [origin, snap]);
    expect(v).toMatchObject({ snapshotCount: 1, state: 'deleting' });
    expect(toSnapshot('n', snap)).toMatchObject({
      id: 'n/vg0/snap-s',
      sourceVolumeId: 'n/vg0/vol-o',
      readyToUse: true,
      lvmType: 'thick',
      sizeBytes: 32 * 1024 * 1024,
    });
  });

  it('an invalidated COW snapshot is not ready to use', () => {
    const snap = lv('snap-s', tagsFor({ name: 's', kind: 'snapshot', source: 'n/vg0/vol-o', ready: '1' }), {
      origin: 'vol-o',
      attr: parseLvAttr('swi-I-s---'),
    });
    expect(toSnapshot('n', snap)?.readyToUse).toBe(false);
  });

  it('sources round-trip', () => {
    expect(decodeSource(encodeSource({ kind: 'volume', id: 'a/b/c' }))).toEqual({ kind: 'volume', id: 'a/b/c' });
    expect(decodeSource('bogus')).toBeUndefined();
  });
});
