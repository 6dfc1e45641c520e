/** The in-process agent over the stateful fake LVM (test/doubles/fake-lvm.ts), for the agent's unit tests. */
import { Exports } from '../../../src/agent/exports.js';
import { Jobs } from '../../../src/agent/jobs.js';
import { parseVolumeParams, type VolumeParams } from '../../../src/agent/params.js';
import { LocalAgent } from '../../../src/agent/service.js';
import type { CreateVolumeArgs, SourceRef } from '../../../src/agent/types.js';
import { createLogger } from '../../../src/log.js';
import { FakeLvm } from '../../doubles/fake-lvm.js';
import { MemoryTarget } from '../../doubles/memory-target.js';

export const MiB = 1024 * 1024;

export function agentSetup(o: { thinPool?: boolean } = {}) {
  const thin = o.thinPool ?? true;
  const fake = new FakeLvm().addVg('vg', 1024 * MiB, thin ? { name: 'pool', sizeBytes: 512 * MiB } : undefined);
  const log = createLogger('fatal');
  const jobs = new Jobs(log);
  const target = new MemoryTarget();
  const exports = new Exports(fake.lvm, target, log, {
    nodeId: 'n1',
    nodeName: 'storage-1',
    iqnPrefix: 'iqn.2024-01.org.example.csi',
    portals: [{ address: '127.0.0.1', port: 3260 }],
    deviceProbe: fake.probe,
  });
  const agent = new LocalAgent(fake.lvm, fake.runner, jobs, exports, log, {
    nodeName: 'storage-1',
    volumeGroups: ['vg'],
    thinPool: thin ? 'pool' : undefined,
    thinPoolPercentOfVg: 50,
    jobWaitMs: 60_000,
    deviceProbe: fake.probe,
    reservedPercent: 0,
    overSubscriptionRatio: 1,
    thinPoolThresholdPercent: 90,
  });
  return { fake, agent, jobs, target };
}

export function volumeParams(p: Record<string, string> = {}): VolumeParams {
  return parseVolumeParams(p, { volumeGroups: ['vg'], thinPoolConfigured: () => true });
}

export function createArgs(
  name: string,
  bytes: number,
  p: Record<string, string> = {},
  source?: SourceRef,
): CreateVolumeArgs {
  return { name, range: { required: bytes, limit: 0 }, defaultBytes: bytes, params: volumeParams(p), source };
}

/** The dd runs as "zero|copy <of=device> <count>", enough to tell what was written where. */
export function ddSummary(dd: string[][]): string[] {
  return dd.map((a) => {
    const get = (k: string) => a.find((x) => x.startsWith(`${k}=`))?.slice(k.length + 1);
    return `${get('if') === '/dev/zero' ? 'zero' : `copy ${get('if')} ->`} ${get('of')} seek=${get('seek')} count=${get('count')}`;
  });
}
