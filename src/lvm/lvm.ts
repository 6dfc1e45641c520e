/**
 * The LVM commands the plugin runs. Every call:
 * - is an argv array through the CommandRunner (never a shell),
 * - carries the plugin's settings (settings.ts): through LVM_SYSTEM_DIR when an
 *   LvmEnvironment provides one (system-dir.ts), else as `--config` right
 *   after the command name,
 * - reads reports as `--reportformat json --units b --nosuffix -o <fields>`,
 * - turns failures into domain errors through classifyLvmError (classify.ts).
 *
 * Sizes go to lvm in bytes with a "b" suffix ("--size 67108864b"). lvm 2.03.16
 * refuses byte sizes that are not a multiple of 512 ("Size is not a multiple
 * of 512"), so sizes are rounded UP to 512 here; lvm then rounds up to whole
 * extents. Callers re-read the LV for its real size.
 *
 * Long option spellings are used throughout so that argv reads like the man
 * pages (--yes, --size, --zero y, --wipesignatures y, --addtag ...).
 */

import { CommandFailed, InvalidArgument, NotFound } from '../errors.js';
import type { CommandRunner, RunOptions } from '../exec/runner.js';
import { Semaphore } from '../mutex.js';
import { classifyLvmError } from './classify.js';
import { assertLvName, assertVgName } from './names.js';
import { LV_FIELDS, PV_FIELDS, VG_FIELDS, parseLvs, parsePvs, parseVgs, type Lv, type Pv, type Vg } from './report.js';
import { lvmConfigArgs, type LvmSettings } from './settings.js';
import type { LvmEnvironment } from './system-dir.js';
import { isValidLvmTag } from './tags.js';

/**
 * The agent's LVM changes, at most three at once, in call order. LVM holds a
 * VG's lock for the whole of a change and a further change waits for it
 * inside its own process, where its timeout counts the wait: a burst of
 * twenty CreateVolume calls timed out the lvcreates at the back (and an
 * lvcreate killed after its commit leaves its LV behind, maybe inactive).
 * Queued here, a command waits inside LVM for at most two others, a call
 * cancelled while queued runs nothing, and the next processes still start,
 * read their configuration and scan the devices while the one in front holds
 * the lock (one at a time, a burst of twenty took 1.67x twenty bare lvcreates
 * started together: docs/performance.md). Reports (lvs, vgs, pvs) do not queue.
 */
export const LVM_CHANGES_AT_ONCE = 3;
export const LVM_CHANGES = new Semaphore(LVM_CHANGES_AT_ONCE);
const REPORTS = new Set(['lvs', 'vgs', 'pvs']);

export interface CallOptions {
  /** Cancels the command (kills lvm) when aborted. */
  signal?: AbortSignal;
  /** Overrides the runner's default timeout. */
  timeoutMs?: number;
  /**
   * Reads: how old (ms) the dynamic values of an answer may be (see CachedLvm);
   * 0 = read now. Lvm itself always reads now.
   */
  maxAgeMs?: number;
}

export type ThinPoolSize = { bytes: number } | { percentOfVg: number };

export interface CreateThinPoolOptions extends CallOptions {
  /** --zero: zero newly provisioned blocks, so a new thin LV never shows a former LV's data. Default true. */
  zero?: boolean;
  /** --errorwhenfull: fail writes at once when the pool is full instead of queueing them (60 s). Default true. */
  errorWhenFull?: boolean;
  /** --discards. Default "passdown": discards free pool space and reach the PVs. */
  discards?: 'passdown' | 'nopassdown' | 'ignore';
  /** --chunksize in KiB (a multiple of 64). Default: lvm's choice. */
  chunkSizeKiB?: number;
  /** --poolmetadatasize. Default: lvm's choice. */
  metadataSizeBytes?: number;
  tags?: readonly string[];
}

export interface CreateLinearOptions extends CallOptions {
  /** Extra copies: 1 = two-way raid1. With stripes > 1 only 1 is possible (raid10). */
  mirrors?: number;
  /** Stripe across this many PVs. */
  stripes?: number;
  /** Stripe size in KiB (a power of 2). Only with stripes > 1. */
  stripeSizeKiB?: number;
}

export interface CreateThinSnapshotOptions extends CallOptions {
  /** --permission r. Default false (rw). */
  readOnly?: boolean;
  /** Keep lvm's default of flagging thin snapshots "skip activation" (-ky). Default false (-kn). */
  activationSkip?: boolean;
  /** Activate the new LV. Default true. */
  activate?: boolean;
}

