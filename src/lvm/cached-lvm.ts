/**
 * The storage agent's view of its volume groups: Lvm with an in-memory copy
 * of each VG (its `vgs` row, its LVs, its PVs) so that a CSI call pays for
 * the one mutating command it stands for and not for the reads around it.
 *
 * - A VG is read with ONE `vgs` and ONE `lvs` (plus one `pvs` the first time
 *   and whenever its PV count changes), never LV by LV.
 * - Before a read is answered from memory, the VG's metadata stamp (the
 *   committed-text location in each PV's metadata-area header, see
 *   metadata-stamp.ts: two small block reads, no process) is compared with
 *   the one recorded when the copy was made. Any commit by anyone else
 *   (an operator's lvcreate, lvremove, vgextend, ...) changes it, and the VG
 *   is read again. When no stamp can be read, every read goes to LVM.
 * - This class's own changes keep the copy current: the results of thin and
 *   linear lvcreate, thin snapshots, thin lvextend, lvremove of thin and
 *   plain LVs, lvchange --addtag/--deltag and vgchange --addtag are known
 *   exactly and applied in memory, and the stamp is taken again right after
 *   the command (the caller is answered meanwhile; the next read waits for
 *   it). Changes whose result LVM decides (raid and striped allocation, thick
 *   extension, COW snapshots, splits, renames, activation, permission) mark
 *   the VG to be read again before its next use. A failed command marks it
 *   too (it may have changed something).
 * - An LV's active flag is taken from /dev/mapper at every read (activation
 *   commits no metadata). Other values that change without a commit (a thin
 *   pool's data and metadata use, open state, a COW snapshot's fill) are as
 *   old as the last read of that LV: callers that decide on them pass
 *   `maxAgeMs` (0 = read it now) and pay one `lvs` of that LV when it is older.
 *
 * The window it cannot see: an outside change committed between one of our
 * commands and the stamp taken right after it. The timer refresh
 * (reloadAll, one vgs + one lvs for every VG) bounds how long that can last.
 */
import { Lvm, type CallOptions, type CreateLinearOptions, type CreateThinSnapshotOptions } from './lvm.js';
import { deviceStamps, type StampReader } from './metadata-stamp.js';
import { parseLvAttr, type Lv, type Vg } from './report.js';
import type { LvmSettings } from './settings.js';
import type { LvmEnvironment } from './system-dir.js';
import { readdir, stat } from 'node:fs/promises';
import type { CommandRunner } from '../exec/runner.js';

export interface ReadOptions extends CallOptions {
  /** Dynamic values (pool use, active/open, snapshot fill) no older than this; 0 = read the LV now. */
  maxAgeMs?: number;
}

interface VgCopy {
  vg: Vg;
  /** Changed only through setLv/dropLv, which forget `listed`. */
  lvs: Map<string, Lv>;
  /**
   * The LVs as one frozen array, made at the first listing after a change and
   * handed to every listing until the next: callers memoize per array (the
   * agent's COW snapshot counts) and per LV object (its records).
   */
  listed?: readonly Lv[];
  /** When each LV was last read from LVM (ms; 0 = built in memory). */
  readAt: Map<string, number>;
  pvs: string[];
  /** The metadata stamp the copy matches; undefined = unknown (no stamp, or it moved during the read). */
  stamp: string | undefined;
  /**
   * The stamp being read right after a command of ours (the caller is not
   * held for it): a read of the copy waits for it before comparing.
   */
  settling?: Promise<void>;
}

export class CachedLvm extends Lvm {
  private readonly copies = new Map<string, VgCopy>();
  private readonly loading = new Map<string, Promise<VgCopy | undefined>>();
  /** Reads of one LV now, shared by concurrent callers; `over` is the LV's row in memory when the read began. */
  private readonly lvReads = new Map<string, { row: Promise<Lv | undefined>; over: Lv }>();
  private readonly stale = new Set<string>();
  /** Listings whose active flags matched this device list (the same Set while /dev/mapper is unchanged). */
  private readonly checked = new WeakMap<readonly Lv[], ReadonlySet<string>>();
  /** Our commands running per VG: while any runs, the stamp moves under us and is not compared. */
  private readonly inFlight = new Map<string, number>();

