import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CommandFailed, InvalidArgument } from '../../../src/errors.js';
import { FakeRunner } from '../../doubles/fake-runner.js';
import {
  Multipath,
  multipathProblem,
  parseFindMultipaths,
  parseMultipathLl,
} from '../../../src/iscsi-initiator/multipath.js';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8');

describe('parseMultipathLl', () => {
  it('reads maps with and without an alias, and their paths', () => {
    const maps = parseMultipathLl(fixture('multipath-ll.txt'));
    expect(maps.map((m) => [m.name, m.wwid, m.dm, m.vendorProduct])).toEqual([
      ['mpatha', '36001405c3a8f2b1d4e5f60718293a4b5', 'dm-3', 'LIO-ORG,lv1'],
      ['36001405aa11bb22cc33dd44ee55ff667', '36001405aa11bb22cc33dd44ee55ff667', 'dm-4', 'LIO-ORG,lv2'],
    ]);
    expect(maps[0]?.paths).toEqual([
      { hctl: '4:0:0:0', device: 'sdc', devt: '8:32', states: ['active', 'ready', 'running'] },
      { hctl: '5:0:0:0', device: 'sde', devt: '8:64', states: ['failed', 'faulty', 'running'] },
    ]);
    expect(maps[1]?.paths.map((p) => p.device)).toEqual(['sdf', 'sdg']);
  });

  it('real output captured on the VM tier (LIO over two loopback portals, user_friendly_names no)', () => {
    expect(parseMultipathLl(fixture('multipath-ll-vm.txt'))).toEqual([
      {
        name: '36001405363287973876ce0526788c328',
        wwid: '36001405363287973876ce0526788c328',
        dm: 'dm-1',
        vendorProduct: 'LIO-ORG,IBLOCK',
        paths: [
          { hctl: '0:0:0:0', device: 'sda', devt: '8:0', states: ['active', 'ready', 'running'] },
          { hctl: '1:0:0:0', device: 'sdb', devt: '8:16', states: ['active', 'ready', 'running'] },
        ],
      },
    ]);
  });

  it('accepts an action prefix (multipath creating a map) and empty output', () => {
    expect(parseMultipathLl('create: mpathb (3600140512345) undef LIO-ORG,lv3\n')).toEqual([]);
    expect(parseMultipathLl('create: mpathb (3600140512345) dm-7 LIO-ORG,lv3\n')[0]).toMatchObject({
      name: 'mpathb',
      dm: 'dm-7',
    });
    expect(parseMultipathLl('')).toEqual([]);
  });
});

