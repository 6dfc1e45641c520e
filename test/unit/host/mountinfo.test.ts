import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MountTable, parseMountinfo } from '../../../src/host/mountinfo.js';
import { mountinfo } from './mount-table.js';

const fixture = readFileSync(join(import.meta.dirname, 'fixtures', 'mountinfo-node.txt'), 'utf8');
const table = (text: string) => new MountTable(async () => text);

describe('parseMountinfo', () => {
  it('a file system mount', () => {
    expect(parseMountinfo(fixture).find((m) => m.target === '/tmp/node-layers/stage')).toEqual({
      target: '/tmp/node-layers/stage',
      source: '/dev/sda',
      device: '/dev/sda',
      fstype: 'ext4',
      vfsOptions: ['rw', 'noatime'],
      fsOptions: ['rw'],
      majMin: '8:0',
      fsroot: '/',
      readOnly: false,
    });
  });

  it('read-only per mount (a read-only bind) or per superblock (errors=remount-ro after I/O errors)', () => {
    const all = parseMountinfo(fixture);
    expect(all.find((m) => m.target === '/tmp/node-layers/pub')).toMatchObject({
      device: '/dev/sda',
      readOnly: true,
      fsOptions: ['rw'],
    });
    expect(all.find((m) => m.target === '/mnt/broken')).toMatchObject({
      device: '/dev/sdc',
      readOnly: true,
      vfsOptions: ['rw', 'relatime'],
    });
  });

  it('a block device bound onto a file: devtmpfs with the node as root; a sub-tree bind shows its root in brackets', () => {
    const all = parseMountinfo(fixture);
    expect(all.find((m) => m.target === '/tmp/node-layers/blk')).toMatchObject({
      source: 'devtmpfs[/sda]',
      device: 'devtmpfs',
      fstype: 'devtmpfs',
      fsroot: '/sda',
    });
    expect(all.find((m) => m.target.endsWith('pvc-1/mount'))).toMatchObject({
      source: '/dev/sdb[/data]',
      device: '/dev/sdb',
      fsroot: '/data',
      readOnly: true,
    });
  });

  it('octal escapes in paths are decoded; the kernel order is kept (stacked mounts: topmost last)', () => {
    const odd = parseMountinfo(fixture).filter((m) => m.target === '/mnt/with space\tand\\slash');
    expect(odd.map((m) => m.device)).toEqual(['tmpfs', 'tmpfs2']);
  });

  it('optional fields of any number before the separator', () => {
    const [m] = parseMountinfo(
      '36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 shared:7 propagate_from:2 - ext3 /dev/root rw,errors=continue\n',
    );
    expect(m).toMatchObject({
      target: '/mnt/parent',
      fsroot: '/mnt1',
      source: '/dev/root[/mnt1]',
      fstype: 'ext3',
      fsOptions: ['rw', 'errors=continue'],
    });
    expect(parseMountinfo('36 35 98:0 / /x rw - ext3 /dev/root rw\n')).toHaveLength(1);
  });

  it('an empty table is no mounts; a line that is not mountinfo is an error, never a silent skip', () => {
    expect(parseMountinfo('')).toEqual([]);
    expect(() => parseMountinfo('/dev/sda /mnt ext4 rw 0 0\n')).toThrow(/unexpected mountinfo line/);
  });

  it('the test helper writes what the parser reads back', () => {
    const [m] = parseMountinfo(
      mountinfo({ target: '/a b/c', source: '/dev/sdb', ro: true, majMin: '8:17', fsroot: '/d' }),
    );
    expect(m).toMatchObject({ target: '/a b/c', device: '/dev/sdb', readOnly: true, majMin: '8:17', fsroot: '/d' });
  });
});

describe('MountTable', () => {
  it('mountAt: the topmost mount at exactly that path, undefined when nothing is mounted there', async () => {
    const t = table(fixture);
    expect((await t.mountAt('/tmp/node-layers/stage'))?.device).toBe('/dev/sda');
    expect((await t.mountAt('/mnt/with space\tand\\slash'))?.device).toBe('tmpfs2');
    expect(await t.mountAt('/tmp/node-layers')).toBeUndefined();
    expect(await t.mountAt('/nowhere')).toBeUndefined();
  });

  it('mountAt resolves a symbolic link to the mount point, as findmnt does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mountinfo-'));
    const real = join(dir, 'stage');
    writeFileSync(real, '');
    symlinkSync(real, join(dir, 'link'));
    const t = table(mountinfo({ target: real, source: '/dev/sdb' }));
    expect((await t.mountAt(join(dir, 'link')))?.device).toBe('/dev/sdb');
  });

  it('mountsOf: by the device path and by any name that resolves to it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mountinfo-'));
    const dev = join(dir, 'sdb');
    writeFileSync(dev, '');
    symlinkSync(dev, join(dir, 'by-path-link'));
    const t = table(mountinfo({ target: '/stage', source: dev }, { target: '/other', source: '/dev/sdc' }));
    expect((await t.mountsOf(join(dir, 'by-path-link'))).map((m) => m.target)).toEqual(['/stage']);
    expect((await t.mountsOf(dev)).map((m) => m.target)).toEqual(['/stage']);
    expect(await t.mountsOf('/dev/sdz')).toEqual([]);
  });

  it("reads this process's real mount table: / is mounted", async () => {
    expect((await new MountTable().mountAt('/'))?.target).toBe('/');
  });
});
