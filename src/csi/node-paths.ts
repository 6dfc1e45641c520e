/**
 * The node service's request paths (staging_target_path, target_path,
 * volume_path): where they may be, and what a file-system refusal answers.
 *
 * Where (only with --restrict-paths-to-kubelet-dir true): below the places
 * kubelet makes them in its root directory, symbolic links and ".." resolved
 * first (kubernetes pkg/volume/csi): a file system's staging path is
 * plugins/kubernetes.io/csi/<driver>/<sha256 of the volume handle>/globalmount
 * (csi_attacher.go; pv/<name>/globalmount before 1.24), a raw block volume's
 * plugins/kubernetes.io/csi/volumeDevices/staging/<spec> (csi_block.go); a
 * file system's target path is pods/<pod uid>/volumes/kubernetes.io~csi/<spec>/mount
 * (csi_mounter.go), a raw block volume's
 * plugins/kubernetes.io/csi/volumeDevices/publish/<spec>/<pod uid>. Anything
 * else (/tmp, /etc, the plugin's own directory under plugins/<driver>) is
 * INVALID_ARGUMENT naming the field, before anything is touched.
 *
 * Refusals: a mkdir over
 * a device node, a state file beside /proc/self, a read-only /sys. Each
 * errno on a path at, below or beside (the stage state file) a request path
 * becomes a status naming that field, never INTERNAL: a path that cannot be
 * what the field needs is INVALID_ARGUMENT, a host that refuses it (access,
 * read-only, busy, missing parent) is FAILED_PRECONDITION. An errno on any
 * other path (the plugin's own publish index) stays what it is.
 */
import { realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DomainError, FailedPrecondition, InvalidArgument } from '../errors.js';

type PathField = 'staging_target_path' | 'target_path' | 'volume_path';
export type RequestPaths = Partial<Record<PathField, string>>;

/** The path is no directory or file of the kind needed, or cannot be one. */
const INVALID = new Set(['EEXIST', 'ENOTDIR', 'EISDIR', 'ENAMETOOLONG', 'ELOOP', 'EINVAL', 'ENXIO', 'ENODEV']);
/** The path is fine; the host does not let it be used now. */
const REFUSED = new Set(['EACCES', 'EPERM', 'EROFS', 'EBUSY', 'ENOSPC', 'EDQUOT', 'ENOENT', 'EXDEV', 'EMLINK']);

const covers = (requested: string, touched: string) =>
  touched === requested ||
  touched.startsWith(`${requested}/`) ||
  touched.startsWith(`${requested}.`) || // the stage state file and its temporary file beside the staging path
  requested.startsWith(`${touched}/`); // a parent made on the way (mkdir -p)

/** The status for an errno error on one of the request's paths; undefined for anything else. */
export function pathRefusal(e: unknown, paths: RequestPaths): DomainError | undefined {
  if (e instanceof DomainError || !(e instanceof Error)) return undefined;
  const { code, path, syscall } = e as NodeJS.ErrnoException;
  if (!code || !path || (!INVALID.has(code) && !REFUSED.has(code))) return undefined;
  let field: PathField | undefined;
  for (const [f, p] of Object.entries(paths) as Array<[PathField, string | undefined]>) {
    if (p && covers(p, path) && (!field || p.length > (paths[field] ?? '').length)) field = f;
  }
  if (!field) return undefined;
  const what = `${syscall ?? 'access'} of ${JSON.stringify(path)} failed with ${code}`;
  return INVALID.has(code)
    ? new InvalidArgument(field, `${JSON.stringify(paths[field])} cannot be used: ${what}`)
    : new FailedPrecondition(`${field} ${JSON.stringify(paths[field])} cannot be used on this node now: ${what}`);
}

/** Runs a node call, turning errno errors on its request paths into statuses naming the field. */
export async function withPathErrors<T>(paths: RequestPaths, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    throw pathRefusal(e, paths) ?? e;
  }
}

/** Below which directories of kubelet's root each field may be. */
const KUBELET_PLACES: Record<PathField, readonly string[]> = {
  staging_target_path: ['plugins/kubernetes.io/csi'],
  target_path: ['pods', 'plugins/kubernetes.io/csi/volumeDevices/publish'],
  // the target path (stats), or the staging path (expansion of a file system staged there)
  volume_path: ['pods', 'plugins/kubernetes.io/csi'],
};

/** The path with every symbolic link and ".." resolved: realpath of its longest existing part, the rest (which holds no link) appended. */
async function resolvePath(path: string): Promise<string> {
  const rest: string[] = [];
  let head = path;
  for (;;) {
    try {
      return join(await realpath(head), ...rest);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || head === dirname(head)) throw e;
      rest.unshift(basename(head));
      head = dirname(head);
    }
  }
}

/** InvalidArgument naming the first field whose path, resolved, is not below kubelet's directory for it. */
export async function assertKubeletPaths(kubeletDir: string, paths: RequestPaths): Promise<void> {
  const root = await resolvePath(kubeletDir);
  for (const [field, path] of Object.entries(paths) as Array<[PathField, string | undefined]>) {
    if (!path?.startsWith('/')) continue; // relative volume_path: the handler answers NOT_FOUND
    const real = await resolvePath(path);
    const places = KUBELET_PLACES[field].map((p) => join(root, p));
    if (places.some((p) => real.startsWith(`${p}/`))) continue;
    throw new InvalidArgument(
      field,
      `${JSON.stringify(path)}${real === path ? '' : ` (resolved: ${JSON.stringify(real)})`} is not below ${places.map((p) => `${p}/`).join(' or ')}, where kubelet puts it; --restrict-paths-to-kubelet-dir is on`,
    );
  }
}
