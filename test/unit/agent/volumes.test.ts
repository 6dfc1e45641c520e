/** The volume lifecycle (src/agent/volumes.ts) against the stateful fake LVM: what LVM holds after each call. */
import { describe, expect, it, vi } from 'vitest';
import { AlreadyExists, FailedPrecondition, InvalidArgument, OutOfCapacity } from '../../../src/errors.js';
import { volumeLvName } from '../../../src/lvm/names.js';
import { agentSetup, createArgs, ddSummary, MiB } from './agent-setup.js';

describe('CreateVolume', () => {
  it('thin: one lvcreate of a ready thin LV; again: the same volume and no command; other size: AlreadyExists', async () => {
    const { fake, agent } = agentSetup();
    const v = await agent.createVolume(createArgs('pvc-1', 64 * MiB));
    expect(v).toMatchObject({
      name: 'pvc-1',
      vg: 'vg',
      lv: volumeLvName('pvc-1'),
      sizeBytes: 64 * MiB,
      state: 'ready',
      params: { lvmType: 'thin' },
    });
    expect(fake.ops).toEqual([`lvcreate thin vg/${v.lv}`]);
    expect(await agent.createVolume(createArgs('pvc-1', 64 * MiB))).toEqual(v);
    await expect(
      agent.createVolume({ ...createArgs('pvc-1', 128 * MiB), range: { required: 128 * MiB, limit: 128 * MiB } }),
    ).rejects.toBeInstanceOf(AlreadyExists);
    expect(fake.ops).toHaveLength(1);
  });

  it('thick: a linear LV with the class layout, ready at once on a VG without unzeroed extents', async () => {
    const { fake, agent } = agentSetup();
    const v = await agent.createVolume(createArgs('pvc-2', 10 * MiB, { lvmType: 'thick', mirrors: '1' }));
    expect(v).toMatchObject({ sizeBytes: 12 * MiB, state: 'ready', params: { lvmType: 'thick', mirrors: 1 } }); // rounded to 4 MiB extents
    expect(fake.ops).toEqual([`lvcreate linear vg/${v.lv} mirrors=1`]);
    expect(fake.dd).toEqual([]);
  });

  it('a thin volume on a VG without a thin pool is refused before any command', async () => {
    const { fake, agent } = agentSetup({ thinPool: false });
    await expect(agent.createVolume(createArgs('pvc-3', 8 * MiB, { lvmType: 'thin' }))).rejects.toBeInstanceOf(Error);
    expect(fake.ops).toEqual([]);
  });

  it('no room: OutOfCapacity, nothing created', async () => {
    const { fake, agent } = agentSetup();
    await expect(agent.createVolume(createArgs('big', 2048 * MiB, { lvmType: 'thick' }))).rejects.toBeInstanceOf(
      OutOfCapacity,
    );
    expect(fake.ops).toEqual([]);
  });

  it('volumeGroup not served here: InvalidArgument naming the parameter', async () => {
    const { agent } = agentSetup();
    const args = createArgs('pvc-4', 8 * MiB);
    await expect(
      agent.createVolume({ ...args, params: { ...args.params, volumeGroup: 'other' } }),
    ).rejects.toMatchObject({ field: 'parameters.volumeGroup' });
    await expect(
      agent.createVolume({ ...args, params: { ...args.params, volumeGroup: 'other' } }),
    ).rejects.toBeInstanceOf(InvalidArgument);
  });
});

