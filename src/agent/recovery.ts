/**
 * Start-up: Cinder's check_for_setup_error plus recovery. Every configured VG
 * must exist; a configured thin pool that is missing is created; work a crash
 * interrupted is resumed (copies, zeroing) or cleaned up (temporary LVs,
 * hidden origins without snapshots).
 */
import { Busy, FailedPrecondition } from '../errors.js';
import { jobKey, type AgentContext } from './context.js';
import type { CopyJobs } from './copy-jobs.js';
import type { Reads } from './reads.js';
import { tagValues, toVolume } from './records.js';
import type { Removal } from './removal.js';

export class Recovery {
  constructor(
    private readonly c: AgentContext,
    private readonly reads: Reads,
    private readonly copies: CopyJobs,
    private readonly removal: Removal,
  ) {}

  async checkVolumeGroups(): Promise<void> {
    const { lvm, o } = this.c;
    for (const vg of o.volumeGroups) {
      const v = await lvm.getVg(vg);
      if (!v)
        throw new FailedPrecondition(
          `volume group ${vg} does not exist on ${o.nodeName}; create it or fix --volume-group`,
        );
      if (o.thinPool) await this.ensureThinPool(vg, o.thinPool);
    }
  }

  private async ensureThinPool(vg: string, pool: string): Promise<void> {
    const { lvm, log, o } = this.c;
    const l = await lvm.getLv(vg, pool);
    if (!l) {
      log.info({ vg, pool, percent: o.thinPoolPercentOfVg }, 'creating thin pool');
      await lvm.createThinPool(vg, pool, { percentOfVg: o.thinPoolPercentOfVg }, { zero: true, errorWhenFull: true });
      return;
    }
    if (l.attr.volumeType !== 'thin-pool') throw new FailedPrecondition(`${vg}/${pool} exists but is not a thin pool`);
    if (l.zero !== true) {
      log.warn(
        { vg, pool },
        'adopted thin pool does not zero new blocks: a new thin volume may read data a deleted one wrote (lvchange --zero y fixes it)',
      );
    }
    if (l.whenFull !== 'error')
      log.warn(
        { vg, pool },
        'adopted thin pool queues writes when full instead of failing them (lvchange --errorwhenfull y fixes it)',
      );
  }

  async recover(): Promise<void> {
    const { log, jobs, nodeId } = this.c;
    const busyOk = (vg: string, lv: string) => (e: unknown) => {
      if (!(e instanceof Busy)) log.error({ vg, lv, err: String(e) }, 'resume failed');
    };
    for (const vg of this.c.o.volumeGroups) {
      const all = await this.reads.lvs(vg);
      for (const l of all) {
        const t = tagValues(l);
        if (t['kind'] === 'temporary' && t['state'] !== 'deleting') {
          const owner = all.find((x) => x.name === t['for']);
          if (!owner || tagValues(owner)['ready'] === '1') {
            log.info({ vg, lv: l.name }, 'removing a temporary snapshot left behind');
            const origin = all.find((x) => x.name === l.origin);
            await this.removal.remove(l, this.copies.zeroesOnRelease(origin), undefined).catch(busyOk(vg, l.name));
          }
        }
      }
      for (const l of all) {
        const t = tagValues(l);
        if (t['state'] === 'deleting') {
          log.info({ vg, lv: l.name }, 'resuming an interrupted zero-and-delete');
          await this.removal.remove(l, true, undefined).catch(busyOk(vg, l.name));
        } else if (t['kind'] === 'volume' && t['ready'] !== '1' && !jobs.get(jobKey(vg, l.name))) {
          log.info({ vg, lv: l.name }, 'resuming an interrupted copy');
          this.copies.start(vg, l.name);
        } else if (t['kind'] === 'volume' && t['state'] === 'hidden') {
          // a hidden origin whose last snapshot went while the agent was down (e.g. during its zeroing)
          const v = toVolume(nodeId, l, all);
          if (v && v.snapshotCount === 0) {
            log.info({ vg, lv: l.name }, 'removing a hidden origin without snapshots');
            await this.removal.removeVolume(l, v).catch(busyOk(vg, l.name));
          }
        }
      }
    }
  }
}
