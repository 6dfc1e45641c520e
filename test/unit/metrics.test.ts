import { credentials, status as Status } from '@grpc/grpc-js';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { startPlugin, type RunningPlugin } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { FakeRunner } from '../doubles/fake-runner.js';
import type { CommandRunner, RunOptions, RunResult } from '../../src/exec/runner.js';
import { createLogger } from '../../src/log.js';
import { LV_FIELDS, PV_FIELDS, VG_FIELDS } from '../../src/lvm/report.js';
import { lvmConfigArgs, lvmSettings } from '../../src/lvm/settings.js';
import { Metrics, readinessProbe, serveMetrics, type ReadyAnswer } from '../../src/metrics.js';
import { Readiness } from '../../src/readiness.js';
import { loadCsi } from '../../src/server/proto.js';
import { call, waitFor } from '../helpers/grpc.js';

const quiet = () => createLogger('fatal', new Writable({ write: (_c, _e, cb) => cb() }));

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

const servers: Server[] = [];
const plugins: RunningPlugin[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise<void>((r) => s.close(() => r()));
  for (const p of plugins.splice(0)) await p.stop(100);
});

async function serve(metrics: Metrics, ready: () => ReadyAnswer | Promise<ReadyAnswer>): Promise<number> {
  const s = await serveMetrics(metrics, { host: '127.0.0.1', port: 0 }, { ready });
  servers.push(s);
  return (s.address() as AddressInfo).port;
}

describe('metrics HTTP server', () => {
  it('/healthz is 200 whatever readiness says; /readyz follows it with the reason; unknown paths 404', async () => {
    let answer: ReadyAnswer = { ok: false, reason: 'initializing' };
    const port = await serve(new Metrics(), () => answer);
    expect(await get(port, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
    expect(await get(port, '/readyz')).toEqual({ status: 503, body: 'not ready: initializing\n' });
    answer = { ok: true };
    expect(await get(port, '/readyz')).toEqual({ status: 200, body: 'ready\n' });
    expect((await get(port, '/healthz')).status).toBe(200);
    expect((await get(port, '/nope')).status).toBe(404);
  });

  it('/readyz is 503 when the readiness function throws', async () => {
    const port = await serve(new Metrics(), () => Promise.reject(new Error('vgs hung')));
    expect(await get(port, '/readyz')).toEqual({ status: 503, body: 'not ready: vgs hung\n' });
  });

  it('/metrics: the RPC histogram _count is the call count by method and code; command latency and failures; jobs by kind', async () => {
    const m = new Metrics();
    m.rpcDuration.observe({ method: 'Controller/CreateVolume', code: 'OK' }, 0.2);
    m.rpcDuration.observe({ method: 'Controller/CreateVolume', code: 'OK' }, 0.3);
    m.rpcDuration.observe({ method: 'Controller/CreateVolume', code: 'ABORTED' }, 0.01);
    const obs = m.commandObserver();
    obs.onFinish({ argv: ['/sbin/lvcreate', '--secret-looking-arg'], durationMs: 800, exitCode: 0, ok: true });
    obs.onFinish({ argv: ['lvcreate'], durationMs: 100, exitCode: 5, ok: false });
    m.watchJobs({ list: () => [{ kind: 'copy' }, { kind: 'copy' }] });
    const port = await serve(m, () => ({ ok: true }));
    const { status, body } = await get(port, '/metrics');
    expect(status).toBe(200);
    expect(body).toContain('csi_lvm_iscsi_rpc_duration_seconds_count{method="Controller/CreateVolume",code="OK"} 2');
    expect(body).toContain(
      'csi_lvm_iscsi_rpc_duration_seconds_count{method="Controller/CreateVolume",code="ABORTED"} 1',
    );
    expect(body).toContain('csi_lvm_iscsi_command_duration_seconds_count{command="lvcreate"} 2');
    expect(body).toContain('csi_lvm_iscsi_command_failures_total{command="lvcreate"} 1');
    expect(body).not.toContain('secret-looking-arg');
    expect(body).toContain('csi_lvm_iscsi_jobs_running{kind="copy"} 2');
    expect(body).toContain('csi_lvm_iscsi_jobs_running{kind="zero"} 0');
    expect(body).toContain('csi_lvm_iscsi_process_resident_memory_bytes');
  });
});

describe('readinessProbe (/readyz over Readiness)', () => {
  it('503 while initializing and after a failed start; once ready, the checks decide, cached briefly', async () => {
    const r = new Readiness();
    let checks = 0;
    let vgThere = true;
    r.addCheck(async () => {
      checks++;
      if (!vgThere) throw new Error('volume group vg0 is gone');
    });
    let now = 0;
    const probe = readinessProbe(r, 5_000, () => now);
    expect(await probe()).toEqual({ ok: false, reason: 'initializing' });
    expect(checks).toBe(0);
    r.ready();
    expect(await probe()).toEqual({ ok: true });
    expect(await probe()).toEqual({ ok: true });
    expect(checks).toBe(1); // reused within 5 s
    vgThere = false;
    now = 5_000;
    expect(await probe()).toEqual({ ok: false, reason: 'volume group vg0 is gone' });
    vgThere = true;
    now = 10_000;
    expect(await probe()).toEqual({ ok: true });
    r.fail('iscsid is not running');
    expect(await probe()).toEqual({ ok: false, reason: 'iscsid is not running' });
  });

  it('concurrent probes share one run of the checks', async () => {
    const r = new Readiness();
    let checks = 0;
    let release!: () => void;
    r.addCheck(() => {
      checks++;
      return new Promise<void>((res) => (release = res));
    });
    r.ready();
    const probe = readinessProbe(r);
    const all = Promise.all([probe(), probe(), probe()]);
    release();
    expect(await all).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(checks).toBe(1);
  });
});

/** An agent without the agent API (no --agent-listen): loaded as `all`, run as `agent` (no node service, no iscsid check). */
function agentConfig(): Config {
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
      '--metrics-address',
      '127.0.0.1:0',
      '--portals',
      '127.0.0.1:3260',
      // the scripted commands carry --config (no lvmconfig to write a configuration directory with)
      '--lvm-config-dir',
      'none',
    ],
    env: {},
  });
  if (r.help) throw new Error('help');
  return { ...r.config, mode: 'agent', reconcileIntervalSeconds: 0 };
}

