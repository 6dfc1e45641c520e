import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Inventory, MUTATING_CALLS, notifyOnChange } from '../../../src/agent/inventory.js';
import { Jobs } from '../../../src/agent/jobs.js';
import { tagsFor } from '../../../src/agent/records.js';
import type { StorageAgent } from '../../../src/agent/types.js';
import { FakeRunner } from '../../doubles/fake-runner.js';
import { createLogger } from '../../../src/log.js';
import { CachedLvm } from '../../../src/lvm/cached-lvm.js';
import { LV_FIELDS, VG_FIELDS } from '../../../src/lvm/report.js';
import { lvRow, report, vgRow } from '../lvm/rows.js';
import { lvmConfigArgs, lvmSettings } from '../../../src/lvm/settings.js';
import { Metrics } from '../../../src/metrics.js';
import { MemoryTarget } from '../../doubles/memory-target.js';

const settings = lvmSettings();
const REPORT = ['--reportformat', 'json', '--units', 'b', '--nosuffix'];
const VGS = ['vgs', ...lvmConfigArgs(settings), ...REPORT, '-o', VG_FIELDS.join(',')];
const LVS = ['lvs', ...lvmConfigArgs(settings), ...REPORT, '-o', LV_FIELDS.join(',')];
const PREFIX = 'iqn.2024-01.org.example.csi-lvm-iscsi';
const MiB = 1024 * 1024;
/** The VG's metadata stamp never moves here: only the test's own scripted changes happen. */
const stamp = async () => 'stamp-1';
const log = createLogger('fatal', new Writable({ write: (_c, _e, cb) => cb() }));

const volumeTags = (name: string, extra: Record<string, string> = {}) =>
  tagsFor({ kind: 'volume', name, params: JSON.stringify({ lvmType: 'thin' }), ready: '1', ...extra });

/** VG "vg0" with a thin pool and n thin volumes (one of them snapshotted once); an unrelated VG "other". */
function fixture(n: number): { vgs: string; lvs: string } {
  const lvs = [lvRow('vg0', 'pool', { size: 800 * MiB, attr: 'twi-aotz--', data: '12.50', meta: '3.25' })];
  for (let i = 0; i < n; i++) lvs.push(lvRow('vg0', `vol-${i}`, { pool: 'pool', tags: volumeTags(`pvc-${i}`) }));
  lvs.push(
    lvRow('vg0', 'snap-0', {
      pool: 'pool',
      origin: 'vol-0',
      attr: 'Vri---tz-k',
      tags: tagsFor({ kind: 'snapshot', name: 's0', source: 'x/vg0/vol-0', ready: '1' }),
    }),
  );
  lvs.push(lvRow('vg0', 'vol-gone', { pool: 'pool', tags: volumeTags('pvc-gone', { state: 'deleting' }) }));
  lvs.push(lvRow('other', 'root', { attr: '-wi-ao----', size: 4096 * MiB }));
  return {
    vgs: report('vg', [vgRow('vg0', 1024 * MiB, 200 * MiB), vgRow('other', 8192 * MiB, 0)]),
    lvs: report('lv', lvs),
  };
}

function setup(o: { debounceMs?: number; target?: MemoryTarget } = {}) {
  const runner = new FakeRunner();
  const metrics = new Metrics();
  const lvm = new CachedLvm(runner, settings, stamp);
  const inv: Inventory = new Inventory({
    lvm,
    log,
    volumeGroups: ['vg0'],
    nodeId: 'abcdefgh',
    iqnPrefix: PREFIX,
    intervalMs: 0,
    debounceMs: o.debounceMs ?? 1000,
    ...(o.target ? { listTargets: () => o.target!.listTargets() } : {}),
    observer: metrics.watchInventory({ current: () => inv.current() }),
  });
  const script = (n: number) => {
    const f = fixture(n);
    runner.expect(VGS, { stdout: f.vgs }).expect(LVS, { stdout: f.lvs });
  };
  return { runner, metrics, inv, script };
}

