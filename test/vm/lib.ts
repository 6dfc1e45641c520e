/**
 * Helpers for VM-tier tests (run inside the qemu guest as root): raw LVM
 * reads that do not go through the project's code, disk setup, and a running
 * plugin driven over its real gRPC socket.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  closeSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { credentials } from '@grpc/grpc-js';
import { loadCsi } from '../../src/server/proto.js';
import { LioTarget } from '../../src/iscsi-target/lio.js';
import { call, waitFor } from '../helpers/grpc.js';

export const inGuest = process.env['VM_GUEST'] === '1';
export const disks = (process.env['VM_DISKS'] ?? '').split(' ').filter(Boolean);
export const repo = join(import.meta.dirname, '..', '..');
export const MiB = 1024 * 1024;

/**
 * A synchronous command blocks the one vitest worker of a lane, and with it every test timeout:
 * one that hangs (an iscsiadm logout, LVM waiting on a suspended device) would hold the guest
 * until its deadline. So each is killed after this long and throws, inside a test's 300 s.
 */
const SH_TIMEOUT_MS = 240_000;

export function sh(argv: string[], input?: string, timeoutMs = SH_TIMEOUT_MS): string {
  const [cmd, ...args] = argv as [string, ...string[]];
  return execFileSync(cmd, args, {
    encoding: 'utf8',
    env: { ...process.env, LC_ALL: 'C' },
    input,
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
  });
}

