/**
 * Data path (issue 12): fio through the iSCSI path the plugin sets up vs the
 * same LV read and written locally, in the qemu guest.
 *
 * A thin 256 MiB volume is created by the plugin (--mode all, LIO), published
 * to this node and staged as a raw block volume (ControllerPublishVolume +
 * NodeStageVolume), so the disk fio drives is the one NodeStageVolume logged
 * in to, with whatever the plugin set on the target, the session and the
 * disk. The same LV is then driven locally through /dev/<vg>/<lv>. The
 * volume is filled once first, so neither side reads unprovisioned thin
 * blocks. Workloads alternate local / iSCSI, BENCH_ROUNDS rounds (default
 * 3), medians reported.
 *
 * The guest is software-emulated (TCG) on a shared host: absolute figures are
 * CPU bound and move with the host's load; the ratio iSCSI / local of one
 * run is the figure to compare. Figures only: nothing here asserts a timing.
 *
 * Rows go to $BENCH_OUT/rows.jsonl (default $VM_OUT/bench) in the bench
 * runner's format: {section, operation, plugin, bare, unit, ratio, note}.
 */
import { appendFileSync, mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { basename, join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { afterAll, describe, it } from 'vitest';
import { loadCsi } from '../../src/server/proto.js';
import {
  blockCap,
  call,
  disks,
  inGuest,
  lvsJson,
  makeVg,
  MiB,
  sh,
  startPlugin,
  teardownExports,
  type PluginProcess,
  PUBLISH_WITHOUT_CHAP,
} from '../vm/lib.js';
import { median, prefill, runFio, WORKLOADS } from './fio.js';

const VG = 'benchdp';
const PORTAL = '127.0.0.1:3260';
const SIZE = 256 * MiB;
const ROUNDS = Math.max(1, Number(process.env['BENCH_ROUNDS'] ?? 3));
const RUNTIME = Math.max(3, Number(process.env['BENCH_FIO_SECONDS'] ?? 10));
const OUT = process.env['BENCH_OUT'] ?? join(process.env['VM_OUT'] ?? '/tmp', 'bench');

interface Row {
  section: string;
  operation: string;
  plugin: number;
  bare: number;
  unit: 'ms' | 'MiB/s' | 'IOPS';
  ratio: number;
  note?: string;
}

function emit(row: Row): void {
  mkdirSync(OUT, { recursive: true });
  appendFileSync(join(OUT, 'rows.jsonl'), `${JSON.stringify(row)}\n`);
}

const read = (p: string) => readFileSync(p, 'utf8').trim();

describe.runIf(inGuest)('data path: fio through iSCSI vs the LV locally', () => {
  let p: PluginProcess | undefined;
  let node: InstanceType<ReturnType<typeof loadCsi>['csi']['v1']['Node']> | undefined;

  afterAll(async () => {
    node?.close();
    if (p) await p.stop();
    await teardownExports(VG);
  });

  it('sequential 1 MiB read/write and 4 KiB random read, iSCSI / local', async () => {
    makeVg(VG, disks.slice(0, 2));
    const kubelet = '/tmp/bench-kubelet';
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
    const nodeId = (await call(node, 'NodeGetInfo', {})).node_id;
    const cap = blockCap();
    const created = await call(p.controller, 'CreateVolume', {
      name: 'bench-datapath',
      capacity_range: { required_bytes: String(SIZE) },
      volume_capabilities: [cap],
      parameters: {},
    });
    const id = created.volume?.volume_id ?? '';
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
    const staging = join(kubelet, 'staging', 'bench-datapath');
    await call(node, 'NodeStageVolume', {
      volume_id: id,
      publish_context: ctx,
      staging_target_path: staging,
      volume_capability: cap,
      secrets: {},
      volume_context: {},
    });

    const iqn = ctx['targetIqn'] ?? '';
    const iscsiDev = realpathSync(`/dev/disk/by-path/ip-${PORTAL}-iscsi-${iqn}-lun-0`);
    const lv = lvsJson(VG).find((l) => l.pool_lv === 'pool');
    if (!lv) throw new Error(`no thin LV in ${VG}`);
    const localDev = `/dev/${VG}/${lv.lv_name}`;
    const q = `/sys/block/${basename(iscsiDev)}/queue`;
    const setting = `${basename(iscsiDev)}: scheduler ${read(`${q}/scheduler`)}, max_sectors_kb ${read(`${q}/max_sectors_kb`)}, read_ahead_kb ${read(`${q}/read_ahead_kb`)}`;
    console.log(`data path: iSCSI ${iscsiDev} vs local ${localDev}; ${setting}`);
    console.log(
      sh(['iscsiadm', '-m', 'session', '-P', '2'])
        .split('\n')
        .filter((l) => /Burst|DataSegment|R2T|ImmediateData/.test(l))
        .map((l) => l.trim())
        .join(', '),
    );

    prefill(iscsiDev, SIZE);
    const figures = WORKLOADS.map(() => ({ iscsi: [] as number[], local: [] as number[] }));
    for (let round = 0; round < ROUNDS; round++) {
      WORKLOADS.forEach((w, i) => {
        const f = figures[i] as { iscsi: number[]; local: number[] };
        f.local.push(runFio(localDev, w, { runtimeSeconds: RUNTIME }));
        f.iscsi.push(runFio(iscsiDev, w, { runtimeSeconds: RUNTIME }));
        console.log(
          `data path round ${round + 1}/${ROUNDS} ${w.operation}: iSCSI ${f.iscsi.at(-1)?.toFixed(0)} vs local ${f.local.at(-1)?.toFixed(0)} ${w.unit}`,
        );
      });
    }
    // a session recovery (nop-out timeout on a loaded host) explains an outlier: say so
    const recoveries = sh(['dmesg'])
      .split('\n')
      .filter((l) => /conn(ection)?\d*:\d+: (detected conn error|ping timeout)|session recovery/i.test(l));
    if (recoveries.length > 0)
      console.log(`data path: the kernel logged iSCSI connection errors during the run:\n${recoveries.join('\n')}`);
    WORKLOADS.forEach((w, i) => {
      const f = figures[i] as { iscsi: number[]; local: number[] };
      const plugin = median(f.iscsi);
      const bare = median(f.local);
      emit({
        section: 'data path',
        operation: w.operation,
        plugin: Math.round(plugin * 10) / 10,
        bare: Math.round(bare * 10) / 10,
        unit: w.unit,
        ratio: Math.round((plugin / bare) * 1000) / 1000,
        note: `thin ${SIZE / MiB} MiB, iSCSI (LIO, loopback) / same LV locally, ${ROUNDS} x ${RUNTIME} s, median (iSCSI ${f.iscsi.map((x) => x.toFixed(0)).join('/')}, local ${f.local.map((x) => x.toFixed(0)).join('/')}); ${setting}${recoveries.length ? `; ${recoveries.length} iSCSI connection error(s) logged` : ''}`,
      });
    });

    await call(node, 'NodeUnstageVolume', { volume_id: id, staging_target_path: staging });
    await call(p.controller, 'ControllerUnpublishVolume', { volume_id: id, node_id: nodeId });
    await call(p.controller, 'DeleteVolume', { volume_id: id });
  });
});
