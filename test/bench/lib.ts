/**
 * Shared pieces of the benchmark files (test/bench/*.bench.ts), run inside the
 * qemu guest by `npm run bench` (test/bench/run.mjs): the plugin's command
 * counts read from its own /metrics, timing, medians, and the rows every bench
 * file appends to $BENCH_OUT/rows.jsonl (format: test/bench/README.md).
 * Benchmarks print figures; nothing here asserts a timing.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import { call, repo, sh, startPlugin, type PluginProcess } from '../vm/lib.js';

export const PAIRS = Number(process.env['BENCH_PAIRS'] ?? 8);
export const OUT = process.env['BENCH_OUT'] ?? join(process.env['VM_OUT'] ?? '/tmp', 'bench');
export const PORTAL = '127.0.0.1:3260';
const INITIATOR = 'iqn.2024-01.test.vm:guest';
/** The bare LIO export script (the floor of ControllerPublishVolume). */
const LIO_SCRIPT = join(repo, 'test', 'bench', 'lio-export.sh');

type Unit = 'ms' | 'MiB/s' | 'IOPS' | 'MB' | 'count';

export interface Row {
  section: string;
  operation: string;
  plugin: number | null;
  bare: number | null;
  unit: Unit;
  ratio: number | null;
  /** Commands the plugin ran per call, e.g. "lvs 1, lvcreate 1" (from its command metrics). */
  commands?: string;
  /** Median time per call spent inside those commands (sum of their durations, ms): the rest is the plugin's own. */
  inCommands?: number;
  /**
   * Each pair's plugin / bare, as "median (25th-75th percentile)": the spread of
   * the row within the run. Neighbours in time share the host's state, so this
   * median moves less with the host than the ratio of the two medians.
   */
  pairRatio?: string;
  note?: string;
}

export function writeRow(r: Omit<Row, 'ratio'> & { ratio?: number | null }): void {
  const ratio =
    r.ratio !== undefined ? r.ratio : r.plugin !== null && r.bare !== null && r.bare > 0 ? r.plugin / r.bare : null;
  const row: Row = { ...r, ratio: ratio === null ? null : round(ratio, 2) };
  mkdirSync(OUT, { recursive: true });
  appendFileSync(join(OUT, 'rows.jsonl'), `${JSON.stringify(row)}\n`);
  console.log(
    `[bench] ${row.section} | ${row.operation} | plugin ${row.plugin} | bare ${row.bare} ${row.unit} | ratio ${row.ratio ?? '-'} | ${row.commands ?? ''}${row.inCommands !== undefined ? ` | in commands ${row.inCommands} ms` : ''}${row.pairRatio ? ` | per pair ${row.pairRatio}` : ''}${row.note ? ` | ${row.note}` : ''}`,
  );
}

export const round = (n: number, digits = 0): number => Math.round(n * 10 ** digits) / 10 ** digits;

export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5);
}

/** The q-quantile of xs, linear between the two nearest ranks (q = 0.5: the median). */
function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const at = (s.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (at - lo);
}

/** "median (p25-p75)" of each pair's plugin / bare. */
function pairRatios(plugin: readonly number[], bare: readonly number[]): string | undefined {
  const r = plugin.flatMap((p, i) => (bare[i] ? [p / bare[i]] : []));
  if (r.length === 0) return undefined;
  const f = (q: number) => round(quantile(r, q), 2).toFixed(2);
  return `${f(0.5)} (${f(0.25)}-${f(0.75)})`;
}

/** Wall time of fn in ms. */
export async function timed(fn: () => unknown): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

/**
 * Runs a bare command (argv, no shell) the way the plugin's runner would: one process. Up to an
 * hour: the scale bench's fill activates hundreds of LVs in one command.
 */
export function run(argv: string[]): string {
  return sh(argv, undefined, 3_600_000);
}

// ------------------------------------------------------------------ the plugin's own command metrics

export type Counts = Map<string, number>;

