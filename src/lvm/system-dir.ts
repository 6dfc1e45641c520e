/**
 * The plugin's settings (settings.ts) written as an LVM configuration
 * directory, so that lvm commands run with `LVM_SYSTEM_DIR=<dir>` instead of
 * `--config <text>`.
 *
 * Why: lvm2 (tools/lvmcmdline.c, 2.03.16) reloads its whole tool context
 * (filters, formats, segment types, device types) when `--config` is given,
 * once before the command and once after it. That costs 7-10% of an lvcreate
 * or lvremove in the guest (docs/performance.md). A configuration read from
 * files at start costs nothing extra.
 *
 * The directory holds:
 * - `lvmlocal.conf`: `lvmconfig --mergedconfig --config <ours>` run against
 *   the host's directory (normally /etc/lvm): the host's lvm.conf,
 *   lvmlocal.conf (system_id, host_id, ...) and tag files merged, with the
 *   plugin's settings on top, exactly as `--config` would layer them.
 * - `lvm.conf`: the paths lvm derives from its system directory, pointing at
 *   the host's: backup/backup_dir, backup/archive_dir, config/profile_dir.
 *   It is the lower layer, so a path the host sets itself (in the merged
 *   file) wins, as it does for the host's own commands.
 * - `devices`: a symbolic link to the host's devices directory (the devices
 *   file system.devices and dmeventd.devices live there; lvm has no setting
 *   for that path).
 *
 * The host's lvm.conf and lvmlocal.conf and the two files written here are
 * checked (one stat each: inode, size, mtime) before every command, and the
 * directory is written again when one changed or went. A tag file
 * (lvm_<tag>.conf) edited in place is not noticed until one of those changes
 * or the plugin restarts. A private directory is removed when the plugin
 * stops; one left by a killed process is not reused.
 *
 * Whenever the directory cannot be made (lvmconfig fails, the disk is
 * read-only), `current()` answers undefined and Lvm passes `--config` as
 * before: the settings always apply, only the cost differs. A failure is
 * retried when the host's files change.
 */
import { lstat, mkdir, mkdtemp, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandRunner } from '../exec/runner.js';
import { lvmConfigString, type LvmSettings } from './settings.js';

/** Where an lvm command gets the plugin's settings from. */
export interface LvmEnvironment {
  /** Extra environment for an lvm command that carries the settings, or undefined: pass `--config`. */
  current(): Promise<Readonly<Record<string, string>> | undefined>;
}

interface Logger {
  info(o: object, msg: string): void;
  warn(o: object, msg: string): void;
}

/** The lvm.conf of the plugin's directory: the host's default paths (lvm2 lib/config/config.c, DEFAULT_*_SUBDIR). */
export function hostPathsConfig(hostDir: string): string {
  const q = (p: string) => JSON.stringify(p);
  return [
    '# written by csi-lvm-iscsi: the paths lvm derives from its system directory, at the host directory',
    `backup {\n\tbackup_dir=${q(join(hostDir, 'backup'))}\n\tarchive_dir=${q(join(hostDir, 'archive'))}\n}`,
    `config {\n\tprofile_dir=${q(join(hostDir, 'profile'))}\n}`,
    '',
  ].join('\n');
}

export class LvmSystemDir implements LvmEnvironment {
  /** The files' signature (signature()) the directory was written for, or failed for. */
  private done: string | undefined;
  private env: Readonly<Record<string, string>> | undefined;
  private writing: Promise<void> | undefined;

  constructor(
    private readonly runner: CommandRunner,
    private readonly settings: LvmSettings,
    /** The plugin's directory (created when missing; its files are the plugin's). */
    readonly dir: string,
    /** The host's LVM directory, where lvm looks by default; the merged configuration is read from it. */
    private readonly hostDir = '/etc/lvm',
    private readonly log?: Logger,
  ) {}

  /** A fresh private directory under the system's temporary directory (removed by remove()). */
  static async create(
    runner: CommandRunner,
    settings: LvmSettings,
    log?: Logger,
    parent: string = tmpdir(),
  ): Promise<LvmSystemDir> {
    return new LvmSystemDir(runner, settings, await mkdtemp(join(parent, 'csi-lvm-iscsi-lvm-')), undefined, log);
  }

  async current(): Promise<Readonly<Record<string, string>> | undefined> {
    for (;;) {
      const sig = await this.signature();
      if (sig === this.done) return this.env;
      // one writer at a time; whoever waited checks the signature again
      if (this.writing) {
        await this.writing;
        continue;
      }
      this.writing = this.write(sig).finally(() => (this.writing = undefined));
      await this.writing;
    }
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  /**
   * What identifies the configuration lvm reads: inode, size and mtime of the
   * host's two files and of the two written here. A file of ours that went
   * (a temporary-directory cleaner) is written again: without it lvm would run
   * with none of the plugin's settings, its device filter included.
   */
  private async signature(): Promise<string> {
    // before every lvm command: the four stats at once
    const [host, own] = await Promise.all([
      stamps([join(this.hostDir, 'lvm.conf'), join(this.hostDir, 'lvmlocal.conf')]),
      this.own(),
    ]);
    return `${host}#${own}`;
  }

  private own(): Promise<string> {
    return stamps([join(this.dir, 'lvm.conf'), join(this.dir, 'lvmlocal.conf')]);
  }

  private async write(sig: string): Promise<void> {
    try {
      // read from the host's directory, whatever LVM_SYSTEM_DIR the plugin itself was given: the paths point there
      const merged = (
        await this.runner.run(['lvmconfig', '--mergedconfig', '--config', lvmConfigString(this.settings)], {
          timeoutMs: 30_000,
          env: { LVM_SYSTEM_DIR: this.hostDir, LVM_SUPPRESS_FD_WARNINGS: '1' },
        })
      ).stdout;
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      await replace(join(this.dir, 'lvm.conf'), hostPathsConfig(this.hostDir));
      await replace(
        join(this.dir, 'lvmlocal.conf'),
        `# written by csi-lvm-iscsi: lvmconfig --mergedconfig --config <the plugin's settings>\n${merged}`,
      );
      const devices = join(this.dir, 'devices');
      if (!(await lstat(devices).catch(() => undefined))) await symlink(join(this.hostDir, 'devices'), devices);
      this.env = { LVM_SYSTEM_DIR: this.dir };
      this.log?.info(
        { dir: this.dir, hostDir: this.hostDir },
        'LVM configuration written; lvm commands read it instead of --config',
      );
    } catch (e) {
      this.env = undefined;
      this.log?.warn(
        { dir: this.dir, err: e instanceof Error ? e.message : String(e) },
        'could not write the LVM configuration directory; lvm commands carry --config instead',
      );
    }
    // the host's files as they were before lvmconfig read them; ours as written now
    this.done = `${sig.slice(0, sig.indexOf('#'))}#${await this.own()}`;
  }
}

/** inode:size:mtime of each file ('-' when missing). No stat of the host's directory: lvm creates backup/ and archive/ in it, and a file replaced by a rename has a new inode. */
async function stamps(paths: readonly string[]): Promise<string> {
  const parts = await Promise.all(
    paths.map(async (p) => {
      try {
        const s = await stat(p);
        return `${s.ino}:${s.size}:${s.mtimeMs}`;
      } catch {
        return '-';
      }
    }),
  );
  return parts.join('|');
}

/** Write a file whole: a command starting meanwhile reads the old or the new text, never a part. */
async function replace(path: string, text: string): Promise<void> {
  const tmp = `${path}.new`;
  await writeFile(tmp, text, { mode: 0o600 });
  await rename(tmp, path);
}
