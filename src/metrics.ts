/**
 * Prometheus metrics (prom-client) and the small HTTP server that exposes
 * them with /healthz and /readyz. Metric names are listed in docs/metrics.md.
 *
 * Nothing here runs a command: the RPC and command series are observed as
 * calls happen, and the capacity/inventory gauges read the agent's cache
 * (src/agent/inventory.ts) at scrape time through InventorySource.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RunObserver } from './exec/runner.js';

/** One reading of the agent's volume groups, thin pools and exports (what the gauges show). */
export interface InventoryReading {
  /** When the reading finished, ms since the epoch. */
  at: number;
  vgs: ReadonlyArray<{ vg: string; sizeBytes: number; freeBytes: number; volumes: number; snapshots: number }>;
  thinPools: ReadonlyArray<{
    vg: string;
    pool: string;
    sizeBytes: number;
    dataPercent: number;
    metadataPercent: number;
    provisionedBytes: number;
  }>;
  /** Targets under the plugin's IQN prefix; undefined when the target could not be read. */
  targets: number | undefined;
  /** Logged-in iSCSI sessions on those targets. */
  sessions: number | undefined;
}

export interface InventorySource {
  /** The last successful reading; undefined before the first one. Must not run commands. */
  current(): InventoryReading | undefined;
}

export interface JobSource {
  list(): ReadonlyArray<{ kind: string }>;
}

/** Told about every inventory refresh (ok or failed) so refreshes can be counted. */
export interface RefreshObserver {
  onRefresh(info: { ok: boolean; durationMs: number }): void;
}

/** Job kinds that always have a series (0 when none runs): copies and zero-before-delete wipes. */
const JOB_KINDS = ['copy', 'zero'] as const;

const P = 'csi_lvm_iscsi_';

export class Metrics {
  readonly registry = new Registry();
  /** Latency of every gRPC call; its _count is the call count by method and status code. */
  readonly rpcDuration: Histogram<'method' | 'code'>;
  readonly commandDuration: Histogram<'command'>;
  readonly commandFailures: Counter<'command'>;
  /** Controller: answers given without a storage agent that could not be reached, by call. */
  readonly agentSkipped: Counter<'call'>;
  private inventory: InventorySource | undefined;
  private jobs: JobSource | undefined;

  constructor() {
    // process_* and nodejs_* series of prom-client, under the plugin's prefix (csi_lvm_iscsi_process_cpu_seconds_total, ...).
    collectDefaultMetrics({ register: this.registry, prefix: P });
    this.rpcDuration = new Histogram({
      name: `${P}rpc_duration_seconds`,
      help: 'gRPC call latency by method and status code (the _count series counts calls)',
      labelNames: ['method', 'code'],
      buckets: [0.005, 0.025, 0.1, 0.5, 1, 2.5, 10, 30, 120],
      registers: [this.registry],
    });
    this.commandDuration = new Histogram({
      name: `${P}command_duration_seconds`,
      help: 'external command latency by program',
      labelNames: ['command'],
      buckets: [0.01, 0.05, 0.25, 1, 5, 30, 120],
      registers: [this.registry],
    });
    this.commandFailures = new Counter({
      name: `${P}command_failures_total`,
      help: 'external commands that failed, by program',
      labelNames: ['command'],
      registers: [this.registry],
    });
    this.agentSkipped = new Counter({
      name: `${P}agent_skipped_total`,
      help: 'controller: listings, name lookups, capacity sums and placements answered without an unreachable storage agent, by call',
      labelNames: ['call'],
      registers: [this.registry],
    });
    const jobs = () => this.jobs;
    new Gauge({
      name: `${P}jobs_running`,
      help: 'background jobs running, by kind (copy: thick copies and restores; zero: wiping before delete)',
      labelNames: ['kind'],
      registers: [this.registry],
      collect() {
        this.reset();
        const counts = new Map<string, number>(JOB_KINDS.map((k) => [k, 0]));
        for (const j of jobs()?.list() ?? []) counts.set(j.kind, (counts.get(j.kind) ?? 0) + 1);
        for (const [kind, n] of counts) this.set({ kind }, n);
      },
    });
  }

  /** A RunObserver for the command runner. */
  commandObserver(): RunObserver {
    return {
      onFinish: ({ argv, durationMs, ok }) => {
        const command = commandLabel(argv);
        this.commandDuration.observe({ command }, durationMs / 1000);
        if (!ok) this.commandFailures.inc({ command });
      },
    };
  }

