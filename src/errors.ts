/**
 * Domain errors. Every layer below src/server throws these (or plain Errors,
 * which become INTERNAL). They are mapped to gRPC status codes in exactly one
 * place: src/server/status.ts.
 */

export type DomainErrorKind =
  | 'InvalidArgument'
  | 'NotFound'
  | 'AlreadyExists'
  | 'OutOfCapacity'
  | 'OutOfRange'
  | 'FailedPrecondition'
  | 'Busy'
  | 'Aborted'
  | 'Unimplemented'
  | 'Unavailable'
  | 'CommandFailed'
  | 'Internal';

export class DomainError extends Error {
  readonly kind: DomainErrorKind;
  constructor(kind: DomainErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
    this.name = kind;
  }
}

export class InvalidArgument extends DomainError {
  /** The request field (dotted path) that is wrong, e.g. "capacity_range.required_bytes". */
  readonly field: string;
  constructor(field: string, message: string) {
    super('InvalidArgument', `${field}: ${message}`);
    this.field = field;
  }
}

export class NotFound extends DomainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NotFound', message, options);
  }
}

export class AlreadyExists extends DomainError {
  constructor(message: string) {
    super('AlreadyExists', message);
  }
}

export class OutOfCapacity extends DomainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('OutOfCapacity', message, options);
  }
}

export class OutOfRange extends DomainError {
  constructor(message: string) {
    super('OutOfRange', message);
  }
}

export class FailedPrecondition extends DomainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('FailedPrecondition', message, options);
  }
}

/** Another operation holds the key (volume id, name) right now; the caller should retry. */
export class Busy extends DomainError {
  constructor(message: string) {
    super('Busy', message);
  }
}

/**
 * LVM refused because the LV's device is open (mounted, held by a process or
 * by another device): Busy for any caller, except where a delete turns it into
 * FailedPrecondition naming the volume.
 */
export class InUse extends Busy {}

export class Aborted extends DomainError {
  constructor(message: string) {
    super('Aborted', message);
  }
}

export class Unimplemented extends DomainError {
  constructor(message: string) {
    super('Unimplemented', message);
  }
}

export class Unavailable extends DomainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('Unavailable', message, options);
  }
}

/** Something that should not happen: a broken invariant, a peer that sent nonsense. */
export class Internal extends DomainError {
  constructor(message: string) {
    super('Internal', message);
  }
}

/** A child process exited non-zero (or was killed, or timed out). */
export class CommandFailed extends DomainError {
  readonly argv: readonly string[];
  readonly exitCode: number | undefined;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly cancelled: boolean;
  constructor(init: {
    argv: readonly string[];
    exitCode: number | undefined;
    stderr: string;
    timedOut?: boolean;
    cancelled?: boolean;
    cause?: unknown;
  }) {
    const why = init.timedOut
      ? 'timed out'
      : init.cancelled
        ? 'was cancelled'
        : init.exitCode === undefined
          ? 'could not be run'
          : `exited ${init.exitCode}`;
    const tail = init.stderr.trim().split('\n').slice(-3).join(' | ');
    super('CommandFailed', `${init.argv[0] ?? '?'} ${why}${tail ? `: ${tail}` : ''}`, { cause: init.cause });
    this.argv = init.argv;
    this.exitCode = init.exitCode;
    this.stderr = init.stderr;
    this.timedOut = init.timedOut ?? false;
    this.cancelled = init.cancelled ?? false;
  }
}
