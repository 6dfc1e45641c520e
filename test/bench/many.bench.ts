/**
 * Many volumes in minutes (opt-in: `npm run bench -- --only many --many N`, BENCH_MANY=N in the
 * guest): one VG holding N thick volumes, written into its metadata by ONE vgcfgrestore instead of
 * N lvcreates (the scale bench's fill of 1,000 thin volumes takes about an hour in the guest).
 *
 * One template volume is made through CreateVolume (lvmType thick); the N-1 others are copies of
 * its metadata section (same tags, only csi.name differs, one extent each on the other PVs), then
 * every LV is activated: LVM metadata, /dev/mapper and the plugin's view are those of a node
 * holding N volumes. What it measures there:
 * - ListVolumes of all in pages of 100, three times over (the first in a fresh plugin process),
 *   and in one page (max_entries 0), against one bare `lvs`;
 * - CreateVolume thick against a bare `lvcreate` of the same size in the same VG;
 * - what makes the plugin's lvcreate cost more than the bare one: bare lvcreates interleaved with
 *   and without the plugin's `--config` (src/lvm/settings.ts), and with the template's tags
 *   instead of one.
 * `BENCH_CPU_PROF=1` also writes the plugin's V8 CPU profile to $BENCH_OUT (node --cpu-prof).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, it } from 'vitest';
import type { CommandRunner } from '../../src/exec/runner.js';
import { Lvm } from '../../src/lvm/lvm.js';
import { lvmConfigArgs, lvmSettings } from '../../src/lvm/settings.js';
import { volumeLvName } from '../../src/lvm/names.js';
import { call, destroyVg, disks, inGuest, makeVg, MiB, mountCap } from '../vm/lib.js';
import {
  formatCounts,
  listAllPages,
  median,
  MeasuredPlugin,
  OUT,
  pairs,
  PAIRS,
  round,
  run,
  timed,
  writeRow,
} from './lib.js';

const N = Number(process.env['BENCH_MANY'] ?? 0);
const VG = 'manyvg';
const section = `many @${N} thick volumes (restored)`;
const thick = { lvmType: 'thick' };
const flags = ['--mode', 'all', '--volume-group', VG, '--portals', '127.0.0.1:3260', '--stats-interval', '0'];

/** An LVM id: 32 characters of [A-Za-z0-9] in groups 6-4-4-4-4-4-6. */
function lvmId(): string {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const s = [...randomBytes(32)].map((b) => abc[b % abc.length]).join('');
  return [6, 4, 4, 4, 4, 4, 6]
    .reduce<{ at: number; parts: string[] }>(
      (acc, n) => ({ at: acc.at + n, parts: [...acc.parts, s.slice(acc.at, acc.at + n)] }),
      { at: 0, parts: [] },
    )
    .parts.join('-');
}

/** The metadata section of a one-extent linear LV at `pe` of `pv`. */
function lvSection(name: string, tags: readonly string[], pv: string, pe: number): string {
  return `
\t\t${name} {
\t\t\tid = "${lvmId()}"
\t\t\tstatus = ["READ", "WRITE", "VISIBLE"]
\t\t\tflags = []
\t\t\ttags = [${tags.map((t) => `"${t}"`).join(', ')}]
\t\t\tcreation_time = ${Math.floor(Date.now() / 1000)}
\t\t\tcreation_host = "bench"
\t\t\tsegment_count = 1

\t\t\tsegment1 {
\t\t\t\tstart_extent = 0
\t\t\t\textent_count = 1

\t\t\t\ttype = "striped"
\t\t\t\tstripe_count = 1

\t\t\t\tstripes = [
\t\t\t\t\t"${pv}", ${pe}
\t\t\t\t]
\t\t\t}
\t\t}
`;
}

