import { describe, expect, it } from 'vitest';
import { capture } from '../helpers/capture.js';
import { createLogger, redactRequest } from '../../src/log.js';

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
});
