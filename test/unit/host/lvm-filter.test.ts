import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeRunner } from '../../doubles/fake-runner.js';
import {
  checkHostLvmIgnoresIscsi,
  filterAccepts,
  lvmIscsiProblem,
  parseFilterRule,
  parseLvmconfigDevices,
  RECOMMENDED_GLOBAL_FILTER,
  sampleIscsiDeviceNames,
  type LvmDeviceSettings,
} from '../../../src/host/lvm-filter.js';

const PREFIX = 'iqn.2024-01.org.example.csi-lvm-iscsi';
const LVMCONFIG = [
  'lvmconfig',
  '--typeconfig',
  'full',
  'devices/global_filter',
  'devices/filter',
  'devices/use_devicesfile',
  'devices/devicesfile',
];
const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8');
const settings = (o: Partial<LvmDeviceSettings> = {}): LvmDeviceSettings => ({
  globalFilter: ['a|.*|'],
  filter: ['a|.*|'],
  useDevicesFile: false,
  devicesFile: 'system.devices',
  ...o,
});
const RECOMMENDED = ['r|^/dev/disk/by-path/.*-iscsi-.*|', 'r|^/dev/disk/by-id/dm-uuid-mpath-.*|'];

describe('parseLvmconfigDevices', () => {
  it("reads lvm2 2.03.16's output (Debian 12 defaults), escapes included", () => {
    expect(parseLvmconfigDevices(fixture('lvmconfig-devices-debian12.txt'))).toEqual(settings());
    const text =
      'global_filter=["r|^/dev/disk/by-path/.*-iscsi-.*|","r|\\"quoted\\"|"]\nfilter=[]\nuse_devicesfile=1\ndevicesfile="local.devices"\n';
    expect(parseLvmconfigDevices(text)).toEqual({
      globalFilter: ['r|^/dev/disk/by-path/.*-iscsi-.*|', 'r|"quoted"|'],
      filter: [],
      useDevicesFile: true,
      devicesFile: 'local.devices',
    });
  });
});

describe('LVM filter semantics (lvm.conf(5))', () => {
  it('delimiters: | / ( [ {, and the last closing one ends the pattern', () => {
    expect(parseFilterRule('a|/dev/sd|x|')).toMatchObject({ accept: true });
    expect(parseFilterRule('r(^/dev/(sd|vd)b$)').re.test('/dev/vdb')).toBe(true);
    expect(() => parseFilterRule('x|.*|')).toThrow(/must start with a or r/);
    expect(() => parseFilterRule('a|')).toThrow(/no closing/);
  });

  it('per name the first matching pattern decides; any accepted name accepts, all matching names rejected rejects, no match accepts', () => {
    expect(filterAccepts(['a|.*|'], ['/dev/sdb'])).toBe(true);
    expect(filterAccepts(['r|by-path|'], ['/dev/sdb', '/dev/disk/by-path/x'])).toBe(false);
    expect(filterAccepts(['a|/dev/sd|', 'r|by-path|'], ['/dev/sdb', '/dev/disk/by-path/x'])).toBe(true);
    expect(filterAccepts(['r|by-path|', 'a|/dev/sd|'], ['/dev/sdb', '/dev/disk/by-path/x'])).toBe(true); // sdb still accepted by its kernel name
    expect(filterAccepts(['r|/dev/cdrom|'], ['/dev/sdb'])).toBe(true);
    expect(filterAccepts([], ['/dev/sdb'])).toBe(true);
  });
});

describe('lvmIscsiProblem', () => {
  it('the Debian default accepts everything: named as a problem, with the setting to add', () => {
    const p = lvmIscsiProblem(settings(), false, PREFIX);
    expect(p).toMatch(/would scan iSCSI disks and multipath maps over them/);
    expect(p).toContain(RECOMMENDED_GLOBAL_FILTER);
  });

  it('the recommended global_filter, in global_filter or in filter, is enough', () => {
    expect(lvmIscsiProblem(settings({ globalFilter: RECOMMENDED }), false, PREFIX)).toBeUndefined();
    expect(lvmIscsiProblem(settings({ filter: RECOMMENDED }), false, PREFIX)).toBeUndefined();
  });

  it('accepting only explicit local devices is enough; accepting sd kernel names is not', () => {
    expect(
      lvmIscsiProblem(
        settings({ globalFilter: ['a|^/dev/vda[0-9]*$|', 'a|^/dev/disk/by-id/nvme-Samsung.*|', 'r|.*|'] }),
        false,
        PREFIX,
      ),
    ).toBeUndefined();
    expect(lvmIscsiProblem(settings({ globalFilter: ['a|^/dev/sd.*|', 'r|.*|'] }), false, PREFIX)).toMatch(
      /would scan iSCSI disks attached/,
    );
    expect(lvmIscsiProblem(settings({ globalFilter: ['r|^/dev/disk/by-path/.*-iscsi-.*|'] }), false, PREFIX)).toMatch(
      /would scan multipath maps over them/,
    );
  });

  it('a devices file in use is enough; use_devicesfile without the file is not', () => {
    expect(lvmIscsiProblem(settings({ useDevicesFile: true }), true, PREFIX)).toBeUndefined();
    expect(lvmIscsiProblem(settings({ useDevicesFile: true }), false, PREFIX)).toMatch(
      /use_devicesfile=1, but the devices file system.devices does not exist/,
    );
  });

  it('the sample names carry the IQN prefix in the by-path link', () => {
    expect(sampleIscsiDeviceNames(PREFIX).disk).toContain(
      `/dev/disk/by-path/ip-192.0.2.10:3260-iscsi-${PREFIX}:vg:vol-sample-lun-0`,
    );
  });
});

describe('checkHostLvmIgnoresIscsi', () => {
  it('runs lvmconfig without the plugin settings and reports a problem, a devices file, or an unknown', async () => {
    const etc = mkdtempSync(join(tmpdir(), 'etc-lvm-'));
    mkdirSync(join(etc, 'devices'));
    writeFileSync(join(etc, 'devices', 'system.devices'), '# LVM uses devices listed in this file.\n');
    const runner = new FakeRunner();
    runner
      .expect(LVMCONFIG, { stdout: fixture('lvmconfig-devices-debian12.txt') })
      .expect(LVMCONFIG, {
        stdout: 'global_filter=["a|.*|"]\nfilter=["a|.*|"]\nuse_devicesfile=1\ndevicesfile="system.devices"\n',
      })
      .expect(LVMCONFIG, { stdout: `global_filter=["${RECOMMENDED.join('","')}"]\n` })
      .expect(LVMCONFIG, { stdout: 'global_filter=["a|(unclosed|"]\n' })
      .expect(LVMCONFIG, { exitCode: 127, stderr: 'lvmconfig: not found\n' });
    const check = () => checkHostLvmIgnoresIscsi(runner, { iqnPrefix: PREFIX, lvmSystemDir: etc });
    expect(await check()).toMatchObject({
      status: 'problem',
      message: expect.stringMatching(/would scan iSCSI disks/),
    });
    expect(await check()).toEqual({ status: 'ok', how: 'devices file' });
    expect(await check()).toEqual({ status: 'ok', how: 'filter' });
    expect(await check()).toMatchObject({
      status: 'unknown',
      message: expect.stringMatching(/could not evaluate the host's LVM filters/),
    });
    expect(await check()).toMatchObject({
      status: 'unknown',
      message: expect.stringMatching(/could not check .*lvmconfig/),
    });
    runner.assertDone();
  });
});
