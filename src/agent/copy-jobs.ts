/**
 * Filling new volumes in background jobs (jobs.ts) that outlive the RPC:
 * copies from a snapshot or from a temporary snapshot of a source volume,
 * the growth of a thin clone, zeroing a new thick volume on a VG with
 * unzeroed free extents; then the completion mark. A failure removes the
 * partial volume and is reported once to the next CreateVolume.
 */
import { Busy, DomainError, NotFound } from '../errors.js';
import { temporaryLvName } from '../lvm/names.js';
import type { Lv } from '../lvm/report.js';
import { tagChanges } from '../lvm/tags.js';
import { copyBlocks, zeroBlocks } from './blockcopy.js';
import { blockOptions, jobKey, lvDevice, settle, type AgentContext } from './context.js';
import { parseId } from './ids.js';
import type { JobContext } from './jobs.js';
import type { Pools } from './pool.js';
import type { Reads } from './reads.js';
import { tagsFor, tagValues, toVolume } from './records.js';
import type { VolumeInfo } from './types.js';

export class CopyJobs {
  constructor(
    private readonly c: AgentContext,
    private readonly pools: Pools,
    private readonly reads: Reads,
  ) {}

  /** A failed job's cause, reported once to the CO (the failed volume is gone by then; a retry starts over). */
  throwIfFailedBefore(key: string, name: string): void {
    const failure = this.c.jobs.takeFailure(key);
    if (failure)
      throw new DomainError(
        'Internal',
        `filling volume ${name} failed: ${failure}; the partial volume was removed and the next attempt starts over`,
      );
  }

  /** Starts (or joins) the job that completes a volume still without its completion mark; waits a little. */
  async resume(v: VolumeInfo): Promise<VolumeInfo> {
    const key = jobKey(v.vg, v.lv);
    this.start(v.vg, v.lv);
    if (!(await settle(this.c, key))) throw new Busy(`volume ${v.name} is being filled: ${this.c.jobs.describe(key)}`);
    this.throwIfFailedBefore(key, v.name);
    const now = await this.reads.getVolume(v.vg, v.lv);
    if (!now) throw new NotFound(`volume ${v.name} was cleaned up because its source is gone`);
    if (now.state !== 'ready')
      throw new Busy(`volume ${v.name} is being filled from its source: ${this.c.jobs.describe(key) || 'resuming'}`);
    return now;
  }

  /** Starts (or joins) the job that completes vg/lv. */
  start(vg: string, lv: string): void {
    this.c.jobs.start(jobKey(vg, lv), 'copy', (ctx) => this.complete(vg, lv, ctx));
  }

  /**
   * Completes a volume without its completion mark: thin clones are grown
   * to the requested size; copies are (re)done from the source or from a
   * temporary snapshot of the source volume; a new thick volume on a VG with
   * unzeroed free extents is zeroed. Then the completion mark is set. A volume
   * whose source is gone is removed (zeroed first). When the work fails, the
   * partial volume is removed (zeroed first) and the job fails with the cause,
   * which the next CreateVolume reports; a shutdown leaves it to be resumed.
   */
  private async complete(vg: string, lv: string, ctx: JobContext): Promise<void> {
    const { lvm, log } = this.c;
    const target = await lvm.getLv(vg, lv);
    if (!target) return;
    try {
      if (!(await this.fill(target, ctx))) return;
    } catch (e) {
      if (ctx.signal.aborted) throw e;
      log.warn(
        { vg, lv, err: e instanceof Error ? e.message : String(e) },
        'filling a volume failed; removing the partial volume',
      );
      await this.discard(target, ctx.signal).catch((d: unknown) =>
        log.error({ vg, lv, err: String(d) }, 'removing the partial volume failed'),
      );
      throw e;
    }
    await lvm.changeTags(vg, lv, tagChanges(target.tags, { ready: '1' }));
  }

