/**
 * Each CSI call against the bare commands it stands for, pair by pair in one
 * guest run (plugin call, bare command, plugin call, ...), PAIRS pairs,
 * medians. The plugin runs in `all` mode with LIO on a VG over two of the guest's 4
 * disks (64 MiB metadata area, as the plugin makes VGs) with the thin pool it
 * creates itself; volumes are 64 MiB. Rows go to $BENCH_OUT/rows.jsonl.
 *
 * The volumes flow through the sections: PAIRS plugin and PAIRS bare thin
 * volumes are created, snapshotted, expanded, published, staged, unstaged,
 * unpublished and deleted, each step measured.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { credentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { ProcessRunner } from '../../src/exec/process-runner.js';
import { loadCsi } from '../../src/server/proto.js';
import { call, destroyVg, disks, inGuest, makeVg, MiB, mountCap, shStatus, PUBLISH_WITHOUT_CHAP } from '../vm/lib.js';
import {
  formatCounts,
  lioScript,
  MeasuredPlugin,
  median,
  pairs,
  PAIRS,
  PORTAL,
  round,
  run,
  timed,
  writeRow,
} from './lib.js';

const VG = 'benchvg';
/**
 * The bare commands run on a VG of their own, shaped like the plugin's (two
 * of the four disks each, the same metadata area, a 60% thin pool): a bare
 * lvcreate in the plugin's VG is an outside change the plugin must notice
 * (its metadata stamp moves), so every plugin call after one would read the
 * VG again, which no storage node where only the plugin changes its VGs pays.
 */
const BVG = 'barevg';
const SIZE = 64 * MiB;
const DRIVER = 'lvm-iscsi.csi.example.org';
const BATCH = Number(process.env['BENCH_BATCH'] ?? 20);
const BATCH_ROUNDS = Number(process.env['BENCH_BATCH_ROUNDS'] ?? 2);
const execFileP = promisify(execFile);

const bareLv = (kind: string, i: number) => `bare-${kind}-${i}`;
const bareIqn = (i: number) => `iqn.2024-01.test.bench:bare-${i}`;
const byPath = (iqn: string) => `/dev/disk/by-path/ip-${PORTAL}-iscsi-${iqn}-lun-0`;
const tag = ['--addtag', 'csi.kind=volume'];