export interface Scrape {
  /** csi_lvm_iscsi_command_duration_seconds_count by command. */
  commands: Counts;
  /** csi_lvm_iscsi_command_duration_seconds_sum over every command, in ms. */
  commandMs: number;
  /** csi_lvm_iscsi_inventory_refreshes_total, all results. */
  refreshes: number;
}

/** GET /metrics on a fresh connection (fetch's kept-alive socket can meet the server closing it: "other side closed"). */
function getMetrics(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpGet({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () =>
        res.statusCode === 200 ? resolve(body) : reject(new Error(`/metrics: HTTP ${res.statusCode}`)),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

export async function scrape(port: number): Promise<Scrape> {
  const text = await getMetrics(port);
  const commands: Counts = new Map();
  let refreshes = 0;
  let commandMs = 0;
  for (const line of text.split('\n')) {
    const d = /^csi_lvm_iscsi_command_duration_seconds_sum\{command="[^"]+"\} ([0-9.e+-]+)/.exec(line);
    if (d) commandMs += Number(d[1]) * 1000;
    const c = /^csi_lvm_iscsi_command_duration_seconds_count\{command="([^"]+)"\} (\d+)/.exec(line);
    if (c) commands.set(c[1] as string, Number(c[2]));
    const r = /^csi_lvm_iscsi_inventory_refreshes_total\{[^}]*\} (\d+)/.exec(line);
    if (r) refreshes += Number(r[1]);
  }
  return { commands, commandMs, refreshes };
}

export function diff(after: Counts, before: Counts): Counts {
  const d: Counts = new Map();
  for (const [k, v] of after) if (v - (before.get(k) ?? 0) > 0) d.set(k, v - (before.get(k) ?? 0));
  return d;
}

/** "9: lvs 6, vgs 2, lvcreate 1", most frequent command first. */
function formatOne(c: Counts): string {
  const per = [...c].map(([k, v]) => [k, round(v, 1)] as const).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  if (per.length === 0) return '0';
  return `${round(
    per.reduce((t, [, v]) => t + v, 0),
    1,
  )}: ${per.map(([k, v]) => `${k} ${v}`).join(', ')}`;
}

/**
 * The commands of the calls of one row: "9: lvs 6, vgs 2, lvcreate 1" when
 * every call ran the same; otherwise the most common and the others with how
 * many calls ran them: "9: lvs 6, vgs 2, lvcreate 1 (7 calls); 11: ... (1 call)".
 */
export function formatCounts(samples: readonly Counts[]): string {
  const seen = new Map<string, number>();
  for (const s of samples) seen.set(formatOne(s), (seen.get(formatOne(s)) ?? 0) + 1);
  if (seen.size <= 1) return [...seen.keys()][0] ?? '';
  return [...seen]
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} (${n} call${n === 1 ? '' : 's'})`)
    .join('; ');
}

/** A plugin started with --metrics-address; measure() times one call and counts the commands it ran. */
export class MeasuredPlugin {
  private constructor(
    readonly p: PluginProcess,
    readonly port: number,
  ) {}

  /**
   * BENCH_LOG_LEVEL=debug (on the host, like every BENCH_* variable) logs every command the
   * plugin runs with its duration (exec/command-log.ts), to lay a call out command by command;
   * the plugin's log goes to $BENCH_OUT/plugin.log either way.
   */
  static async start(
    flags: string[],
    port: number,
    opts?: { startTimeoutMs?: number; nodeFlags?: string[] },
  ): Promise<MeasuredPlugin> {
    const level = process.env['BENCH_LOG_LEVEL'] ?? 'info';
    mkdirSync(OUT, { recursive: true });
    const p = await startPlugin(['--metrics-address', `127.0.0.1:${port}`, '--log-level', level, ...flags], {
      ...opts,
      logFile: join(OUT, 'plugin.log'),
    });
    return new MeasuredPlugin(p, port);
  }

  /**
   * Times fn and returns the commands the plugin ran during it. With
   * `settle`, then waits for the inventory refresh the call triggers (debounced
   * 1 s after each change) so it neither lands in the next measurement nor
   * competes with the bare command; its commands are returned as `after`.
   */
  async measure(
    fn: () => Promise<unknown>,
    settle = false,
  ): Promise<{ ms: number; commands: Counts; commandMs: number; after: Counts }> {
    const s0 = await scrape(this.port);
    const ms = await timed(fn);
    const s1 = await scrape(this.port);
    const commandMs = s1.commandMs - s0.commandMs;
    if (!settle) return { ms, commands: diff(s1.commands, s0.commands), commandMs, after: new Map() };
    const until = Date.now() + 30_000;
    let s2 = s1;
    while (s2.refreshes === s0.refreshes && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 200));
      s2 = await scrape(this.port);
    }
    return { ms, commands: diff(s1.commands, s0.commands), commandMs, after: diff(s2.commands, s1.commands) };
  }

  rssMB(): { rss: number; hwm: number } {
    const status = readFileSync(`/proc/${this.p.child.pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: round(kb('VmRSS') / 1024, 1), hwm: round(kb('VmHWM') / 1024, 1) };
  }

  stop(): Promise<number | null> {
    return this.p.stop();
  }
}