  /** The work behind complete(); false when the volume was removed because its source is gone. */
  private async fill(target: Lv, ctx: JobContext): Promise<boolean> {
    const { lvm, runner, nodeId, log } = this.c;
    const { vg, name: lv } = target;
    const { signal } = ctx;
    const t = tagValues(target);
    if (t['fill'] === 'zero') {
      await zeroBlocks(runner, await lvDevice(this.c, target, signal), 0, target.sizeBytes, blockOptions(this.c, ctx));
      return true;
    }
    const pool = this.pools.of(target);
    if (await pool.completeInPlace(target, Number(t['size']) || target.sizeBytes, signal)) return true;
    const sourceId = (t['source'] ?? '').slice((t['source'] ?? '').indexOf(':') + 1);
    const ref = parseId(sourceId);
    const src = ref && ref.node === nodeId ? await lvm.getLv(ref.vg, ref.lv) : undefined;
    if (!ref || !src) {
      log.warn({ vg, lv, source: sourceId }, 'source of an unfinished copy is gone; removing the partial volume');
      await this.discard(target, signal);
      return false;
    }
    const isVolume = t['source']?.startsWith('volume:') ?? false;
    const from = isVolume ? await this.temporarySnapshot(src, lv, signal) : src;
    // The size of the data: the source's size when the temporary snapshot was taken, or the
    // origin's size when the CSI snapshot was (csi.size of snapshots), never a volume's creation size.
    const bytes = Math.min(Number(tagValues(from)['size']) || from.originSizeBytes || from.sizeBytes, target.sizeBytes);
    const sparse = pool.sparseCopies;
    const fromDevice = await lvDevice(this.c, from, signal);
    const toDevice = await lvDevice(this.c, target, signal);
    await copyBlocks(runner, fromDevice, toDevice, bytes, sparse, blockOptions(this.c, ctx));
    // A thick LV's extents may hold a former volume's data past the copied part.
    if (!sparse && target.sizeBytes > bytes)
      await zeroBlocks(runner, toDevice, bytes, target.sizeBytes - bytes, { signal });
    if (from !== src) await this.pools.of(from).release(from, this.zeroesOnRelease(src), signal);
    return true;
  }

  /** Whether an LV's extents are zeroed before they go back, by its pool and class (unknown LV: no). */
  zeroesOnRelease(l: Lv | undefined): boolean {
    if (!l) return false;
    return this.pools.of(l).zeroesOnRemove(toVolume(this.c.nodeId, l, [])?.params);
  }

  /** Removes a partial volume and its temporary snapshot, zeroing what its class wants zeroed (inside its job). */
  private async discard(target: Lv, signal?: AbortSignal): Promise<void> {
    const { lvm } = this.c;
    const zero = this.zeroesOnRelease(target);
    if (zero && tagValues(target)['state'] !== 'deleting') {
      // a crash from here on resumes as a zero-and-delete
      await lvm.changeTags(target.vg, target.name, tagChanges(target.tags, { state: 'deleting' }));
    }
    const tmp = await lvm.getLv(target.vg, temporaryLvName(target.name));
    if (tmp) {
      const origin = tmp.origin ? await lvm.getLv(tmp.vg, tmp.origin) : undefined;
      await this.pools.of(tmp).release(tmp, this.zeroesOnRelease(origin), signal);
    }
    await this.pools.of(target).release(target, zero, signal);
  }

  /** A snapshot of a source volume to copy from, so the copy is consistent while the source stays in use. */
  private async temporarySnapshot(src: Lv, forLv: string, signal: AbortSignal): Promise<Lv> {
    const { lvm } = this.c;
    const name = temporaryLvName(forLv);
    const have = await lvm.getLv(src.vg, name);
    if (have && have.origin === src.name) return have;
    // A leftover already split off for zeroing (a crash during release()) is no snapshot any more: finish it.
    if (have) await this.pools.of(have).release(have, this.zeroesOnRelease(src), signal);
    const tags = tagsFor({
      kind: 'temporary',
      for: forLv,
      created: new Date().toISOString(),
      size: String(src.sizeBytes),
    });
    await this.pools.of(src).temporarySnapshot(src, name, tags, signal);
    const made = await lvm.getLv(src.vg, name);
    if (!made) throw new Error(`temporary snapshot ${src.vg}/${name} vanished`);
    return made;
  }
}
