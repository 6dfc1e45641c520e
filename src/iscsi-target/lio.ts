/**
 * The kernel's LIO target driven through configfs only (no targetcli: it does
 * not work in a container or the test guest, and it is not needed). See
 * lio-layout.ts for the tree, types.ts for the contract.
 *
 * Order of creation (teardown is the exact reverse):
 *   backstore: mkdir, control udev_path=, udev_path, [control readonly=1], alias, wwn/vpd_unit_serial, enable=1,
 *              attrib/emulate_tpu=1, attrib/emulate_tpws=1  (the kernel dereferences the opened device
 *              here: writing them before enable oopses the 6.1 kernel, so only when enable reads 1)
 *   target:    mkdir iscsi/<iqn>/tpgt_1, attrib (authentication=0 on a new TPG, generate_node_acls=0,
 *              demo_mode_write_protect=1, demo_mode_discovery=0, cache_dynamic_acls=0, prod_mode_write_protect), param/* (the login
 *              keys of TPG_PARAMS), lun/lun_0 + link, np/<portal>..., enable=1
 *   initiator: mkdir acls/<iqn>, attrib/authentication + TPG authentication, auth/*, lun_0 + link,
 *              lun_0/write_protect
 *
 * Facts this relies on (verified in the VM tier, Debian 6.1):
 * - a new TPG has attrib/authentication=1, which refuses an explicit ACL without CHAP, so it is set
 *   to 0 and raised to 1 only while some initiator has CHAP;
 * - acls/<iqn>/attrib/authentication (kernel >= 5.19) overrides the TPG per initiator; it is written
 *   when present, so CHAP and non-CHAP initiators can share a target;
 * - rmdir of a node ACL ends that initiator's session before it returns;
 * - vpd_unit_serial can only be written while no LUN links the backstore;
 * - enable opens the device exclusively: lvremove says "in use" until the backstore is removed;
 * - iblock reads the device size at every READ CAPACITY: after lvextend the initiator only rescans.
 *
 * CHAP secrets are written to auth/password(_mutual) only: never logged, never in an error (errors
 * name paths, not values).
 */
import { join } from 'node:path';
import { Busy, FailedPrecondition, NotFound, Unavailable } from '../errors.js';
import type { Logger } from '../log.js';
import { errnoCode, NodeConfigFs, type ConfigFsOps, type DirEntry } from './configfs.js';
import { assertIscsiName } from './iqn.js';
import {
  attrValue,
  authValue,
  backstoreName,
  backstoreOfLink,
  countAclSessions,
  DEFAULT_CONFIGFS_ROOT,
  DEFAULT_HBA,
  DEFAULT_SYS_BLOCK,
  LioPaths,
  LIO_LUN,
  MAPPED_LUN_LINK,
  parseIblockInfo,
  parsePortalDirName,
  parseUnitSerial,
  portalDirName,
  TPG_PARAMS,
} from './lio-layout.js';
import { throwIfAborted } from '../abort.js';
import { DEFAULT_RETRY, withRetry, type RetryPolicy } from './retry.js';
import { byCodeUnit } from '../compare.js';
import { assertChap } from './chap.js';
import { validateTargetSpec } from './spec.js';
import type {
  ChapCredentials,
  InitiatorState,
  Portal,
  Target,
  TargetCallOptions,
  TargetSpec,
  TargetState,
} from './types.js';

export interface LioOptions {
  /** configfs target root. Default /sys/kernel/config/target. */
  root?: string;
  /** Where block devices' sysfs dirs are, for LUN sizes. Default /sys/class/block. */
  sysBlockRoot?: string;
  /** The iblock HBA the backstores go under. Default iblock_0 (kept when empty; it costs nothing). */
  hba?: string;
  fs?: ConfigFsOps;
  logger?: Logger;
  retry?: RetryPolicy;
}

const TRANSIENT = new Set(['EBUSY', 'EAGAIN', 'EINTR']);
const AUTH_FILES = ['userid', 'password', 'userid_mutual', 'password_mutual'] as const;

export class LioTarget implements Target {
  readonly kind = 'lio' as const;
  readonly lun = LIO_LUN;
  private readonly paths: LioPaths;
  private readonly fs: ConfigFsOps;
  private readonly sysBlock: string;
  private readonly log: Logger | undefined;
  private readonly retry: RetryPolicy;

