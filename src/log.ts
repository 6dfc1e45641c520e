/**
 * pino logger construction. Secrets never reach a log line: request objects are
 * passed through redactRequest() by the adapter, and pino's redact paths drop
 * any field named like a secret that slips through anyway.
 */
import { pino, destination as pinoDestination, stdTimeFunctions, type DestinationStream, type Logger } from 'pino';
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

/** pino redact paths: each field name, then `*.name`, `*.*.name`. */
const REDACT_PATHS = SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]);

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { component: 'csi-lvm-iscsi' },
      timestamp: stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pinoDestination({ fd: 2, sync: true }),
  );
}

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
