/**
 * The agent API (proto/agent.proto) served by an agent process: each RPC
 * calls the in-process StorageAgent through the one unary adapter (logging
 * with secrets redacted, metrics, cancellation, domain error -> status with
 * its kind in trailing metadata). The agent takes its own per-key locks
 * (a CSI name, an LV), whoever calls: a second call on the same key while the
 * first runs answers ABORTED, as on the CSI side, so two callers never decide
 * on the same volume at once.
 */
import type { AgentHandlers } from '../gen/csilvmiscsi/agent/v1/Agent.js';
import type { StorageAgent } from '../agent/types.js';
import {
  chapFromWire,
  paramsFromWire,
  poolToWire,
  publicationFromWire,
  publishInfoToWire,
  snapshotToWire,
  sourceFromWire,
  volumeToWire,
  num,
} from '../agent/wire.js';
import { InvalidArgument } from '../errors.js';
import { unary, type AdapterDeps } from './adapter.js';

function need<T>(field: string, v: T | null | undefined): T {
  if (v === null || v === undefined || v === '') throw new InvalidArgument(field, 'is required');
  return v;
}

/** Lock keys of the agent API, apart from the CSI side's (`agent:` prefix). */
const byName = (name: string) => [`agent:name:${name}`];
const byLv = (r: { vg: string; lv: string }) => [`agent:lv:${r.vg}/${r.lv}`];

