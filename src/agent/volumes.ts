/**
 * The volume lifecycle: CreateVolume (idempotent by name, from nothing, a
 * snapshot or a volume), DeleteVolume and expansion. Thin and thick
 * differences are the pools' (pool.ts); filling is the copy jobs'.
 */
import {
  AlreadyExists,
  Busy,
  FailedPrecondition,
  InvalidArgument,
  NotFound,
  OutOfCapacity,
  OutOfRange,
} from '../errors.js';
import { volumeLvName } from '../lvm/names.js';
import { tagChanges } from '../lvm/tags.js';
import { noRoomReason } from './capacity.js';
import { assertClosed, jobKey, settle, type AgentContext } from './context.js';
import type { CopyJobs } from './copy-jobs.js';
import { formatId, parseId } from './ids.js';
import { sameVolumeParams } from './params.js';
import type { Pools } from './pool.js';
import type { Reads } from './reads.js';
import { encodeSource, tagsFor, tagValues, toVolume, type TagFields } from './records.js';
import type { Removal } from './removal.js';
import { checkAgainstSource, chooseSize, sameSource, sizeFits, type SizeRange } from './sizing.js';
import type { CallOptions, CreateVolumeArgs, VolumeInfo } from './types.js';

export class Volumes {
  constructor(
    private readonly c: AgentContext,
    private readonly pools: Pools,
    private readonly reads: Reads,
    private readonly copies: CopyJobs,
    private readonly removal: Removal,
  ) {}

  async create(args: CreateVolumeArgs, o?: CallOptions): Promise<VolumeInfo> {
    const { params, range } = args;
    const vg = params.volumeGroup;
    if (!this.c.o.volumeGroups.includes(vg))
      throw new InvalidArgument(
        'parameters.volumeGroup',
        `volume group ${vg} is not served by storage node ${this.c.o.nodeName}`,
      );
    const lv = volumeLvName(args.name);
    const existing = await this.reads.findVolumeByName(args.name, o);
    if (existing) {
      if (existing.state === 'deleting')
        throw new Busy(`volume ${existing.id} is not ready yet (deleting); retry later`);
      if (!sizeFits(existing.sizeBytes, range))
        throw new AlreadyExists(
          `volume ${args.name} exists with ${existing.sizeBytes} bytes, outside the requested capacity_range`,
        );
      if (!sameVolumeParams(existing.params, params))
        throw new AlreadyExists(`volume ${args.name} exists with other parameters`);
      if (!sameSource(existing.source, args.source))
        throw new AlreadyExists(`volume ${args.name} exists with another content source`);
      // still being filled: only this agent knows how its job goes (progress, the cause of a failure, a source that is gone)
      return existing.state === 'copying' ? this.copies.resume(existing) : existing;
    }
    const key = jobKey(vg, lv);
    if (!this.c.jobs.get(key)) this.copies.throwIfFailedBefore(key, args.name);
    const sourceBytes = args.source ? await this.reads.sourceBytes(args.source, o) : 0;
    if (args.source) checkAgainstSource(range, sourceBytes);
    const status = await this.reads.poolStatus(vg, o, params.lvmType === 'thin');
    const sizeBytes = chooseSize(range, args.defaultBytes, status.extentBytes, sourceBytes);
    const why = noRoomReason(
      status,
      { vg, lvmType: params.lvmType, mirrors: params.mirrors, stripes: params.stripes },
      sizeBytes,
      this.c.o,
    );
    if (why) throw new OutOfCapacity(why);

    const pool = this.pools.kind(params.lvmType);
    const source = args.source ? parseId(args.source.id) : undefined;
    const tags: TagFields = {
      name: args.name,
      kind: 'volume',
      params: JSON.stringify(params),
      created: new Date().toISOString(),
      source: encodeSource(args.source),
      size: String(sizeBytes),
    };
    if (!args.source || !source) {
      // a volume that must be zeroed before use is created without its completion mark and filled by a job
      const fill = await pool.zeroesNewVolume(vg, params, o);
      await pool.create(
        vg,
        lv,
        sizeBytes,
        tagsFor(fill ? { ...tags, fill: 'zero' } : { ...tags, ready: '1' }),
        params,
        o,
      );
    } else if (!(await pool.cloneInPlace(vg, source, lv, sizeBytes, tags, o))) {
      await pool.create(vg, lv, sizeBytes, tagsFor(tags), params, o);
    }
    const created = await this.reads.getVolume(vg, lv, o);
    if (!created) throw new NotFound(`volume ${args.name} vanished right after creation`);
    return created.state === 'copying' ? this.copies.resume(created) : created;
  }