describe('DeleteVolume', () => {
  it('thick, volumeClear=zero: marked deleting, zeroed in full on its own device by a job, then removed', async () => {
    const { fake, agent } = agentSetup();
    const v = await agent.createVolume(createArgs('pvc-z', 8 * MiB, { lvmType: 'thick' }));
    fake.ops.length = 0;
    await agent.deleteVolume('vg', v.lv);
    expect(ddSummary(fake.dd)).toEqual([`zero /dev/mapper/vg-${v.lv} seek=0 count=${8 * MiB}`]);
    expect(fake.ops).toEqual([`lvchange tags vg/${v.lv}`, `lvremove vg/${v.lv}`]);
    expect(fake.names('vg')).toEqual(['pool']);
    await agent.deleteVolume('vg', v.lv); // again: nothing
    expect(fake.ops).toHaveLength(2);
  });

  it('thick, volumeClear=none: the VG is marked unzeroed first, no write; the next zeroing thick volume is zeroed before it is ready', async () => {
    const { fake, agent } = agentSetup();
    const v = await agent.createVolume(createArgs('pvc-n', 8 * MiB, { lvmType: 'thick', volumeClear: 'none' }));
    fake.ops.length = 0;
    await agent.deleteVolume('vg', v.lv);
    expect(fake.ops).toEqual(['vgchange --addtag vg', `lvremove vg/${v.lv}`]);
    expect(fake.dd).toEqual([]);
    const w = await agent.createVolume(createArgs('pvc-after', 8 * MiB, { lvmType: 'thick' }));
    expect(w.state).toBe('ready');
    expect(ddSummary(fake.dd)).toEqual([`zero /dev/mapper/vg-${w.lv} seek=0 count=${8 * MiB}`]);
    expect(fake.tagsOf('vg', w.lv)).toContain('csi.ready=1');
  });

  it('thin: removed at once, never written (the pool zeroes)', async () => {
    const { fake, agent } = agentSetup();
    const v = await agent.createVolume(createArgs('pvc-t', 8 * MiB));
    fake.ops.length = 0;
    await agent.deleteVolume('vg', v.lv);
    expect(fake.ops).toEqual([`lvremove vg/${v.lv}`]);
    expect(fake.dd).toEqual([]);
  });

  it('a thick origin with a COW snapshot is hidden, and removed (zeroed) with its last snapshot', async () => {
    const { fake, agent } = agentSetup();
    const v = await agent.createVolume(createArgs('pvc-o', 8 * MiB, { lvmType: 'thick' }));
    const s = await agent.createSnapshot('snap-o', 'vg', v.lv, { snapshotReserve: 50 });
    await agent.deleteVolume('vg', v.lv);
    expect(fake.names('vg')).toContain(v.lv);
    expect(await agent.listVolumes()).toEqual([]);
    await agent.deleteSnapshot('vg', s.lv);
    expect(fake.names('vg')).toEqual(['pool']);
    expect(ddSummary(fake.dd)).toEqual([
      `zero /dev/mapper/vg-${s.lv} seek=0 count=${4 * MiB}`,
      `zero /dev/mapper/vg-${v.lv} seek=0 count=${8 * MiB}`,
    ]);
  });

  const openRefused = async (fake: ReturnType<typeof agentSetup>['fake'], call: Promise<unknown>, lv: string) => {
    const e = await call.then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(FailedPrecondition);
    expect((e as Error).message).toMatch(new RegExp(`volume [^ ]+/vg/${lv} is open on the storage node storage-1`));
    expect(fake.names('vg')).toContain(lv);
  };

  it('thin, open on the storage node: FailedPrecondition naming it (lvremove refused), nothing changed; closed: removed', async () => {
    const { fake, agent } = agentSetup();
    const v = await agent.createVolume(createArgs('pvc-open-thin', 8 * MiB));
    fake.setOpen('vg', v.lv, true);
    fake.ops.length = 0;
    await openRefused(fake, agent.deleteVolume('vg', v.lv), v.lv);
    expect(fake.ops).toEqual([]);
    fake.setOpen('vg', v.lv, false);
    await agent.deleteVolume('vg', v.lv);
    expect(fake.names('vg')).toEqual(['pool']);
  });

  it('thick volumeClear=zero, open on the storage node: refused before the deleting mark or any write; closed: zeroed while held with O_EXCL, removed', async () => {
    const { fake, agent } = agentSetup();
    const v = await agent.createVolume(createArgs('pvc-open-zero', 8 * MiB, { lvmType: 'thick' }));
    fake.setOpen('vg', v.lv, true);
    fake.ops.length = 0;
    await openRefused(fake, agent.deleteVolume('vg', v.lv), v.lv);
    expect(fake.ops).toEqual([]);
    expect(fake.dd).toEqual([]);
    expect(fake.tagsOf('vg', v.lv)).not.toContain('csi.state=deleting');
    fake.setOpen('vg', v.lv, false);
    await agent.deleteVolume('vg', v.lv);
    expect(fake.claims).toEqual([`/dev/mapper/vg-${v.lv}`]);
    expect(ddSummary(fake.dd)).toEqual([`zero /dev/mapper/vg-${v.lv} seek=0 count=${8 * MiB}`]);
    expect(fake.names('vg')).toEqual(['pool']);
  });

  it('thick volumeClear=none, open on the storage node: refused before the VG is marked unzeroed', async () => {
    const { fake, agent } = agentSetup();
    const v = await agent.createVolume(createArgs('pvc-open-none', 8 * MiB, { lvmType: 'thick', volumeClear: 'none' }));
    fake.setOpen('vg', v.lv, true);
    fake.ops.length = 0;
    await openRefused(fake, agent.deleteVolume('vg', v.lv), v.lv);
    expect(fake.ops).toEqual([]);
  });

  it('a thick origin with a COW snapshot, open on the storage node: refused, not hidden', async () => {
    const { fake, agent } = agentSetup();
    const v = await agent.createVolume(createArgs('pvc-open-origin', 8 * MiB, { lvmType: 'thick' }));
    await agent.createSnapshot('snap-open-origin', 'vg', v.lv, { snapshotReserve: 50 });
    fake.setOpen('vg', v.lv, true);
    fake.ops.length = 0;
    await openRefused(fake, agent.deleteVolume('vg', v.lv), v.lv);
    expect(fake.ops).toEqual([]);
    expect((await agent.listVolumes()).map((x) => x.lv)).toContain(v.lv);
  });

  it('a published volume is refused', async () => {
    const { agent } = agentSetup();
    const v = await agent.createVolume(createArgs('pvc-p', 8 * MiB));
    const publication = { nodeId: 'node-a:iqn.2024-01.test:node-a', readOnly: false, mode: 'SINGLE_NODE_WRITER' };
    await agent.publish({
      vg: 'vg',
      lv: v.lv,
      publication,
      initiatorIqn: 'iqn.2024-01.test:node-a',
      nodeName: 'node-a',
      chap: undefined,
    });
    await expect(agent.deleteVolume('vg', v.lv)).rejects.toBeInstanceOf(FailedPrecondition);
  });

  it("a volume still exported without a publication is refused; the check looks at its own target only, never at every target's state", async () => {
    const { agent, target } = agentSetup();
    const a = await agent.createVolume(createArgs('pvc-x', 8 * MiB));
    const b = await agent.createVolume(createArgs('pvc-y', 8 * MiB));
    const publish = (lv: string, node: string) =>
      agent.publish({
        vg: 'vg',
        lv,
        publication: { nodeId: `${node}:iqn.2024-01.test:${node}`, readOnly: false, mode: 'SINGLE_NODE_WRITER' },
        initiatorIqn: `iqn.2024-01.test:${node}`,
        nodeName: node,
        chap: undefined,
      });
    await publish(a.lv, 'node-a');
    await publish(b.lv, 'node-b');
    const [iqnA, left] = [...target.targets.entries()].find(([iqn]) => iqn.endsWith(a.lv)) ?? [];
    expect(iqnA).toBeDefined();
    await agent.unpublish('vg', a.lv, 'node-a:iqn.2024-01.test:node-a');
    expect(target.targets.has(iqnA ?? '')).toBe(false);
    // the target is back (a half-done unpublish, an operator's targetcli): LVM must not remove what LIO holds
    if (iqnA && left) target.targets.set(iqnA, left);
    const full = vi.spyOn(target, 'listTargets');
    await expect(agent.deleteVolume('vg', a.lv)).rejects.toThrow(/still exported/);
    target.targets.delete(iqnA ?? '');
    await agent.deleteVolume('vg', a.lv);
    expect((await agent.listVolumes()).map((x) => x.lv)).not.toContain(a.lv);
    // every other target (here b's) stays unread: at hundreds of exports a full listing reads thousands of files
    expect(full).not.toHaveBeenCalled();
  });
});

