/**
 * Composition root: builds the logger, metrics, runner and services for the
 * configured mode and starts the gRPC server. main.ts only parses flags and
 * handles signals; tests start the plugin in-process through startPlugin().
 */
import type { Server as HttpServer } from 'node:http';
import type { Config } from './config.js';
import { identityHandlers } from './csi/identity.js';
import { ExecaRunner } from './exec/execa-runner.js';
import type { CommandRunner } from './exec/runner.js';
import { createLogger, type Logger } from './log.js';
import { Metrics, serveMetrics } from './metrics.js';
import { Readiness } from './readiness.js';
import type { AdapterDeps } from './server/adapter.js';
import { startServer, type ServiceBinding } from './server/grpc-server.js';
import { KeyLocks } from './server/locks.js';
import { loadCsi } from './server/proto.js';
import { VERSION } from './version.js';

export interface PluginOverrides {
  log?: Logger;
  runner?: CommandRunner;
}

export interface RunningPlugin {
  readonly address: string;
  readonly readiness: Readiness;
  readonly initialized: Promise<void>;
  stop(graceMs?: number): Promise<void>;
}

export async function startPlugin(config: Config, overrides: PluginOverrides = {}): Promise<RunningPlugin> {
  const log = overrides.log ?? createLogger(config.logLevel);
  const metrics = new Metrics();
  const runner = overrides.runner ?? new ExecaRunner({ observer: metrics.commandObserver() });
  void runner;
  const readiness = new Readiness();
  const deps: AdapterDeps = { log, locks: new KeyLocks(), metrics };
  const csi = loadCsi().csi.v1;

  const services: ServiceBinding[] = [
    {
      definition: csi.Identity.service,
      implementation: identityHandlers(
        { driverName: config.driverName, version: VERSION, controllerService: false, onlineExpansion: false, readiness },
        deps,
      ),
    },
  ];

  const server = await startServer(config.endpoint, services);
  let metricsServer: HttpServer | undefined;
  if (config.metricsAddress) metricsServer = await serveMetrics(metrics, config.metricsAddress, { ready: () => readiness.isReady() });
  log.info({ mode: config.mode, endpoint: server.address, version: VERSION, node_id: config.nodeId }, 'serving');

  const initialized = initialize(config, readiness, log);

  return {
    address: server.address,
    readiness,
    initialized,
    async stop(graceMs) {
      await server.stop(graceMs);
      await new Promise<void>((resolve) => (metricsServer ? metricsServer.close(() => resolve()) : resolve()));
    },
  };
}

/** Checks the local dependencies of the mode; Probe answers not-ready until this settles. */
async function initialize(config: Config, readiness: Readiness, log: Logger): Promise<void> {
  try {
    readiness.ready();
    log.info('ready');
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    readiness.fail(reason);
    log.error({ reason }, 'initialization failed; Probe answers FAILED_PRECONDITION');
  }
  void config;
}
