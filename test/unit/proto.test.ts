/**
 * proto/csi.proto against the CSI v1.12.0 specification, through the same
 * loader (src/server/proto.ts) the plugin uses at run time.
 *
 * Services and methods are read from what @grpc/proto-loader produced;
 * field numbers, oneofs, enum values and the custom options are read from
 * protobufjs reflection (the library proto-loader parses with).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { LOADER_OPTIONS, csiProtoPath, loadCsi, loadCsiPackageDefinition, protoDir } from '../../src/server/proto.js';

const repo = join(import.meta.dirname, '..', '..');

const SERVICES: Record<string, string[]> = {
  Identity: ['GetPluginInfo', 'GetPluginCapabilities', 'Probe'],
  Controller: [
    'CreateVolume',
    'DeleteVolume',
    'ControllerPublishVolume',
    'ControllerUnpublishVolume',
    'ValidateVolumeCapabilities',
    'ListVolumes',
    'GetCapacity',
    'ControllerGetCapabilities',
    'CreateSnapshot',
    'DeleteSnapshot',
    'ListSnapshots',
    'GetSnapshot',
    'ControllerExpandVolume',
    'ControllerGetVolume',
    'ControllerModifyVolume',
  ],
  GroupController: [
    'GroupControllerGetCapabilities',
    'CreateVolumeGroupSnapshot',
    'DeleteVolumeGroupSnapshot',
    'GetVolumeGroupSnapshot',
  ],
  SnapshotMetadata: ['GetMetadataAllocated', 'GetMetadataDelta'],
  Node: [
    'NodeStageVolume',
    'NodeUnstageVolume',
    'NodePublishVolume',
    'NodeUnpublishVolume',
    'NodeGetVolumeStats',
    'NodeExpandVolume',
    'NodeGetCapabilities',
    'NodeGetInfo',
  ],
};

function reflect(): protobuf.Root {
  const root = new protobuf.Root().loadSync(csiProtoPath(), { keepCase: LOADER_OPTIONS.keepCase });
  root.resolveAll();
  return root;
}
const root = reflect();

/** field name -> field number, in declaration order. */
function fieldNumbers(type: string): Record<string, number> {
  const t = root.lookupType(`csi.v1.${type}`);
  return Object.fromEntries(t.fieldsArray.map((f) => [f.name, f.id]));
}
function enumValues(name: string): Record<string, number> {
  return { ...root.lookupEnum(`csi.v1.${name}`).values };
}
function allTypes(ns: protobuf.NamespaceBase = root): protobuf.Type[] {
  return ns.nestedArray.flatMap((n) => {
    const self = n instanceof protobuf.Type ? [n] : [];
    return n instanceof protobuf.Namespace ? [...self, ...allTypes(n)] : self;
  });
}

describe('proto loader', () => {
  it('finds proto/csi.proto two levels above the module directory', () => {
    expect(protoDir()).toBe(join(repo, 'proto'));
    expect(existsSync(csiProtoPath())).toBe(true);
  });

  it('uses exactly the options of the gen-types script', () => {
    expect(LOADER_OPTIONS).toEqual({ keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
    const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const flags = pkg.scripts['gen-types']?.split(/\s+/) ?? [];
    expect(flags).toEqual(
      expect.arrayContaining([
        '--keepCase',
        '--longs=String',
        '--enums=String',
        '--defaults',
        '--oneofs',
        'proto/csi.proto',
      ]),
    );
    expect(flags.some((f) => f.startsWith('--includeDirs') || f === '-I')).toBe(false);
  });

  it('keeps src/gen type-only while it is a CommonJS-typed folder', () => {
    // src/gen/package.json says "type": "commonjs" so that TypeScript accepts
    // the generator's extensionless imports. tsc then emits dist/gen/*.js as
    // CommonJS into the ESM dist/ tree, where loading them fails ("exports is
    // not defined"). So src/ may only `import type` from src/gen. (Not needed
    // once gen-types runs with --importFileExtension=.js and that
    // package.json is gone.)
    const genPkg = join(repo, 'src', 'gen', 'package.json');
    if (!existsSync(genPkg) || (JSON.parse(readFileSync(genPkg, 'utf8')) as { type?: string }).type !== 'commonjs')
      return;
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) {
          if (p !== join(repo, 'src', 'gen')) walk(p);
        } else if (e.name.endsWith('.ts')) {
          const src = readFileSync(p, 'utf8');
          const re = /^\s*(import|export)\s+(?!type\b)[^;]*?from\s+['"]([^'"]*\/gen\/[^'"]*)['"]/gms;
          for (const m of src.matchAll(re)) offenders.push(`${p}: ${m[2]}`);
        }
      }
    };
    walk(join(repo, 'src'));
    expect(offenders).toEqual([]);
  });

  it('returns the typed csi.v1 package with constructible service clients', () => {
    const csi = loadCsi().csi.v1;
    expect(loadCsi()).toBe(loadCsi()); // cached
    for (const name of Object.keys(SERVICES)) {
      const ctor = csi[name as keyof typeof csi] as unknown as { service?: Record<string, unknown> };
      expect(typeof ctor, name).toBe('function');
      expect(Object.keys(ctor.service ?? {}).sort(), name).toEqual([...(SERVICES[name] ?? [])].sort());
    }
  });
});