  constructor(
    runner: CommandRunner,
    settings: LvmSettings,
    private readonly stamps: StampReader = deviceStamps,
    private readonly now: () => number = Date.now,
    /**
     * The device-mapper devices that exist now (names as in /dev/mapper), or
     * undefined when unknown. Activation commits no metadata, so an LV's
     * active flag is taken from here at every read; without it the flag is as
     * old as the last read. A Set handed out is never changed afterwards: a
     * listing already checked against it is not checked again.
     */
    private readonly dmNames: () => Promise<ReadonlySet<string> | undefined> = async () => undefined,
    /** Where lvm commands get the settings from (see Lvm). */
    environment?: LvmEnvironment,
  ) {
    super(runner, settings, environment);
  }

  /**
   * LVs with `active` as device-mapper shows it now (thin pools keep LVM's
   * answer: their device has another name). A corrected LV replaces the one
   * in the copy, so later reads return the same object until the flag moves
   * again: the agent's records are memoized per LV object, and a new object
   * at every read made ListVolumes of 1,000 LVs activated by hand (vgchange
   * -ay, no commit) decode every LV again for each page.
   */
  private async withActivity(c: VgCopy, lvs: readonly Lv[]): Promise<readonly Lv[]> {
    const names = await this.dmNames();
    if (!names) return lvs;
    // the same listing against the same device list (kept while /dev/mapper is unchanged): nothing to correct again
    if (this.checked.get(lvs) === names) return lvs;
    let changed = false;
    const out = lvs.map((l) => {
      if (!l.dmPath || l.attr.volumeType === 'thin-pool') return l;
      const active = names.has(l.dmPath.slice(l.dmPath.lastIndexOf('/') + 1));
      if (active === l.active) return l;
      changed = true;
      const now = { ...l, active };
      if (c.lvs.get(l.name) === l) setLv(c, now);
      return now;
    });
    if (!changed) this.checked.set(lvs, names);
    return changed ? out : lvs;
  }

  // ------------------------------------------------------------------ reading

  /** The current copy of a VG, read from LVM when missing, marked stale or changed by someone else. */
  private async copy(vg: string, opts?: CallOptions): Promise<VgCopy | undefined> {
    for (;;) {
      const have = this.copies.get(vg);
      if (!have || this.stale.has(vg)) break;
      if ((this.inFlight.get(vg) ?? 0) > 0) return have;
      if (have.settling) {
        await have.settling; // the stamp after our last command, then look again (another may have started)
        continue;
      }
      if (have.stamp !== undefined && (await this.stamps(have.pvs)) === have.stamp) return have;
      break;
    }
    return this.load(vg, opts);
  }

  private load(vg: string, opts?: CallOptions): Promise<VgCopy | undefined> {
    let p = this.loading.get(vg);
    if (!p) {
      p = this.read(vg, opts).finally(() => this.loading.delete(vg));
      this.loading.set(vg, p);
    }
    return p;
  }

  private async read(vg: string, opts?: CallOptions): Promise<VgCopy | undefined> {
    this.stale.delete(vg);
    let pvs = this.copies.get(vg)?.pvs ?? (await super.listPvs(vg, opts)).map((p) => p.name);
    const before = await this.stamps(pvs);
    const row = await super.getVg(vg, opts);
    if (!row) {
      this.copies.delete(vg);
      return undefined;
    }
    const lvs = await super.listLvs(vg, opts);
    let moved = false;
    if (row.pvCount !== pvs.length) {
      pvs = (await super.listPvs(vg, opts)).map((p) => p.name);
      moved = true; // PVs came or went: the stamp taken before is not comparable
    }
    const after = await this.stamps(pvs);
    const at = this.now();
    const c: VgCopy = {
      vg: row,
      ...unchangedKept(this.copies.get(vg), lvs),
      readAt: new Map(lvs.map((l) => [l.name, at])),
      pvs,
      // a commit between the two stamps may or may not be in what was read: do not vouch for it
      stamp: moved || before !== after ? undefined : after,
    };
    this.copies.set(vg, c);
    return c;
  }

