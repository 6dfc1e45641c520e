/**
 * Portals ("10.0.0.5:3260", "[fd00::5]:3260": the publish_context format,
 * also what iscsiadm -p takes) and the udev by-path name of an iSCSI LUN.
 *
 * udev's path_id builds the name from the session's connection attributes
 * persistent_address and persistent_port, which the kernel holds WITHOUT
 * brackets for IPv6, and the LUN as lun-N (N < 256) or a 64-bit hex form:
 *   /dev/disk/by-path/ip-10.0.0.5:3260-iscsi-iqn.2024-01.x:vol-lun-0
 *   /dev/disk/by-path/ip-fd00::5:3260-iscsi-iqn.2024-01.x:vol-lun-0
 * Portals must be IP addresses: with a host name the link carries the address
 * iscsid resolved, which this code cannot predict.
 */
import { InvalidArgument } from '../errors.js';
import { formatHostPort } from '../host-port.js';

export interface PortalAddress {
  /** IPv4 dotted quad or IPv6 address, without brackets. */
  address: string;
  port: number;
}

const DEFAULT_ISCSI_PORT = 3260;
export const BY_PATH_DIR = '/dev/disk/by-path';

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;

/** "a.b.c.d[:port]" or "[v6][:port]" -> address and port (default 3260). InvalidArgument otherwise. */
export function parsePortal(text: string, field = 'portal'): PortalAddress {
  const s = text.trim();
  let address: string;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (v6) {
    address = v6[1] ?? '';
    portText = v6[2];
    if (!IPV6.test(address) || !address.includes(':'))
      throw new InvalidArgument(field, `${JSON.stringify(text)} is not a valid IPv6 portal`);
  } else {
    const m = /^([^:[\]]+)(?::(\d+))?$/.exec(s);
    if (!m) throw new InvalidArgument(field, `${JSON.stringify(text)} must be address:port or [IPv6]:port`);
    address = m[1] ?? '';
    portText = m[2];
    const octets = IPV4.exec(address);
    if (!octets || octets.slice(1).some((o) => Number(o) > 255))
      throw new InvalidArgument(field, `${JSON.stringify(text)}: ${address} is not an IPv4 address`);
  }
  const port = portText === undefined ? DEFAULT_ISCSI_PORT : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new InvalidArgument(field, `${JSON.stringify(text)}: port must be 1-65535`);
  return { address: address.toLowerCase(), port };
}

/** The canonical text form, as iscsiadm -p takes it and iscsiadm -m session prints it. */
export function formatPortal(p: PortalAddress): string {
  return formatHostPort(p.address, p.port);
}

/** Canonical form of a portal string (adds the default port, lower-cases IPv6). */
export function normalizePortal(text: string, field = 'portal'): string {
  return formatPortal(parsePortal(text, field));
}

/** udev's LUN part: lun-N below 256, else the 64-bit SAM form udev prints. */
export function lunComponent(lun: number): string {
  if (!Number.isInteger(lun) || lun < 0 || lun > 0xffffffff)
    throw new InvalidArgument('lun', `${lun} is not a LUN number`);
  if (lun < 256) return `lun-${lun}`;
  const hex = (n: number) => n.toString(16).padStart(4, '0');
  return `lun-0x${hex(lun & 0xffff)}${hex((lun >>> 16) & 0xffff)}00000000`;
}

/** The file name under /dev/disk/by-path (without the directory). */
export function byPathName(portal: string, iqn: string, lun: number): string {
  const p = parsePortal(portal);
  return `ip-${p.address}:${p.port}-iscsi-${iqn}-${lunComponent(lun)}`;
}

/** The full /dev/disk/by-path/... path of a LUN seen through one portal. */
export function byPathDevice(portal: string, iqn: string, lun: number, dir = BY_PATH_DIR): string {
  return `${dir}/${byPathName(portal, iqn, lun)}`;
}