  constructor(o: LioOptions = {}) {
    this.paths = new LioPaths(o.root ?? DEFAULT_CONFIGFS_ROOT, o.hba ?? DEFAULT_HBA);
    this.fs = o.fs ?? new NodeConfigFs();
    this.sysBlock = o.sysBlockRoot ?? DEFAULT_SYS_BLOCK;
    this.log = o.logger?.child({ target: 'lio' });
    this.retry = o.retry ?? DEFAULT_RETRY;
  }

  // ---------------------------------------------------------------- ensureTarget

  async ensureTarget(spec: TargetSpec, o: TargetCallOptions = {}): Promise<void> {
    validateSpec(spec);
    const name = backstoreName(spec.volumeKey);
    await this.requireConfigfs();
    await this.ensureBackstore(spec, name, o.signal);
    throwIfAborted(o.signal);
    await this.ensureTpg(spec, name, o.signal);
  }

  private async ensureBackstore(spec: TargetSpec, name: string, signal?: AbortSignal): Promise<void> {
    const dir = this.paths.backstore(name);
    await this.ensureDir(this.paths.hbaDir);
    await this.ensureDir(dir);
    const enabled = attrValue(await this.read(join(dir, 'enable'))) === '1';
    const udevPath = attrValue(await this.read(join(dir, 'udev_path')));
    const info = parseIblockInfo(await this.read(join(dir, 'info')));
    if (!enabled) {
      // control tells iblock what to open; the udev_path attribute (which
      // control does not set) is what tools show. control goes first, so a
      // matching udev_path means both were written.
      if (udevPath !== spec.devicePath) {
        await this.write(join(dir, 'control'), `udev_path=${spec.devicePath}`);
        await this.write(join(dir, 'udev_path'), spec.devicePath);
      }
      if (info.readOnly !== Boolean(spec.readOnly))
        await this.write(join(dir, 'control'), `readonly=${spec.readOnly ? 1 : 0}`);
      await this.writeIfDifferent(join(dir, 'alias'), spec.iqn);
      await this.ensureSerial(dir, spec.serial);
      throwIfAborted(signal);
      try {
        await this.write(join(dir, 'enable'), '1');
      } catch (e) {
        if (errnoCode(e) === 'EBUSY')
          throw new Busy(
            `${spec.devicePath} is in use (mounted, or opened exclusively by something else); LIO cannot open it`,
          );
        throw e;
      }
      this.log?.info({ backstore: name, device: spec.devicePath }, 'LIO backstore enabled');
    } else {
      const opened = info.udevPath ?? udevPath;
      if (opened !== spec.devicePath) {
        throw new FailedPrecondition(
          `LIO backstore ${name} exports ${opened || '(unknown)'}, not ${spec.devicePath}; remove the target first`,
        );
      }
      if (info.readOnly !== Boolean(spec.readOnly)) {
        throw new FailedPrecondition(
          `LIO backstore ${name} is open ${info.readOnly ? 'read-only' : 'read-write'}; remove the target to change that`,
        );
      }
      await this.ensureSerial(dir, spec.serial);
    }
    // Only now: the kernel needs the opened device for this one (see the header).
    await this.enableUnmap(dir, name);
  }

  private async ensureSerial(dir: string, serial: string): Promise<void> {
    const file = join(dir, 'wwn', 'vpd_unit_serial');
    if (parseUnitSerial(await this.read(file)) === serial) return;
    try {
      await this.write(file, serial);
    } catch (e) {
      // EINVAL: "Unable to set VPD Unit Serial while active ... exports exist"
      throw new FailedPrecondition(
        `cannot set the unit serial of ${dir} (${errnoCode(e) ?? 'error'}): it is exported with another serial; remove the target first`,
        { cause: e },
      );
    }
  }

  /**
   * emulate_tpu=1 (UNMAP) and emulate_tpws=1 (WRITE SAME with UNMAP): Linux
   * initiators see no LBP VPD page from LIO and discard with WRITE SAME(16),
   * which LIO refuses while emulate_tpws is 0 (seen in the VM tier: only
   * with both set does blkdiscard on the initiator free thin-pool space).
   */
  private async enableUnmap(dir: string, name: string): Promise<void> {
    for (const attr of ['emulate_tpu', 'emulate_tpws']) {
      const file = join(dir, 'attrib', attr);
      if (attrValue(await this.read(file)) === '1') continue;
      try {
        await this.write(file, '1');
      } catch (e) {
        // ENOSYS: "Generic Block Discard not supported" by the device
        this.log?.warn(
          { backstore: name, attr, code: errnoCode(e) },
          'device does not support discard: UNMAP stays off for this LUN',
        );
        return;
      }
    }
  }

