import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { committedText, deviceStamps, metadataAreas, readMetadataStamp } from '../../../src/lvm/metadata-stamp.js';
import { fixture } from './fixtures.js';

/**
 * The first 4608 bytes of real PVs (lvm2 2.03.16, Debian 12 guest): pv-a right after
 * `vgcreate cv vda vdb`, pv-b after `lvcreate -L 8m -n x cv` (pv-b2: the second PV then).
 */
const head = (name: string) => Buffer.from(fixture(`${name}-head.b64`), 'base64');

describe('metadata stamp (committed-text location in a PV metadata-area header)', () => {
  it('finds the metadata area the PV label points at', () => {
    expect(metadataAreas(head('pv-a'))).toEqual([4096]);
    expect(metadataAreas(Buffer.alloc(4096))).toEqual([]);
  });

  it('reads the committed text location; it moves with a commit and is the same on every PV of the VG', () => {
    const a = committedText(head('pv-a').subarray(4096, 4608));
    const b = committedText(head('pv-b').subarray(4096, 4608));
    expect(a).toMatch(/^\d+:\d+:[0-9a-f]+$/);
    expect(b).not.toBe(a);
    expect(committedText(head('pv-b2').subarray(4096, 4608))).toBe(b);
    expect(committedText(Buffer.alloc(512))).toBeUndefined();
  });

  it('reads a device (here a file holding a PV head); unreadable or label-less devices give no stamp', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stamp-'));
    writeFileSync(join(dir, 'pv'), head('pv-b'));
    writeFileSync(join(dir, 'blank'), Buffer.alloc(8192));
    expect(await readMetadataStamp(join(dir, 'pv'))).toBe(committedText(head('pv-b').subarray(4096, 4608)));
    expect(await readMetadataStamp(join(dir, 'blank'))).toBeUndefined();
    expect(await readMetadataStamp(join(dir, 'missing'))).toBeUndefined();
    expect(await deviceStamps([join(dir, 'blank'), join(dir, 'missing')])).toBeUndefined();
    expect(await deviceStamps([join(dir, 'pv'), join(dir, 'missing')])).toMatch(/^\d+:\d+:[0-9a-f]+,-$/);
  });

  it('later reads of a device (the metadata area read with the label, in one read) still follow every commit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stamp-'));
    const dev = join(dir, 'pv');
    writeFileSync(dev, head('pv-a')); // after vgcreate
    const a = await readMetadataStamp(dev);
    expect(a).toBe(committedText(head('pv-a').subarray(4096, 4608)));
    expect(await readMetadataStamp(dev)).toBe(a);
    writeFileSync(dev, head('pv-b')); // the same PV after an lvcreate: a commit
    const b = await readMetadataStamp(dev);
    expect(b).toBe(committedText(head('pv-b').subarray(4096, 4608)));
    expect(b).not.toBe(a);
    writeFileSync(dev, Buffer.alloc(8192)); // the label wiped
    expect(await readMetadataStamp(dev)).toBeUndefined();
  });
});
