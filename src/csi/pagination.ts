/**
 * Pagination for ListVolumes and ListSnapshots: entries sorted by id, the
 * token names the last id returned, so deletions between pages do not skip or
 * repeat entries. A token this plugin did not make is ABORTED (CSI spec).
 */
import { Aborted, InvalidArgument } from '../errors.js';

const PREFIX = 'after:';

export function page<T extends { id: string }>(
  items: readonly T[],
  maxEntries: number,
  startingToken: string,
): { entries: T[]; nextToken: string } {
  if (maxEntries < 0) throw new InvalidArgument('max_entries', 'must not be negative');
  const sorted = [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  let start = 0;
  if (startingToken) {
    let after: string;
    try {
      const decoded = Buffer.from(startingToken, 'base64url').toString('utf8');
      if (!decoded.startsWith(PREFIX)) throw new Error('foreign token');
      after = decoded.slice(PREFIX.length);
    } catch {
      throw new Aborted(`starting_token "${startingToken}" was not issued by this plugin`);
    }
    start = sorted.findIndex((x) => x.id > after);
    if (start < 0) start = sorted.length;
  }
  const end = maxEntries > 0 ? Math.min(sorted.length, start + maxEntries) : sorted.length;
  const entries = sorted.slice(start, end);
  const last = entries[entries.length - 1];
  const nextToken = end < sorted.length && last ? Buffer.from(PREFIX + last.id, 'utf8').toString('base64url') : '';
  return { entries, nextToken };
}