  async delete(vg: string, lv: string, o?: CallOptions): Promise<void> {
    if (!this.c.o.volumeGroups.includes(vg)) return;
    const { jobs, lvm, log } = this.c;
    // the target is looked up with the read, not after it: both are needed, and neither depends on the other
    const [all, exported] = await Promise.all([this.reads.lvs(vg, o), this.c.exports.isExported(vg, lv, o)]);
    const l = all.find((x) => x.name === lv);
    const v = l ? toVolume(this.c.nodeId, l, all) : undefined;
    if (!l || !v) return;
    if (v.published.length > 0) {
      throw new FailedPrecondition(
        `volume ${v.id} is still published to ${v.published.map((p) => p.nodeId).join(', ')}; unpublish it first`,
      );
    }
    if (exported) {
      throw new FailedPrecondition(`volume ${v.id} is still exported over iSCSI; unpublish it from every node first`);
    }
    const key = jobKey(vg, lv);
    if (jobs.get(key) && (await settle(this.c, key)) === false) throw new Busy(`volume ${v.id}: ${jobs.describe(key)}`);
    if (all.some((x) => x.origin === lv && tagValues(x)['kind'] === 'temporary')) {
      throw new Busy(`volume ${v.id} is the source of a copy in progress; retry later`);
    }
    if (v.snapshotCount > 0) {
      // lvremove would take the COW snapshots with it: hide the origin, remove it with its last snapshot.
      // An open origin is refused now, not hidden (its own device: the snapshots hold only the "-real" one below).
      await assertClosed(this.c, l, o);
      await lvm.changeTags(vg, lv, tagChanges(l.tags, { state: 'hidden' }), o);
      log.info({ vg, lv, snapshots: v.snapshotCount }, 'volume hidden until its snapshots are deleted');
      return;
    }
    await this.removal.removeVolume(l, v, o);
  }

  async expand(vg: string, lv: string, range: SizeRange, o?: CallOptions): Promise<VolumeInfo> {
    const v = await this.reads.getVolume(vg, lv, o);
    if (!v || v.state === 'deleting')
      throw new NotFound(`volume ${formatId({ node: this.c.nodeId, vg, lv })} does not exist`);
    if (v.state !== 'ready') throw new Busy(`volume ${v.id} is not ready yet (${v.state}); retry later`);
    if (range.required <= v.sizeBytes) {
      if (range.limit > 0 && v.sizeBytes > range.limit)
        throw new OutOfRange(`volume is already ${v.sizeBytes} bytes, above capacity_range.limit_bytes ${range.limit}`);
      return v;
    }
    const p = v.params;
    this.pools.kind(p.lvmType).checkExpand(v);
    const status = await this.reads.poolStatus(vg, o, p.lvmType === 'thin');
    const sizeBytes = chooseSize(range, range.required, status.extentBytes, 0);
    const why = noRoomReason(
      status,
      { vg, lvmType: p.lvmType, mirrors: p.mirrors, stripes: p.stripes },
      sizeBytes - v.sizeBytes,
      this.c.o,
    );
    if (why) throw new OutOfCapacity(why);
    // csi.size stays the creation size: copies take their length from the source LV (records.ts)
    await this.c.lvm.extend(vg, lv, sizeBytes, o);
    await this.c.exports.refreshSize(vg, lv, o);
    const after = await this.reads.getVolume(vg, lv, o);
    if (!after) throw new NotFound(`volume ${vg}/${lv} vanished during expansion`);
    return after;
  }
}
