import { describe, expect, it } from 'vitest';
import { FailedPrecondition, InvalidArgument, NotFound } from '../../../src/errors.js';
import { FakeRunner } from '../../../src/exec/fake-runner.js';
import { Lvm } from '../../../src/lvm/lvm.js';
import { ThickPool, ThinPool } from '../../../src/lvm/pool.js';
import { LV_FIELDS, VG_FIELDS } from '../../../src/lvm/report.js';
import { lvmConfigArgs, lvmSettings } from '../../../src/lvm/settings.js';
import { fixture } from './fixtures.js';

const settings = lvmSettings();
const CFG = lvmConfigArgs(settings);
const REPORT = ['--reportformat', 'json', '--units', 'b', '--nosuffix'];
const LVS = ['lvs', ...CFG, ...REPORT, '-o', LV_FIELDS.join(',')];
const ROWS = (JSON.parse(fixture('lvs-active.json')) as { report: Array<{ lv: Record<string, string>[] }> }).report[0]!.lv;

function row(name: string, patch: Record<string, string> = {}): Record<string, string> {
  const r = ROWS.find((x) => x['lv_name'] === name);
  if (!r) throw new Error(`no row ${name}`);
  return { ...r, ...patch };
}
const report = (...rows: Record<string, string>[]): string => JSON.stringify({ report: [{ lv: rows }] });
const notFound = (vg: string, lv: string) => ({ exitCode: 5, stderr: `  Failed to find logical volume "${vg}/${lv}"\n` });

function setup(): { runner: FakeRunner; lvm: Lvm } {
  const runner = new FakeRunner();
  return { runner, lvm: new Lvm(runner, settings) };
}

