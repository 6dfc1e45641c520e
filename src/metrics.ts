/**
 * Prometheus metrics (prom-client) and the small HTTP server that exposes
 * them with /healthz and /readyz.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RunObserver } from './exec/runner.js';

export class Metrics {
  readonly registry = new Registry();
  readonly rpcDuration: Histogram<'method' | 'code'>;
  readonly commandDuration: Histogram<'command'>;
  readonly commandFailures: Counter<'command'>;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'csi_lvm_iscsi_process_' });
    this.rpcDuration = new Histogram({
      name: 'csi_lvm_iscsi_rpc_duration_seconds',
      help: 'gRPC call latency by method and status code',
      labelNames: ['method', 'code'],
      buckets: [0.005, 0.025, 0.1, 0.5, 1, 2.5, 10, 30, 120],
      registers: [this.registry],
    });
    this.commandDuration = new Histogram({
      name: 'csi_lvm_iscsi_command_duration_seconds',
      help: 'external command latency by program',
      labelNames: ['command'],
      buckets: [0.01, 0.05, 0.25, 1, 5, 30, 120],
      registers: [this.registry],
    });
    this.commandFailures = new Counter({
      name: 'csi_lvm_iscsi_command_failures_total',
      help: 'external commands that failed, by program',
      labelNames: ['command'],
      registers: [this.registry],
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
}

/** "lvcreate", "iscsiadm", ...: the program's base name (never its arguments, which may hold names). */
export function commandLabel(argv: readonly string[]): string {
  const prog = argv[0] ?? '?';
  return prog.slice(prog.lastIndexOf('/') + 1);
}

export function serveMetrics(
  metrics: Metrics,
  address: { host: string; port: number },
  health: { ready: () => boolean },
): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      metrics.registry
        .metrics()
        .then((body) => {
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          res.end(body);
        })
        .catch((e: unknown) => {
          res.writeHead(500);
          res.end(String(e));
        });
    } else if (path === '/healthz') {
      res.writeHead(200);
      res.end('ok\n');
    } else if (path === '/readyz') {
      const ready = health.ready();
      res.writeHead(ready ? 200 : 503);
      res.end(ready ? 'ready\n' : 'not ready\n');
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => resolve(server));
  });
}
