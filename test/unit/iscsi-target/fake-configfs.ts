/**
 * An imitation of LIO's configfs in a temporary directory, behind the same
 * ConfigFsOps interface the LIO code uses. It acts like the kernel where the
 * LIO code depends on it (all seen on Debian's 6.1 kernel in the VM tier):
 *
 * - mkdir is only allowed where configfs has a group (HBA, backstore, iscsi,
 *   target, TPG, LUN, portal, node ACL, mapped LUN) and fills the new
 *   directory with that object's attribute files and default groups;
 * - rmdir only works on directories made with mkdir, removes their default
 *   contents, and fails with ENOTEMPTY while they hold user-made
 *   directories or symlinks, EBUSY while a LUN links to a backstore;
 * - writes go to existing attribute files only; `control` cannot be read;
 *   `udev_path=` after enable is EEXIST; vpd_unit_serial while exported is
 *   EINVAL; emulate_tpu/emulate_tpws before enable is what oopses the real kernel
 *   (here: error code "EOOPS" and `oopsed` set);
 * - port links need an enabled backstore (ENODEV), mapped-LUN links a TPG LUN.
 *
 * Every mutating call is appended to `log` as "mkdir <rel>", "write <rel>
 * <value>", "symlink <rel> -> <rel target>", "unlink <rel>", "rmdir <rel>"
 * with paths relative to `root`.
 */
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import type { ConfigFsOps, DirEntry } from '../../../src/iscsi-target/configfs.js';

type Op = 'mkdir' | 'rmdir' | 'read' | 'write' | 'symlink' | 'readlink' | 'unlink' | 'list';

function fsError(code: string, op: string, path: string): Error {
  const e = new Error(`${code}: ${op} '${path}'`) as Error & { code: string };
  e.code = code;
  return e;
}

interface Injected {
  op: Op;
  suffix: string;
  code: string;
  times: number;
}

export interface FakeOptions {
  /** acls/<iqn>/attrib/authentication exists (kernel >= 5.19). Default true. */
  perAclAuth?: boolean;
}

export class FakeConfigfs implements ConfigFsOps {
  readonly base: string;
  /** Stands for /sys/kernel/config/target. */
  readonly root: string;
  /** Stands for /sys/class/block. */
  readonly sysBlock: string;
  readonly log: string[] = [];
  oopsed = false;
  private readonly userDirs = new Set<string>();
  private readonly injected: Injected[] = [];
  private dm = 0;
  /** control udev_path= per backstore (iblock's own copy, not visible as a file). */
  private readonly controlPath = new Map<string, string>();
  private readonly perAclAuth: boolean;

  constructor(o: FakeOptions = {}) {
    this.perAclAuth = o.perAclAuth ?? true;
    this.base = mkdtempSync(join(tmpdir(), 'fake-configfs-'));
    this.root = join(this.base, 'target');
    this.sysBlock = join(this.base, 'sys-class-block');
    mkdirSync(join(this.root, 'core', 'alua'), { recursive: true });
    mkdirSync(this.sysBlock, { recursive: true });
    writeFileSync(join(this.root, 'version'), 'Target Engine Core ConfigFS Infrastructure v5.0\n');
  }

  cleanup(): void {
    rmSync(this.base, { recursive: true, force: true });
  }

  rel(path: string): string {
    return relative(this.root, path);
  }

  abs(rel: string): string {
    return join(this.root, rel);
  }

  /** Makes the next `times` calls of `op` on a path ending with `suffix` fail with `code`. */
  inject(op: Op, suffix: string, code: string, times = 1): void {
    this.injected.push({ op, suffix, code, times });
  }

  private check(op: Op, path: string): void {
    const i = this.injected.find((x) => x.op === op && path.endsWith(x.suffix) && x.times > 0);
    if (i) {
      i.times--;
      throw fsError(i.code, op, path);
    }
  }

  /** The kernel's view of a file, for assertions ("" when missing). */
  content(rel: string): string {
    const p = this.abs(rel);
    return existsSync(p) ? readFileSync(p, 'utf8') : '';
  }