describe('ControllerExpandVolume', () => {
  it('thin grows in place; thick with a COW snapshot is refused', async () => {
    const { fake, agent } = agentSetup();
    const t = await agent.createVolume(createArgs('pvc-e', 8 * MiB));
    expect((await agent.expandVolume('vg', t.lv, { required: 16 * MiB, limit: 0 })).sizeBytes).toBe(16 * MiB);
    expect(fake.ops.at(-1)).toBe(`lvextend vg/${t.lv} ${16 * MiB}`);
    const k = await agent.createVolume(createArgs('pvc-k', 8 * MiB, { lvmType: 'thick' }));
    await agent.createSnapshot('snap-k', 'vg', k.lv, { snapshotReserve: 50 });
    await expect(agent.expandVolume('vg', k.lv, { required: 16 * MiB, limit: 0 })).rejects.toBeInstanceOf(
      FailedPrecondition,
    );
  });
});

describe('ListVolumes pages', () => {
  it('with a limit: sorted by id, only ids after `after`, at most `limit` of them; without: every volume', async () => {
    const { agent } = agentSetup();
    for (const n of ['pvc-c', 'pvc-a', 'pvc-e', 'pvc-b', 'pvc-d']) await agent.createVolume(createArgs(n, 8 * MiB));
    const ids = (await agent.listVolumes()).map((v) => v.id);
    expect(ids).toHaveLength(5);
    const sorted = [...ids].sort();
    expect((await agent.listVolumes({ limit: 2, readyOnly: true })).map((v) => v.id)).toEqual(sorted.slice(0, 2));
    expect((await agent.listVolumes({ after: sorted[1], limit: 2 })).map((v) => v.id)).toEqual(sorted.slice(2, 4));
    expect((await agent.listVolumes({ after: sorted[3], limit: 2 })).map((v) => v.id)).toEqual(sorted.slice(4));
    expect(await agent.listVolumes({ after: sorted[4], limit: 2 })).toEqual([]);
  });

  it('a page made after a change shows it; a volume skipped by readyOnly does not use up the limit', async () => {
    const { fake, agent } = agentSetup();
    for (const n of ['pvc-a', 'pvc-b', 'pvc-c']) await agent.createVolume(createArgs(n, 8 * MiB));
    expect(await agent.listVolumes({ limit: 10 })).toHaveLength(3);
    await agent.createVolume(createArgs('pvc-d', 8 * MiB));
    const before = await agent.listVolumes({ limit: 10 });
    expect(before.map((v) => v.name).sort()).toEqual(['pvc-a', 'pvc-b', 'pvc-c', 'pvc-d']);
    expect(before.map((v) => v.id)).toEqual(before.map((v) => v.id).sort());
    // the second in id order loses its completion mark: copying, so readyOnly skips it
    const [v0, v1, v2, v3] = before.map((v) => v.name);
    await fake.lvm.changeTags('vg', before[1]?.lv ?? '', { del: ['csi.ready=1'] });
    const after = await agent.listVolumes({ limit: 10 });
    expect(after.map((v) => [v.name, v.state])).toEqual([
      [v0, 'ready'],
      [v1, 'copying'],
      [v2, 'ready'],
      [v3, 'ready'],
    ]);
    expect((await agent.listVolumes({ limit: 2, readyOnly: true })).map((v) => v.name)).toEqual([v0, v2]);
    expect((await agent.listVolumes({ after: before[0]?.id, limit: 2, readyOnly: true })).map((v) => v.name)).toEqual([
      v2,
      v3,
    ]);
  });
});
