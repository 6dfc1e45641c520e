/** Filling new volumes (src/agent/copy-jobs.ts) against the stateful fake LVM: clones, restores, and what a failure leaves. */
import { describe, expect, it } from 'vitest';
import { temporaryLvName, volumeLvName } from '../../../src/lvm/names.js';
import { agentSetup, createArgs, ddSummary, MiB } from './agent-setup.js';

describe('volumes from a source', () => {
  it('thin from thin: a writable thin snapshot, no copy; asked larger: grown', async () => {
    const { fake, agent } = agentSetup();
    const v = await agent.createVolume(createArgs('src', 16 * MiB));
    fake.ops.length = 0;
    const same = await agent.createVolume(createArgs('clone-1', 16 * MiB, {}, { kind: 'volume', id: v.id }));
    expect(same).toMatchObject({ state: 'ready', sizeBytes: 16 * MiB, source: { kind: 'volume', id: v.id } });
    const big = await agent.createVolume(createArgs('clone-2', 32 * MiB, {}, { kind: 'volume', id: v.id }));
    expect(big).toMatchObject({ state: 'ready', sizeBytes: 32 * MiB });
    expect(fake.ops).toEqual([
      `lvcreate thin-snapshot vg/${same.lv} of ${v.lv}`,
      `lvcreate thin-snapshot vg/${big.lv} of ${v.lv}`,
      `lvextend vg/${big.lv} ${32 * MiB}`,
      `lvchange tags vg/${big.lv}`, // the completion mark, after the growth
    ]);
    expect(fake.dd).toEqual([]);
    expect((await fake.getLv('vg', same.lv))?.attr.permission).toBe('writeable');
  });

  it('thick restore: copied from the snapshot, the rest of a larger volume zeroed, then marked ready', async () => {
    const { fake, agent } = agentSetup();
    const v = await agent.createVolume(createArgs('src', 8 * MiB, { lvmType: 'thick' }));
    const s = await agent.createSnapshot('snap', 'vg', v.lv, { snapshotReserve: 100 });
    const r = await agent.createVolume(
      createArgs('restore', 12 * MiB, { lvmType: 'thick' }, { kind: 'snapshot', id: s.id }),
    );
    expect(r).toMatchObject({ state: 'ready', sizeBytes: 12 * MiB });
    expect(ddSummary(fake.dd)).toEqual([
      `copy /dev/mapper/vg-${s.lv} -> /dev/mapper/vg-${r.lv} seek=0 count=${8 * MiB}`,
      `zero /dev/mapper/vg-${r.lv} seek=${8 * MiB} count=${4 * MiB}`,
    ]);
    expect(fake.dd[0]).toContain('conv=notrunc,nocreat'); // never sparse onto thick
  });

  it('thick clone of a volume: copied from a temporary COW snapshot, which is zeroed and removed afterwards', async () => {
    const { fake, agent } = agentSetup();
    const v = await agent.createVolume(createArgs('src', 8 * MiB, { lvmType: 'thick' }));
    const c = await agent.createVolume(
      createArgs('clone', 8 * MiB, { lvmType: 'thick' }, { kind: 'volume', id: v.id }),
    );
    const tmp = temporaryLvName(c.lv);
    expect(c.state).toBe('ready');
    expect(ddSummary(fake.dd)).toEqual([
      `copy /dev/mapper/vg-${tmp} -> /dev/mapper/vg-${c.lv} seek=0 count=${8 * MiB}`,
      `zero /dev/mapper/vg-${tmp} seek=0 count=${8 * MiB}`,
    ]);
    expect(fake.names('vg')).toEqual([c.lv, 'pool', v.lv].sort());
  });

  it('thin volume from a thick snapshot: copied sparse (the pool zeroes), no tail zeroing', async () => {
    const { fake, agent } = agentSetup();
    const v = await agent.createVolume(createArgs('src', 8 * MiB, { lvmType: 'thick' }));
    const s = await agent.createSnapshot('snap', 'vg', v.lv, { snapshotReserve: 100 });
    const r = await agent.createVolume(createArgs('restore', 16 * MiB, {}, { kind: 'snapshot', id: s.id }));
    expect(r).toMatchObject({ state: 'ready', params: { lvmType: 'thin' } });
    expect(fake.dd).toHaveLength(1);
    expect(fake.dd[0]).toContain('conv=notrunc,nocreat,sparse');
  });

  it('a failed copy removes the partial volume (zeroed) and reports the cause once; the next attempt starts over', async () => {
    const { fake, agent } = agentSetup();
    const v = await agent.createVolume(createArgs('src', 8 * MiB, { lvmType: 'thick' }));
    const s = await agent.createSnapshot('snap', 'vg', v.lv, { snapshotReserve: 100 });
    const run = fake.runner.run.bind(fake.runner);
    let fail = true;
    fake.runner.run = async (argv, o) => {
      if (fail && argv.some((a) => a.startsWith('if=/dev/mapper/'))) throw new Error('dd: read error');
      return run(argv, o);
    };
    const args = createArgs('restore', 8 * MiB, { lvmType: 'thick' }, { kind: 'snapshot', id: s.id });
    await expect(agent.createVolume(args)).rejects.toThrow(/dd: read error/);
    expect(fake.names('vg')).toEqual(['pool', s.lv, v.lv].sort());
    expect(ddSummary(fake.dd)).toEqual([`zero /dev/mapper/vg-${volumeLvName('restore')} seek=0 count=${8 * MiB}`]); // the partial volume, zeroed before removal
    fail = false;
    expect((await agent.createVolume(args)).state).toBe('ready');
  });
});
