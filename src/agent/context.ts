/**
 * What every part of the in-process agent (service.ts) shares: its options,
 * LVM, the runner, the background jobs, the export side, the logger, and the
 * small helpers that go with them.
 */
import { DomainError } from '../errors.js';
import type { CommandRunner } from '../exec/runner.js';
import type { Logger } from '../log.js';
import type { Lvm } from '../lvm/lvm.js';
import type { Lv } from '../lvm/report.js';
import type { CapacityLimits } from './capacity.js';
import type { Exports } from './exports.js';
import type { JobContext, Jobs } from './jobs.js';
import { lvBlockDevice, sysDeviceProbe, type DeviceProbe } from './lv-device.js';

export interface AgentOptions extends CapacityLimits {
  nodeName: string;
  volumeGroups: readonly string[];
  thinPool: string | undefined;
  /** Size of a thin pool the agent creates, in percent of its VG (the rest stays for thick volumes). */
  thinPoolPercentOfVg: number;
  /** How long an RPC waits for a background job before answering ABORTED. */
  jobWaitMs: number;
  /** dd chunk size for copies and zeroing. */
  copyChunkBytes?: number;
  /** How LV device paths are proven before a job writes to them (tests may replace it). */
  deviceProbe?: DeviceProbe;
}

export interface AgentContext {
  readonly lvm: Lvm;
  readonly runner: CommandRunner;
  readonly jobs: Jobs;
  readonly exports: Exports;
  readonly log: Logger;
  readonly o: AgentOptions;
  /** The short node id in volume and snapshot ids. */
  readonly nodeId: string;
}

/**
 * How old a thin pool's data/metadata use may be when thin CreateVolume,
 * CreateSnapshot and expansion check the pool threshold, GetCapacity answers
 * and the volume condition reports it (one `lvs` of the pool when older; the
 * timer refresh renews it too). Writes move it without any metadata commit.
 * The threshold is an admission limit on new thin volumes, like the
 * external-provisioner's periodically published capacity; the pool's
 * --errorwhenfull is the hard limit.
 */
export const POOL_USE_MAX_AGE_MS = 30_000;

/** The jobs' key of an LV. */
export const jobKey = (vg: string, lv: string): string => `${vg}/${lv}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits up to jobWaitMs for the job on key; true when none runs any more. */
export async function settle(c: AgentContext, key: string): Promise<boolean> {
  if (!c.jobs.get(key)) return true;
  await Promise.race([c.jobs.wait(key), sleep(c.o.jobWaitMs)]);
  return !c.jobs.get(key);
}

export function throwIfJobFailed(c: AgentContext, key: string): void {
  const failure = c.jobs.lastFailure(key);
  if (failure)
    throw new DomainError(
      'Internal',
      `background work on ${key} failed: ${failure}; it is retried at the next attempt`,
    );
}

/** The LV's own block device, activated and proven (lv-device.ts) right before a job writes to or reads from it. */
export function lvDevice(c: AgentContext, lv: Lv, signal?: AbortSignal): Promise<string> {
  return lvBlockDevice(c.lvm, c.o.deviceProbe ?? sysDeviceProbe, lv, 'data', signal ? { signal } : {});
}

export function blockOptions(c: AgentContext, ctx: { signal: AbortSignal; setProgress?: JobContext['setProgress'] }) {
  return {
    signal: ctx.signal,
    ...(ctx.setProgress ? { onProgress: ctx.setProgress } : {}), // Jobs logs it (every 10%, at least every 30 s)
    ...(c.o.copyChunkBytes ? { chunkBytes: c.o.copyChunkBytes } : {}),
  };
}
