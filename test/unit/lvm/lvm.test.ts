import { describe, expect, it } from 'vitest';
import { AlreadyExists, Busy, CommandFailed, InvalidArgument, NotFound, OutOfCapacity } from '../../../src/errors.js';
import { FakeRunner } from '../../doubles/fake-runner.js';
import { Lvm, sizeArg } from '../../../src/lvm/lvm.js';
import { LV_FIELDS, PV_FIELDS, VG_FIELDS } from '../../../src/lvm/report.js';
import { lvmSettings } from '../../../src/lvm/settings.js';
import { fixture } from './fixtures.js';

const settings = lvmSettings();
const CFG = [
  '--config',
  'activation { udev_sync=1 udev_rules=1 monitoring=1 } devices { global_filter=[ "r|^/dev/disk/by-path/.*-iscsi-.*|", "r|^/dev/disk/by-id/dm-uuid-mpath-.*|" ] } backup { backup=1 archive=1 retain_min=10 retain_days=7 } report { list_item_separator="," binary_values_as_numeric=0 compact_output=0 time_format="%Y-%m-%d %T %z" }',
];
const REPORT = ['--reportformat', 'json', '--units', 'b', '--nosuffix'];
const LVS = ['lvs', ...CFG, ...REPORT, '-o', LV_FIELDS.join(',')];

function setup(): { runner: FakeRunner; lvm: Lvm } {
  const runner = new FakeRunner();
  return { runner, lvm: new Lvm(runner, settings) };
}

describe('Lvm reports', () => {
  it('listLvs runs lvs with the config, json report args and explicit fields', async () => {
    const { runner, lvm } = setup();
    runner.expect([...LVS, 'csivg'], { stdout: fixture('lvs-active.json') });
    const lvs = await lvm.listLvs('csivg');
    expect(lvs).toHaveLength(10);
    runner.assertDone();
  });

  it('listLvs without a VG lists every VG', async () => {
    const { runner, lvm } = setup();
    runner.expect(LVS, { stdout: fixture('lvs-empty.json') });
    expect(await lvm.listLvs()).toEqual([]);
    runner.assertDone();
  });

  it('passes the signal, and LVM_SUPPRESS_FD_WARNINGS, to the runner', async () => {
    const { runner, lvm } = setup();
    const ac = new AbortController();
    runner.expect([...LVS, 'csivg'], {
      inspect: (o) => {
        expect(o?.signal).toBe(ac.signal);
        expect(o?.timeoutMs).toBe(5000);
        expect(o?.env).toEqual({ LVM_SUPPRESS_FD_WARNINGS: '1' });
      },
      stdout: fixture('lvs-empty.json'),
    });
    await lvm.listLvs('csivg', { signal: ac.signal, timeoutMs: 5000 });
    runner.assertDone();
  });

  it('getLv returns the LV, or undefined when lvm says it is missing', async () => {
    const { runner, lvm } = setup();
    const rows = (JSON.parse(fixture('lvs-active.json')) as { report: Array<{ lv: Record<string, string>[] }> })
      .report[0]!.lv;
    const one = JSON.stringify({ report: [{ lv: rows.filter((r) => r['lv_name'] === 'vol_thin1') }] });
    runner
      .expect([...LVS, 'csivg/vol_thin1'], { stdout: one })
      .expect([...LVS, 'csivg/nosuch'], {
        exitCode: 5,
        stdout: fixture('lvs-empty.json'),
        stderr: '  Failed to find logical volume "csivg/nosuch"\n',
      })
      .expect([...LVS, 'nosuchvg/x'], {
        exitCode: 5,
        stderr: '  Volume group "nosuchvg" not found\n  Cannot process volume group nosuchvg\n',
      });
    expect((await lvm.getLv('csivg', 'vol_thin1'))?.name).toBe('vol_thin1');
    expect(await lvm.getLv('csivg', 'nosuch')).toBeUndefined();
    expect(await lvm.getLv('nosuchvg', 'x')).toBeUndefined();
    runner.assertDone();
  });

  it('getLv passes other failures on', async () => {
    const { runner, lvm } = setup();
    runner.expect([...LVS, 'csivg/x'], { exitCode: 5, stderr: '  Something unexpected\n' });
    await expect(lvm.getLv('csivg', 'x')).rejects.toBeInstanceOf(CommandFailed);
    runner.assertDone();
  });

  it('validates names before running anything', async () => {
    const { runner, lvm } = setup();
    await expect(lvm.getLv('bad vg', 'x')).rejects.toBeInstanceOf(InvalidArgument);
    await expect(lvm.getLv('vg', 'snapshot1')).rejects.toBeInstanceOf(InvalidArgument);
    await expect(lvm.listLvs('-x')).rejects.toBeInstanceOf(InvalidArgument);
    runner.assertDone();
  });

  it('listVgs / getVg', async () => {
    const { runner, lvm } = setup();
    const VGS = ['vgs', ...CFG, ...REPORT, '-o', VG_FIELDS.join(',')];
    runner
      .expect(VGS, { stdout: fixture('vgs.json') })
      .expect([...VGS, 'csivg'], { stdout: fixture('vgs-one.json') })
      .expect([...VGS, 'gone'], {
        exitCode: 5,
        stderr: '  Volume group "gone" not found\n  Cannot process volume group gone\n',
      })
      .expect([...VGS, 'a', 'gone'], { exitCode: 5, stderr: '  Volume group "gone" not found\n' });
    expect((await lvm.listVgs()).map((v) => v.name)).toEqual(['csivg', 'vgbig']);
    expect((await lvm.getVg('csivg'))?.freeBytes).toBe(226492416);
    expect(await lvm.getVg('gone')).toBeUndefined();
    await expect(lvm.listVgs(['a', 'gone'])).rejects.toBeInstanceOf(NotFound);
    runner.assertDone();
  });

  it('listPvs filters by VG in JS', async () => {
    const { runner, lvm } = setup();
    const PVS = ['pvs', ...CFG, ...REPORT, '-o', PV_FIELDS.join(',')];
    runner.expect(PVS, { stdout: fixture('pvs.json') }).expect(PVS, { stdout: fixture('pvs.json') });
    expect((await lvm.listPvs('csivg')).map((p) => p.name)).toEqual(['/dev/loop0', '/dev/loop1']);
    expect(await lvm.listPvs()).toHaveLength(3);
    runner.assertDone();
  });
});

