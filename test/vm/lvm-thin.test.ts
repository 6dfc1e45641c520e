/**
 * Foundation check on the real kernel: the project's own LVM code makes a VG
 * with a thin pool and a thin LV; `lvs --reportformat json` (read directly)
 * sees exactly that. And the one runner never waits forever: a command in
 * uninterruptible sleep on a suspended device-mapper device outlives even
 * SIGKILL, and the call that ran it fails instead of hanging.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandFailed } from '../../src/errors.js';
import { ProcessRunner } from '../../src/exec/process-runner.js';
import { Lvm } from '../../src/lvm/lvm.js';
import { lvmSettings } from '../../src/lvm/settings.js';
import { destroyVg, disks, inGuest, lvsJson, MiB, sh, waitFor } from './lib.js';

const VG = 'vmthin';

describe.runIf(inGuest)('LVM on the real kernel', () => {
  const lvm = new Lvm(new ProcessRunner(), lvmSettings());

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

  it('a read of a suspended device outlives SIGKILL: the runner stops waiting and says so; resumed, the reader ends', async () => {
    const dm = `${VG}-thin1`;
    sh(['dmsetup', 'suspend', dm]);
    let pid = 0;
    try {
      const runner = new ProcessRunner({ abandonAfterMs: 2_000 });
      const started = Date.now();
      const err = (await runner
        .run(['dd', `if=/dev/mapper/${dm}`, 'of=/dev/null', 'bs=4096', 'count=1', 'iflag=direct', 'status=none'], {
          timeoutMs: 1_000,
        })
        .catch((e: unknown) => e)) as CommandFailed;
      expect(err).toBeInstanceOf(CommandFailed);
      expect(err.timedOut).toBe(true);
      expect(err.message).toMatch(/still running .* after SIGKILL; no longer waited for/);
      // 1 s timeout + 5 s before SIGKILL + 2 s: the call ended, the reader did not
      expect(Date.now() - started).toBeLessThan(30_000);
      pid = Number(/pid (\d+)/.exec(err.stderr)?.[1]);
      const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
      expect(state, 'the reader is in uninterruptible sleep').toBe('D');
    } finally {
      sh(['dmsetup', 'resume', dm]);
    }
    // SIGKILL is pending: the reader ends as soon as its I/O completes
    await waitFor(
      () => {
        try {
          readFileSync(`/proc/${pid}/stat`);
          return false;
        } catch {
          return true;
        }
      },
      30_000,
      () => `dd (pid ${pid}) still there after the resume`,
    );
    expect((await lvm.getLv(VG, 'thin1'))?.active).toBe(true);
  }, 120_000);
});
