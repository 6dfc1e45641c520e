/**
 * The commands each CSI call runs, pinned: the plugin in `all` mode, in
 * process, over a runner that answers LVM like a small stateful LVM and
 * records every command. A change that adds a read (or a second mutating
 * command) to an RPC fails here. The VM benchmark (npm run bench) measures
 * what these commands cost; this test only counts them.
 */
import { credentials } from '@grpc/grpc-js';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlugin, type RunningPlugin } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { CommandFailed } from '../../src/errors.js';
import type { CommandRunner, RunOptions, RunResult } from '../../src/exec/runner.js';
import { createLogger } from '../../src/log.js';
import { loadCsi } from '../../src/server/proto.js';
import { call } from '../helpers/grpc.js';
import { lvRow, pvRow, report, vgRow } from './lvm/rows.js';

const MiB = 1024 * 1024;

/**
 * Answers pvs/vgs/lvs from a list of LVs that lvcreate/lvremove/lvextend/lvchange
 * keep (thin only: what these tests create), and records every command.
 */
class LvmLike implements CommandRunner {
  readonly calls: string[][] = [];
  /** The LVM_SYSTEM_DIR each command ran with (undefined: none). */
  readonly systemDirs: (string | undefined)[] = [];
  private readonly lvs = new Map<string, Record<string, string>>([
    ['pool', lvRow('vg0', 'pool', { size: 800 * MiB, attr: 'twi-aotz--', data: '1.00', meta: '1.00' })],
  ]);

  async run(argv: readonly string[], o?: RunOptions): Promise<RunResult> {
    this.calls.push([...argv]);
    this.systemDirs.push(o?.env?.['LVM_SYSTEM_DIR']);
    const ok = (stdout = '') => ({ stdout, stderr: '', exitCode: 0, durationMs: 0 });
    const last = argv.at(-1) ?? '';
    const value = (flag: string) => argv[argv.indexOf(flag) + 1] ?? '';
    const tags = (flag: string) => argv.flatMap((a, i) => (argv[i - 1] === flag ? [a] : []));
    switch (argv[0]) {
      case 'pvs':
        return ok(report('pv', [pvRow('/dev/vdb', 'vg0')]));
      case 'vgs':
        return ok(report('vg', [vgRow('vg0', 1024 * MiB, 200 * MiB)]));
      case 'lvs': {
        const one = last.includes('/') ? this.lvs.get(last.split('/')[1] ?? '') : undefined;
        return ok(report('lv', last.includes('/') ? (one ? [one] : []) : [...this.lvs.values()]));
      }
      case 'lvcreate': {
        const name = value('--name');
        const origin = argv.includes('--snapshot') ? this.lvs.get(last.split('/')[1] ?? '') : undefined;
        if (argv.includes('--size')) {
          this.lvs.set(name, {
            ...lvRow('vg0', name, {
              attr: '-wi-a-----',
              size: Number.parseInt(value('--size'), 10),
              tags: tags('--addtag'),
            }),
            segtype: 'linear',
            lv_layout: 'linear',
          });
          return ok();
        }
        const size = origin ? Number(origin['lv_size']) : Number.parseInt(value('--virtualsize'), 10);
        this.lvs.set(
          name,
          lvRow('vg0', name, {
            pool: 'pool',
            size,
            tags: tags('--addtag'),
            ...(origin ? { origin: origin['lv_name'] ?? '' } : {}),
          }),
        );
        return ok();
      }
      case 'lvextend': {
        const l = this.lvs.get(last.split('/')[1] ?? '');
        if (l) l['lv_size'] = String(Number.parseInt(value('--size'), 10));
        return ok();
      }
      case 'vgchange':
        return ok();
      case 'lvremove':
        this.lvs.delete(last.split('/')[1] ?? '');
        return ok();
      case 'lvchange': {
        const l = this.lvs.get(last.split('/')[1] ?? '');
        if (l) {
          const del = new Set(tags('--deltag'));
          l['lv_tags'] = [...(l['lv_tags'] ?? '').split(',').filter((t) => t && !del.has(t)), ...tags('--addtag')]
            .sort()
            .join(',');
        }
        return ok();
      }
      case 'lvmconfig':
        return ok('global {\n}\n');
      default:
        throw new CommandFailed({ argv, exitCode: 127, stderr: `${argv[0]}: not available in this test` });
    }
  }