/** ListVolumes of everything in pages of 100, timed with the commands it ran; `entries`: how many came back. */
export async function listAllPages(m: MeasuredPlugin): Promise<{ ms: number; commands: Counts; entries: number }> {
  let entries = 0;
  const list = await m.measure(async () => {
    let token = '';
    do {
      const page = await call(m.p.controller, 'ListVolumes', { max_entries: 100, starting_token: token });
      entries += page.entries.length;
      token = page.next_token;
    } while (token);
  });
  return { ms: list.ms, commands: list.commands, entries };
}

/**
 * Runs `pairs` pairs interleaved (plugin call, bare command, plugin call, ...)
 * and writes one row: medians, ratio, the plugin's commands per call. With
 * `bareAfter` the bare commands run after all the plugin calls instead.
 */
export async function pairs(
  plugin: MeasuredPlugin,
  row: { section: string; operation: string; note?: string },
  n: number,
  pluginCall: (i: number) => Promise<unknown>,
  bare: ((i: number) => unknown) | null,
  opts: { settle?: boolean; bareAfter?: boolean } = {},
): Promise<{ plugin: number; bare: number | null }> {
  const pMs: number[] = [];
  const bMs: number[] = [];
  const cmds: Counts[] = [];
  const inCmdMs: number[] = [];
  const after: Counts[] = [];
  for (let i = 0; i < n; i++) {
    const m = await plugin.measure(() => pluginCall(i), opts.settle);
    pMs.push(m.ms);
    cmds.push(m.commands);
    inCmdMs.push(m.commandMs);
    after.push(m.after);
    if (bare && !opts.bareAfter) bMs.push(await timed(() => bare(i)));
  }
  // bareAfter: every bare command after every plugin call, for bare commands that would change what the plugin reads
  if (bare && opts.bareAfter) for (let i = 0; i < n; i++) bMs.push(await timed(() => bare(i)));
  const refresh = opts.settle ? formatCounts(after) : '';
  writeRow({
    ...row,
    plugin: round(median(pMs)),
    bare: bare ? round(median(bMs)) : null,
    unit: 'ms',
    commands: formatCounts(cmds),
    inCommands: round(median(inCmdMs)),
    pairRatio: bare ? pairRatios(pMs, bMs) : undefined,
    note:
      [row.note, refresh && refresh !== '0' ? `then the debounced inventory refresh: ${refresh}` : '']
        .filter(Boolean)
        .join('; ') || undefined,
  });
  return { plugin: median(pMs), bare: bare ? median(bMs) : null };
}

/** The bare LIO export (configfs writes by a shell script); `down` tears it down. */
export function lioScript(action: 'up' | 'down', dev: string, name: string, iqn: string): void {
  execFileSync('bash', [LIO_SCRIPT, action, dev, name, iqn, INITIATOR, PORTAL], { stdio: 'pipe' });
}
