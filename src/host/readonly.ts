/**
 * Mount options for a file system that must be mounted read-only and must
 * not be written even to replay its journal: a volume staged through a
 * reader-only access mode may be mounted on several nodes at once, or be
 * mounted read-write somewhere else. `ro` alone still lets ext4 and xfs
 * replay a dirty journal (a write to the device); these options stop that:
 *
 *   ext4  ro,noload      do not load (replay) the journal
 *   xfs   ro,norecovery  do not run log recovery (xfs requires ro with it)
 *
 * Other file systems get `ro` only.
 */
const NO_REPLAY: Record<string, string> = { ext4: 'noload', xfs: 'norecovery' };

/** `options` plus "ro" and the file system's no-journal-replay option (each once). */
export function readOnlyMountOptions(fsType: string, options: readonly string[]): string[] {
  const out = options.filter((o) => o !== 'rw');
  for (const add of ['ro', NO_REPLAY[fsType]]) if (add && !out.includes(add)) out.push(add);
  return out;
}
