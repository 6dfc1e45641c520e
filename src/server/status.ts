/**
 * The one place where errors become gRPC status codes.
 */
import { Metadata, status as Code, type ServiceError } from '@grpc/grpc-js';
import {
  Aborted,
  AlreadyExists,
  Busy,
  CommandFailed,
  DomainError,
  FailedPrecondition,
  Internal,
  InvalidArgument,
  NotFound,
  OutOfCapacity,
  OutOfRange,
  Unavailable,
  Unimplemented,
  type DomainErrorKind,
} from '../errors.js';

const BY_KIND: Record<DomainErrorKind, Code> = {
  InvalidArgument: Code.INVALID_ARGUMENT,
  NotFound: Code.NOT_FOUND,
  AlreadyExists: Code.ALREADY_EXISTS,
  OutOfCapacity: Code.RESOURCE_EXHAUSTED,
  OutOfRange: Code.OUT_OF_RANGE,
  FailedPrecondition: Code.FAILED_PRECONDITION,
  Busy: Code.ABORTED,
  Aborted: Code.ABORTED,
  Unimplemented: Code.UNIMPLEMENTED,
  Unavailable: Code.UNAVAILABLE,
  CommandFailed: Code.INTERNAL,
  Internal: Code.INTERNAL,
};

export interface MappedStatus {
  code: Code;
  details: string;
  /** The domain error's kind (and field), sent as trailing metadata so the agent client can rebuild the error. */
  kind?: DomainErrorKind;
  field?: string;
}

/** Trailing-metadata keys of an agent API error (the CSI sidecars ignore them). */
export const KIND_KEY = 'csi-lvm-iscsi-error-kind';
const FIELD_KEY = 'csi-lvm-iscsi-error-field';

export function toStatus(err: unknown): MappedStatus {
  if (err instanceof CommandFailed) {
    if (err.cancelled) return { code: Code.CANCELLED, details: err.message };
    if (err.timedOut) return { code: Code.DEADLINE_EXCEEDED, details: err.message };
    return { code: Code.INTERNAL, details: err.message };
  }
  if (err instanceof InvalidArgument)
    return { code: Code.INVALID_ARGUMENT, details: err.message, kind: err.kind, field: err.field };
  if (err instanceof DomainError) return { code: BY_KIND[err.kind], details: err.message, kind: err.kind };
  if (err instanceof Error && err.name === 'AbortError') return { code: Code.CANCELLED, details: 'call cancelled' };
  const message = err instanceof Error ? err.message : String(err);
  return { code: Code.INTERNAL, details: `internal error: ${message}` };
}

export function codeName(code: Code): string {
  return Code[code] ?? String(code);
}

/**
 * The trailers of an error answer. The field name may hold a request's map
 * key (parameters.<key>), which can be any Unicode: it travels
 * percent-encoded, since a metadata value with characters outside printable
 * ASCII makes grpc-js throw, which took the whole process down (found by
 * test/integration/fuzz.test.ts).
 */
export function statusMetadata(st: MappedStatus): Metadata {
  const md = new Metadata();
  if (st.kind) md.set(KIND_KEY, st.kind);
  if (st.field) md.set(FIELD_KEY, encodeURIComponent(st.field));
  return md;
}

function decodeField(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

const BY_CODE: Partial<Record<Code, (m: string) => DomainError>> = {
  [Code.NOT_FOUND]: (m) => new NotFound(m),
  [Code.ALREADY_EXISTS]: (m) => new AlreadyExists(m),
  [Code.RESOURCE_EXHAUSTED]: (m) => new OutOfCapacity(m),
  [Code.OUT_OF_RANGE]: (m) => new OutOfRange(m),
  [Code.FAILED_PRECONDITION]: (m) => new FailedPrecondition(m),
  [Code.ABORTED]: (m) => new Aborted(m),
  [Code.UNIMPLEMENTED]: (m) => new Unimplemented(m),
  [Code.UNAVAILABLE]: (m) => new Unavailable(m),
  [Code.DEADLINE_EXCEEDED]: (m) => new Unavailable(m),
  [Code.CANCELLED]: (m) => new Aborted(m),
};

/**
 * The reverse of toStatus for the agent client: a remote agent's status
 * becomes the domain error it was, so the controller handles it as if the
 * agent ran in-process. `where` names the agent in the message.
 */
export function fromStatus(e: ServiceError, where: string): DomainError {
  const msg = `${where}: ${e.details || e.message}`;
  const kind = e.metadata?.get(KIND_KEY)[0]?.toString() as DomainErrorKind | undefined;
  if (kind === 'InvalidArgument') {
    const field = decodeField(e.metadata?.get(FIELD_KEY)[0]?.toString()) ?? 'request';
    const prefix = `${field}: `;
    return new InvalidArgument(
      field,
      e.details.startsWith(prefix) ? `${e.details.slice(prefix.length)} (${where})` : msg,
    );
  }
  if (kind === 'Busy') return new Busy(msg);
  if (kind === 'Aborted') return new Aborted(msg);
  if (e.code === Code.INTERNAL || e.code === Code.UNKNOWN) return new Internal(msg);
  return (BY_CODE[e.code] ?? ((m: string) => new Unavailable(m)))(msg);
}
