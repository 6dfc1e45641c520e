import { describe, expect, it } from 'vitest';
import {
  AlreadyExists,
  Busy,
  CommandFailed,
  FailedPrecondition,
  InUse,
  NotFound,
  OutOfCapacity,
} from '../../../src/errors.js';
import { classifyLvmError, classifyThrown } from '../../../src/lvm/classify.js';

// stderr as lvm2 2.03.16 prints it (two-space indent), captured on loop devices
// unless marked "source" (message text from the lvm2 sources; needs a kernel).
const failed = (stderr: string, argv: string[] = ['lvcreate'], exitCode = 5): CommandFailed =>
  new CommandFailed({ argv, exitCode, stderr });

describe('classifyLvmError', () => {
  it.each([
    ['lvs on a missing LV', '  Failed to find logical volume "csivg/nosuch"\n'],
    ['any command on a missing VG', '  Volume group "nosuchvg" not found\n  Cannot process volume group nosuchvg\n'],
    ['lvextend on a missing LV', '  Logical volume nosuch not found in volume group csivg.\n'],
    ['lvrename of a missing LV', '  Existing logical volume "nosuch" not found in volume group "csivg"\n'],
    ['lvcreate --thinpool of a missing pool', '  Pool nopool not found in Volume group csivg.\n'],
    ['source: snapshot of a missing origin', '  Snapshot origin LV nosuch not found in Volume group csivg.\n'],
  ])('NotFound: %s', (_what, stderr) => {
    const e = classifyLvmError(failed(stderr));
    expect(e).toBeInstanceOf(NotFound);
    expect(e.cause).toBeInstanceOf(CommandFailed);
  });

  it.each([
    ['lvcreate, VG full', '  Volume group "csivg" has insufficient free space (56 extents): 2048 required.\n'],
    [
      'lvextend, VG full',
      '  Using stripesize of last segment 64.00 KiB\n  Insufficient free space: 25596 extents needed, but only 56 available\n',
    ],
    [
      'source: raid/striped allocation',
      '  Insufficient suitable allocatable extents for logical volume lvraid1: 516 more required\n',
    ],
    [
      'source: thin pool over its threshold',
      '  WARNING: Remaining free space in metadata of thin pool thinpool/tp is too low (76.46% >= 75.00%). Resize is recommended.\n  Cannot create new thin volume, free space in thin pool thinpool/tp reached threshold.\n',
    ],
  ])('OutOfCapacity (no space): %s', (_what, stderr) => {
    const e = classifyLvmError(failed(stderr));
    expect(e).toBeInstanceOf(OutOfCapacity);
    expect(e.message).toMatch(/^not enough space: /);
  });

  it('OutOfCapacity naming the VG METADATA area when it is full (lvchange --addtag)', () => {
    const stderr = [
      '  Logical volume tinyvg/t1 changed.',
      '  VG tinyvg 13 metadata on /dev/loop2 (558524 bytes) exceeds maximum metadata size (521472 bytes)',
      '  WARNING: Failed to write an MDA of VG tinyvg.',
      '  Failed to write VG tinyvg.',
      '  Failed to update metadata of tinyvg/t1 on disk.',
      '',
    ].join('\n');
    const e = classifyLvmError(failed(stderr, ['lvchange']));
    expect(e).toBeInstanceOf(OutOfCapacity);
    expect(e.message).toMatch(/metadata area of VG tinyvg is full/);
    expect(e.message).toMatch(/--metadatasize/);
  });

  it('OutOfCapacity for a full metadata area on lvcreate', () => {
    const stderr =
      '  VG tinyvg 13 metadata on /dev/loop2 (528438 bytes) exceeds maximum metadata size (521472 bytes)\n  Failed to write VG tinyvg.\n';
    const e = classifyLvmError(failed(stderr));
    expect(e).toBeInstanceOf(OutOfCapacity);
    expect(e.message).toMatch(/metadata area of VG tinyvg is full/);
  });

  it.each([
    ['lvcreate', '  Logical Volume "vol_thick1" already exists in volume group "csivg"\n'],
    ['vgcreate', '  A volume group called csivg already exists.\n'],
  ])('AlreadyExists: %s', (_what, stderr) => {
    expect(classifyLvmError(failed(stderr))).toBeInstanceOf(AlreadyExists);
  });

  it.each([
    ['source: lvremove/lvchange -an of an open LV', '  Logical volume csivg/vol-abc in use.\n'],
    ['source: mounted', '  Logical volume csivg/vol-abc contains a filesystem in use.\n'],
    ['older lvm2', '  Can\'t remove open logical volume "vol-abc"\n'],
    ['holder device', '  Logical volume docker/dockerthinpool is used by another device.\n'],
  ])('InUse (a Busy): %s', (_what, stderr) => {
    const e = classifyLvmError(failed(stderr, ['lvremove']));
    expect(e).toBeInstanceOf(InUse);
    expect(e).toBeInstanceOf(Busy);
  });

  it.each([
    ['dm ioctl', '  device-mapper: remove ioctl on  (253:4) failed: Device or resource busy\n'],
    ['lock contention', "  Can't get lock for csivg\n"],
    ['lvmlockd', '  LV locked by other host: csivg/vol-abc\n'],
  ])('Busy: %s', (_what, stderr) => {
    const e = classifyLvmError(failed(stderr, ['lvremove']));
    expect(e).toBeInstanceOf(Busy);
    expect(e).not.toBeInstanceOf(InUse);
  });

  it('FailedPrecondition: vgremove of a VG that still has LVs', () => {
    const stderr =
      'Do you really want to remove volume group "tinyvg" containing 1 logical volumes? [y/n]: [n]\n  Volume group "tinyvg" not removed\n';
    expect(classifyLvmError(failed(stderr, ['vgremove']))).toBeInstanceOf(FailedPrecondition);
  });

  it('ignores WARNING lines', () => {
    const stderr = '  WARNING: Failed to find something worrying.\n  Some other failure.\n';
    const e = failed(stderr);
    expect(classifyLvmError(e)).toBe(e);
  });

  it('returns anything else unchanged', () => {
    const e = failed(
      '  Invalid argument for --addtag: a;b\n  Error during parsing of command line.\n',
      ['lvchange'],
      3,
    );
    expect(classifyLvmError(e)).toBe(e);
  });

  it('leaves timeouts and cancellations alone, whatever stderr says', () => {
    const t = new CommandFailed({
      argv: ['lvs'],
      exitCode: undefined,
      stderr: '  Volume group "x" not found',
      timedOut: true,
    });
    expect(classifyLvmError(t)).toBe(t);
    const c = new CommandFailed({ argv: ['lvs'], exitCode: undefined, stderr: '', cancelled: true });
    expect(classifyLvmError(c)).toBe(c);
  });

  it('classifyThrown passes non-CommandFailed errors through', () => {
    const plain = new Error('x');
    expect(classifyThrown(plain)).toBe(plain);
    expect(classifyThrown(failed('  Volume group "v" not found\n'))).toBeInstanceOf(NotFound);
  });
});
