import { describe, expect, it } from 'vitest';
import { capture } from '../../helpers/capture.js';
import { commandLogger } from '../../../src/exec/command-log.js';
import { createLogger } from '../../../src/log.js';

describe('commandLogger', () => {
  const info = { argv: ['iscsiadm', '-v', '***'], durationMs: 12.4, exitCode: 0, ok: true };

  it('at debug, one line per command: argv as the runner gave it (secrets masked), duration, exit code', () => {
    const { lines, stream } = capture();
    commandLogger(createLogger('debug', stream)).onFinish(info);
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({
      level: 'debug',
      component: 'command',
      msg: 'command finished',
      argv: ['iscsiadm', '-v', '***'],
      duration_ms: 12,
      exit_code: 0,
      ok: true,
    });
  });

  it('at info, nothing', () => {
    const { lines, stream } = capture();
    commandLogger(createLogger('info', stream)).onFinish(info);
    expect(lines).toHaveLength(0);
  });
});