async function value(metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const m = await metrics.registry.getSingleMetric(name)?.get();
  const v = m?.values.find((x) => Object.entries(labels).every(([k, want]) => x.labels[k] === want));
  return v?.value;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('Inventory (capacity and inventory gauges)', () => {
  for (const n of [1, 10, 500]) {
    it(`${n} volume(s): exactly one vgs and one lvs per refresh`, async () => {
      const { runner, inv, metrics, script } = setup();
      script(n);
      await inv.refresh();
      runner.assertDone();
      expect(runner.calls.map((c) => c[0])).toEqual(['vgs', 'lvs']);
      expect(await value(metrics, 'csi_lvm_iscsi_volumes', { vg: 'vg0' })).toBe(n);
      expect(await value(metrics, 'csi_lvm_iscsi_snapshots', { vg: 'vg0' })).toBe(1);
      expect(await value(metrics, 'csi_lvm_iscsi_volumes', { vg: 'other' })).toBeUndefined();
    });
  }

  it('fills the VG and thin pool gauges from the one report of each', async () => {
    const { runner, inv, metrics, script } = setup();
    script(3);
    await inv.refresh();
    runner.assertDone();
    expect(await value(metrics, 'csi_lvm_iscsi_volume_group_size_bytes', { vg: 'vg0' })).toBe(1024 * MiB);
    expect(await value(metrics, 'csi_lvm_iscsi_volume_group_free_bytes', { vg: 'vg0' })).toBe(200 * MiB);
    const pool = { vg: 'vg0', pool: 'pool' };
    expect(await value(metrics, 'csi_lvm_iscsi_thin_pool_size_bytes', pool)).toBe(800 * MiB);
    expect(await value(metrics, 'csi_lvm_iscsi_thin_pool_data_percent', pool)).toBe(12.5);
    expect(await value(metrics, 'csi_lvm_iscsi_thin_pool_metadata_percent', pool)).toBe(3.25);
    // 3 volumes + 1 snapshot + the one being deleted, 32 MiB each
    expect(await value(metrics, 'csi_lvm_iscsi_thin_pool_provisioned_bytes', pool)).toBe(5 * 32 * MiB);
    expect(await value(metrics, 'csi_lvm_iscsi_inventory_refreshes_total', { result: 'ok' })).toBe(1);
    // the volume group "other" is not the agent's
    const text = await metrics.registry.metrics();
    expect(text).not.toMatch(/vg="other"/);
  });

  it('a scrape runs no command, however often', async () => {
    const { runner, inv, metrics, script } = setup();
    script(20);
    await inv.refresh();
    const before = runner.calls.length;
    for (let i = 0; i < 5; i++) await metrics.registry.metrics();
    expect(runner.calls.length).toBe(before);
    runner.assertDone();
  });

  it('before the first refresh the gauges are empty and nothing runs', async () => {
    const { runner, metrics } = setup();
    const text = await metrics.registry.metrics();
    expect(text).not.toMatch(/^csi_lvm_iscsi_volumes\{/m);
    expect(runner.calls).toEqual([]);
  });

  it('a burst of changes costs one refresh (debounced); a later change is recounted from memory', async () => {
    vi.useFakeTimers();
    const { runner, inv, script } = setup({ debounceMs: 1000 });
    script(2);
    for (let i = 0; i < 10; i++) inv.changed();
    await vi.advanceTimersByTimeAsync(500);
    inv.changed();
    expect(runner.calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(600);
    await vi.waitFor(() => expect(runner.calls.length).toBe(2));
    await vi.advanceTimersByTimeAsync(5000);
    expect(runner.calls.length).toBe(2);
    runner.assertDone();
    // once the VG is in memory, a change is recounted from there: no command
    const before = inv.current()?.at ?? 0;
    await vi.advanceTimersByTimeAsync(10);
    inv.changed();
    await vi.advanceTimersByTimeAsync(1000);
    await vi.waitFor(() => expect(inv.current()?.at).toBeGreaterThan(before));
    expect(runner.calls.length).toBe(2);
    await inv.stop();
  });

  it('refreshes asked for while one runs share a single follow-up refresh', async () => {
    const { runner, inv, script } = setup();
    script(1);
    script(1);
    const first = inv.refresh();
    const a = inv.refresh();
    const b = inv.refresh();
    await Promise.all([first, a, b]);
    expect(runner.calls.map((c) => c[0])).toEqual(['vgs', 'lvs', 'vgs', 'lvs']);
    runner.assertDone();
  });

  it('the timer refreshes every interval; stop() ends it', async () => {
    vi.useFakeTimers();
    const runner = new FakeRunner();
    const inv = new Inventory({
      lvm: new CachedLvm(runner, settings, stamp),
      log,
      volumeGroups: ['vg0'],
      nodeId: 'n',
      iqnPrefix: PREFIX,
      intervalMs: 60_000,
    });
    const f = fixture(1);
    for (let i = 0; i < 2; i++) runner.expect(VGS, { stdout: f.vgs }).expect(LVS, { stdout: f.lvs });
    inv.start();
    await vi.advanceTimersByTimeAsync(59_000);
    expect(runner.calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_000);
    await vi.waitFor(() => expect(runner.calls.length).toBe(2));
    await vi.advanceTimersByTimeAsync(60_000);
    await vi.waitFor(() => expect(runner.calls.length).toBe(4));
    await inv.stop();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(runner.calls.length).toBe(4);
    runner.assertDone();
  });

  it('a timer tick while a refresh runs is skipped, not queued', async () => {
    vi.useFakeTimers();
    const fake = new FakeRunner();
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    const runner = {
      calls: fake.calls,
      run: async (argv: readonly string[], o?: Parameters<FakeRunner['run']>[1]) =>
        argv[0] === 'vgs' ? slow.then(() => fake.run(argv, o)) : fake.run(argv, o),
    };
    const inv = new Inventory({
      lvm: new CachedLvm(runner, settings, stamp),
      log,
      volumeGroups: ['vg0'],
      nodeId: 'n',
      iqnPrefix: PREFIX,
      intervalMs: 1_000,
    });
    const f = fixture(1);
    fake.expect(VGS, { stdout: f.vgs }).expect(LVS, { stdout: f.lvs });
    inv.start();
    await vi.advanceTimersByTimeAsync(1_000); // the first tick starts a refresh that hangs in vgs
    await vi.advanceTimersByTimeAsync(5_000); // five more ticks while it runs
    release();
    await vi.waitFor(() => expect(fake.calls.length).toBe(2));
    await vi.advanceTimersByTimeAsync(0);
    expect(fake.calls.map((c) => c[0])).toEqual(['vgs', 'lvs']);
    fake.assertDone();
    await inv.stop();
  });

  it('a failed refresh keeps the last values and is counted', async () => {
    const { runner, inv, metrics, script } = setup();
    script(4);
    runner.expect(VGS, { exitCode: 5, stderr: '  Reading VG failed\n' });
    await inv.refresh();
    await inv.refresh();
    runner.assertDone();
    expect(await value(metrics, 'csi_lvm_iscsi_volumes', { vg: 'vg0' })).toBe(4);
    expect(await value(metrics, 'csi_lvm_iscsi_inventory_refreshes_total', { result: 'error' })).toBe(1);
  });

  it('counts the targets under the IQN prefix and their logged-in sessions (no command for LIO)', async () => {
    const target = new MemoryTarget();
    const { runner, inv, metrics, script } = setup({ target });
    const spec = (lv: string, iqn = `${PREFIX}:vg0:${lv}`) => ({
      iqn,
      volumeKey: `vg0/${lv}`,
      devicePath: `/dev/vg0/${lv}`,
      serial: lv,
      portals: [{ address: '127.0.0.1', port: 3260 }],
    });
    await target.ensureTarget(spec('vol-0'));
    await target.ensureTarget(spec('vol-1'));
    await target.ensureTarget(spec('x', 'iqn.2003-01.org.linux-iscsi.other:foreign'));
    await target.allowInitiator(`${PREFIX}:vg0:vol-0`, 'iqn.2024-01.test:node-a');
    await target.allowInitiator(`${PREFIX}:vg0:vol-0`, 'iqn.2024-01.test:node-b');
    target.setSessions(`${PREFIX}:vg0:vol-0`, 'iqn.2024-01.test:node-a', 1);
    target.setSessions(`${PREFIX}:vg0:vol-0`, 'iqn.2024-01.test:node-b', 1);
    script(2);
    await inv.refresh();
    runner.assertDone();
    expect(await value(metrics, 'csi_lvm_iscsi_exported_targets')).toBe(2);
    expect(await value(metrics, 'csi_lvm_iscsi_iscsi_sessions')).toBe(2);
  });
});

describe('notifyOnChange', () => {
  function fakeAgent(calls: string[]): StorageAgent {
    const ok = (name: string) => async () => {
      calls.push(name);
      return undefined as never;
    };
    return {
      nodeId: 'n',
      nodeName: 'node',
      volumeGroups: () => ['vg0'],
      hasThinPool: () => true,
      createVolume: ok('createVolume'),
      findVolumeByName: ok('findVolumeByName'),
      getVolume: ok('getVolume'),
      listVolumes: ok('listVolumes'),
      deleteVolume: async () => {
        calls.push('deleteVolume');
        throw new Error('busy');
      },
      expandVolume: ok('expandVolume'),
      createSnapshot: ok('createSnapshot'),
      findSnapshotByName: ok('findSnapshotByName'),
      getSnapshot: ok('getSnapshot'),
      listSnapshots: ok('listSnapshots'),
      deleteSnapshot: ok('deleteSnapshot'),
      publish: ok('publish'),
      unpublish: ok('unpublish'),
      poolStatus: ok('poolStatus'),
      capacity: ok('capacity'),
    };
  }

  it('signals after each mutating call (failed ones too), never after reads', async () => {
    const calls: string[] = [];
    let changes = 0;
    const agent = notifyOnChange(fakeAgent(calls), () => changes++);
    await agent.listVolumes();
    await agent.getVolume('vg0', 'x');
    await agent.capacity({ vg: 'vg0', lvmType: 'thin', mirrors: 0, stripes: 1 });
    expect(changes).toBe(0);
    for (const m of MUTATING_CALLS) {
      const before = changes;
      await (agent[m] as (...a: unknown[]) => Promise<unknown>)().catch(() => undefined);
      expect(changes, m).toBe(before + 1);
    }
    await expect(agent.deleteVolume('vg0', 'x')).rejects.toThrow('busy');
    expect(agent.nodeId).toBe('n');
    expect(agent.volumeGroups()).toEqual(['vg0']);
  });

  it('finished background jobs signal too (Jobs.onSettled)', async () => {
    const jobs = new Jobs(log);
    let settled = 0;
    jobs.onSettled(() => settled++);
    jobs.start('vg0/a', 'zero', async () => undefined);
    jobs.start('vg0/b', 'copy', async () => {
      throw new Error('x');
    });
    await Promise.all([jobs.wait('vg0/a'), jobs.wait('vg0/b')]);
    expect(settled).toBe(2);
  });
});