  private async ensureTpg(spec: TargetSpec, name: string, signal?: AbortSignal): Promise<void> {
    const { paths } = this;
    await this.ensureDir(paths.iscsi);
    await this.ensureDir(paths.target(spec.iqn));
    const created = await this.ensureDir(paths.tpg(spec.iqn));
    const attrib = join(paths.tpg(spec.iqn), 'attrib');
    // A new TPG demands authentication (attrib/authentication=1), which refuses
    // an ACL without CHAP: 0 unless some initiator has CHAP.
    await this.syncTpgAuthentication(spec.iqn);
    await this.writeIfDifferent(join(attrib, 'generate_node_acls'), '0');
    await this.writeIfDifferent(join(attrib, 'cache_dynamic_acls'), '0');
    await this.writeIfDifferent(join(attrib, 'demo_mode_write_protect'), '1');
    // SendTargets lists this target only to initiators with a node ACL here
    // (the kernel skips the TPG when generate_node_acls and demo_mode_discovery are both 0).
    await this.writeIfDifferent(join(attrib, 'demo_mode_discovery'), '0');
    await this.writeIfDifferent(join(attrib, 'prod_mode_write_protect'), spec.readOnly ? '1' : '0');
    // before enable, so the first login already negotiates large transfers
    for (const [key, value] of TPG_PARAMS) await this.writeIfDifferent(join(paths.tpg(spec.iqn), 'param', key), value);
    throwIfAborted(signal);
    await this.ensureLunLink(spec.iqn, name);
    await this.ensurePortals(spec.iqn, spec.portals);
    await this.writeIfDifferent(join(paths.tpg(spec.iqn), 'enable'), '1');
    if (created) this.log?.info({ iqn: spec.iqn, backstore: name }, 'LIO target created');
  }

  private async ensureLunLink(iqn: string, name: string): Promise<void> {
    const lunDir = this.paths.lun(iqn);
    await this.ensureDir(lunDir);
    const links = (await this.list(lunDir)).filter((e) => e.kind === 'link');
    for (const l of links) {
      const to = backstoreOfLink(
        await this.fsOp('readlink', join(lunDir, l.name), () => this.fs.readlink(join(lunDir, l.name))),
      );
      if (to?.hba === this.paths.hba && to.name === name) return;
      throw new FailedPrecondition(
        `target ${iqn} already exports another backstore (${to ? `${to.hba}/${to.name}` : l.name})`,
      );
    }
    const link = join(lunDir, name);
    await this.fsOp('symlink', link, () => this.fs.symlink(this.paths.backstore(name), link));
  }

  private async ensurePortals(iqn: string, portals: readonly Portal[]): Promise<void> {
    const npDir = this.paths.np(iqn);
    const want = new Set(portals.map(portalDirName));
    const have = (await this.list(npDir)).filter((e) => e.kind === 'dir').map((e) => e.name);
    for (const dir of want) if (!have.includes(dir)) await this.ensureDir(join(npDir, dir));
    for (const dir of have) if (!want.has(dir)) await this.rmdir(join(npDir, dir));
  }

  // ---------------------------------------------------------------- initiators

  async allowInitiator(
    iqn: string,
    initiatorIqn: string,
    chap?: ChapCredentials,
    o: TargetCallOptions = {},
  ): Promise<void> {
    assertIscsiName('iqn', iqn);
    assertIscsiName('initiatorIqn', initiatorIqn);
    if (chap) assertChap(chap);
    const { paths } = this;
    if (!(await this.exists(join(paths.tpg(iqn), 'enable')))) throw new NotFound(`no LIO target ${iqn}`);
    const acl = paths.acl(iqn, initiatorIqn);
    const created = await this.ensureDir(acl);
    const perAcl = join(acl, 'attrib', 'authentication');
    // Authentication is demanded before credentials and LUN appear, so there
    // is never a moment when this initiator gets in without the CHAP it needs.
    if (await this.exists(perAcl)) await this.writeIfDifferent(perAcl, chap ? '1' : '0');
    if (chap) await this.writeIfDifferent(join(paths.tpg(iqn), 'attrib', 'authentication'), '1');
    await this.setCredentials(acl, chap);
    throwIfAborted(o.signal);
    await this.syncTpgAuthentication(iqn);
    await this.ensureMappedLun(iqn, initiatorIqn);
    if (created) this.log?.info({ iqn, initiator: initiatorIqn, chap: Boolean(chap) }, 'LIO initiator allowed');
  }

