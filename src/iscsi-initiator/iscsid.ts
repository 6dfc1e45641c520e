/**
 * Whether a host daemon is listening, without running anything: iscsid and
 * multipathd listen on abstract unix sockets ("@ISCSIADM_ABSTRACT_NAMESPACE",
 * "@/org/kernel/linux/storage/multipathd"), visible in /proc/net/unix of the
 * network namespace (the node DaemonSet runs with hostNetwork).
 */
import { readFile } from 'node:fs/promises';

const ISCSID_SOCKET = '@ISCSIADM_ABSTRACT_NAMESPACE';
/** multipath-tools 0.8/0.9 (DEFAULT_SOCKET in libmultipath/defaults.h; also multipathd.socket's ListenStream). */
const MULTIPATHD_SOCKET = '@/org/kernel/linux/storage/multipathd';

/** True when some socket in procNetUnix is bound to `name` (an abstract name starts with "@"). An unreadable file is false. */
export async function socketListening(name: string, procNetUnix = '/proc/net/unix'): Promise<boolean> {
  const text = await readFile(procNetUnix, 'utf8').catch(() => '');
  return text.split('\n').some((line) => line.trimEnd().endsWith(` ${name}`));
}

export function iscsidListening(procNetUnix = '/proc/net/unix'): Promise<boolean> {
  return socketListening(ISCSID_SOCKET, procNetUnix);
}

export function multipathdListening(procNetUnix = '/proc/net/unix'): Promise<boolean> {
  return socketListening(MULTIPATHD_SOCKET, procNetUnix);
}
