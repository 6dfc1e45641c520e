/** CSI snapshots (src/agent/snapshots.ts) against the stateful fake LVM. */
import { describe, expect, it } from 'vitest';
import { AlreadyExists, Busy, FailedPrecondition, NotFound, OutOfCapacity } from '../../../src/errors.js';
import { snapshotLvName } from '../../../src/lvm/names.js';
import { tagsFor } from '../../../src/agent/records.js';
import { agentSetup, createArgs, ddSummary, MiB, volumeParams } from './agent-setup.js';

describe('CreateSnapshot', () => {
  it('thin: a read-only inactive thin snapshot, ready; again: the same; another source: AlreadyExists', async () => {
    const { fake, agent } = agentSetup();
    const v = await agent.createVolume(createArgs('pvc-1', 16 * MiB));
    const w = await agent.createVolume(createArgs('pvc-2', 16 * MiB));
    fake.ops.length = 0;
    const s = await agent.createSnapshot('snap-1', 'vg', v.lv, { snapshotReserve: 100 });
    expect(s).toMatchObject({
      name: 'snap-1',
      lv: snapshotLvName('snap-1'),
      sourceVolumeId: v.id,
      sizeBytes: 16 * MiB,
      readyToUse: true,
      lvmType: 'thin',
    });
    expect(fake.ops).toEqual([`lvcreate thin-snapshot vg/${s.lv} of ${v.lv}`]);
    const lv = await fake.getLv('vg', s.lv);
    expect({ readOnly: lv?.attr.permission, active: lv?.active }).toEqual({ readOnly: 'read-only', active: false });
    expect(await agent.createSnapshot('snap-1', 'vg', v.lv, { snapshotReserve: 100 })).toEqual(s);
    await expect(agent.createSnapshot('snap-1', 'vg', w.lv, { snapshotReserve: 100 })).rejects.toBeInstanceOf(
      AlreadyExists,
    );
    expect(fake.ops).toHaveLength(1);
  });

  it('thick: a COW snapshot of snapshotReserve percent of the origin, in whole extents; no room: OutOfCapacity', async () => {
    const { fake, agent } = agentSetup();
    const v = await agent.createVolume(createArgs('pvc-k', 40 * MiB, { lvmType: 'thick' }));
    const s = await agent.createSnapshot('snap-k', 'vg', v.lv, { snapshotReserve: 25 });
    expect(s).toMatchObject({ sizeBytes: 40 * MiB, lvmType: 'thick', readyToUse: true });
    expect((await fake.getLv('vg', s.lv))?.sizeBytes).toBe(12 * MiB); // 25% of 40 MiB = 10 MiB -> 3 extents
    const big = await agent.createVolume(createArgs('pvc-big', 400 * MiB, { lvmType: 'thick' }));
    await expect(agent.createSnapshot('snap-big', 'vg', big.lv, { snapshotReserve: 100 })).rejects.toBeInstanceOf(
      OutOfCapacity,
    );
  });

  it('a missing source is NotFound', async () => {
    const { fake, agent } = agentSetup();
    await expect(agent.createSnapshot('snap-x', 'vg', 'vol-none', { snapshotReserve: 100 })).rejects.toBeInstanceOf(
      NotFound,
    );
    expect(fake.ops).toEqual([]);
  });
});

describe('DeleteSnapshot', () => {
  it("thick: the COW area is split off and zeroed when the origin's class zeroes; not when it opts out", async () => {
    const { fake, agent } = agentSetup();
    const z = await agent.createVolume(createArgs('pvc-z', 8 * MiB, { lvmType: 'thick' }));
    const sz = await agent.createSnapshot('snap-z', 'vg', z.lv, { snapshotReserve: 50 });
    fake.ops.length = 0;
    await agent.deleteSnapshot('vg', sz.lv);
    expect(fake.ops).toEqual([
      `lvchange tags vg/${sz.lv}`,
      `lvconvert --splitsnapshot vg/${sz.lv}`,
      `lvchange --permission rw vg/${sz.lv}`,
      `lvremove vg/${sz.lv}`,
    ]);
    expect(ddSummary(fake.dd)).toEqual([`zero /dev/mapper/vg-${sz.lv} seek=0 count=${4 * MiB}`]);
    expect(fake.names('vg')).toEqual(['pool', z.lv]);

    const n = await agent.createVolume(createArgs('pvc-n', 8 * MiB, { lvmType: 'thick', volumeClear: 'none' }));
    const sn = await agent.createSnapshot('snap-n', 'vg', n.lv, { snapshotReserve: 50 });
    fake.ops.length = 0;
    await agent.deleteSnapshot('vg', sn.lv);
    expect(fake.ops).toEqual(['vgchange --addtag vg', `lvremove vg/${sn.lv}`]);
  });

  it('thin: removed at once; its origin stays', async () => {
    const { fake, agent } = agentSetup();
    const v = await agent.createVolume(createArgs('pvc-t', 8 * MiB));
    const s = await agent.createSnapshot('snap-t', 'vg', v.lv, { snapshotReserve: 100 });
    fake.ops.length = 0;
    await agent.deleteSnapshot('vg', s.lv);
    await agent.deleteSnapshot('vg', s.lv); // again: nothing
    expect(fake.ops).toEqual([`lvremove vg/${s.lv}`]);
    expect(fake.names('vg')).toEqual(['pool', v.lv]);
  });

  it('open on the storage node (thin; thick whose COW area would be zeroed): FailedPrecondition naming it, nothing changed', async () => {
    const { fake, agent } = agentSetup();
    const t = await agent.createVolume(createArgs('pvc-ot', 8 * MiB));
    const st = await agent.createSnapshot('snap-ot', 'vg', t.lv, { snapshotReserve: 100 });
    const k = await agent.createVolume(createArgs('pvc-ok', 8 * MiB, { lvmType: 'thick' }));
    const sk = await agent.createSnapshot('snap-ok', 'vg', k.lv, { snapshotReserve: 50 });
    for (const s of [st, sk]) {
      fake.setOpen('vg', s.lv, true);
      fake.ops.length = 0;
      const e = await agent.deleteSnapshot('vg', s.lv).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(FailedPrecondition);
      expect((e as Error).message).toMatch(new RegExp(`snapshot [^ ]+/vg/${s.lv} is open on the storage node`));
      expect(fake.ops).toEqual([]);
      expect(fake.dd).toEqual([]);
      fake.setOpen('vg', s.lv, false);
      await agent.deleteSnapshot('vg', s.lv);
      expect(fake.names('vg')).not.toContain(s.lv);
    }
  });

  it('a snapshot being restored into a new volume is Busy', async () => {
    const { fake, agent } = agentSetup();
    const v = await agent.createVolume(createArgs('pvc-r', 8 * MiB, { lvmType: 'thick' }));
    const s = await agent.createSnapshot('snap-r', 'vg', v.lv, { snapshotReserve: 100 });
    // the restore's LV without its completion mark, as a crash leaves it before recovery resumes the copy
    const params = JSON.stringify(volumeParams({ lvmType: 'thick' }));
    await fake.createLinear(
      'vg',
      'vol-restore',
      8 * MiB,
      tagsFor({ kind: 'volume', name: 'restore', params, source: `snapshot:${s.id}`, size: String(8 * MiB) }),
    );
    await expect(agent.deleteSnapshot('vg', s.lv)).rejects.toBeInstanceOf(Busy);
    expect(fake.names('vg')).toContain(s.lv);
  });
});