/** The free extents of the VG's PVs after the first (the template's), as [pv key, extent] slots. */
function slots(backup: string, count: number): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const m of backup.matchAll(/\n\t\t(pv\d+) \{[^}]*?pe_count = (\d+)/g)) {
    const [, key, peCount] = m;
    if (!key || key === 'pv0') continue;
    for (let pe = 0; pe < Number(peCount) && out.length < count; pe++) out.push([key, pe]);
  }
  if (out.length < count) throw new Error(`room for ${out.length} one-extent LVs, ${count} wanted`);
  return out;
}

/** The argv Lvm.createLinear runs for a one-extent volume with these tags (captured, not run). */
async function pluginArgvOf(lv: string, tags: readonly string[]): Promise<string[]> {
  let argv: string[] = [];
  const capture: CommandRunner = {
    run: async (a) => {
      argv = [...a];
      return { stdout: '', stderr: '', exitCode: 0, durationMs: 0 };
    },
  };
  await new Lvm(capture, lvmSettings()).createLinear(VG, lv, MiB, tags);
  return argv;
}

describe.runIf(inGuest && N > 0)(`bench: ${N} thick volumes restored from metadata`, () => {
  let mp: MeasuredPlugin | undefined;
  afterAll(async () => {
    await mp?.stop();
    destroyVg(VG);
  });

  it('fills the VG in one restore and measures', async () => {
    // 1 MiB extents: one-extent volumes, so 1,000 of them fit on three 1 GiB disks
    makeVg(VG, disks.slice(0, 4), ['--metadatasize', '64m', '--physicalextentsize', '1m']);
    mp = await MeasuredPlugin.start(flags, 19103);
    const size = { required_bytes: String(MiB) };
    await call(mp.p.controller, 'CreateVolume', {
      name: 'many-0',
      capacity_range: size,
      volume_capabilities: [mountCap()],
      parameters: thick,
    });
    await mp.stop();
    mp = undefined;
    const template = `${VG}/${volumeLvName('many-0')}`;
    const tags = run(['lvs', '--noheadings', '-o', 'lv_tags', template]).trim().split(',');
    const file = join(OUT, 'many-vg.txt');
    run(['vgcfgbackup', '-q', '-f', file, VG]);
    const backup = readFileSync(file, 'utf8');
    const at = backup.indexOf('\tlogical_volumes {\n');
    if (at < 0) throw new Error('no logical_volumes section in the backup');
    const sections = slots(backup, N - 1).map(([pv, pe], i) => {
      const name = `many-${i + 1}`;
      const own = tags.map((t) => (t.startsWith('csi.name=') ? `csi.name=${name}` : t));
      return lvSection(volumeLvName(name), own, pv, pe);
    });
    const head = at + '\tlogical_volumes {\n'.length;
    writeFileSync(file, backup.slice(0, head) + sections.join('') + backup.slice(head));
    run(['vgchange', '-q', '-an', VG]);
    const restore = await timed(() => run(['vgcfgrestore', '-q', '-f', file, VG]));
    const activate = await timed(() => run(['vgchange', '-q', '-ay', VG]));
    const lvCount = run(['lvs', '--noheadings', '-o', 'lv_name', VG]).trim().split('\n').length;
    writeRow({
      section,
      operation: 'fill: vgcfgrestore, then vgchange -ay',
      plugin: round(restore),
      bare: round(activate),
      unit: 'ms',
      note: `${lvCount} LVs; plugin column: the restore, bare column: activating them all`,
    });

    const nodeFlags = process.env['BENCH_CPU_PROF'] ? ['--cpu-prof', `--cpu-prof-dir=${OUT}`] : [];
    const startMs = await timed(
      async () => (mp = await MeasuredPlugin.start(flags, 19103, { startTimeoutMs: 1_800_000, nodeFlags })),
    );
    writeRow({ section, operation: 'plugin start until Probe ready', plugin: round(startMs), bare: null, unit: 'ms' });
    const m = mp as unknown as MeasuredPlugin;

    const bareList = () => run(['lvs', '-o', 'lv_name,lv_size,lv_tags', VG]);
    for (const pass of [1, 2, 3]) {
      const list = await listAllPages(m);
      writeRow({
        section,
        operation: `ListVolumes, all ${list.entries} entries (pages of 100), pass ${pass}`,
        plugin: round(list.ms),
        bare: round(await timed(bareList)),
        unit: 'ms',
        commands: `${formatCounts([list.commands])} (all pages)`,
        note: pass === 1 ? 'the first listing of a fresh plugin process; bare: one lvs' : 'bare: one lvs',
      });
    }
    await pairs(
      m,
      { section, operation: 'ListVolumes, all in one page (max_entries 0)', note: 'bare: one lvs' },
      3,
      () => call(m.p.controller, 'ListVolumes', {}),
      bareList,
    );

    const created = await pairs(
      m,
      { section, operation: 'CreateVolume thick', note: 'bare: lvcreate -L 1m in the same VG, after the plugin calls' },
      PAIRS,
      (i) =>
        call(m.p.controller, 'CreateVolume', {
          name: `extra-${i}`,
          capacity_range: size,
          volume_capabilities: [mountCap()],
          parameters: thick,
        }),
      (i) => run(['lvcreate', '-q', '-y', '-L', '1m', '-n', `bare-${i}`, '--addtag', 'csi.kind=volume', VG]),
      { settle: true, bareAfter: true },
    );
    await m.stop();
    mp = undefined;
    run([
      'lvremove',
      '-q',
      '-y',
      ...Array.from({ length: PAIRS }, (_, i) => [`${VG}/${volumeLvName(`extra-${i}`)}`, `${VG}/bare-${i}`]).flat(),
    ]);

    // The plugin's lvcreate against the bare one, piece by piece: bare lvcreates, interleaved, in the
    // same VG, with and without the plugin's --config, its other flags and the template's tags, and
    // the exact argv the plugin runs (no plugin running).
    const config = lvmConfigArgs(lvmSettings());
    const tagArgs = tags.flatMap((t) => ['--addtag', t.startsWith('csi.name=') ? 'csi.name=x' : t]);
    const one = ['--addtag', 'csi.kind=volume'];
    const planned = await pluginArgvOf(
      'placeholder',
      tags.map((t) => (t.startsWith('csi.name=') ? 'csi.name=x' : t)),
    );
    const pluginArgv = (lv: string) => planned.map((a) => (a === 'placeholder' ? lv : a));
    const variants: Array<[string, (lv: string) => string[]]> = [
      ['bare', (lv) => ['lvcreate', '-q', '-y', '-L', '1m', '-n', lv, ...one, VG]],
      ["the plugin's --config", (lv) => ['lvcreate', ...config, '-q', '-y', '-L', '1m', '-n', lv, ...one, VG]],
      ["the template's tags", (lv) => ['lvcreate', '-q', '-y', '-L', '1m', '-n', lv, ...tagArgs, VG]],
      [
        "the plugin's other flags (--type linear --wipesignatures y --zero y)",
        (lv) => [
          'lvcreate',
          '-q',
          '-y',
          '--type',
          'linear',
          '-L',
          '1m',
          '-n',
          lv,
          '--wipesignatures',
          'y',
          '--zero',
          'y',
          ...one,
          VG,
        ],
      ],
      ["the plugin's exact argv (Lvm.createLinear)", pluginArgv],
    ];
    const times = new Map<string, number[]>(variants.map(([k]) => [k, []]));
    for (let i = 0; i < PAIRS; i++) {
      for (const [v, [k, argv]] of variants.entries()) {
        const lv = `v${v}-${i}`;
        times.get(k)?.push(await timed(() => run(argv(lv))));
        run(['lvremove', '-q', '-y', `${VG}/${lv}`]);
      }
    }
    const base = median(times.get('bare') ?? []);
    for (const [k] of variants.slice(1)) {
      writeRow({
        section,
        operation: `bare lvcreate -L 1m with ${k}`,
        plugin: round(median(times.get(k) ?? [])),
        bare: round(base),
        unit: 'ms',
        note: `${PAIRS} each, interleaved with the bare one (-q -y -L 1m, one tag, no --config); CreateVolume thick median ${round(created.plugin)} ms`,
      });
    }
  });
});
