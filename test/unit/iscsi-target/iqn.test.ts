import { describe, expect, it } from 'vitest';
import { InvalidArgument } from '../../../src/errors.js';
import { assertChap } from '../../../src/iscsi-target/chap.js';
import {
  assertIqnPrefix,
  assertIscsiName,
  DEFAULT_IQN_PREFIX,
  isValidIscsiName,
  iscsiNameProblem,
  targetIqn,
  unitSerial,
} from '../../../src/iscsi-target/iqn.js';
import { backstoreName } from '../../../src/iscsi-target/lio-layout.js';

describe('iSCSI name validation (RFC 3720 3.2.6)', () => {
  it.each([
    'iqn.2024-01.test.vm:guest',
    'iqn.1993-08.org.debian:01:a1b2c3d4e5f6',
    'iqn.2001-04.com.example',
    'iqn.2001-04.com.example:storage:disk2.sys1.xyz',
    'iqn.1991-05.com.microsoft:host-01.domain.local',
    'eui.02004567A425678D',
    'naa.52004567BA64678D',
    'naa.6001405a1b2c3d4e5f60718293a4b5c6',
  ])('accepts %s', (name) => {
    expect(iscsiNameProblem(name)).toBeUndefined();
  });

  it.each([
    ['', /empty/],
    ['ALL', /must start with/],
    ['iqn.2024-01.Test.vm:guest', /lower case/],
    ['iqn.2024-13.test.vm', /not of the form/],
    ['iqn.24-01.test.vm', /not of the form/],
    ['iqn.2024-01.test_vm:x', /not of the form/],
    ['iqn.2024-01.test.vm:has space', /not of the form/],
    ['iqn.2024-01.-bad.vm', /not of the form/],
    ['eui.02004567A425678', /16 hex/],
    ['naa.xyz', /hex/],
    [`iqn.2024-01.test.vm:${'a'.repeat(210)}`, /223 bytes/],
  ])('rejects %j', (name, why) => {
    expect(iscsiNameProblem(name)).toMatch(why);
    expect(isValidIscsiName(name)).toBe(false);
  });

  it('assertIscsiName throws InvalidArgument naming the field', () => {
    expect(() => assertIscsiName('node_id', 'nope')).toThrow(InvalidArgument);
    expect(() => assertIscsiName('node_id', 'nope')).toThrow(/^node_id: /);
  });
});

describe('targetIqn', () => {
  it('is prefix:vg:lv for names that are IQN text already', () => {
    expect(targetIqn('csivg', 'vol-abcdefghijklmnopqrstuvwxyz')).toBe(
      `${DEFAULT_IQN_PREFIX}:csivg:vol-abcdefghijklmnopqrstuvwxyz`,
    );
    expect(targetIqn('vg.1', 'lv.2', 'iqn.2020-02.com.acme:store')).toBe('iqn.2020-02.com.acme:store:vg.1:lv.2');
  });

  it('is deterministic and valid for any LVM names, one-to-one through a hash when it had to change them', () => {
    const a = targetIqn('VG_Data', 'Lv+1');
    expect(a).toMatch(new RegExp(`^${DEFAULT_IQN_PREFIX.replace(/\./g, '\\.')}:vg-data:lv-1:[0-9a-f]{16}$`));
    expect(targetIqn('VG_Data', 'Lv+1')).toBe(a);
    expect(targetIqn('vg-data', 'lv_1')).not.toBe(targetIqn('vg_data', 'lv-1'));
    expect(isValidIscsiName(a)).toBe(true);
    // "a.b"/"c" and "a"/"b.c" cannot collide: ':' separates
    expect(targetIqn('a.b', 'c')).not.toBe(targetIqn('a', 'b.c'));
  });

  it('stays within 223 bytes for the longest LVM names', () => {
    const iqn = targetIqn('v'.repeat(127), 'l'.repeat(127));
    expect(Buffer.byteLength(iqn)).toBeLessThanOrEqual(223);
    expect(isValidIscsiName(iqn)).toBe(true);
    expect(iqn).not.toBe(targetIqn('v'.repeat(127), `${'l'.repeat(126)}m`));
  });

  it('rejects a bad prefix', () => {
    expect(() => assertIqnPrefix('iqn.2024-01.Example')).toThrow(InvalidArgument);
    expect(() => targetIqn('vg', 'lv', 'not-an-iqn')).toThrow(InvalidArgument);
    expect(() => targetIqn('', 'lv')).toThrow(InvalidArgument);
  });
});

describe('unitSerial and backstoreName', () => {
  it('unitSerial: 32 hex digits of sha256("vg/lv"), stable', () => {
    expect(unitSerial('csivg', 'vol-a')).toMatch(/^[0-9a-f]{32}$/);
    expect(unitSerial('csivg', 'vol-a')).toBe(unitSerial('csivg', 'vol-a'));
    expect(unitSerial('csivg', 'vol-a')).not.toBe(unitSerial('csivg', 'vol-b'));
    // LIO's WWID uses the first 25 hex digits: those differ too
    expect(unitSerial('csivg', 'vol-a').slice(0, 25)).not.toBe(unitSerial('csivg', 'vol-b').slice(0, 25));
  });

  it('backstoreName: the device-mapper spelling, hashed when long', () => {
    expect(backstoreName('csivg/vol-abc')).toBe('csivg-vol--abc');
    expect(backstoreName('my-vg/lv')).toBe('my--vg-lv');
    expect(backstoreName('a-b/c')).not.toBe(backstoreName('a/b-c'));
    const long = backstoreName(`${'v'.repeat(60)}/${'l'.repeat(60)}`);
    expect(long).toHaveLength(64);
    expect(long).toMatch(/-[0-9a-f]{16}$/);
    expect(() => backstoreName('nolv')).toThrow(InvalidArgument);
    expect(() => backstoreName('a/b/c')).toThrow(InvalidArgument);
  });
});

describe('assertChap', () => {
  it('accepts a full set and a one-way set', () => {
    expect(() => assertChap({ userid: 'u', password: 'p123456789012' })).not.toThrow();
    expect(() =>
      assertChap({ userid: 'u', password: 'p123456789012', mutualUserid: 't', mutualPassword: 'q123456789012' }),
    ).not.toThrow();
  });

  it('rejects empty, too long, control characters, NULL prefix, half mutual, same secret both ways; messages never carry the value', () => {
    const secret = 'S3cret-value-xyz';
    const cases = [
      { userid: '', password: secret },
      { userid: 'u', password: `${secret}\n` },
      { userid: 'u', password: 'x'.repeat(256) },
      { userid: 'NULL', password: secret },
      { userid: 'u', password: secret, mutualUserid: 'm' },
      { userid: 'u', password: secret, mutualUserid: 'm', mutualPassword: secret },
    ];
    for (const c of cases) {
      let err: unknown;
      try {
        assertChap(c);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InvalidArgument);
      expect(String(err)).not.toContain(secret);
    }
  });
});
