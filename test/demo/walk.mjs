// The main job's walk-through: starts the plugin in `all` mode on its embedded
// default (a loop-file volume group under a data directory), then drives it
// through its gRPC socket and prints every step with its timing.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentials } from '@grpc/grpc-js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { loadCsi } = await import(join(repo, 'dist', 'server', 'proto.js'));
const dataDir = process.env.DEMO_DATA_DIR ?? mkdtempSync('/tmp/csi-lvm-iscsi-demo-');
const sock = join(dataDir, 'csi.sock');
const MiB = 1024 * 1024;

const child = spawn(process.execPath, [join(repo, 'dist', 'main.js'), '--mode', 'all', '--endpoint', `unix://${sock}`, '--node-id', 'demo-node', '--data-dir', dataDir, '--loop-vg-size', '512M', '--log-level', 'warn'], {
  stdio: ['ignore', 'inherit', 'inherit'],
});

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
    console.log(`  ok   ${(performance.now() - start).toFixed(0).padStart(6)} ms  ${title}${detail ? `: ${detail}` : ''}`);
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
await step('start the plugin (all mode) and wait for its socket', () => until(() => existsSync(sock), 60_000).then(() => sock));
identity = new csi.Identity(`unix://${sock}`, credentials.createInsecure());
controller = new csi.Controller(`unix://${sock}`, credentials.createInsecure());
await step('Probe until ready (creates the loop VG and thin pool on first start)', () =>
  until(async () => (await rpc(identity, 'Probe', {})).ready?.value, 120_000).then(() => 'ready'),
);
await step('GetPluginInfo', async () => {
  const r = await rpc(identity, 'GetPluginInfo', {});
  return `${r.name} ${r.vendor_version}`;
});
await step('GetCapacity (thin)', async () => `${(Number((await rpc(controller, 'GetCapacity', { parameters: {} })).available_capacity) / MiB).toFixed(0)} MiB available`);
const cap = [{ mount: { fs_type: 'ext4', mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } }];
const vol = await step('CreateVolume demo-vol (thin, 64 MiB)', async () => {
  const r = await rpc(controller, 'CreateVolume', { name: 'demo-vol', capacity_range: { required_bytes: String(64 * MiB) }, volume_capabilities: cap, parameters: {} });
  return r.volume.volume_id;
});
await step('CreateVolume demo-vol again (idempotent: same id)', async () => {
  const r = await rpc(controller, 'CreateVolume', { name: 'demo-vol', capacity_range: { required_bytes: String(64 * MiB) }, volume_capabilities: cap, parameters: {} });
  if (r.volume.volume_id !== vol) throw new Error(`got ${r.volume.volume_id}`);
  return r.volume.volume_id;
});
const snap = await step('CreateSnapshot demo-snap', async () => (await rpc(controller, 'CreateSnapshot', { source_volume_id: vol, name: 'demo-snap', parameters: {} })).snapshot.snapshot_id);
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
await step('ControllerExpandVolume demo-vol to 96 MiB', async () => {
  const r = await rpc(controller, 'ControllerExpandVolume', { volume_id: vol, capacity_range: { required_bytes: String(96 * MiB) } });
  return `${Number(r.capacity_bytes) / MiB} MiB, node expansion required: ${r.node_expansion_required}`;
});
await step('ListVolumes', async () => (await rpc(controller, 'ListVolumes', {})).entries.map((e) => `${e.volume.volume_id} (${Number(e.volume.capacity_bytes) / MiB} MiB)`).join(', '));
await step('DeleteSnapshot demo-snap', () => rpc(controller, 'DeleteSnapshot', { snapshot_id: snap }).then(() => ''));
await step('DeleteVolume demo-restore', () => rpc(controller, 'DeleteVolume', { volume_id: restored }).then(() => ''));
await step('DeleteVolume demo-vol (twice: idempotent)', async () => {
  await rpc(controller, 'DeleteVolume', { volume_id: vol });
  await rpc(controller, 'DeleteVolume', { volume_id: vol });
  return '';
});
await step('stop the plugin (SIGTERM)', () => new Promise((resolve) => {
  identity.close();
  controller.close();
  child.once('exit', (code) => resolve(`exit ${code}, socket removed: ${!existsSync(sock)}`));
  child.kill('SIGTERM');
}));
console.log(`walk-through finished in ${((performance.now() - t0) / 1000).toFixed(1)} s with ${failures} failure(s)`);
process.exit(failures ? 1 : 0);
