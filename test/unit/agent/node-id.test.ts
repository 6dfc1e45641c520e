import { describe, expect, it } from 'vitest';
import { formatNodeId, isInitiatorName, parseNodeId } from '../../../src/agent/node-id.js';

describe('node ids', () => {
  it('round-trip node name and initiator IQN', () => {
    const id = formatNodeId({ node: 'worker-1', iqn: 'iqn.1993-08.org.debian:01:4f6c0a9e2b' });
    expect(id).toBe('worker-1:iqn.1993-08.org.debian:01:4f6c0a9e2b');
    expect(parseNodeId(id)).toEqual({ node: 'worker-1', iqn: 'iqn.1993-08.org.debian:01:4f6c0a9e2b' });
  });

  it('accept eui and naa names', () => {
    expect(isInitiatorName('eui.02004567a425678d')).toBe(true);
    expect(isInitiatorName('naa.52004567ba64678d')).toBe(true);
    expect(isInitiatorName('IQN.1993-08.org.debian:01')).toBe(false);
  });

  it('reject malformed ids', () => {
    for (const bad of [
      '',
      'worker-1',
      ':iqn.1993-08.org.debian:01',
      'Worker:iqn.1993-08.org.debian:01',
      'w:not-an-iqn',
      `w:iqn.1993-08.org.debian:${'a'.repeat(300)}`,
    ]) {
      expect(parseNodeId(bad), bad).toBeUndefined();
    }
  });

  it('refuse to make an id over 256 bytes', () => {
    expect(() => formatNodeId({ node: 'n'.repeat(200), iqn: `iqn.1993-08.org.debian:${'a'.repeat(60)}` })).toThrow(
      /256/,
    );
  });
});
