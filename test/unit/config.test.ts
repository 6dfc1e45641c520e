import { describe, expect, it } from 'vitest';
import { ConfigError, envName, helpText, loadConfig, OPTIONS, parseEndpoint, parseSize } from '../../src/config.js';

const base = ['--node-id', 'node-a'];

function load(argv: string[], env: Record<string, string> = {}, file?: string) {
  const r = loadConfig({ argv, env, readFile: () => file ?? '{}' });
  if (r.help) throw new Error('unexpected help');
  return r.config;
}

function problems(argv: string[], env: Record<string, string> = {}, file?: string): string[] {
  try {
    load(argv, env, file);
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('applies defaults', () => {
    const c = load(base);
    expect(c.mode).toBe('all');
    expect(c.endpoint).toEqual({ kind: 'unix', path: '/csi/csi.sock' });
    expect(c.logLevel).toBe('info');
    expect(c.volumeGroups).toEqual([]);
    expect(c.metricsAddress).toBeUndefined();
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reads flags, then env, then the config file', () => {
    const file = JSON.stringify({ 'log-level': 'debug', 'volume-group': ['vg1', 'vg2'], mode: 'node' });
    const c = load(
      [
        ...base,
        '--config',
        '/etc/x.json',
        '--mode',
        'agent',
        '--agent-listen',
        '0.0.0.0:9809',
        '--agent-tls-dir',
        '/tls',
      ],
      { [envName('log-level')]: 'warn' },
      file,
    );
    expect(c.mode).toBe('agent');
    expect(c.logLevel).toBe('warn');
    expect(c.volumeGroups).toEqual(['vg1', 'vg2']);
  });

  it('controller and agent modes: the agent API needs its TLS directory, a controller its agents', () => {
    expect(problems([...base, '--mode', 'agent'])).toEqual([
      'agent-listen: required in agent mode (host:port of the agent API)',
    ]);
    expect(problems([...base, '--mode', 'agent', '--agent-listen', '0.0.0.0:9809'])).toEqual([
      'agent-tls-dir: required with --agent-listen (the agent API is served with mutual TLS only)',
    ]);
    expect(problems([...base, '--mode', 'controller', '--agent-tls-dir', '/tls'])).toEqual([
      'agents: required in controller mode with static discovery (node=host:port,...)',
    ]);
    expect(
      problems([
        ...base,
        '--mode',
        'controller',
        '--agent-tls-dir',
        'tls',
        '--agents',
        's1=10.0.0.1',
        '--agent-discovery',
        'dns',
      ]),
    ).toEqual([
      'agent-tls-dir: "tls" must be an absolute path',
      'agent-discovery: "dns" must be static or kubernetes',
      'agents: "s1=10.0.0.1" must be node=host:port',
    ]);
    const c = load([
      ...base,
      '--mode',
      'controller',
      '--agent-tls-dir',
      '/tls',
      '--agents',
      's1=10.0.0.1:9809, s2=[fd00::2]:9809',
    ]);
    expect(c.agents).toEqual([
      { node: 's1', host: '10.0.0.1', port: 9809 },
      { node: 's2', host: 'fd00::2', port: 9809 },
    ]);
    const k = load([
      ...base,
      '--mode',
      'controller',
      '--agent-tls-dir',
      '/tls',
      '--agent-discovery',
      'kubernetes',
      '--namespace',
      'csi',
    ]);
    expect([k.agentDiscovery, k.namespace, k.agentPort, k.agentSelector]).toEqual([
      'kubernetes',
      'csi',
      9809,
      'app.kubernetes.io/name=csi-lvm-iscsi,app.kubernetes.io/component=agent',
    ]);
    expect(
      load([...base, '--reconcile-interval', '0', '--chap-secret-dir', '/etc/chap']).reconcileIntervalSeconds,
    ).toBe(0);
    expect(problems([...base, '--chap-secret-dir', 'chap'])).toEqual([
      'chap-secret-dir: "chap" must be an absolute path',
    ]);
  });

  it('parses tcp endpoints and metrics addresses', () => {
    const c = load([...base, '--endpoint', 'tcp://127.0.0.1:0', '--metrics-address', '127.0.0.1:9808']);
    expect(c.endpoint).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    expect(c.metricsAddress).toEqual({ host: '127.0.0.1', port: 9808 });
  });

  it('reports every bad value at once, naming each option', () => {
    const p = problems([
      '--mode',
      'sideways',
      '--endpoint',
      'http://x',
      '--log-level',
      'loud',
      '--volume-group',
      'bad name',
      '--loop-vg-size',
      '1K',
    ]);
    expect(p.join('\n')).toMatch(/mode: "sideways"/);
    expect(p.join('\n')).toMatch(/endpoint: "http:\/\/x"/);
    expect(p.join('\n')).toMatch(/node-id: required/);
    expect(p.join('\n')).toMatch(/log-level: "loud"/);
    expect(p.join('\n')).toMatch(/volume-group: "bad name"/);
    expect(p.join('\n')).toMatch(/loop-vg-size: "1K"/);
    expect(p).toHaveLength(6);
  });

  it('rejects unknown flags and unknown config keys', () => {
    expect(problems([...base, '--nope'])[0]).toMatch(/nope/);
    expect(problems([...base, '--config', '/x'], {}, '{"colour":"red"}')[0]).toMatch(/unknown key "colour"/);
    expect(problems([...base, '--config', '/x'], {}, 'not json')[0]).toMatch(/config file \/x/);
  });

  it('rejects a relative unix socket path and a bad driver name', () => {
    expect(problems([...base, '--endpoint', 'unix://csi.sock'])[0]).toMatch(/absolute/);
    expect(problems([...base, '--driver-name', 'Not_A_DNS_Name'])[0]).toMatch(/driver-name/);
  });

  it('returns help for --help and documents every option with its env variable', () => {
    expect(loadConfig({ argv: ['--help'], env: {} })).toEqual({ help: true });
    const text = helpText();
    for (const o of OPTIONS) {
      expect(text).toContain(`--${o.name}`);
      expect(text).toContain(envName(o.name));
    }
  });

  it('parses sizes and endpoints', () => {
    expect(parseSize('1G')).toBe(1024 ** 3);
    expect(parseSize('512M')).toBe(512 * 1024 ** 2);
    expect(parseSize('4096')).toBe(4096);
    expect(parseSize('12X')).toBeUndefined();
    expect(parseEndpoint('tcp://[::1]:10000')).toEqual({ kind: 'tcp', host: '::1', port: 10000 });
    expect(parseEndpoint('tcp://host')).toMatch(/host:port/);
  });
});
