/**
 * CSI v1.12.0 conformance of the status codes, written from the spec's error
 * tables (spec.md: "Error Scheme" and the "<RPC> Errors" table of each RPC),
 * against the real executable on real LVM.
 *
 * Each `it` names the spec row (or MUST sentence) it checks. This file is
 * about status codes and the request/response contract; the LVM state behind
 * the answers is checked by controller.test.ts.
 *
 * Rows that do not apply or cannot be triggered here are listed as comments
 * next to their RPC, with the reason.
 *
 * Rows that csi-sanity (the conformance tier, sanity-thin.test.ts and
 * sanity-thick.test.ts) checks the same way are not repeated here: the
 * missing-field rows of CreateVolume (name, volume_capabilities), DeleteVolume,
 * ValidateVolumeCapabilities (volume_id, volume_capabilities), CreateSnapshot,
 * DeleteSnapshot and ControllerExpandVolume (volume_id, capacity_range);
 * ControllerPublishVolume's missing fields, unknown volume and unknown node;
 * Probe OK; CreateSnapshot's same name with another source; ListSnapshots'
 * max_entries. What stays checks more than csi-sanity does (other ids, other
 * fields, races, message and details of every error).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { credentials, status as Code, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCsi } from '../../src/server/proto.js';
import {
  blockCap,
  call,
  destroyVg,
  disks,
  inGuest,
  makeVg,
  MiB,
  mountCap,
  rawLv,
  repo,
  sh,
  shStatus,
  startPlugin,
  waitFor,
  type PluginProcess,
  PUBLISH_WITHOUT_CHAP,
} from './lib.js';

const VG = 'confvg';
const PROBE_VG = 'confprobevg';
const FILLER = 'conf-filler';
const FLAGS = [
  '--mode',
  'all',
  ...PUBLISH_WITHOUT_CHAP,
  '--volume-group',
  VG,
  '--thin-pool',
  'pool',
  '--thin-pool-percent',
  '50',
  '--default-volume-size',
  '16M',
  '--portals',
  '127.0.0.1:3260',
];

// ---------------------------------------------------------------- helpers

interface Outcome {
  code: Code | -1;
  name: string;
  message: string;
  /** Bytes of the grpc-status-details-bin trailer (google.rpc.Status.details). */
  detailsBin: number;
}

async function outcome(p: Promise<unknown>): Promise<Outcome> {
  try {
    await p;
    return { code: Code.OK, name: 'OK', message: '', detailsBin: 0 };
  } catch (e) {
    const err = e as Partial<ServiceError>;
    const code = typeof err.code === 'number' ? err.code : -1;
    const bin = err.metadata?.get('grpc-status-details-bin') ?? [];
    return { code, name: Code[code] ?? `code ${code}`, message: err.details ?? String(e), detailsBin: bin.length };
  }
}

/**
 * Asserts the status code, and for errors the two Error Scheme MUSTs on every
 * non-OK status: "The status message MUST contain a human readable description
 * of error" and "The status details MUST be empty".
 */
async function expectCode(p: Promise<unknown>, want: Code, what = ''): Promise<void> {
  const o = await outcome(p);
  expect(o.name, `${what} -> ${o.name}: ${o.message}`).toBe(Code[want]);
  if (want !== Code.OK) {
    expect(o.message.trim(), `${what}: status message MUST describe the error`).not.toBe('');
    expect(o.detailsBin, `${what}: status details MUST be empty`).toBe(0);
  }
}

/** Two calls raced against each other: their codes, sorted by name. */
async function race(a: Promise<unknown>, b: Promise<unknown>): Promise<string[]> {
  const [x, y] = await Promise.all([outcome(a), outcome(b)]);
  return [x.name, y.name].sort();
}

function streamCode(s: ClientReadableStream<unknown>): Promise<Outcome> {
  return new Promise((resolve) => {
    s.on('data', () => undefined);
    s.on('error', (e: ServiceError) =>
      resolve({ code: e.code, name: Code[e.code] ?? String(e.code), message: e.details, detailsBin: 0 }),
    );
    s.on('end', () => resolve({ code: Code.OK, name: 'OK', message: '', detailsBin: 0 }));
  });
}

