import { status as Code } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import {
  AlreadyExists,
  Busy,
  CommandFailed,
  FailedPrecondition,
  InvalidArgument,
  NotFound,
  OutOfCapacity,
  OutOfRange,
  Unimplemented,
} from '../../../src/errors.js';
import { toStatus } from '../../../src/server/status.js';

describe('toStatus', () => {
  it.each([
    [new InvalidArgument('name', 'required'), Code.INVALID_ARGUMENT],
    [new NotFound('x'), Code.NOT_FOUND],
    [new AlreadyExists('x'), Code.ALREADY_EXISTS],
    [new OutOfCapacity('x'), Code.RESOURCE_EXHAUSTED],
    [new OutOfRange('x'), Code.OUT_OF_RANGE],
    [new FailedPrecondition('x'), Code.FAILED_PRECONDITION],
    [new Busy('x'), Code.ABORTED],
    [new Unimplemented('x'), Code.UNIMPLEMENTED],
    [new CommandFailed({ argv: ['lvs'], exitCode: 5, stderr: 'boom' }), Code.INTERNAL],
    [new CommandFailed({ argv: ['lvs'], exitCode: undefined, stderr: '', timedOut: true }), Code.DEADLINE_EXCEEDED],
    [new CommandFailed({ argv: ['lvs'], exitCode: undefined, stderr: '', cancelled: true }), Code.CANCELLED],
    [new Error('plain'), Code.INTERNAL],
  ])('%s -> %i', (err, code) => {
    expect(toStatus(err).code).toBe(code);
  });

  it('names the field of an invalid argument', () => {
    expect(toStatus(new InvalidArgument('capacity_range.required_bytes', 'must not be negative')).details).toBe(
      'capacity_range.required_bytes: must not be negative',
    );
  });

  it('describes a failed command by program, exit code and stderr tail', () => {
    const d = toStatus(
      new CommandFailed({
        argv: ['/sbin/lvcreate', '-n', 'x'],
        exitCode: 5,
        stderr: 'line1\n  Volume group "vg" not found\n',
      }),
    ).details;
    expect(d).toBe('/sbin/lvcreate exited 5: line1 |   Volume group "vg" not found');
  });
});

describe('statusMetadata with a field name from a request map key', () => {
  it('any Unicode key travels (percent-encoded) and comes back as the same InvalidArgument field; grpc-js would throw on it raw', async () => {
    const { Metadata, status } = await import('@grpc/grpc-js');
    const { InvalidArgument: IA } = await import('../../../src/errors.js');
    const { fromStatus: from, statusMetadata: md, toStatus: to } = await import('../../../src/server/status.js');
    const field = 'parameters.\u{91bf3}ä\n;x';
    expect(() => new Metadata().set('x', field)).toThrow(/illegal characters/);
    const st = to(new IA(field, 'is not a known parameter'));
    const m = md(st);
    const back = from(
      { code: status.INVALID_ARGUMENT, details: st.details, metadata: m, message: st.details, name: 'Error' },
      'agent s1',
    );
    expect(back).toBeInstanceOf(IA);
    expect((back as InstanceType<typeof IA>).field).toBe(field);
  });
});
