/**
 * Mutual TLS for the agent API. Both ends read a directory holding
 *   ca.crt   the CA that signed every agent's and controller's certificate
 *   tls.crt  this process's certificate (chain)
 *   tls.key  its private key
 * (a kubernetes.io/tls Secret plus its CA). Agents require a client
 * certificate signed by the CA; controllers check that the agent's
 * certificate is signed by the CA and names AGENT_TLS_NAME (a DNS SAN),
 * since agents are dialled by pod IP, which a shared certificate cannot list.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { credentials, ServerCredentials, type ChannelCredentials, type ChannelOptions } from '@grpc/grpc-js';
import { FailedPrecondition } from '../errors.js';

/** The DNS name every agent certificate must carry as a subjectAltName. */
export const AGENT_TLS_NAME = 'csi-lvm-iscsi-agent';

export interface TlsFiles {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export async function readTlsDir(dir: string): Promise<TlsFiles> {
  const read = async (name: string) => {
    try {
      return await readFile(join(dir, name));
    } catch (e) {
      throw new FailedPrecondition(`agent TLS: cannot read ${join(dir, name)} (${(e as NodeJS.ErrnoException).code ?? String(e)}); mount the TLS Secret there`);
    }
  };
  return { ca: await read('ca.crt'), cert: await read('tls.crt'), key: await read('tls.key') };
}

export function agentServerCredentials(t: TlsFiles): ServerCredentials {
  return ServerCredentials.createSsl(t.ca, [{ cert_chain: t.cert, private_key: t.key }], true);
}

export function agentClientCredentials(t: TlsFiles): { creds: ChannelCredentials; options: ChannelOptions } {
  return { creds: credentials.createSsl(t.ca, t.key, t.cert), options: { 'grpc.ssl_target_name_override': AGENT_TLS_NAME, 'grpc.default_authority': AGENT_TLS_NAME } };
}
