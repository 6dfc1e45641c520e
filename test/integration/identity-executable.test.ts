/**
 * Starts the real executable (dist/main.js, built by the test command) on a
 * unix socket, calls the three Identity RPCs with a real gRPC client, then
 * sends SIGTERM and checks the socket is gone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, status as Code } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCsi } from '../../src/server/proto.js';
import { makeCerts } from '../helpers/certs.js';
import { call, waitFor } from '../helpers/grpc.js';

const repo = join(import.meta.dirname, '..', '..');
const bin = join(repo, 'dist', 'main.js');
const version = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version;

describe('the csi-lvm-iscsi executable', () => {
  let dir: string;
  let sock: string;
  let child: ChildProcess;
  let stderr = '';
  const exited = () => new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  beforeAll(async () => {
    expect(existsSync(bin), `${bin} missing: run npm run build`).toBe(true);
    dir = mkdtempSync(join(tmpdir(), 'csi-exe-'));
    sock = join(dir, 'csi.sock');
    // controller mode: its Probe must not depend on any storage agent (none listens on port 1) or local volume group.
    const tls = makeCerts(join(dir, 'tls')).controller;
    const flags = [
      '--mode',
      'controller',
      '--agents',
      'storage-1=127.0.0.1:1',
      '--agent-tls-dir',
      tls,
      '--driver-name',
      'test.csi.example.org',
    ];
    child = spawn(process.execPath, [bin, '--endpoint', `unix://${sock}`, '--node-id', 'node-a', ...flags], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitFor(
      () => existsSync(sock),
      15_000,
      () => `socket never appeared; stderr:\n${stderr}`,
    );
  });

  afterAll(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers GetPluginInfo, GetPluginCapabilities and Probe over its socket', async () => {
    const csi = loadCsi().csi.v1;
    const identity = new csi.Identity(`unix://${sock}`, credentials.createInsecure());
    const info = await call(identity, 'GetPluginInfo', {});
    expect(info).toMatchObject({ name: 'test.csi.example.org', vendor_version: version });
    const caps = await call(identity, 'GetPluginCapabilities', {});
    expect(Array.isArray(caps.capabilities)).toBe(true);
    const probe = await waitFor(async () => {
      const p = await call(identity, 'Probe', {});
      return p.ready?.value ? p : undefined;
    }, 10_000);
    expect(probe.ready?.value).toBe(true);

    // A service the plugin does not register answers UNIMPLEMENTED.
    const group = new csi.GroupController(`unix://${sock}`, credentials.createInsecure());
    const err = await call(group, 'GroupControllerGetCapabilities', {}).catch((e: { code: number }) => e);
    expect((err as { code: number }).code).toBe(Code.UNIMPLEMENTED);
    identity.close();
    group.close();
  });

  it('stops on SIGTERM and removes its socket', async () => {
    const done = exited();
    child.kill('SIGTERM');
    expect(await done).toBe(0);
    expect(existsSync(sock)).toBe(false);
    expect(stderr).toMatch(/SIGTERM received/);
  });
});