export interface CreateCowSnapshotOptions extends CallOptions {
  /** --permission r. Default true: a CSI snapshot is not written to. */
  readOnly?: boolean;
}

export interface VgCreateOptions extends CallOptions {
  /** --metadatasize; default settings.vgMetadataSizeBytes. */
  metadataSizeBytes?: number;
  tags?: readonly string[];
}

const REPORT_ARGS = ['--reportformat', 'json', '--units', 'b', '--nosuffix'] as const;

/** "<n>b" with n rounded up to a multiple of 512. */
export function sizeArg(bytes: number, field = 'size'): string {
  if (!Number.isSafeInteger(bytes) || bytes <= 0)
    throw new InvalidArgument(field, `must be a positive integer number of bytes, got ${bytes}`);
  return `${Math.ceil(bytes / 512) * 512}b`;
}

function yn(v: boolean): 'y' | 'n' {
  return v ? 'y' : 'n';
}

function positiveInt(v: number, field: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(v) || v < 1 || v > max)
    throw new InvalidArgument(field, `must be an integer in 1..${max}, got ${v}`);
  return v;
}

function tagArgs(flag: '--addtag' | '--deltag', tags: readonly string[] | undefined): string[] {
  return (tags ?? []).flatMap((t) => {
    if (!isValidLvmTag(t)) throw new InvalidArgument('tags', `"${t}" is not a valid LVM tag`);
    return [flag, t];
  });
}

export class Lvm {
  constructor(
    private readonly runner: CommandRunner,
    private readonly settings: LvmSettings,
    /** Where the settings come from; without it (or when it has none) every command carries `--config`. */
    private readonly environment?: LvmEnvironment,
  ) {}

  // ---------------------------------------------------------------- plumbing

  private argv(command: string, args: readonly string[], configured: boolean): string[] {
    const head = this.settings.lvmBinary ? [this.settings.lvmBinary, command] : [command];
    return configured ? [...head, ...args] : [...head, ...lvmConfigArgs(this.settings), ...args];
  }

  /**
   * A change is never sent SIGKILL: lvm blocks every signal while it holds a
   * VG's write lock (lib/locking), so a SIGTERM at its timeout or cancel ends
   * it only where it may end, while SIGKILL could stop it between suspending
   * and resuming a device, or in the middle of writing metadata.
   */
  private runOptions(
    opts: CallOptions | undefined,
    change: boolean,
    env: Readonly<Record<string, string>> | undefined,
  ): RunOptions {
    const o: RunOptions = { env: { ...env, LVM_SUPPRESS_FD_WARNINGS: '1' } };
    if (change) o.forceKill = false;
    if (opts?.signal) o.signal = opts.signal;
    if (opts?.timeoutMs !== undefined) o.timeoutMs = opts.timeoutMs;
    return o;
  }

  /**
   * Run an lvm command; resolve with stdout. `tolerate` lists stderr patterns
   * that mean "already in the wanted state": such a failure resolves with
   * undefined instead of throwing.
   */
  private async exec(
    command: string,
    args: readonly string[],
    opts: CallOptions | undefined,
    tolerate: readonly RegExp[] = [],
  ): Promise<string | undefined> {
    try {
      const change = !REPORTS.has(command);
      const env = await this.environment?.current();
      const run = () =>
        this.runner.run(this.argv(command, args, env !== undefined), this.runOptions(opts, change, env));
      return (change ? await LVM_CHANGES.runExclusive(run, opts?.signal) : await run()).stdout;
    } catch (e) {
      if (!(e instanceof CommandFailed)) throw e;
      if (!e.timedOut && !e.cancelled && tolerate.some((re) => re.test(e.stderr))) return undefined;
      throw classifyLvmError(e);
    }
  }

  private async report(
    command: 'lvs' | 'vgs' | 'pvs',
    fields: readonly string[],
    targets: readonly string[],
    opts: CallOptions | undefined,
  ): Promise<string> {
    return (await this.exec(command, [...REPORT_ARGS, '-o', fields.join(','), ...targets], opts)) ?? '';
  }

  private lvPath(vg: string, lv: string): string {
    assertVgName(vg);
    assertLvName(lv);
    return `${vg}/${lv}`;
  }

  // ----------------------------------------------------------------- reports

