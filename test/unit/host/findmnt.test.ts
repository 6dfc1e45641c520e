import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeRunner } from '../../doubles/fake-runner.js';
import { Findmnt, parseFindmnt } from '../../../src/host/findmnt.js';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8');
const COLS = 'TARGET,SOURCE,FSTYPE,OPTIONS,VFS-OPTIONS,FS-OPTIONS,MAJ:MIN,FSROOT';

describe('parseFindmnt', () => {
  it('a file system mount (VM tier output)', () => {
    expect(parseFindmnt(fixture('findmnt-stage-vm.json'))).toEqual([
      {
        target: '/tmp/node-layers/stage',
        source: '/dev/sda',
        device: '/dev/sda',
        fstype: 'ext4',
        options: ['rw', 'noatime'],
        vfsOptions: ['rw', 'noatime'],
        fsOptions: ['rw'],
        majMin: '8:0',
        fsroot: '/',
        readOnly: false,
      },
    ]);
  });

  it('a read-only bind mount: ro per mount while the superblock is rw', () => {
    const [m] = parseFindmnt(fixture('findmnt-bind-ro-vm.json'));
    expect(m).toMatchObject({ target: '/tmp/node-layers/pub', device: '/dev/sda', readOnly: true, fsOptions: ['rw'] });
  });

  it('a block device bound onto a file: devtmpfs with the node as root', () => {
    const [m] = parseFindmnt(fixture('findmnt-block-bind-vm.json'));
    expect(m).toMatchObject({ source: 'devtmpfs[/sda]', device: 'devtmpfs', fstype: 'devtmpfs', fsroot: '/sda', readOnly: false });
  });

  it('flattens the tree form, strips [fsroot] from the device, handles nulls and a read-only superblock', () => {
    const all = parseFindmnt(fixture('findmnt-tree.json'));
    expect(all.map((m) => [m.target, m.device, m.fsroot, m.readOnly])).toEqual([
      ['/', '/dev/vda1', '/', false],
      ['/var/lib/kubelet/plugins/kubernetes.io/csi/csi-lvm-iscsi/abc/globalmount', '/dev/sdb', '/', false],
      ['/var/lib/kubelet/pods/p1/volumes/kubernetes.io~csi/pvc-1/mount', '/dev/sdb', '/data', true],
      ['/mnt/broken', '/dev/sdc', '/', true],
      ['/mnt/tmp', 'tmpfs', '/', false],
    ]);
    expect(all[4]?.options).toEqual([]);
  });

  it('empty output is no mounts', () => {
    expect(parseFindmnt('')).toEqual([]);
  });
});

describe('Findmnt', () => {
  it('mountsAt / mountAt query one mount point; exit 1 means nothing mounted', async () => {
    const runner = new FakeRunner();
    runner
      .expect(['findmnt', '-J', '-l', '-o', COLS, '--mountpoint', '/tmp/node-layers/stage'], { stdout: fixture('findmnt-stage-vm.json') })
      .expect(['findmnt', '-J', '-l', '-o', COLS, '--mountpoint', '/nowhere'], { exitCode: 1 });
    const f = new Findmnt(runner);
    expect((await f.mountAt('/tmp/node-layers/stage'))?.device).toBe('/dev/sda');
    expect(await f.mountAt('/nowhere')).toBeUndefined();
    runner.assertDone();
  });

  it('mountsOf queries by source; all lists everything', async () => {
    const runner = new FakeRunner();
    runner
      .expect(['findmnt', '-J', '-l', '-o', COLS, '--source', '/dev/sdb'], { stdout: fixture('findmnt-tree.json') })
      .expect(['findmnt', '-J', '-l', '-o', COLS], { stdout: fixture('findmnt-tree.json') });
    const f = new Findmnt(runner);
    expect(await f.mountsOf('/dev/sdb')).toHaveLength(5);
    expect(await f.all()).toHaveLength(5);
    runner.assertDone();
  });
});
