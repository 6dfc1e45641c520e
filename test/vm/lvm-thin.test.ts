/**
 * Foundation check on the real kernel: the project's own LVM code makes a VG
 * with a thin pool and a thin LV; `lvs --reportformat json` (read directly)
 * sees exactly that.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecaRunner } from '../../src/exec/execa-runner.js';
import { Lvm } from '../../src/lvm/lvm.js';
import { lvmSettings } from '../../src/lvm/settings.js';
import { destroyVg, disks, inGuest, lvsJson, MiB, sh } from './lib.js';

const VG = 'vmthin';

describe.runIf(inGuest)('LVM on the real kernel', () => {
  const lvm = new Lvm(new ExecaRunner(), lvmSettings());

  beforeAll(() => {
    destroyVg(VG);
    for (const d of disks.slice(0, 1)) sh(['wipefs', '-a', '-q', d]);
  });
  afterAll(() => destroyVg(VG));

  it('creates a VG, a thin pool and a thin LV that lvs reports', async () => {
    await lvm.vgCreate(VG, [disks[0] as string]);
    await lvm.createThinPool(VG, 'pool', { bytes: 256 * MiB });
    await lvm.createThin(VG, 'pool', 'thin1', 64 * MiB, ['csi.name=hello']);

    const lvs = lvsJson(VG);
    const pool = lvs.find((l) => l.lv_name === 'pool');
    const thin = lvs.find((l) => l.lv_name === 'thin1');
    expect(pool?.segtype).toBe('thin-pool');
    expect(Number(pool?.lv_size)).toBe(256 * MiB);
    expect(thin).toMatchObject({ segtype: 'thin', pool_lv: 'pool', lv_tags: 'csi.name=hello', lv_active: 'active' });
    expect(Number(thin?.lv_size)).toBe(64 * MiB);
    // and the project's parser reads the same thing
    const mine = await lvm.getLv(VG, 'thin1');
    expect(mine).toMatchObject({ name: 'thin1', pool: 'pool', sizeBytes: 64 * MiB, active: true });
    expect((await lvm.getLv(VG, 'pool'))?.zero).toBe(true); // a new thin LV reads zeros where it was never written
  });
});
