/**
 * Composition root: builds the logger, metrics, runner and services for the
 * configured mode and starts the gRPC server. main.ts only parses flags and
 * handles signals; tests start the plugin in-process through startPlugin().
 */
import type { Server as HttpServer } from 'node:http';
import { Exports } from './agent/exports.js';
import { Inventory, notifyOnChange } from './agent/inventory.js';
import { Jobs } from './agent/jobs.js';
import { ensureLoopVg, LOOP_THIN_POOL } from './agent/loop-vg.js';
import { readSecretDir } from './agent/chap.js';
import { KubernetesDiscovery, StaticDiscovery } from './agent/discovery.js';
import { shortNodeId } from './agent/ids.js';
import { LocalAgent } from './agent/service.js';
import type { StorageAgent } from './agent/types.js';
import type { Config } from './config.js';
import type { AgentDirectory } from './agent/types.js';
import { controllerHandlers } from './csi/controller.js';
import { identityHandlers } from './csi/identity.js';
import { FailedPrecondition } from './errors.js';
import { commandLogger } from './exec/command-log.js';
import { ProcessRunner } from './exec/process-runner.js';
import type { CommandRunner } from './exec/runner.js';
import { createLogger, type Logger } from './log.js';
import { CachedLvm, deviceMapperNames } from './lvm/cached-lvm.js';
import { deviceStamps, type StampReader } from './lvm/metadata-stamp.js';
import { lvmSettings, type LvmSettings } from './lvm/settings.js';
import { LvmSystemDir } from './lvm/system-dir.js';
import { Metrics, readinessProbe, serveMetrics } from './metrics.js';
import { Readiness } from './readiness.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import type { AdapterDeps } from './server/adapter.js';
import { agentHandlers } from './server/agent-api.js';
import { RemoteDirectory } from './server/agent-directory.js';
import { startServer, type RunningServer, type ServiceBinding } from './server/grpc-server.js';
import { agentClientCredentials, agentServerCredentials, controllerOnly, readTlsDir } from './server/tls.js';
import { KeyLocks } from './server/locks.js';
import { loadAgent, loadCsi } from './server/proto.js';
import { createTarget } from './iscsi-target/index.js';
import { VERSION } from './version.js';
import { nodeHandlers } from './csi/node.js';
import { publishIndexDir } from './csi/node-state.js';
import { driverSegment } from './csi/topology.js';
import { formatNodeId } from './agent/node-id.js';
import { Iscsiadm } from './iscsi-initiator/iscsiadm.js';
import { readInitiatorName } from './iscsi-initiator/initiator-name.js';
import { iscsidListening } from './iscsi-initiator/iscsid.js';
import { cleanupOrphans, StageGate } from './csi/node-orphans.js';
import { checkHostLvmIgnoresIscsi } from './host/lvm-filter.js';

export interface PluginOverrides {
  log?: Logger;
  runner?: CommandRunner;
  /** How the agent reads its VGs' metadata stamps (tests without block devices replace it). */
  stamps?: StampReader;
  /** Which device-mapper devices exist (tests without device-mapper replace it). */
  dmNames?: () => Promise<ReadonlySet<string> | undefined>;
  /** Backoff between start attempts (tests shorten it). */
  startRetry?: BackoffOptions;
}

export interface RunningPlugin {
  readonly address: string;
  /** The port /metrics listens on (useful with --metrics-address host:0); undefined without metrics. */
  readonly metricsPort: number | undefined;
  readonly readiness: Readiness;
  /** Settles when initialization has finished (successfully or not). */
  readonly initialized: Promise<void>;
  stop(graceMs?: number): Promise<void>;
}

/** How often a controller re-discovers its agents (unreachable ones are retried on their own backoff). */
const AGENT_REFRESH_MS = 30_000;
/** A failed start is tried again after 1 s, 2 s, 4 s, ... at most every 60 s. */
const START_RETRY: BackoffOptions = { initialMs: 1_000, maxMs: 60_000 };

/** `all` and `agent` mode: the in-process agent (controller mode uses RemoteDirectory). */
class StaticDirectory implements AgentDirectory {
  private agents: StorageAgent[] = [];
  set(agents: StorageAgent[]): void {
    this.agents = agents;
  }
  all(): readonly StorageAgent[] {
    return this.agents;
  }
  byNodeId(nodeId: string): StorageAgent | undefined {
    return this.agents.find((a) => a.nodeId === nodeId);
  }
  unavailable(): string | undefined {
    return undefined;
  }
}

