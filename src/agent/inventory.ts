/**
 * The storage agent's capacity/inventory cache behind the metrics gauges
 * (volume group and thin pool sizes, volumes and snapshots per VG, exported
 * targets and iSCSI sessions).
 *
 * A timer refresh (--stats-interval) is ONE `vgs` and ONE `lvs` (every VG at
 * once, filtered here to the agent's VGs; it also renews the agent's
 * in-memory copy of its VGs, see src/lvm/cached-lvm.ts) plus one read of the
 * target's live state (configfs for LIO, one `tgtadm --op show` for tgt),
 * however many volumes exist. After a change (the agent calls in
 * MUTATING_CALLS and finished background jobs call changed()) the gauges are
 * computed again from that in-memory copy, which the change kept current: no
 * LVM command; a burst of changes within the debounce window costs one
 * recount. A scrape only reads current(): it never runs a command.
 */
import type { Logger } from '../log.js';
import type { CachedLvm } from '../lvm/cached-lvm.js';
import type { Lv, Vg } from '../lvm/report.js';
import type { InventoryReading, InventorySource, RefreshObserver } from '../metrics.js';
import type { TargetState } from '../iscsi-target/types.js';
import { tagValues, toSnapshot, toVolume } from './records.js';
import type { StorageAgent } from './types.js';

export interface InventoryOptions {
  lvm: CachedLvm;
  log: Logger;
  volumeGroups: readonly string[];
  /** Short node id (volume ids); only used to classify LVs. */
  nodeId: string;
  /** Live targets (LIO configfs / tgtadm); omitted = no target gauges. */
  listTargets?: () => Promise<readonly TargetState[]>;
  /** Targets counted are those under this prefix (`<prefix>:`). */
  iqnPrefix: string;
  /** Timer between refreshes; 0 = only at start and after changes. */
  intervalMs: number;
  /** How long after the first change of a burst the refresh runs. Default 1000 ms. */
  debounceMs?: number;
  observer?: RefreshObserver;
}

/** The agent calls after which the gauges are refreshed. */
export const MUTATING_CALLS = [
  'createVolume',
  'deleteVolume',
  'expandVolume',
  'createSnapshot',
  'deleteSnapshot',
  'publish',
  'unpublish',
] as const satisfies readonly (keyof StorageAgent)[];

export class Inventory implements InventorySource {
  private reading: InventoryReading | undefined;
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private pending: Promise<void> | undefined;
  /** The follow-up refresh reads LVM (a timer or explicit refresh asked while one ran). */
  private pendingFull = false;
  private stopped = false;

  constructor(private readonly o: InventoryOptions) {}

  current(): InventoryReading | undefined {
    return this.reading;
  }

  /**
   * Starts the timer (the first refresh is the caller's: await refresh()). A
   * tick while a refresh runs is skipped: on a slow host the timer never
   * queues refreshes back to back.
   */
  start(): void {
    if (this.o.intervalMs > 0 && !this.timer && !this.stopped) {
      this.timer = setInterval(() => {
        if (!this.running) void this.refresh(true);
      }, this.o.intervalMs);
      this.timer.unref();
    }
  }

  /** Something changed: refresh once the burst is over (changes in the window share one refresh). */
  changed(): void {
    if (this.stopped || this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      void this.refresh(false);
    }, this.o.debounceMs ?? 1000);
    this.debounce.unref();
  }

  /**
   * Reads everything now (`fromLvm` false: recounts the in-memory copy when
   * it holds every VG). One at a time: a call while a refresh runs gets a
   * single follow-up refresh (shared by every such call), so what it waits
   * for reflects changes made before it was called. Never rejects.
   */
  refresh(fromLvm = true): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.pendingFull ||= fromLvm;
      this.pending ??= this.running.then(() => {
        const full = this.pendingFull;
        this.pending = undefined;
        this.pendingFull = false;
        return this.refresh(full);
      });
      return this.pending;
    }
    this.running = this.read(fromLvm).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.debounce);
    this.timer = this.debounce = undefined;
    await this.running;
  }

  /** The agent's VGs as the in-memory copy holds them, or undefined when one was never read. */
  private inMemory(): { vgs: Vg[]; lvs: Lv[] } | undefined {
    const vgs: Vg[] = [];
    const lvs: Lv[] = [];
    for (const name of this.o.volumeGroups) {
      const k = this.o.lvm.known(name);
      if (!k) return undefined;
      vgs.push(k.vg);
      lvs.push(...k.lvs);
    }
    return { vgs, lvs };
  }

  private async read(fromLvm: boolean): Promise<void> {
    const started = performance.now();
    let ok = true;
    try {
      const { vgs, lvs } = (fromLvm ? undefined : this.inMemory()) ?? (await this.o.lvm.reloadAll(this.o.volumeGroups));
      let targets: number | undefined;
      let sessions: number | undefined;
      if (this.o.listTargets) {
        try {
          const ours = (await this.o.listTargets()).filter((t) => t.iqn.startsWith(`${this.o.iqnPrefix}:`));
          targets = ours.length;
          sessions = ours.reduce((n, t) => n + t.initiators.reduce((m, i) => m + i.sessions, 0), 0);
        } catch (e) {
          ok = false;
          this.o.log.warn(
            { err: e instanceof Error ? e.message : String(e) },
            'inventory: reading the iSCSI targets failed',
          );
        }
      }
      const reading: InventoryReading = {
        at: Date.now(),
        vgs: vgs.map((v) => {
          let volumes = 0;
          let snapshots = 0;
          for (const l of lvs) {
            if (l.vg !== v.name) continue;
            // toVolume with no siblings: no snapshot counting, so a refresh stays linear in the number of LVs.
            const vol = toVolume(this.o.nodeId, l, []);
            if (vol && vol.state !== 'deleting') volumes++;
            else if (tagValues(l)['state'] !== 'deleting' && toSnapshot(this.o.nodeId, l)) snapshots++;
          }
          return { vg: v.name, sizeBytes: v.sizeBytes, freeBytes: v.freeBytes, volumes, snapshots };
        }),
        thinPools: lvs
          .filter((l) => l.attr.volumeType === 'thin-pool')
          .map((p) => ({
            vg: p.vg,
            pool: p.name,
            sizeBytes: p.sizeBytes,
            dataPercent: p.dataPercent ?? 0,
            metadataPercent: p.metadataPercent ?? 0,
            provisionedBytes: lvs
              .filter((l) => l.vg === p.vg && l.pool === p.name)
              .reduce((n, l) => n + l.sizeBytes, 0),
          })),
        targets,
        sessions,
      };
      this.reading = reading;
    } catch (e) {
      ok = false;
      this.o.log.warn(
        { err: e instanceof Error ? e.message : String(e) },
        'inventory: refresh failed; the capacity gauges keep their last values',
      );
    }
    this.o.observer?.onRefresh({ ok, durationMs: performance.now() - started });
  }
}

/**
 * The agent, with `changed()` called after every call in MUTATING_CALLS
 * (whether it succeeded or not: a failed call may have changed something
 * too). Everything else passes through untouched.
 */
export function notifyOnChange<A extends StorageAgent>(agent: A, changed: () => void): A {
  const names = new Set<PropertyKey>(MUTATING_CALLS);
  return new Proxy(agent, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (!names.has(prop) || typeof value !== 'function') return value;
      return (...args: unknown[]) =>
        (value as (...a: unknown[]) => Promise<unknown>).apply(target, args).finally(changed);
    },
  });
}
