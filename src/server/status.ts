/**
 * The one place where errors become gRPC status codes.
 */
import { status as Code } from '@grpc/grpc-js';
import { CommandFailed, DomainError, type DomainErrorKind } from '../errors.js';

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
}

export function toStatus(err: unknown): MappedStatus {
  if (err instanceof CommandFailed) {
    if (err.cancelled) return { code: Code.CANCELLED, details: err.message };
    if (err.timedOut) return { code: Code.DEADLINE_EXCEEDED, details: err.message };
    return { code: Code.INTERNAL, details: err.message };
  }
  if (err instanceof DomainError) return { code: BY_KIND[err.kind], details: err.message };
  if (err instanceof Error && err.name === 'AbortError') return { code: Code.CANCELLED, details: 'call cancelled' };
  const message = err instanceof Error ? err.message : String(err);
  return { code: Code.INTERNAL, details: `internal error: ${message}` };
}

export function codeName(code: Code): string {
  return Code[code] ?? String(code);
}