  private async setCredentials(acl: string, chap: ChapCredentials | undefined): Promise<void> {
    const want: Record<(typeof AUTH_FILES)[number], string | undefined> = {
      userid: chap?.userid,
      password: chap?.password,
      userid_mutual: chap?.mutualUserid,
      password_mutual: chap?.mutualPassword,
    };
    for (const f of AUTH_FILES) {
      const file = join(acl, 'auth', f);
      const current = authValue(await this.read(file));
      const target = want[f];
      if (current === target) continue;
      await this.write(file, target ?? 'NULL');
      this.log?.debug({ file: f, set: target !== undefined }, 'LIO CHAP attribute changed');
    }
  }

  private async ensureMappedLun(iqn: string, initiatorIqn: string): Promise<void> {
    const dir = this.paths.mappedLun(iqn, initiatorIqn);
    await this.ensureDir(dir);
    const link = join(dir, MAPPED_LUN_LINK);
    const links = (await this.list(dir)).filter((e) => e.kind === 'link');
    if (links.length === 0) await this.fsOp('symlink', link, () => this.fs.symlink(this.paths.lun(iqn), link));
    const ro = attrValue(await this.read(join(this.paths.tpg(iqn), 'attrib', 'prod_mode_write_protect'))) === '1';
    await this.writeIfDifferent(join(dir, 'write_protect'), ro ? '1' : '0');
  }

  /**
   * TPG attrib/authentication = 1 while any initiator has CHAP, else 0.
   * Without per-ACL authentication (kernel < 5.19) that also means an
   * initiator without CHAP is refused while another one has CHAP.
   */
  private async syncTpgAuthentication(iqn: string): Promise<void> {
    const acls = await this.listIfExists(this.paths.acls(iqn));
    let anyChap = false;
    let anyOpen = false;
    let allPerAcl = true;
    for (const a of acls.filter((e) => e.kind === 'dir')) {
      const acl = this.paths.acl(iqn, a.name);
      const hasChap = authValue(await this.read(join(acl, 'auth', 'userid'))) !== undefined;
      anyChap ||= hasChap;
      anyOpen ||= !hasChap;
      allPerAcl &&= await this.exists(join(acl, 'attrib', 'authentication'));
    }
    if (anyChap && anyOpen && !allPerAcl)
      this.log?.warn(
        { iqn },
        'kernel has no per-ACL authentication: initiators without CHAP are refused while another one uses CHAP',
      );
    await this.writeIfDifferent(join(this.paths.tpg(iqn), 'attrib', 'authentication'), anyChap ? '1' : '0');
  }

  async denyInitiator(iqn: string, initiatorIqn: string, o: TargetCallOptions = {}): Promise<void> {
    assertIscsiName('iqn', iqn);
    assertIscsiName('initiatorIqn', initiatorIqn);
    const acl = this.paths.acl(iqn, initiatorIqn);
    if (!(await this.exists(acl))) return;
    throwIfAborted(o.signal);
    await this.removeAcl(acl);
    if (await this.exists(this.paths.tpg(iqn))) await this.syncTpgAuthentication(iqn);
    this.log?.info({ iqn, initiator: initiatorIqn }, 'LIO initiator denied');
  }

  /** Mapped LUN links, their directories, then the node ACL: its rmdir ends the initiator's session. */
  private async removeAcl(acl: string): Promise<void> {
    for (const e of await this.listIfExists(acl)) {
      if (e.kind !== 'dir' || !/^lun_\d+$/.test(e.name)) continue;
      await this.removeLunDir(join(acl, e.name));
    }
    await this.rmdir(acl);
  }

  private async removeLunDir(dir: string): Promise<void> {
    for (const l of await this.listIfExists(dir)) if (l.kind === 'link') await this.unlink(join(dir, l.name));
    await this.rmdir(dir);
  }