  /**
   * Reads every VG in `vgs` again with one `vgs` and one `lvs` (the timer
   * refresh), replacing the copies; returns what was read. A commit that
   * lands meanwhile, ours or someone else's, moves the stamp between the one
   * taken before the reads and the one after: that copy is not vouched for,
   * and its next use reads the VG again. (A stamp taken only after the reads
   * vouched for a row older than it: a VG tag added during the refresh was
   * lost from memory, and a thick volume that had to be zeroed was not.)
   */
  async reloadAll(vgs: readonly string[], opts?: CallOptions): Promise<{ vgs: Vg[]; lvs: Lv[] }> {
    const mine = new Set(vgs);
    const before = new Map(await Promise.all(vgs.map(async (vg) => [vg, await this.quietStamp(vg)] as const)));
    const rows = (await super.listVgs(undefined, opts)).filter((v) => mine.has(v.name));
    const lvs = (await super.listLvs(undefined, opts)).filter((l) => mine.has(l.vg));
    const at = this.now();
    for (const row of rows) {
      const known = this.copies.get(row.name)?.pvs;
      const pvs = known && known.length === row.pvCount ? known : [];
      const own = lvs.filter((l) => l.vg === row.name);
      // Trusted only when its PVs are known, nothing of ours runs on it and no commit landed during the reads.
      const first = before.get(row.name);
      const after = first === undefined || pvs.length === 0 ? undefined : await this.quietStamp(row.name);
      const stamp = after === first ? after : undefined;
      this.copies.set(row.name, {
        vg: row,
        ...unchangedKept(this.copies.get(row.name), own),
        readAt: new Map(own.map((l) => [l.name, at])),
        pvs,
        stamp,
      });
      this.stale.delete(row.name);
    }
    for (const vg of vgs) if (!rows.some((r) => r.name === vg)) this.copies.delete(vg);
    return { vgs: rows, lvs };
  }

  /** The stamp of a VG's known PVs, or undefined while a command of ours runs on it (the stamp moves under us). */
  private async quietStamp(vg: string): Promise<string | undefined> {
    const pvs = this.copies.get(vg)?.pvs;
    if (!pvs || pvs.length === 0 || (this.inFlight.get(vg) ?? 0) > 0) return undefined;
    const stamp = await this.stamps(pvs);
    return (this.inFlight.get(vg) ?? 0) > 0 ? undefined : stamp;
  }

  /** The VG's row and LVs as this class knows them now (no command); undefined before the first read. */
  known(vg: string): { vg: Vg; lvs: Lv[] } | undefined {
    const c = this.copies.get(vg);
    return c ? { vg: c.vg, lvs: [...c.lvs.values()] } : undefined;
  }

  override async listLvs(vg?: string, opts?: CallOptions): Promise<Lv[]> {
    if (vg === undefined) return super.listLvs(vg, opts);
    const c = await this.copy(vg, opts);
    if (!c) return super.listLvs(vg, opts); // a missing VG: let lvm say so
    c.listed ??= Object.freeze([...c.lvs.values()]);
    return (await this.withActivity(c, c.listed)) as Lv[]; // frozen: a caller that sorts it in place throws
  }

  override async getLv(vg: string, lv: string, opts?: ReadOptions): Promise<Lv | undefined> {
    const c = await this.copy(vg, opts);
    if (!c) return undefined;
    const l = c.lvs.get(lv);
    if (!l) return undefined;
    if (opts?.maxAgeMs === undefined || this.now() - (c.readAt.get(lv) ?? 0) < opts.maxAgeMs)
      return (await this.withActivity(c, [l]))[0];
    // concurrent callers that want the same LV read now share one lvs (20 CreateVolume at once read the pool once)
    // (not one that began before this LV's row last changed in memory: what it reads may predate that change)
    const key = `${vg}/${lv}`;
    let reading = this.lvReads.get(key);
    if (reading?.over !== l) {
      const row = super.getLv(vg, lv, opts).finally(() => {
        if (this.lvReads.get(key)?.row === row) this.lvReads.delete(key);
      });
      reading = { row, over: l };
      this.lvReads.set(key, reading);
    }
    const fresh = await reading.row;
    // A command of ours that changed this LV in memory while LVM reported it (a tag, a size, a removal)
    // may have committed after the report: storing the row would undo it. The caller gets what LVM said;
    // the copy keeps what the command made it. A command still running applies its change on top later.
    if (c.lvs.get(lv) !== l) return fresh;
    if (fresh) {
      setLv(c, fresh);
      c.readAt.set(lv, this.now());
    } else {
      this.stale.add(vg); // gone without a commit we saw: read the whole VG next time
    }
    return fresh;
  }

