/** Every command the runner ran, on the debug log. */
import type { Logger } from '../log.js';
import type { RunObserver } from './runner.js';

/**
 * A RunObserver that logs every command at debug level when it ends: argv (with
 * the secrets the caller named already masked by the runner), duration and exit
 * code, so a slow or stuck call can be laid out command by command.
 */
export function commandLogger(log: Logger): RunObserver {
  const commands = log.child({ component: 'command' });
  return {
    onFinish: ({ argv, durationMs, exitCode, ok }) => {
      if (!commands.isLevelEnabled('debug')) return;
      commands.debug({ argv, duration_ms: Math.round(durationMs), exit_code: exitCode, ok }, 'command finished');
    },
  };
}
