/**
 * pino logger construction. Secrets never reach a log line: request objects are
 * passed through redactRequest() by the adapter, and pino's redact paths drop
 * any field named like a secret that slips through anyway.
 */
import { pino, destination as pinoDestination, stdTimeFunctions, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

export const REDACT_PATHS = [
  'secrets',
  '*.secrets',
  '*.*.secrets',
  'password',
  '*.password',
  '*.*.password',
  'chapPassword',
  '*.chapPassword',
  '*.*.chapPassword',
  'mutualPassword',
  '*.mutualPassword',
  '*.*.mutualPassword',
];

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { component: 'csi-lvm-iscsi' },
      timestamp: stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
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
      out[k] = v && typeof v === 'object' ? Object.keys(v as object).map((key) => `${key}=[REDACTED]`) : '[REDACTED]';
    } else {
      out[k] = redactRequest(v, depth + 1);
    }
  }
  return out;
}