  override async getVg(name: string, opts?: CallOptions): Promise<Vg | undefined> {
    return (await this.copy(name, opts))?.vg;
  }

  // ------------------------------------------------------------------ changing

  /**
   * Runs one of our commands on a VG. `apply` updates the copy with the
   * known result (return false when the result is not known: the VG is read
   * again before its next use). A failure marks the VG stale.
   */
  private async change<T>(
    vg: string,
    run: () => Promise<T>,
    apply: (c: VgCopy, result: T) => boolean = () => false,
  ): Promise<T> {
    this.inFlight.set(vg, (this.inFlight.get(vg) ?? 0) + 1);
    try {
      const result = await run();
      const c = this.copies.get(vg);
      if (!c || !apply(c, result)) this.stale.add(vg);
      else if (this.inFlight.get(vg) === 1) this.settle(c);
      return result;
    } catch (e) {
      this.stale.add(vg);
      throw e;
    } finally {
      const n = (this.inFlight.get(vg) ?? 1) - 1;
      if (n > 0) this.inFlight.set(vg, n);
      else this.inFlight.delete(vg);
    }
  }

  /**
   * Takes the copy's stamp after our last running command on it, without
   * holding that command's caller: the read starts now (the window for an
   * outside commit to hide in is the same as awaiting it), and a read of the
   * copy waits for it. A later command's stamp supersedes this one.
   */
  private settle(c: VgCopy): void {
    c.stamp = undefined;
    const p: Promise<void> = this.stamps(c.pvs).then(
      (stamp) => {
        if (c.settling !== p) return;
        c.stamp = stamp;
        c.settling = undefined;
      },
      () => {
        if (c.settling === p) c.settling = undefined; // no stamp: the next read goes to LVM
      },
    );
    c.settling = p;
  }

  override createThin(
    vg: string,
    pool: string,
    lv: string,
    sizeBytes: number,
    tags: readonly string[],
    opts?: CallOptions,
  ): Promise<void> {
    return this.change(
      vg,
      () => super.createThin(vg, pool, lv, sizeBytes, tags, opts),
      (c) => {
        const p = c.lvs.get(pool);
        if (!p) return false;
        put(
          c,
          thinLv(vg, lv, roundUp(sizeBytes, c.vg.extentSizeBytes), tags, pool, {
            attr: 'Vwi-a-tz--',
            active: true,
            now: this.now(),
          }),
        );
        return true;
      },
    );
  }

  override createThinSnapshot(
    vg: string,
    origin: string,
    name: string,
    tags: readonly string[],
    opts: CreateThinSnapshotOptions = {},
  ): Promise<void> {
    return this.change(
      vg,
      () => super.createThinSnapshot(vg, origin, name, tags, opts),
      (c) => {
        const o = c.lvs.get(origin);
        if (!o?.pool) return false;
        const active = opts.activate ?? true;
        const attr = `V${opts.readOnly ? 'r' : 'w'}i-${active ? 'a' : '-'}-tz-${(opts.activationSkip ?? false) ? 'k' : '-'}`;
        put(c, {
          ...thinLv(vg, name, o.sizeBytes, tags, o.pool, { attr, active, now: this.now() }),
          origin,
          originSizeBytes: o.sizeBytes,
        });
        return true;
      },
    );
  }

  override extend(vg: string, lv: string, newSizeBytes: number, opts?: CallOptions): Promise<boolean> {
    return this.change(
      vg,
      () => super.extend(vg, lv, newSizeBytes, opts),
      (c, grown) => {
        const l = c.lvs.get(lv);
        if (!l || (!l.pool && grown)) return false; // a thick LV took extents from the VG: read it again
        if (grown) setLv(c, { ...l, sizeBytes: roundUp(newSizeBytes, c.vg.extentSizeBytes) });
        return true;
      },
    );
  }

