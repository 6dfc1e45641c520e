/**
 * The data-path settings the plugin makes, read back from the real kernel:
 * the login keys LIO offers (configfs tpgt_1/param), what the session
 * negotiated with open-iscsi (`iscsiadm -m session -P 2`), and the staged
 * disk's queue (sysfs scheduler). Then data written through the disk
 * (buffered, and direct 1 MiB writes) reads back from the LV, and the other
 * way round.
 * Figures are in test/bench/datapath.bench.ts; nothing here times anything.
 */
import { appendFileSync, readFileSync, realpathSync } from 'node:fs';
import { basename, join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCsi } from '../../src/server/proto.js';
import { TPG_PARAMS } from '../../src/iscsi-target/lio-layout.js';
import {
  blockCap,
  call,
  checksum,
  disks,
  inGuest,
  isZero,
  lvsJson,
  makeVg,
  MiB,
  sh,
  shStatus,
  startPlugin,
  teardownExports,
  writePattern,
  type PluginProcess,
  PUBLISH_WITHOUT_CHAP,
} from './lib.js';

const VG = 'dpvg';
const PORTAL = '127.0.0.1:3260';
const read = (p: string) => readFileSync(p, 'utf8').trim();
const t0 = Date.now();
/** Progress on the console (a slow, loaded guest: shows where the time went). */
function step(what: string): void {
  const line = `datapath.test +${((Date.now() - t0) / 1000).toFixed(0)} s: ${what}`;
  console.log(line);
  if (process.env['VM_OUT']) appendFileSync(join(process.env['VM_OUT'], 'datapath-test.log'), `${line}\n`);
}

/** "Key: value" lines of the session's negotiated parameters. */
function negotiated(iqn: string): Record<string, string> {
  const out = sh(['iscsiadm', '-m', 'session', '-P', '2']);
  const block = out.split(/^Target: /m).find((b) => b.startsWith(iqn)) ?? '';
  const params = block.split('Negotiated iSCSI params:')[1] ?? '';
  return Object.fromEntries(
    [...params.matchAll(/^\s*(\w+): (\S+)\s*$/gm)].map((m): [string, string] => [m[1] ?? '', m[2] ?? '']),
  );
}

describe.runIf(inGuest)('data path settings on the real kernel', () => {
  let p: PluginProcess;
  let node: InstanceType<ReturnType<typeof loadCsi>['csi']['v1']['Node']>;
  let nodeId = '';
  const kubelet = '/tmp/dp-kubelet';

  beforeAll(async () => {
    makeVg(VG, disks.slice(0, 2));
    p = await startPlugin([
      '--mode',
      'all',
      ...PUBLISH_WITHOUT_CHAP,
      '--volume-group',
      VG,
      '--thin-pool',
      'pool',
      '--thin-pool-percent',
      '60',
      '--portals',
      PORTAL,
      '--job-wait-seconds',
      '60',
      '--kubelet-dir',
      kubelet,
    ]);
    node = new (loadCsi().csi.v1.Node)(`unix://${p.sock}`, credentials.createInsecure());
    nodeId = (await call(node, 'NodeGetInfo', {})).node_id;
    step('plugin ready');
  });

  afterAll(async () => {
    node?.close();
    if (p) await p.stop();
    await teardownExports(VG);
  });

  it('target offers and the session negotiates large transfers; the disk gets scheduler none; data round-trips', async () => {
    const cap = blockCap();
    const id =
      (
        await call(p.controller, 'CreateVolume', {
          name: 'dp-settings',
          capacity_range: { required_bytes: String(64 * MiB) },
          volume_capabilities: [cap],
          parameters: {},
        })
      ).volume?.volume_id ?? '';
    const ctx = (
      await call(p.controller, 'ControllerPublishVolume', {
        volume_id: id,
        node_id: nodeId,
        volume_capability: cap,
        readonly: false,
        secrets: {},
        volume_context: {},
      })
    ).publish_context;
    const iqn = ctx['targetIqn'] ?? '';
    step('published');
    const tpg = `/sys/kernel/config/target/iscsi/${iqn}/tpgt_1`;
    for (const [key, value] of TPG_PARAMS) expect(`${key}=${read(join(tpg, 'param', key))}`).toBe(`${key}=${value}`);

    const staging = join(kubelet, 'staging', 'dp-settings');
    const stage = {
      volume_id: id,
      publish_context: ctx,
      staging_target_path: staging,
      volume_capability: cap,
      secrets: {},
      volume_context: {},
    };
    await call(node, 'NodeStageVolume', stage);
    step('staged');

    expect(negotiated(iqn)).toMatchObject({
      MaxRecvDataSegmentLength: '262144',
      MaxXmitDataSegmentLength: '262144',
      FirstBurstLength: '262144',
      MaxBurstLength: '1048576',
      ImmediateData: 'Yes',
      InitialR2T: 'No',
    });
    const dev = realpathSync(`/dev/disk/by-path/ip-${PORTAL}-iscsi-${iqn}-lun-0`);
    const queue = `/sys/block/${basename(dev)}/queue`;
    expect(read(`${queue}/scheduler`)).toMatch(/\[none\]/);
    // a repeated stage keeps them (and changes nothing)
    await call(node, 'NodeStageVolume', stage);
    expect(read(`${queue}/scheduler`)).toMatch(/\[none\]/);

    const lv = lvsJson(VG).find((l) => l.pool_lv === 'pool');
    const local = `/dev/${VG}/${lv?.lv_name}`;
    // buffered and direct 1 MiB writes through iSCSI, then writes on the LV read back through iSCSI
    step('settings checked');
    writePattern(dev, 16 * MiB, 'through-iscsi');
    sh([
      'dd',
      `if=${dev}`,
      `of=${dev}`,
      'bs=1M',
      'count=16',
      'skip=0',
      'seek=16',
      'oflag=direct',
      'iflag=direct',
      'status=none',
    ]);
    expect(checksum(local, 32 * MiB)).toBe(checksum(dev, 32 * MiB));
    expect([isZero(local, 0, 16 * MiB), isZero(local, 16 * MiB, 16 * MiB)]).toEqual([false, false]);
    writePattern(local, 32 * MiB, 'on-the-lv');
    expect(checksum(dev, 32 * MiB)).toBe(checksum(local, 32 * MiB));

    step('data checked');
    await call(node, 'NodeUnstageVolume', { volume_id: id, staging_target_path: staging });
    await call(p.controller, 'ControllerUnpublishVolume', { volume_id: id, node_id: nodeId });
    await call(p.controller, 'DeleteVolume', { volume_id: id });
    expect(shStatus(['iscsiadm', '-m', 'session']).code).not.toBe(0);
  }, 600_000);
});
