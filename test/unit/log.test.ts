import { describe, expect, it } from 'vitest';
import { capture } from '../helpers/capture.js';
import { censorSecrets, createLogger, redactRequest } from '../../src/log.js';

describe('log redaction', () => {
  it('redactRequest keeps secret key names but never their values', () => {
    const req = { name: 'pvc-1', secrets: { 'node.session.auth.password': 'hunter2' }, nested: { chapPassword: 'p2' } };
    const out = JSON.stringify(redactRequest(req));
    expect(out).toContain('pvc-1');
    expect(out).toContain('node.session.auth.password');
    expect(out).not.toContain('hunter2');
    expect(out).not.toContain('p2');
  });

  it('the logger censors secret-looking fields even when not pre-redacted', () => {
    const { lines, stream } = capture();
    const log = createLogger('info', stream);
    log.info({ secrets: { password: 'hunter2' }, request: { secrets: { x: 'y2k' }, password: 'abc123' } }, 'msg');
    const text = lines.join('');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('y2k');
    expect(text).not.toContain('abc123');
    expect(text).toContain('[REDACTED]');
  });

  it("a child logger's bindings are censored too, and every line of the child", () => {
    const { lines, stream } = capture();
    const child = createLogger('info', stream).child({ method: 'm', chapUser: 'tenant-7f3a', ctx: { token: 't0k3n' } });
    child.info({ items: [{ mutualPassword: 'mp-991' }] }, 'one');
    child.child({ job: 'j', secrets: { k: 's3cr3t' } }).info('two');
    const text = lines.join('');
    for (const secret of ['tenant-7f3a', 't0k3n', 'mp-991', 's3cr3t']) expect(text).not.toContain(secret);
    expect(lines).toHaveLength(2);
    expect(lines.every((l) => l.includes('"method":"m"'))).toBe(true); // a grandchild keeps its parent's bindings
    expect(lines[1]).toContain('"job":"j"');
  });

  it('censorSecrets: the first three levels, the caller object unchanged, the same object when nothing is secret', () => {
    const input = { a: { b: { password: 'x1' } }, list: [{ chapSecret: 'x2' }], secrets: { k: 'x3' }, keep: 'v' };
    const out = censorSecrets(input);
    expect(out).toEqual({
      a: { b: { password: '[REDACTED]' } },
      list: [{ chapSecret: '[REDACTED]' }],
      secrets: ['k=[REDACTED]'],
      keep: 'v',
    });
    expect(input.a.b.password).toBe('x1'); // copies, not the caller's object
    const plain = { a: { b: { c: 1 } }, e: new Error('boom') };
    expect(censorSecrets(plain)).toBe(plain);
    // a fourth level is beyond reach (as pino's `*.*.name` paths were): the adapter's redactRequest covers requests
    expect(censorSecrets({ a: { b: { c: { password: 'deep' } } } })).toEqual({ a: { b: { c: { password: 'deep' } } } });
  });
});
