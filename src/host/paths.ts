/**
 * Checks on paths that arrive in CSI requests (staging_target_path,
 * target_path, volume_path) before anything is mounted on them: absolute,
 * normalized, no ".." segment, no NUL, and helpers to see / create what is
 * there.
 */
import { constants } from 'node:fs';
import { access, mkdir, open, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { InvalidArgument } from '../errors.js';

export const MAX_PATH_BYTES = 4096;

/** InvalidArgument(field) unless path is absolute, normalized and free of ".." and NUL. Returns it. */
export function assertSafePath(field: string, path: string): string {
  if (!path) throw new InvalidArgument(field, 'is required');
  if (path.includes('\0')) throw new InvalidArgument(field, 'must not contain NUL');
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) throw new InvalidArgument(field, `is longer than ${MAX_PATH_BYTES} bytes`);
  if (!path.startsWith('/')) throw new InvalidArgument(field, `${JSON.stringify(path)} must be an absolute path`);
  if (path.split('/').includes('..')) throw new InvalidArgument(field, `${JSON.stringify(path)} must not contain ".."`);
  const normal = posix.normalize(path);
  const trimmed = normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal;
  if (trimmed !== path) throw new InvalidArgument(field, `${JSON.stringify(path)} is not normalized (expected ${JSON.stringify(trimmed)})`);
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
