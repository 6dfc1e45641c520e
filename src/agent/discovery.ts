/**
 * Where the storage agents are. Static: the --agents list. Kubernetes: the
 * agent DaemonSet's pods, found through the Kubernetes API by label in the
 * plugin's namespace, one per storage node (the pod's node name, its IP,
 * the agent port; agents use hostNetwork, so the pod IP is the node's).
 * @kubernetes/client-node is loaded only when Kubernetes discovery is used:
 * importing it costs about 1.3 s of CPU on a development machine, which every
 * agent, node and `all` process would otherwise pay at start.
 */
import type { CoreV1Api } from '@kubernetes/client-node';
import { Unavailable } from '../errors.js';
import { byCodeUnit } from '../compare.js';

export interface AgentEndpoint {
  node: string;
  host: string;
  port: number;
}

export interface AgentDiscovery {
  endpoints(): Promise<AgentEndpoint[]>;
}

export class StaticDiscovery implements AgentDiscovery {
  constructor(private readonly list: readonly AgentEndpoint[]) {}
  async endpoints(): Promise<AgentEndpoint[]> {
    return [...this.list];
  }
}

export interface KubernetesDiscoveryOptions {
  namespace: string;
  labelSelector: string;
  port: number;
  /** A kubeconfig file; undefined = the pod's service account (in-cluster). */
  kubeconfig: string | undefined;
}

/** The pods that can serve: scheduled, running, with an IP, not being deleted. */
function agentEndpointsFromPods(
  pods: ReadonlyArray<{
    metadata?: { deletionTimestamp?: unknown };
    spec?: { nodeName?: string };
    status?: { phase?: string; podIP?: string };
  }>,
  port: number,
): AgentEndpoint[] {
  const out = new Map<string, AgentEndpoint>();
  for (const p of pods) {
    const node = p.spec?.nodeName;
    const ip = p.status?.podIP;
    if (!node || !ip || p.status?.phase !== 'Running' || p.metadata?.deletionTimestamp) continue;
    out.set(node, { node, host: ip, port });
  }
  return [...out.values()].sort((a, b) => byCodeUnit(a.node, b.node));
}

export class KubernetesDiscovery implements AgentDiscovery {
  private constructor(
    private readonly o: KubernetesDiscoveryOptions,
    private readonly api: CoreV1Api,
  ) {}

  /** Reads the kubeconfig (or the in-cluster service account) now, so a bad one fails at start. */
  static async create(o: KubernetesDiscoveryOptions): Promise<KubernetesDiscovery> {
    const { CoreV1Api, KubeConfig } = await import('@kubernetes/client-node');
    const kc = new KubeConfig();
    if (o.kubeconfig) kc.loadFromFile(o.kubeconfig);
    else kc.loadFromCluster();
    return new KubernetesDiscovery(o, kc.makeApiClient(CoreV1Api));
  }

  async endpoints(): Promise<AgentEndpoint[]> {
    try {
      const list = await this.api.listNamespacedPod({
        namespace: this.o.namespace,
        labelSelector: this.o.labelSelector,
      });
      return agentEndpointsFromPods(list.items, this.o.port);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw new Unavailable(
        `listing agent pods (namespace ${this.o.namespace}, selector ${this.o.labelSelector}) failed: ${msg.split('\n')[0]}`,
      );
    }
  }
}
