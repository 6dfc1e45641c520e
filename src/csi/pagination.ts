/**
 * Pagination for ListVolumes and ListSnapshots: entries sorted by id, the
 * token names the last id returned, so deletions between pages do not skip or
 * repeat entries. A token this plugin did not make is ABORTED (CSI spec).
 */
import { byCodeUnit } from '../compare.js';
import { Aborted, InvalidArgument } from '../errors.js';

const PREFIX = 'after:';

/** The last id the token names; undefined for no token (the first page). A token this plugin did not make is ABORTED. */
export function tokenAfter(startingToken: string): string | undefined {
  if (!startingToken) return undefined;
  try {
    const decoded = Buffer.from(startingToken, 'base64url').toString('utf8');
    if (!decoded.startsWith(PREFIX)) throw new Error('foreign token');
    return decoded.slice(PREFIX.length);
  } catch {
    throw new Aborted(`starting_token "${startingToken}" was not issued by this plugin`);
  }
}

/**
 * One page of `items`. They may hold more than the page (every entry, or a
 * page from each storage node asked for one entry more than the page: then an
 * entry left out here is what makes the next token).
 */
export function page<T extends { id: string }>(
  items: readonly T[],
  maxEntries: number,
  startingToken: string,
): { entries: T[]; nextToken: string } {
  if (maxEntries < 0) throw new InvalidArgument('max_entries', 'must not be negative');
  const after = tokenAfter(startingToken);
  const sorted = (after === undefined ? [...items] : items.filter((x) => x.id > after)).sort((a, b) =>
    byCodeUnit(a.id, b.id),
  );
  const end = maxEntries > 0 ? Math.min(sorted.length, maxEntries) : sorted.length;
  const entries = sorted.slice(0, end);
  const last = entries[entries.length - 1];
  const nextToken = end < sorted.length && last ? Buffer.from(PREFIX + last.id, 'utf8').toString('base64url') : '';
  return { entries, nextToken };
}