describe('ThinPool', () => {
  it('create: thin lvcreate then read back', async () => {
    const { runner, lvm } = setup();
    const pool = new ThinPool(lvm, 'csivg', 'pool0');
    runner
      .expect(['lvcreate', ...CFG, '--yes', '--type', 'thin', '--virtualsize', '67108864b', '--thinpool', 'pool0', '--name', 'vol_thin1', '--addtag', 'csi.kind=volume', 'csivg'])
      .expect([...LVS, 'csivg/vol_thin1'], { stdout: report(row('vol_thin1')) });
    const lv = await pool.create('vol_thin1', 64 << 20, ['csi.kind=volume']);
    expect(lv.pool).toBe('pool0');
    expect(pool.kind).toBe('thin');
    runner.assertDone();
  });

  it('create refuses mirrors/stripes', async () => {
    const { runner, lvm } = setup();
    await expect(new ThinPool(lvm, 'csivg', 'pool0').create('v', 1 << 20, [], { mirrors: 1 })).rejects.toBeInstanceOf(InvalidArgument);
    runner.assertDone();
  });

  it('snapshot: read-only, inactive, not skip-flagged', async () => {
    const { runner, lvm } = setup();
    const pool = new ThinPool(lvm, 'csivg', 'pool0');
    runner
      .expect([...LVS, 'csivg/vol_thin1'], { stdout: report(row('vol_thin1')) })
      .expect([
        'lvcreate', ...CFG, '--yes', '--snapshot', '--setactivationskip', 'n', '--activate', 'n', '--permission', 'r',
        '--name', 'snap_thin1', '--addtag', 'csi.kind=snapshot', 'csivg/vol_thin1',
      ])
      .expect([...LVS, 'csivg/snap_thin1'], { stdout: report(row('snap_thin1')) });
    const snap = await pool.snapshot('vol_thin1', 'snap_thin1', ['csi.kind=snapshot']);
    expect(snap.origin).toBe('vol_thin1');
    runner.assertDone();
  });

  it('snapshot of a volume outside the pool is NotFound', async () => {
    const { runner, lvm } = setup();
    const pool = new ThinPool(lvm, 'csivg', 'pool0');
    runner.expect([...LVS, 'csivg/vol_thick1'], { stdout: report(row('vol_thick1')) });
    await expect(pool.snapshot('vol_thick1', 'snap-x', [])).rejects.toBeInstanceOf(NotFound);
    runner.assertDone();
  });

  it('createFrom: writable active thin snapshot, extended when asked bigger, no copy needed', async () => {
    const { runner, lvm } = setup();
    const pool = new ThinPool(lvm, 'csivg', 'pool0');
    runner
      .expect([...LVS, 'csivg/snap_thin1'], { stdout: report(row('snap_thin1')) })
      .expect([
        'lvcreate', ...CFG, '--yes', '--snapshot', '--setactivationskip', 'n', '--activate', 'y', '--permission', 'rw',
        '--name', 'vol_clone1', '--addtag', 'csi.kind=volume', 'csivg/snap_thin1',
      ])
      .expect(['lvextend', ...CFG, '--size', '134217728b', 'csivg/vol_clone1'])
      .expect([...LVS, 'csivg/vol_clone1'], { stdout: report(row('vol_clone1', { lv_size: '134217728' })) });
    const r = await pool.createFrom('snap_thin1', 'vol_clone1', 128 << 20, ['csi.kind=volume']);
    expect(r.needsCopy).toBe(false);
    expect(r.lv.sizeBytes).toBe(128 << 20);
    runner.assertDone();
  });

  it('createFrom refuses a size smaller than the source', async () => {
    const { runner, lvm } = setup();
    const pool = new ThinPool(lvm, 'csivg', 'pool0');
    runner.expect([...LVS, 'csivg/snap_thin1'], { stdout: report(row('snap_thin1')) });
    await expect(pool.createFrom('snap_thin1', 'v', 1 << 20, [])).rejects.toBeInstanceOf(InvalidArgument);
    runner.assertDone();
  });

  it('extend, remove, get, list', async () => {
    const { runner, lvm } = setup();
    const pool = new ThinPool(lvm, 'csivg', 'pool0');
    runner
      .expect(['lvextend', ...CFG, '--size', '134217728b', 'csivg/vol_thin1'])
      .expect([...LVS, 'csivg/vol_thin1'], { stdout: report(row('vol_thin1', { lv_size: '134217728' })) })
      .expect(['lvremove', ...CFG, '--yes', 'csivg/vol_thin1'])
      .expect([...LVS, 'csivg/vol_thick1'], { stdout: report(row('vol_thick1')) })
      .expect([...LVS, 'csivg/gone'], notFound('csivg', 'gone'))
      .expect([...LVS, 'csivg'], { stdout: fixture('lvs-active.json') });
    expect((await pool.extend('vol_thin1', 128 << 20)).sizeBytes).toBe(128 << 20);
    await pool.remove('vol_thin1');
    expect(await pool.get('vol_thick1')).toBeUndefined(); // exists, but not in this pool
    expect(await pool.get('gone')).toBeUndefined();
    expect((await pool.list()).map((l) => l.name)).toEqual(['snap_skip', 'snap_thin1', 'vol_clone1', 'vol_thin1']);
    runner.assertDone();
  });

  it('capacity: pool size x ratio minus virtual sizes of its thin LVs', async () => {
    const { runner, lvm } = setup();
    runner.expect([...LVS, 'csivg'], { stdout: fixture('lvs-active.json') }).expect([...LVS, 'csivg'], { stdout: fixture('lvs-active.json') });
    // pool0: 80 MiB; 4 thin LVs of 64 MiB = 256 MiB virtual
    expect(await new ThinPool(lvm, 'csivg', 'pool0').capacity()).toEqual({ totalBytes: 80 << 20, availableBytes: 0, maxVolumeBytes: 0 });
    expect(await new ThinPool(lvm, 'csivg', 'pool0', { overprovisionRatio: 4 }).capacity()).toEqual({
      totalBytes: 320 << 20,
      availableBytes: 64 << 20,
      maxVolumeBytes: 64 << 20,
    });
    runner.assertDone();
  });

  it('capacity of a missing pool is NotFound', async () => {
    const { runner, lvm } = setup();
    runner.expect([...LVS, 'csivg'], { stdout: fixture('lvs-empty.json') });
    await expect(new ThinPool(lvm, 'csivg', 'pool0').capacity()).rejects.toBeInstanceOf(NotFound);
    runner.assertDone();
  });

  it('refuses an over-provisioning ratio below 1', () => {
    expect(() => new ThinPool(setup().lvm, 'csivg', 'pool0', { overprovisionRatio: 0.5 })).toThrow();
  });
});

