/**
 * Hostile staging and target paths the file system refuses (a regular file
 * where a directory must be, a path below a file, a read-only place): the node
 * service answers INVALID_ARGUMENT or FAILED_PRECONDITION naming the field,
 * never INTERNAL, and runs no command. Called through the real handlers and
 * the one RPC adapter; the runner fails on any command.
 */
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status as Code, type ServerUnaryCall, type ServiceError } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { nodeHandlers } from '../../../src/csi/node.js';
import { assertKubeletPaths, pathRefusal } from '../../../src/csi/node-paths.js';
import { InvalidArgument, FailedPrecondition } from '../../../src/errors.js';
import { Iscsiadm } from '../../../src/iscsi-initiator/iscsiadm.js';
import { createLogger } from '../../../src/log.js';
import { driverSegment } from '../../../src/csi/topology.js';
import { KeyLocks } from '../../../src/server/locks.js';
import { FakeRunner } from '../../doubles/fake-runner.js';

const log = createLogger('fatal');
const dir = mkdtempSync(join(tmpdir(), 'node-paths-'));
const file = join(dir, 'a-file');
writeFileSync(file, 'data');
const runner = new FakeRunner();
const options = (kubeletDir?: string) => ({
  csiNodeId: 'w1:iqn.2024-01.test:w1',
  topology: driverSegment('test.csi.example.org'),
  maxVolumesPerNode: 0,
  runner,
  iscsi: new Iscsiadm(runner, log),
  deviceTimeoutMs: 1000,
  publishIndexDir: join(dir, 'index'),
  nodeName: 'w1',
  chapNodeKeyFile: undefined,
  ...(kubeletDir ? { kubeletPaths: { kubeletDir } } : {}),
});
const handlers = nodeHandlers(options(), { log, locks: new KeyLocks() });

function invoke(
  method: keyof typeof handlers,
  request: object,
  h0: typeof handlers = handlers,
): Promise<ServiceError | null> {
  const call = Object.assign(new EventEmitter(), { request, getDeadline: () => Infinity, cancelled: false });
  const h = h0[method] as unknown as (
    c: ServerUnaryCall<object, unknown>,
    cb: (e: ServiceError | null) => void,
  ) => void;
  return new Promise((resolve) => h(call as unknown as ServerUnaryCall<object, unknown>, (e) => resolve(e)));
}

const cap = {
  access_type: 'mount',
  mount: { fs_type: 'ext4', mount_flags: [] },
  access_mode: { mode: 'SINGLE_NODE_WRITER' },
};

describe('node paths the file system refuses', () => {
  it.each([
    [
      'NodeStageVolume at a regular file (mkdir: EEXIST)',
      'NodeStageVolume',
      {
        volume_id: 'v1',
        staging_target_path: file,
        volume_capability: cap,
        publish_context: {},
        secrets: {},
        volume_context: {},
      },
      'staging_target_path',
    ],
    [
      'NodeStageVolume below a regular file (mkdir: ENOTDIR)',
      'NodeStageVolume',
      {
        volume_id: 'v1',
        staging_target_path: join(file, 'stage'),
        volume_capability: cap,
        publish_context: {},
        secrets: {},
        volume_context: {},
      },
      'staging_target_path',
    ],
    [
      'NodePublishVolume whose staging path is below a file (its state file: ENOTDIR)',
      'NodePublishVolume',
      {
        volume_id: 'v1',
        staging_target_path: join(file, 'stage'),
        target_path: join(dir, 'target'),
        volume_capability: cap,
        readonly: false,
        publish_context: {},
        secrets: {},
        volume_context: {},
      },
      'staging_target_path',
    ],
    [
      'NodeUnstageVolume of a staging path below a file (ENOTDIR)',
      'NodeUnstageVolume',
      { volume_id: 'v1', staging_target_path: join(file, 'stage') },
      'staging_target_path',
    ],
  ] as const)('%s: INVALID_ARGUMENT naming the field, no command', async (_what, method, request, field) => {
    const e = await invoke(method, request);
    expect(e && Code[e.code]).toBe('INVALID_ARGUMENT');
    expect(e?.details).toMatch(new RegExp(`^${field}: `));
    expect(runner.calls).toEqual([]);
  });

  it('a place the host refuses (EACCES, EROFS) is FAILED_PRECONDITION naming the field; an errno elsewhere passes through', () => {
    const errno = (code: string, path: string) =>
      Object.assign(new Error(`${code}: x`), { code, path, syscall: 'mkdir' });
    const paths = { staging_target_path: '/k/plugins/x/globalmount', target_path: '/k/pods/p/mount' };
    const ro = pathRefusal(errno('EROFS', '/k/plugins/x/globalmount.lvm-iscsi.json.tmp'), paths);
    expect(ro).toBeInstanceOf(FailedPrecondition);
    expect(ro?.message).toMatch(/^staging_target_path "\/k\/plugins\/x\/globalmount" cannot be used/);
    const acc = pathRefusal(errno('EACCES', '/k/pods'), paths); // a parent made on the way
    expect(acc?.message).toMatch(/^target_path /);
    const bad = pathRefusal(errno('ENOTDIR', '/k/pods/p/mount/x'), paths);
    expect(bad).toBeInstanceOf(InvalidArgument);
    expect((bad as InvalidArgument).field).toBe('target_path');
    expect(pathRefusal(errno('EACCES', '/var/lib/kubelet/plugins/driver/publishes/x.json'), paths)).toBeUndefined();
    expect(pathRefusal(errno('EIO', '/k/pods/p/mount'), paths)).toBeUndefined();
  });
});

