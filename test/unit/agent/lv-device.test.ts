import { describe, expect, it } from 'vitest';
import { lvBlockDevice, splitDevT, type DeviceProbe } from '../../../src/agent/lv-device.js';
import type { Lvm } from '../../../src/lvm/lvm.js';
import type { Lv } from '../../../src/lvm/report.js';

const lv = (over: Partial<Lv> = {}): Lv =>
  ({
    uuid: 'D9cEF0-O5iQ-2MXe-Vd0U-NgGZ-NEWY-U1bGUV',
    name: 's',
    vg: 'pv',
    dmPath: '/dev/mapper/pv-s',
    active: true,
    sizeBytes: 1,
    tags: [],
    ...over,
  }) as Lv;

/** getLv answers `now` (the read before anything is done), then `afterActivate`; every read must ask for values read now. */
function fakeLvm(afterActivate: Lv | undefined, calls: string[], now: Lv | null = lv()): Lvm {
  let reads = 0;
  return {
    activate: async (vg: string, name: string) => void calls.push(`activate ${vg}/${name}`),
    getLv: async (_vg: string, _lv: string, o?: { maxAgeMs?: number }) => {
      if (o?.maxAgeMs !== 0) throw new Error('lvBlockDevice must read the LV now (maxAgeMs: 0), not from a cache');
      return reads++ === 0 ? (now ?? undefined) : afterActivate;
    },
  } as unknown as Lvm;
}

const probe = (dev: { major: number; minor: number } | undefined, uuid: string | undefined): DeviceProbe => ({
  blockDevice: async () => dev,
  dmUuid: async () => uuid,
});

const UUID = 'LVM-Ks2mNn5rGxZwVX8oEoO2UDB58xBXZIFHD9cEF0O5iQ2MXeVd0UNgGZNEWYU1bGUV';

describe('lvBlockDevice', () => {
  it('splits a Linux dev_t', () => {
    expect(splitDevT(BigInt((253 << 8) | 3))).toEqual({ major: 253, minor: 3 });
    expect(splitDevT((259n << 8n) | (0x12345n & 0xffn) | ((0x12345n & ~0xffn) << 12n))).toEqual({
      major: 259,
      minor: 0x12345,
    });
  });

  it("accepts the LV's own dm device (and its -cow part)", async () => {
    const calls: string[] = [];
    expect(await lvBlockDevice(fakeLvm(undefined, calls), probe({ major: 253, minor: 3 }, UUID), lv())).toBe(
      '/dev/mapper/pv-s',
    );
    expect(
      await lvBlockDevice(fakeLvm(undefined, calls), probe({ major: 253, minor: 2 }, `${UUID}-cow`), lv(), 'cow'),
    ).toBe('/dev/mapper/pv-s-cow');
    expect(calls).toEqual([]);
  });

  it('activates an inactive LV first', async () => {
    const calls: string[] = [];
    await lvBlockDevice(
      fakeLvm(lv(), calls, lv({ active: false })),
      probe({ major: 253, minor: 3 }, UUID),
      lv({ active: false }),
    );
    expect(calls).toEqual(['activate pv/s']);
  });

  it('refuses a path that is not a block device, or the device of another LV', async () => {
    await expect(lvBlockDevice(fakeLvm(undefined, []), probe(undefined, UUID), lv())).rejects.toThrow(
      /not a block device/,
    );
    await expect(
      lvBlockDevice(
        fakeLvm(undefined, []),
        probe({ major: 253, minor: 9 }, 'LVM-Ks2mNn5rGxZwVX8oEoO2UDB58xBXZIFHDzYAV1gONK86vUXK9J4j0D96M2hcnfUA'),
        lv(),
      ),
    ).rejects.toThrow(/is not the device of pv\/s/);
    await expect(lvBlockDevice(fakeLvm(undefined, []), probe({ major: 8, minor: 0 }, undefined), lv())).rejects.toThrow(
      /is not the device/,
    );
    await expect(
      lvBlockDevice(
        fakeLvm(lv({ active: false }), [], lv({ active: false })),
        probe({ major: 253, minor: 3 }, UUID),
        lv({ active: false }),
      ),
    ).rejects.toThrow(/not active/);
  });

  it('proves an LV the inventory built in memory (no uuid yet) against a read made now', async () => {
    expect(await lvBlockDevice(fakeLvm(undefined, []), probe({ major: 253, minor: 3 }, UUID), lv({ uuid: '' }))).toBe(
      '/dev/mapper/pv-s',
    );
    await expect(
      lvBlockDevice(fakeLvm(undefined, [], lv({ uuid: '' })), probe({ major: 253, minor: 3 }, UUID), lv({ uuid: '' })),
    ).rejects.toThrow(/another LV/);
  });

  it('refuses when the LV read now is another LV than the one the caller holds, or is gone', async () => {
    await expect(
      lvBlockDevice(fakeLvm(undefined, [], lv({ uuid: 'other-uuid' })), probe({ major: 253, minor: 3 }, UUID), lv()),
    ).rejects.toThrow(/another LV now/);
    await expect(
      lvBlockDevice(fakeLvm(undefined, [], null), probe({ major: 253, minor: 3 }, UUID), lv()),
    ).rejects.toThrow(/does not exist any more/);
  });
});
