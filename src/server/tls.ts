/**
 * Mutual TLS for the agent API, with distinct identities. Both ends read a
 * directory holding
 *   ca.crt   the CA that signed the agents' and the controller's certificates
 *   tls.crt  this process's certificate (chain)
 *   tls.key  its private key
 * (a kubernetes.io/tls Secret plus its CA; the controller and the agents get
 * different Secrets). Agents are dialled by pod IP, which no certificate can
 * list, so each side checks a fixed DNS subjectAltName instead:
 *   - the controller accepts an agent only when its certificate is signed by
 *     the CA, names AGENT_TLS_NAME and does not name CONTROLLER_TLS_NAME;
 *   - an agent accepts a client only when its certificate is signed by the CA,
 *     names CONTROLLER_TLS_NAME and does not name AGENT_TLS_NAME, so one
 *     storage node's certificate never opens another storage node's agent.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import {
  credentials,
  ServerCredentials,
  ServerInterceptingCall,
  status,
  type ChannelCredentials,
  type ChannelOptions,
  type ServerInterceptor,
} from '@grpc/grpc-js';
import { FailedPrecondition } from '../errors.js';
import type { Logger } from '../log.js';

/** The DNS name every agent's (server) certificate must carry as a subjectAltName. */
export const AGENT_TLS_NAME = 'csi-lvm-iscsi-agent';
/** The DNS name the controller's (client) certificate must carry as a subjectAltName. */
export const CONTROLLER_TLS_NAME = 'csi-lvm-iscsi-controller';

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
      throw new FailedPrecondition(
        `agent TLS: cannot read ${join(dir, name)} (${(e as NodeJS.ErrnoException).code ?? String(e)}); mount the TLS Secret there`,
      );
    }
  };
  return { ca: await read('ca.crt'), cert: await read('tls.crt'), key: await read('tls.key') };
}

/** The DNS subjectAltNames of a peer certificate (Node's "DNS:a, DNS:b, IP Address:..." string). */
function dnsNames(cert: Pick<PeerCertificate, 'subjectaltname'> | undefined): string[] {
  return (cert?.subjectaltname ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));
}

/** Why a client certificate may not call an agent, or undefined when it is the controller's. */
function refuseClient(cert: Pick<PeerCertificate, 'subjectaltname'> | undefined): string | undefined {
  const names = dnsNames(cert);
  if (!cert || Object.keys(cert).length === 0) return 'no client certificate';
  if (names.includes(AGENT_TLS_NAME))
    return `the client certificate names ${AGENT_TLS_NAME}: agents never call each other`;
  if (!names.includes(CONTROLLER_TLS_NAME))
    return `the client certificate does not name ${CONTROLLER_TLS_NAME} (it names ${names.join(', ') || 'no DNS name'})`;
  return undefined;
}

export function agentServerCredentials(t: TlsFiles): ServerCredentials {
  return ServerCredentials.createSsl(t.ca, [{ cert_chain: t.cert, private_key: t.key }], true);
}

/**
 * The agent's gate: a call whose client certificate is not the controller's is
 * answered PERMISSION_DENIED before any handler runs (the TLS handshake has
 * already refused certificates that the CA did not sign).
 */
export function controllerOnly(log: Logger): ServerInterceptor {
  return (method, call) =>
    new ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, mdNext) => {
            const why = refuseClient(call.getAuthContext().sslPeerCertificate);
            if (!why) {
              mdNext(metadata);
              return;
            }
            log.warn({ method: method.path, peer: call.getPeer(), reason: why }, 'agent API call refused');
            call.sendStatus({ code: status.PERMISSION_DENIED, details: `agent API: ${why}` });
          },
        });
      },
    });
}

/** The agent's server certificate must name the agent identity and must not be the controller's. */
function checkAgentIdentity(_host: string, cert: PeerCertificate): Error | undefined {
  const bad = checkServerIdentity(AGENT_TLS_NAME, cert);
  if (bad) return bad;
  if (dnsNames(cert).includes(CONTROLLER_TLS_NAME))
    return new Error(
      `the agent's certificate also names ${CONTROLLER_TLS_NAME}; controller and agents need distinct certificates`,
    );
  return undefined;
}

export function agentClientCredentials(t: TlsFiles): { creds: ChannelCredentials; options: ChannelOptions } {
  return {
    creds: credentials.createSsl(t.ca, t.key, t.cert, { checkServerIdentity: checkAgentIdentity }),
    options: { 'grpc.ssl_target_name_override': AGENT_TLS_NAME, 'grpc.default_authority': AGENT_TLS_NAME },
  };
}
