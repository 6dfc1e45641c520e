/**
 * Test certificates for the agent API's mutual TLS, made with the openssl
 * CLI: one CA, agent certificates naming AGENT_TLS_NAME (server and client
 * usage, as cert-manager often issues them), a controller (client)
 * certificate naming CONTROLLER_TLS_NAME, misnamed and doubly named ones, and
 * a rogue CA with a client certificate of its own.
 * Each set is a directory laid out like the mounted Secret: ca.crt, tls.crt, tls.key.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_TLS_NAME, CONTROLLER_TLS_NAME } from '../../src/server/tls.js';

export interface CertDirs {
  agent: string;
  controller: string;
  /** A client certificate the agent must refuse (another CA). */
  rogue: string;
  /** A server certificate from the right CA that does not name AGENT_TLS_NAME. */
  misnamedAgent: string;
  /** Another storage node's agent certificate (right CA, agent name, client usage too): never a client of an agent. */
  secondAgent: string;
  /** A client certificate from the right CA that does not name CONTROLLER_TLS_NAME. */
  misnamedClient: string;
  /** One certificate naming both identities: refused on both ends. */
  bothNames: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function ca(dir: string, name: string): void {
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
    ],
    dir,
  );
}

function leaf(dir: string, caName: string, name: string, san: string, usage: string): void {
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=${usage}\n`);
  openssl(
    [
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    ],
    dir,
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${caName}.crt`,
      '-CAkey',
      `${caName}.key`,
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    ],
    dir,
  );
}

function secretDir(root: string, work: string, caName: string, name: string): string {
  const d = join(root, name);
  mkdirSync(d);
  copyFileSync(join(work, `${caName}.crt`), join(d, 'ca.crt'));
  copyFileSync(join(work, `${name}.crt`), join(d, 'tls.crt'));
  copyFileSync(join(work, `${name}.key`), join(d, 'tls.key'));
  return d;
}

export function makeCerts(root = mkdtempSync(join(tmpdir(), 'agent-tls-'))): CertDirs {
  const work = join(root, 'work');
  mkdirSync(work, { recursive: true });
  ca(work, 'ca');
  ca(work, 'rogue-ca');
  leaf(work, 'ca', 'agent', `DNS:${AGENT_TLS_NAME}`, 'serverAuth,clientAuth');
  leaf(work, 'ca', 'agent-2', `DNS:${AGENT_TLS_NAME}`, 'serverAuth,clientAuth');
  leaf(work, 'ca', 'controller', `DNS:${CONTROLLER_TLS_NAME}`, 'clientAuth');
  leaf(work, 'rogue-ca', 'rogue', `DNS:${CONTROLLER_TLS_NAME}`, 'clientAuth');
  leaf(work, 'ca', 'misnamed', 'DNS:some-other-name', 'serverAuth');
  leaf(work, 'ca', 'misnamed-client', 'DNS:some-other-name', 'clientAuth');
  leaf(work, 'ca', 'both', `DNS:${AGENT_TLS_NAME},DNS:${CONTROLLER_TLS_NAME}`, 'serverAuth,clientAuth');
  return {
    agent: secretDir(root, work, 'ca', 'agent'),
    controller: secretDir(root, work, 'ca', 'controller'),
    rogue: secretDir(root, work, 'ca', 'rogue'),
    misnamedAgent: secretDir(root, work, 'ca', 'misnamed'),
    secondAgent: secretDir(root, work, 'ca', 'agent-2'),
    misnamedClient: secretDir(root, work, 'ca', 'misnamed-client'),
    bothNames: secretDir(root, work, 'ca', 'both'),
  };
}