  // ---------------------------------------------------------------- removeTarget

  async removeTarget(iqn: string, o: TargetCallOptions = {}): Promise<void> {
    assertIscsiName('iqn', iqn);
    const { paths } = this;
    const backstores = new Set<string>();
    const targetDir = paths.target(iqn);
    if (await this.exists(targetDir)) {
      for (const t of (await this.listIfExists(targetDir)).filter(
        (e) => e.kind === 'dir' && /^tpgt_\d+$/.test(e.name),
      )) {
        throwIfAborted(o.signal);
        for (const b of await this.removeTpg(join(targetDir, t.name))) backstores.add(b);
      }
      await this.rmdir(targetDir);
      this.log?.info({ iqn }, 'LIO target removed');
    }
    // Backstores: the one the LUN linked, and any whose alias names this target
    // (left over when a crash came between backstore and LUN link).
    for (const e of await this.listIfExists(paths.hbaDir)) {
      if (e.kind !== 'dir' || backstores.has(e.name)) continue;
      const alias = await this.readIfExists(join(paths.backstore(e.name), 'alias'));
      if (alias !== undefined && attrValue(alias) === iqn) backstores.add(e.name);
    }
    for (const name of backstores) {
      try {
        await this.rmdir(paths.backstore(name));
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') continue;
        if (errnoCode(e) === 'EBUSY' || errnoCode(e) === 'ENOTEMPTY')
          throw new Busy(`LIO backstore ${name} is still exported by another target`);
        throw e;
      }
      this.log?.info({ backstore: name }, 'LIO backstore removed');
    }
  }

  /** Reverse of creation: disable, ACLs, portals, LUN links, the TPG. Returns the backstores its LUNs linked (names in our HBA). */
  private async removeTpg(tpg: string): Promise<string[]> {
    if (attrValue((await this.readIfExists(join(tpg, 'enable'))) ?? '0') === '1')
      await this.write(join(tpg, 'enable'), '0');
    for (const a of await this.listIfExists(join(tpg, 'acls')))
      if (a.kind === 'dir') await this.removeAcl(join(tpg, 'acls', a.name));
    for (const n of await this.listIfExists(join(tpg, 'np')))
      if (n.kind === 'dir') await this.rmdir(join(tpg, 'np', n.name));
    const backstores: string[] = [];
    for (const l of await this.listIfExists(join(tpg, 'lun'))) {
      if (l.kind !== 'dir') continue;
      const dir = join(tpg, 'lun', l.name);
      for (const link of await this.listIfExists(dir)) {
        if (link.kind !== 'link') continue;
        const to = backstoreOfLink(
          await this.fsOp('readlink', join(dir, link.name), () => this.fs.readlink(join(dir, link.name))),
        );
        if (to && to.hba === this.paths.hba) backstores.push(to.name);
      }
      await this.removeLunDir(dir);
    }
    await this.rmdir(tpg);
    return backstores;
  }

  // ---------------------------------------------------------------- orphans

  async removeOrphans(iqnPrefix: string, o: TargetCallOptions = {}): Promise<string[]> {
    const { paths } = this;
    const candidates: string[] = [];
    for (const e of await this.listIfExists(paths.hbaDir)) {
      if (e.kind !== 'dir') continue;
      const alias = await this.readIfExists(join(paths.backstore(e.name), 'alias'));
      if (alias !== undefined && attrValue(alias).startsWith(`${iqnPrefix}:`)) candidates.push(e.name);
    }
    if (candidates.length === 0) return [];
    const linked = await this.linkedBackstores();
    const removed: string[] = [];
    for (const name of candidates) {
      if (linked.has(name)) continue;
      throwIfAborted(o.signal);
      try {
        await this.rmdir(paths.backstore(name));
      } catch (e) {
        // the kernel refuses while a LUN links it (EBUSY): then it is not an orphan after all
        if (errnoCode(e) === 'EBUSY' || errnoCode(e) === 'ENOTEMPTY') continue;
        throw e;
      }
      this.log?.info({ backstore: name }, 'LIO orphaned backstore removed');
      removed.push(name);
    }
    return removed;
  }

