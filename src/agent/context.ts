/**
 * What every part of the in-process agent (service.ts) shares: its options,
 * LVM, the runner, the background jobs, the export side, the logger, and the
 * small helpers that go with them.
 */
import { DomainError, FailedPrecondition } from '../errors.js';
import type { CommandRunner } from '../exec/runner.js';
import type { Logger } from '../log.js';
import type { CallOptions, Lvm } from '../lvm/lvm.js';
import type { Lv } from '../lvm/report.js';
import type { CapacityLimits } from './capacity.js';
import type { Exports } from './exports.js';
import type { JobContext, Jobs } from './jobs.js';
import { formatId } from './ids.js';
import { lvBlockDevice, sysDeviceProbe, type DeviceProbe } from './lv-device.js';
import { tagValues } from './records.js';

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

/**
 * Runs `work` on the LV's own block device, proven like lvDevice() and closed
 * (LVM's open flag, read now), while the agent holds it with O_EXCL: what a
 * wipe writes to. Throws, writing nothing, when the LV is open.
 */
export async function withClosedDevice<T>(
  c: AgentContext,
  lv: Lv,
  signal: AbortSignal | undefined,
  work: (path: string) => Promise<T>,
): Promise<T> {
  const probe = c.o.deviceProbe ?? sysDeviceProbe;
  const path = await lvBlockDevice(c.lvm, probe, lv, 'data', { ...(signal ? { signal } : {}), closed: true });
  const held = await probe.claim?.(path);
  try {
    return await work(path);
  } finally {
    await held?.release();
  }
}

/** What a delete answers for an LV whose device something on the storage node holds open. */
export function openOnNode(c: AgentContext, l: Lv, cause?: unknown): FailedPrecondition {
  const what = tagValues(l)['kind'] === 'snapshot' ? 'snapshot' : 'volume';
  return new FailedPrecondition(
    `${what} ${formatId({ node: c.nodeId, vg: l.vg, lv: l.name })} is open on the storage node ${c.o.nodeName} (mounted there, held by a process or by another device); release it before deleting it`,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Refuses (openOnNode) when LVM's open flag, read now, says the LV's own
 * device is open, or cannot tell. One lvs: for the paths that change
 * something before lvremove would refuse an open LV itself.
 */
export async function assertClosed(c: AgentContext, l: Lv, o?: CallOptions): Promise<void> {
  const now = await c.lvm.getLv(l.vg, l.name, { ...o, maxAgeMs: 0 });
  if (now && now.attr.open !== false) throw openOnNode(c, now);
}

export function blockOptions(c: AgentContext, ctx: { signal: AbortSignal; setProgress?: JobContext['setProgress'] }) {
  return {
    signal: ctx.signal,
    ...(ctx.setProgress ? { onProgress: ctx.setProgress } : {}), // Jobs logs it (every 10%, at least every 30 s)
    ...(c.o.copyChunkBytes ? { chunkBytes: c.o.copyChunkBytes } : {}),
  };
}
