// The main job's walk-through: starts the plugin in `all` mode on its embedded
// default (a loop-file volume group under a data directory), then drives it
// through its gRPC socket and prints every step with its timing.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentials } from '@grpc/grpc-js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { loadCsi } = await import(join(repo, 'dist', 'server', 'proto.js'));
const dataDir = process.env.DEMO_DATA_DIR ?? mkdtempSync('/tmp/csi-lvm-iscsi-demo-');
const sock = join(dataDir, 'csi.sock');
const MiB = 1024 * 1024;
// CHAP is required by default: the StorageClass's Secret (controller-publish and node-stage secret), as Kubernetes passes it.
const CHAP = { chapUser: 'demo', chapSecret: 'demo-chap-secret-0123456789' };

const child = spawn(
  process.execPath,
  [
    join(repo, 'dist', 'main.js'),
    '--mode',
    'all',
    '--endpoint',
    `unix://${sock}`,
    '--node-id',
    'demo-node',
    '--data-dir',
    dataDir,
    '--loop-vg-size',
    '512M',
    '--portals',
    '127.0.0.1:3260',
    '--log-level',
    'warn',
  ],
  {
    stdio: ['ignore', 'inherit', 'inherit'],
  },
);

const csi = loadCsi().csi.v1;
let identity;
let controller;
let failures = 0;
const t0 = performance.now();

function rpc(client, method, req) {
  return new Promise((resolve, reject) => client[method](req, (err, res) => (err ? reject(err) : resolve(res))));
}

async function step(title, fn) {
  const start = performance.now();
  try {
    const detail = await fn();
    console.log(
      `  ok   ${(performance.now() - start).toFixed(0).padStart(6)} ms  ${title}${detail ? `: ${detail}` : ''}`,
    );
    return detail;
  } catch (e) {
    failures++;
    console.log(`  FAIL ${(performance.now() - start).toFixed(0).padStart(6)} ms  ${title}: ${e.details ?? e.message}`);
    return undefined;
  }
}

async function until(fn, ms) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      if (Date.now() > end) throw e;
    }
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 200));
  }
}

console.log(`csi-lvm-iscsi walk-through (data dir ${dataDir})`);
await step('start the plugin (all mode) and wait for its socket', () =>
  until(() => existsSync(sock), 60_000).then(() => sock),
);
identity = new csi.Identity(`unix://${sock}`, credentials.createInsecure());
controller = new csi.Controller(`unix://${sock}`, credentials.createInsecure());
await step('Probe until ready (creates the loop VG and thin pool on first start)', () =>
  until(async () => (await rpc(identity, 'Probe', {})).ready?.value, 120_000).then(() => 'ready'),
);
await step('GetPluginInfo', async () => {
  const r = await rpc(identity, 'GetPluginInfo', {});
  return `${r.name} ${r.vendor_version}`;
});
await step(
  'GetCapacity (thin)',
  async () =>
    `${(Number((await rpc(controller, 'GetCapacity', { parameters: {} })).available_capacity) / MiB).toFixed(0)} MiB available`,
);
const node = new csi.Node(`unix://${sock}`, credentials.createInsecure());
const capOne = { mount: { fs_type: 'ext4', mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } };
const cap = [capOne];
const work = mkdtempSync('/tmp/csi-lvm-iscsi-kubelet-');
const nodeId = await step('NodeGetInfo', async () => (await rpc(node, 'NodeGetInfo', {})).node_id);
const vol = await step('CreateVolume demo-vol (thin, 64 MiB)', async () => {
  const r = await rpc(controller, 'CreateVolume', {
    name: 'demo-vol',
    capacity_range: { required_bytes: String(64 * MiB) },
    volume_capabilities: cap,
    parameters: {},
  });
  return r.volume.volume_id;
});
await step('CreateVolume demo-vol again (idempotent: same id)', async () => {
  const r = await rpc(controller, 'CreateVolume', {
    name: 'demo-vol',
    capacity_range: { required_bytes: String(64 * MiB) },
    volume_capabilities: cap,
    parameters: {},
  });
  if (r.volume.volume_id !== vol) throw new Error(`got ${r.volume.volume_id}`);
  return r.volume.volume_id;
});