describe('ThickPool', () => {
  it('create: linear with wipe and zero, layout options passed on', async () => {
    const { runner, lvm } = setup();
    const pool = new ThickPool(lvm, 'csivg');
    runner
      .expect(['lvcreate', ...CFG, '--yes', '--type', 'raid1', '--mirrors', '1', '--size', '8388608b', '--name', 'vol_mirror1', '--wipesignatures', 'y', '--zero', 'y', 'csivg'])
      .expect([...LVS, 'csivg/vol_mirror1'], { stdout: report(row('vol_mirror1')) });
    const lv = await pool.create('vol_mirror1', 8 << 20, [], { mirrors: 1 });
    expect(lv.segtype).toBe('raid1');
    expect(pool.thinPool).toBeUndefined();
    runner.assertDone();
  });

  it('snapshot: COW sized like the origin by default', async () => {
    const { runner, lvm } = setup();
    const pool = new ThickPool(lvm, 'csivg');
    runner
      .expect([...LVS, 'csivg/vol_thick1'], { stdout: report(row('vol_thick1')) })
      .expect(['lvcreate', ...CFG, '--yes', '--snapshot', '--size', '41943040b', '--permission', 'r', '--name', 'snap_cow1', 'csivg/vol_thick1'])
      .expect([...LVS, 'csivg/snap_cow1'], { stdout: report(row('snap_cow1')) });
    const snap = await pool.snapshot('vol_thick1', 'snap_cow1', []);
    expect(snap.attr.volumeType).toBe('snapshot');
    runner.assertDone();
  });

  it('createFrom: an empty LV of the requested size; the caller copies', async () => {
    const { runner, lvm } = setup();
    const pool = new ThickPool(lvm, 'csivg');
    runner
      .expect([...LVS, 'csivg/snap_cow1'], { stdout: report(row('snap_cow1')) })
      .expect(['lvcreate', ...CFG, '--yes', '--type', 'linear', '--size', '33554432b', '--name', 'vol_stripe1', '--wipesignatures', 'y', '--zero', 'y', 'csivg'])
      .expect([...LVS, 'csivg/vol_stripe1'], { stdout: report(row('vol_stripe1')) });
    const r = await pool.createFrom('snap_cow1', 'vol_stripe1', 32 << 20, []);
    expect(r.needsCopy).toBe(true);
    runner.assertDone();
  });

  it('createFrom a snapshot checks against the ORIGIN size, not the COW size', async () => {
    const { runner, lvm } = setup();
    const pool = new ThickPool(lvm, 'csivg');
    runner.expect([...LVS, 'csivg/snap_cow1'], { stdout: report(row('snap_cow1')) });
    await expect(pool.createFrom('snap_cow1', 'v', 16 << 20, [])).rejects.toBeInstanceOf(InvalidArgument);
    runner.assertDone();
  });

  it('remove refuses an origin with COW snapshots (lvremove --yes would take them along)', async () => {
    const { runner, lvm } = setup();
    const pool = new ThickPool(lvm, 'csivg');
    runner
      .expect([...LVS, 'csivg'], { stdout: fixture('lvs-active.json') })
      .expect([...LVS, 'csivg'], { stdout: fixture('lvs-active.json') })
      .expect(['lvremove', ...CFG, '--yes', 'csivg/snap_cow1']);
    await expect(pool.remove('vol_thick1')).rejects.toThrow(FailedPrecondition);
    await pool.remove('snap_cow1');
    runner.assertDone();
  });

  it('get and list cover thick LVs only', async () => {
    const { runner, lvm } = setup();
    const pool = new ThickPool(lvm, 'csivg');
    runner
      .expect([...LVS, 'csivg/vol_thin1'], { stdout: report(row('vol_thin1')) })
      .expect([...LVS, 'csivg'], { stdout: fixture('lvs-active.json') });
    expect(await pool.get('vol_thin1')).toBeUndefined();
    expect((await pool.list()).map((l) => l.name)).toEqual(['snap_cow1', 'snap_cow2', 'vol_mirror1', 'vol_stripe1', 'vol_thick1']);
    runner.assertDone();
  });

  it('capacity: the VG', async () => {
    const { runner, lvm } = setup();
    const VGS = ['vgs', ...CFG, ...REPORT, '-o', VG_FIELDS.join(',')];
    runner.expect([...VGS, 'csivg'], { stdout: fixture('vgs-one.json') }).expect([...VGS, 'gone'], { exitCode: 5, stderr: '  Volume group "gone" not found\n' });
    expect(await new ThickPool(lvm, 'csivg').capacity()).toEqual({ totalBytes: 411041792, availableBytes: 226492416, maxVolumeBytes: 226492416 });
    await expect(new ThickPool(lvm, 'gone').capacity()).rejects.toBeInstanceOf(NotFound);
    runner.assertDone();
  });
});
