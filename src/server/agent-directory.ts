/**
 * The controller's view of remote storage agents: one RemoteAgent per storage
 * node, from discovery (static list or Kubernetes), connected with mutual
 * TLS and refreshed on a timer. An agent that drops out of discovery or
 * cannot be reached stays listed: calls to it fail UNAVAILABLE, never as if
 * its volumes did not exist (a DeleteVolume must not succeed while the LV is
 * merely out of reach). An unreachable agent is marked (RemoteAgent keeps
 * why and since when), skipped by placement, listings and name lookups
 * (src/csi/agent-fanout.ts) and reconnected on its own backoff.
 */
import type { ChannelCredentials, ChannelOptions } from '@grpc/grpc-js';
import type { AgentDiscovery } from '../agent/discovery.js';
import type { AgentDirectory, StorageAgent } from '../agent/types.js';
import type { BackoffOptions } from '../backoff.js';
import { Unavailable } from '../errors.js';
import type { Logger } from '../log.js';
import { RemoteAgent } from './agent-client.js';
import { formatHostPort } from '../host-port.js';

export interface RemoteDirectoryOptions {
  discovery: AgentDiscovery;
  creds: ChannelCredentials;
  channelOptions: ChannelOptions;
  log: Logger;
  timeoutMs?: number;
  /** How often unreachable agents are checked for a due reconnection. Default 1 s. */
  retryTickMs?: number;
  /** Backoff of one agent's reconnections. */
  retry?: BackoffOptions;
}

export class RemoteDirectory implements AgentDirectory {
  private readonly agents = new Map<string, RemoteAgent>();
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: RemoteDirectoryOptions) {}

  all(): readonly StorageAgent[] {
    return [...this.agents.values()];
  }

  /** Agents whose volume groups are known (connected at least once). */
  connected(): RemoteAgent[] {
    return [...this.agents.values()].filter((a) => a.connected);
  }

  /** Agents that answer now. */
  reachable(): RemoteAgent[] {
    return [...this.agents.values()].filter((a) => a.reachable);
  }

  unavailable(agent: StorageAgent): string | undefined {
    return agent instanceof RemoteAgent ? agent.unreachableReason() : undefined;
  }

  /** Every known agent and whether it answers (for the metrics). */
  states(): Array<{ node: string; reachable: boolean }> {
    return [...this.agents.values()].map((a) => ({ node: a.nodeName, reachable: a.reachable }));
  }

  /** /readyz of the controller: at least one storage agent answers. */
  requireOneReachable(): void {
    if (this.agents.size === 0) throw new Unavailable('no storage agent is known (discovery found none)');
    if (this.reachable().length > 0) return;
    const why = [...this.agents.values()].map((a) => `${a.nodeName}: ${a.unreachableReason() ?? 'unknown'}`);
    throw new Unavailable(`no storage agent is reachable (${why.join('; ')})`);
  }

  /** Reconnects the unreachable agents whose backoff has passed; the others wait. */
  retryDue(): void {
    for (const a of this.agents.values()) {
      if (!a.retryDue()) continue;
      a.connect().then(
        () =>
          this.o.log.info(
            { node: a.nodeName, address: a.address, volume_groups: a.volumeGroups() },
            'storage agent reachable',
          ),
        () => undefined,
      );
    }
  }

  byNodeId(nodeId: string): StorageAgent | undefined {
    const a = [...this.agents.values()].find((x) => x.nodeId === nodeId);
    if (!a)
      throw new Unavailable(`no storage agent with node id ${nodeId} is known (yet); check that its agent pod runs`);
    return a;
  }

  /** Discovers agents and connects the new or not yet connected ones; one failing agent does not stop the others. */
  async refresh(): Promise<void> {
    const endpoints = await this.o.discovery.endpoints();
    await Promise.all(
      endpoints.map(async (e) => {
        const address = formatHostPort(e.host, e.port);
        let a = this.agents.get(e.node);
        if (a && a.address !== address) {
          this.o.log.info({ node: e.node, from: a.address, to: address }, 'storage agent moved');
          a.close();
          a = undefined;
        }
        if (!a) {
          a = new RemoteAgent({
            nodeName: e.node,
            address,
            creds: this.o.creds,
            channelOptions: this.o.channelOptions,
            ...(this.o.timeoutMs ? { timeoutMs: this.o.timeoutMs } : {}),
            ...(this.o.retry ? { retry: this.o.retry } : {}),
            onReachability: (agent, up, reason) => {
              if (!up)
                this.o.log.warn(
                  { node: agent.nodeName, address: agent.address, reason },
                  'storage agent unreachable; skipped by placement, listings and name lookups, reconnected with backoff',
                );
            },
          });
          this.agents.set(e.node, a);
        }
        if (!a.connected && a.retryDue()) {
          try {
            await a.connect();
            this.o.log.info({ node: e.node, address, volume_groups: a.volumeGroups() }, 'storage agent connected');
          } catch (err) {
            this.o.log.warn(
              { node: e.node, address, err: err instanceof Error ? err.message : String(err) },
              'storage agent not reachable; retried with backoff',
            );
          }
        }
      }),
    );
  }

  /** Refreshes now (errors logged) and then every intervalMs. */
  async start(intervalMs: number): Promise<void> {
    const run = () =>
      this.refresh().catch((err: unknown) =>
        this.o.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'agent discovery failed'),
      );
    await run();
    this.timer = setInterval(() => void run(), intervalMs);
    this.timer.unref();
    this.retryTimer = setInterval(() => this.retryDue(), this.o.retryTickMs ?? 1_000);
    this.retryTimer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    clearInterval(this.retryTimer);
    for (const a of this.agents.values()) a.close();
  }
}