async function attach(id, name) {
  const ctx = (
    await rpc(controller, 'ControllerPublishVolume', {
      volume_id: id,
      node_id: nodeId,
      volume_capability: capOne,
      readonly: false,
      secrets: CHAP,
      volume_context: {},
    })
  ).publish_context;
  const staging = join(work, name, 'globalmount');
  const target = join(work, name, 'pod');
  await rpc(node, 'NodeStageVolume', {
    volume_id: id,
    publish_context: ctx,
    staging_target_path: staging,
    volume_capability: capOne,
    secrets: CHAP,
    volume_context: {},
  });
  await rpc(node, 'NodePublishVolume', {
    volume_id: id,
    publish_context: ctx,
    staging_target_path: staging,
    target_path: target,
    volume_capability: capOne,
    readonly: false,
    secrets: {},
    volume_context: {},
  });
  return { ctx, staging, target };
}
async function detach(id, a) {
  await rpc(node, 'NodeUnpublishVolume', { volume_id: id, target_path: a.target });
  await rpc(node, 'NodeUnstageVolume', { volume_id: id, staging_target_path: a.staging });
  await rpc(controller, 'ControllerUnpublishVolume', { volume_id: id, node_id: nodeId });
}
const df = (path) =>
  Number(execFileSync('df', ['-B1', '--output=size', path], { encoding: 'utf8' }).split('\n')[1].trim());

let va;
await step(
  'ControllerPublishVolume + NodeStageVolume (iSCSI login with CHAP, mkfs.ext4, mount) + NodePublishVolume',
  async () => {
    va = await attach(vol, 'vol');
    return `${va.ctx.targetIqn} mounted at ${va.target}`;
  },
);
await step("write a file in the pod's mount", async () => {
  writeFileSync(join(va.target, 'hello.txt'), 'written through iSCSI\n');
  execFileSync('sync');
  return join(va.target, 'hello.txt');
});
const snap = await step(
  'CreateSnapshot demo-snap',
  async () =>
    (await rpc(controller, 'CreateSnapshot', { source_volume_id: vol, name: 'demo-snap', parameters: {} })).snapshot
      .snapshot_id,
);
const restored = await step('CreateVolume demo-restore from demo-snap (128 MiB)', async () => {
  const r = await rpc(controller, 'CreateVolume', {
    name: 'demo-restore',
    capacity_range: { required_bytes: String(128 * MiB) },
    volume_capabilities: cap,
    parameters: {},
    volume_content_source: { snapshot: { snapshot_id: snap } },
  });
  return r.volume.volume_id;
});
let vb;
await step('stage and publish the restored volume (the file system grows to the volume)', async () => {
  vb = await attach(restored, 'restore');
  return vb.target;
});
await step('the file is there, on a larger file system', async () => {
  const text = readFileSync(join(vb.target, 'hello.txt'), 'utf8').trim();
  return `"${text}", ${(df(vb.target) / MiB).toFixed(0)} MiB vs ${(df(va.target) / MiB).toFixed(0)} MiB`;
});
await step('ControllerExpandVolume + NodeExpandVolume demo-vol to 96 MiB while mounted', async () => {
  const r = await rpc(controller, 'ControllerExpandVolume', {
    volume_id: vol,
    capacity_range: { required_bytes: String(96 * MiB) },
    volume_capability: capOne,
  });
  await rpc(node, 'NodeExpandVolume', {
    volume_id: vol,
    volume_path: va.target,
    staging_target_path: va.staging,
    capacity_range: { required_bytes: String(96 * MiB) },
    volume_capability: capOne,
  });
  return `${Number(r.capacity_bytes) / MiB} MiB volume, df shows ${(df(va.target) / MiB).toFixed(0)} MiB`;
});
await step('ListVolumes', async () =>
  (await rpc(controller, 'ListVolumes', {})).entries
    .map(
      (e) =>
        `${e.volume.volume_id} (${Number(e.volume.capacity_bytes) / MiB} MiB, on ${e.status.published_node_ids.join(',')})`,
    )
    .join(', '),
);
await step('unpublish, unstage and delete everything', async () => {
  await detach(restored, vb);
  await detach(vol, va);
  await rpc(controller, 'DeleteSnapshot', { snapshot_id: snap });
  await rpc(controller, 'DeleteVolume', { volume_id: restored });
  await rpc(controller, 'DeleteVolume', { volume_id: vol });
  await rpc(controller, 'DeleteVolume', { volume_id: vol });
  return '';
});
await step(
  'stop the plugin (SIGTERM)',
  () =>
    new Promise((resolve) => {
      identity.close();
      controller.close();
      node.close();
      child.once('exit', (code) => resolve(`exit ${code}, socket removed: ${!existsSync(sock)}`));
      child.kill('SIGTERM');
    }),
);
console.log(`walk-through finished in ${((performance.now() - t0) / 1000).toFixed(1)} s with ${failures} failure(s)`);
process.exit(failures ? 1 : 0);
