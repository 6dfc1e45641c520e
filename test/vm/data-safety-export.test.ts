/**
 * Data safety on the storage side (issue #11): reader-only access modes get a
 * read-only LUN on LIO and tgt (also after a reconcile re-creates the export),
 * thin snapshots honour the pool thresholds and the volume condition reports
 * metadata and pool health, an invalidated COW snapshot is never restored, and
 * LIO backstores orphaned by a crash are removed by reconcile (only ours).
 * Every claim is checked with data written beforehand and read back by
 * checksum on the storage side.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { status as Code } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LioTarget } from '../../src/iscsi-target/lio.js';
import {
  call,
  checksum,
  destroyVg,
  disks,
  inGuest,
  makeVg,
  MiB,
  rawLv,
  sh,
  shStatus,
  startPlugin,
  waitFor,
  writePattern,
  type PluginProcess,
  PUBLISH_WITHOUT_CHAP,
} from './lib.js';

const VG = 'dsvg';
const TVG = 'dstvg';
const IQN_A = 'iqn.2024-01.test.vm:guest';
const NODE_A = `node-a:${IQN_A}`;
const PREFIX = 'iqn.2024-01.org.example.csi-lvm-iscsi';
const CORE = '/sys/kernel/config/target/core/iblock_0';
/** The host under test may be loaded (software emulation, other guests): give the plugin time to start. */
const SLOW = { startTimeoutMs: 300_000 };
const LONG = 1_200_000;

const roCap = (mode: 'MULTI_NODE_READER_ONLY' | 'SINGLE_NODE_WRITER') => ({
  mount: { fs_type: 'ext4', mount_flags: [] },
  access_mode: { mode },
});
const lvOf = (id: string) => id.split('/')[2] ?? '';

function iscsiadm(args: string[]) {
  return shStatus(['iscsiadm', ...args]);
}

function login(iqn: string, portal: string): number {
  iscsiadm(['-m', 'node', '-T', iqn, '-p', portal, '-o', 'new']);
  sh([
    'iscsiadm',
    '-m',
    'node',
    '-T',
    iqn,
    '-p',
    portal,
    '-o',
    'update',
    '-n',
    'node.session.initial_login_retry_max',
    '-v',
    '1',
  ]);
  return iscsiadm(['-m', 'node', '-T', iqn, '-p', portal, '--login']).code;
}

function logout(iqn: string) {
  iscsiadm(['-m', 'node', '-T', iqn, '--logout']);
  iscsiadm(['-m', 'node', '-T', iqn, '-o', 'delete']);
}

/** A raw O_DIRECT write of 1 MiB at offset 0 through the initiator's disk; returns dd's exit code and message. */
function rawWrite(dev: string): { code: number; out: string } {
  return shStatus([
    'dd',
    'if=/dev/urandom',
    `of=${dev}`,
    'bs=64k',
    'count=16',
    'oflag=direct',
    'conv=fsync,nocreat,notrunc',
  ]);
}

let tgtd: ChildProcess | undefined;
async function startTgtd(portal: string) {
  tgtd = spawn('tgtd', ['-f', '--iscsi', `portal=${portal}`], { stdio: 'ignore' });
  await waitFor(() => shStatus(['tgtadm', '--lld', 'iscsi', '--mode', 'target', '--op', 'show']).code === 0, 30_000);
}
async function stopTgtd() {
  shStatus(['tgtadm', '--op', 'delete', '--mode', 'system']);
  const t = tgtd;
  if (t && t.exitCode === null) {
    await Promise.race([new Promise((r) => t.once('exit', r)), new Promise((r) => setTimeout(r, 3000))]);
    if (t.exitCode === null) t.kill('SIGKILL');
  }
}

async function removeAllLio() {
  const t = new LioTarget();
  for (const x of await t.listTargets()) await t.removeTarget(x.iqn);
}

