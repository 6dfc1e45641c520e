/**
 * pino logger construction. Secrets never reach a log line: request objects are
 * passed through redactRequest() by the adapter, and the logger's formatters
 * (censorSecrets) censor any field named like a secret that slips through anyway,
 * in log objects and in a child logger's bindings alike.
 */
import {
  pino,
  destination as pinoDestination,
  stdTimeFunctions,
  type ChildLoggerOptions,
  type DestinationStream,
  type Logger,
} from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

/**
 * Field names whose values never reach a log line, at any of the first three
 * levels of a log object. CHAP user names count as secret values too: they
 * come from the same Secret (a per-volume user name starts with chapUser).
 */
const SECRET_FIELDS = [
  'secrets',
  'password',
  'chapPassword',
  'mutualPassword',
  'chapSecret',
  'mutualSecret',
  'password_in',
  'passwordIn',
  'chapUser',
  'mutualUser',
  'userid',
  'mutualUserid',
  'chapUserid',
  'mutualChapUserid',
  'token',
  'privateKey',
];

const CENSOR = '[REDACTED]';

/**
 * What a redacted field shows: a map (a request's `secrets`) becomes the list
 * of its key names, so the log still tells which keys were sent; a list that
 * redactRequest() made already stays; anything else becomes [REDACTED].
 */
function censor(value: unknown): unknown {
  if (Array.isArray(value) && value.every((v) => typeof v === 'string' && v.endsWith(`=${CENSOR}`))) return value;
  if (value && typeof value === 'object' && !Array.isArray(value) && !Buffer.isBuffer(value))
    return Object.keys(value).map((k) => `${k}=${CENSOR}`);
  return CENSOR;
}

const SECRET_NAMES: ReadonlySet<string> = new Set(SECRET_FIELDS);

/**
 * A log object with every field named like a secret censored at its first three levels (the
 * field, `*.field`, `*.*.field`): the object itself when nothing is, else copies of the levels
 * above each censored field (the caller's object is never changed). An Error stays as it is, for
 * pino's err serializer. Used instead of pino's `redact` option, which parses its 48 paths again
 * for every child logger and log line (@pinojs/redact 0.4): about 10 ms per call in the guest.
 */
export function censorSecrets<T>(value: T, depth = 0): T {
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value) || value instanceof Error) return value;
  let copy: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(value) as Array<[string, unknown]>) {
    const next = SECRET_NAMES.has(k) ? censor(v) : depth < 2 ? censorSecrets(v, depth + 1) : v;
    if (next === v) continue;
    copy ??= (Array.isArray(value) ? [...(value as unknown[])] : { ...value }) as Record<string, unknown>;
    copy[k] = next;
  }
  return (copy ?? value) as T;
}

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const root = pino(
    {
      level,
      base: { component: 'csi-lvm-iscsi' },
      timestamp: stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        bindings: (bindings) => censorSecrets(bindings),
        log: (object) => censorSecrets(object),
      },
    },
    destination ?? pinoDestination({ fd: 2, sync: true }),
  );
  // pino does not run the bindings formatter on a child's bindings unless the child is given one:
  // every child (and its children, which inherit this method) gets censorSecrets
  // eslint-disable-next-line @typescript-eslint/unbound-method -- unbound on purpose: called on the logger that makes the child
  const child = root.child as unknown as ChildFn;
  const withCensor: ChildFn = function (this: Logger, bindings, options) {
    return child.call(this, bindings, { ...options, formatters: { ...options?.formatters, bindings: censorSecrets } });
  };
  root.child = withCensor as unknown as Logger['child'];
  return root;
}

type ChildFn = (this: Logger, bindings: Record<string, unknown>, options?: ChildLoggerOptions) => Logger;

/**
 * A copy of a gRPC request fit for a log line: every map field called
 * `secrets` is replaced by its key names only.
 */
export function redactRequest(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Buffer.isBuffer(value)) return `<${value.length} bytes>`;
  if (Array.isArray(value)) return value.map((v) => redactRequest(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (k === 'secrets' || /password|secret/i.test(k)) {
      out[k] = v && typeof v === 'object' ? Object.keys(v).map((key) => `${key}=[REDACTED]`) : '[REDACTED]';
    } else {
      out[k] = redactRequest(v, depth + 1);
    }
  }
  return out;
}