  /** All LVs of `vg` (or of every VG), hidden/internal LVs excluded. Filter in JS. */
  async listLvs(vg?: string, opts?: CallOptions): Promise<Lv[]> {
    if (vg !== undefined) assertVgName(vg);
    return parseLvs(await this.report('lvs', LV_FIELDS, vg === undefined ? [] : [vg], opts));
  }

  /** One LV, or undefined when it (or its VG) does not exist. */
  async getLv(vg: string, lv: string, opts?: CallOptions): Promise<Lv | undefined> {
    try {
      return parseLvs(await this.report('lvs', LV_FIELDS, [this.lvPath(vg, lv)], opts))[0];
    } catch (e) {
      if (e instanceof NotFound) return undefined;
      throw e;
    }
  }

  /** The named VGs (NotFound if one is missing), or all VGs. */
  async listVgs(names?: readonly string[], opts?: CallOptions): Promise<Vg[]> {
    for (const n of names ?? []) assertVgName(n);
    return parseVgs(await this.report('vgs', VG_FIELDS, names ?? [], opts));
  }

  /** One VG, or undefined when it does not exist. */
  async getVg(name: string, opts?: CallOptions): Promise<Vg | undefined> {
    try {
      return (await this.listVgs([name], opts))[0];
    } catch (e) {
      if (e instanceof NotFound) return undefined;
      throw e;
    }
  }

  /** PVs, optionally only those of `vg` (filtered in JS: pvs selects by PV, not VG). */
  async listPvs(vg?: string, opts?: CallOptions): Promise<Pv[]> {
    if (vg !== undefined) assertVgName(vg);
    const pvs = parsePvs(await this.report('pvs', PV_FIELDS, [], opts));
    return vg === undefined ? pvs : pvs.filter((p) => p.vg === vg);
  }

  // --------------------------------------------------------------------- VGs

  /**
   * vgcreate with a large metadata area. No --yes: lvm refuses (instead of
   * wiping) a device that carries a filesystem or other signature.
   */
  async vgCreate(name: string, pvs: readonly string[], opts: VgCreateOptions = {}): Promise<void> {
    assertVgName(name);
    if (pvs.length === 0) throw new InvalidArgument('pvs', 'at least one physical volume is required');
    for (const pv of pvs)
      if (!pv.startsWith('/')) throw new InvalidArgument('pvs', `"${pv}" is not an absolute device path`);
    const mda = sizeArg(opts.metadataSizeBytes ?? this.settings.vgMetadataSizeBytes, 'metadataSizeBytes');
    await this.exec('vgcreate', ['--metadatasize', mda, ...tagArgs('--addtag', opts.tags), name, ...pvs], opts);
  }

  // --------------------------------------------------------------- creation

  /**
   * A thin pool. Uses the `lvcreate --thin --size S --thinpool P VG` form:
   * lvm2 2.03.16 rejects --errorwhenfull together with `--type thin-pool`
   * ("Option --errorwhenfull is unsupported with thin pools") although its
   * help lists it, while the --thin form accepts it.
   */
  async createThinPool(vg: string, pool: string, size: ThinPoolSize, opts: CreateThinPoolOptions = {}): Promise<void> {
    assertVgName(vg);
    assertLvName(pool, 'pool');
    const sizeArgs =
      'bytes' in size
        ? ['--size', sizeArg(size.bytes)]
        : ['--extents', `${positiveInt(size.percentOfVg, 'percentOfVg', 100)}%VG`];
    const args = [
      '--yes',
      '--thin',
      ...sizeArgs,
      '--thinpool',
      pool,
      '--zero',
      yn(opts.zero ?? true),
      '--errorwhenfull',
      yn(opts.errorWhenFull ?? true),
      '--discards',
      opts.discards ?? 'passdown',
    ];
    if (opts.chunkSizeKiB !== undefined) {
      const c = positiveInt(opts.chunkSizeKiB, 'chunkSizeKiB', 1024 * 1024);
      if (c % 64 !== 0) throw new InvalidArgument('chunkSizeKiB', 'must be a multiple of 64');
      args.push('--chunksize', `${c}k`);
    }
    if (opts.metadataSizeBytes !== undefined)
      args.push('--poolmetadatasize', sizeArg(opts.metadataSizeBytes, 'metadataSizeBytes'));
    await this.exec('lvcreate', [...args, ...tagArgs('--addtag', opts.tags), vg], opts);
  }