describe('Lvm VGs', () => {
  it('vgCreate: metadata size from settings, tags, no --yes', async () => {
    const { runner, lvm } = setup();
    runner
      .expect([
        'vgcreate',
        ...CFG,
        '--metadatasize',
        '67108864b',
        '--addtag',
        'csi.managed=1',
        'csivg',
        '/dev/sdb',
        '/dev/sdc',
      ])
      .expect(['vgcreate', ...CFG, '--metadatasize', '134217728b', 'vg2', '/dev/sdd']);
    await lvm.vgCreate('csivg', ['/dev/sdb', '/dev/sdc'], { tags: ['csi.managed=1'] });
    await lvm.vgCreate('vg2', ['/dev/sdd'], { metadataSizeBytes: 128 * 1024 * 1024 });
    runner.assertDone();
  });

  it('vgCreate: existing VG is AlreadyExists; bad input is refused up front', async () => {
    const { runner, lvm } = setup();
    runner.expect(['vgcreate', ...CFG, '--metadatasize', '67108864b', 'csivg', '/dev/loop0'], {
      exitCode: 5,
      stderr: '  A volume group called csivg already exists.\n',
    });
    await expect(lvm.vgCreate('csivg', ['/dev/loop0'])).rejects.toBeInstanceOf(AlreadyExists);
    await expect(lvm.vgCreate('csivg', [])).rejects.toBeInstanceOf(InvalidArgument);
    await expect(lvm.vgCreate('csivg', ['sdb'])).rejects.toBeInstanceOf(InvalidArgument);
    runner.assertDone();
  });
});

