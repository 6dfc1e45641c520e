/**
 * A request carrying CHAP secrets goes through the one RPC adapter with a
 * pino logger at trace level writing to a captured stream: every line is
 * JSON with the method and the call's request id, and no secret value
 * appears in any line, whether the adapter logs the request, the handler logs
 * it carelessly, or the call fails.
 */
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import type { ServerUnaryCall } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { chapFromSecrets } from '../../src/agent/chap.js';
import { InvalidArgument } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import { unary, type RpcSpec } from '../../src/server/adapter.js';
import { KeyLocks } from '../../src/server/locks.js';

const SECRETS = {
  chapUser: 'tenant-user-7f3a',
  chapSecret: 'initiator-key-0123456789abcdef',
  mutualUser: 'target-user-91c2',
  mutualSecret: 'target-key-fedcba9876543210',
};
const VOLUME = 'abcdefgh/vg0/vol-x';
const derived = chapFromSecrets(SECRETS, VOLUME, 'secrets');
/** Every value that must never be logged: the Secret's values and the per-volume credentials derived from them. */
const FORBIDDEN = [...Object.values(SECRETS), derived?.password, derived?.mutualPassword].filter((x): x is string =>
  Boolean(x),
);

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  return { lines, log: createLogger('trace', stream) };
}

interface Req {
  volume_id: string;
  node_id: string;
  secrets: Record<string, string>;
  volume_context: Record<string, string>;
}

function fakeCall(request: Req): ServerUnaryCall<Req, unknown> {
  return Object.assign(new EventEmitter(), { request }) as unknown as ServerUnaryCall<Req, unknown>;
}

function invoke(
  spec: RpcSpec<Req, object>,
  deps: Parameters<typeof unary>[2],
  request: Req,
): Promise<{ err: unknown; res: unknown }> {
  const handler = unary('Controller/ControllerPublishVolume', spec, deps);
  return new Promise((resolve) => handler(fakeCall(request), (err, res) => resolve({ err, res })));
}

const request = (): Req => ({
  volume_id: VOLUME,
  node_id: 'worker-1:iqn.2024-01.test:w1',
  secrets: { ...SECRETS },
  volume_context: { fsType: 'ext4' },
});

describe('RPC adapter logs: request ids, and no secret in any line', () => {
  it('a successful call: request logged redacted, handler logging the raw request and credentials is censored', async () => {
    const { lines, log } = capture();
    const metrics = new Metrics();
    const { err } = await invoke(
      {
        lockKeys: (r) => [r.volume_id],
        handle: async (r, ctx) => {
          // what careless handler code might do
          ctx.log.info({ req: r }, 'publishing');
          ctx.log.info({ chap: chapFromSecrets(r.secrets, r.volume_id, 'secrets') }, 'credentials derived');
          ctx.log.debug({ secrets: r.secrets }, 'secrets at top level');
          return { publish_context: { attach: 'iscsi', targetIqn: 'iqn.2024-01.x:vg0:vol-x' } };
        },
      },
      { log, locks: new KeyLocks(), metrics },
      request(),
    );
    expect(err).toBeNull();
    expect(lines.length).toBeGreaterThanOrEqual(5);
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const ids = new Set(parsed.map((p) => p['request_id']));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toMatch(/^[0-9a-f]{12}$/);
    for (const p of parsed) {
      expect(p['method']).toBe('Controller/ControllerPublishVolume');
      expect(p['volume_id']).toBe(VOLUME);
    }
    // the key names stay visible, so an operator can see which keys were sent
    expect(lines.join('\n')).toContain('chapSecret=[REDACTED]');
    for (const line of lines)
      for (const s of FORBIDDEN) expect(line, `a log line holds a secret: ${line}`).not.toContain(s);
    const text = await metrics.registry.metrics();
    expect(text).toContain(
      'csi_lvm_iscsi_rpc_duration_seconds_count{method="Controller/ControllerPublishVolume",code="OK"} 1',
    );
  });

  it('a failing call logs the status with the request id, and still no secret', async () => {
    const { lines, log } = capture();
    const { err } = await invoke(
      {
        validate: (r) => {
          if (r.secrets['chapSecret']) throw new InvalidArgument('secrets.chapSecret', 'is not accepted here');
        },
        handle: async () => ({}),
      },
      { log, locks: new KeyLocks() },
      request(),
    );
    expect((err as { code: number }).code).toBe(3);
    const failed = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((p) => p['msg'] === 'failed');
    expect(failed).toMatchObject({ method: 'Controller/ControllerPublishVolume', code: 'INVALID_ARGUMENT' });
    expect(failed?.['request_id']).toMatch(/^[0-9a-f]{12}$/);
    for (const line of lines) for (const s of FORBIDDEN) expect(line).not.toContain(s);
  });

  it('each call gets its own request id', async () => {
    const { lines, log } = capture();
    const deps = { log, locks: new KeyLocks() };
    await invoke({ handle: async () => ({}) }, deps, request());
    await invoke({ handle: async () => ({}) }, deps, request());
    const ids = new Set(lines.map((l) => (JSON.parse(l) as Record<string, unknown>)['request_id']));
    expect(ids.size).toBe(2);
  });

  it('below debug the request and response are not copied for a log line (a listing of 1,000 volumes is large)', async () => {
    const reads = { request: 0, response: 0 };
    const counted = <T extends object>(o: T, key: keyof typeof reads): T =>
      new Proxy(o, {
        ownKeys: (t) => {
          reads[key]++;
          return Reflect.ownKeys(t);
        },
      });
    for (const level of ['info', 'debug'] as const) {
      reads.request = reads.response = 0;
      const lines: string[] = [];
      const log = createLogger(
        level,
        new Writable({
          write(chunk, _enc, cb) {
            lines.push(String(chunk));
            cb();
          },
        }),
      );
      const { res } = await invoke(
        { handle: async () => counted({ entries: [{ volume_id: 'v1' }] }, 'response') },
        { log, locks: new KeyLocks() },
        counted(request(), 'request'),
      );
      const seen = { ...reads };
      expect(res).toEqual({ entries: [{ volume_id: 'v1' }] });
      if (level === 'info') expect(seen).toEqual({ request: 0, response: 0 });
      else {
        expect(seen.request).toBeGreaterThan(0);
        expect(seen.response).toBeGreaterThan(0);
        expect(lines.join('')).toContain('"volume_id":"v1"');
      }
    }
  });
});