  /**
   * A thin LV. No --zero/--wipesignatures: a thin LV's blocks are provisioned
   * on first write and zeroed by the pool (createThinPool --zero y).
   * Tags go into the same lvcreate so a crash never leaves an untagged LV.
   */
  async createThin(
    vg: string,
    pool: string,
    lv: string,
    sizeBytes: number,
    tags: readonly string[],
    opts?: CallOptions,
  ): Promise<void> {
    assertVgName(vg);
    assertLvName(pool, 'pool');
    assertLvName(lv);
    await this.exec(
      'lvcreate',
      [
        '--yes',
        '--type',
        'thin',
        '--virtualsize',
        sizeArg(sizeBytes),
        '--thinpool',
        pool,
        '--name',
        lv,
        ...tagArgs('--addtag', tags),
        vg,
      ],
      opts,
    );
  }

  /**
   * A thick LV: linear, striped, raid1 (mirrors) or raid10 (mirrors + stripes).
   * The segment type is always explicit so lvm.conf's mirror/raid defaults do not matter.
   *
   * --wipesignatures y and --zero y: the extents may have belonged to a deleted
   * LV, and a filesystem signature left at its start would make the node see
   * an old filesystem (and mount someone else's data) instead of a blank
   * device to format. lvm zeroes the first 4 KiB and wipes known signatures;
   * it does not zero the whole LV (that is the zero-on-delete job's work).
   * raid1 is created with its initial sync (no --nosync).
   */
  async createLinear(
    vg: string,
    lv: string,
    sizeBytes: number,
    tags: readonly string[],
    opts: CreateLinearOptions = {},
  ): Promise<void> {
    assertVgName(vg);
    assertLvName(lv);
    const mirrors = opts.mirrors ?? 0;
    const stripes = opts.stripes ?? 1;
    if (mirrors !== 0) positiveInt(mirrors, 'mirrors', 31);
    positiveInt(stripes, 'stripes', 128);
    const layout: string[] = [];
    if (mirrors > 0 && stripes > 1) {
      if (mirrors !== 1) throw new InvalidArgument('mirrors', 'with stripes (raid10) only 1 mirror is supported');
      layout.push('--type', 'raid10', '--mirrors', '1', '--stripes', String(stripes));
    } else if (mirrors > 0) {
      layout.push('--type', 'raid1', '--mirrors', String(mirrors));
    } else if (stripes > 1) {
      layout.push('--type', 'striped', '--stripes', String(stripes));
    } else {
      layout.push('--type', 'linear');
    }
    if (opts.stripeSizeKiB !== undefined) {
      if (stripes < 2) throw new InvalidArgument('stripeSizeKiB', 'only with stripes > 1');
      const s = positiveInt(opts.stripeSizeKiB, 'stripeSizeKiB', 1024 * 1024);
      if ((s & (s - 1)) !== 0) throw new InvalidArgument('stripeSizeKiB', 'must be a power of 2');
      layout.push('--stripesize', `${s}k`);
    }
    await this.exec(
      'lvcreate',
      [
        '--yes',
        ...layout,
        '--size',
        sizeArg(sizeBytes),
        '--name',
        lv,
        '--wipesignatures',
        'y',
        '--zero',
        'y',
        ...tagArgs('--addtag', tags),
        vg,
      ],
      opts,
    );
  }

  /**
   * A thin snapshot of a thin LV (instant, shares blocks, no size). lvm flags
   * thin snapshots "skip activation" by default; we turn that off (-kn) unless
   * asked, so the snapshot activates like any LV.
   */
  async createThinSnapshot(
    vg: string,
    origin: string,
    name: string,
    tags: readonly string[],
    opts: CreateThinSnapshotOptions = {},
  ): Promise<void> {
    const src = this.lvPath(vg, origin);
    assertLvName(name, 'name');
    const skip = opts.activationSkip ?? false;
    const activate = opts.activate ?? true;
    const args = [
      '--yes',
      '--snapshot',
      '--setactivationskip',
      yn(skip),
      '--activate',
      yn(activate),
      ...(skip && activate ? ['--ignoreactivationskip'] : []),
      '--permission',
      opts.readOnly ? 'r' : 'rw',
      '--name',
      name,
      ...tagArgs('--addtag', tags),
      src,
    ];
    await this.exec('lvcreate', args, opts);
  }