interface Backend {
  name: 'lio' | 'tgt';
  portal: string;
  lun: string;
  /** Loses every export behind the plugin's back, like a storage-node reboot or a tgtd restart. */
  loseExports(): Promise<void>;
  /** The target exists and admits the test's initiator. */
  hasAcl(iqn: string): boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const backends: Backend[] = [
  {
    name: 'lio',
    portal: '127.0.0.1:3260',
    lun: '0',
    loseExports: removeAllLio,
    hasAcl: (iqn) => existsSync(`/sys/kernel/config/target/iscsi/${iqn}/tpgt_1/acls/${IQN_A}/lun_0`),
    start: async () => undefined,
    stop: removeAllLio,
  },
  {
    name: 'tgt',
    portal: '127.0.0.1:3261',
    lun: '1',
    loseExports: async () => {
      await stopTgtd();
      await startTgtd('127.0.0.1:3261');
    },
    hasAcl: (iqn) => {
      const r = shStatus(['tgtadm', '--lld', 'iscsi', '--mode', 'target', '--op', 'show']);
      const block = r.out
        .split(/\n(?=Target \d+: )/)
        .find((x) => x.startsWith(`Target `) && x.split('\n')[0]?.endsWith(` ${iqn}`));
      return (
        r.code === 0 &&
        block !== undefined &&
        /LUN: 1/.test(block) &&
        (block.split('ACL information:')[1] ?? '').includes(IQN_A)
      );
    },
    start: () => startTgtd('127.0.0.1:3261'),
    stop: stopTgtd,
  },
];

describe.runIf(inGuest).each(backends)('item 3 (target side) on $name', (b) => {
  let p: PluginProcess;
  const flags = [
    '--mode',
    'all',
    ...PUBLISH_WITHOUT_CHAP,
    '--volume-group',
    VG,
    '--portals',
    b.portal,
    '--job-wait-seconds',
    '30',
    '--target-backend',
    b.name,
    '--reconcile-interval',
    '5',
  ];

  beforeAll(async () => {
    makeVg(VG, disks.slice(0, 2));
    await b.start();
    p = await startPlugin(flags, SLOW);
  }, LONG);

  afterAll(async () => {
    iscsiadm(['-m', 'node', '--logoutall=all']);
    iscsiadm(['-m', 'node', '-o', 'delete']);
    if (p) await p.stop();
    await b.stop();
    destroyVg(VG);
  }, LONG);

  /** Logs in, tries a raw write, logs out; the LV read back on the storage side must be unchanged. */
  async function expectReadOnlyExport(iqn: string, lvDev: string, before: string) {
    expect(login(iqn, b.portal)).toBe(0);
    const dev = `/dev/disk/by-path/ip-${b.portal}-iscsi-${iqn}-lun-${b.lun}`;
    await waitFor(() => existsSync(dev), 30_000);
    expect(checksum(dev, 16 * MiB)).toBe(before); // the data is readable through the export
    const w = rawWrite(dev);
    console.log(
      `[${b.name}] raw write through the read-only export: exit ${w.code}: ${w.out.trim().split('\n')[0] ?? ''}`,
    );
    expect(w.code).not.toBe(0);
    expect(w.out).toMatch(
      /Input\/output error|Read-only file system|Permission denied|Operation not permitted|write protected/i,
    );
    logout(iqn);
    expect(checksum(lvDev, 16 * MiB)).toBe(before);
  }

  it(
    'item 3: a MULTI_NODE_READER_ONLY volume (readonly flag false) is exported read-only, also after a reconcile',
    { timeout: LONG },
    async () => {
      const v =
        (
          await call(p.controller, 'CreateVolume', {
            name: `ds-rox-${b.name}`,
            capacity_range: { required_bytes: String(16 * MiB) },
            volume_capabilities: [roCap('MULTI_NODE_READER_ONLY')],
            parameters: {},
          })
        ).volume?.volume_id ?? '';
      const lvDev = `/dev/${VG}/${lvOf(v)}`;
      writePattern(lvDev, 16 * MiB, `rox-${b.name}`);
      const before = checksum(lvDev, 16 * MiB);

      const r = await call(p.controller, 'ControllerPublishVolume', {
        volume_id: v,
        node_id: NODE_A,
        volume_capability: roCap('MULTI_NODE_READER_ONLY'),
        readonly: false,
        secrets: {},
        volume_context: {},
      });
      const iqn = r.publish_context['targetIqn'] ?? '';
      await expectReadOnlyExport(iqn, lvDev, before);

      // the exports are lost (LIO: removed by hand, tgt: tgtd restarted); the periodic reconcile re-creates them from the published tag
      await b.loseExports();
      await waitFor(() => b.hasAcl(iqn), 300_000);
      await expectReadOnlyExport(iqn, lvDev, before);

      await call(p.controller, 'ControllerUnpublishVolume', { volume_id: v, node_id: NODE_A });
      await call(p.controller, 'DeleteVolume', { volume_id: v });
    },
  );
});

describe.runIf(inGuest)('items 8 and low on LIO: pool thresholds, invalid snapshots, orphaned backstores', () => {
  let p: PluginProcess | undefined;
  const flags = (threshold: string) => [
    '--mode',
    'all',
    ...PUBLISH_WITHOUT_CHAP,
    '--volume-group',
    `${VG},${TVG}`,
    '--thin-pool',
    'pool',
    '--thin-pool-percent',
    '10',
    '--thin-pool-threshold',
    threshold,
    '--portals',
    '127.0.0.1:3260',
    '--job-wait-seconds',
    '20',
    '--target-backend',
    'lio',
    '--reconcile-interval',
    '5',
  ];
  const restart = async (threshold: string) => {
    if (p) await p.stop();
    p = await startPlugin(flags(threshold), SLOW);
    return p;
  };
  const pool = () => {
    const l = rawLv(TVG, 'pool');
    const meta = sh(['lvs', '--noheadings', '-o', 'metadata_percent', `${TVG}/pool`]).trim();
    return { data: Number(l?.data_percent ?? 'NaN'), meta: Number(meta) };
  };

  beforeAll(async () => {
    makeVg(VG, disks.slice(0, 2));
    makeVg(TVG, disks.slice(2, 3));
    // a small pool with the smallest metadata LV lvm makes (2 MiB), adopted by the agent
    sh(['lvcreate', '-q', '--type', 'thin-pool', '-L', '64M', '--poolmetadatasize', '2M', '-Zy', '-n', 'pool', TVG]);
  }, LONG);

  afterAll(async () => {
    if (p) await p.stop();
    await removeAllLio();
    for (const name of ['dsvg-orphan--mine', 'foreign-disk'])
      if (existsSync(`${CORE}/${name}`)) shStatus(['rmdir', `${CORE}/${name}`]);
    destroyVg(VG);
    destroyVg(TVG);
  }, LONG);

  it(
    'item 8: metadata above the threshold makes the volume condition abnormal; data above it refuses CreateSnapshot with RESOURCE_EXHAUSTED',
    { timeout: LONG },
    async () => {
      const c = (await restart('90')).controller;
      const v =
        (
          await call(c, 'CreateVolume', {
            name: 'ds-thin',
            capacity_range: { required_bytes: String(48 * MiB) },
            volume_capabilities: [roCap('SINGLE_NODE_WRITER')],
            parameters: { volumeGroup: TVG, lvmType: 'thin' },
          })
        ).volume?.volume_id ?? '';
      const lvDev = `/dev/${TVG}/${lvOf(v)}`;
      writePattern(lvDev, 1 * MiB, 'thin-small');
      const fresh = pool();
      console.log(`pool after 1 MiB: data ${fresh.data}% metadata ${fresh.meta}%`);
      expect(fresh.meta - fresh.data).toBeGreaterThan(0.5);

      // threshold between data and metadata usage: only the metadata is above it
      const between = ((fresh.data + fresh.meta) / 2).toFixed(2);
      const c2 = (await restart(between)).controller;
      const got = await call(c2, 'ControllerGetVolume', { volume_id: v });
      console.log(`condition at threshold ${between}%: ${JSON.stringify(got.status?.volume_condition)}`);
      expect(got.status?.volume_condition).toMatchObject({ abnormal: true });
      expect(got.status?.volume_condition?.message).toMatch(/metadata is .*% full/);

      // fill the data past 50%: the snapshot is refused, nothing is made, the volume's data is as written
      await p?.stop();
      p = undefined;
      writePattern(lvDev, 40 * MiB, 'thin-fill');
      const before = checksum(lvDev, 40 * MiB);
      const full = pool();
      console.log(`pool after 40 MiB: data ${full.data}% metadata ${full.meta}%`);
      expect(full.data).toBeGreaterThan(50);
      const c3 = (await restart('50')).controller;
      const err = await call(c3, 'CreateSnapshot', {
        name: 'ds-thin-snap',
        source_volume_id: v,
        parameters: {},
        secrets: {},
      }).catch((e: { code: number; details: string }) => e);
      console.log(`CreateSnapshot on a ${full.data}% full pool: ${JSON.stringify(err)}`);
      expect((err as { code?: number }).code).toBe(Code.RESOURCE_EXHAUSTED);
      expect((err as { details?: string }).details).toMatch(/data is .*% full, at or above the 50% threshold/);
      expect(
        sh(['lvs', '--noheadings', '-o', 'lv_name', TVG])
          .split('\n')
          .filter((l) => l.trim().startsWith('snap-')),
      ).toEqual([]);
      expect(checksum(lvDev, 40 * MiB)).toBe(before);
      await call(c3, 'DeleteVolume', { volume_id: v });
    },
  );

  /** The running plugin (the last one started), or a new one: thick volumes do not care about the thin threshold. */
  const running = async () => (p ?? (await restart('90'))).controller;

  it(
    'low: restoring from an invalidated (overflowed) thick COW snapshot is refused; no volume is made',
    { timeout: LONG },
    async () => {
      const c = await running();
      const v =
        (
          await call(c, 'CreateVolume', {
            name: 'ds-cow',
            capacity_range: { required_bytes: String(16 * MiB) },
            volume_capabilities: [roCap('SINGLE_NODE_WRITER')],
            parameters: { volumeGroup: VG, lvmType: 'thick' },
          })
        ).volume?.volume_id ?? '';
      const lvDev = `/dev/${VG}/${lvOf(v)}`;
      writePattern(lvDev, 16 * MiB, 'cow-before');
      const s =
        (
          await call(c, 'CreateSnapshot', {
            name: 'ds-cow-snap',
            source_volume_id: v,
            parameters: { snapshotReserve: '10' },
            secrets: {},
          })
        ).snapshot?.snapshot_id ?? '';
      // 16 MiB of new data through a 4 MiB exception store: lvm invalidates the snapshot
      writePattern(lvDev, 16 * MiB, 'cow-after');
      const after = checksum(lvDev, 16 * MiB);
      const attr = rawLv(VG, lvOf(s))?.lv_attr ?? '';
      console.log(`snapshot attr after the overflow: ${attr}`);
      expect(attr[4]).toBe('I');
      const err = await call(c, 'CreateVolume', {
        name: 'ds-cow-restore',
        capacity_range: { required_bytes: String(16 * MiB) },
        volume_capabilities: [roCap('SINGLE_NODE_WRITER')],
        parameters: { volumeGroup: VG, lvmType: 'thick' },
        volume_content_source: { snapshot: { snapshot_id: s } },
      }).catch((e: { code: number; details: string }) => e);
      console.log(`CreateVolume from the invalid snapshot: ${JSON.stringify(err)}`);
      expect((err as { code?: number }).code).toBe(Code.FAILED_PRECONDITION);
      expect((err as { details?: string }).details).toMatch(/invalidated/);
      const made = (await call(c, 'ListVolumes', {})).entries.filter((e) =>
        e.volume?.volume_id?.includes(`/${VG}/`),
      ).length;
      expect(made).toBe(1);
      expect(checksum(lvDev, 16 * MiB)).toBe(after);
      await call(c, 'DeleteSnapshot', { snapshot_id: s });
      await call(c, 'DeleteVolume', { volume_id: v });
    },
  );

  it(
    'low: a backstore orphaned between enable and target creation is removed by reconcile (ours only; a foreign one is kept)',
    { timeout: LONG },
    async () => {
      // made while no agent runs (its periodic reconcile would race the checks below); the start's reconcile must find them
      if (p) await p.stop();
      p = undefined;
      for (const lv of ['orphan-mine', 'orphan-foreign']) {
        sh(['lvcreate', '-q', '-L', '8M', '-n', lv, VG]);
        writePattern(`/dev/${VG}/${lv}`, 8 * MiB, lv);
      }
      const sums = {
        mine: checksum(`/dev/${VG}/orphan-mine`, 8 * MiB),
        foreign: checksum(`/dev/${VG}/orphan-foreign`, 8 * MiB),
      };
      // what ensureTarget leaves when the agent dies after enable, before the target links the backstore
      const makeBackstore = (name: string, dev: string, alias: string) => {
        mkdirSync(CORE, { recursive: true });
        mkdirSync(`${CORE}/${name}`);
        writeFileSync(`${CORE}/${name}/control`, `udev_path=${dev}`);
        writeFileSync(`${CORE}/${name}/udev_path`, dev);
        writeFileSync(`${CORE}/${name}/alias`, alias);
        writeFileSync(`${CORE}/${name}/enable`, '1');
      };
      makeBackstore('dsvg-orphan--mine', `/dev/${VG}/orphan-mine`, `${PREFIX}:${VG}:orphan-mine`);
      makeBackstore('foreign-disk', `/dev/${VG}/orphan-foreign`, 'iqn.2003-01.org.other:foreign');
      expect(shStatus(['lvremove', '-y', `${VG}/orphan-mine`]).code).not.toBe(0); // held open by the backstore

      await restart('90');

      await waitFor(() => !existsSync(`${CORE}/dsvg-orphan--mine`), 120_000).catch(() => undefined);
      expect(existsSync(`${CORE}/dsvg-orphan--mine`)).toBe(false);
      expect(existsSync(`${CORE}/foreign-disk`)).toBe(true);
      expect(checksum(`/dev/${VG}/orphan-mine`, 8 * MiB)).toBe(sums.mine);
      expect(checksum(`/dev/${VG}/orphan-foreign`, 8 * MiB)).toBe(sums.foreign);
      expect(shStatus(['lvremove', '-y', `${VG}/orphan-mine`]).code).toBe(0); // released
      shStatus(['rmdir', `${CORE}/foreign-disk`]);
      expect(shStatus(['lvremove', '-y', `${VG}/orphan-foreign`]).code).toBe(0);
    },
  );
});