/** controller mode: the storage agents, found by --agent-discovery and called over mutual TLS. */
async function remoteDirectory(config: Config, log: Logger): Promise<RemoteDirectory> {
  const { creds, options } = agentClientCredentials(await readTlsDir(config.agentTlsDir ?? ''));
  const discovery =
    config.agentDiscovery === 'kubernetes'
      ? await KubernetesDiscovery.create({
          namespace: config.namespace,
          labelSelector: config.agentSelector,
          port: config.agentPort,
          kubeconfig: config.kubeconfig,
        })
      : new StaticDiscovery(config.agents);
  return new RemoteDirectory({ discovery, creds, channelOptions: options, log });
}

/** The agent's LVM configuration directory (--lvm-config-dir); undefined: commands carry --config. */
async function lvmSystemDir(
  flag: string,
  runner: CommandRunner,
  settings: LvmSettings,
  log: Logger,
): Promise<LvmSystemDir | undefined> {
  if (flag === 'none') return undefined;
  if (flag) return new LvmSystemDir(runner, settings, flag, undefined, log);
  try {
    return await LvmSystemDir.create(runner, settings, log);
  } catch (e) {
    log.warn(
      { err: e instanceof Error ? e.message : String(e) },
      'no temporary directory for the LVM configuration; lvm commands carry --config instead',
    );
    return undefined;
  }
}

