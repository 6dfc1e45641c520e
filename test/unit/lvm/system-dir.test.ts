import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunOptions } from '../../../src/exec/runner.js';
import { Lvm } from '../../../src/lvm/lvm.js';
import { LV_FIELDS } from '../../../src/lvm/report.js';
import { lvmConfigArgs, lvmConfigString, lvmSettings } from '../../../src/lvm/settings.js';
import { hostPathsConfig, LvmSystemDir, type LvmEnvironment } from '../../../src/lvm/system-dir.js';
import { FakeRunner } from '../../doubles/fake-runner.js';

const settings = lvmSettings({ udevSync: false });
const LVMCONFIG = ['lvmconfig', '--mergedconfig', '--config', lvmConfigString(settings)];
const MERGED =
  'devices {\n\tglobal_filter=["r|^/dev/disk/by-path/.*-iscsi-.*|"]\n}\nlocal {\n\tsystem_id="host-1"\n}\n';

const made: string[] = [];
afterEach(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A host LVM directory with an lvm.conf, and an empty parent for the plugin's directory. */
function dirs(): { host: string; mine: string } {
  const root = mkdtempSync(join(tmpdir(), 'system-dir-test-'));
  made.push(root);
  return { host: mkdtempSync(join(root, 'host-')), mine: join(root, 'mine') };
}

describe('LvmSystemDir', () => {
  it("writes the merged configuration (lvmconfig against the host's directory) and the host's paths, links the devices directory, and answers LVM_SYSTEM_DIR", async () => {
    const { host, mine } = dirs();
    writeFileSync(join(host, 'lvm.conf'), 'global {\n}\n');
    let env: RunOptions['env'];
    const runner = new FakeRunner().expect(LVMCONFIG, { stdout: MERGED, inspect: (o) => (env = o?.env) });
    const d = new LvmSystemDir(runner, settings, mine, host);
    expect(await d.current()).toEqual({ LVM_SYSTEM_DIR: mine });
    runner.assertDone();
    expect(env?.['LVM_SYSTEM_DIR']).toBe(host);
    expect(readFileSync(join(mine, 'lvmlocal.conf'), 'utf8')).toContain(MERGED);
    expect(readFileSync(join(mine, 'lvm.conf'), 'utf8')).toBe(hostPathsConfig(host));
    expect(hostPathsConfig(host)).toContain(`backup_dir="${host}/backup"`);
    expect(hostPathsConfig(host)).toContain(`archive_dir="${host}/archive"`);
    expect(hostPathsConfig(host)).toContain(`profile_dir="${host}/profile"`);
    expect(readlinkSync(join(mine, 'devices'))).toBe(join(host, 'devices'));
  });

  it('runs no command while the host files are unchanged, and one (shared by concurrent callers) after one changed', async () => {
    const { host, mine } = dirs();
    writeFileSync(join(host, 'lvm.conf'), 'global {\n}\n');
    const runner = new FakeRunner().expect(LVMCONFIG, { stdout: MERGED });
    const d = new LvmSystemDir(runner, settings, mine, host);
    await d.current();
    await d.current();
    runner.assertDone();

    writeFileSync(join(host, 'lvmlocal.conf'), 'local {\n\tsystem_id="host-2"\n}\n');
    runner.expect(LVMCONFIG, { stdout: 'local {\n\tsystem_id="host-2"\n}\n' });
    const answers = await Promise.all([d.current(), d.current(), d.current()]);
    expect(answers).toEqual([{ LVM_SYSTEM_DIR: mine }, { LVM_SYSTEM_DIR: mine }, { LVM_SYSTEM_DIR: mine }]);
    runner.assertDone();
    expect(readFileSync(join(mine, 'lvmlocal.conf'), 'utf8')).toContain('host-2');
  });

  it('writes the directory again when a file of it went (lvm would read no settings of the plugin at all)', async () => {
    const { host, mine } = dirs();
    writeFileSync(join(host, 'lvm.conf'), 'global {\n}\n');
    const runner = new FakeRunner().expect(LVMCONFIG, { stdout: MERGED }).expect(LVMCONFIG, { stdout: MERGED });
    const d = new LvmSystemDir(runner, settings, mine, host);
    await d.current();
    rmSync(join(mine, 'lvmlocal.conf'));
    expect(await d.current()).toEqual({ LVM_SYSTEM_DIR: mine });
    runner.assertDone();
    expect(readFileSync(join(mine, 'lvmlocal.conf'), 'utf8')).toContain(MERGED);
  });

  it('answers undefined (commands carry --config) when lvmconfig fails, and tries again only when the host files change', async () => {
    const { host, mine } = dirs();
    writeFileSync(join(host, 'lvm.conf'), 'global {\n}\n');
    const warnings: string[] = [];
    const log = { info: () => {}, warn: (_o: object, m: string) => warnings.push(m) };
    const runner = new FakeRunner().expect(LVMCONFIG, { exitCode: 5, stderr: 'Parse error at byte 3' });
    const d = new LvmSystemDir(runner, settings, mine, host, log);
    expect(await d.current()).toBeUndefined();
    expect(await d.current()).toBeUndefined();
    runner.assertDone();
    expect(warnings).toHaveLength(1);

    writeFileSync(join(host, 'lvm.conf'), 'global {\n\tumask=63\n}\n');
    runner.expect(LVMCONFIG, { stdout: MERGED });
    expect(await d.current()).toEqual({ LVM_SYSTEM_DIR: mine });
    runner.assertDone();
  });

  it('create() makes a private directory and remove() takes it away', async () => {
    const { host: parent } = dirs();
    const d = await LvmSystemDir.create(new FakeRunner(), settings, undefined, parent);
    expect(d.dir.startsWith(join(parent, 'csi-lvm-iscsi-lvm-'))).toBe(true);
    expect(existsSync(d.dir)).toBe(true);
    await d.remove();
    expect(existsSync(d.dir)).toBe(false);
  });
});

describe('Lvm with an LvmEnvironment', () => {
  const LVS = ['lvs', '--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', LV_FIELDS.join(',')];
  const empty = JSON.stringify({ report: [{ lv: [] }] });

  it('runs lvm without --config and with the environment when it has one', async () => {
    let env: RunOptions['env'];
    const runner = new FakeRunner().expect([...LVS, 'vg0'], { stdout: empty, inspect: (o) => (env = o?.env) });
    const source: LvmEnvironment = { current: async () => ({ LVM_SYSTEM_DIR: '/run/x' }) };
    await new Lvm(runner, settings, source).listLvs('vg0');
    runner.assertDone();
    expect(env).toEqual({ LVM_SYSTEM_DIR: '/run/x', LVM_SUPPRESS_FD_WARNINGS: '1' });
  });

  it('carries --config when the environment has none', async () => {
    const LVS_CFG = ['lvs', ...lvmConfigArgs(settings), ...LVS.slice(1)];
    const runner = new FakeRunner().expect([...LVS_CFG, 'vg0'], { stdout: empty });
    await new Lvm(runner, settings, { current: async () => undefined }).listLvs('vg0');
    runner.assertDone();
  });
});
