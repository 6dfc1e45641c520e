/**
 * Foundation check on the real kernel: the project's own LVM code makes a VG
 * with a thin pool and a thin LV; `lvs --reportformat json` (read directly)
 * sees exactly that. And the one runner never waits forever: a command in
 * uninterruptible sleep on a suspended device-mapper device outlives even
 * SIGKILL, and the call that ran it fails instead of hanging. The plugin's
 * LVM settings written as a configuration directory (LVM_SYSTEM_DIR) are the
 * ones lvm applies, with the host's configuration merged in and its archive
 * kept in the host's directory.
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandFailed } from '../../src/errors.js';
import { ProcessRunner } from '../../src/exec/process-runner.js';
import { Lvm } from '../../src/lvm/lvm.js';
import { lvmSettings } from '../../src/lvm/settings.js';
import { LvmSystemDir } from '../../src/lvm/system-dir.js';
import type { CommandRunner } from '../../src/exec/runner.js';
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

describe.runIf(inGuest)("the plugin's LVM settings as a configuration directory (LVM_SYSTEM_DIR)", () => {
  const root = mkdtempSync('/tmp/lvm-system-dir-');
  const host = join(root, 'etc-lvm');
  const mine = join(root, 'plugin');
  const VG2 = 'vmsysdir';
  beforeAll(() => {
    destroyVg(VG2);
    sh(['wipefs', '-a', '-q', disks[1] as string]);
  });
  afterAll(() => {
    destroyVg(VG2);
    rmSync(root, { recursive: true, force: true });
  });

  /** What lvm reads from the plugin's directory, as lvmconfig reports it (defaults included). */
  const effective = (...keys: string[]) =>
    sh(['env', `LVM_SYSTEM_DIR=${mine}`, 'lvmconfig', '--typeconfig', 'full', ...keys]);

  it("lvm applies the plugin's settings over the host's lvm.conf and lvmlocal.conf; a change runs without --config and archives into the host's directory; an edit of the host's files is picked up", async () => {
    mkdirSync(host, { recursive: true });
    copyFileSync('/etc/lvm/lvm.conf', join(host, 'lvm.conf'));
    writeFileSync(join(host, 'lvmlocal.conf'), 'activation {\n\treserved_stack=96\n}\n');
    const argvs: string[][] = [];
    const real = new ProcessRunner();
    const runner: CommandRunner = { run: (argv, o) => (argvs.push([...argv]), real.run(argv, o)) };
    const settings = lvmSettings();
    const d = new LvmSystemDir(runner, settings, mine, host);
    expect(await d.current()).toEqual({ LVM_SYSTEM_DIR: mine });

    const seen = effective(
      'activation/reserved_stack',
      'devices/global_filter',
      'backup/retain_days',
      'report/compact_output',
      'backup/archive_dir',
      'backup/backup_dir',
    );
    expect(seen).toContain('reserved_stack=96'); // the host's lvmlocal.conf
    expect(seen).toContain('r|^/dev/disk/by-path/.*-iscsi-.*|'); // the plugin's filter
    expect(seen).toContain('retain_days=7'); // the plugin's (lvm's default is 30)
    expect(seen).toContain('compact_output=0');
    expect(seen).toContain(`archive_dir="${host}/archive"`);
    expect(seen).toContain(`backup_dir="${host}/backup"`);

    // real changes through the directory
    const lvm = new Lvm(runner, settings, d);
    await lvm.vgCreate(VG2, [disks[1] as string]);
    await lvm.createThinPool(VG2, 'pool', { bytes: 128 * MiB });
    await lvm.createThin(VG2, 'pool', 'sysdir1', 64 * MiB, ['csi.name=sysdir']);
    const change = argvs.find((a) => a[0] === 'lvcreate');
    expect(change).toBeDefined();
    expect(change).not.toContain('--config');
    expect((await lvm.getLv(VG2, 'sysdir1'))?.tags).toEqual(['csi.name=sysdir']);
    expect(readdirSync(join(host, 'archive')).some((f) => f.startsWith(`${VG2}_`))).toBe(true);
    expect(readdirSync(join(host, 'backup'))).toContain(VG2);
    expect(existsSync(join(mine, 'archive')) || existsSync(join(mine, 'backup'))).toBe(false);
    await lvm.remove(VG2, 'sysdir1');

    writeFileSync(join(host, 'lvmlocal.conf'), 'activation {\n\treserved_stack=128\n}\n');
    await d.current();
    expect(effective('activation/reserved_stack')).toContain('reserved_stack=128');
    expect(argvs.filter((a) => a[0] === 'lvmconfig')).toHaveLength(2);
  }, 120_000);
});