  /** Every path under root (dirs end with '/', links show their target), sorted. */
  tree(): string[] {
    const out: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        const st = lstatSync(p);
        if (st.isSymbolicLink()) out.push(`${this.rel(p)} -> ${this.rel(readlinkSync(p))}`);
        else if (st.isDirectory()) {
          out.push(`${this.rel(p)}/`);
          walk(p);
        } else out.push(this.rel(p));
      }
    };
    walk(this.root);
    return out.sort();
  }

  /** Pretends the initiator logged in to the target (acls/<init>/info shows a session). */
  login(iqn: string, initiator: string): void {
    const info = this.abs(`iscsi/${iqn}/tpgt_1/acls/${initiator}/info`);
    if (!existsSync(info)) throw new Error(`no ACL for ${initiator}: the real target refuses the login`);
    writeFileSync(
      info,
      `InitiatorName: ${initiator}\nInitiatorAlias: test\nLIO Session ID: 1   ISID: 0x00 02 3d 00 00 01  TSIH: 1  SessionType: Normal\nSession State: TARG_SESS_STATE_LOGGED_IN\n`,
    );
  }

  // ---------------------------------------------------------------- ConfigFsOps

  async mkdir(path: string): Promise<void> {
    this.check('mkdir', path);
    const r = this.rel(path);
    if (existsSync(path)) throw fsError('EEXIST', 'mkdir', path);
    if (!existsSync(dirname(path))) throw fsError('ENOENT', 'mkdir', path);
    const populate = this.groupFor(r);
    if (!populate) throw fsError('EPERM', 'mkdir', path);
    mkdirSync(path);
    populate(path);
    this.userDirs.add(r);
    this.log.push(`mkdir ${r}`);
  }

  async rmdir(path: string): Promise<void> {
    this.check('rmdir', path);
    const r = this.rel(path);
    if (!existsSync(path)) throw fsError('ENOENT', 'rmdir', path);
    if (!this.userDirs.has(r)) throw fsError('EPERM', 'rmdir', path);
    for (const d of this.userDirs) if (d.startsWith(`${r}/`)) throw fsError('ENOTEMPTY', 'rmdir', path);
    if (this.hasLinks(path)) throw fsError('ENOTEMPTY', 'rmdir', path);
    if (/^core\/[^/]+\/[^/]+$/.test(r) && this.linksTo(path).length > 0) throw fsError('EBUSY', 'rmdir', path);
    rmSync(path, { recursive: true });
    this.userDirs.delete(r);
    this.log.push(`rmdir ${r}`);
  }

  async read(path: string): Promise<string> {
    this.check('read', path);
    if (!existsSync(path)) throw fsError('ENOENT', 'read', path);
    if (lstatSync(path).isDirectory()) throw fsError('EISDIR', 'read', path);
    if (path.endsWith('/control')) throw fsError('EACCES', 'read', path);
    return readFileSync(path, 'utf8');
  }

  async write(path: string, value: string): Promise<void> {
    this.check('write', path);
    const r = this.rel(path);
    if (!existsSync(path)) throw fsError('ENOENT', 'write', path);
    if (lstatSync(path).isDirectory()) throw fsError('EISDIR', 'write', path);
    this.store(r, path, value);
    this.log.push(`write ${r} ${value}`);
  }

  async symlink(target: string, path: string): Promise<void> {
    this.check('symlink', path);
    const r = this.rel(path);
    const t = this.rel(target);
    if (existsSync(path)) throw fsError('EEXIST', 'symlink', path);
    if (!existsSync(target)) throw fsError('ENOENT', 'symlink', path);
    if (/^iscsi\/[^/]+\/tpgt_\d+\/lun\/lun_\d+\/[^/]+$/.test(r)) {
      if (!/^core\/[^/]+\/[^/]+$/.test(t)) throw fsError('EINVAL', 'symlink', path);
      if (this.content(`${t}/enable`).trim() !== '1') throw fsError('ENODEV', 'symlink', path);
    } else if (/^iscsi\/[^/]+\/tpgt_\d+\/acls\/[^/]+\/lun_\d+\/[^/]+$/.test(r)) {
      if (!/^iscsi\/[^/]+\/tpgt_\d+\/lun\/lun_\d+$/.test(t)) throw fsError('EINVAL', 'symlink', path);
    } else throw fsError('EPERM', 'symlink', path);
    symlinkSync(target, path);
    this.log.push(`symlink ${r} -> ${t}`);
  }

  async readlink(path: string): Promise<string> {
    this.check('readlink', path);
    return readlinkSync(path);
  }

  async unlink(path: string): Promise<void> {
    this.check('unlink', path);
    if (!existsSync(path) && !this.isLink(path)) throw fsError('ENOENT', 'unlink', path);
    if (!this.isLink(path)) throw fsError('EPERM', 'unlink', path);
    unlinkSync(path);
    this.log.push(`unlink ${this.rel(path)}`);
  }

  async list(path: string): Promise<DirEntry[]> {
    this.check('list', path);
    if (!existsSync(path)) throw fsError('ENOENT', 'list', path);
    return readdirSync(path, { withFileTypes: true }).map((d) => ({
      name: d.name,
      kind: d.isSymbolicLink() ? 'link' : d.isDirectory() ? 'dir' : 'file',
    }));
  }

  async exists(path: string): Promise<boolean> {
    return existsSync(path);
  }

  // ---------------------------------------------------------------- kernel behaviour

  private isLink(path: string): boolean {
    try {
      return lstatSync(path).isSymbolicLink();
    } catch {
      return false;
    }
  }

  private hasLinks(dir: string): boolean {
    return readdirSync(dir, { withFileTypes: true }).some((d) => d.isSymbolicLink());
  }

  /** Symlinks anywhere under iscsi/ that point at `target`. */
  private linksTo(target: string): string[] {
    const out: string[] = [];
    const walk = (dir: string) => {
      if (!existsSync(dir)) return;
      for (const d of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, d.name);
        if (d.isSymbolicLink()) {
          if (readlinkSync(p) === target) out.push(p);
        } else if (d.isDirectory()) walk(p);
      }
    };
    walk(join(this.root, 'iscsi'));
    return out;
  }

  private files(dir: string, files: Record<string, string>): void {
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, name), content);
    }
  }

  private groupFor(r: string): ((dir: string) => void) | undefined {
    if (/^core\/(iblock|fileio|pscsi|rd_mcp|user)_\d+$/.test(r))
      return (d) => this.files(d, { hba_info: 'HBA Index: 0 plugin: iblock version: v5.0\n', hba_mode: '0\n' });
    if (/^core\/iblock_\d+\/[^/]+$/.test(r)) {
      return (d) =>
        this.files(d, {
          alias: '\n',
          control: '',
          enable: '0\n',
          info: 'Status: DEACTIVATED  Max Queue Depth: 0  SectorSize: 0  HwMaxSectors: 0\n          readonly: 0\n        Major: 0 Minor: 0\n',
          udev_path: '\n',
          'attrib/emulate_tpu': '0\n',
          'attrib/emulate_tpws': '0\n',
          'attrib/block_size': '512\n',
          'wwn/vpd_unit_serial': 'T10 VPD Unit Serial Number: \n',
          'wwn/vendor_id': 'LIO-ORG\n',
        });
    }
    if (r === 'iscsi') {
      return (d) => {
        this.files(d, {
          lio_version: 'Datera Inc. iSCSI Target v4.1.0\n',
          cpus_allowed_list: '0-1\n',
          'discovery_auth/enforce_discovery_auth': '0\n',
        });
      };
    }
    if (/^iscsi\/[^/]+$/.test(r)) return (d) => this.files(d, { 'fabric_statistics/iscsi_instance/inst': '0\n' });
    if (/^iscsi\/[^/]+\/tpgt_\d+$/.test(r)) {
      return (d) => {
        this.files(d, {
          enable: '0\n',
          dynamic_sessions: '',
          'attrib/authentication': '1\n',
          'attrib/generate_node_acls': '0\n',
          'attrib/cache_dynamic_acls': '0\n',
          'attrib/demo_mode_write_protect': '1\n',
          'attrib/demo_mode_discovery': '1\n',
          'attrib/prod_mode_write_protect': '0\n',
          'attrib/login_timeout': '15\n',
          'auth/userid': '\n',
          'auth/password': '\n',
          'param/AuthMethod': 'CHAP,None\n',
          // LIO's defaults (Debian 6.1, seen in the VM tier)
          'param/MaxRecvDataSegmentLength': '8192\n',
          'param/MaxXmitDataSegmentLength': '262144\n',
          'param/MaxBurstLength': '262144\n',
          'param/FirstBurstLength': '65536\n',
          'param/InitialR2T': 'Yes\n',
          'param/ImmediateData': 'Yes\n',
        });
        for (const g of ['acls', 'lun', 'np']) mkdirSync(join(d, g));
      };
    }
    if (/^iscsi\/[^/]+\/tpgt_\d+\/lun\/lun_\d+$/.test(r))
      return (d) => this.files(d, { alua_tg_pt_gp: 'default_tg_pt_gp\n', 'statistics/scsi_port/indx': '0\n' });
    if (/^iscsi\/[^/]+\/tpgt_\d+\/np\/[^/]+$/.test(r)) return (d) => this.files(d, { iser: '0\n', cxgbit: '0\n' });
    if (/^iscsi\/[^/]+\/tpgt_\d+\/acls\/[^/]+$/.test(r)) {
      return (d) => {
        const init = r.split('/').at(-1) ?? '';
        this.files(d, {
          info: `No active iSCSI Session for Initiator Endpoint: ${init}\n`,
          cmdsn_depth: '64\n',
          tag: '\n',
          'auth/userid': '\n',
          'auth/password': '\n',
          'auth/userid_mutual': '\n',
          'auth/password_mutual': '\n',
          'auth/authenticate_target': '0\n',
          'attrib/dataout_timeout': '3\n',
          ...(this.perAclAuth ? { 'attrib/authentication': '-1\n' } : {}),
          'param/MaxConnections': '1\n',
        });
      };
    }
    if (/^iscsi\/[^/]+\/tpgt_\d+\/acls\/[^/]+\/lun_\d+$/.test(r))
      return (d) => this.files(d, { write_protect: '0\n', 'statistics/scsi_auth_intr/inst': '0\n' });
    return undefined;
  }

  private store(r: string, path: string, value: string): void {
    const show = (v: string) => writeFileSync(path, `${v}\n`);
    const bs = /^(core\/[^/]+\/[^/]+)\/(.+)$/.exec(r);
    if (bs) {
      const [, dirRel, file] = bs as unknown as [string, string, string];
      const dir = this.abs(dirRel);
      const enabled = this.content(`${dirRel}/enable`).trim() === '1';
      if (file === 'control') {
        for (const item of value.split(',')) {
          const [k, v] = item.split('=');
          if (k === 'udev_path' && v) {
            // the kernel keeps this inside iblock; the udev_path attribute does not change
            if (enabled) throw fsError('EEXIST', 'write', path);
            this.controlPath.set(dirRel, v);
          } else if (k === 'readonly' && (v === '0' || v === '1')) {
            if (enabled) throw fsError('EEXIST', 'write', path);
            writeFileSync(join(dir, 'info'), this.content(`${dirRel}/info`).replace(/readonly: \d/, `readonly: ${v}`));
          } else throw fsError('EINVAL', 'write', path);
        }
        return;
      }
      if (file === 'udev_path') {
        if (this.linksTo(dir).length > 0) throw fsError('EINVAL', 'write', path);
        show(value);
        return;
      }
      if (file === 'enable') {
        if (value !== '1' || enabled) throw fsError('EINVAL', 'write', path);
        const udev = this.controlPath.get(dirRel);
        if (!udev) throw fsError('EINVAL', 'write', path);
        const ro = /readonly: (\d)/.exec(this.content(`${dirRel}/info`))?.[1] ?? '0';
        const dm = `dm-${this.dm++}`;
        mkdirSync(join(this.sysBlock, dm), { recursive: true });
        writeFileSync(join(this.sysBlock, dm, 'size'), '65536\n');
        writeFileSync(
          join(dir, 'info'),
          `Status: DEACTIVATED  Max Queue Depth: 0  SectorSize: 512  HwMaxSectors: 4294967288\n        iBlock device: ${dm}  UDEV PATH: ${udev}  readonly: ${ro}\n        Major: 253 Minor: 0  CLAIMED: IBLOCK\n`,
        );
        show('1');
        return;
      }
      if (file === 'attrib/emulate_tpu' || file === 'attrib/emulate_tpws') {
        if (!enabled) {
          this.oopsed = true;
          throw fsError('EOOPS', 'write', path);
        }
        show(value);
        return;
      }
      if (file === 'wwn/vpd_unit_serial') {
        if (this.linksTo(dir).length > 0) throw fsError('EINVAL', 'write', path);
        writeFileSync(path, `T10 VPD Unit Serial Number: ${value.trim()}\n`);
        return;
      }
    }
    if (/\/auth\/authenticate_target$/.test(r)) throw fsError('EACCES', 'write', path);
    show(value);
  }
}
