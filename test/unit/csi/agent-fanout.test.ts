import { describe, expect, it } from 'vitest';
import { Backoff } from '../../../src/backoff.js';
import { askEach } from '../../../src/csi/agent-fanout.js';
import type { AgentDirectory } from '../../../src/agent/types.js';
import { CreateAttempts } from '../../../src/csi/create-attempts.js';
import { InvalidArgument, Unavailable } from '../../../src/errors.js';
import { MemoryAgent } from '../../helpers/memory-agent.js';

function directory(agents: MemoryAgent[], down: Record<string, string> = {}): AgentDirectory {
  return {
    all: () => agents,
    byNodeId: (id) => agents.find((a) => a.nodeId === id),
    unavailable: (a) => down[a.nodeName],
  };
}

describe('askEach', () => {
  it('does not call an agent marked unavailable, skips one that answers UNAVAILABLE, keeps the directory order', async () => {
    const [a, b, c] = [new MemoryAgent('a'), new MemoryAgent('b'), new MemoryAgent('c')];
    const r = await askEach(directory([a, b, c], { a: 'unreachable since t0' }), async (x) => {
      if (x === b) throw new Unavailable('connect ECONNREFUSED');
      return x.nodeName;
    });
    expect(r.answers).toEqual([{ agent: c, value: 'c' }]);
    expect(r.skipped.map((s) => [s.agent.nodeName, s.reason])).toEqual([
      ['a', 'unreachable since t0'],
      ['b', 'connect ECONNREFUSED'],
    ]);
  });

  it('any other error is the answer', async () => {
    const [a, b] = [new MemoryAgent('a'), new MemoryAgent('b')];
    await expect(
      askEach(directory([a, b]), async (x) => {
        if (x === b) throw new InvalidArgument('parameters.volumeGroup', 'no such volume group');
        return 1;
      }),
    ).rejects.toBeInstanceOf(InvalidArgument);
  });
});

describe('CreateAttempts', () => {
  it('remembers where a name went, forgets on request, and keeps at most max names (oldest out first)', () => {
    const t = new CreateAttempts(2);
    t.note('x', 'n1');
    t.note('y', 'n2');
    expect(t.where('x')).toBe('n1');
    t.note('z', 'n1');
    expect(t.where('x')).toBeUndefined();
    expect(t.where('y')).toBe('n2');
    t.forget('y');
    expect(t.where('y')).toBeUndefined();
  });
});

describe('Backoff', () => {
  it('doubles from initialMs up to maxMs and starts over after reset', () => {
    const b = new Backoff({ initialMs: 1000, maxMs: 5000 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([1000, 2000, 4000, 5000, 5000]);
    expect(b.failures).toBe(5);
    b.reset();
    expect(b.next()).toBe(1000);
  });
});
