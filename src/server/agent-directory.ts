/**
 * The controller's view of remote storage agents: one RemoteAgent per storage
 * node, from discovery (static list or Kubernetes), connected with mutual
 * TLS and refreshed on a timer. An agent that drops out of discovery or
 * cannot be reached stays listed: calls to it fail UNAVAILABLE, never as if
 * its volumes did not exist (a DeleteVolume must not succeed while the LV is
 * merely out of reach).
 */
import type { ChannelCredentials, ChannelOptions } from '@grpc/grpc-js';
import type { AgentDiscovery } from '../agent/discovery.js';
import type { AgentDirectory, StorageAgent } from '../agent/types.js';
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
}

export class RemoteDirectory implements AgentDirectory {
  private readonly agents = new Map<string, RemoteAgent>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: RemoteDirectoryOptions) {}

  all(): readonly StorageAgent[] {
    return [...this.agents.values()];
  }

  /** Agents whose volume groups are known (connected at least once). */
  connected(): RemoteAgent[] {
    return [...this.agents.values()].filter((a) => a.connected);
  }

  byNodeId(nodeId: string): StorageAgent | undefined {
    const a = [...this.agents.values()].find((x) => x.nodeId === nodeId);
    if (!a) throw new Unavailable(`no storage agent with node id ${nodeId} is known (yet); check that its agent pod runs`);
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
          a = new RemoteAgent({ nodeName: e.node, address, creds: this.o.creds, channelOptions: this.o.channelOptions, ...(this.o.timeoutMs ? { timeoutMs: this.o.timeoutMs } : {}) });
          this.agents.set(e.node, a);
        }
        if (!a.connected) {
          try {
            await a.connect();
            this.o.log.info({ node: e.node, address, volume_groups: a.volumeGroups() }, 'storage agent connected');
          } catch (err) {
            this.o.log.warn({ node: e.node, address, err: err instanceof Error ? err.message : String(err) }, 'storage agent not reachable; retried at the next refresh');
          }
        }
      }),
    );
  }

  /** Refreshes now (errors logged) and then every intervalMs. */
  async start(intervalMs: number): Promise<void> {
    const run = () => this.refresh().catch((err: unknown) => this.o.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'agent discovery failed'));
    await run();
    this.timer = setInterval(() => void run(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    for (const a of this.agents.values()) a.close();
  }
}