export async function startPlugin(config: Config, overrides: PluginOverrides = {}): Promise<RunningPlugin> {
  const log = overrides.log ?? createLogger(config.logLevel);
  const metrics = new Metrics();
  const observers = [metrics.commandObserver(), commandLogger(log)];
  const runner =
    overrides.runner ??
    new ProcessRunner({ observer: { onFinish: (info) => observers.forEach((o) => o.onFinish(info)) } });
  const readiness = new Readiness();
  const deps: AdapterDeps = { log, locks: new KeyLocks(), metrics };
  const csi = loadCsi().csi.v1;
  const settings = lvmSettings({ udevSync: config.lvmUdevSync });
  const hasAgent = config.mode === 'agent' || config.mode === 'all';
  const lvmDir = hasAgent ? await lvmSystemDir(config.lvmConfigDir, runner, settings, log) : undefined;
  // The agent's VGs in memory, kept current by its own changes and checked against the PVs' metadata stamps.
  const lvm = new CachedLvm(
    runner,
    settings,
    overrides.stamps ?? deviceStamps,
    Date.now,
    overrides.dmNames ?? deviceMapperNames(),
    lvmDir,
  );
  const jobs = new Jobs(log);
  metrics.watchJobs(jobs);
  const local = new StaticDirectory();
  const remote = config.mode === 'controller' ? await remoteDirectory(config, log) : undefined;
  const directory: AgentDirectory = remote ?? local;
  if (remote) metrics.watchAgents({ states: () => remote.states() });
  const topology = driverSegment(config.driverName);
  const hasController = config.mode === 'controller' || config.mode === 'all';

  const services: ServiceBinding[] = [
    {
      definition: csi.Identity.service,
      implementation: identityHandlers(
        {
          driverName: config.driverName,
          version: VERSION,
          controllerService: hasController,
          onlineExpansion: hasController,
          readiness,
        },
        deps,
      ),
    },
  ];
  if (hasController) {
    services.push({
      definition: csi.Controller.service,
      implementation: controllerHandlers(
        {
          agents: directory,
          defaultVolumeBytes: config.defaultVolumeSizeBytes,
          thinPoolThresholdPercent: config.thinPoolThreshold,
          maxVolumesPerNode: config.maxVolumesPerNode,
          allowPublishWithoutChap: config.allowPublishWithoutChap,
          topology,
        },
        deps,
      ),
    });
    if (config.allowPublishWithoutChap)
      log.warn(
        { flag: 'allow-publish-without-chap' },
        'volumes may be published without CHAP: the initiator name, which any host can claim, is then the only barrier',
      );
  }

  const hasNode = config.mode === 'node' || config.mode === 'all';
  const iscsi = new Iscsiadm(runner, log);
  const stageGate = new StageGate();
  if (hasNode) {
    // The node id names the node and its initiator; one that cannot be formed (too long, bad IQN) stops the start.
    const csiNodeId = formatNodeId({ node: config.nodeName, iqn: config.initiatorName ?? (await readInitiatorName()) });
    services.push({
      definition: csi.Node.service,
      implementation: nodeHandlers(
        {
          csiNodeId,
          topology,
          maxVolumesPerNode: config.maxVolumesPerNode,
          runner,
          iscsi,
          deviceTimeoutMs: 60_000,
          gate: stageGate,
          publishIndexDir: publishIndexDir(config.kubeletDir, config.driverName),
          nodeName: config.nodeName,
          chapNodeKeyFile: config.chapNodeKeyFile,
          ...(config.restrictPathsToKubeletDir ? { kubeletPaths: { kubeletDir: config.kubeletDir } } : {}),
        },
        deps,
      ),
    });
  }

  const server = await startServer(config.endpoint, services);
  let metricsServer: HttpServer | undefined;
  if (config.metricsAddress)
    metricsServer = await serveMetrics(metrics, config.metricsAddress, { ready: readinessProbe(readiness) });
  log.info({ mode: config.mode, endpoint: server.address, version: VERSION, node: config.nodeName }, 'serving');

  let reconcileTimer: NodeJS.Timeout | undefined;
  let reloadTimer: NodeJS.Timeout | undefined;
  let agentServer: RunningServer | undefined;
  let inventory: Inventory | undefined;
  let builtAgent: { agent: LocalAgent; volumeGroups: readonly string[] } | undefined;
  let agentStarted = false;
  let remoteStarted = false;
  /** One start attempt; everything in it may run again after a failure (objects and timers are made once). */
  const startOnce = async (): Promise<void> => {
    if (hasAgent && !agentStarted) {
      let volumeGroups = config.volumeGroups;
      let thinPool = config.thinPool;
      if (volumeGroups.length === 0) {
        if (config.mode !== 'all') throw new FailedPrecondition('agent mode needs --volume-group');
        volumeGroups = [await ensureLoopVg(runner, lvm, log, config.dataDir, config.loopVgSizeBytes)];
        thinPool ??= LOOP_THIN_POOL;
      }
      if (!builtAgent) {
        const target = createTarget({ kind: config.targetBackend, runner, logger: log });
        const exports = new Exports(lvm, target, log, {
          nodeId: shortNodeId(config.nodeName),
          nodeName: config.nodeName,
          iqnPrefix: config.iqnPrefix,
          portals: config.portals,
          ...(config.chapSecretDir ? { agentSecrets: () => readSecretDir(config.chapSecretDir as string) } : {}),
        });
        if (config.metricsAddress) {
          // The capacity/inventory gauges: one vgs + one lvs per timer refresh; after a change, recounted from memory.
          const inv: Inventory = new Inventory({
            lvm,
            log,
            volumeGroups,
            nodeId: shortNodeId(config.nodeName),
            listTargets: () => target.listTargets(),
            iqnPrefix: config.iqnPrefix,
            intervalMs: config.statsIntervalSeconds * 1000,
            observer: metrics.watchInventory({ current: () => inv.current() }),
          });
          inventory = inv;
          jobs.onSettled(() => inv.changed());
        }
        const agent = notifyOnChange(
          new LocalAgent(lvm, runner, jobs, exports, log, {
            nodeName: config.nodeName,
            volumeGroups,
            thinPool,
            thinPoolPercentOfVg: config.thinPoolPercent,
            overSubscriptionRatio: config.overSubscriptionRatio,
            thinPoolThresholdPercent: config.thinPoolThreshold,
            reservedPercent: config.reservedPercent,
            jobWaitMs: config.jobWaitSeconds * 1000,
          }),
          () => inventory?.changed(),
        );
        builtAgent = { agent, volumeGroups };
      }
      const { agent } = builtAgent;
      const vgs = builtAgent.volumeGroups;
      await agent.setup();
      await inventory?.refresh(false);
      inventory?.start();
      if (!inventory && config.statsIntervalSeconds > 0) {
        // Without metrics the timer still renews the in-memory VGs (one vgs + one lvs), as the inventory's does.
        reloadTimer = setInterval(() => {
          lvm
            .reloadAll(vgs)
            .catch((e: unknown) =>
              log.warn(
                { err: e instanceof Error ? e.message : String(e) },
                'reading the volume groups failed; retried at the next interval',
              ),
            );
        }, config.statsIntervalSeconds * 1000);
        reloadTimer.unref();
      }
      if (config.reconcileIntervalSeconds > 0) {
        reconcileTimer = setInterval(() => {
          agent
            .reconcileExports()
            .catch((e: unknown) =>
              log.warn(
                { err: e instanceof Error ? e.message : String(e) },
                'export reconcile failed; retried at the next interval',
              ),
            );
        }, config.reconcileIntervalSeconds * 1000);
        reconcileTimer.unref();
      }
      readiness.addCheck(async () => {
        for (const vg of vgs) {
          if (!(await lvm.getVg(vg))) throw new FailedPrecondition(`volume group ${vg} is gone`);
        }
      });
      local.set([agent]);
      if (config.agentListen) {
        const agentApi = loadAgent().csilvmiscsi.agent.v1.Agent;
        agentServer = await startServer(
          { kind: 'tcp', ...config.agentListen },
          [{ definition: agentApi.service, implementation: agentHandlers(agent, deps) }],
          agentServerCredentials(await readTlsDir(config.agentTlsDir ?? '')),
          [controllerOnly(log)],
        );
        log.info({ address: agentServer.address }, 'agent API serving (mutual TLS)');
      }
      agentStarted = true;
    }
    if (remote && !remoteStarted) {
      // Probe does not depend on the agents: a controller restarted by its liveness probe reaches no more of them.
      // /readyz does: it is 503 while no storage agent answers.
      readiness.addReadyzCheck(async () => remote.requireOneReachable());
      await remote.start(AGENT_REFRESH_MS);
      remoteStarted = true;
    }
    if (hasNode) {
      // Node hygiene: iscsiadm needs iscsid for every login.
      if (!(await iscsidListening())) {
        throw new FailedPrecondition(
          'iscsid is not running on this node (no @ISCSIADM_ABSTRACT_NAMESPACE socket); start iscsid on the host (the node plugin uses hostNetwork)',
        );
      }
      // The host's LVM must not scan attached volumes: a warning only, readiness does not depend on it.
      const lvmCheck = await checkHostLvmIgnoresIscsi(runner, { iqnPrefix: config.iqnPrefix }).catch((e: unknown) => ({
        status: 'unknown' as const,
        message: String(e),
      }));
      if (lvmCheck.status === 'ok')
        log.info({ check: 'lvm-filter', by: lvmCheck.how }, "the host's LVM ignores iSCSI disks");
      else log.warn({ check: 'lvm-filter' }, lvmCheck.message);
      // Sessions to our targets that no staged volume owns; a failure here never fails the start.
      await cleanupOrphans({
        kubeletDir: config.kubeletDir,
        iqnPrefix: config.iqnPrefix,
        runner,
        iscsi,
        log,
        gate: stageGate,
      }).catch((e: unknown) =>
        log.warn(
          { err: e instanceof Error ? e.message : String(e) },
          'start-up clean-up of orphaned iSCSI sessions failed; sessions left as they are',
        ),
      );
    }
  };
  // A failed start (a volume group missing, configfs not mounted, iscsid down, ...) is retried with
  // backoff; meanwhile Probe answers FAILED_PRECONDITION and /readyz 503, both with the reason. /healthz
  // stays 200: the process works and retries on its own.
  const retry = new Backoff(overrides.startRetry ?? START_RETRY);
  let stopping = false;
  let retryTimer: NodeJS.Timeout | undefined;
  const initialized = new Promise<void>((settled) => {
    const attempt = async (): Promise<void> => {
      try {
        await startOnce();
        readiness.ready();
        log.info('ready');
        settled();
      } catch (e) {
        const reason = e instanceof Error ? e.message : String(e);
        const delayMs = retry.next();
        readiness.retrying(reason);
        log.error(
          { reason, attempt: retry.failures, retry_in_ms: delayMs },
          'start failed; retried with backoff (Probe answers FAILED_PRECONDITION, /readyz 503)',
        );
        settled();
        if (stopping) return;
        retryTimer = setTimeout(() => void attempt(), delayMs);
        retryTimer.unref();
      }
    };
    void attempt();
  });

  return {
    address: server.address,
    metricsPort: (metricsServer?.address() as { port: number } | null | undefined)?.port,
    readiness,
    initialized,
    async stop(graceMs) {
      stopping = true;
      clearTimeout(retryTimer);
      clearInterval(reconcileTimer);
      clearInterval(reloadTimer);
      remote?.stop();
      await agentServer?.stop(graceMs);
      await inventory?.stop();
      await server.stop(graceMs);
      await jobs.stopAll();
      await new Promise<void>((resolve) => (metricsServer ? metricsServer.close(() => resolve()) : resolve()));
      // a directory of our own making goes with us; one named by --lvm-config-dir stays
      if (lvmDir && !config.lvmConfigDir) await lvmDir.remove();
    },
  };
}