describe('CSI v1.12.0 services', () => {
  const def = loadCsiPackageDefinition();

  it('declares exactly the Identity, Controller, GroupController, SnapshotMetadata and Node services', () => {
    const services = Object.keys(def)
      .filter((k) => k.startsWith('csi.v1.') && !('format' in (def[k] as object)))
      .map((k) => k.slice('csi.v1.'.length))
      .sort();
    expect(services).toEqual(Object.keys(SERVICES).sort());
  });

  for (const [svc, methods] of Object.entries(SERVICES)) {
    it(`${svc} has the RPCs of the specification, in order`, () => {
      const service = def[`csi.v1.${svc}`] as Record<string, { path: string }>;
      expect(Object.keys(service)).toEqual(methods);
      for (const m of methods) expect(service[m]?.path).toBe(`/csi.v1.${svc}/${m}`);
    });
  }

  it('has 15 Controller RPCs (v1.12.0 added GetSnapshot), including ControllerModifyVolume', () => {
    expect(SERVICES.Controller).toHaveLength(15);
    expect(SERVICES.Controller).toContain('ControllerModifyVolume');
  });

  it('streams only the SnapshotMetadata responses', () => {
    for (const [svc, methods] of Object.entries(SERVICES)) {
      const service = def[`csi.v1.${svc}`] as Record<string, { requestStream: boolean; responseStream: boolean }>;
      for (const m of methods) {
        expect(service[m]?.requestStream, `${svc}.${m}`).toBe(false);
        expect(service[m]?.responseStream, `${svc}.${m}`).toBe(svc === 'SnapshotMetadata');
      }
    }
  });

  it('marks the alpha service and methods', () => {
    expect(root.lookupService('csi.v1.SnapshotMetadata').options).toEqual({ '(alpha_service)': true });
    const ctrl = root.lookupService('csi.v1.Controller');
    const alpha = ctrl.methodsArray.filter((m) => m.options?.['(alpha_method)'] === true).map((m) => m.name);
    expect(alpha).toEqual(['GetSnapshot', 'ControllerGetVolume', 'ControllerModifyVolume']);
  });
});

