import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidArgument } from '../../../src/errors.js';
import { assertSafePath, ensureDir, ensureFile, pathExists, pathKind } from '../../../src/host/paths.js';
import { fsStats } from '../../../src/host/stats.js';

describe('assertSafePath', () => {
  it('accepts absolute normalized paths', () => {
    expect(assertSafePath('target_path', '/var/lib/kubelet/pods/p/volumes/x/mount')).toBe(
      '/var/lib/kubelet/pods/p/volumes/x/mount',
    );
    expect(assertSafePath('target_path', '/')).toBe('/');
  });

  it.each([
    ['', /is required/],
    ['relative/path', /absolute/],
    ['/a/../etc', /\.\./],
    ['/a/..', /\.\./],
    ['/a//b', /not normalized/],
    ['/a/./b', /not normalized/],
    ['/a/b/', /not normalized/],
    ['/a\0b', /NUL/],
    [`/${'x'.repeat(5000)}`, /longer/],
  ])('rejects %j', (p, why) => {
    expect(() => assertSafePath('target_path', p)).toThrow(InvalidArgument);
    expect(() => assertSafePath('target_path', p)).toThrow(why);
  });

  it('names the field', () => {
    expect(() => assertSafePath('staging_target_path', 'x')).toThrow(/^staging_target_path: /);
  });
});

describe('path helpers', () => {
  it('ensureDir / ensureFile / pathKind / pathExists', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'csi-paths-'));
    const d = join(dir, 'a', 'b');
    const f = join(dir, 'blk', 'dev');
    expect(await pathKind(d)).toBe('missing');
    await ensureDir(d);
    await ensureDir(d);
    expect(await pathKind(d)).toBe('dir');
    await ensureFile(f);
    writeFileSync(f, 'keep');
    await ensureFile(f); // an existing file is left alone
    expect(statSync(f).size).toBe(4);
    expect(await pathKind(f)).toBe('file');
    expect(await pathExists(f)).toBe(true);
    expect(await pathExists(join(dir, 'nope'))).toBe(false);
    expect(await pathKind(join(f, 'under-a-file'))).toBe('missing');
  });
});

describe('fsStats', () => {
  it('gives plausible numbers for a real file system', async () => {
    const s = await fsStats(tmpdir());
    expect(s.totalBytes).toBeGreaterThan(0);
    expect(s.usedBytes).toBeGreaterThanOrEqual(0);
    expect(s.usedBytes).toBeLessThanOrEqual(s.totalBytes);
    expect(s.availableBytes).toBeLessThanOrEqual(s.totalBytes - s.usedBytes);
    expect(s.usedInodes + s.freeInodes).toBe(s.totalInodes);
  });
});
