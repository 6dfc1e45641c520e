/** Start-up checks and recovery (src/agent/recovery.ts) against the stateful fake LVM: what a crash left, resumed or cleaned up. */
import { describe, expect, it } from 'vitest';
import { tagsFor } from '../../../src/agent/records.js';
import { FailedPrecondition } from '../../../src/errors.js';
import { temporaryLvName } from '../../../src/lvm/names.js';
import { agentSetup, createArgs, ddSummary, MiB, volumeParams } from './agent-setup.js';

const thick = JSON.stringify(volumeParams({ lvmType: 'thick' }));

describe('setup', () => {
  it('creates a configured thin pool that is missing; a missing VG is FailedPrecondition', async () => {
    const { fake, agent } = agentSetup();
    await fake.remove('vg', 'pool');
    fake.ops.length = 0;
    await agent.setup();
    expect(fake.ops).toEqual(['lvcreate thin-pool vg/pool']);
    expect((await fake.getLv('vg', 'pool'))?.sizeBytes).toBe(512 * MiB); // thinPoolPercentOfVg 50

    const other = agentSetup();
    (other.fake as unknown as { vgs: Map<string, unknown> }).vgs.delete('vg');
    await expect(other.agent.setup()).rejects.toBeInstanceOf(FailedPrecondition);
  });
});

describe('recover', () => {
  it('finishes an interrupted zero-and-delete', async () => {
    const { fake, agent } = agentSetup();
    await fake.createLinear(
      'vg',
      'vol-gone',
      8 * MiB,
      tagsFor({ kind: 'volume', name: 'gone', params: thick, ready: '1', state: 'deleting' }),
    );
    await agent.recover();
    expect(ddSummary(fake.dd)).toEqual([`zero /dev/mapper/vg-vol-gone seek=0 count=${8 * MiB}`]);
    expect(fake.names('vg')).toEqual(['pool']);
  });

  it('resumes an interrupted copy from the start, through a new temporary snapshot, and marks it ready', async () => {
    const { fake, agent, jobs } = agentSetup();
    const v = await agent.createVolume(createArgs('src', 8 * MiB, { lvmType: 'thick' }));
    await fake.createLinear(
      'vg',
      'vol-copy',
      8 * MiB,
      tagsFor({ kind: 'volume', name: 'copy', params: thick, source: `volume:${v.id}`, size: String(8 * MiB) }),
    );
    await agent.recover();
    await jobs.wait('vg/vol-copy');
    expect((await agent.getVolume('vg', 'vol-copy'))?.state).toBe('ready');
    expect(ddSummary(fake.dd)[0]).toBe(
      `copy /dev/mapper/vg-${temporaryLvName('vol-copy')} -> /dev/mapper/vg-vol-copy seek=0 count=${8 * MiB}`,
    );
    expect(fake.names('vg')).toEqual(['pool', 'vol-copy', v.lv].sort());
  });

  it('removes a temporary snapshot whose copy finished (zeroed: a thick origin zeroes), and a hidden origin left without snapshots', async () => {
    const { fake, agent } = agentSetup();
    const v = await agent.createVolume(createArgs('src', 8 * MiB, { lvmType: 'thick' }));
    const c = await agent.createVolume(
      createArgs('clone', 8 * MiB, { lvmType: 'thick' }, { kind: 'volume', id: v.id }),
    );
    // a crash between the copy's completion mark and the temporary snapshot's removal
    const tmp = temporaryLvName(c.lv);
    await fake.createCowSnapshot(
      'vg',
      v.lv,
      tmp,
      8 * MiB,
      tagsFor({ kind: 'temporary', for: c.lv, size: String(8 * MiB) }),
    );
    await fake.createLinear(
      'vg',
      'vol-hidden',
      8 * MiB,
      tagsFor({ kind: 'volume', name: 'hidden', params: thick, ready: '1', state: 'hidden' }),
    );
    fake.dd.length = 0;
    await agent.recover();
    expect(fake.names('vg')).toEqual([c.lv, 'pool', v.lv].sort());
    expect(ddSummary(fake.dd).sort()).toEqual(
      [
        `zero /dev/mapper/vg-${tmp} seek=0 count=${8 * MiB}`,
        `zero /dev/mapper/vg-vol-hidden seek=0 count=${8 * MiB}`,
      ].sort(),
    );
  });
});