describe('Lvm creation', () => {
  it('createThinPool: --thin form with zeroing, error-when-full and discard passdown', async () => {
    const { runner, lvm } = setup();
    runner
      .expect([
        'lvcreate',
        ...CFG,
        '--yes',
        '--thin',
        '--size',
        '107374182400b',
        '--thinpool',
        'pool0',
        '--zero',
        'y',
        '--errorwhenfull',
        'y',
        '--discards',
        'passdown',
        '--addtag',
        'csi.pool=1',
        'csivg',
      ])
      .expect([
        'lvcreate',
        ...CFG,
        '--yes',
        '--thin',
        '--extents',
        '90%VG',
        '--thinpool',
        'pool0',
        '--zero',
        'n',
        '--errorwhenfull',
        'n',
        '--discards',
        'nopassdown',
        '--chunksize',
        '128k',
        '--poolmetadatasize',
        '1073741824b',
        'csivg',
      ]);
    await lvm.createThinPool('csivg', 'pool0', { bytes: 100 * 1024 ** 3 }, { tags: ['csi.pool=1'] });
    await lvm.createThinPool(
      'csivg',
      'pool0',
      { percentOfVg: 90 },
      { zero: false, errorWhenFull: false, discards: 'nopassdown', chunkSizeKiB: 128, metadataSizeBytes: 1024 ** 3 },
    );
    runner.assertDone();
  });

  it('createThinPool refuses bad sizes', async () => {
    const { runner, lvm } = setup();
    await expect(lvm.createThinPool('csivg', 'pool0', { percentOfVg: 101 })).rejects.toBeInstanceOf(InvalidArgument);
    await expect(lvm.createThinPool('csivg', 'pool0', { bytes: 0 })).rejects.toBeInstanceOf(InvalidArgument);
    await expect(
      lvm.createThinPool('csivg', 'pool0', { bytes: 1 << 30 }, { chunkSizeKiB: 100 }),
    ).rejects.toBeInstanceOf(InvalidArgument);
    runner.assertDone();
  });

  it('createThin: tags in the same lvcreate, size rounded up to 512', async () => {
    const { runner, lvm } = setup();
    runner.expect([
      'lvcreate',
      ...CFG,
      '--yes',
      '--type',
      'thin',
      '--virtualsize',
      '1073742336b',
      '--thinpool',
      'pool0',
      '--name',
      'vol-abc',
      '--addtag',
      'csi.name=pvc-1',
      '--addtag',
      'csi.kind=volume',
      'csivg',
    ]);
    await lvm.createThin('csivg', 'pool0', 'vol-abc', 1024 ** 3 + 1, ['csi.name=pvc-1', 'csi.kind=volume']);
    runner.assertDone();
  });

  it('createThin: full pool and existing name are classified', async () => {
    const { runner, lvm } = setup();
    const argv = [
      'lvcreate',
      ...CFG,
      '--yes',
      '--type',
      'thin',
      '--virtualsize',
      '1048576b',
      '--thinpool',
      'pool0',
      '--name',
      'vol-abc',
      'csivg',
    ];
    runner
      .expect(argv, {
        exitCode: 5,
        stderr: '  Cannot create new thin volume, free space in thin pool csivg/pool0 reached threshold.\n',
      })
      .expect(argv, { exitCode: 5, stderr: '  Logical Volume "vol-abc" already exists in volume group "csivg"\n' });
    await expect(lvm.createThin('csivg', 'pool0', 'vol-abc', 1 << 20, [])).rejects.toBeInstanceOf(OutOfCapacity);
    await expect(lvm.createThin('csivg', 'pool0', 'vol-abc', 1 << 20, [])).rejects.toBeInstanceOf(AlreadyExists);
    runner.assertDone();
  });

  it('createThin refuses tags outside the LVM alphabet', async () => {
    const { runner, lvm } = setup();
    await expect(lvm.createThin('csivg', 'pool0', 'vol-abc', 1 << 20, ['a b'])).rejects.toBeInstanceOf(InvalidArgument);
    runner.assertDone();
  });

  it('createLinear: linear, striped, raid1, raid10 — always --wipesignatures y --zero y', async () => {
    const { runner, lvm } = setup();
    const tail = [
      '--size',
      '67108864b',
      '--name',
      'vol-t',
      '--wipesignatures',
      'y',
      '--zero',
      'y',
      '--addtag',
      'csi.kind=volume',
      'csivg',
    ];
    runner
      .expect(['lvcreate', ...CFG, '--yes', '--type', 'linear', ...tail])
      .expect(['lvcreate', ...CFG, '--yes', '--type', 'striped', '--stripes', '3', '--stripesize', '64k', ...tail])
      .expect(['lvcreate', ...CFG, '--yes', '--type', 'raid1', '--mirrors', '2', ...tail])
      .expect(['lvcreate', ...CFG, '--yes', '--type', 'raid10', '--mirrors', '1', '--stripes', '2', ...tail]);
    const tags = ['csi.kind=volume'];
    await lvm.createLinear('csivg', 'vol-t', 64 << 20, tags);
    await lvm.createLinear('csivg', 'vol-t', 64 << 20, tags, { stripes: 3, stripeSizeKiB: 64 });
    await lvm.createLinear('csivg', 'vol-t', 64 << 20, tags, { mirrors: 2 });
    await lvm.createLinear('csivg', 'vol-t', 64 << 20, tags, { mirrors: 1, stripes: 2 });
    runner.assertDone();
  });

  it('createLinear refuses impossible layouts and maps no space', async () => {
    const { runner, lvm } = setup();
    await expect(lvm.createLinear('csivg', 'v', 1 << 20, [], { mirrors: 2, stripes: 2 })).rejects.toBeInstanceOf(
      InvalidArgument,
    );
    await expect(lvm.createLinear('csivg', 'v', 1 << 20, [], { stripeSizeKiB: 64 })).rejects.toBeInstanceOf(
      InvalidArgument,
    );
    await expect(lvm.createLinear('csivg', 'v', 1 << 20, [], { stripes: 2, stripeSizeKiB: 48 })).rejects.toBeInstanceOf(
      InvalidArgument,
    );
    runner.expect(
      [
        'lvcreate',
        ...CFG,
        '--yes',
        '--type',
        'linear',
        '--size',
        '8589934592b',
        '--name',
        'big',
        '--wipesignatures',
        'y',
        '--zero',
        'y',
        'csivg',
      ],
      {
        exitCode: 5,
        stderr: '  Volume group "csivg" has insufficient free space (56 extents): 2048 required.\n',
      },
    );
    await expect(lvm.createLinear('csivg', 'big', 8 * 1024 ** 3, [])).rejects.toBeInstanceOf(OutOfCapacity);
    runner.assertDone();
  });

  it('createThinSnapshot: -kn by default, activation and permission explicit', async () => {
    const { runner, lvm } = setup();
    runner
      .expect([
        'lvcreate',
        ...CFG,
        '--yes',
        '--snapshot',
        '--setactivationskip',
        'n',
        '--activate',
        'y',
        '--permission',
        'rw',
        '--name',
        'vol-new',
        '--addtag',
        'csi.kind=volume',
        'csivg/snap-src',
      ])
      .expect([
        'lvcreate',
        ...CFG,
        '--yes',
        '--snapshot',
        '--setactivationskip',
        'n',
        '--activate',
        'n',
        '--permission',
        'r',
        '--name',
        'snap-x',
        'csivg/vol-src',
      ])
      .expect([
        'lvcreate',
        ...CFG,
        '--yes',
        '--snapshot',
        '--setactivationskip',
        'y',
        '--activate',
        'y',
        '--ignoreactivationskip',
        '--permission',
        'rw',
        '--name',
        'snap-y',
        'csivg/vol-src',
      ]);
    await lvm.createThinSnapshot('csivg', 'snap-src', 'vol-new', ['csi.kind=volume']);
    await lvm.createThinSnapshot('csivg', 'vol-src', 'snap-x', [], { readOnly: true, activate: false });
    await lvm.createThinSnapshot('csivg', 'vol-src', 'snap-y', [], { activationSkip: true });
    runner.assertDone();
  });

  it('createCowSnapshot: sized, read-only by default, no --zero (lvm refuses it for snapshots)', async () => {
    const { runner, lvm } = setup();
    runner
      .expect([
        'lvcreate',
        ...CFG,
        '--yes',
        '--snapshot',
        '--size',
        '41943040b',
        '--permission',
        'r',
        '--name',
        'snap-c',
        '--addtag',
        'csi.kind=snapshot',
        'csivg/vol_thick1',
      ])
      .expect(
        [
          'lvcreate',
          ...CFG,
          '--yes',
          '--snapshot',
          '--size',
          '512b',
          '--permission',
          'rw',
          '--name',
          'snap-d',
          'csivg/vol_thick1',
        ],
        {
          exitCode: 5,
          stderr: '  Snapshot origin LV vol_thick1 not found in Volume group csivg.\n',
        },
      );
    await lvm.createCowSnapshot('csivg', 'vol_thick1', 'snap-c', 41943040, ['csi.kind=snapshot']);
    await expect(
      lvm.createCowSnapshot('csivg', 'vol_thick1', 'snap-d', 1, [], { readOnly: false }),
    ).rejects.toBeInstanceOf(NotFound);
    runner.assertDone();
  });
});

