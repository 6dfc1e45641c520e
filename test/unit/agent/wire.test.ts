/** src/agent/wire.ts: a bad enum or number in a caller's request names its field; in an agent's answer it is the agent's fault. */
import { describe, expect, it } from 'vitest';
import { num, paramsFromWire, sourceFromWire } from '../../../src/agent/wire.js';
import { Internal, InvalidArgument } from '../../../src/errors.js';

const params = (p: Record<string, unknown>) => ({
  lvm_type: 'thin',
  volume_group: 'vg',
  mirrors: 0,
  stripes: 1,
  stripe_size_kib: 0,
  volume_clear: 'none',
  fs_type: '',
  local_attach: false,
  ...p,
});

const thrown = (f: () => unknown): unknown => {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
};

describe('wire decoding by sender', () => {
  it.each([
    ['params.lvm_type', () => paramsFromWire(params({ lvm_type: 'fat' }), 'caller')],
    ['params.volume_clear', () => paramsFromWire(params({ volume_clear: 'shred' }), 'caller')],
    ['params', () => paramsFromWire(null, 'caller')],
    ['source.kind', () => sourceFromWire({ kind: 'backup', id: 'x' }, 'caller')],
    ['required_bytes', () => num('1e300', 'caller', 'required_bytes')],
  ])('a caller: InvalidArgument naming %s', (field, f) => {
    const e = thrown(f);
    expect(e).toBeInstanceOf(InvalidArgument);
    expect((e as InvalidArgument).field).toBe(field);
  });

  it('an agent answer with a value this controller does not know: Internal (the caller did nothing wrong)', () => {
    const e = thrown(() => paramsFromWire(params({ lvm_type: 'fat' })));
    expect(e).toBeInstanceOf(Internal);
    expect((e as Error).message).toMatch(/agent sent lvm_type "fat"/);
    expect(thrown(() => num('1e300'))).toBeInstanceOf(Internal);
  });
});
