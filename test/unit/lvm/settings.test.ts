import { describe, expect, it } from 'vitest';
import { DEFAULT_LVM_SETTINGS, lvmConfigArgs, lvmConfigString, lvmSettings } from '../../../src/lvm/settings.js';

describe('LvmSettings', () => {
  it('defaults: udev on, monitoring on, bounded archive, 64 MiB metadata', () => {
    const s = lvmSettings();
    expect(s).toEqual({
      udevSync: true,
      monitoring: true,
      backup: { enabled: true, retainMin: 10, retainDays: 7 },
      vgMetadataSizeBytes: 64 << 20,
      rejectIscsiDisks: true,
    });
    expect(lvmConfigString(s)).toBe(
      'activation { udev_sync=1 udev_rules=1 monitoring=1 } devices { global_filter=[ "r|^/dev/disk/by-path/.*-iscsi-.*|", "r|^/dev/disk/by-id/dm-uuid-mpath-.*|" ] } backup { backup=1 archive=1 retain_min=10 retain_days=7 } report { list_item_separator="," binary_values_as_numeric=0 compact_output=0 time_format="%Y-%m-%d %T %z" }',
    );
    expect(Object.isFrozen(DEFAULT_LVM_SETTINGS)).toBe(true);
  });

  it('container mode: udev off everywhere', () => {
    const s = lvmSettings({
      udevSync: false,
      monitoring: false,
      useDevicesFile: false,
      backup: { enabled: true, retainMin: 3, retainDays: 1 },
    });
    expect(lvmConfigArgs(s)).toEqual([
      '--config',
      'activation { udev_sync=0 udev_rules=0 monitoring=0 } devices { obtain_device_list_from_udev=0 use_devicesfile=0 global_filter=[ "r|^/dev/disk/by-path/.*-iscsi-.*|", "r|^/dev/disk/by-id/dm-uuid-mpath-.*|" ] } backup { backup=1 archive=1 retain_min=3 retain_days=1 } report { list_item_separator="," binary_values_as_numeric=0 compact_output=0 time_format="%Y-%m-%d %T %z" }',
    ]);
  });

  it('merges partial backup settings', () => {
    expect(lvmSettings({ backup: { retainDays: 30 } }).backup).toEqual({
      enabled: true,
      retainMin: 10,
      retainDays: 30,
    });
  });

  it('rejects nonsense', () => {
    expect(() => lvmSettings({ vgMetadataSizeBytes: 4096 })).toThrow(/vgMetadataSizeBytes/);
    expect(() => lvmSettings({ vgMetadataSizeBytes: (8 << 20) + 1 })).toThrow(/512/);
    expect(() => lvmSettings({ backup: { enabled: true, retainMin: -1, retainDays: 1 } })).toThrow(/retainMin/);
    expect(() => lvmSettings({ lvmBinary: ' ' })).toThrow(/lvmBinary/);
  });
});