describe('Multipath', () => {
  function sysfs(): string {
    const root = mkdtempSync(join(tmpdir(), 'csi-sysfs-'));
    const mk = (p: string, content?: string) => {
      const full = join(root, p);
      if (content === undefined) mkdirSync(full, { recursive: true });
      else writeFileSync(full, content);
    };
    mk('block/sdc/holders/dm-3');
    mk('block/sde/holders');
    mk('block/sdh/holders/dm-9');
    mk('block/dm-3/dm');
    mk('block/dm-3/dm/uuid', 'mpath-36001405c3a8f2b1d4e5f60718293a4b5\n');
    mk('block/dm-3/dm/name', 'mpatha\n');
    mk('block/dm-9/dm');
    mk('block/dm-9/dm/uuid', 'LVM-abcdef\n');
    mk('block/dm-9/dm/name', 'vg-lv\n');
    return root;
  }

  it('mapOf finds the dm-multipath holder of the disks through sysfs', async () => {
    const mp = new Multipath(new FakeRunner(), { sysfsRoot: sysfs() });
    expect(await mp.mapOf(['sdx', 'sde', 'sdc'])).toEqual({
      name: 'mpatha',
      dm: 'dm-3',
      devicePath: '/dev/mapper/mpatha',
    });
    expect(await mp.mapOf(['sdh'])).toBeUndefined(); // an LVM holder is not a multipath map
    expect(await mp.mapOf([])).toBeUndefined();
    await expect(mp.mapOf(['../etc'])).rejects.toBeInstanceOf(InvalidArgument);
  });

  it('flush, resize and list run the exact commands', async () => {
    const runner = new FakeRunner();
    runner
      .expect(['multipath', '-f', 'mpatha'])
      .expect(['multipathd', 'resize', 'map', 'mpatha'], { stdout: 'ok\n' })
      .expect(['multipathd', 'resize', 'map', 'mpatha'], { stdout: 'fail\n' })
      .expect(['multipath', '-ll'], { stdout: fixture('multipath-ll.txt') });
    const mp = new Multipath(runner);
    await mp.flush('mpatha');
    await mp.resize('mpatha');
    await expect(mp.resize('mpatha')).rejects.toBeInstanceOf(CommandFailed);
    expect((await mp.list()).map((m) => m.name)).toEqual(['mpatha', '36001405aa11bb22cc33dd44ee55ff667']);
    await expect(mp.flush('a b')).rejects.toBeInstanceOf(InvalidArgument);
    runner.assertDone();
  });

  it('flush retries a map that udev or multipathd still hold, and gives up on other errors', async () => {
    const runner = new FakeRunner();
    const inUse = { exitCode: 1, stderr: '936.175450 | 36001405363287973876ce0526788c328: map in use\n' };
    // seen in a CI run of node-layers.test.ts right after `multipathd resize map`
    const busy = {
      exitCode: 1,
      stderr:
        '1059.562233 | libdevmapper: ioctl/libdm-iface.c(1980): device-mapper: remove ioctl on 36001405363287973876ce0526788c328  failed: Device or resource busy\n' +
        '1059.563317 | dm_simplecmd: libdm task=2 error: Device or resource busy\n1059.563899 | failed to remove multipath map 36001405363287973876ce0526788c328\n',
    };
    runner
      .expect(['multipath', '-f', 'mpathb'], inUse)
      .expect(['multipath', '-f', 'mpathb'], busy)
      .expect(['multipath', '-f', 'mpathb'])
      .expect(['multipath', '-f', 'mpathc'], { exitCode: 1, stderr: 'mpathc: no such map\n' });
    const mp = new Multipath(runner);
    await mp.flush('mpathb');
    await expect(mp.flush('mpathc')).rejects.toBeInstanceOf(CommandFailed);
    runner.assertDone();
  });
});

describe('multipath configuration check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netunix-'));
  const running = join(dir, 'running');
  const stopped = join(dir, 'stopped');
  writeFileSync(
    running,
    'Num RefCount Protocol Flags Type St Inode Path\n0000000000000000: 00000002 00000000 00010000 0001 01 31337 @/org/kernel/linux/storage/multipathd\n',
  );
  writeFileSync(stopped, 'Num RefCount Protocol Flags Type St Inode Path\n');
  const withPolicy = (v: string) =>
    fixture('multipath-t-debian12.txt').replace('find_multipaths "strict"', `find_multipaths ${v}`);

  it('parseFindMultipaths reads the defaults section (quoted or not)', () => {
    expect(parseFindMultipaths(fixture('multipath-t-debian12.txt'))).toBe('strict'); // multipath-tools 0.9.4 without /etc/multipath.conf
    expect(parseFindMultipaths(withPolicy('yes'))).toBe('yes');
    expect(parseFindMultipaths('overrides {\n\tfind_multipaths "no"\n}\n')).toBeUndefined();
  });

  it('no problem with multipathd running and a policy that assembles new maps', async () => {
    const runner = new FakeRunner();
    runner
      .expect(['multipathd', 'show', 'config'], { stdout: withPolicy('"yes"') })
      .expect(['multipathd', 'show', 'config'], { stdout: withPolicy('greedy') });
    expect(await multipathProblem(runner, { procNetUnix: running })).toBeUndefined();
    expect(await multipathProblem(runner, { procNetUnix: running })).toBeUndefined();
    runner.assertDone();
  });

  it('names what is missing: the daemon, an answer, or a policy other than strict', async () => {
    const runner = new FakeRunner();
    expect(await multipathProblem(runner, { procNetUnix: stopped })).toMatch(/^multipathd is not running on this node/);
    runner
      .expect(['multipathd', 'show', 'config'], { stdout: fixture('multipath-t-debian12.txt') })
      .expect(['multipathd', 'show', 'config'], { exitCode: 1, stderr: 'error -104 receiving packet\n' });
    expect(await multipathProblem(runner, { procNetUnix: running })).toMatch(
      /find_multipaths "strict".*set find_multipaths "yes"/,
    );
    expect(await multipathProblem(runner, { procNetUnix: running })).toMatch(
      /multipathd does not answer "multipathd show config" \(.*error -104/,
    );
    runner.assertDone();
  });
});
