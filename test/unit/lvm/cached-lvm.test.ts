import { describe, expect, it } from 'vitest';
import { FakeRunner } from '../../doubles/fake-runner.js';
import type { CommandRunner } from '../../../src/exec/runner.js';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CachedLvm, deviceMapperNames } from '../../../src/lvm/cached-lvm.js';
import { LV_FIELDS, PV_FIELDS, VG_FIELDS } from '../../../src/lvm/report.js';
import { lvmConfigArgs, lvmSettings } from '../../../src/lvm/settings.js';
import { lvRow, pvRow, report, vgRow } from './rows.js';

const settings = lvmSettings();
const cfg = lvmConfigArgs(settings);
const REPORT = ['--reportformat', 'json', '--units', 'b', '--nosuffix'];
const PVS = ['pvs', ...cfg, ...REPORT, '-o', PV_FIELDS.join(',')];
const VGS = ['vgs', ...cfg, ...REPORT, '-o', VG_FIELDS.join(','), 'vg0'];
const LVS = ['lvs', ...cfg, ...REPORT, '-o', LV_FIELDS.join(','), 'vg0'];
const MiB = 1024 * 1024;

const vgs = report('vg', [vgRow('vg0', 1024 * MiB, 200 * MiB)]);
const pvs = report('pv', [pvRow('/dev/vdb', 'vg0'), pvRow('/dev/vdc', 'other')]);
const lvs = (...extra: Record<string, string>[]) =>
  report('lv', [
    lvRow('vg0', 'pool', { size: 800 * MiB, attr: 'twi-aotz--', data: '10.00', meta: '2.00' }),
    lvRow('vg0', 'a', { pool: 'pool', tags: ['csi.kind=volume'] }),
    ...extra,
  ]);

/** A CachedLvm over a scripted runner whose metadata stamp the test moves by hand (an outside commit). */
function setup() {
  const runner = new FakeRunner();
  const s = { stamp: 'commit-1', now: 1_000_000, stampReads: [] as string[][] };
  const lvm = new CachedLvm(
    runner,
    settings,
    async (devices) => {
      s.stampReads.push([...devices]);
      return s.stamp;
    },
    () => s.now,
  );
  const load = (lvsOut = lvs()) => runner.expect(VGS, { stdout: vgs }).expect(LVS, { stdout: lvsOut });
  return { runner, lvm, s, load };
}

/**
 * setup() with a second CachedLvm over the same script that holds each command
 * `hold` picks after it ran, until release(): LVM has answered, its caller has
 * not seen the answer yet. The VG is read once before.
 */
async function gatedSetup(hold: (argv: readonly string[]) => boolean) {
  const base = setup();
  let open = () => {};
  const gated: CommandRunner = {
    run: async (argv, o) => {
      const r = await base.runner.run(argv, o);
      if (hold(argv)) await new Promise<void>((go) => (open = go));
      return r;
    },
  };
  const racing = new CachedLvm(
    gated,
    settings,
    async () => base.s.stamp,
    () => base.s.now,
  );
  base.runner.expect(PVS, { stdout: pvs });
  base.load();
  await racing.listLvs('vg0');
  return { ...base, racing, release: () => open() };
}

const names = (l: { name: string }[]) => l.map((x) => x.name).sort();

/** A CachedLvm whose stamp never moves and whose /dev/mapper holds what `dm` answers at each read. */
const withDevices = (runner: FakeRunner, dm: () => ReadonlySet<string>) =>
  new CachedLvm(
    runner,
    settings,
    async () => 'commit-1',
    Date.now,
    async () => dm(),
  );