describe('Lvm changes', () => {
  it('extend: true when grown, false when already that size or larger', async () => {
    const { runner, lvm } = setup();
    const argv = ['lvextend', ...CFG, '--size', '41943040b', 'csivg/vol_thick1'];
    runner
      .expect(argv, {
        stderr:
          '  Size of logical volume csivg/vol_thick1 changed from 32.00 MiB (8 extents) to 40.00 MiB (10 extents).\n',
      })
      .expect(argv, { exitCode: 5, stderr: '  New size (10 extents) matches existing size (10 extents).\n' })
      .expect(argv, {
        exitCode: 5,
        stderr: '  New size given (10 extents) not larger than existing size (16 extents)\n',
      })
      .expect(argv, { exitCode: 5, stderr: '  Insufficient free space: 25596 extents needed, but only 56 available\n' })
      .expect(argv, { exitCode: 5, stderr: '  Logical volume vol_thick1 not found in volume group csivg.\n' });
    expect(await lvm.extend('csivg', 'vol_thick1', 40 << 20)).toBe(true);
    expect(await lvm.extend('csivg', 'vol_thick1', 40 << 20)).toBe(false);
    expect(await lvm.extend('csivg', 'vol_thick1', 40 << 20)).toBe(false);
    await expect(lvm.extend('csivg', 'vol_thick1', 40 << 20)).rejects.toBeInstanceOf(OutOfCapacity);
    await expect(lvm.extend('csivg', 'vol_thick1', 40 << 20)).rejects.toBeInstanceOf(NotFound);
    runner.assertDone();
  });

  it('remove: lvremove --yes; gone is NotFound, open is Busy', async () => {
    const { runner, lvm } = setup();
    const argv = ['lvremove', ...CFG, '--yes', 'csivg/vol-abc'];
    runner
      .expect(argv, { stdout: '  Logical volume "vol-abc" successfully removed.\n' })
      .expect(argv, { exitCode: 5, stderr: '  Failed to find logical volume "csivg/vol-abc"\n' })
      .expect(argv, { exitCode: 5, stderr: '  Logical volume csivg/vol-abc in use.\n' });
    await lvm.remove('csivg', 'vol-abc');
    await expect(lvm.remove('csivg', 'vol-abc')).rejects.toBeInstanceOf(NotFound);
    await expect(lvm.remove('csivg', 'vol-abc')).rejects.toBeInstanceOf(Busy);
    runner.assertDone();
  });

  it('splitSnapshot and addVgTags', async () => {
    const { runner, lvm } = setup();
    runner
      .expect(['lvconvert', ...CFG, '--yes', '--splitsnapshot', 'csivg/tmp-x'])
      .expect(['vgchange', ...CFG, '--addtag', 'csi.unzeroed=1', 'csivg']);
    await lvm.splitSnapshot('csivg', 'tmp-x');
    await lvm.addVgTags('csivg', ['csi.unzeroed=1']);
    await lvm.addVgTags('csivg', []);
    await expect(lvm.addVgTags('csivg', ['bad tag'])).rejects.toBeInstanceOf(InvalidArgument);
    runner.assertDone();
  });

  it('rename', async () => {
    const { runner, lvm } = setup();
    runner
      .expect(['lvrename', ...CFG, 'csivg', 'tmp-x', 'vol-x'])
      .expect(['lvrename', ...CFG, 'csivg', 'tmp-x', 'vol-y'], {
        exitCode: 5,
        stderr: '  Logical Volume "vol-y" already exists in volume group "csivg"\n',
      });
    await lvm.rename('csivg', 'tmp-x', 'vol-x');
    await expect(lvm.rename('csivg', 'tmp-x', 'vol-y')).rejects.toBeInstanceOf(AlreadyExists);
    runner.assertDone();
  });

  it('tags: several in one lvchange, deletions first; nothing to do runs nothing', async () => {
    const { runner, lvm } = setup();
    runner
      .expect(['lvchange', ...CFG, '--addtag', 'csi.ready=1', '--addtag', 'csi.state=ok', 'csivg/vol-x'])
      .expect(['lvchange', ...CFG, '--deltag', 'csi.state=copying', '--addtag', 'csi.ready=1', 'csivg/vol-x']);
    await lvm.addTags('csivg', 'vol-x', ['csi.ready=1', 'csi.state=ok']);
    await lvm.changeTags('csivg', 'vol-x', { add: ['csi.ready=1'], del: ['csi.state=copying'] });
    await lvm.changeTags('csivg', 'vol-x', {});
    runner.assertDone();
  });

  it('activate, with the skip flag ignored on request', async () => {
    const { runner, lvm } = setup();
    runner
      .expect(['lvchange', ...CFG, '--activate', 'y', 'csivg/vol-x'])
      .expect(['lvchange', ...CFG, '--activate', 'y', '--ignoreactivationskip', 'csivg/snap-x']);
    await lvm.activate('csivg', 'vol-x');
    await lvm.activate('csivg', 'snap-x', { ignoreSkip: true });
    runner.assertDone();
  });

  it('setPermission: "already" is success', async () => {
    const { runner, lvm } = setup();
    runner
      .expect(['lvchange', ...CFG, '--permission', 'r', 'csivg/vol-x'])
      .expect(['lvchange', ...CFG, '--permission', 'r', 'csivg/vol-x'], {
        exitCode: 5,
        stderr: '  Logical volume "csivg/vol-x" is already read only.\n',
      })
      .expect(['lvchange', ...CFG, '--permission', 'rw', 'csivg/vol-x'], {
        exitCode: 5,
        stderr: '  Logical volume csivg/vol-x is already writable.\n',
      })
      .expect(['lvchange', ...CFG, '--permission', 'rw', 'csivg/gone'], {
        exitCode: 5,
        stderr: '  Failed to find logical volume "csivg/gone"\n',
      });
    await lvm.setPermission('csivg', 'vol-x', 'r');
    await lvm.setPermission('csivg', 'vol-x', 'r');
    await lvm.setPermission('csivg', 'vol-x', 'rw');
    await expect(lvm.setPermission('csivg', 'gone', 'rw')).rejects.toBeInstanceOf(NotFound);
    runner.assertDone();
  });

  it('does not treat a timed-out command as "already done"', async () => {
    const timedOut = new CommandFailed({
      argv: ['lvchange'],
      exitCode: undefined,
      stderr: 'is already read only',
      timedOut: true,
    });
    const runner = { run: async () => Promise.reject(timedOut) };
    const lvm = new Lvm(runner, settings);
    await expect(lvm.setPermission('csivg', 'vol-x', 'r')).rejects.toBe(timedOut);
  });
});

