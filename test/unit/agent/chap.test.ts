import { describe, expect, it } from 'vitest';
import { chapFromSecrets, derivePassword, volumeUser } from '../../../src/agent/chap.js';
import { InvalidArgument } from '../../../src/errors.js';

const key = 'a-long-enough-secret-key';

describe('CHAP from secrets', () => {
  it('derives a distinct, stable password per volume', () => {
    const a = derivePassword(key, 'n/vg/vol-a', 'initiator');
    expect(a).toBe(derivePassword(key, 'n/vg/vol-a', 'initiator'));
    expect(a).not.toBe(derivePassword(key, 'n/vg/vol-b', 'initiator'));
    expect(a).not.toBe(derivePassword(key, 'n/vg/vol-a', 'target'));
    expect(a).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(a).not.toContain(key);
  });

  it('no CHAP keys means no CHAP', () => {
    expect(chapFromSecrets({}, 'v', 'secrets')).toBeUndefined();
  });

  it('one-way and mutual', () => {
    expect(chapFromSecrets({ chapUser: 'u', chapSecret: key }, 'v', 'secrets')).toEqual({
      userid: volumeUser('u', 'v'),
      password: derivePassword(key, 'v', 'initiator'),
    });
    const m = chapFromSecrets(
      { chapUser: 'u', chapSecret: key, mutualUser: 't', mutualSecret: `${key}-2` },
      'v',
      'secrets',
    );
    expect(m?.mutualUserid).toBe(volumeUser('t', 'v'));
    expect(m?.mutualPassword).toBe(derivePassword(`${key}-2`, 'v', 'target'));
  });

  it('user names are per volume (tgt accounts are daemon-wide), stable, and within the 255 characters initiators accept', () => {
    const a = volumeUser('tenant1', 'n/vg/vol-a');
    expect(a).toMatch(/^tenant1\.[a-z2-7]{10}$/);
    expect(volumeUser('tenant1', 'n/vg/vol-a')).toBe(a);
    expect(volumeUser('tenant1', 'n/vg/vol-b')).not.toBe(a);
    const long = chapFromSecrets({ chapUser: 'u'.repeat(200), chapSecret: key }, 'v', 'secrets');
    expect(long?.userid.length).toBeLessThanOrEqual(255);
    expect(() => chapFromSecrets({ chapUser: 'u'.repeat(201), chapSecret: key }, 'v', 'secrets')).toThrow(/chapUser/);
  });

  it('a half configuration names the missing key and never echoes a secret', () => {
    try {
      chapFromSecrets({ chapSecret: key }, 'v', 'secrets');
      throw new Error('expected');
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidArgument);
      expect((e as InvalidArgument).field).toBe('secrets.chapUser');
      expect(String(e)).not.toContain(key);
    }
    expect(() => chapFromSecrets({ chapUser: 'u', chapSecret: 'short' }, 'v', 'secrets')).toThrow(/chapSecret/);
    expect(() => chapFromSecrets({ chapUser: 'u', chapSecret: key, mutualUser: 't' }, 'v', 'secrets')).toThrow(
      /mutualSecret/,
    );
  });
});
