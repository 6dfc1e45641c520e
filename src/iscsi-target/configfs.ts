/**
 * The file operations LIO is driven with, behind a small interface so unit
 * tests can run the LIO code against an imitation of configfs in a temporary
 * directory (test/unit/iscsi-target/fake-configfs.ts).
 *
 * configfs rules the callers rely on (seen on Debian's 6.1 kernel):
 * - mkdir of an item directory makes the kernel create the object and fill
 *   the directory with its attribute files and default groups;
 * - rmdir removes such a directory with its attribute files, but fails with
 *   ENOTEMPTY while it holds directories or symlinks made by the user;
 * - an attribute is set by ONE write(2) of its value; a trailing newline is
 *   stripped by most stores but not all (auth/userid, auth/password keep it),
 *   so values are written without one;
 * - a few attributes are write-only (core/.../control) and cannot be read;
 * - symlinks link objects (LUN -> backstore, mapped LUN -> LUN); the kernel
 *   resolves the target path like any path, so absolute targets are used.
 */
import { constants } from 'node:fs';
import { mkdir, open, readdir, readFile, readlink, rmdir, symlink, unlink, access } from 'node:fs/promises';

export interface DirEntry {
  name: string;
  kind: 'dir' | 'file' | 'link';
}

export interface ConfigFsOps {
  /** One directory (not recursive). EEXIST is thrown as is. */
  mkdir(path: string): Promise<void>;
  rmdir(path: string): Promise<void>;
  /** The attribute's whole content as the kernel shows it (usually with a trailing newline). */
  read(path: string): Promise<string>;
  /** One write(2) of `value` to an existing attribute. */
  write(path: string, value: string): Promise<void>;
  symlink(target: string, path: string): Promise<void>;
  readlink(path: string): Promise<string>;
  unlink(path: string): Promise<void>;
  /** Entries of a directory; throws ENOENT when it does not exist. */
  list(path: string): Promise<DirEntry[]>;
  exists(path: string): Promise<boolean>;
}

/** The real thing: node:fs on /sys/kernel/config (or any directory). */
export class NodeConfigFs implements ConfigFsOps {
  async mkdir(path: string): Promise<void> {
    await mkdir(path);
  }

  async rmdir(path: string): Promise<void> {
    await rmdir(path);
  }

  async read(path: string): Promise<string> {
    return readFile(path, 'utf8');
  }

  async write(path: string, value: string): Promise<void> {
    // O_WRONLY without O_CREAT: attributes exist, or the name is wrong and
    // ENOENT says so (configfs does not let anyone create files anyway).
    const fh = await open(path, constants.O_WRONLY);
    try {
      const buf = Buffer.from(value, 'utf8');
      const { bytesWritten } = await fh.write(buf, 0, buf.length, null);
      if (bytesWritten !== buf.length)
        throw new Error(`short write to ${path}: ${bytesWritten} of ${buf.length} bytes`);
    } finally {
      await fh.close();
    }
  }

  async symlink(target: string, path: string): Promise<void> {
    await symlink(target, path);
  }

  async readlink(path: string): Promise<string> {
    return readlink(path);
  }

  async unlink(path: string): Promise<void> {
    await unlink(path);
  }

  async list(path: string): Promise<DirEntry[]> {
    const entries = await readdir(path, { withFileTypes: true });
    return entries.map((d) => ({ name: d.name, kind: d.isSymbolicLink() ? 'link' : d.isDirectory() ? 'dir' : 'file' }));
  }

  async exists(path: string): Promise<boolean> {
    try {
      await access(path, constants.F_OK);
      return true;
    } catch {
      return false;
    }
  }
}

/** The errno code of a node:fs error ("ENOENT", ...), or undefined. */
export function errnoCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