/** Spawns dist/main.js without waiting for readiness (for plugins that never become ready). */
function spawnUnready(flags: string[]) {
  const dir = mkdtempSync('/tmp/csi-conf-');
  const sock = join(dir, 'csi.sock');
  let log = '';
  const child = spawn(
    process.execPath,
    [
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
    },
  );
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const csi = loadCsi().csi.v1;
  const identity = new csi.Identity(`unix://${sock}`, credentials.createInsecure());
  return {
    log: () => log,
    identity,
    ready: () =>
      waitFor(
        () => existsSync(sock) || child.exitCode !== null,
        60_000,
        () => log,
      ),
    stop: () =>
      new Promise<void>((resolve) => {
        identity.close();
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

const unsupportedMode = () => ({
  mount: { fs_type: 'ext4', mount_flags: [] },
  access_mode: { mode: 'MULTI_NODE_MULTI_WRITER' as const },
});
const range = (requiredMiB: number, limitMiB = 0) => ({
  required_bytes: String(requiredMiB * MiB),
  limit_bytes: String(limitMiB * MiB),
});
const HASH = 'a'.repeat(26);
const PUB_NODE = 'conf-node-a:iqn.2024-01.test.vm:guest';
const PUB_NODE_2 = 'conf-node-b:iqn.2024-01.test.vm:other';

describe.runIf(inGuest)('CSI v1.12.0 conformance (error tables of spec.md)', () => {
  let p: PluginProcess;
  /** The storage node part of this plugin's ids ("<node>/<vg>/<lv>"). */
  let node = '';
  /** A thin volume that the tests only read. */
  let base = '';
  /** A snapshot of `base` that the tests only read. */
  let baseSnap = '';
  /** The id of a volume that was created and deleted. */
  let gone = '';

  const create = (
    name: string,
    sizeMiB = 16,
    parameters: Record<string, string> = {},
    extra: Record<string, unknown> = {},
  ) =>
    call(p.controller, 'CreateVolume', {
      name,
      capacity_range: range(sizeMiB),
      volume_capabilities: [mountCap()],
      parameters,
      ...extra,
    });
  const createId = async (
    name: string,
    sizeMiB = 16,
    parameters: Record<string, string> = {},
    extra: Record<string, unknown> = {},
  ) => (await create(name, sizeMiB, parameters, extra)).volume?.volume_id ?? '';
  const snapshot = (name: string, source: string, parameters: Record<string, string> = {}) =>
    call(p.controller, 'CreateSnapshot', { name, source_volume_id: source, parameters });
  const snapshotId = async (name: string, source: string) => (await snapshot(name, source)).snapshot?.snapshot_id ?? '';
  const fromSnapshot = (id: string) => ({ volume_content_source: { snapshot: { snapshot_id: id } } });
  const fromVolume = (id: string) => ({ volume_content_source: { volume: { volume_id: id } } });

  /** Ids that name no volume or snapshot of this plugin, each for a different reason. */
  const absentIds = () => [
    `${node}/${VG}/vol-${HASH}`, // well-formed, our node and VG, no such LV
    `${node}/othervg/vol-${HASH}`, // a VG this plugin does not own
    `zzzzzzzz/${VG}/vol-${HASH}`, // a storage node that does not exist
    'not-an-id', // not an id this plugin makes
  ];

  beforeAll(async () => {
    makeVg(VG, disks.slice(0, 2));
    p = await startPlugin(FLAGS);
    base = await createId('conf-base');
    node = base.split('/')[0] ?? '';
    baseSnap = await snapshotId('conf-base-snap', base);
    gone = await createId('conf-gone');
    await call(p.controller, 'DeleteVolume', { volume_id: gone });
  });

  afterAll(async () => {
    if (p) await p.stop();
    if (shStatus(['lvs', `${VG}/${FILLER}`]).code === 0) shStatus(['lvremove', '-y', `${VG}/${FILLER}`]);
    destroyVg(VG);
    destroyVg(PROBE_VG);
  });

  // ============================================================ Identity

  describe('Identity', () => {
    it('GetPluginInfo: name REQUIRED, domain-name notation, at most 63 characters; vendor_version REQUIRED', async () => {
      const info = await call(p.identity, 'GetPluginInfo', {});
      expect(info.name.length).toBeGreaterThan(0);
      expect(info.name.length).toBeLessThanOrEqual(63);
      expect(info.name).toMatch(/^[a-zA-Z0-9]([-.a-zA-Z0-9]*[a-zA-Z0-9])?$/);
      expect(info.vendor_version).not.toBe('');
    });

    it('GetPluginCapabilities: CONTROLLER_SERVICE and VOLUME_ACCESSIBILITY_CONSTRAINTS served; no GROUP_CONTROLLER_SERVICE or SNAPSHOT_METADATA_SERVICE (not served); ONLINE expansion comes with the EXPAND_VOLUME controller capability', async () => {
      const caps = (await call(p.identity, 'GetPluginCapabilities', {})).capabilities;
      const services = caps.map((c) => c.service?.type).filter(Boolean);
      expect(services).toContain('CONTROLLER_SERVICE');
      expect(services).toContain('VOLUME_ACCESSIBILITY_CONSTRAINTS');
      expect(services).not.toContain('GROUP_CONTROLLER_SERVICE');
      expect(services).not.toContain('SNAPSHOT_METADATA_SERVICE');
      const expansion = caps.map((c) => c.volume_expansion?.type).filter(Boolean);
      if (expansion.includes('ONLINE') || expansion.includes('OFFLINE')) {
        const ctrl = (await call(p.controller, 'ControllerGetCapabilities', {})).capabilities.map((c) => c.rpc?.type);
        expect(ctrl).toContain('EXPAND_VOLUME');
      }
    });

    it('NodeGetInfo: accessible_topology is one segment named after the driver (a plugin that reports it MUST offer VOLUME_ACCESSIBILITY_CONSTRAINTS, above)', async () => {
      const name = (await call(p.identity, 'GetPluginInfo', {})).name;
      const nodeService = new (loadCsi().csi.v1.Node)(`unix://${p.sock}`, credentials.createInsecure());
      try {
        const info = await call(nodeService, 'NodeGetInfo', {});
        expect(info.accessible_topology?.segments).toEqual({ [`topology.${name}/attachable`]: 'true' });
      } finally {
        nodeService.close();
      }
    });

    it('Probe: "Missing required dependency" (the configured volume group does not exist) -> FAILED_PRECONDITION', async () => {
      const q = spawnUnready(['--mode', 'all', '--volume-group', 'conf-no-such-vg']);
      try {
        await q.ready();
        // ready=false is allowed while initializing; once initialization has failed, FAILED_PRECONDITION.
        const o = await waitFor(
          async () => {
            const r = await outcome(call(q.identity, 'Probe', {}));
            return r.code === Code.OK ? undefined : r;
          },
          60_000,
          q.log,
        );
        expect(o.name, o.message).toBe('FAILED_PRECONDITION');
        expect(o.message).toMatch(/conf-no-such-vg/);
      } finally {
        await q.stop();
      }
    });

    it.runIf(disks.length >= 3)(
      'Probe: "Plugin not healthy" (its volume group vanished after start) -> FAILED_PRECONDITION',
      async () => {
        makeVg(PROBE_VG, disks.slice(2, 3));
        const q = await startPlugin(['--mode', 'all', '--volume-group', PROBE_VG]);
        try {
          await expectCode(call(q.identity, 'Probe', {}), Code.OK, 'Probe before');
          destroyVg(PROBE_VG);
          await expectCode(call(q.identity, 'Probe', {}), Code.FAILED_PRECONDITION, 'Probe after vgremove');
        } finally {
          await q.stop();
          destroyVg(PROBE_VG);
        }
      },
    );
  });

  // ====================================================== general rules

  describe('Error Scheme: "Call not implemented" -> UNIMPLEMENTED', () => {
    it('ControllerModifyVolume, GetSnapshot -> UNIMPLEMENTED, and their capabilities are not advertised', async () => {
      const c = p.controller;
      await expectCode(
        call(c, 'ControllerModifyVolume', { volume_id: base, mutable_parameters: { iops: '100' } }),
        Code.UNIMPLEMENTED,
        'ControllerModifyVolume',
      );
      await expectCode(call(c, 'GetSnapshot', { snapshot_id: baseSnap }), Code.UNIMPLEMENTED, 'GetSnapshot');
      const caps = (await call(c, 'ControllerGetCapabilities', {})).capabilities.map((x) => x.rpc?.type);
      for (const absent of ['MODIFY_VOLUME', 'GET_SNAPSHOT', 'SINGLE_NODE_MULTI_WRITER'])
        expect(caps).not.toContain(absent);
      for (const present of ['PUBLISH_UNPUBLISH_VOLUME', 'PUBLISH_READONLY', 'LIST_VOLUMES_PUBLISHED_NODES'])
        expect(caps).toContain(present);
    });

    it('GroupController service (GroupControllerGetCapabilities, Create/Delete/GetVolumeGroupSnapshot) -> UNIMPLEMENTED', async () => {
      const g = new (loadCsi().csi.v1.GroupController)(`unix://${p.sock}`, credentials.createInsecure());
      try {
        await expectCode(
          call(g, 'GroupControllerGetCapabilities', {}),
          Code.UNIMPLEMENTED,
          'GroupControllerGetCapabilities',
        );
        await expectCode(
          call(g, 'CreateVolumeGroupSnapshot', { name: 'conf-group', source_volume_ids: [base] }),
          Code.UNIMPLEMENTED,
          'CreateVolumeGroupSnapshot',
        );
        await expectCode(
          call(g, 'DeleteVolumeGroupSnapshot', { group_snapshot_id: 'x', snapshot_ids: [] }),
          Code.UNIMPLEMENTED,
          'DeleteVolumeGroupSnapshot',
        );
        await expectCode(
          call(g, 'GetVolumeGroupSnapshot', { group_snapshot_id: 'x', snapshot_ids: [] }),
          Code.UNIMPLEMENTED,
          'GetVolumeGroupSnapshot',
        );
      } finally {
        g.close();
      }
    });

    it('SnapshotMetadata service (GetMetadataAllocated, GetMetadataDelta; server streaming) -> UNIMPLEMENTED', async () => {
      const s = new (loadCsi().csi.v1.SnapshotMetadata)(`unix://${p.sock}`, credentials.createInsecure());
      try {
        const a = await streamCode(s.GetMetadataAllocated({ snapshot_id: baseSnap }));
        expect(a.name, a.message).toBe('UNIMPLEMENTED');
        const d = await streamCode(s.GetMetadataDelta({ base_snapshot_id: baseSnap, target_snapshot_id: baseSnap }));
        expect(d.name, d.message).toBe('UNIMPLEMENTED');
      } finally {
        s.close();
      }
    });

    it('ControllerGetCapabilities: every advertised RPC capability is implemented (no UNIMPLEMENTED; CLONE_VOLUME sources are not refused as unsupported)', async () => {
      const caps = (await call(p.controller, 'ControllerGetCapabilities', {})).capabilities.map(
        (x) => x.rpc?.type ?? 'UNKNOWN',
      );
      expect(caps).not.toContain('UNKNOWN');
      const c = p.controller;
      const missing = `${node}/${VG}/vol-${HASH}`;
      const probes: Record<string, () => Promise<unknown>> = {
        CREATE_DELETE_VOLUME: () => call(c, 'DeleteVolume', { volume_id: missing }),
        LIST_VOLUMES: () => call(c, 'ListVolumes', {}),
        GET_CAPACITY: () => call(c, 'GetCapacity', {}),
        CREATE_DELETE_SNAPSHOT: () => call(c, 'DeleteSnapshot', { snapshot_id: `${node}/${VG}/snap-${HASH}` }),
        LIST_SNAPSHOTS: () => call(c, 'ListSnapshots', {}),
        CLONE_VOLUME: () => create('conf-cap-clone', 16, {}, fromVolume(missing)),
        EXPAND_VOLUME: () => call(c, 'ControllerExpandVolume', { volume_id: missing, capacity_range: range(32) }),
        GET_VOLUME: () => call(c, 'ControllerGetVolume', { volume_id: missing }),
        VOLUME_CONDITION: () => call(c, 'ControllerGetVolume', { volume_id: base }),
        PUBLISH_UNPUBLISH_VOLUME: () => call(c, 'ControllerUnpublishVolume', { volume_id: missing, node_id: PUB_NODE }),
        PUBLISH_READONLY: () => call(c, 'ControllerUnpublishVolume', { volume_id: missing, node_id: PUB_NODE }),
        LIST_VOLUMES_PUBLISHED_NODES: () => call(c, 'ListVolumes', {}),
      };
      for (const cap of caps) {
        const probe = probes[cap];
        expect(probe, `no probe for advertised capability ${cap}`).toBeDefined();
        const o = await outcome(probe!());
        expect(o.name, `${cap}: ${o.message}`).not.toBe('UNIMPLEMENTED');
        if (cap === 'CLONE_VOLUME') expect(o.name, `${cap}: ${o.message}`).toBe('NOT_FOUND');
      }
    });
    // Not applicable: "Permission denied" (PERMISSION_DENIED) and "Not authenticated"
    // (UNAUTHENTICATED) - the plugin takes no secrets. Node service rows: the node
    // plugin is not part of this build yet.
  });

  describe('ControllerPublishVolume / ControllerUnpublishVolume', () => {
    const pub = (volume_id: string, node_id: string, readonly = false) =>
      call(p.controller, 'ControllerPublishVolume', {
        volume_id,
        node_id,
        volume_capability: mountCap(),
        readonly,
        secrets: {},
        volume_context: {},
      });

    it('"Volume published but is incompatible" -> ALREADY_EXISTS; "Volume published to another node" -> FAILED_PRECONDITION; "Volume in use" on delete -> FAILED_PRECONDITION; unpublish is idempotent', async () => {
      const v = (await create('conf-pub', 16)).volume?.volume_id ?? '';
      await pub(v, PUB_NODE);
      await pub(v, PUB_NODE);
      await expectCode(pub(v, PUB_NODE, true), Code.ALREADY_EXISTS, 'same node, readonly differs');
      await expectCode(pub(v, PUB_NODE_2), Code.FAILED_PRECONDITION, 'single-node volume on another node');
      await expectCode(
        call(p.controller, 'DeleteVolume', { volume_id: v }),
        Code.FAILED_PRECONDITION,
        'delete while published',
      );
      await call(p.controller, 'ControllerUnpublishVolume', { volume_id: v, node_id: PUB_NODE });
      await call(p.controller, 'ControllerUnpublishVolume', { volume_id: v, node_id: PUB_NODE });
      await call(p.controller, 'ControllerUnpublishVolume', {
        volume_id: `${node}/${VG}/vol-${HASH}`,
        node_id: PUB_NODE,
      });
      await call(p.controller, 'DeleteVolume', { volume_id: v });
    });
  });

  describe('Error Scheme: "Missing required field" -> INVALID_ARGUMENT', () => {
    const rows: Array<{ title: string; run: () => Promise<unknown> }> = [
      {
        title: 'CreateVolume: volume_capabilities[0].access_mode',
        run: () =>
          call(p.controller, 'CreateVolume', {
            name: 'conf-req-2',
            volume_capabilities: [{ mount: { fs_type: 'ext4', mount_flags: [] } }],
          }),
      },
      {
        title: 'CreateVolume: volume_capabilities[0] access_type (one of block/mount MUST be specified)',
        run: () =>
          call(p.controller, 'CreateVolume', {
            name: 'conf-req-3',
            volume_capabilities: [{ access_mode: { mode: 'SINGLE_NODE_WRITER' } }],
          }),
      },
      {
        title: 'CreateVolume: volume_content_source with no type (one of the type fields MUST be specified)',
        run: () =>
          call(p.controller, 'CreateVolume', {
            name: 'conf-req-4',
            volume_capabilities: [mountCap()],
            volume_content_source: {},
          }),
      },
      {
        title: 'CreateVolume: volume_content_source.snapshot.snapshot_id',
        run: () => create('conf-req-5', 16, {}, fromSnapshot('')),
      },
      {
        title: 'CreateVolume: volume_content_source.volume.volume_id',
        run: () => create('conf-req-6', 16, {}, fromVolume('')),
      },
      {
        title: 'ValidateVolumeCapabilities: volume_capabilities[0].access_mode',
        run: () =>
          call(p.controller, 'ValidateVolumeCapabilities', { volume_id: base, volume_capabilities: [{ block: {} }] }),
      },
      // CapacityRange: "At least one of the these fields MUST be specified" - {} carries neither.
      {
        title: 'ControllerExpandVolume: capacity_range with neither required_bytes nor limit_bytes',
        run: () => call(p.controller, 'ControllerExpandVolume', { volume_id: base, capacity_range: {} }),
      },
      {
        title: 'ControllerGetVolume: volume_id',
        run: () => call(p.controller, 'ControllerGetVolume', { volume_id: '' }),
      },
    ];
    it.each(rows)('$title missing -> INVALID_ARGUMENT', async ({ title, run }) => {
      await expectCode(run(), Code.INVALID_ARGUMENT, title);
    });
  });

  describe('Error Scheme: "Invalid or unsupported field in the request" -> INVALID_ARGUMENT', () => {
    const rows: Array<{ title: string; run: () => Promise<unknown> }> = [
      { title: 'CreateVolume: unknown parameter', run: () => create('conf-inv-1', 16, { colour: 'red' }) },
      {
        title: 'CreateVolume: unsupported access mode (MULTI_NODE_MULTI_WRITER)',
        run: () =>
          call(p.controller, 'CreateVolume', {
            name: 'conf-inv-2',
            volume_capabilities: [mountCap(), unsupportedMode()],
          }),
      },
      {
        title: 'CreateVolume: unsupported fs_type',
        run: () =>
          call(p.controller, 'CreateVolume', { name: 'conf-inv-3', volume_capabilities: [mountCap('no-such-fs')] }),
      },
      {
        title: 'CreateVolume: negative capacity_range.required_bytes (MUST NOT be negative)',
        run: () =>
          call(p.controller, 'CreateVolume', {
            name: 'conf-inv-4',
            capacity_range: { required_bytes: '-1' },
            volume_capabilities: [mountCap()],
          }),
      },
      // "mutable_parameters ... SHALL NOT be specified unless the SP has the MODIFY_VOLUME
      // capability" and "Plugins MUST treat these as if they take precedence over the
      // parameters field": a plugin without MODIFY_VOLUME cannot honour them, so silently
      // ignoring them is not allowed; the field is unsupported -> INVALID_ARGUMENT.
      {
        title: 'CreateVolume: mutable_parameters without the MODIFY_VOLUME capability',
        run: () => create('conf-inv-5', 16, {}, { mutable_parameters: { lvmType: 'thick' } }),
      },
      {
        title: 'GetCapacity: unknown parameter',
        run: () => call(p.controller, 'GetCapacity', { parameters: { colour: 'red' } }),
      },
      {
        title: 'GetCapacity: unsupported volume capability',
        run: () => call(p.controller, 'GetCapacity', { volume_capabilities: [unsupportedMode()] }),
      },
      { title: 'CreateSnapshot: unknown parameter', run: () => snapshot('conf-inv-snap-1', base, { colour: 'red' }) },
      {
        title: 'CreateSnapshot: out-of-range snapshotReserve',
        run: () => snapshot('conf-inv-snap-2', base, { snapshotReserve: '0' }),
      },
      {
        title: 'ListVolumes: negative max_entries (MUST NOT be negative)',
        run: () => call(p.controller, 'ListVolumes', { max_entries: -1 }),
      },
      {
        title: 'ListSnapshots: negative max_entries (MUST NOT be negative)',
        run: () => call(p.controller, 'ListSnapshots', { max_entries: -1 }),
      },
      {
        title: 'ControllerExpandVolume: negative capacity_range.required_bytes',
        run: () =>
          call(p.controller, 'ControllerExpandVolume', { volume_id: base, capacity_range: { required_bytes: '-1' } }),
      },
    ];
    it.each(rows)('$title -> INVALID_ARGUMENT', async ({ title, run }) => {
      await expectCode(run(), Code.INVALID_ARGUMENT, title);
    });
  });

  // ========================================================= CreateVolume

  describe('CreateVolume', () => {
    it('idempotency: same name, compatible arguments -> OK with the same volume (same request, other capability, narrower range it satisfies, parameters spelled out, CO metadata keys)', async () => {
      const id = await createId('conf-idem');
      const again = async (req: Record<string, unknown>) =>
        (
          await call(p.controller, 'CreateVolume', {
            name: 'conf-idem',
            capacity_range: range(16),
            volume_capabilities: [mountCap()],
            parameters: {},
            ...req,
          })
        ).volume?.volume_id;
      expect(await again({})).toBe(id);
      expect(
        await again({
          volume_capabilities: [blockCap(), { block: {}, access_mode: { mode: 'MULTI_NODE_READER_ONLY' } }],
        }),
      ).toBe(id);
      expect(await again({ capacity_range: range(8) })).toBe(id);
      expect(await again({ capacity_range: range(16, 16) })).toBe(id);
      expect(await again({ capacity_range: null })).toBe(id);
      expect(await again({ parameters: { lvmType: 'thin', volumeGroup: VG } })).toBe(id);
      expect(
        await again({
          parameters: { 'csi.storage.k8s.io/pvc/name': 'claim', 'csi.storage.k8s.io/pvc/namespace': 'default' },
        }),
      ).toBe(id);
    });

    it('"Volume already exists but is incompatible" with capacity_range -> ALREADY_EXISTS', async () => {
      await createId('conf-incompat-size');
      await expectCode(create('conf-incompat-size', 32), Code.ALREADY_EXISTS, 'required_bytes above the existing size');
      await expectCode(
        create('conf-incompat-size', 0, {}, { capacity_range: range(0, 8) }),
        Code.ALREADY_EXISTS,
        'limit_bytes below the existing size',
      );
    });

    it('"Volume already exists but is incompatible" with parameters -> ALREADY_EXISTS', async () => {
      await createId('conf-incompat-params');
      await expectCode(
        create('conf-incompat-params', 16, { lvmType: 'thick' }),
        Code.ALREADY_EXISTS,
        'lvmType thick for a thin volume',
      );
      await expectCode(create('conf-incompat-params', 16, { fsType: 'xfs' }), Code.ALREADY_EXISTS, 'another fsType');
    });

    it('"Volume already exists but is incompatible" with volume_content_source -> ALREADY_EXISTS', async () => {
      await createId('conf-incompat-src');
      await expectCode(
        create('conf-incompat-src', 16, {}, fromVolume(base)),
        Code.ALREADY_EXISTS,
        'a source for a volume made empty',
      );
      await expectCode(
        create('conf-incompat-src', 16, {}, fromSnapshot(baseSnap)),
        Code.ALREADY_EXISTS,
        'a snapshot source for a volume made empty',
      );
      const restored = await createId('conf-incompat-src2', 16, {}, fromSnapshot(baseSnap));
      expect(restored).not.toBe('');
      await expectCode(
        create('conf-incompat-src2', 16),
        Code.ALREADY_EXISTS,
        'no source for a volume made from a snapshot',
      );
      await expectCode(
        create('conf-incompat-src2', 16, {}, fromVolume(base)),
        Code.ALREADY_EXISTS,
        'a volume source for a volume made from a snapshot',
      );
      await expectCode(
        create('conf-incompat-src2', 16, {}, fromSnapshot(baseSnap)),
        Code.OK,
        'the same snapshot source',
      );
    });

    it('"Source does not exist" -> NOT_FOUND (unknown, foreign, malformed ids; a volume id given as snapshot and vice versa)', async () => {
      let i = 0;
      for (const id of [...absentIds(), `${node}/${VG}/snap-${HASH}`, base]) {
        await expectCode(
          create(`conf-nosrc-s${i++}`, 16, {}, fromSnapshot(id)),
          Code.NOT_FOUND,
          `snapshot source ${id}`,
        );
      }
      for (const id of [...absentIds(), baseSnap]) {
        await expectCode(create(`conf-nosrc-v${i++}`, 16, {}, fromVolume(id)), Code.NOT_FOUND, `volume source ${id}`);
      }
    });

    it('"Unsupported capacity_range" -> OUT_OF_RANGE (required above limit; limit below one extent; rounding above limit; limit below the source snapshot)', async () => {
      await expectCode(
        create('conf-oor-1', 0, {}, { capacity_range: range(16, 8) }),
        Code.OUT_OF_RANGE,
        'required 16M, limit 8M',
      );
      await expectCode(
        create('conf-oor-2', 0, {}, { capacity_range: range(0, 1) }),
        Code.OUT_OF_RANGE,
        'limit 1M, extents of 4M',
      );
      await expectCode(
        create('conf-oor-3', 0, {}, { capacity_range: range(17, 18) }),
        Code.OUT_OF_RANGE,
        'required 17M rounds to 20M, limit 18M',
      );
      await expectCode(
        create('conf-oor-4', 0, {}, { ...fromSnapshot(baseSnap), capacity_range: range(0, 8) }),
        Code.OUT_OF_RANGE,
        'limit 8M, source snapshot 16M',
      );
    });

    it('"Operation pending for volume" (two concurrent calls, same name) -> ABORTED; the retry -> OK', async () => {
      expect(await race(create('conf-race'), create('conf-race'))).toEqual(['ABORTED', 'OK']);
      await expectCode(create('conf-race'), Code.OK, 'retry');
    });

    it('idempotency: a volume made from a snapshot that was deleted since -> OK with the same volume ("already exists ... and is compatible ... MUST reply 0 OK")', async () => {
      const origin = await createId('conf-gone-src-origin');
      const snap = await snapshotId('conf-gone-src-snap', origin);
      const id = await createId('conf-gone-src', 16, {}, fromSnapshot(snap));
      await call(p.controller, 'DeleteSnapshot', { snapshot_id: snap });
      const again = await outcome(create('conf-gone-src', 16, {}, fromSnapshot(snap)));
      expect(again.name, again.message).toBe('OK');
      expect(await createId('conf-gone-src', 16, {}, fromSnapshot(snap)).catch(() => '')).toBe(id);
    });
    it('"Unable to provision in accessible_topology" -> RESOURCE_EXHAUSTED naming the field, nothing made; a requisite naming the segment is met and the volume carries it', async () => {
      const name = (await call(p.identity, 'GetPluginInfo', {})).name;
      const ours = { [`topology.${name}/attachable`]: 'true' };
      const elsewhere = { requisite: [{ segments: { [`topology.${name}/attachable`]: 'false' } }], preferred: [] };
      const o = await outcome(create('conf-topo-elsewhere', 16, {}, { accessibility_requirements: elsewhere }));
      expect(o.code, o.message).toBe(Code.RESOURCE_EXHAUSTED);
      expect(o.message).toContain('accessibility_requirements.requisite');
      expect(sh(['lvs', '--noheadings', '-o', 'lv_tags', VG])).not.toContain('csi.name=conf-topo-elsewhere');
      const within = { requisite: [{ segments: { zone: 'b' } }, { segments: ours }], preferred: [{ segments: ours }] };
      const v = (await create('conf-topo-ours', 16, {}, { accessibility_requirements: within })).volume;
      expect(v?.accessible_topology?.map((t) => t.segments)).toEqual([ours]);
      await call(p.controller, 'DeleteVolume', { volume_id: v?.volume_id ?? '' });
    });
    // Not triggered: "Source incompatible or not supported" (INVALID_ARGUMENT) - every
    // source is supported (snapshot and volume, thin and thick, any VG of the node).
    // Out of space answers RESOURCE_EXHAUSTED (no table row; controller.test.ts covers it).
  });

  // ========================================================= DeleteVolume

  describe('DeleteVolume', () => {
    it('"volume does not exist" -> OK: unknown, foreign and malformed ids, a repeated delete, a snapshot id and the thin pool (neither is deleted)', async () => {
      for (const id of absentIds())
        await expectCode(call(p.controller, 'DeleteVolume', { volume_id: id }), Code.OK, id);
      const id = await createId('conf-del');
      await expectCode(call(p.controller, 'DeleteVolume', { volume_id: id }), Code.OK, 'first delete');
      await expectCode(call(p.controller, 'DeleteVolume', { volume_id: id }), Code.OK, 'repeated delete');
      await expectCode(call(p.controller, 'DeleteVolume', { volume_id: baseSnap }), Code.OK, 'a snapshot id');
      expect((await call(p.controller, 'ListSnapshots', { snapshot_id: baseSnap })).entries).toHaveLength(1);
      await expectCode(
        call(p.controller, 'DeleteVolume', { volume_id: `${node}/${VG}/pool` }),
        Code.OK,
        'the thin pool',
      );
      expect(rawLv(VG, 'pool')).toBeDefined();
    });

    it('snapshots are independent of their volume: delete -> OK (not "Volume in use" FAILED_PRECONDITION), the snapshot still appears in ListSnapshots and restores', async () => {
      const id = await createId('conf-del-origin');
      const snap = await snapshotId('conf-del-origin-snap', id);
      await expectCode(call(p.controller, 'DeleteVolume', { volume_id: id }), Code.OK, 'delete the origin');
      await expectCode(
        call(p.controller, 'ControllerGetVolume', { volume_id: id }),
        Code.NOT_FOUND,
        'the deleted origin',
      );
      const listed = (await call(p.controller, 'ListSnapshots', {})).entries.map((e) => e.snapshot?.snapshot_id);
      expect(listed).toContain(snap);
      expect(
        (await call(p.controller, 'ListSnapshots', { source_volume_id: id })).entries.map(
          (e) => e.snapshot?.snapshot_id,
        ),
      ).toEqual([snap]);
      await expectCode(create('conf-del-origin-restore', 16, {}, fromSnapshot(snap)), Code.OK, 'restore');
      // CreateSnapshot idempotency does not depend on the source still existing.
      expect(await snapshotId('conf-del-origin-snap', id)).toBe(snap);
    });

    it('"Operation pending for volume" (two concurrent deletes) -> ABORTED; the retry -> OK', async () => {
      const id = await createId('conf-del-race');
      const del = () => call(p.controller, 'DeleteVolume', { volume_id: id });
      expect(await race(del(), del())).toEqual(['ABORTED', 'OK']);
      await expectCode(del(), Code.OK, 'retry');
    });
    // "Volume in use" (FAILED_PRECONDITION) is not triggered: snapshots are independent
    // (above) and there is no publish yet. While a volume is the source of a clone
    // still being copied the plugin answers ABORTED (retry later).
  });

  // =========================================== ValidateVolumeCapabilities

  describe('ValidateVolumeCapabilities', () => {
    it('"Volume does not exist" -> NOT_FOUND (unknown, foreign, malformed ids; a snapshot id; a deleted volume)', async () => {
      for (const id of [...absentIds(), baseSnap, gone]) {
        await expectCode(
          call(p.controller, 'ValidateVolumeCapabilities', { volume_id: id, volume_capabilities: [mountCap()] }),
          Code.NOT_FOUND,
          id,
        );
      }
    });

    it('"SHALL return confirmed only if all the volume capabilities specified are supported": one unsupported among supported -> OK, not confirmed, with a message', async () => {
      const r = await call(p.controller, 'ValidateVolumeCapabilities', {
        volume_id: base,
        volume_capabilities: [mountCap(), blockCap(), unsupportedMode()],
      });
      expect(r.confirmed).toBeFalsy();
      expect(r.message).not.toBe('');
      const ok = await call(p.controller, 'ValidateVolumeCapabilities', {
        volume_id: base,
        volume_capabilities: [mountCap(), blockCap()],
      });
      expect(ok.confirmed?.volume_capabilities).toHaveLength(2);
    });
  });

  // =========================================================== ListVolumes

  describe('ListVolumes', () => {
    it('"Invalid starting_token" -> ABORTED', async () => {
      await expectCode(call(p.controller, 'ListVolumes', { starting_token: 'garbage' }), Code.ABORTED, 'garbage');
      await expectCode(
        call(p.controller, 'ListVolumes', { starting_token: Buffer.from('not a token of ours').toString('base64url') }),
        Code.ABORTED,
        'base64 junk',
      );
    });

    it('max_entries: "MUST NOT return more entries"; "MUST set next_token" when there are more; next_token works as starting_token', async () => {
      await createId('conf-list-a');
      await createId('conf-list-b');
      const first = await call(p.controller, 'ListVolumes', { max_entries: 1 });
      expect(first.entries).toHaveLength(1);
      expect(first.next_token).not.toBe('');
      const second = await call(p.controller, 'ListVolumes', { max_entries: 1, starting_token: first.next_token });
      expect(second.entries).toHaveLength(1);
      expect(second.entries[0]?.volume?.volume_id).not.toBe(first.entries[0]?.volume?.volume_id);
    });

    it('VOLUME_CONDITION advertised: every entry\'s status.volume_condition "MUST be specified"', async () => {
      const entries = (await call(p.controller, 'ListVolumes', {})).entries;
      expect(entries.length).toBeGreaterThan(0);
      for (const e of entries) {
        expect(e.volume?.volume_id).toBeTruthy();
        expect(e.status?.volume_condition, e.volume?.volume_id).toBeTruthy();
        expect(e.status?.volume_condition?.message).not.toBe('');
      }
    });
  });

  // =========================================================== GetCapacity

  describe('GetCapacity', () => {
    it('answers OK for supported capabilities and parameters (no table rows beyond the general ones)', async () => {
      await expectCode(call(p.controller, 'GetCapacity', {}), Code.OK, 'no arguments');
      await expectCode(
        call(p.controller, 'GetCapacity', {
          volume_capabilities: [mountCap(), blockCap()],
          parameters: { lvmType: 'thick' },
        }),
        Code.OK,
        'thick',
      );
      const r = await call(p.controller, 'GetCapacity', { parameters: { lvmType: 'thin' } });
      expect(Number(r.available_capacity)).toBeGreaterThanOrEqual(0);
    });

    it("accessible_topology: the driver's segment counts what no topology counts; another segment has no room", async () => {
      const name = (await call(p.identity, 'GetPluginInfo', {})).name;
      const key = `topology.${name}/attachable`;
      const all = await call(p.controller, 'GetCapacity', { parameters: { lvmType: 'thin' } });
      const ours = await call(p.controller, 'GetCapacity', {
        parameters: { lvmType: 'thin' },
        accessible_topology: { segments: { [key]: 'true' } },
      });
      expect(Number(all.available_capacity)).toBeGreaterThan(0);
      expect(ours.available_capacity).toBe(all.available_capacity);
      const other = await call(p.controller, 'GetCapacity', {
        parameters: { lvmType: 'thin' },
        accessible_topology: { segments: { [key]: 'false' } },
      });
      expect(other.available_capacity).toBe('0');
    });
  });

  // ======================================================= CreateSnapshot

  describe('CreateSnapshot', () => {
    it('idempotency: same name and source -> OK with the same snapshot', async () => {
      const a = await snapshotId('conf-snap-idem', base);
      expect(await snapshotId('conf-snap-idem', base)).toBe(a);
      expect(await snapshotId('conf-base-snap', base)).toBe(baseSnap);
    });

    it('source volume does not exist -> NOT_FOUND (no table row: any non-OK code; NOT_FOUND as for "Volume does not exist")', async () => {
      let i = 0;
      for (const id of [...absentIds(), baseSnap, gone]) {
        await expectCode(snapshot(`conf-snap-nosrc-${i++}`, id), Code.NOT_FOUND, id);
      }
    });

    it('"Not enough space to create snapshot" -> RESOURCE_EXHAUSTED; once space is freed the call succeeds', async () => {
      const thick = await createId('conf-snap-thick', 16, { lvmType: 'thick', volumeClear: 'none' });
      // Fill the VG outside the plugin, so a 100% COW snapshot (16 MiB) has no room.
      sh(['lvcreate', '-q', '-y', '-l', '100%FREE', '-n', FILLER, VG]);
      try {
        await expectCode(snapshot('conf-snap-full', thick), Code.RESOURCE_EXHAUSTED, 'VG full');
      } finally {
        sh(['lvremove', '-q', '-y', `${VG}/${FILLER}`]);
      }
      const s = await snapshotId('conf-snap-full', thick);
      await expectCode(call(p.controller, 'DeleteSnapshot', { snapshot_id: s }), Code.OK, 'cleanup');
    });

    it('"Operation pending for snapshot" (two concurrent calls, same name) -> ABORTED; the retry -> OK', async () => {
      expect(await race(snapshot('conf-snap-race', base), snapshot('conf-snap-race', base))).toEqual(['ABORTED', 'OK']);
      await expectCode(snapshot('conf-snap-race', base), Code.OK, 'retry');
    });
  });

  // ======================================================= DeleteSnapshot

  describe('DeleteSnapshot', () => {
    it('"snapshot does not exist" -> OK: unknown, foreign and malformed ids, a repeated delete, a volume id (not deleted)', async () => {
      for (const id of [...absentIds(), `${node}/${VG}/snap-${HASH}`])
        await expectCode(call(p.controller, 'DeleteSnapshot', { snapshot_id: id }), Code.OK, id);
      const s = await snapshotId('conf-snap-del', base);
      await expectCode(call(p.controller, 'DeleteSnapshot', { snapshot_id: s }), Code.OK, 'first delete');
      await expectCode(call(p.controller, 'DeleteSnapshot', { snapshot_id: s }), Code.OK, 'repeated delete');
      await expectCode(call(p.controller, 'DeleteSnapshot', { snapshot_id: base }), Code.OK, 'a volume id');
      await expectCode(
        call(p.controller, 'ControllerGetVolume', { volume_id: base }),
        Code.OK,
        'the volume is still there',
      );
    });

    it('"Operation pending for snapshot" (two concurrent deletes) -> ABORTED; the retry -> OK', async () => {
      const s = await snapshotId('conf-snap-del-race', base);
      const del = () => call(p.controller, 'DeleteSnapshot', { snapshot_id: s });
      expect(await race(del(), del())).toEqual(['ABORTED', 'OK']);
      await expectCode(del(), Code.OK, 'retry');
    });
    // Not triggered: "Snapshot is part of a group" (INVALID_ARGUMENT) - no group snapshots;
    // "Snapshot in use" (FAILED_PRECONDITION) - thin restores do not keep using the snapshot;
    // while a thick restore is still copying from it the plugin answers ABORTED (retry).
  });

  // ======================================================== ListSnapshots

  describe('ListSnapshots', () => {
    it('"Invalid starting_token" -> ABORTED', async () => {
      await expectCode(call(p.controller, 'ListSnapshots', { starting_token: 'garbage' }), Code.ABORTED, 'garbage');
    });

    it('filters that match nothing -> OK with no entries (unknown/foreign/malformed snapshot_id, a volume id as snapshot_id, unknown source_volume_id, snapshot_id and source_volume_id that disagree)', async () => {
      const empty = async (req: Record<string, unknown>) => {
        const r = await outcome(call(p.controller, 'ListSnapshots', req));
        expect(r.name, `${JSON.stringify(req)}: ${r.message}`).toBe('OK');
        expect((await call(p.controller, 'ListSnapshots', req)).entries, JSON.stringify(req)).toHaveLength(0);
      };
      for (const id of [...absentIds(), `${node}/${VG}/snap-${HASH}`, base]) await empty({ snapshot_id: id });
      for (const id of absentIds()) await empty({ source_volume_id: id });
      const other = await createId('conf-ls-other');
      await empty({ snapshot_id: baseSnap, source_volume_id: other });
      expect(
        (await call(p.controller, 'ListSnapshots', { snapshot_id: baseSnap, source_volume_id: base })).entries,
      ).toHaveLength(1);
    });
    // max_entries / next_token: csi-sanity's "ListSnapshots should return next token when a
    // limited number of entries are requested" (sanity-thin.test.ts).
  });

  // =============================================== ControllerExpandVolume

  describe('ControllerExpandVolume', () => {
    it('"Volume does not exist" -> NOT_FOUND (unknown, foreign, malformed ids; a snapshot id; a deleted volume)', async () => {
      for (const id of [...absentIds(), baseSnap, gone]) {
        await expectCode(
          call(p.controller, 'ControllerExpandVolume', { volume_id: id, capacity_range: range(32) }),
          Code.NOT_FOUND,
          id,
        );
      }
    });

    it('"Unsupported capacity_range" -> OUT_OF_RANGE (required above limit; already above limit; rounding above limit)', async () => {
      const id = await createId('conf-exp-oor');
      const expand = (r: ReturnType<typeof range>) =>
        call(p.controller, 'ControllerExpandVolume', { volume_id: id, capacity_range: r });
      await expectCode(expand(range(32, 24)), Code.OUT_OF_RANGE, 'required 32M, limit 24M');
      await expectCode(expand(range(8, 12)), Code.OUT_OF_RANGE, 'volume is 16M, limit 12M');
      await expectCode(expand(range(17, 18)), Code.OUT_OF_RANGE, 'required 17M rounds to 20M, limit 18M');
    });

    it('idempotency: volume already >= the request -> OK; a repeated expansion -> OK with the same capacity', async () => {
      const id = await createId('conf-exp-idem');
      const expand = (r: ReturnType<typeof range>) =>
        call(p.controller, 'ControllerExpandVolume', { volume_id: id, capacity_range: r });
      expect((await expand(range(8))).capacity_bytes).toBe(String(16 * MiB));
      expect((await expand(range(16, 16))).capacity_bytes).toBe(String(16 * MiB));
      expect((await expand(range(24))).capacity_bytes).toBe(String(24 * MiB));
      expect((await expand(range(24))).capacity_bytes).toBe(String(24 * MiB));
    });

    it('"Exceeds capabilities" (a volume_capability the volume does not support) -> INVALID_ARGUMENT, and the volume is not grown', async () => {
      const id = await createId('conf-exp-caps');
      await expectCode(
        call(p.controller, 'ControllerExpandVolume', {
          volume_id: id,
          capacity_range: range(24),
          volume_capability: unsupportedMode(),
        }),
        Code.INVALID_ARGUMENT,
        'MULTI_NODE_MULTI_WRITER',
      );
      await expectCode(
        call(p.controller, 'ControllerExpandVolume', {
          volume_id: id,
          capacity_range: range(24),
          volume_capability: mountCap('no-such-fs'),
        }),
        Code.INVALID_ARGUMENT,
        'fs_type no-such-fs',
      );
      expect((await call(p.controller, 'ControllerGetVolume', { volume_id: id })).volume?.capacity_bytes).toBe(
        String(16 * MiB),
      );
      await expectCode(
        call(p.controller, 'ControllerExpandVolume', {
          volume_id: id,
          capacity_range: range(24),
          volume_capability: blockCap(),
        }),
        Code.OK,
        'block capability',
      );
    });

    it('"Operation pending for volume" (two concurrent expansions) -> ABORTED; the retry -> OK', async () => {
      const id = await createId('conf-exp-race');
      const expand = () => call(p.controller, 'ControllerExpandVolume', { volume_id: id, capacity_range: range(32) });
      expect(await race(expand(), expand())).toEqual(['ABORTED', 'OK']);
      expect((await expand()).capacity_bytes).toBe(String(32 * MiB));
    });
    // Not applicable: "Volume in use" (FAILED_PRECONDITION) is for plugins without ONLINE
    // expansion; this plugin advertises ONLINE.
  });

  // ================================================== ControllerGetVolume

  describe('ControllerGetVolume', () => {
    it('"Volume does not exist" -> NOT_FOUND (unknown, foreign, malformed ids; a snapshot id; a deleted volume)', async () => {
      for (const id of [...absentIds(), baseSnap, gone]) {
        await expectCode(call(p.controller, 'ControllerGetVolume', { volume_id: id }), Code.NOT_FOUND, id);
      }
    });

    it('existing volume -> OK with volume and status (REQUIRED) and a non-empty volume_condition (VOLUME_CONDITION)', async () => {
      const r = await call(p.controller, 'ControllerGetVolume', { volume_id: base });
      expect(r.volume?.volume_id).toBe(base);
      expect(r.status).toBeTruthy();
      expect(r.status?.volume_condition).toBeTruthy();
      expect(r.status?.volume_condition?.message).not.toBe('');
    });
  });
});