  /**
   * A classic copy-on-write snapshot of a thick LV with a COW area of
   * `sizeBytes`. If writes to the origin overflow it, lvm invalidates the
   * snapshot (lv_attr state 'I'); size it as large as the origin to rule that
   * out. lvcreate refuses --zero/--wipesignatures for snapshots.
   */
  async createCowSnapshot(
    vg: string,
    origin: string,
    name: string,
    sizeBytes: number,
    tags: readonly string[],
    opts: CreateCowSnapshotOptions = {},
  ): Promise<void> {
    const src = this.lvPath(vg, origin);
    assertLvName(name, 'name');
    const args = [
      '--yes',
      '--snapshot',
      '--size',
      sizeArg(sizeBytes),
      '--permission',
      (opts.readOnly ?? true) ? 'r' : 'rw',
      '--name',
      name,
      ...tagArgs('--addtag', tags),
      src,
    ];
    await this.exec('lvcreate', args, opts);
  }

  // ----------------------------------------------------------------- changes

  /**
   * Grow an LV (or a thin pool) to at least `newSizeBytes`. Resolves true when
   * lvm grew it, false when it already was that size or larger (lvm's "New size
   * ... matches existing size" / "not larger than existing size"). Never shrinks.
   */
  async extend(vg: string, lv: string, newSizeBytes: number, opts?: CallOptions): Promise<boolean> {
    const out = await this.exec('lvextend', ['--size', sizeArg(newSizeBytes), this.lvPath(vg, lv)], opts, [
      /matches existing size/,
      /not larger than existing size/,
    ]);
    return out !== undefined;
  }

  /**
   * lvremove --yes. An LV that is gone already is NotFound (the caller decides).
   * CAUTION: for a thick origin lvm removes its COW snapshots along with it
   * (observed on 2.03.16); DeleteVolume hides such an origin instead (src/agent/volumes.ts).
   */
  async remove(vg: string, lv: string, opts?: CallOptions): Promise<void> {
    await this.exec('lvremove', ['--yes', this.lvPath(vg, lv)], opts);
  }

  /**
   * lvconvert --splitsnapshot: a COW snapshot becomes a plain LV holding its
   * exception store, detached from its origin (writes to the origin no longer
   * land in it), so it can be wiped and then removed (lvconvert(8)).
   */
  async splitSnapshot(vg: string, lv: string, opts?: CallOptions): Promise<void> {
    await this.exec('lvconvert', ['--yes', '--splitsnapshot', this.lvPath(vg, lv)], opts);
  }

  /** vgchange --addtag (adding a present tag is not an error for lvm). */
  async addVgTags(vg: string, tags: readonly string[], opts?: CallOptions): Promise<void> {
    assertVgName(vg);
    if (tags.length === 0) return;
    await this.exec('vgchange', [...tagArgs('--addtag', tags), vg], opts);
  }

  async rename(vg: string, from: string, to: string, opts?: CallOptions): Promise<void> {
    assertVgName(vg);
    assertLvName(from, 'from');
    assertLvName(to, 'to');
    await this.exec('lvrename', [vg, from, to], opts);
  }

  /**
   * Delete and add tags in ONE lvchange (one metadata commit). No command
   * when both lists are empty. Adding a present tag or deleting an absent one
   * is not an error for lvm.
   */
  async changeTags(
    vg: string,
    lv: string,
    change: { add?: readonly string[]; del?: readonly string[] },
    opts?: CallOptions,
  ): Promise<void> {
    const target = this.lvPath(vg, lv);
    const args = [...tagArgs('--deltag', change.del), ...tagArgs('--addtag', change.add)];
    if (args.length === 0) return;
    await this.exec('lvchange', [...args, target], opts);
  }

  addTags(vg: string, lv: string, tags: readonly string[], opts?: CallOptions): Promise<void> {
    return this.changeTags(vg, lv, { add: tags }, opts);
  }

  /** lvchange --activate y; `ignoreSkip` (-K) activates LVs flagged skip-activation. */
  async activate(vg: string, lv: string, opts: CallOptions & { ignoreSkip?: boolean } = {}): Promise<void> {
    const target = this.lvPath(vg, lv);
    await this.exec(
      'lvchange',
      ['--activate', 'y', ...(opts.ignoreSkip ? ['--ignoreactivationskip'] : []), target],
      opts,
    );
  }

  /**
   * lvchange --permission r|rw. Already having that permission is fine
   * (lvm exits 5 with "is already read only" / "is already writable").
   */
  async setPermission(vg: string, lv: string, permission: 'r' | 'rw', opts?: CallOptions): Promise<void> {
    await this.exec('lvchange', ['--permission', permission, this.lvPath(vg, lv)], opts, [
      /is already read only/,
      /is already writable/,
    ]);
  }
}