  override remove(vg: string, lv: string, opts?: CallOptions): Promise<void> {
    return this.change(
      vg,
      () => super.remove(vg, lv, opts),
      (c) => {
        const l = c.lvs.get(lv);
        // a thin LV's blocks go back to its pool; a plain (linear/striped) LV's extents to the VG;
        // anything else (raid, COW snapshots and origins) is read again
        if (!l || (!l.pool && l.attr.volumeType !== 'plain')) return false;
        dropLv(c, lv);
        c.readAt.delete(lv);
        if (!l.pool) takeFree(c, -l.sizeBytes);
        return true;
      },
    );
  }

  override changeTags(
    vg: string,
    lv: string,
    change: { add?: readonly string[]; del?: readonly string[] },
    opts?: CallOptions,
  ): Promise<void> {
    return this.change(
      vg,
      () => super.changeTags(vg, lv, change, opts),
      (c) => {
        const l = c.lvs.get(lv);
        if (!l) return false;
        const del = new Set(change.del ?? []);
        const tags = new Set(l.tags.filter((t) => !del.has(t)));
        for (const t of change.add ?? []) tags.add(t);
        setLv(c, { ...l, tags: [...tags].sort() });
        return true;
      },
    );
  }

  override addVgTags(vg: string, tags: readonly string[], opts?: CallOptions): Promise<void> {
    return this.change(
      vg,
      () => super.addVgTags(vg, tags, opts),
      (c) => {
        c.vg = { ...c.vg, tags: [...new Set([...c.vg.tags, ...tags])].sort() };
        return true;
      },
    );
  }

  /** A linear LV takes exactly its rounded size from the VG's free space; raid and striped layouts are LVM's to decide. */
  override createLinear(
    vg: string,
    lv: string,
    sizeBytes: number,
    tags: readonly string[],
    opts: CreateLinearOptions = {},
  ): Promise<void> {
    const linear = (opts.mirrors ?? 0) === 0 && (opts.stripes ?? 1) === 1;
    return this.change(
      vg,
      () => super.createLinear(vg, lv, sizeBytes, tags, opts),
      (c) => {
        if (!linear) return false;
        const size = roundUp(sizeBytes, c.vg.extentSizeBytes);
        put(c, linearLv(vg, lv, size, tags, this.now()));
        takeFree(c, size);
        return true;
      },
    );
  }

  override createCowSnapshot(...a: Parameters<Lvm['createCowSnapshot']>): Promise<void> {
    return this.change(a[0], () => super.createCowSnapshot(...a));
  }

  override createThinPool(...a: Parameters<Lvm['createThinPool']>): Promise<void> {
    return this.change(a[0], () => super.createThinPool(...a));
  }

  override splitSnapshot(vg: string, lv: string, opts?: CallOptions): Promise<void> {
    return this.change(vg, () => super.splitSnapshot(vg, lv, opts));
  }

  override rename(vg: string, from: string, to: string, opts?: CallOptions): Promise<void> {
    return this.change(vg, () => super.rename(vg, from, to, opts));
  }

  override activate(vg: string, lv: string, opts: CallOptions & { ignoreSkip?: boolean } = {}): Promise<void> {
    return this.change(vg, () => super.activate(vg, lv, opts));
  }

  override setPermission(vg: string, lv: string, permission: 'r' | 'rw', opts?: CallOptions): Promise<void> {
    return this.change(vg, () => super.setPermission(vg, lv, permission, opts));
  }
}

function roundUp(bytes: number, unit: number): number {
  return unit > 0 ? Math.ceil(bytes / unit) * unit : bytes;
}

/** The VG's free space after `bytes` (whole extents) were taken (negative: given back). */
function takeFree(c: VgCopy, bytes: number): void {
  const extents = c.vg.extentSizeBytes > 0 ? bytes / c.vg.extentSizeBytes : 0;
  c.vg = { ...c.vg, freeBytes: c.vg.freeBytes - bytes, freeExtentCount: c.vg.freeExtentCount - extents };
}

/** A linear LV as `lvs` shows it right after lvcreate. */
function linearLv(vg: string, name: string, sizeBytes: number, tags: readonly string[], now: number): Lv {
  return {
    ...thinLv(vg, name, sizeBytes, tags, '', { attr: '-wi-a-----', active: true, now }),
    pool: undefined,
    layout: ['linear'],
    segtype: 'linear',
  };
}