describe('CSI v1.12.0 messages', () => {
  it('CreateVolumeRequest field numbers', () => {
    expect(fieldNumbers('CreateVolumeRequest')).toEqual({
      name: 1,
      capacity_range: 2,
      volume_capabilities: 3,
      parameters: 4,
      secrets: 5,
      volume_content_source: 6,
      accessibility_requirements: 7,
      mutable_parameters: 8,
    });
    const t = root.lookupType('csi.v1.CreateVolumeRequest');
    expect(t.fields.secrets?.options).toEqual({ '(csi_secret)': true });
    expect(t.fields.mutable_parameters?.options).toEqual({ '(alpha_field)': true });
    expect(t.fields.parameters?.map).toBe(true);
    expect(t.fields.volume_capabilities?.repeated).toBe(true);
  });

  it('Node stage/publish request field numbers', () => {
    expect(fieldNumbers('NodeStageVolumeRequest')).toEqual({
      volume_id: 1,
      publish_context: 2,
      staging_target_path: 3,
      volume_capability: 4,
      secrets: 5,
      volume_context: 6,
    });
    expect(fieldNumbers('NodeUnstageVolumeRequest')).toEqual({ volume_id: 1, staging_target_path: 2 });
    expect(fieldNumbers('NodePublishVolumeRequest')).toEqual({
      volume_id: 1,
      publish_context: 2,
      staging_target_path: 3,
      target_path: 4,
      volume_capability: 5,
      readonly: 6,
      secrets: 7,
      volume_context: 8,
    });
    expect(fieldNumbers('NodeUnpublishVolumeRequest')).toEqual({ volume_id: 1, target_path: 2 });
    expect(fieldNumbers('NodeExpandVolumeRequest')).toEqual({
      volume_id: 1,
      volume_path: 2,
      capacity_range: 3,
      staging_target_path: 4,
      volume_capability: 5,
      secrets: 6,
    });
    expect(fieldNumbers('NodeGetInfoResponse')).toEqual({
      node_id: 1,
      max_volumes_per_node: 2,
      accessible_topology: 3,
    });
  });

  it('controller publish and snapshot field numbers', () => {
    expect(fieldNumbers('ControllerPublishVolumeRequest')).toEqual({
      volume_id: 1,
      node_id: 2,
      volume_capability: 3,
      readonly: 4,
      secrets: 5,
      volume_context: 6,
    });
    expect(fieldNumbers('Volume')).toEqual({
      capacity_bytes: 1,
      volume_id: 2,
      volume_context: 3,
      content_source: 4,
      accessible_topology: 5,
    });
    expect(fieldNumbers('Snapshot')).toEqual({
      size_bytes: 1,
      snapshot_id: 2,
      source_volume_id: 3,
      creation_time: 4,
      ready_to_use: 5,
      group_snapshot_id: 6,
    });
    expect(root.lookupType('csi.v1.Snapshot').fields.creation_time?.resolvedType?.fullName).toBe(
      '.google.protobuf.Timestamp',
    );
    expect(fieldNumbers('ControllerModifyVolumeRequest')).toEqual({ volume_id: 1, secrets: 2, mutable_parameters: 3 });
    expect(fieldNumbers('GetCapacityResponse')).toEqual({
      available_capacity: 1,
      maximum_volume_size: 2,
      minimum_volume_size: 3,
    });
  });

  it('VolumeCapability oneof and AccessMode.Mode values', () => {
    expect(fieldNumbers('VolumeCapability')).toEqual({ block: 1, mount: 2, access_mode: 3 });
    const vc = root.lookupType('csi.v1.VolumeCapability');
    expect(vc.oneofsArray.map((o) => [o.name, o.oneof])).toEqual([['access_type', ['block', 'mount']]]);
    expect(fieldNumbers('VolumeCapability.MountVolume')).toEqual({ fs_type: 1, mount_flags: 2, volume_mount_group: 3 });
    expect(enumValues('VolumeCapability.AccessMode.Mode')).toEqual({
      UNKNOWN: 0,
      SINGLE_NODE_WRITER: 1,
      SINGLE_NODE_READER_ONLY: 2,
      MULTI_NODE_READER_ONLY: 3,
      MULTI_NODE_SINGLE_WRITER: 4,
      MULTI_NODE_MULTI_WRITER: 5,
      SINGLE_NODE_SINGLE_WRITER: 6,
      SINGLE_NODE_MULTI_WRITER: 7,
    });
  });

  it('capability enums', () => {
    expect(enumValues('PluginCapability.Service.Type')).toEqual({
      UNKNOWN: 0,
      CONTROLLER_SERVICE: 1,
      VOLUME_ACCESSIBILITY_CONSTRAINTS: 2,
      GROUP_CONTROLLER_SERVICE: 3,
      SNAPSHOT_METADATA_SERVICE: 4,
    });
    expect(enumValues('PluginCapability.VolumeExpansion.Type')).toEqual({ UNKNOWN: 0, ONLINE: 1, OFFLINE: 2 });
    expect(enumValues('ControllerServiceCapability.RPC.Type')).toEqual({
      UNKNOWN: 0,
      CREATE_DELETE_VOLUME: 1,
      PUBLISH_UNPUBLISH_VOLUME: 2,
      LIST_VOLUMES: 3,
      GET_CAPACITY: 4,
      CREATE_DELETE_SNAPSHOT: 5,
      LIST_SNAPSHOTS: 6,
      CLONE_VOLUME: 7,
      PUBLISH_READONLY: 8,
      EXPAND_VOLUME: 9,
      LIST_VOLUMES_PUBLISHED_NODES: 10,
      VOLUME_CONDITION: 11,
      GET_VOLUME: 12,
      SINGLE_NODE_MULTI_WRITER: 13,
      MODIFY_VOLUME: 14,
      GET_SNAPSHOT: 15,
    });
    expect(enumValues('NodeServiceCapability.RPC.Type')).toEqual({
      UNKNOWN: 0,
      STAGE_UNSTAGE_VOLUME: 1,
      GET_VOLUME_STATS: 2,
      EXPAND_VOLUME: 3,
      VOLUME_CONDITION: 4,
      SINGLE_NODE_MULTI_WRITER: 5,
      VOLUME_MOUNT_GROUP: 6,
    });
    expect(enumValues('GroupControllerServiceCapability.RPC.Type')).toEqual({
      UNKNOWN: 0,
      CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT: 1,
    });
    expect(enumValues('VolumeUsage.Unit')).toEqual({ UNKNOWN: 0, BYTES: 1, INODES: 2 });
    expect(enumValues('BlockMetadataType')).toEqual({ UNKNOWN: 0, FIXED_LENGTH: 1, VARIABLE_LENGTH: 2 });
  });

  it('capability oneofs', () => {
    const oneof = (t: string) => root.lookupType(`csi.v1.${t}`).oneofsArray.map((o) => [o.name, o.oneof]);
    expect(oneof('PluginCapability')).toEqual([['type', ['service', 'volume_expansion']]]);
    expect(oneof('VolumeContentSource')).toEqual([['type', ['snapshot', 'volume']]]);
    expect(oneof('ControllerServiceCapability')).toEqual([['type', ['rpc']]]);
    expect(oneof('NodeServiceCapability')).toEqual([['type', ['rpc']]]);
    expect(oneof('GroupControllerServiceCapability')).toEqual([['type', ['rpc']]]);
  });

  it('marks every secrets map as (csi_secret)', () => {
    const secrets = allTypes().flatMap((t) => (t.fields.secrets ? [[t.fullName, t.fields.secrets] as const] : []));
    expect(secrets.map(([name]) => name.replace('.csi.v1.', '')).sort()).toEqual(
      [
        'CreateVolumeRequest',
        'DeleteVolumeRequest',
        'ControllerPublishVolumeRequest',
        'ControllerUnpublishVolumeRequest',
        'ValidateVolumeCapabilitiesRequest',
        'ControllerModifyVolumeRequest',
        'CreateSnapshotRequest',
        'DeleteSnapshotRequest',
        'ListSnapshotsRequest',
        'GetSnapshotRequest',
        'ControllerExpandVolumeRequest',
        'NodeStageVolumeRequest',
        'NodePublishVolumeRequest',
        'NodeExpandVolumeRequest',
        'CreateVolumeGroupSnapshotRequest',
        'DeleteVolumeGroupSnapshotRequest',
        'GetVolumeGroupSnapshotRequest',
        'GetMetadataAllocatedRequest',
        'GetMetadataDeltaRequest',
      ].sort(),
    );
    for (const [name, f] of secrets) {
      expect(f.map, name).toBe(true);
      expect(f.options?.['(csi_secret)'], name).toBe(true);
    }
    // No other field is marked secret.
    const others = allTypes().flatMap((t) =>
      t.fieldsArray.filter((f) => f.name !== 'secrets' && f.options?.['(csi_secret)']).map((f) => f.fullName),
    );
    expect(others).toEqual([]);
  });

  it('snapshot metadata messages', () => {
    expect(fieldNumbers('BlockMetadata')).toEqual({ byte_offset: 1, size_bytes: 2 });
    expect(fieldNumbers('GetMetadataAllocatedRequest')).toEqual({
      snapshot_id: 1,
      starting_offset: 2,
      max_results: 3,
      secrets: 4,
    });
    expect(fieldNumbers('GetMetadataDeltaRequest')).toEqual({
      base_snapshot_id: 1,
      target_snapshot_id: 2,
      starting_offset: 3,
      max_results: 4,
      secrets: 5,
    });
    for (const r of ['GetMetadataAllocatedResponse', 'GetMetadataDeltaResponse']) {
      expect(fieldNumbers(r)).toEqual({ block_metadata_type: 1, volume_capacity_bytes: 2, block_metadata: 3 });
    }
  });

  it('decodes with the run-time options (enums as strings, int64 as strings, defaults)', () => {
    const t = root.lookupType('csi.v1.CapacityRange');
    const bytes = t.encode(t.fromObject({ required_bytes: '1073741824' })).finish();
    expect(t.toObject(t.decode(bytes), LOADER_OPTIONS)).toEqual({ required_bytes: '1073741824', limit_bytes: '0' });
    const m = root.lookupType('csi.v1.VolumeCapability.AccessMode');
    const mode = m.encode(m.fromObject({ mode: 'SINGLE_NODE_SINGLE_WRITER' })).finish();
    expect(m.toObject(m.decode(mode), LOADER_OPTIONS)).toEqual({ mode: 'SINGLE_NODE_SINGLE_WRITER' });
  });
});
