/**
 * Binds a grpc-js server to the configured endpoint (removing a stale unix
 * socket first) and stops it gracefully.
 */
import { lstat, unlink, mkdir } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import {
  Server,
  ServerCredentials,
  type ServerInterceptor,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { Endpoint } from '../config.js';
import { formatHostPort } from '../host-port.js';

export interface ServiceBinding {
  definition: ServiceDefinition;
  implementation: UntypedServiceImplementation;
}

export interface RunningServer {
  /** "unix:///path" or "tcp://host:port" with the real port. */
  readonly address: string;
  /** Finish in-flight calls (up to graceMs), then close and remove the socket. */
  stop(graceMs?: number): Promise<void>;
}

function isListening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(path);
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/** A socket file left behind by a process that died is removed; a live one is an error. */
async function removeStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (!st.isSocket()) throw new Error(`endpoint ${path} exists and is not a socket; refusing to remove it`);
  if (await isListening(path)) throw new Error(`endpoint ${path} is in use by another running process`);
  await unlink(path);
}

/**
 * `creds`: insecure by default (the CSI unix socket); the agent API passes mutual-TLS credentials
 * and an interceptor that admits only the controller's certificate (tls.ts).
 */
export async function startServer(
  endpoint: Endpoint,
  services: readonly ServiceBinding[],
  creds: ServerCredentials = ServerCredentials.createInsecure(),
  interceptors: ServerInterceptor[] = [],
): Promise<RunningServer> {
  const server = new Server({ 'grpc.max_receive_message_length': 4 * 1024 * 1024, interceptors });
  for (const s of services) server.addService(s.definition, s.implementation);
  let target: string;
  if (endpoint.kind === 'unix') {
    await mkdir(dirname(endpoint.path), { recursive: true });
    await removeStaleSocket(endpoint.path);
    target = `unix://${endpoint.path}`;
  } else {
    target = formatHostPort(endpoint.host, endpoint.port);
  }
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(target, creds, (err, p) => (err ? reject(err) : resolve(p)));
  });
  const address = endpoint.kind === 'unix' ? target : `tcp://${endpoint.host}:${port}`;
  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 30_000): Promise<void> => {
    stopping ??= (async () => {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      if (endpoint.kind === 'unix') await unlink(endpoint.path).catch(() => undefined);
    })();
    return stopping;
  };
  return { address, stop };
}
