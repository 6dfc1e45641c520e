/**
 * Controller + storage agent on real LVM (thin and thick), driven over the
 * plugin's real gRPC socket; every step checks LVM's own view (lvs JSON).
 */
import { status as Code } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  blockCap,
  call,
  checksum,
  codeOf,
  destroyVg,
  disks,
  inGuest,
  isZero,
  makeVg,
  MiB,
  mountCap,
  rawLv,
  sh,
  shStatus,
  startPlugin,
  waitFor,
  writePattern,
  type PluginProcess,
  untilNotAborted,
} from './lib.js';

const VG = 'csivg';
const ZVG = 'zerovg';

function lvOf(id: string): string {
  return id.split('/')[2] as string;
}
function dev(id: string): string {
  const [, vg, lv] = id.split('/');
  return `/dev/${vg}/${lv}`;
}

describe.runIf(inGuest)('Controller on real LVM', () => {
  let p: PluginProcess;
  const flags = [
    '--mode',
    'all',
    '--volume-group',
    `${VG},${ZVG}`,
    '--thin-pool',
    'pool',
    '--thin-pool-percent',
    '20',
    '--default-volume-size',
    '16M',
    '--job-wait-seconds',
    '30',
  ];

  beforeAll(async () => {
    makeVg(VG, disks.slice(0, 3));
    makeVg(ZVG, disks.slice(3, 4));
    p = await startPlugin(flags);
  });

  afterAll(async () => {
    if (p) await p.stop();
    destroyVg(VG);
    destroyVg(ZVG);
  });

  const create = (name: string, sizeMiB: number, parameters: Record<string, string> = {}, source?: object) =>
    call(p.controller, 'CreateVolume', {
      name,
      capacity_range: { required_bytes: String(sizeMiB * MiB) },
      volume_capabilities: [mountCap()],
      parameters,
      ...(source ? { volume_content_source: source } : {}),
    });

  it('created the thin pool at start (20% of the VG, zeroing, error when full)', () => {
    const pool = rawLv(VG, 'pool');
    expect(pool?.segtype).toBe('thin-pool');
    expect(pool?.lv_attr[7]).toBe('z');
    expect(sh(['lvs', '--noheadings', '-o', 'lv_when_full', `${VG}/pool`]).trim()).toBe('error');
  });

  it('advertises exactly the controller capabilities that work', async () => {
    const caps = (await call(p.controller, 'ControllerGetCapabilities', {})).capabilities.map((c) => c.rpc?.type);
    expect(caps.sort()).toEqual(
      [
        'CLONE_VOLUME',
        'CREATE_DELETE_SNAPSHOT',
        'CREATE_DELETE_VOLUME',
        'EXPAND_VOLUME',
        'GET_CAPACITY',
        'GET_VOLUME',
        'LIST_SNAPSHOTS',
        'LIST_VOLUMES',
        'VOLUME_CONDITION',
        'PUBLISH_UNPUBLISH_VOLUME',
        'PUBLISH_READONLY',
        'LIST_VOLUMES_PUBLISHED_NODES',
      ].sort(),
    );
  });

  it('creates a thin volume, idempotently, and refuses an incompatible repeat', async () => {
    const a = await create('pvc-thin-1', 32);
    const b = await create('pvc-thin-1', 32);
    expect(b.volume?.volume_id).toBe(a.volume?.volume_id);
    expect(a.volume?.capacity_bytes).toBe(String(32 * MiB));
    const lv = rawLv(VG, lvOf(a.volume?.volume_id ?? ''));
    expect(lv).toMatchObject({ segtype: 'thin', pool_lv: 'pool', lv_size: String(32 * MiB) });
    expect(lv?.lv_tags).toContain('csi.name=pvc-thin-1');
    expect(lv?.lv_tags).toContain('csi.ready=1');
    expect(await codeOf(create('pvc-thin-1', 64))).toBe(Code.ALREADY_EXISTS);
    expect(await codeOf(create('pvc-thin-1', 32, { lvmType: 'thick' }))).toBe(Code.ALREADY_EXISTS);
  });

  it('uses the default size and rounds up to whole extents', async () => {
    const d = await call(p.controller, 'CreateVolume', {
      name: 'pvc-default',
      volume_capabilities: [blockCap()],
      parameters: {},
    });
    expect(d.volume?.capacity_bytes).toBe(String(16 * MiB));
    const r = await call(p.controller, 'CreateVolume', {
      name: 'pvc-round',
      capacity_range: { required_bytes: String(5 * MiB + 1) },
      volume_capabilities: [blockCap()],
      parameters: {},
    });
    expect(r.volume?.capacity_bytes).toBe(String(8 * MiB));
    expect(rawLv(VG, lvOf(r.volume?.volume_id ?? ''))?.lv_size).toBe(String(8 * MiB));
  });

  it('makes thick linear, raid1 and striped volumes with the segment types asked for', async () => {
    const lin = await create('pvc-thick', 16, { lvmType: 'thick' });
    const mir = await create('pvc-mirror', 16, { lvmType: 'thick', mirrors: '1' });
    const str = await create('pvc-stripe', 16, { lvmType: 'thick', stripes: '2', stripeSize: '64k' });
    expect(rawLv(VG, lvOf(lin.volume?.volume_id ?? ''))?.segtype).toBe('linear');
    expect(rawLv(VG, lvOf(mir.volume?.volume_id ?? ''))?.segtype).toBe('raid1');
    const s = rawLv(VG, lvOf(str.volume?.volume_id ?? ''));
    expect(s).toMatchObject({ segtype: 'striped', stripes: '2' });
    // three copies need three PVs; four copies do not fit on three
    expect(await codeOf(create('pvc-mirror2', 16, { lvmType: 'thick', mirrors: '2' }))).toBe(0);
    expect(await codeOf(create('pvc-mirror3', 16, { lvmType: 'thick', mirrors: '3' }))).toBe(Code.RESOURCE_EXHAUSTED);
  });

  it('answers the CreateVolume error codes of the spec', async () => {
    const base = { name: 'pvc-err', volume_capabilities: [mountCap()], parameters: {} };
    expect(await codeOf(call(p.controller, 'CreateVolume', { ...base, name: '' }))).toBe(Code.INVALID_ARGUMENT);
    expect(await codeOf(call(p.controller, 'CreateVolume', { ...base, volume_capabilities: [] }))).toBe(
      Code.INVALID_ARGUMENT,
    );
    expect(await codeOf(call(p.controller, 'CreateVolume', { ...base, parameters: { colour: 'red' } }))).toBe(
      Code.INVALID_ARGUMENT,
    );
    expect(await codeOf(call(p.controller, 'CreateVolume', { ...base, parameters: { mirrors: '1' } }))).toBe(
      Code.INVALID_ARGUMENT,
    );
    expect(
      await codeOf(
        call(p.controller, 'CreateVolume', {
          ...base,
          capacity_range: { required_bytes: String(10 * MiB), limit_bytes: String(5 * MiB) },
        }),
      ),
    ).toBe(Code.OUT_OF_RANGE);
    expect(
      await codeOf(
        call(p.controller, 'CreateVolume', {
          ...base,
          capacity_range: { required_bytes: String(64 * 1024 ** 3) },
          parameters: { lvmType: 'thick' },
        }),
      ),
    ).toBe(Code.RESOURCE_EXHAUSTED);
    // thin over-subscription: pool x 20 is far less than 1 TiB
    expect(
      await codeOf(
        call(p.controller, 'CreateVolume', { ...base, capacity_range: { required_bytes: String(1024 ** 4) } }),
      ),
    ).toBe(Code.RESOURCE_EXHAUSTED);
    expect(await codeOf(create('pvc-err', 16, {}, { snapshot: { snapshot_id: 'nope/none/none' } }))).toBe(
      Code.NOT_FOUND,
    );
    expect(rawLv(VG, 'pvc-err')).toBeUndefined();
  });

  it('answers ABORTED to a second call on the same name while the first runs', async () => {
    const [r1, r2] = await Promise.all([
      codeOf(create('pvc-race', 16, { lvmType: 'thick' })),
      codeOf(create('pvc-race', 16, { lvmType: 'thick' })),
    ]);
    expect([r1, r2].sort()).toEqual([0, Code.ABORTED].sort());
  });

  it('snapshots a thin volume read-only and restores it into a larger volume with identical data', async () => {
    const v = await create('pvc-thin-src', 32);
    const id = v.volume?.volume_id ?? '';
    writePattern(dev(id), 32 * MiB, 'thin-src');
    const sum = checksum(dev(id), 32 * MiB);
    const s1 = await call(p.controller, 'CreateSnapshot', {
      source_volume_id: id,
      name: 'snap-thin-1',
      parameters: {},
    });
    const s2 = await call(p.controller, 'CreateSnapshot', {
      source_volume_id: id,
      name: 'snap-thin-1',
      parameters: {},
    });
    expect(s2.snapshot?.snapshot_id).toBe(s1.snapshot?.snapshot_id);
    expect(s1.snapshot).toMatchObject({ source_volume_id: id, size_bytes: String(32 * MiB), ready_to_use: true });
    expect(Number(s1.snapshot?.creation_time?.seconds)).toBeGreaterThan(1_600_000_000);
    const snapLv = rawLv(VG, lvOf(s1.snapshot?.snapshot_id ?? ''));
    expect(snapLv?.lv_attr[1]).toBe('r');
    expect(snapLv?.origin).toBe(lvOf(id));
    // the source changes after the snapshot; the restore must show the old data
    writePattern(dev(id), MiB, 'changed');
    const r = await create('pvc-thin-restore', 48, {}, { snapshot: { snapshot_id: s1.snapshot?.snapshot_id } });
    const rid = r.volume?.volume_id ?? '';
    expect(r.volume?.content_source?.snapshot?.snapshot_id).toBe(s1.snapshot?.snapshot_id);
    const rl = rawLv(VG, lvOf(rid));
    expect(rl).toMatchObject({ segtype: 'thin', lv_size: String(48 * MiB), lv_active: 'active' });
    expect(rl?.lv_attr[1]).toBe('w');
    expect(rl?.lv_attr[9]).not.toBe('k');
    expect(checksum(dev(rid), 32 * MiB)).toBe(sum);
    // same name and source again: the same volume, with its content source
    const again = await create('pvc-thin-restore', 48, {}, { snapshot: { snapshot_id: s1.snapshot?.snapshot_id } });
    expect(again.volume?.volume_id).toBe(rid);
    expect(again.volume?.content_source?.snapshot?.snapshot_id).toBe(s1.snapshot?.snapshot_id);
    // smaller than the source: OUT_OF_RANGE
    expect(
      await codeOf(create('pvc-thin-small', 16, {}, { snapshot: { snapshot_id: s1.snapshot?.snapshot_id } })),
    ).toBe(Code.OUT_OF_RANGE);
  });

  it('clones a thin volume with identical data', async () => {
    const src = (await create('pvc-thin-src', 32)).volume?.volume_id ?? '';
    const sum = checksum(dev(src), 32 * MiB);
    const c = await create('pvc-thin-clone', 32, {}, { volume: { volume_id: src } });
    expect(checksum(dev(c.volume?.volume_id ?? ''), 32 * MiB)).toBe(sum);
  });

  it('restores and clones thick volumes by full copy, larger targets included', async () => {
    const v = await create('pvc-thick-src', 24, { lvmType: 'thick' });
    const id = v.volume?.volume_id ?? '';
    writePattern(dev(id), 24 * MiB, 'thick-src');
    const sum = checksum(dev(id), 24 * MiB);
    const s = await call(p.controller, 'CreateSnapshot', {
      source_volume_id: id,
      name: 'snap-thick-1',
      parameters: { snapshotReserve: '50' },
    });
    const sl = rawLv(VG, lvOf(s.snapshot?.snapshot_id ?? ''));
    expect(sl?.origin).toBe(lvOf(id));
    expect(Number(sl?.lv_size)).toBe(12 * MiB);
    writePattern(dev(id), MiB, 'changed-after-snapshot');
    const r = await untilNotAborted(() =>
      create('pvc-thick-restore', 32, { lvmType: 'thick' }, { snapshot: { snapshot_id: s.snapshot?.snapshot_id } }),
    );
    const rid = r.volume?.volume_id ?? '';
    expect(rawLv(VG, lvOf(rid))).toMatchObject({ segtype: 'linear', lv_size: String(32 * MiB) });
    expect(checksum(dev(rid), 24 * MiB)).toBe(sum);
    expect(isZero(dev(rid), 24 * MiB, 8 * MiB)).toBe(true);
    const c = await untilNotAborted(() =>
      create('pvc-thick-clone', 24, { lvmType: 'thick' }, { volume: { volume_id: id } }),
    );
    expect(checksum(dev(c.volume?.volume_id ?? ''), 24 * MiB)).toBe(checksum(dev(id), 24 * MiB));
    // no temporary snapshot is left behind
    expect(sh(['lvs', '--noheadings', '-o', 'lv_name', VG])).not.toMatch(/tmp/);
  });

  it('expands thin and thick volumes, and refuses a thick origin with snapshots', async () => {
    const thin = (await create('pvc-grow-thin', 16)).volume?.volume_id ?? '';
    const e = await call(p.controller, 'ControllerExpandVolume', {
      volume_id: thin,
      capacity_range: { required_bytes: String(40 * MiB) },
      volume_capability: mountCap(),
    });
    expect(e).toMatchObject({ capacity_bytes: String(40 * MiB), node_expansion_required: true });
    expect(rawLv(VG, lvOf(thin))?.lv_size).toBe(String(40 * MiB));
    const smaller = await call(p.controller, 'ControllerExpandVolume', {
      volume_id: thin,
      capacity_range: { required_bytes: String(8 * MiB) },
    });
    expect(smaller.capacity_bytes).toBe(String(40 * MiB));
    const thick = (await create('pvc-grow-thick', 16, { lvmType: 'thick' })).volume?.volume_id ?? '';
    await call(p.controller, 'ControllerExpandVolume', {
      volume_id: thick,
      capacity_range: { required_bytes: String(24 * MiB) },
    });
    expect(rawLv(VG, lvOf(thick))?.lv_size).toBe(String(24 * MiB));
    await call(p.controller, 'CreateSnapshot', { source_volume_id: thick, name: 'snap-grow', parameters: {} });
    expect(
      await codeOf(
        call(p.controller, 'ControllerExpandVolume', {
          volume_id: thick,
          capacity_range: { required_bytes: String(32 * MiB) },
        }),
      ),
    ).toBe(Code.FAILED_PRECONDITION);
    expect(
      await codeOf(
        call(p.controller, 'ControllerExpandVolume', {
          volume_id: 'zzzzzzzz/csivg/vol_none',
          capacity_range: { required_bytes: '1' },
        }),
      ),
    ).toBe(Code.NOT_FOUND);
  });

  it('hides a deleted thick origin that has snapshots and removes it with its last snapshot', async () => {
    const v = (await create('pvc-origin', 16, { lvmType: 'thick', volumeClear: 'none' })).volume?.volume_id ?? '';
    const s =
      (await call(p.controller, 'CreateSnapshot', { source_volume_id: v, name: 'snap-origin', parameters: {} }))
        .snapshot?.snapshot_id ?? '';
    await call(p.controller, 'DeleteVolume', { volume_id: v });
    expect(rawLv(VG, lvOf(v))).toBeDefined();
    const listed = (await call(p.controller, 'ListVolumes', {})).entries.map((e) => e.volume?.volume_id);
    expect(listed).not.toContain(v);
    expect(await codeOf(call(p.controller, 'ControllerGetVolume', { volume_id: v }))).toBe(Code.NOT_FOUND);
    // the snapshot still restores
    const r = await create('pvc-from-hidden', 16, { lvmType: 'thick' }, { snapshot: { snapshot_id: s } });
    expect(r.volume?.volume_id).toBeTruthy();
    await call(p.controller, 'DeleteSnapshot', { snapshot_id: s });
    await waitFor(() => rawLv(VG, lvOf(v)) === undefined, 60_000);
  });

  it('zeroes a thick volume before removing it, so the next volume on its extents reads zeros', async () => {
    const params = { lvmType: 'thick', volumeGroup: ZVG };
    const a = (await create('pvc-zero-a', 32, params)).volume?.volume_id ?? '';
    writePattern(dev(a), 32 * MiB, 'tenant-a');
    await call(p.controller, 'DeleteVolume', { volume_id: a });
    await call(p.controller, 'DeleteVolume', { volume_id: a });
    expect(rawLv(ZVG, lvOf(a))).toBeUndefined();
    const b = (await create('pvc-zero-b', 32, params)).volume?.volume_id ?? '';
    expect(isZero(dev(b), 0, 32 * MiB)).toBe(true);
    writePattern(dev(b), 32 * MiB, 'tenant-b');
    await call(p.controller, 'DeleteVolume', { volume_id: b });
    // a volumeClear=none volume goes back unzeroed (its pattern stays on the extents), and the VG is
    // marked: the next volume that zeroes is zeroed on create (issue #11 item 6)
    const c = (await create('pvc-zero-c', 32, { ...params, volumeClear: 'none' })).volume?.volume_id ?? '';
    writePattern(dev(c), 32 * MiB, 'tenant-c');
    await call(p.controller, 'DeleteVolume', { volume_id: c });
    expect(sh(['vgs', '--noheadings', '-o', 'vg_tags', ZVG])).toContain('csi.unzeroed=1');
    const d = (await create('pvc-zero-d', 32, params)).volume?.volume_id ?? '';
    expect(isZero(dev(d), 0, 32 * MiB)).toBe(true);
  });

  it('deletes idempotently and treats unknown or malformed ids as spec says', async () => {
    const v = (await create('pvc-del', 16)).volume?.volume_id ?? '';
    await call(p.controller, 'DeleteVolume', { volume_id: v });
    await call(p.controller, 'DeleteVolume', { volume_id: v });
    expect(rawLv(VG, lvOf(v))).toBeUndefined();
    await call(p.controller, 'DeleteVolume', { volume_id: 'not-an-id' });
    await call(p.controller, 'DeleteSnapshot', { snapshot_id: 'not-an-id' });
    expect(await codeOf(call(p.controller, 'DeleteVolume', { volume_id: '' }))).toBe(Code.INVALID_ARGUMENT);
    expect(await codeOf(call(p.controller, 'ControllerGetVolume', { volume_id: v }))).toBe(Code.NOT_FOUND);
    expect(
      await codeOf(
        call(p.controller, 'ValidateVolumeCapabilities', { volume_id: v, volume_capabilities: [mountCap()] }),
      ),
    ).toBe(Code.NOT_FOUND);
    expect(
      await codeOf(
        call(p.controller, 'CreateSnapshot', { source_volume_id: v, name: 'snap-of-nothing', parameters: {} }),
      ),
    ).toBe(Code.NOT_FOUND);
  });

  it('lists volumes and snapshots with pagination and filters', async () => {
    const all = (await call(p.controller, 'ListVolumes', {})).entries.map((e) => e.volume?.volume_id);
    const seen: string[] = [];
    let token = '';
    do {
      const page = await call(p.controller, 'ListVolumes', { max_entries: 2, starting_token: token });
      expect(page.entries.length).toBeLessThanOrEqual(2);
      seen.push(...page.entries.map((e) => e.volume?.volume_id ?? ''));
      token = page.next_token;
    } while (token);
    expect(seen.sort()).toEqual([...all].sort());
    expect(await codeOf(call(p.controller, 'ListVolumes', { starting_token: 'garbage' }))).toBe(Code.ABORTED);
    const src = (await create('pvc-thin-src', 32)).volume?.volume_id ?? '';
    const bySource = await call(p.controller, 'ListSnapshots', { source_volume_id: src });
    expect(bySource.entries.map((e) => e.snapshot?.source_volume_id)).toEqual([src]);
    const one = bySource.entries[0]?.snapshot?.snapshot_id ?? '';
    const byId = await call(p.controller, 'ListSnapshots', { snapshot_id: one });
    expect(byId.entries).toHaveLength(1);
    expect(
      (await call(p.controller, 'ListSnapshots', { snapshot_id: 'zzzzzzzz/csivg/snap_none' })).entries,
    ).toHaveLength(0);
    expect(await codeOf(call(p.controller, 'ListSnapshots', { starting_token: 'garbage' }))).toBe(Code.ABORTED);
  });

  it('reports capacity and volume condition', async () => {
    const thin = await call(p.controller, 'GetCapacity', { parameters: {} });
    const thick = await call(p.controller, 'GetCapacity', { parameters: { lvmType: 'thick' } });
    expect(Number(thin.available_capacity)).toBeGreaterThan(0);
    expect(Number(thick.available_capacity)).toBeGreaterThan(0);
    expect(Number(thick.maximum_volume_size?.value)).toBeLessThanOrEqual(Number(thick.available_capacity));
    const before = Number(thick.available_capacity);
    await create('pvc-cap', 64, { lvmType: 'thick' });
    const after = Number(
      (await call(p.controller, 'GetCapacity', { parameters: { lvmType: 'thick' } })).available_capacity,
    );
    expect(before - after).toBe(64 * MiB);
    const v = (await create('pvc-cond', 16)).volume?.volume_id ?? '';
    expect((await call(p.controller, 'ControllerGetVolume', { volume_id: v })).status?.volume_condition?.abnormal).toBe(
      false,
    );
    sh(['lvchange', '-an', `${VG}/${lvOf(v)}`]);
    const cond = (await call(p.controller, 'ControllerGetVolume', { volume_id: v })).status?.volume_condition;
    expect(cond).toMatchObject({ abnormal: true });
    expect(cond?.message).toMatch(/not active/);
    sh(['lvchange', '-ay', `${VG}/${lvOf(v)}`]);
  });

  it('validates capabilities', async () => {
    const v = (await create('pvc-thin-1', 32)).volume?.volume_id ?? '';
    const ok = await call(p.controller, 'ValidateVolumeCapabilities', {
      volume_id: v,
      volume_capabilities: [mountCap('xfs')],
    });
    expect(ok.confirmed).toBeTruthy();
    const no = await call(p.controller, 'ValidateVolumeCapabilities', {
      volume_id: v,
      volume_capabilities: [
        { mount: { fs_type: 'ext4', mount_flags: [] }, access_mode: { mode: 'MULTI_NODE_MULTI_WRITER' } },
      ],
    });
    expect(no.confirmed).toBeFalsy();
    expect(no.message).toMatch(/MULTI_NODE_MULTI_WRITER/);
  });

  it('adopts an existing LV with the adopt command and serves it like any volume', async () => {
    sh(['lvcreate', '-q', '-y', '--type', 'linear', '-L', '16m', '-n', 'legacy_data', VG]);
    writePattern(`/dev/${VG}/legacy_data`, 16 * MiB, 'legacy');
    const sum = checksum(`/dev/${VG}/legacy_data`, 16 * MiB);
    const yaml = sh([
      process.execPath,
      'dist/main.js',
      'adopt',
      '--node-id',
      'storage-1',
      '--volume-group',
      VG,
      '--lv',
      'legacy_data',
      '--name',
      'pv-legacy',
      '--fs-type',
      'ext4',
    ]);
    expect(yaml).toMatch(/kind: PersistentVolume/);
    expect(yaml).toMatch(/persistentVolumeReclaimPolicy: Retain/);
    const handle = /volumeHandle: "([^"]+)"/.exec(yaml)?.[1] ?? '';
    expect(handle.split('/')[1]).toBe(VG);
    expect(rawLv(VG, 'legacy_data')).toBeUndefined();
    expect(rawLv(VG, lvOf(handle))?.lv_tags).toContain('csi.name=pv-legacy');
    expect(checksum(dev(handle), 16 * MiB)).toBe(sum);
    const got = await call(p.controller, 'ControllerGetVolume', { volume_id: handle });
    expect(got.volume).toMatchObject({ volume_id: handle, capacity_bytes: String(16 * MiB) });
    // adopting twice, or a missing LV, is refused with a message
    const again = shStatus([
      process.execPath,
      'dist/main.js',
      'adopt',
      '--node-id',
      'storage-1',
      '--volume-group',
      VG,
      '--lv',
      lvOf(handle),
      '--name',
      'pv-legacy2',
    ]);
    expect(again.code).not.toBe(0);
    expect(again.out).toMatch(/already managed/);
  });

  it('finishes a thick restore that was killed (-9) mid-copy once the agent is back', async () => {
    const src = (await create('pvc-crash-src', 128, { lvmType: 'thick', volumeClear: 'none' })).volume?.volume_id ?? '';
    writePattern(dev(src), 128 * MiB, 'crash-src');
    const sum = checksum(dev(src), 128 * MiB);
    const snap =
      (await call(p.controller, 'CreateSnapshot', { source_volume_id: src, name: 'snap-crash', parameters: {} }))
        .snapshot?.snapshot_id ?? '';
    await p.stop();
    p = await startPlugin([
      ...flags.filter((f, i, a) => f !== '--job-wait-seconds' && a[i - 1] !== '--job-wait-seconds'),
      '--job-wait-seconds',
      '0',
    ]);
    const code = await codeOf(
      create('pvc-crash', 128, { lvmType: 'thick', volumeClear: 'none' }, { snapshot: { snapshot_id: snap } }),
    );
    expect(code).toBe(Code.ABORTED);
    const line = await waitFor(
      () =>
        sh(['lvs', '--noheadings', '-o', 'lv_name,lv_tags', VG])
          .split('\n')
          .find((l) => l.includes('csi.name=pvc-crash,') || l.endsWith('csi.name=pvc-crash')),
      10_000,
    );
    const lv = line.trim().split(/\s+/)[0] ?? '';
    expect(rawLv(VG, lv)?.lv_tags).not.toContain('csi.ready=1');
    p.child.kill('SIGKILL');
    await new Promise((r) => p.child.once('exit', r));
    p = await startPlugin(flags);
    const done = await waitFor(async () => {
      const r = await create(
        'pvc-crash',
        128,
        { lvmType: 'thick', volumeClear: 'none' },
        { snapshot: { snapshot_id: snap } },
      ).catch(() => undefined);
      return r?.volume?.volume_id;
    }, 240_000);
    expect(rawLv(VG, lvOf(done))?.lv_tags).toContain('csi.ready=1');
    expect(checksum(dev(done), 128 * MiB)).toBe(sum);
  });
});
