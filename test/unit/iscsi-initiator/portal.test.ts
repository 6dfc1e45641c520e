import { describe, expect, it } from 'vitest';
import { InvalidArgument } from '../../../src/errors.js';
import {
  byPathDevice,
  byPathName,
  formatPortal,
  lunComponent,
  normalizePortal,
  parsePortal,
} from '../../../src/iscsi-initiator/portal.js';

describe('portals', () => {
  it('parses IPv4 and bracketed IPv6 portals, with the default port', () => {
    expect(parsePortal('10.0.0.5:3261')).toEqual({ address: '10.0.0.5', port: 3261 });
    expect(parsePortal('10.0.0.5')).toEqual({ address: '10.0.0.5', port: 3260 });
    expect(parsePortal('[FD00::5]:3260')).toEqual({ address: 'fd00::5', port: 3260 });
    expect(parsePortal('[fd00::5]')).toEqual({ address: 'fd00::5', port: 3260 });
    expect(normalizePortal(' 10.0.0.5 ')).toBe('10.0.0.5:3260');
    expect(formatPortal({ address: 'fd00::5', port: 3260 })).toBe('[fd00::5]:3260');
  });

  it.each([
    '',
    'host.example:3260',
    '10.0.0.256:3260',
    '10.0.0.5:0',
    '10.0.0.5:70000',
    'fd00::5:3260',
    '[zz::1]:3260',
    '10.0.0.5:3260;rm',
  ])('rejects %j', (p) => {
    expect(() => parsePortal(p)).toThrow(InvalidArgument);
  });
});

describe('by-path names (udev path_id)', () => {
  it('IPv4: ip-<addr>:<port>-iscsi-<iqn>-lun-<n>', () => {
    expect(byPathDevice('127.0.0.1:3260', 'iqn.2024-01.test.vm:vol', 0)).toBe(
      '/dev/disk/by-path/ip-127.0.0.1:3260-iscsi-iqn.2024-01.test.vm:vol-lun-0',
    );
  });

  it('IPv6: the address without brackets, as the kernel holds persistent_address', () => {
    expect(byPathName('[fd00::5]:3260', 'iqn.2024-01.x:v', 1)).toBe('ip-fd00::5:3260-iscsi-iqn.2024-01.x:v-lun-1');
  });

  it('LUNs of 256 and more use the 64-bit SAM form', () => {
    expect(lunComponent(255)).toBe('lun-255');
    expect(lunComponent(256)).toBe('lun-0x0100000000000000');
    expect(lunComponent(0x12345)).toBe('lun-0x2345000100000000');
    expect(() => lunComponent(-1)).toThrow(InvalidArgument);
    expect(() => lunComponent(1.5)).toThrow(InvalidArgument);
  });
});
