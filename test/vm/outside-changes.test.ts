/**
 * Issue #12: the agent answers from its in-memory copy of the VG
 * (src/lvm/cached-lvm.ts) and checks it against the PVs' metadata stamp
 * before every use. Here an operator changes the VG by hand between CSI
 * calls, with real LVM, and the plugin must see each change at its next call:
 * nothing it answers may come from a copy that LVM no longer agrees with.
 */
import { status as Code } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  call,
  codeOf,
  destroyVg,
  disks,
  inGuest,
  makeVg,
  MiB,
  mountCap,
  rawLv,
  sh,
  startPlugin,
  type PluginProcess,
} from './lib.js';

const VG = 'oc';
const SLOW = 600_000;

describe.runIf(inGuest)('changes made to the VG by hand are seen at the next call (metadata stamp)', () => {
  let p: PluginProcess;

  beforeAll(async () => {
    makeVg(VG, disks.slice(0, 2));
    p = await startPlugin([
      '--mode',
      'all',
      '--volume-group',
      VG,
      '--thin-pool',
      'pool',
      '--thin-pool-percent',
      '50',
      '--default-volume-size',
      '16M',
    ]);
  }, SLOW);

  afterAll(async () => {
    if (p) await p.stop();
    destroyVg(VG);
  });

  const create = (name: string, parameters: Record<string, string> = { lvmType: 'thin' }, mib = 16) =>
    call(p.controller, 'CreateVolume', {
      name,
      capacity_range: { required_bytes: String(mib * MiB) },
      volume_capabilities: [mountCap()],
      parameters,
    });
  const lvOf = (id: string) => id.split('/')[2] as string;

  it(
    'an LV removed by hand is gone for the plugin at once (GetVolume NOT_FOUND, not listed)',
    async () => {
      const id = (await create('oc-removed')).volume?.volume_id ?? '';
      expect((await call(p.controller, 'ControllerGetVolume', { volume_id: id })).volume?.volume_id).toBe(id);
      sh(['lvremove', '-y', `${VG}/${lvOf(id)}`]);
      expect(await codeOf(call(p.controller, 'ControllerGetVolume', { volume_id: id }))).toBe(Code.NOT_FOUND);
      const listed = (await call(p.controller, 'ListVolumes', {})).entries.map((e) => e.volume?.volume_id);
      expect(listed).not.toContain(id);
    },
    SLOW,
  );

  it(
    'an LV extended by hand shows its new size at the next call',
    async () => {
      const id = (await create('oc-extended')).volume?.volume_id ?? '';
      sh(['lvextend', '-L', '24m', `${VG}/${lvOf(id)}`]);
      expect(rawLv(VG, lvOf(id))?.lv_size).toBe(String(24 * MiB));
      expect((await call(p.controller, 'ControllerGetVolume', { volume_id: id })).volume?.capacity_bytes).toBe(
        String(24 * MiB),
      );
    },
    SLOW,
  );

  it(
    'free space taken by hand is seen by the room check: a thick volume that no longer fits is RESOURCE_EXHAUSTED, and GetCapacity shrinks',
    async () => {
      const before = Number(
        (await call(p.controller, 'GetCapacity', { parameters: { lvmType: 'thick' } })).available_capacity,
      );
      expect(before).toBeGreaterThan(64 * MiB);
      sh(['lvcreate', '-q', '-y', '-l', '100%FREE', '-n', 'by-hand', VG]);
      const after = Number(
        (await call(p.controller, 'GetCapacity', { parameters: { lvmType: 'thick' } })).available_capacity,
      );
      expect(after).toBeLessThan(before);
      expect(await codeOf(create('oc-thick', { lvmType: 'thick' }, 64))).toBe(Code.RESOURCE_EXHAUSTED);
      sh(['lvremove', '-y', `${VG}/by-hand`]);
      const id = (await create('oc-thick', { lvmType: 'thick' }, 64)).volume?.volume_id ?? '';
      expect(rawLv(VG, lvOf(id))?.lv_size).toBe(String(64 * MiB));
    },
    SLOW,
  );

  it(
    'tags changed by hand are read back: a volume an operator marks as deleting is no longer listed',
    async () => {
      const id = (await create('oc-tagged')).volume?.volume_id ?? '';
      sh(['lvchange', '--addtag', 'csi.state=deleting', `${VG}/${lvOf(id)}`]);
      const listed = (await call(p.controller, 'ListVolumes', {})).entries.map((e) => e.volume?.volume_id);
      expect(listed).not.toContain(id);
      expect(await codeOf(call(p.controller, 'ControllerGetVolume', { volume_id: id }))).toBe(Code.NOT_FOUND);
    },
    SLOW,
  );
});
