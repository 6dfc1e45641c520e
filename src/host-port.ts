/** "host:port", with an IPv6 address in brackets ("[fd00::1]:3260"): the one text form of an address and port. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