describe('Lvm options', () => {
  it('uses "lvm <command>" when settings.lvmBinary is set, and the container config', async () => {
    const runner = new FakeRunner();
    const lvm = new Lvm(runner, lvmSettings({ lvmBinary: '/usr/sbin/lvm', udevSync: false, monitoring: false }));
    runner.expect([
      '/usr/sbin/lvm',
      'lvremove',
      '--config',
      'activation { udev_sync=0 udev_rules=0 monitoring=0 } devices { obtain_device_list_from_udev=0 global_filter=[ "r|^/dev/disk/by-path/.*-iscsi-.*|", "r|^/dev/disk/by-id/dm-uuid-mpath-.*|" ] } backup { backup=1 archive=1 retain_min=10 retain_days=7 } report { list_item_separator="," binary_values_as_numeric=0 compact_output=0 time_format="%Y-%m-%d %T %z" }',
      '--yes',
      'vg/lv',
    ]);
    await lvm.remove('vg', 'lv');
    runner.assertDone();
  });

  it('sizeArg rounds up to 512 and refuses non-positive or fractional sizes', () => {
    expect(sizeArg(512)).toBe('512b');
    expect(sizeArg(513)).toBe('1024b');
    expect(sizeArg(67108864)).toBe('67108864b');
    expect(() => sizeArg(0)).toThrow(InvalidArgument);
    expect(() => sizeArg(1.5)).toThrow(InvalidArgument);
    expect(() => sizeArg(-512)).toThrow(InvalidArgument);
  });
});