/**
 * The LVs of a new read of a VG, keeping the object of every LV the copy already holds that LVM
 * reports unchanged (and the listing array too when all of them are): the agent memoizes decoded
 * tags and records per LV object and listing, and the refresh after each change otherwise made
 * every volume of the VG decode again at the next call (1,000 volumes: most of a second in the guest).
 */
function unchangedKept(old: VgCopy | undefined, lvs: readonly Lv[]): Pick<VgCopy, 'lvs' | 'listed'> {
  let all = old !== undefined && old.lvs.size === lvs.length;
  const kept = lvs.map((l) => {
    const o = old?.lvs.get(l.name);
    if (o && sameLv(o, l)) return o;
    all = false;
    return l;
  });
  return { lvs: new Map(kept.map((l) => [l.name, l])), listed: all ? old?.listed : undefined };
}

/** Two reports of an LV say the same (attr by its text: the rest of it is parsed from that). */
function sameLv(a: Lv, b: Lv): boolean {
  for (const k of Object.keys(b) as Array<keyof Lv>) {
    const x = a[k];
    const y = b[k];
    if (x === y) continue;
    if (k === 'attr') {
      if (a.attr.raw !== b.attr.raw) return false;
    } else if (x instanceof Date && y instanceof Date) {
      if (x.getTime() !== y.getTime()) return false;
    } else if (Array.isArray(x) && Array.isArray(y)) {
      if (x.length !== y.length || x.some((v, i) => v !== y[i])) return false;
    } else return false;
  }
  return Object.keys(a).length === Object.keys(b).length;
}

function setLv(c: VgCopy, l: Lv): void {
  c.lvs.set(l.name, l);
  c.listed = undefined;
}

function dropLv(c: VgCopy, name: string): void {
  c.lvs.delete(name);
  c.listed = undefined;
}

function put(c: VgCopy, l: Lv): void {
  setLv(c, l);
  c.readAt.set(l.name, 0);
}

/** A thin LV as `lvs` shows it right after lvcreate (dynamic values unknown until it is read). */
function thinLv(
  vg: string,
  name: string,
  sizeBytes: number,
  tags: readonly string[],
  pool: string,
  s: { attr: string; active: boolean; now: number },
): Lv {
  return {
    uuid: '',
    name,
    vg,
    path: `/dev/${vg}/${name}`,
    dmPath: `/dev/mapper/${vg.replace(/-/g, '--')}-${name.replace(/-/g, '--')}`,
    sizeBytes,
    attr: parseLvAttr(s.attr),
    active: s.active,
    tags: [...tags].sort(),
    createdAt: new Date(s.now),
    layout: ['thin', 'sparse'],
    segtype: 'thin',
    segCount: 1,
    stripes: 1,
    stripeSizeBytes: 0,
    pool,
    origin: undefined,
    originSizeBytes: undefined,
    dataPercent: undefined,
    metadataPercent: undefined,
    snapPercent: undefined,
    copyPercent: undefined,
    zero: undefined,
    discards: undefined,
    whenFull: undefined,
    metadataSizeBytes: undefined,
  };
}

/**
 * A reader of the names in /dev/mapper (undefined when it cannot be read): the device-mapper
 * devices that exist. The directory is listed again only when its mtime moved (every device
 * created or removed moves it), so a node with 1,000 volumes pays one stat per read, not a
 * listing of 1,000 names. A listing is kept only when the mtime it was read under was already
 * `settleMs` old: a change within the same clock tick as an earlier one would not move it.
 */
export function deviceMapperNames(
  dir = '/dev/mapper',
  now: () => number = Date.now,
  settleMs = 1000,
): () => Promise<ReadonlySet<string> | undefined> {
  let kept: { mtimeMs: number; names: ReadonlySet<string> } | undefined;
  return async () => {
    try {
      const { mtimeMs } = await stat(dir);
      if (kept?.mtimeMs === mtimeMs) return kept.names;
      const names: ReadonlySet<string> = new Set(await readdir(dir));
      const age = now() - mtimeMs;
      kept = age >= settleMs ? { mtimeMs, names } : undefined;
      return names;
    } catch {
      kept = undefined;
      return undefined;
    }
  };
}