export function shStatus(argv: string[]): { code: number; out: string } {
  try {
    return { code: 0, out: sh(argv) };
  } catch (e) {
    const err = e as { status?: number; stdout?: string; stderr?: string };
    return { code: err.status ?? -1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

export interface RawLv {
  lv_name: string;
  vg_name: string;
  lv_size: string;
  lv_attr: string;
  lv_tags: string;
  pool_lv: string;
  origin: string;
  segtype: string;
  stripes: string;
  data_percent: string;
  lv_active: string;
}

/** `lvs --reportformat json` straight from LVM, independent of the code under test. */
export function lvsJson(vg: string): RawLv[] {
  const out = sh([
    'lvs',
    '-a',
    '--reportformat',
    'json',
    '--units',
    'b',
    '--nosuffix',
    '-o',
    'lv_name,vg_name,lv_size,lv_attr,lv_tags,pool_lv,origin,segtype,stripes,data_percent,lv_active',
    vg,
  ]);
  const parsed = JSON.parse(out) as { report: Array<{ lv: RawLv[] }> };
  return parsed.report[0]?.lv ?? [];
}

export function rawLv(vg: string, lv: string): RawLv | undefined {
  return lvsJson(vg).find((l) => l.lv_name === lv);
}

/**
 * After a file that exports through LIO in a fresh guest: every session logged out, every LIO
 * target removed (a failed test leaves its export behind, which holds the LV open), then the VG.
 */
export async function teardownExports(vg: string): Promise<void> {
  shStatus(['iscsiadm', '-m', 'node', '--logoutall=all']);
  const lio = new LioTarget();
  for (const t of await lio.listTargets()) await lio.removeTarget(t.iqn);
  destroyVg(vg);
}

/** Wipes the disks and makes a fresh VG on them (`vgcreateArgs`: e.g. ['--metadatasize', '64m']). */
export function makeVg(vg: string, devices: string[], vgcreateArgs: string[] = []): void {
  destroyVg(vg);
  for (const d of devices) sh(['wipefs', '-a', '-q', d]);
  sh(['vgcreate', '-q', ...vgcreateArgs, vg, ...devices]);
}

export function destroyVg(vg: string): void {
  if (shStatus(['vgs', vg]).code === 0) {
    shStatus(['vgchange', '-an', vg]);
    sh(['vgremove', '-f', '-y', vg]);
  }
}

/**
 * Drops the device's page cache: writes that reached it through another path
 * (LIO iblock, dd with O_DIRECT, another device node) bypass this node's cache.
 */
function dropCache(device: string): void {
  sh(['blockdev', '--flushbufs', device]);
}

/** sha256 of the first `bytes` of a block device. */
export function checksum(device: string, bytes: number): string {
  dropCache(device);
  const fd = openSync(device, 'r');
  const hash = createHash('sha256');
  const buf = Buffer.alloc(MiB);
  let done = 0;
  try {
    while (done < bytes) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, bytes - done), done);
      if (n <= 0) break;
      hash.update(buf.subarray(0, n));
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  if (done !== bytes) throw new Error(`read ${done} of ${bytes} bytes from ${device}`);
  return hash.digest('hex');
}

/**
 * Writes a deterministic pseudo-random pattern over the first `bytes` of a
 * device, then syncs. One 1 MiB block is derived from the seed; each MiB
 * written gets its own 32-byte header (sha256 of seed and offset), so no two
 * MiB are alike. Cheap enough for software emulation.
 */
export function writePattern(device: string, bytes: number, seed: string): void {
  const base = Buffer.alloc(MiB);
  let block = createHash('sha256').update(seed).digest();
  for (let i = 0; i < base.length; i += 4096) {
    block = createHash('sha256').update(block).digest();
    for (let j = 0; j < 4096; j += 32) block.copy(base, i + j);
    base.writeUInt32LE(i, i);
  }
  const fd = openSync(device, 'r+', 0o600);
  try {
    for (let off = 0; off < bytes; off += MiB) {
      const chunk = Buffer.from(base.subarray(0, Math.min(MiB, bytes - off)));
      createHash('sha256').update(`${seed}:${off}`).digest().copy(chunk, 0);
      writeSync(fd, chunk, 0, chunk.length, off);
    }
  } finally {
    closeSync(fd);
  }
  sh(['sync']);
}

/** True when every byte of the range reads as zero. */
export function isZero(device: string, offset: number, bytes: number): boolean {
  dropCache(device);
  const fd = openSync(device, 'r');
  const buf = Buffer.alloc(MiB);
  try {
    for (let off = 0; off < bytes; off += MiB) {
      const n = readSync(fd, buf, 0, Math.min(MiB, bytes - off), offset + off);
      for (let i = 0; i < n; i++) if (buf[i] !== 0) return false;
    }
  } finally {
    closeSync(fd);
  }
  return true;
}

type Csi = ReturnType<typeof loadCsi>['csi']['v1'];

export interface PluginProcess {
  sock: string;
  child: ChildProcess;
  log: () => string;
  identity: InstanceType<Csi['Identity']>;
  controller: InstanceType<Csi['Controller']>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** The Node.js flags the image's ENTRYPOINT gives (between the node binary and main.js): the tests run the plugin as the image does. */
function imageNodeFlags(): string[] {
  const line = readFileSync(join(repo, 'Dockerfile'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith('ENTRYPOINT '));
  const argv = JSON.parse(line?.slice('ENTRYPOINT '.length) ?? '[]') as string[];
  const main = argv.findIndex((a) => a.endsWith('/dist/main.js'));
  if (main < 1)
    throw new Error(`the Dockerfile's ENTRYPOINT does not start dist/main.js with node: ${line ?? '(none)'}`);
  return argv.slice(1, main);
}

/**
 * Starts dist/main.js with the given flags (after --node-id storage-1, so a
 * later --node-id wins) on a fresh unix socket and waits until Probe says
 * ready (or only until it serves, with ready: false). `env` is added to the
 * test's own environment. `logFile`: the plugin's log is also appended there
 * as it comes, so a run that hangs (and is killed with its guest) still
 * leaves it on the host.
 */
export async function startPlugin(
  flags: string[],
  opts: {
    ready?: boolean;
    startTimeoutMs?: number;
    env?: Record<string, string>;
    logFile?: string;
    /** Node.js flags after the image's (e.g. --cpu-prof, which NODE_OPTIONS does not take). */
    nodeFlags?: string[];
  } = {},
): Promise<PluginProcess> {
  const dir = mkdtempSync('/tmp/csi-vm-');
  const sock = join(dir, 'csi.sock');
  let log = '';
  const child = spawn(
    process.execPath,
    [
      ...imageNodeFlags(),
      ...(opts.nodeFlags ?? []),
      join(repo, 'dist', 'main.js'),
      '--endpoint',
      `unix://${sock}`,
      '--node-id',
      'storage-1',
      '--log-level',
      'debug',
      ...flags,
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: opts.env ? { ...process.env, ...opts.env } : process.env,
    },
  );
  child.stderr?.on('data', (d: Buffer) => {
    log += d.toString();
    if (opts.logFile) appendFileSync(opts.logFile, d);
  });
  await waitFor(
    () => existsSync(sock) || child.exitCode !== null,
    opts.startTimeoutMs ?? 180_000,
    () => log,
  );
  if (child.exitCode !== null) throw new Error(`plugin exited ${child.exitCode}:\n${log}`);
  const csi = loadCsi().csi.v1;
  const identity = new csi.Identity(`unix://${sock}`, credentials.createInsecure());
  const controller = new csi.Controller(`unix://${sock}`, credentials.createInsecure());
  if (opts.ready === false)
    await waitFor(
      async () => (await call(identity, 'GetPluginInfo', {})).name,
      60_000,
      () => log,
    );
  else
    await waitFor(
      async () => (await call(identity, 'Probe', {})).ready?.value,
      Math.max(120_000, opts.startTimeoutMs ?? 0),
      () => log,
    );
  return {
    sock,
    child,
    log: () => log,
    identity,
    controller,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        identity.close();
        controller.close();
        // a process killed by a test (SIGKILL) has exitCode null and signalCode set: it will not exit again
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
      }),
  };
}

export { call, waitFor };

/**
 * The controller's explicit opt-out of CHAP (CHAP is required by default): flags for a plugin in `all` or
 * `controller` mode whose test publishes volumes without a CHAP secret.
 */
export const PUBLISH_WITHOUT_CHAP = ['--allow-publish-without-chap', 'true'] as const;

/**
 * Calls fn again while it answers ABORTED (a volume still being filled), as
 * the external-provisioner does, up to timeoutMs: on a loaded host a copy
 * outlasts the agent's --job-wait-seconds.
 */
export async function untilNotAborted<T>(fn: () => Promise<T>, timeoutMs = 300_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if ((e as { code?: number }).code !== 10 || Date.now() > until) throw e;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

/** The gRPC status code a call fails with (or 0 when it succeeds). */
export async function codeOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 0;
  } catch (e) {
    return (e as { code?: number }).code ?? -1;
  }
}

export const mountCap = (fs = 'ext4') => ({
  mount: { fs_type: fs, mount_flags: [] },
  access_mode: { mode: 'SINGLE_NODE_WRITER' as const },
});
export const blockCap = () => ({ block: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' as const } });

/** A TCP port on 127.0.0.1 that was free a moment ago (for --metrics-address). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
