/**
 * Whether iscsid is listening: iscsiadm reaches it through the abstract unix
 * socket "@ISCSIADM_ABSTRACT_NAMESPACE", visible in /proc/net/unix of the
 * network namespace (the node DaemonSet runs with hostNetwork).
 */
import { readFile } from 'node:fs/promises';

export const ISCSID_SOCKET = '@ISCSIADM_ABSTRACT_NAMESPACE';

export async function iscsidListening(procNetUnix = '/proc/net/unix'): Promise<boolean> {
  const text = await readFile(procNetUnix, 'utf8').catch(() => '');
  return text.split('\n').some((line) => line.trimEnd().endsWith(ISCSID_SOCKET));
}