describe.runIf(inGuest)('bench: CSI calls vs bare commands', () => {
  let mp: MeasuredPlugin;
  let node: InstanceType<ReturnType<typeof loadCsi>['csi']['v1']['Node']>;
  let nodeId = '';
  const kubelet = mkdtempSync('/tmp/bench-kubelet-');
  const vols: string[] = [];
  const snaps: string[] = [];
  const ctx: Record<string, string>[] = [];
  const staging = (i: number) => join(kubelet, 'plugins/kubernetes.io/csi', DRIVER, `bench-${i}`, 'globalmount');
  const bareMnt = (i: number) => join(kubelet, 'bare', String(i));
  const ctl = () => mp.p.controller;
  const create = (name: string, params: Record<string, string> = {}) =>
    call(ctl(), 'CreateVolume', {
      name,
      capacity_range: { required_bytes: String(SIZE) },
      volume_capabilities: [mountCap()],
      parameters: params,
    });

  beforeAll(async () => {
    makeVg(VG, disks.slice(0, 2), ['--metadatasize', '64m']);
    makeVg(BVG, disks.slice(2, 4), ['--metadatasize', '64m']);
    run(['lvcreate', '-q', '-y', '-T', '-l', '60%VG', '--zero', 'y', '--errorwhenfull', 'y', `${BVG}/pool`]);
    mp = await MeasuredPlugin.start(
      [
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
        '--kubelet-dir',
        kubelet,
        '--job-wait-seconds',
        '60',
        '--stats-interval',
        '0',
        // no export reconcile timer (default 60 s): its lvs would land in measurement windows
        '--reconcile-interval',
        '0',
      ],
      19101,
    );
    node = new (loadCsi().csi.v1.Node)(`unix://${mp.p.sock}`, credentials.createInsecure());
    nodeId = (await call(node, 'NodeGetInfo', {})).node_id;
    console.log(
      `[bench] kernel ${run(['uname', '-r']).trim()}, ${run(['nproc']).trim()} CPUs, lvm ${/LVM version:\s*(\S+)/.exec(run(['lvm', 'version']))?.[1]}`,
    );
  });

  afterAll(async () => {
    node?.close();
    if (mp) await mp.stop();
    shStatus(['iscsiadm', '-m', 'node', '--logoutall=all']);
    destroyVg(VG);
    destroyVg(BVG);
  });

  it('runner: one short command, ProcessRunner vs execFileSync', async () => {
    // the floor under every call: starting and reaping a process from node. The plugin runs every
    // command through ProcessRunner (execa before 2026-12-03: 84-94 ms here against spawn's 60)
    const runner = new ProcessRunner();
    const ways = {
      plugin: () => runner.run(['/bin/true']),
      bare: () => execFileSync('/bin/true', [], { stdio: 'ignore' }),
    };
    type Way = keyof typeof ways;
    const orders: Way[][] = [
      ['bare', 'plugin'],
      ['plugin', 'bare'],
    ];
    const ms: Record<Way, number[]> = { plugin: [], bare: [] };
    for (let i = 0; i < 31; i++) for (const w of orders[i % 2] ?? []) ms[w].push(await timed(ways[w]));
    writeRow({
      section: 'runner',
      operation: 'start and reap /bin/true',
      plugin: round(median(ms.plugin.slice(1)), 1),
      bare: round(median(ms.bare.slice(1)), 1),
      unit: 'ms',
      note: 'plugin: ProcessRunner (pipes, timeout, signal); bare: execFileSync; 30 each, interleaved',
    });
  });

  it('CreateVolume thin / thick', async () => {
    await pairs(
      mp,
      { section: 'controller', operation: 'CreateVolume thin' },
      PAIRS,
      async (i) => vols.push((await create(`bench-${i}`)).volume?.volume_id ?? ''),
      (i) => run(['lvcreate', '-q', '-y', '-T', '-V', '64m', '-n', bareLv('thin', i), `${BVG}/pool`, ...tag]),
      { settle: true },
    );
    await pairs(
      mp,
      { section: 'controller', operation: 'CreateVolume thick' },
      PAIRS,
      (i) => create(`bench-thick-${i}`, { lvmType: 'thick' }),
      (i) => run(['lvcreate', '-q', '-y', '-L', '64m', '-n', bareLv('thick', i), ...tag, BVG]),
      { settle: true },
    );
    // thick volumes are not needed further: remove them all in one untimed command
    const thick = run(['lvs', '--noheadings', '-o', 'lv_name', '-S', 'segtype=linear', BVG])
      .split(/\s+/)
      .filter(Boolean);
    run(['lvremove', '-q', '-y', ...thick.map((lv) => `${BVG}/${lv}`)]);
  });

  it('reads: GetCapacity, ListVolumes, Probe', async () => {
    await pairs(
      mp,
      { section: 'reads', operation: `GetCapacity (${2 * PAIRS} LVs)` },
      PAIRS,
      () => call(ctl(), 'GetCapacity', { volume_capabilities: [mountCap()], parameters: {} }),
      () => run(['vgs', '-o', 'vg_free', BVG]),
      {},
    );
    await pairs(
      mp,
      { section: 'reads', operation: `ListVolumes (${2 * PAIRS} LVs)`, note: 'bare: one lvs' },
      PAIRS,
      () => call(ctl(), 'ListVolumes', { max_entries: 100, starting_token: '' }),
      () => run(['lvs', '-o', 'lv_name,lv_size,lv_tags', BVG]),
    );
    await pairs(mp, { section: 'reads', operation: 'Probe' }, PAIRS, () => call(mp.p.identity, 'Probe', {}), null);
  });

  it('CreateSnapshot thin, DeleteSnapshot', async () => {
    await pairs(
      mp,
      { section: 'controller', operation: 'CreateSnapshot thin' },
      PAIRS,
      async (i) =>
        snaps.push(
          (
            await call(ctl(), 'CreateSnapshot', {
              source_volume_id: vols[i] ?? '',
              name: `bench-snap-${i}`,
              parameters: {},
              secrets: {},
            })
          ).snapshot?.snapshot_id ?? '',
        ),
      (i) =>
        run([
          'lvcreate',
          '-q',
          '-y',
          '-s',
          '-kn',
          '-n',
          bareLv('snap', i),
          '--addtag',
          'csi.kind=snapshot',
          `${BVG}/${bareLv('thin', i)}`,
        ]),
      { settle: true },
    );
    await pairs(
      mp,
      { section: 'controller', operation: 'DeleteSnapshot thin' },
      PAIRS,
      (i) => call(ctl(), 'DeleteSnapshot', { snapshot_id: snaps[i] ?? '', secrets: {} }),
      (i) => run(['lvremove', '-q', '-y', `${BVG}/${bareLv('snap', i)}`]),
      { settle: true },
    );
  });

  it('ControllerExpandVolume', async () => {
    await pairs(
      mp,
      { section: 'controller', operation: 'ControllerExpandVolume thin 64->128 MiB' },
      PAIRS,
      (i) =>
        call(ctl(), 'ControllerExpandVolume', {
          volume_id: vols[i] ?? '',
          capacity_range: { required_bytes: String(2 * SIZE) },
          volume_capability: mountCap(),
          secrets: {},
        }),
      (i) => run(['lvextend', '-q', '-L', '128m', `${BVG}/${bareLv('thin', i)}`]),
      { settle: true },
    );
  });

  it('ControllerPublishVolume, NodeStageVolume, NodeUnstageVolume, ControllerUnpublishVolume', async () => {
    const dev = (i: number) => `/dev/${BVG}/${bareLv('thin', i)}`;
    const backstore = (i: number) => `${BVG}-${bareLv('thin', i).replace(/-/g, '--')}`;
    await pairs(
      mp,
      {
        section: 'controller',
        operation: 'ControllerPublishVolume (LIO)',
        note: 'bare: test/bench/lio-export.sh (configfs writes)',
      },
      PAIRS,
      async (i) =>
        ctx.push(
          (
            await call(ctl(), 'ControllerPublishVolume', {
              volume_id: vols[i] ?? '',
              node_id: nodeId,
              volume_capability: mountCap(),
              readonly: false,
              secrets: {},
              volume_context: {},
            })
          ).publish_context,
        ),
      (i) => lioScript('up', dev(i), backstore(i), bareIqn(i)),
      { settle: true },
    );

    await pairs(
      mp,
      {
        section: 'node',
        operation: 'NodeStageVolume ext4',
        note: 'bare: iscsiadm discovery + login, wait for the disk, mkfs.ext4, mount',
      },
      PAIRS,
      (i) =>
        call(node, 'NodeStageVolume', {
          volume_id: vols[i] ?? '',
          publish_context: ctx[i] ?? {},
          staging_target_path: staging(i),
          volume_capability: mountCap(),
          secrets: {},
          volume_context: {},
        }),
      async (i) => {
        mkdirSync(bareMnt(i), { recursive: true });
        run(['iscsiadm', '-m', 'discovery', '-t', 'sendtargets', '-p', PORTAL]);
        run(['iscsiadm', '-m', 'node', '-T', bareIqn(i), '-p', PORTAL, '--login']);
        while (!existsSync(byPath(bareIqn(i)))) await new Promise((r) => setTimeout(r, 20));
        run(['mkfs.ext4', '-q', byPath(bareIqn(i))]);
        run(['mount', '-t', 'ext4', byPath(bareIqn(i)), bareMnt(i)]);
      },
    );

    await pairs(
      mp,
      {
        section: 'node',
        operation: 'NodeUnstageVolume',
        note: 'bare: umount, iscsiadm logout + delete the node record',
      },
      PAIRS,
      (i) => call(node, 'NodeUnstageVolume', { volume_id: vols[i] ?? '', staging_target_path: staging(i) }),
      (i) => {
        run(['umount', bareMnt(i)]);
        run(['iscsiadm', '-m', 'node', '-T', bareIqn(i), '-p', PORTAL, '--logout']);
        run(['iscsiadm', '-m', 'node', '-T', bareIqn(i), '-p', PORTAL, '-o', 'delete']);
      },
    );

    await pairs(
      mp,
      { section: 'controller', operation: 'ControllerUnpublishVolume (LIO)', note: 'bare: lio-export.sh down' },
      PAIRS,
      (i) => call(ctl(), 'ControllerUnpublishVolume', { volume_id: vols[i] ?? '', node_id: nodeId, secrets: {} }),
      (i) => lioScript('down', dev(i), backstore(i), bareIqn(i)),
      { settle: true },
    );
  });

  it('DeleteVolume thin', async () => {
    await pairs(
      mp,
      { section: 'controller', operation: 'DeleteVolume thin' },
      PAIRS,
      (i) => call(ctl(), 'DeleteVolume', { volume_id: vols[i] ?? '', secrets: {} }),
      (i) => run(['lvremove', '-q', '-y', `${BVG}/${bareLv('thin', i)}`]),
      { settle: true },
    );
  });

  it(`${BATCH} concurrent CreateVolume thin`, async () => {
    const pMs: number[] = [];
    const bMs: number[] = [];
    const per: string[] = [];
    for (let r = 0; r < BATCH_ROUNDS; r++) {
      let made: string[] = [];
      const m = await mp.measure(async () => {
        made = (await Promise.all(Array.from({ length: BATCH }, (_, i) => create(`batch-${r}-${i}`)))).map(
          (v) => v.volume?.volume_id ?? '',
        );
      }, true);
      pMs.push(m.ms);
      const perCall = new Map([...m.commands].map(([k, v]) => [k, v / BATCH]));
      per.push(formatCounts([perCall]));
      bMs.push(
        await timed(() =>
          Promise.all(
            Array.from({ length: BATCH }, (_, i) =>
              execFileP('lvcreate', [
                '-q',
                '-y',
                '-T',
                '-V',
                '64m',
                '-n',
                `bare-batch-${r}-${i}`,
                `${BVG}/pool`,
                ...tag,
              ]),
            ),
          ),
        ),
      );
      // the plugin's through DeleteVolume (a removal by hand is an outside change it would then read), the bare ones by hand
      for (const id of made) await call(ctl(), 'DeleteVolume', { volume_id: id });
      run(['lvremove', '-q', '-y', ...Array.from({ length: BATCH }, (_, i) => `${BVG}/bare-batch-${r}-${i}`)]);
    }
    writeRow({
      section: 'controller',
      operation: `${BATCH} concurrent CreateVolume thin (batch wall time)`,
      plugin: round(median(pMs)),
      bare: round(median(bMs)),
      unit: 'ms',
      commands: per[per.length - 1],
      note: `${BATCH_ROUNDS} rounds; bare: ${BATCH} lvcreate processes at once; commands are per call`,
    });
  });

  it('plugin resident memory after every call above', () => {
    const rss = mp.rssMB();
    writeRow({
      section: 'memory',
      operation: 'plugin RSS (VmRSS) after the calls above',
      plugin: rss.rss,
      bare: null,
      unit: 'MB',
      note: `peak VmHWM ${rss.hwm} MB; node flags of the Dockerfile's ENTRYPOINT`,
    });
  });
});