describe('CachedLvm: one read of a VG, kept current by our own changes, checked by the metadata stamp', () => {
  it('reads a VG once (its PVs, one vgs, one lvs) and answers every later read from memory while the stamp stands', async () => {
    const { runner, lvm, s, load } = setup();
    runner.expect(PVS, { stdout: pvs });
    load();
    expect(names(await lvm.listLvs('vg0'))).toEqual(['a', 'pool']);
    expect((await lvm.getVg('vg0'))?.freeBytes).toBe(200 * MiB);
    expect((await lvm.getLv('vg0', 'a'))?.pool).toBe('pool');
    expect(await lvm.getLv('vg0', 'missing')).toBeUndefined();
    expect(runner.calls.map((c) => c[0])).toEqual(['pvs', 'vgs', 'lvs']);
    expect(s.stampReads.every((d) => JSON.stringify(d) === '["/dev/vdb"]')).toBe(true); // only the VG's own PVs
    runner.assertDone();
  });

  it('an outside commit (the stamp moved) makes the next read go to LVM again: one vgs and one lvs, the PVs are known', async () => {
    const { runner, lvm, s, load } = setup();
    runner.expect(PVS, { stdout: pvs });
    load();
    await lvm.listLvs('vg0');
    s.stamp = 'commit-2'; // an operator ran lvcreate by hand
    load(lvs(lvRow('vg0', 'by-hand', { attr: '-wi-a-----' })));
    expect(names(await lvm.listLvs('vg0'))).toEqual(['a', 'by-hand', 'pool']);
    await lvm.getLv('vg0', 'by-hand');
    expect(runner.calls.map((c) => c[0])).toEqual(['pvs', 'vgs', 'lvs', 'vgs', 'lvs']);
    runner.assertDone();
  });

  it('a commit landing while the VG is read is not vouched for: the next read goes to LVM again', async () => {
    const { runner, lvm, s } = setup();
    runner.expect(PVS, { stdout: pvs }).expect(VGS, { stdout: vgs });
    runner.expect(LVS, {
      stdout: lvs(),
      inspect: () => {
        s.stamp = 'commit-2';
      },
    });
    await lvm.listLvs('vg0');
    runner.expect(VGS, { stdout: vgs }).expect(LVS, { stdout: lvs() });
    await lvm.listLvs('vg0');
    await lvm.listLvs('vg0');
    runner.assertDone();
  });

  it('without a readable stamp every read goes to LVM', async () => {
    const runner = new FakeRunner();
    const lvm = new CachedLvm(runner, settings, async () => undefined);
    runner.expect(PVS, { stdout: pvs }).expect(VGS, { stdout: vgs }).expect(LVS, { stdout: lvs() });
    runner.expect(VGS, { stdout: vgs }).expect(LVS, { stdout: lvs() });
    await lvm.listLvs('vg0');
    await lvm.listLvs('vg0');
    runner.assertDone();
  });

  it('a thin lvcreate, thin snapshot, thin lvextend, tag change and thin lvremove are applied in memory: no read after them', async () => {
    const { runner, lvm, load } = setup();
    runner.expect(PVS, { stdout: pvs });
    load();
    await lvm.listLvs('vg0');
    runner.expect([
      'lvcreate',
      ...cfg,
      '--yes',
      '--type',
      'thin',
      '--virtualsize',
      `${10 * MiB}b`,
      '--thinpool',
      'pool',
      '--name',
      'b',
      '--addtag',
      'csi.kind=volume',
      'vg0',
    ]);
    await lvm.createThin('vg0', 'pool', 'b', 10 * MiB, ['csi.kind=volume']);
    const b = await lvm.getLv('vg0', 'b');
    expect(b).toMatchObject({
      name: 'b',
      vg: 'vg0',
      pool: 'pool',
      sizeBytes: 12 * MiB,
      tags: ['csi.kind=volume'],
      active: true,
      path: '/dev/vg0/b',
    }); // rounded up to 4 MiB extents
    expect(b?.attr.volumeType).toBe('thin-volume');

    runner.expect([
      'lvcreate',
      ...cfg,
      '--yes',
      '--snapshot',
      '--setactivationskip',
      'n',
      '--activate',
      'n',
      '--permission',
      'r',
      '--name',
      's',
      'vg0/b',
    ]);
    await lvm.createThinSnapshot('vg0', 'b', 's', [], { readOnly: true, activate: false });
    expect(await lvm.getLv('vg0', 's')).toMatchObject({
      origin: 'b',
      pool: 'pool',
      sizeBytes: 12 * MiB,
      active: false,
    });
    expect((await lvm.getLv('vg0', 's'))?.attr.permission).toBe('read-only');

    runner.expect(['lvextend', ...cfg, '--size', `${20 * MiB}b`, 'vg0/b']);
    await lvm.extend('vg0', 'b', 20 * MiB);
    expect((await lvm.getLv('vg0', 'b'))?.sizeBytes).toBe(20 * MiB);

    runner.expect(['lvchange', ...cfg, '--deltag', 'csi.kind=volume', '--addtag', 'csi.state=deleting', 'vg0/b']);
    await lvm.changeTags('vg0', 'b', { del: ['csi.kind=volume'], add: ['csi.state=deleting'] });
    expect((await lvm.getLv('vg0', 'b'))?.tags).toEqual(['csi.state=deleting']);

    runner.expect(['lvremove', ...cfg, '--yes', 'vg0/s']);
    await lvm.remove('vg0', 's');
    expect(await lvm.getLv('vg0', 's')).toBeUndefined();

    runner.expect(['vgchange', ...cfg, '--addtag', 'csi.unzeroed=1', 'vg0']);
    await lvm.addVgTags('vg0', ['csi.unzeroed=1']);
    expect((await lvm.getVg('vg0'))?.tags).toEqual(['csi.unzeroed=1']);
    expect(runner.calls.filter((c) => ['lvs', 'vgs', 'pvs'].includes(c[0] ?? ''))).toHaveLength(3); // the first read only
    runner.assertDone();
  });

  it('a linear lvcreate and lvremove move the VG free space in memory', async () => {
    const { runner, lvm, load } = setup();
    runner.expect(PVS, { stdout: pvs });
    load();
    await lvm.listLvs('vg0');
    runner.expect([
      'lvcreate',
      ...cfg,
      '--yes',
      '--type',
      'linear',
      '--size',
      `${7 * MiB}b`,
      '--name',
      't',
      '--wipesignatures',
      'y',
      '--zero',
      'y',
      'vg0',
    ]);
    await lvm.createLinear('vg0', 't', 7 * MiB, []);
    expect(await lvm.getLv('vg0', 't')).toMatchObject({ sizeBytes: 8 * MiB, pool: undefined, segtype: 'linear' });
    expect((await lvm.getLv('vg0', 't'))?.attr.volumeType).toBe('plain');
    expect((await lvm.getVg('vg0'))?.freeBytes).toBe(192 * MiB);
    runner.expect(['lvremove', ...cfg, '--yes', 'vg0/t']);
    await lvm.remove('vg0', 't');
    expect((await lvm.getVg('vg0'))?.freeBytes).toBe(200 * MiB);
    runner.assertDone();
  });

  it('changes whose result LVM decides (raid lvcreate), and failed commands, make the next read go to LVM', async () => {
    const { runner, lvm, load } = setup();
    runner.expect(PVS, { stdout: pvs });
    load();
    await lvm.listLvs('vg0');
    runner.expect([
      'lvcreate',
      ...cfg,
      '--yes',
      '--type',
      'raid1',
      '--mirrors',
      '1',
      '--size',
      `${8 * MiB}b`,
      '--name',
      't',
      '--wipesignatures',
      'y',
      '--zero',
      'y',
      'vg0',
    ]);
    await lvm.createLinear('vg0', 't', 8 * MiB, [], { mirrors: 1 });
    load(lvs(lvRow('vg0', 't', { attr: 'rwi-a-r---', size: 8 * MiB })));
    expect((await lvm.getLv('vg0', 't'))?.sizeBytes).toBe(8 * MiB);
    runner.expect(['lvremove', ...cfg, '--yes', 'vg0/a'], { exitCode: 5, stderr: '  Logical volume vg0/a in use.\n' });
    await expect(lvm.remove('vg0', 'a')).rejects.toThrow();
    load();
    await lvm.getLv('vg0', 'a');
    runner.assertDone();
  });

  it('maxAgeMs: dynamic values older than asked are read for that LV alone (0 = now)', async () => {
    const { runner, lvm, s, load } = setup();
    runner.expect(PVS, { stdout: pvs });
    load();
    expect((await lvm.getLv('vg0', 'pool', { maxAgeMs: 5000 }))?.dataPercent).toBe(10);
    s.now += 6000;
    runner.expect(['lvs', ...cfg, ...REPORT, '-o', LV_FIELDS.join(','), 'vg0/pool'], {
      stdout: report('lv', [
        lvRow('vg0', 'pool', { size: 800 * MiB, attr: 'twi-aotz--', data: '55.00', meta: '2.00' }),
      ]),
    });
    expect((await lvm.getLv('vg0', 'pool', { maxAgeMs: 5000 }))?.dataPercent).toBe(55);
    expect((await lvm.getLv('vg0', 'pool', { maxAgeMs: 5000 }))?.dataPercent).toBe(55); // just read
    runner.expect(['lvs', ...cfg, ...REPORT, '-o', LV_FIELDS.join(','), 'vg0/pool'], {
      stdout: report('lv', [
        lvRow('vg0', 'pool', { size: 800 * MiB, attr: 'twi-aotz--', data: '56.00', meta: '2.00' }),
      ]),
    });
    expect((await lvm.getLv('vg0', 'pool', { maxAgeMs: 0 }))?.dataPercent).toBe(56);
    runner.assertDone();
  });

  it('concurrent reads of one LV that must be read now share one lvs', async () => {
    const { runner, lvm, s, load } = setup();
    runner.expect(PVS, { stdout: pvs });
    load();
    await lvm.listLvs('vg0');
    s.now += 60_000;
    runner.expect(['lvs', ...cfg, ...REPORT, '-o', LV_FIELDS.join(','), 'vg0/pool'], {
      stdout: report('lv', [
        lvRow('vg0', 'pool', { size: 800 * MiB, attr: 'twi-aotz--', data: '20.00', meta: '2.00' }),
      ]),
    });
    const all = await Promise.all(Array.from({ length: 20 }, () => lvm.getLv('vg0', 'pool', { maxAgeMs: 30_000 })));
    expect(all.every((l) => l?.dataPercent === 20)).toBe(true);
    runner.assertDone();
  });

  it('the active flag follows /dev/mapper at every read (activation commits no metadata)', async () => {
    const runner = new FakeRunner();
    let dm = new Set(['control', 'vg0-pool-tpool', 'vg0-a']);
    const lvm = withDevices(runner, () => dm);
    runner.expect(PVS, { stdout: pvs }).expect(VGS, { stdout: vgs }).expect(LVS, { stdout: lvs() });
    expect((await lvm.getLv('vg0', 'a'))?.active).toBe(true);
    dm = new Set(['control', 'vg0-pool-tpool']); // lvchange -an by hand
    expect((await lvm.getLv('vg0', 'a'))?.active).toBe(false);
    expect((await lvm.listLvs('vg0')).find((l) => l.name === 'a')?.active).toBe(false);
    expect((await lvm.getLv('vg0', 'pool'))?.active).toBe(true); // a thin pool's device is named -tpool: LVM's answer stands
    runner.assertDone();
  });

  it('a listing already checked against the same device list is not checked again (1,000 LVs per read)', async () => {
    class CountingSet extends Set<string> {
      lookups = 0;
      override has(v: string): boolean {
        this.lookups++;
        return super.has(v);
      }
    }
    const runner = new FakeRunner();
    let dm = new CountingSet(['control', 'vg0-pool-tpool', 'vg0-a']);
    const lvm = withDevices(runner, () => dm);
    runner.expect(PVS, { stdout: pvs }).expect(VGS, { stdout: vgs }).expect(LVS, { stdout: lvs() });
    const first = await lvm.listLvs('vg0');
    const lookups = dm.lookups;
    expect(lookups).toBeGreaterThan(0);
    expect(await lvm.listLvs('vg0')).toBe(first);
    expect(dm.lookups).toBe(lookups);
    dm = new CountingSet(['control', 'vg0-pool-tpool']); // a new device list (the directory changed): checked again
    expect((await lvm.listLvs('vg0')).find((l) => l.name === 'a')?.active).toBe(false);
    expect(dm.lookups).toBeGreaterThan(0);
    runner.assertDone();
  });

  it('listLvs hands out one frozen array until the VG changes (callers memoize per array and per LV)', async () => {
    const { runner, lvm, load } = setup();
    runner.expect(PVS, { stdout: pvs });
    load();
    const first = await lvm.listLvs('vg0');
    expect(await lvm.listLvs('vg0')).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    runner.expect(['lvremove', ...cfg, '--yes', 'vg0/a']);
    await lvm.remove('vg0', 'a');
    const after = await lvm.listLvs('vg0');
    expect(after).not.toBe(first);
    expect(names(after)).toEqual(['pool']);
    expect(await lvm.listLvs('vg0')).toBe(after);
    runner.assertDone();
  });

  it('an LV whose active flag was corrected is the same object at every later read (the records are memoized per LV object)', async () => {
    const runner = new FakeRunner();
    let dm = new Set(['control', 'vg0-pool-tpool', 'vg0-a', 'vg0-b']);
    const lvm = withDevices(runner, () => dm);
    // b was read inactive; vgchange -ay by hand activated it without a commit
    const listed = lvs({
      ...lvRow('vg0', 'b', { pool: 'pool', attr: 'Vwi---tz--', tags: ['csi.kind=volume'] }),
      lv_active: '',
    });
    runner.expect(PVS, { stdout: pvs }).expect(VGS, { stdout: vgs }).expect(LVS, { stdout: listed });
    const first = (await lvm.listLvs('vg0')).find((l) => l.name === 'b');
    expect(first?.active).toBe(true);
    expect(first?.attr.state).toBe('inactive'); // as read: the flag was corrected
    const again = (await lvm.listLvs('vg0')).find((l) => l.name === 'b');
    expect(again).toBe(first);
    expect(await lvm.getLv('vg0', 'b')).toBe(first);
    dm = new Set(['control', 'vg0-pool-tpool', 'vg0-a']); // and -an again
    expect((await lvm.getLv('vg0', 'b'))?.active).toBe(false);
    runner.assertDone();
  });

  it('reloadAll (the timer refresh) is one vgs and one lvs for every VG and renews the copies', async () => {
    const { runner, lvm, load } = setup();
    runner.expect(PVS, { stdout: pvs });
    load();
    await lvm.listLvs('vg0');
    runner
      .expect(['vgs', ...cfg, ...REPORT, '-o', VG_FIELDS.join(',')], {
        stdout: report('vg', [vgRow('vg0', 1024 * MiB, 100 * MiB), vgRow('other', 1024 * MiB, 0)]),
      })
      .expect(['lvs', ...cfg, ...REPORT, '-o', LV_FIELDS.join(',')], { stdout: lvs(lvRow('other', 'x')) });
    const r = await lvm.reloadAll(['vg0']);
    expect(r.vgs.map((v) => v.name)).toEqual(['vg0']);
    expect(names(r.lvs)).toEqual(['a', 'pool']);
    expect((await lvm.getVg('vg0'))?.freeBytes).toBe(100 * MiB);
    expect(lvm.known('vg0')?.vg.freeBytes).toBe(100 * MiB);
    runner.assertDone();
  });

  it('a command of ours answers without waiting for its stamp; the next read waits for that stamp and trusts it', async () => {
    const runner = new FakeRunner();
    let stamp = 'commit-1';
    const pending: (() => void)[] = [];
    let hold = false;
    const lvm = new CachedLvm(runner, settings, async () => {
      const now = stamp;
      if (hold) await new Promise<void>((r) => pending.push(r));
      return now;
    });
    runner.expect(PVS, { stdout: pvs }).expect(VGS, { stdout: vgs }).expect(LVS, { stdout: lvs() });
    await lvm.listLvs('vg0');
    hold = true;
    runner.expect(['lvremove', ...cfg, '--yes', 'vg0/a'], { inspect: () => (stamp = 'commit-2') });
    await lvm.remove('vg0', 'a'); // returns while the stamp read after it is still held
    expect(pending).toHaveLength(1);
    let answered = false;
    const reading = lvm.listLvs('vg0').then((l) => {
      answered = true;
      return l;
    });
    await new Promise((r) => setTimeout(r, 0));
    expect(answered).toBe(false);
    hold = false;
    pending.shift()?.();
    expect(names(await reading)).toEqual(['pool']); // from memory: no vgs or lvs ran
    runner.assertDone();
  });

  it('reloadAll does not vouch for a row read before a change of ours that commits while it runs (a stale VG tag)', async () => {
    // the timer refresh's vgs answers the row from before the tag; the vgchange commits while its lvs is pending
    let armed = false;
    const { runner, s, racing, release } = await gatedSetup((argv) => armed && argv[0] === 'vgs');
    runner
      .expect(['vgs', ...cfg, ...REPORT, '-o', VG_FIELDS.join(',')], { stdout: vgs })
      .expect(['vgchange', ...cfg, '--addtag', 'csi.unzeroed=1', 'vg0'], { inspect: () => (s.stamp = 'commit-2') })
      .expect(['lvs', ...cfg, ...REPORT, '-o', LV_FIELDS.join(',')], { stdout: lvs() });
    armed = true;
    const reload = racing.reloadAll(['vg0']);
    await new Promise((r) => setTimeout(r, 0));
    await racing.addVgTags('vg0', ['csi.unzeroed=1']);
    armed = false; // only the refresh's vgs is held
    release();
    await reload;
    // the copy from the reload holds the old row: the next read goes to LVM, which has the tag
    runner.expect(VGS, {
      stdout: report('vg', [{ ...vgRow('vg0', 1024 * MiB, 200 * MiB), vg_tags: 'csi.unzeroed=1' }]),
    });
    runner.expect(LVS, { stdout: lvs() });
    expect((await racing.getVg('vg0'))?.tags).toContain('csi.unzeroed=1');
    runner.assertDone();
  });

  it('a read of one LV that a change of ours overlaps does not undo that change in memory (a tag, a removal)', async () => {
    // an lvs of vg0/a is held until the test lets it answer: LVM reported the row before our command committed
    const { runner, racing, release } = await gatedSetup((argv) => argv[0] === 'lvs' && argv.at(-1) === 'vg0/a');
    const LVS_A = ['lvs', ...cfg, ...REPORT, '-o', LV_FIELDS.join(','), 'vg0/a'];
    const oldA = report('lv', [lvRow('vg0', 'a', { pool: 'pool', tags: ['csi.kind=volume'] })]);
    const settled = () => new Promise((r) => setTimeout(r, 0));

    runner.expect(LVS_A, { stdout: oldA }).expect(['lvchange', ...cfg, '--addtag', 'csi.state=x', 'vg0/a']);
    let reading = racing.getLv('vg0', 'a', { maxAgeMs: 0 });
    await settled();
    await racing.changeTags('vg0', 'a', { add: ['csi.state=x'] });
    release();
    expect((await reading)?.tags).toEqual(['csi.kind=volume']); // what LVM said when asked
    expect((await racing.getLv('vg0', 'a'))?.tags).toEqual(['csi.kind=volume', 'csi.state=x']);

    runner.expect(LVS_A, { stdout: oldA }).expect(['lvremove', ...cfg, '--yes', 'vg0/a']);
    reading = racing.getLv('vg0', 'a', { maxAgeMs: 0 });
    await settled();
    await racing.remove('vg0', 'a');
    release();
    await reading;
    expect(await racing.getLv('vg0', 'a')).toBeUndefined(); // removed stays removed, with no read
    runner.assertDone();
  });

  it('a new read keeps the object of every LV LVM reports unchanged, and the listing when all are (memos stay valid)', async () => {
    const { runner, lvm, load } = setup();
    const pool = lvRow('vg0', 'pool', { size: 800 * MiB, attr: 'twi-aotz--', data: '10.00', meta: '2.00' });
    const a = lvRow('vg0', 'a', { pool: 'pool', tags: ['csi.kind=volume'] });
    const b = lvRow('vg0', 'b', { pool: 'pool', tags: ['csi.kind=volume'] });
    const ALL_VGS = ['vgs', ...cfg, ...REPORT, '-o', VG_FIELDS.join(',')];
    const ALL_LVS = ['lvs', ...cfg, ...REPORT, '-o', LV_FIELDS.join(',')];
    runner.expect(PVS, { stdout: pvs });
    load(report('lv', [pool, a, b]));
    const first = await lvm.listLvs('vg0');
    // the same report again: the same objects and the same listing
    runner.expect(ALL_VGS, { stdout: vgs }).expect(ALL_LVS, { stdout: report('lv', [pool, a, b]) });
    await lvm.reloadAll(['vg0']);
    expect(await lvm.listLvs('vg0')).toBe(first);
    // pool use moved and b got a tag: new objects for those two, a new listing, a kept
    const pool2 = { ...pool, data_percent: '11.00' };
    const b2 = { ...b, lv_tags: 'csi.kind=volume,csi.ready=1' };
    runner.expect(ALL_VGS, { stdout: vgs }).expect(ALL_LVS, { stdout: report('lv', [pool2, a, b2]) });
    await lvm.reloadAll(['vg0']);
    const second = await lvm.listLvs('vg0');
    expect(second).not.toBe(first);
    const byName = <T extends { name: string }>(l: readonly T[], n: string) => l.find((x) => x.name === n);
    expect(byName(second, 'a')).toBe(byName(first, 'a'));
    expect(byName(second, 'b')).not.toBe(byName(first, 'b'));
    expect(byName(second, 'b')?.tags).toEqual(['csi.kind=volume', 'csi.ready=1']);
    expect(byName(second, 'pool')?.dataPercent).toBe(11);
    // an LV gone: a new listing even though every remaining LV is kept
    runner.expect(ALL_VGS, { stdout: vgs }).expect(ALL_LVS, { stdout: report('lv', [pool2, a]) });
    await lvm.reloadAll(['vg0']);
    const third = await lvm.listLvs('vg0');
    expect(names(third)).toEqual(['a', 'pool']);
    expect(byName(third, 'a')).toBe(byName(first, 'a'));
    runner.assertDone();
  });
});

describe('deviceMapperNames: /dev/mapper listed again only when it changed', () => {
  it('keeps a listing while the mtime stands, lists again when it moves, never keeps one read under a fresh mtime', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dm-names-'));
    writeFileSync(join(dir, 'control'), '');
    writeFileSync(join(dir, 'vg0-a'), '');
    const old = new Date(Date.now() - 60_000);
    utimesSync(dir, old, old);
    const read = deviceMapperNames(dir);
    const first = await read();
    expect([...(first ?? [])].sort()).toEqual(['control', 'vg0-a']);
    expect(await read()).toBe(first); // unchanged: the same listing, not read again
    writeFileSync(join(dir, 'vg0-b'), ''); // a device created: the mtime moves to now
    const second = await read();
    expect([...(second ?? [])].sort()).toEqual(['control', 'vg0-a', 'vg0-b']);
    // read under an mtime younger than the settle time: listed again at the next read, though unchanged
    expect(await read()).not.toBe(second);
    rmSync(dir, { recursive: true });
    expect(await read()).toBeUndefined();
  });
});