/** Holds every command until open() is called: initialization in slow motion. */
class GatedRunner implements CommandRunner {
  private opened!: () => void;
  private readonly gate = new Promise<void>((r) => (this.opened = r));
  constructor(readonly inner: FakeRunner) {}
  open(): void {
    this.opened();
  }
  async run(argv: readonly string[], o?: RunOptions): Promise<RunResult> {
    await this.gate;
    return this.inner.run(argv, o);
  }
}

describe('the plugin in agent mode with --metrics-address (in-process, scripted LVM)', () => {
  it('/readyz is 503 until initialization is done, then 200; /healthz is 200 all along; a scrape runs no command', async () => {
    const config = agentConfig();
    const cfg = lvmConfigArgs(lvmSettings());
    const REPORT = ['--reportformat', 'json', '--units', 'b', '--nosuffix'];
    const VGS = ['vgs', ...cfg, ...REPORT, '-o', VG_FIELDS.join(',')];
    const LVS = ['lvs', ...cfg, ...REPORT, '-o', LV_FIELDS.join(',')];
    const PVS = ['pvs', ...cfg, ...REPORT, '-o', PV_FIELDS.join(',')];
    const vgs = JSON.stringify({
      report: [
        {
          vg: [
            {
              vg_name: 'vg0',
              vg_uuid: 'u',
              vg_attr: 'wz--n-',
              vg_size: '1073741824',
              vg_free: '1073741824',
              vg_extent_size: '4194304',
              vg_extent_count: '256',
              vg_free_count: '256',
              pv_count: '1',
              lv_count: '0',
              snap_count: '0',
              vg_tags: '',
              vg_mda_size: '1044480',
              vg_mda_free: '514560',
              vg_mda_count: '1',
            },
          ],
        },
      ],
    });
    const lvs = JSON.stringify({ report: [{ lv: [] }] });
    const pvs = JSON.stringify({
      report: [
        {
          pv: [
            {
              pv_name: '/dev/vdb',
              pv_uuid: 'p',
              vg_name: 'vg0',
              pv_size: '1073741824',
              pv_free: '1073741824',
              dev_size: '1073741824',
            },
          ],
        },
      ],
    });
    // The agent reads its VG once (its PVs for the metadata stamp, then one vgs and one lvs); setup, recovery,
    // the export reconcile, the first inventory refresh and the readiness check all use that copy while the
    // stamp does not move.
    const fake = new FakeRunner()
      .expect([...PVS], { stdout: pvs })
      .expect([...VGS, 'vg0'], { stdout: vgs })
      .expect([...LVS, 'vg0'], { stdout: lvs });
    const runner = new GatedRunner(fake);
    const p = await startPlugin(config, {
      log: quiet(),
      runner,
      stamps: async () => 'stamp-1',
      dmNames: async () => undefined,
    });
    plugins.push(p);
    const port = p.metricsPort ?? 0;

    expect(await get(port, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
    expect(await get(port, '/readyz')).toEqual({ status: 503, body: 'not ready: initializing\n' });
    runner.open();
    await p.initialized;
    expect(p.readiness.get()).toEqual({ state: 'ready' });
    expect(await get(port, '/readyz')).toEqual({ status: 200, body: 'ready\n' });
    const calls = fake.calls.length;
    const { body } = await get(port, '/metrics');
    await get(port, '/metrics');
    expect(fake.calls.length).toBe(calls);
    fake.assertDone();
    expect(body).toContain('csi_lvm_iscsi_volume_group_size_bytes{vg="vg0"} 1073741824');
    expect(body).toContain('csi_lvm_iscsi_volumes{vg="vg0"} 0');
    expect(body).toContain('csi_lvm_iscsi_exported_targets 0');
    expect(body).toContain('csi_lvm_iscsi_inventory_refreshes_total{result="ok"} 1');
    expect((await get(port, '/healthz')).status).toBe(200);
  });

  it('a failed start is retried with backoff: /readyz 503 and Probe FAILED_PRECONDITION with the reason meanwhile, /healthz 200, then ready', async () => {
    const config = agentConfig();
    const cfg = lvmConfigArgs(lvmSettings());
    const REPORT = ['--reportformat', 'json', '--units', 'b', '--nosuffix'];
    const PVS = ['pvs', ...cfg, ...REPORT, '-o', PV_FIELDS.join(',')];
    const VGS = ['vgs', ...cfg, ...REPORT, '-o', VG_FIELDS.join(','), 'vg0'];
    const LVS = ['lvs', ...cfg, ...REPORT, '-o', LV_FIELDS.join(','), 'vg0'];
    const notFound = { exitCode: 5, stderr: '  Volume group "vg0" not found\n  Cannot process volume group vg0\n' };
    const vgs = JSON.stringify({
      report: [
        {
          vg: [
            {
              vg_name: 'vg0',
              vg_uuid: 'u',
              vg_attr: 'wz--n-',
              vg_size: '1073741824',
              vg_free: '1073741824',
              vg_extent_size: '4194304',
              vg_extent_count: '256',
              vg_free_count: '256',
              pv_count: '1',
              lv_count: '0',
              snap_count: '0',
              vg_tags: '',
              vg_mda_size: '1044480',
              vg_mda_free: '514560',
              vg_mda_count: '1',
            },
          ],
        },
      ],
    });
    const pvs = JSON.stringify({
      report: [
        {
          pv: [
            {
              pv_name: '/dev/vdb',
              pv_uuid: 'p',
              vg_name: 'vg0',
              pv_size: '1073741824',
              pv_free: '1073741824',
              dev_size: '1073741824',
            },
          ],
        },
      ],
    });
    // the first attempt finds no vg0; the second (after the backoff) does
    const fake = new FakeRunner()
      .expect(PVS, { stdout: JSON.stringify({ report: [{ pv: [] }] }) })
      .expect(VGS, notFound)
      .expect(PVS, { stdout: pvs })
      .expect(VGS, { stdout: vgs })
      .expect(LVS, { stdout: JSON.stringify({ report: [{ lv: [] }] }) });
    const stamped: { stamp?: string } = {}; // the metadata stamp appears after the first attempt
    const p = await startPlugin(config, {
      log: quiet(),
      runner: fake,
      stamps: async () => stamped.stamp,
      dmNames: async () => undefined,
      startRetry: { initialMs: 300, maxMs: 300 },
    });
    plugins.push(p);
    const port = p.metricsPort ?? 0;
    await p.initialized; // the first attempt
    stamped.stamp = 'stamp-1';
    const r = await get(port, '/readyz');
    expect(r.status).toBe(503);
    expect(r.body).toMatch(/^not ready: start failed, retrying: volume group vg0 does not exist/);
    expect(p.readiness.get()).toMatchObject({ state: 'initializing' });
    const identity = new (loadCsi().csi.v1.Identity)(p.address.replace(/^tcp:\/\//, ''), credentials.createInsecure());
    // CSI's "Plugin not healthy", saying why (the conformance table of test/vm/conformance.test.ts)
    expect(await call(identity, 'Probe', {}).catch((e: unknown) => e)).toMatchObject({
      code: Status.FAILED_PRECONDITION,
      details: expect.stringMatching(/^start failed, retrying: volume group vg0 does not exist/) as unknown,
    });
    expect((await get(port, '/healthz')).status).toBe(200);
    await waitFor(
      () => p.readiness.isReady(),
      10_000,
      () => JSON.stringify(p.readiness.get()),
    );
    expect(await get(port, '/readyz')).toEqual({ status: 200, body: 'ready\n' });
    expect((await call(identity, 'Probe', {})).ready?.value).toBe(true);
    identity.close();
    fake.assertDone();
  });

  it('stop() ends the retries of a start that keeps failing', async () => {
    const config = agentConfig();
    const cfg = lvmConfigArgs(lvmSettings());
    const REPORT = ['--reportformat', 'json', '--units', 'b', '--nosuffix'];
    const fake = new FakeRunner()
      .expect(['pvs', ...cfg, ...REPORT, '-o', PV_FIELDS.join(',')], {
        stdout: JSON.stringify({ report: [{ pv: [] }] }),
      })
      .expect(['vgs', ...cfg, ...REPORT, '-o', VG_FIELDS.join(','), 'vg0'], {
        exitCode: 5,
        stderr: '  Volume group "vg0" not found\n',
      });
    const p = await startPlugin(config, {
      log: quiet(),
      runner: fake,
      stamps: async () => undefined,
      dmNames: async () => undefined,
      startRetry: { initialMs: 200, maxMs: 200 },
    });
    await p.initialized;
    await p.stop(100);
    await new Promise((r) => setTimeout(r, 500));
    fake.assertDone(); // no second attempt ran after stop (FakeRunner would have failed on an unexpected command)
    expect(fake.calls.length).toBe(2);
  });
});