  /** The programs run since `from` (lvm commands by name; the rest as they are). */
  since(from: number): string[] {
    return this.calls.slice(from).map((c) => c[0] ?? '');
  }
}

const csi = loadCsi().csi.v1;
const runner = new LvmLike();
let plugin: RunningPlugin;
/** How often the plugin checked a VG's metadata stamp (every read from its in-memory copy does). */
let stampReads = 0;
let controller: InstanceType<typeof csi.Controller>;

beforeAll(async () => {
  const r = loadConfig({
    argv: [
      '--mode',
      'all',
      '--node-id',
      'storage-1',
      '--endpoint',
      'tcp://127.0.0.1:0',
      '--volume-group',
      'vg0',
      '--thin-pool',
      'pool',
      '--portals',
      '127.0.0.1:3260',
      '--initiator-name',
      'iqn.2024-01.org.example:storage-1',
      '--reconcile-interval',
      '0',
    ],
    env: {},
  });
  if (r.help) throw new Error('help');
  const log = createLogger('fatal', new Writable({ write: (_c, _e, cb) => cb() }));
  plugin = await startPlugin(r.config, {
    log,
    runner,
    stamps: async () => {
      stampReads++;
      return 'the VG was not changed by anyone else';
    },
    dmNames: async () => undefined,
  });
  await plugin.initialized;
  const target = plugin.address.replace(/^tcp:\/\//, '');
  controller = new csi.Controller(target, credentials.createInsecure());
});

afterAll(async () => {
  controller?.close();
  await plugin?.stop(0);
});

const cap = { mount: { fs_type: 'ext4', mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' as const } };

/** Runs fn and returns the commands it ran. */
async function commandsOf(fn: () => Promise<unknown>): Promise<string[]> {
  const from = runner.calls.length;
  await fn();
  return runner.since(from);
}

describe('commands per CSI call (thin volumes, steady state)', () => {
  let volumeId = '';
  let snapshotId = '';

  it('start: the VG is read once (its PVs, one vgs, one lvs)', () => {
    expect(runner.calls.map((c) => c[0]).filter((p) => ['pvs', 'vgs', 'lvs'].includes(p ?? ''))).toEqual([
      'pvs',
      'vgs',
      'lvs',
    ]);
  });

  it('CreateVolume: one lvcreate, nothing else; again (idempotent): nothing', async () => {
    const req = {
      name: 'pvc-1',
      capacity_range: { required_bytes: String(64 * MiB) },
      volume_capabilities: [cap],
      parameters: { lvmType: 'thin' },
    };
    expect(
      await commandsOf(async () => {
        volumeId = (await call(controller, 'CreateVolume', req)).volume?.volume_id ?? '';
      }),
    ).toEqual(['lvcreate']);
    expect(volumeId).not.toBe('');
    expect(await commandsOf(() => call(controller, 'CreateVolume', req))).toEqual([]);
  });

  it('CreateSnapshot: one lvcreate; again: nothing', async () => {
    const req = { name: 'snap-1', source_volume_id: volumeId, parameters: {} };
    expect(
      await commandsOf(async () => {
        snapshotId = (await call(controller, 'CreateSnapshot', req)).snapshot?.snapshot_id ?? '';
      }),
    ).toEqual(['lvcreate']);
    expect(await commandsOf(() => call(controller, 'CreateSnapshot', req))).toEqual([]);
  });

  it('CreateVolume from a thin snapshot: one lvcreate at its size; larger: lvcreate, lvextend and the completion mark', async () => {
    const req = {
      name: 'pvc-restore',
      capacity_range: { required_bytes: String(64 * MiB) },
      volume_capabilities: [cap],
      parameters: { lvmType: 'thin' },
      volume_content_source: { snapshot: { snapshot_id: snapshotId } },
    };
    expect(await commandsOf(() => call(controller, 'CreateVolume', req))).toEqual(['lvcreate']);
    const larger = { ...req, name: 'pvc-restore-larger', capacity_range: { required_bytes: String(96 * MiB) } };
    expect(await commandsOf(() => call(controller, 'CreateVolume', larger))).toEqual([
      'lvcreate',
      'lvextend',
      'lvchange',
    ]);
  });

  it('ControllerExpandVolume: one lvextend; to the same size again: nothing', async () => {
    const req = { volume_id: volumeId, capacity_range: { required_bytes: String(128 * MiB) } };
    expect(await commandsOf(() => call(controller, 'ControllerExpandVolume', req))).toEqual(['lvextend']);
    expect(await commandsOf(() => call(controller, 'ControllerExpandVolume', req))).toEqual([]);
  });

  // (Probe's readiness checks read the VG from memory too: see the agent-mode test in metrics.test.ts.)
  it('reads run no command: ListVolumes, ControllerGetVolume, ListSnapshots, GetCapacity', async () => {
    expect(
      await commandsOf(async () => {
        await call(controller, 'ListVolumes', {});
        await call(controller, 'ControllerGetVolume', { volume_id: volumeId });
        await call(controller, 'ListSnapshots', {});
        await call(controller, 'GetCapacity', { parameters: { lvmType: 'thin' } });
      }),
    ).toEqual([]);
  });

  it('DeleteSnapshot: one lvremove; DeleteVolume: one lvremove; again: nothing', async () => {
    expect(await commandsOf(() => call(controller, 'DeleteSnapshot', { snapshot_id: snapshotId }))).toEqual([
      'lvremove',
    ]);
    expect(await commandsOf(() => call(controller, 'DeleteVolume', { volume_id: volumeId }))).toEqual(['lvremove']);
    expect(await commandsOf(() => call(controller, 'DeleteVolume', { volume_id: volumeId }))).toEqual([]);
  });
});

describe('commands per CSI call (thick linear volumes)', () => {
  it('CreateVolume: one lvcreate; DeleteVolume with volumeClear none: the VG marked once (its LV proven closed first: lvs; vgchange) and one lvremove', async () => {
    const req = (name: string) => ({
      name,
      capacity_range: { required_bytes: String(32 * MiB) },
      volume_capabilities: [cap],
      parameters: { lvmType: 'thick', volumeClear: 'none' },
    });
    let a = '';
    let b = '';
    expect(
      await commandsOf(async () => {
        a = (await call(controller, 'CreateVolume', req('thick-a'))).volume?.volume_id ?? '';
      }),
    ).toEqual(['lvcreate']);
    b = (await call(controller, 'CreateVolume', req('thick-b'))).volume?.volume_id ?? '';
    // lvs: the open flag read now, so an LV open on the storage node is refused before the VG is marked
    expect(await commandsOf(() => call(controller, 'DeleteVolume', { volume_id: a }))).toEqual([
      'lvs',
      'vgchange',
      'lvremove',
    ]);
    expect(await commandsOf(() => call(controller, 'DeleteVolume', { volume_id: b }))).toEqual(['lvremove']);
  });
});

describe('ListVolumes at a larger count', () => {
  it('reads the thin pool status once per page, not once per volume (30 volumes: the VG is read a few times, not 90)', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const req = {
        name: `pvc-list-${i}`,
        capacity_range: { required_bytes: String(64 * MiB) },
        volume_capabilities: [cap],
        parameters: { lvmType: 'thin' },
      };
      ids.push((await call(controller, 'CreateVolume', req)).volume?.volume_id ?? '');
    }
    const from = stampReads;
    const listed = await call(controller, 'ListVolumes', {});
    expect(listed.entries?.length).toBeGreaterThanOrEqual(30);
    expect(listed.entries?.every((e) => e.status?.volume_condition?.abnormal === false)).toBe(true);
    expect(stampReads - from).toBeLessThan(10);
    for (const id of ids) await call(controller, 'DeleteVolume', { volume_id: id });
  });
});

describe('where the LVM settings come from', () => {
  it('one lvmconfig writes them to a directory at the first LVM command; no later command carries --config, every lvm command runs with that LVM_SYSTEM_DIR', () => {
    const programs = runner.calls.map((c) => c[0]);
    expect(programs[0]).toBe('lvmconfig');
    expect(programs.filter((p) => p === 'lvmconfig')).toHaveLength(1);
    // lvmconfig itself reads the host's directory
    expect(runner.systemDirs[0]).toBe('/etc/lvm');
    expect(runner.calls.slice(1).filter((c) => c.includes('--config'))).toEqual([]);
    const lvm = new Set(['pvs', 'vgs', 'lvs', 'lvcreate', 'lvremove', 'lvextend', 'lvchange', 'vgchange']);
    const dirs = new Set(runner.systemDirs.filter((_, i) => lvm.has(runner.calls[i]?.[0] ?? '')));
    expect(dirs.size).toBe(1);
    expect([...dirs][0]).toMatch(/csi-lvm-iscsi-lvm-/);
  });
});