export function agentHandlers(agent: StorageAgent, deps: AdapterDeps): AgentHandlers {
  const o = (signal: AbortSignal) => ({ signal });
  return {
    GetInfo: unary(
      'agent.GetInfo',
      {
        quiet: true,
        handle: async () => ({
          node_name: agent.nodeName,
          node_id: agent.nodeId,
          volume_groups: [...agent.volumeGroups()],
          thin_pool_vgs: agent.volumeGroups().filter((vg) => agent.hasThinPool(vg)),
        }),
      },
      deps,
    ),
    CreateVolume: unary(
      'agent.CreateVolume',
      {
        lockKeys: (r) => byName(r.name),
        handle: async (r, c) =>
          volumeToWire(
            await agent.createVolume(
              {
                name: need('name', r.name),
                range: {
                  required: num(r.required_bytes, 'caller', 'required_bytes'),
                  limit: num(r.limit_bytes, 'caller', 'limit_bytes'),
                },
                defaultBytes: num(r.default_bytes, 'caller', 'default_bytes'),
                params: paramsFromWire(r.params, 'caller'),
                source: sourceFromWire(r.source, 'caller'),
              },
              o(c.signal),
            ),
          ),
      },
      deps,
    ),
    FindVolumeByName: unary(
      'agent.FindVolumeByName',
      {
        quiet: true,
        handle: async (r, c) => {
          const v = await agent.findVolumeByName(need('name', r.name), o(c.signal));
          return { volume: v ? volumeToWire(v) : null };
        },
      },
      deps,
    ),
    GetVolume: unary(
      'agent.GetVolume',
      {
        quiet: true,
        handle: async (r, c) => {
          const v = await agent.getVolume(need('vg', r.vg), need('lv', r.lv), o(c.signal));
          return { volume: v ? volumeToWire(v) : null };
        },
      },
      deps,
    ),
    ListVolumes: unary(
      'agent.ListVolumes',
      {
        quiet: true,
        handle: async (r, c) => {
          const page = { ...(r.after ? { after: r.after } : {}), limit: r.limit, readyOnly: r.ready_only };
          return { volumes: (await agent.listVolumes({ ...o(c.signal), ...page })).map(volumeToWire) };
        },
      },
      deps,
    ),
    DeleteVolume: unary(
      'agent.DeleteVolume',
      {
        lockKeys: (r) => byLv(r),
        handle: async (r, c) => (await agent.deleteVolume(need('vg', r.vg), need('lv', r.lv), o(c.signal)), {}),
      },
      deps,
    ),
    ExpandVolume: unary(
      'agent.ExpandVolume',
      {
        lockKeys: (r) => byLv(r),
        handle: async (r, c) =>
          volumeToWire(
            await agent.expandVolume(
              need('vg', r.vg),
              need('lv', r.lv),
              {
                required: num(r.required_bytes, 'caller', 'required_bytes'),
                limit: num(r.limit_bytes, 'caller', 'limit_bytes'),
              },
              o(c.signal),
            ),
          ),
      },
      deps,
    ),
    CreateSnapshot: unary(
      'agent.CreateSnapshot',
      {
        lockKeys: (r) => [...byName(`snapshot:${r.name}`), ...byLv({ vg: r.source_vg, lv: r.source_lv })],
        handle: async (r, c) =>
          snapshotToWire(
            await agent.createSnapshot(
              need('name', r.name),
              need('source_vg', r.source_vg),
              need('source_lv', r.source_lv),
              { snapshotReserve: r.snapshot_reserve },
              o(c.signal),
            ),
          ),
      },
      deps,
    ),
    FindSnapshotByName: unary(
      'agent.FindSnapshotByName',
      {
        quiet: true,
        handle: async (r, c) => {
          const s = await agent.findSnapshotByName(need('name', r.name), o(c.signal));
          return { snapshot: s ? snapshotToWire(s) : null };
        },
      },
      deps,
    ),
    GetSnapshot: unary(
      'agent.GetSnapshot',
      {
        quiet: true,
        handle: async (r, c) => {
          const s = await agent.getSnapshot(need('vg', r.vg), need('lv', r.lv), o(c.signal));
          return { snapshot: s ? snapshotToWire(s) : null };
        },
      },
      deps,
    ),
    ListSnapshots: unary(
      'agent.ListSnapshots',
      {
        quiet: true,
        handle: async (_r, c) => ({ snapshots: (await agent.listSnapshots(o(c.signal))).map(snapshotToWire) }),
      },
      deps,
    ),
    DeleteSnapshot: unary(
      'agent.DeleteSnapshot',
      {
        lockKeys: (r) => byLv(r),
        handle: async (r, c) => (await agent.deleteSnapshot(need('vg', r.vg), need('lv', r.lv), o(c.signal)), {}),
      },
      deps,
    ),
    Publish: unary(
      'agent.Publish',
      {
        lockKeys: (r) => byLv(r),
        handle: async (r, c) =>
          publishInfoToWire(
            await agent.publish(
              {
                vg: need('vg', r.vg),
                lv: need('lv', r.lv),
                publication: publicationFromWire(need('publication', r.publication)),
                initiatorIqn: need('initiator_iqn', r.initiator_iqn),
                nodeName: need('node_name', r.node_name),
                chap: chapFromWire(r.chap),
              },
              o(c.signal),
            ),
          ),
      },
      deps,
    ),
    Unpublish: unary(
      'agent.Unpublish',
      {
        lockKeys: (r) => byLv(r),
        handle: async (r, c) => (await agent.unpublish(need('vg', r.vg), need('lv', r.lv), r.node_id, o(c.signal)), {}),
      },
      deps,
    ),
    PoolStatus: unary(
      'agent.PoolStatus',
      { quiet: true, handle: async (r, c) => poolToWire(await agent.poolStatus(need('vg', r.vg), o(c.signal))) },
      deps,
    ),
    Capacity: unary(
      'agent.Capacity',
      {
        quiet: true,
        handle: async (r, c) => {
          const lvmType = r.lvm_type === 'thin' || r.lvm_type === 'thick' ? r.lvm_type : undefined;
          if (!lvmType) throw new InvalidArgument('lvm_type', 'must be thin or thick');
          const cap = await agent.capacity(
            { vg: need('vg', r.vg), lvmType, mirrors: r.mirrors, stripes: r.stripes },
            o(c.signal),
          );
          return { available_bytes: String(cap.availableBytes), maximum_volume_bytes: String(cap.maximumVolumeBytes) };
        },
      },
      deps,
    ),
  };
}
