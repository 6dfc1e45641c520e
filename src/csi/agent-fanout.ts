/**
 * Asking every storage agent at once (name lookups, listings, capacity) and
 * going on without those that cannot be reached: an agent the directory has
 * marked unreachable is not called, and one whose call fails UNAVAILABLE
 * joins it. Any other error is the answer. The caller decides whether an
 * answer without the skipped agents is still true (see controller.ts).
 */
import type { StorageAgent } from '../agent/types.js';
import { Unavailable } from '../errors.js';
import type { AgentDirectory } from '../agent/types.js';

export interface Skipped {
  agent: StorageAgent;
  reason: string;
}

export interface FanOut<T> {
  answers: Array<{ agent: StorageAgent; value: T }>;
  skipped: Skipped[];
}

export async function askEach<T>(
  agents: AgentDirectory,
  ask: (a: StorageAgent) => Promise<T>,
  among: readonly StorageAgent[] = agents.all(),
): Promise<FanOut<T>> {
  const out: FanOut<T> = { answers: [], skipped: [] };
  const settled = await Promise.allSettled(
    among.map(async (agent) => {
      const why = agents.unavailable(agent);
      if (why !== undefined) return { agent, skipped: why };
      try {
        return { agent, value: await ask(agent) };
      } catch (e) {
        if (e instanceof Unavailable) return { agent, skipped: e.message };
        throw e;
      }
    }),
  );
  for (const s of settled) {
    if (s.status === 'rejected') throw s.reason;
    const r = s.value;
    if ('skipped' in r) out.skipped.push({ agent: r.agent, reason: r.skipped as string });
    else out.answers.push({ agent: r.agent, value: r.value });
  }
  // the order of the directory, not of the answers' arrival
  const order = new Map(among.map((a, i) => [a, i]));
  out.answers.sort((a, b) => (order.get(a.agent) ?? 0) - (order.get(b.agent) ?? 0));
  return out;
}

/** "node-a (reason); node-b (reason)" for logs and errors. */
export function describeSkipped(skipped: readonly Skipped[]): string {
  return skipped.map((s) => `${s.agent.nodeName} (${s.reason})`).join('; ');
}
