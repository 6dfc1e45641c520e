/**
 * Scale (opt-in: `npm run bench -- --scale N`, BENCH_SCALE=N in the guest):
 * one VG filled to 10, 100, 500, 1000, ... N thin volumes of 64 MiB. One
 * template volume is made through CreateVolume; the others by bare lvcreate
 * with the template's tags (only csi.name differs), so the plugin sees them as
 * its own volumes (made inactive, then activated together: a faster fill of
 * the same VG). At each count: the plugin's start time, the commands of one
 * idle metrics refresh, CreateVolume calls and then as many bare lvcreates in
 * the same VG, GetCapacity and Probe with their commands, plugin RSS, and last
 * ListVolumes of all (pages of 100).
 * Rows go out as each count is reached, so a run cut short still reports the
 * largest count it reached ($BENCH_OUT/scale-progress.txt follows the fill).
 */
import { appendFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { volumeLvName } from '../../src/lvm/names.js';
import { call, destroyVg, disks, inGuest, makeVg, MiB, mountCap } from '../vm/lib.js';
import {
  diff,
  formatCounts,
  listAllPages,
  MeasuredPlugin,
  OUT,
  pairs,
  PAIRS,
  PORTAL,
  round,
  run,
  scrape,
  timed,
  writeRow,
} from './lib.js';

const N = Number(process.env['BENCH_SCALE'] ?? 0);
const VG = 'scalevg';
const LEVELS = [...new Set([10, 100, 500, 1000, 2000, 5000].filter((l) => l < N).concat(N))];
const kubelet = mkdtempSync('/tmp/bench-kubelet-');
const flags = (statsInterval: number) => [
  '--mode',
  'all',
  '--volume-group',
  VG,
  '--thin-pool',
  'pool',
  '--portals',
  PORTAL,
  '--kubelet-dir',
  kubelet,
  '--over-subscription-ratio',
  '100',
  '--stats-interval',
  String(statsInterval),
  '--reconcile-interval',
  '0',
];
const progress = (line: string): void => {
  mkdirSync(OUT, { recursive: true });
  appendFileSync(join(OUT, 'scale-progress.txt'), `${new Date().toISOString()} ${line}\n`);
};

describe.runIf(inGuest && N > 0)(`bench: scale to ${N} thin volumes`, () => {
  let mp: MeasuredPlugin | undefined;
  afterAll(async () => {
    await mp?.stop();
    destroyVg(VG);
  });

  it('fills the VG and measures at each count', async () => {
    makeVg(VG, disks.slice(0, 4), ['--metadatasize', '64m']);
    // the pool as the plugin makes it, with a 64 MiB metadata LV: 1,000 thin devices outgrow lvm's default
    run([
      'lvcreate',
      '-q',
      '--yes',
      '--thin',
      '--extents',
      '60%VG',
      '--thinpool',
      'pool',
      '--zero',
      'y',
      '--errorwhenfull',
      'y',
      '--discards',
      'passdown',
      '--poolmetadatasize',
      '64m',
      VG,
    ]);
    mp = await MeasuredPlugin.start(flags(0), 19102);
    const template = (
      await call(mp.p.controller, 'CreateVolume', {
        name: 'scale-0',
        capacity_range: { required_bytes: String(64 * MiB) },
        volume_capabilities: [mountCap()],
        parameters: {},
      })
    ).volume?.volume_id;
    const tags = run(['lvs', '--noheadings', '-o', 'lv_tags', `${VG}/${volumeLvName('scale-0')}`])
      .trim()
      .split(',');
    progress(`template ${template}: ${tags.join(' ')}`);
    await mp.stop();
    mp = undefined;
    let count = 1;
    const createAt = new Map<number, number>();
    for (const level of LEVELS) {
      const t0 = Date.now();
      for (; count < level; count++) {
        const name = `scale-${count}`;
        const own = tags.flatMap((t) => ['--addtag', t.startsWith('csi.name=') ? `csi.name=${name}` : t]);
        // made inactive (no device-mapper table, no udev event per LV), then activated all at once below:
        // the same VG and the same /dev/mapper as one made volume by volume, in a fraction of the fill time
        const ms = await timed(() =>
          run(['lvcreate', '-q', '-y', '-T', '-V', '64m', '-an', '-n', volumeLvName(name), ...own, `${VG}/pool`]),
        );
        if (count % 25 === 0) progress(`${count} volumes, lvcreate ${round(ms)} ms`);
      }
      const act = await timed(() => run(['vgchange', '-q', '-ay', VG]));
      progress(`activated every LV of ${VG} in ${round(act / 1000)} s`);
      progress(`reached ${count} volumes (fill took ${round((Date.now() - t0) / 1000)} s)`);
      await measureAt(count, createAt);
    }
  });

  async function measureAt(count: number, createAt: Map<number, number>): Promise<void> {
    const section = `scale @${count} volumes`;
    // idle first: a plugin with --stats-interval 5, the commands of 3 refreshes
    const startMs = await timed(
      async () => (mp = await MeasuredPlugin.start(flags(5), 19102, { startTimeoutMs: 1_800_000 })),
    );
    writeRow({ section, operation: 'plugin start until Probe ready', plugin: round(startMs), bare: null, unit: 'ms' });
    const idle = mp as MeasuredPlugin;
    const s0 = await scrape(idle.port);
    let s1 = s0;
    const until = Date.now() + 600_000;
    while (s1.refreshes < s0.refreshes + 3 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 500));
      s1 = await scrape(idle.port);
    }
    const refreshes = s1.refreshes - s0.refreshes;
    const per = new Map([...diff(s1.commands, s0.commands)].map(([k, v]) => [k, v / Math.max(1, refreshes)]));
    writeRow({
      section,
      operation: 'idle: commands per metrics refresh',
      plugin: [...per.values()].reduce((a, b) => a + b, 0),
      bare: null,
      unit: 'count',
      commands: formatCounts([per]),
      note: `over ${refreshes} refreshes, --stats-interval 5`,
    });
    await idle.stop();

    mp = await MeasuredPlugin.start(flags(0), 19102, { startTimeoutMs: 1_800_000 });
    const m = mp;
    // CreateVolume pairs; the extra volumes are removed untimed afterwards so the count stays put
    // The bare lvcreates run after the plugin's calls, not between them: in the plugin's VG each is an
    // outside change, which makes the plugin's next call read the VG again (a cost no storage node
    // where only the plugin changes its VG pays). Both sides see the same VG at the same count.
    const created = await pairs(
      m,
      { section, operation: 'CreateVolume thin', note: 'bare: lvcreate -T in the same VG, after the plugin calls' },
      PAIRS,
      (i) =>
        call(m.p.controller, 'CreateVolume', {
          name: `extra-${count}-${i}`,
          capacity_range: { required_bytes: String(64 * MiB) },
          volume_capabilities: [mountCap()],
          parameters: {},
        }),
      (i) =>
        run([
          'lvcreate',
          '-q',
          '-y',
          '-T',
          '-V',
          '64m',
          '-n',
          `bare-${count}-${i}`,
          '--addtag',
          'csi.kind=volume',
          `${VG}/pool`,
        ]),
      { settle: true, bareAfter: true },
    );
    createAt.set(count, created.plugin);
    const extra = Array.from({ length: PAIRS }, (_, i) => [
      `${VG}/${volumeLvName(`extra-${count}-${i}`)}`,
      `${VG}/bare-${count}-${i}`,
    ]).flat();
    run(['lvremove', '-q', '-y', ...extra]);
    const first = [...createAt][0];
    if (first && first[0] !== count) {
      writeRow({
        section,
        operation: `CreateVolume median at ${count} vs at ${first[0]} volumes`,
        plugin: round(created.plugin),
        bare: round(first[1]),
        unit: 'ms',
        note: `bare column: the plugin's CreateVolume median at ${first[0]} volumes`,
      });
    }

    await pairs(
      m,
      { section, operation: 'GetCapacity', note: 'bare: vgs' },
      3,
      () => call(m.p.controller, 'GetCapacity', { volume_capabilities: [mountCap()], parameters: {} }),
      () => run(['vgs', '-o', 'vg_free', VG]),
    );
    await pairs(m, { section, operation: 'Probe' }, 3, () => call(m.p.identity, 'Probe', {}), null);
    const rss = m.rssMB();
    writeRow({
      section,
      operation: 'plugin RSS (VmRSS)',
      plugin: rss.rss,
      bare: null,
      unit: 'MB',
      note: `peak VmHWM ${rss.hwm} MB`,
    });

    // ListVolumes last: every page of 100, once
    const list = await listAllPages(m);
    const bareList = await timed(() => run(['lvs', '-o', 'lv_name,lv_size,lv_tags', VG]));
    writeRow({
      section,
      operation: `ListVolumes, all ${list.entries} entries (pages of 100)`,
      plugin: round(list.ms),
      bare: round(bareList),
      unit: 'ms',
      commands: `${formatCounts([list.commands])} (all pages)`,
      note: 'bare: one lvs',
    });
    const after = m.rssMB();
    writeRow({
      section,
      operation: 'plugin RSS after ListVolumes of all',
      plugin: after.rss,
      bare: null,
      unit: 'MB',
      note: `peak VmHWM ${after.hwm} MB`,
    });
    await m.stop();
    mp = undefined;
  }
});
