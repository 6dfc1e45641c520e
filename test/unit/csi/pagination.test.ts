import { describe, expect, it } from 'vitest';
import { Aborted } from '../../../src/errors.js';
import { page } from '../../../src/csi/pagination.js';

const items = ['c', 'a', 'e', 'b', 'd'].map((id) => ({ id }));

describe('page', () => {
  it('returns everything sorted when max_entries is 0', () => {
    expect(page(items, 0, '')).toEqual({ entries: ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id })), nextToken: '' });
  });

  it('walks pages with next_token and ends with an empty token', () => {
    const seen: string[] = [];
    let token = '';
    let pages = 0;
    do {
      const p = page(items, 2, token);
      seen.push(...p.entries.map((e) => e.id));
      token = p.nextToken;
      pages++;
    } while (token);
    expect(seen).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(pages).toBe(3);
  });

  it('does not skip entries when one on an earlier page was deleted', () => {
    const first = page(items, 2, '');
    const after = page(
      items.filter((x) => x.id !== 'a'),
      2,
      first.nextToken,
    );
    expect(after.entries.map((e) => e.id)).toEqual(['c', 'd']);
  });

  it('answers ABORTED for a token it did not issue', () => {
    expect(() => page(items, 2, 'bogus')).toThrow(Aborted);
  });
});
