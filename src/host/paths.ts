/**
 * Checks on paths that arrive in CSI requests (staging_target_path,
 * target_path, volume_path) before anything is mounted on them: absolute,
 * normalized, no ".." segment, no NUL, and helpers to see / create what is
 * there.
 */
import { constants } from 'node:fs';
import { access, lstat, mkdir, open, rmdir, stat, unlink } from 'node:fs/promises';
import { posix } from 'node:path';
import { FailedPrecondition, InvalidArgument } from '../errors.js';

const MAX_PATH_BYTES = 4096;

/** InvalidArgument(field) unless path is absolute, normalized and free of ".." and NUL. Returns it. */
export function assertSafePath(field: string, path: string): string {
  if (!path) throw new InvalidArgument(field, 'is required');
  if (path.includes('\0')) throw new InvalidArgument(field, 'must not contain NUL');
  if (Buffer.byteLength(path) > MAX_PATH_BYTES)
    throw new InvalidArgument(field, `is longer than ${MAX_PATH_BYTES} bytes`);
  if (!path.startsWith('/')) throw new InvalidArgument(field, `${JSON.stringify(path)} must be an absolute path`);
  if (path.split('/').includes('..')) throw new InvalidArgument(field, `${JSON.stringify(path)} must not contain ".."`);
  const normal = posix.normalize(path);
  const trimmed = normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal;
  if (trimmed !== path)
    throw new InvalidArgument(field, `${JSON.stringify(path)} is not normalized (expected ${JSON.stringify(trimmed)})`);
  return path;
}

export type PathKind = 'missing' | 'dir' | 'file' | 'block' | 'other';

/** What is at path (following symlinks); "missing" when nothing is. */
export async function pathKind(path: string): Promise<PathKind> {
  try {
    const st = await stat(path);
    if (st.isDirectory()) return 'dir';
    if (st.isFile()) return 'file';
    if (st.isBlockDevice()) return 'block';
    return 'other';
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing';
    throw e;
  }
}

export async function pathExists(path: string): Promise<boolean> {
  try {
    await access(path, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

/** mkdir -p with mode 0750 (no-op when the directory exists). */
export async function ensureDir(path: string, mode = 0o750): Promise<void> {
  await mkdir(path, { recursive: true, mode });
}

/**
 * Creates an empty regular file (and its parent directories) to bind-mount a
 * block device onto; an existing file is left alone. Mode 0640.
 */
export async function ensureFile(path: string, mode = 0o640): Promise<void> {
  if ((await pathKind(path)) !== 'missing') return; // may be a device bind-mounted already: do not open it
  await mkdir(posix.dirname(path), { recursive: true, mode: 0o750 });
  const fh = await open(path, constants.O_RDONLY | constants.O_CREAT, mode);
  await fh.close();
}

/**
 * Removes a publish target once nothing is mounted on it: an empty directory
 * (a file system's target) or an empty regular file (a raw block device's
 * bind target). Never recursive: a directory with entries or a file with
 * data may be someone's data (a bind that did not happen, a write that went
 * beside the volume) and is FailedPrecondition naming what is there. A path
 * already gone is success. Returns what was removed.
 */
export async function removeTarget(path: string): Promise<'dir' | 'file' | 'missing'> {
  let st;
  try {
    st = await lstat(path);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return 'missing';
    throw e;
  }
  try {
    if (st.isDirectory()) {
      await rmdir(path);
      return 'dir';
    }
    if (st.isFile() && st.size === 0) {
      await unlink(path);
      return 'file';
    }
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOENT') return 'missing';
    if (code === 'ENOTEMPTY' || code === 'EEXIST')
      throw new FailedPrecondition(
        `target path ${path} is not mounted but is a directory with entries; it is never removed recursively (move its contents away, then retry)`,
      );
    if (code === 'EBUSY')
      throw new FailedPrecondition(`target path ${path} is still busy (a mount point?); not removed`);
    throw e;
  }
  const what = st.isFile()
    ? `a regular file of ${st.size} bytes`
    : st.isSymbolicLink()
      ? 'a symbolic link'
      : 'not a directory or an empty file';
  throw new FailedPrecondition(
    `target path ${path} is not mounted but is ${what}; only an empty directory or an empty file (what NodePublishVolume makes) is removed`,
  );
}