  /** Controller mode: storage_agent_reachable{node} 1 or 0 for every known agent, read at scrape time. */
  watchAgents(source: { states(): ReadonlyArray<{ node: string; reachable: boolean }> }): void {
    new Gauge({
      name: `${P}storage_agent_reachable`,
      help: 'controller: 1 while the storage agent of a node answers, 0 while it is marked unreachable (retried with backoff)',
      labelNames: ['node'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const a of source.states()) this.set({ node: a.node }, a.reachable ? 1 : 0);
      },
    });
  }

  /** Background jobs to count at scrape time (in memory, no command). */
  watchJobs(source: JobSource): void {
    this.jobs = source;
  }

  /**
   * Registers the capacity and inventory gauges (agent and all modes); they
   * read `source.current()` at scrape time. Returns the observer the
   * inventory reports its refreshes to.
   */
  watchInventory(source: InventorySource): RefreshObserver {
    if (this.inventory) throw new Error('Metrics.watchInventory: called twice');
    this.inventory = source;
    const refreshes = new Counter({
      name: `${P}inventory_refreshes_total`,
      help: 'refreshes of the capacity/inventory cache (one vgs and one lvs each), by result',
      labelNames: ['result'],
      registers: [this.registry],
    });
    const reading = () => this.inventory?.current();
    const perVg = (name: string, help: string, pick: (v: InventoryReading['vgs'][number]) => number) =>
      new Gauge({
        name: `${P}${name}`,
        help,
        labelNames: ['vg'],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const v of reading()?.vgs ?? []) this.set({ vg: v.vg }, pick(v));
        },
      });
    const perPool = (name: string, help: string, pick: (p: InventoryReading['thinPools'][number]) => number) =>
      new Gauge({
        name: `${P}${name}`,
        help,
        labelNames: ['vg', 'pool'],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const p of reading()?.thinPools ?? []) this.set({ vg: p.vg, pool: p.pool }, pick(p));
        },
      });
    const single = (name: string, help: string, pick: (r: InventoryReading) => number | undefined) =>
      new Gauge({
        name: `${P}${name}`,
        help,
        registers: [this.registry],
        collect() {
          this.reset();
          const r = reading();
          const v = r ? pick(r) : undefined;
          if (v !== undefined) this.set(v);
        },
      });
    perVg('volume_group_size_bytes', 'size of each volume group the agent owns', (v) => v.sizeBytes);
    perVg('volume_group_free_bytes', 'unallocated space of each volume group', (v) => v.freeBytes);
    perVg('volumes', 'CSI volumes in each volume group (those being deleted not counted)', (v) => v.volumes);
    perVg('snapshots', 'CSI snapshots in each volume group', (v) => v.snapshots);
    perPool('thin_pool_size_bytes', 'size of each thin pool', (p) => p.sizeBytes);
    perPool('thin_pool_data_percent', 'thin pool data space used, percent', (p) => p.dataPercent);
    perPool('thin_pool_metadata_percent', 'thin pool metadata space used, percent', (p) => p.metadataPercent);
    perPool(
      'thin_pool_provisioned_bytes',
      'sum of the virtual sizes of the thin volumes in each pool',
      (p) => p.provisionedBytes,
    );
    single('exported_targets', 'iSCSI targets this agent exports (under its IQN prefix)', (r) => r.targets);
    single('iscsi_sessions', 'logged-in iSCSI sessions on those targets', (r) => r.sessions);
    single(
      'inventory_last_refresh_timestamp_seconds',
      'when the capacity/inventory gauges were last read from LVM and the target',
      (r) => r.at / 1000,
    );
    return { onRefresh: ({ ok }) => refreshes.inc({ result: ok ? 'ok' : 'error' }) };
  }
}

/** "lvcreate", "iscsiadm", ...: the program's base name (never its arguments, which may hold names). */
function commandLabel(argv: readonly string[]): string {
  const prog = argv[0] ?? '?';
  return prog.slice(prog.lastIndexOf('/') + 1);
}

/** What /readyz asks: ok, or why not. */
export type ReadyAnswer = { ok: true } | { ok: false; reason: string };

export interface HealthChecks {
  /** /readyz: not ready while initializing, after a failed start, or when a readiness check fails. */
  ready: () => ReadyAnswer | Promise<ReadyAnswer>;
}

export function serveMetrics(
  metrics: Metrics,
  address: { host: string; port: number },
  health: HealthChecks,
): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (code: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(code, { 'content-type': type });
      res.end(body);
    };
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        (body) => reply(200, body, metrics.registry.contentType),
        (e: unknown) => reply(500, `${String(e)}\n`),
      );
    } else if (path === '/healthz') {
      // The process serves: that is all liveness means here.
      reply(200, 'ok\n');
    } else if (path === '/readyz') {
      Promise.resolve()
        .then(() => health.ready())
        .then(
          (a) => (a.ok ? reply(200, 'ready\n') : reply(503, `not ready: ${a.reason}\n`)),
          (e: unknown) => reply(503, `not ready: ${e instanceof Error ? e.message : String(e)}\n`),
        );
    } else {
      reply(404, 'not found\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** The part of Readiness /readyz needs (src/readiness.ts). */
export interface ReadinessView {
  get(): { state: 'initializing'; reason?: string } | { state: 'ready' } | { state: 'failed'; reason: string };
  runReadyzChecks(): Promise<void>;
}

/**
 * /readyz over the plugin's Readiness: 503 while initializing and after a
 * failed start; once ready, the live checks Probe runs (e.g. "the volume
 * group still exists"). Concurrent requests share one run of the checks and
 * an answer is reused for `cacheMs`, so a probe storm runs no more commands
 * than one probe.
 */
export function readinessProbe(
  readiness: ReadinessView,
  cacheMs = 5_000,
  now: () => number = Date.now,
): () => Promise<ReadyAnswer> {
  let last: { at: number; answer: Promise<ReadyAnswer> } | undefined;
  return () => {
    const s = readiness.get();
    if (s.state === 'initializing')
      return Promise.resolve({ ok: false, reason: s.reason ? `start failed, retrying: ${s.reason}` : 'initializing' });
    if (s.state === 'failed') return Promise.resolve({ ok: false, reason: s.reason });
    if (last && now() - last.at < cacheMs) return last.answer;
    const answer = readiness.runReadyzChecks().then(
      (): ReadyAnswer => ({ ok: true }),
      (e: unknown): ReadyAnswer => ({ ok: false, reason: e instanceof Error ? e.message : String(e) }),
    );
    last = { at: now(), answer };
    return answer;
  };
}
