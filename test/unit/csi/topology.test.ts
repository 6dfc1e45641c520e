import { describe, expect, it } from 'vitest';
import { OutOfCapacity } from '../../../src/errors.js';
import { checkRequisite, driverSegment, inSegment } from '../../../src/csi/topology.js';
import type { TopologyRequirement__Output } from '../../../src/gen/csi/v1/TopologyRequirement.js';

const ours = driverSegment('lvm-iscsi.csi.example.org');
const KEY = 'topology.lvm-iscsi.csi.example.org/attachable';

describe('the driver topology segment', () => {
  it('is one key under the driver name, a valid label key (prefix a DNS subdomain, name of at most 63 characters)', () => {
    expect(ours).toEqual({ [KEY]: 'true' });
    const [prefix = '', name = ''] = KEY.split('/');
    expect(prefix.length).toBeLessThanOrEqual(253);
    expect(prefix).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/);
    expect(name).toMatch(/^[a-z0-9]([-a-z0-9_.]{0,61}[a-z0-9])?$/);
  });

  it('holds a topology with its key and value (other keys allowed) or an empty one, not a foreign value or key', () => {
    expect(inSegment({ segments: { [KEY]: 'true' } }, ours)).toBe(true);
    expect(inSegment({ segments: { [KEY]: 'true', zone: 'a' } }, ours)).toBe(true);
    expect(inSegment({ segments: {} }, ours)).toBe(true);
    expect(inSegment(null, ours)).toBe(true);
    expect(inSegment({ segments: { [KEY]: 'false' } }, ours)).toBe(false);
    expect(inSegment({ segments: { 'topology.other.example.org/node': 'n1' } }, ours)).toBe(false);
  });

  it('accepts no requirement, an empty requisite list or one that names the segment; refuses a requisite elsewhere with RESOURCE_EXHAUSTED naming the field', () => {
    expect(() => checkRequisite(null, ours)).not.toThrow();
    expect(() => checkRequisite({ requisite: [], preferred: [{ segments: { zone: 'b' } }] }, ours)).not.toThrow();
    const named: TopologyRequirement__Output = {
      requisite: [{ segments: { zone: 'b' } }, { segments: { [KEY]: 'true' } }],
      preferred: [],
    };
    expect(() => checkRequisite(named, ours)).not.toThrow();
    const elsewhere: TopologyRequirement__Output = {
      requisite: [{ segments: { [KEY]: 'false' } }, { segments: { zone: 'b' } }],
      preferred: [],
    };
    expect(() => checkRequisite(elsewhere, ours)).toThrow(OutOfCapacity);
    expect(() => checkRequisite(elsewhere, ours)).toThrow(
      /^accessibility_requirements\.requisite: none of its 2 topologies/,
    );
  });
});