  /** Backstores of our HBA that some LUN of any target (ours or not, any TPG) links. */
  private async linkedBackstores(): Promise<Set<string>> {
    const out = new Set<string>();
    for (const t of await this.listIfExists(this.paths.iscsi)) {
      if (t.kind !== 'dir') continue;
      const target = join(this.paths.iscsi, t.name);
      for (const tpg of await this.listIfExists(target)) {
        if (tpg.kind !== 'dir' || !/^tpgt_\d+$/.test(tpg.name)) continue;
        for (const l of await this.listIfExists(join(target, tpg.name, 'lun'))) {
          if (l.kind !== 'dir') continue;
          const dir = join(target, tpg.name, 'lun', l.name);
          for (const link of await this.listIfExists(dir)) {
            if (link.kind !== 'link') continue;
            const to = backstoreOfLink(
              await this.fsOp('readlink', join(dir, link.name), () => this.fs.readlink(join(dir, link.name))),
            );
            if (to && to.hba === this.paths.hba) out.add(to.name);
          }
        }
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- state

  async listTargets(o: TargetCallOptions = {}): Promise<TargetState[]> {
    const out: TargetState[] = [];
    for (const e of await this.listIfExists(this.paths.iscsi)) {
      if (e.kind !== 'dir' || !/^(iqn|eui|naa)\./i.test(e.name)) continue;
      throwIfAborted(o.signal);
      out.push(await this.readTarget(e.name));
    }
    return out.sort((a, b) => byCodeUnit(a.iqn, b.iqn));
  }

  async hasTarget(iqn: string): Promise<boolean> {
    assertIscsiName('iqn', iqn);
    return this.exists(this.paths.target(iqn));
  }

  private async readTarget(iqn: string): Promise<TargetState> {
    const tpg = this.paths.tpg(iqn);
    const state: TargetState = {
      iqn,
      devicePath: undefined,
      serial: undefined,
      lun: undefined,
      portals: [],
      readOnly: false,
      authRequired: false,
      enabled: false,
      initiators: [],
      sizeBytes: undefined,
    };
    if (!(await this.exists(tpg))) return state;
    state.enabled = attrValue((await this.readIfExists(join(tpg, 'enable'))) ?? '0') === '1';
    state.authRequired = attrValue((await this.readIfExists(join(tpg, 'attrib', 'authentication'))) ?? '0') === '1';
    state.readOnly =
      attrValue((await this.readIfExists(join(tpg, 'attrib', 'prod_mode_write_protect'))) ?? '0') === '1';
    for (const n of await this.listIfExists(join(tpg, 'np'))) {
      const p = n.kind === 'dir' ? parsePortalDirName(n.name) : undefined;
      if (p) state.portals.push(p);
    }
    await this.readLun(iqn, state);
    for (const a of await this.listIfExists(join(tpg, 'acls'))) {
      if (a.kind === 'dir') state.initiators.push(await this.readInitiator(iqn, a.name));
    }
    state.initiators.sort((a, b) => byCodeUnit(a.iqn, b.iqn));
    state.portals.sort((a, b) => byCodeUnit(`${a.address}:${a.port}`, `${b.address}:${b.port}`));
    return state;
  }

  private async readLun(iqn: string, state: TargetState): Promise<void> {
    const lunDir = this.paths.lun(iqn);
    const link = (await this.listIfExists(lunDir)).find((e) => e.kind === 'link');
    if (!link) return;
    const to = backstoreOfLink(
      await this.fsOp('readlink', join(lunDir, link.name), () => this.fs.readlink(join(lunDir, link.name))),
    );
    if (!to) return;
    state.lun = LIO_LUN;
    const dir = join(this.paths.root, 'core', to.hba, to.name);
    const udev = await this.readIfExists(join(dir, 'udev_path'));
    const serial = await this.readIfExists(join(dir, 'wwn', 'vpd_unit_serial'));
    state.serial = serial === undefined ? undefined : parseUnitSerial(serial) || undefined;
    const info = parseIblockInfo((await this.readIfExists(join(dir, 'info'))) ?? '');
    state.devicePath = info.udevPath ?? ((udev === undefined ? '' : attrValue(udev)) || undefined);
    state.readOnly ||= info.readOnly;
    if (info.device) {
      const sectors = await this.readIfExists(join(this.sysBlock, info.device, 'size'));
      const n = sectors === undefined ? NaN : Number(sectors.trim());
      state.sizeBytes = Number.isFinite(n) ? n * 512 : undefined;
    }
  }

  private async readInitiator(iqn: string, initiator: string): Promise<InitiatorState> {
    const acl = this.paths.acl(iqn, initiator);
    const auth = async (f: string) => authValue((await this.readIfExists(join(acl, 'auth', f))) ?? '');
    return {
      iqn: initiator,
      chapUserid: await auth('userid'),
      mutualChapUserid: await auth('userid_mutual'),
      sessions: countAclSessions((await this.readIfExists(join(acl, 'info'))) ?? ''),
    };
  }

  async refreshSize(iqn: string, o: TargetCallOptions = {}): Promise<void> {
    assertIscsiName('iqn', iqn);
    throwIfAborted(o.signal);
    // iblock answers READ CAPACITY from the block device's current size.
    if (!(await this.exists(join(this.paths.lun(iqn))))) throw new NotFound(`no LIO target ${iqn}`);
  }

  // ---------------------------------------------------------------- fs helpers (retrying, errors name paths only)

  private async requireConfigfs(): Promise<void> {
    if (!(await this.exists(join(this.paths.root, 'core')))) {
      throw new Unavailable(
        `LIO configfs not found at ${this.paths.root} (modprobe target_core_iblock iscsi_target_mod; mount -t configfs none /sys/kernel/config)`,
      );
    }
  }

  private fsOp<T>(op: string, path: string, fn: () => Promise<T>): Promise<T> {
    return withRetry(fn, (e) => TRANSIENT.has(errnoCode(e) ?? ''), this.retry).catch((e: unknown) => {
      throw lioError(op, path, e);
    });
  }

  private read(path: string): Promise<string> {
    return this.fsOp('read', path, () => this.fs.read(path));
  }

  private async readIfExists(path: string): Promise<string | undefined> {
    try {
      return await this.fs.read(path);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return undefined;
      throw lioError('read', path, e);
    }
  }

  private write(path: string, value: string): Promise<void> {
    return this.fsOp('write', path, () => this.fs.write(path, value));
  }

  private async writeIfDifferent(path: string, value: string): Promise<void> {
    if (attrValue(await this.read(path)) !== value) await this.write(path, value);
  }

  /** mkdir; true when it made the directory, false when it was there. */
  private async ensureDir(path: string): Promise<boolean> {
    try {
      await withRetry(
        () => this.fs.mkdir(path),
        (e) => TRANSIENT.has(errnoCode(e) ?? ''),
        this.retry,
      );
      return true;
    } catch (e) {
      if (errnoCode(e) === 'EEXIST') return false;
      throw lioError('mkdir', path, e);
    }
  }

  private async rmdir(path: string): Promise<void> {
    try {
      await withRetry(
        () => this.fs.rmdir(path),
        (e) => TRANSIENT.has(errnoCode(e) ?? ''),
        this.retry,
      );
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return;
      throw lioError('rmdir', path, e);
    }
  }

  private async unlink(path: string): Promise<void> {
    try {
      await withRetry(
        () => this.fs.unlink(path),
        (e) => TRANSIENT.has(errnoCode(e) ?? ''),
        this.retry,
      );
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return;
      throw lioError('unlink', path, e);
    }
  }

  private list(path: string): Promise<DirEntry[]> {
    return this.fsOp('list', path, () => this.fs.list(path));
  }

  private async listIfExists(path: string): Promise<DirEntry[]> {
    try {
      return await this.fs.list(path);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return [];
      throw lioError('list', path, e);
    }
  }

  private exists(path: string): Promise<boolean> {
    return this.fs.exists(path);
  }
}

/**
 * An Error that names the operation, the path and the errno code, and keeps
 * the code (so callers can classify) but NOT the original error as cause:
 * nothing written (CHAP secrets!) can travel along.
 */
function lioError(op: string, path: string, e: unknown): Error {
  if (e instanceof Error && 'kind' in e) return e; // already a domain error
  const code = errnoCode(e);
  const err = new Error(
    `LIO configfs ${op} ${path} failed: ${code ?? (e instanceof Error ? e.name : 'error')}`,
  ) as Error & { code?: string };
  if (code) err.code = code;
  return err;
}

function validateSpec(spec: TargetSpec): void {
  validateTargetSpec(spec, (p) => void portalDirName(p));
}