describe('--restrict-paths-to-kubelet-dir', () => {
  const kubelet = mkdtempSync(join(tmpdir(), 'kubelet-'));
  const csiDir = join(kubelet, 'plugins', 'kubernetes.io', 'csi');
  const staging = join(csiDir, 'lvm-iscsi.csi.example.org', 'f'.repeat(64), 'globalmount');
  const target = join(kubelet, 'pods', 'uid-1', 'volumes', 'kubernetes.io~csi', 'pvc-1', 'mount');
  const blockStaging = join(csiDir, 'volumeDevices', 'staging', 'pvc-2');
  const blockTarget = join(csiDir, 'volumeDevices', 'publish', 'pvc-2', 'uid-1');
  mkdirSync(join(kubelet, 'pods', 'uid-1'), { recursive: true });
  mkdirSync(csiDir, { recursive: true });
  symlinkSync('/etc', join(kubelet, 'pods', 'uid-1', 'to-etc'));
  const viaLink = mkdtempSync(join(tmpdir(), 'kubelet-link-'));
  symlinkSync(kubelet, join(viaLink, 'kubelet'));

  it("accepts kubelet's own layout (file system and raw block; kubelet's directory reached through a link)", async () => {
    await assertKubeletPaths(kubelet, { staging_target_path: staging, target_path: target });
    await assertKubeletPaths(kubelet, { staging_target_path: blockStaging, target_path: blockTarget });
    await assertKubeletPaths(join(viaLink, 'kubelet'), { volume_path: target, staging_target_path: staging });
    await assertKubeletPaths(kubelet, { volume_path: staging });
  });

  it.each([
    ['staging_target_path', { staging_target_path: '/tmp/stage' }],
    ['staging_target_path', { staging_target_path: join(kubelet, 'pods', 'uid-1', 'stage') }],
    ['target_path', { target_path: '/etc/cron.d' }],
    ['target_path', { target_path: join(kubelet, 'pods', 'uid-1', 'to-etc', 'x') }], // a link out of kubelet's directory
    ['target_path', { target_path: join(kubelet, 'plugins', 'lvm-iscsi.csi.example.org', 'publishes') }], // the plugin's own
    ['target_path', { target_path: join(kubelet, 'pods') }], // the directory itself, not below it
    ['volume_path', { volume_path: '/' }],
  ] as const)('refuses %s %j: InvalidArgument naming it', async (field, paths) => {
    const e = await assertKubeletPaths(kubelet, paths).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InvalidArgument);
    expect((e as InvalidArgument).field).toBe(field);
  });

  it('a NodePublishVolume at /tmp is INVALID_ARGUMENT naming target_path, nothing made; off (the default), it is not refused for that', async () => {
    const on = nodeHandlers(options(kubelet), { log, locks: new KeyLocks() });
    const t = join(dir, 'outside', 'target');
    const req = {
      volume_id: 'v1',
      staging_target_path: staging,
      target_path: t,
      volume_capability: cap,
      readonly: false,
      publish_context: {},
      secrets: {},
      volume_context: {},
    };
    const e = await invoke('NodePublishVolume', req, on);
    expect(e && Code[e.code]).toBe('INVALID_ARGUMENT');
    expect(e?.details).toMatch(/^target_path: .* is not below /);
    expect(existsSync(join(dir, 'outside'))).toBe(false);
    const off = await invoke('NodePublishVolume', req);
    expect(off && Code[off.code]).toBe('FAILED_PRECONDITION'); // not staged there
  });
});
