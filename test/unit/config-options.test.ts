/**
 * Every option of the table in src/config.ts that config.test.ts does not already cover: its default,
 * a good value (by flag, env or config file) and the exact problem a bad value gives.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, envName, loadConfig, OPTIONS, type Config } from '../../src/config.js';

const base = ['--node-id', 'node-a'];

function load(argv: string[], env: Record<string, string> = {}, file = '{}'): Config {
  const r = loadConfig({ argv, env, readFile: () => file });
  if (r.help) throw new Error('unexpected help');
  return r.config;
}

function problems(argv: string[]): string[] {
  try {
    load(argv);
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
  throw new Error('expected a ConfigError');
}

// flag, a good value, the field it sets and its value, a bad value and the problem it gives
const CASES: Array<[string, string, keyof Config, unknown, string, string]> = [
  [
    'thin-pool',
    'pool0',
    'thinPool',
    'pool0',
    'bad name',
    'thin-pool: "bad name" is not a valid LVM logical volume name',
  ],
  ['stats-interval', '0', 'statsIntervalSeconds', 0, '-1', 'stats-interval: "-1" must be a number from 0 to 86400'],
  ['data-dir', '/srv/csi', 'dataDir', '/srv/csi', 'rel', 'data-dir: "rel" must be an absolute path'],
  ['thin-pool-percent', '50', 'thinPoolPercent', 50, '0', 'thin-pool-percent: "0" must be a number from 1 to 100'],
  [
    'over-subscription-ratio',
    '2.5',
    'overSubscriptionRatio',
    2.5,
    'lots',
    'over-subscription-ratio: "lots" must be a number from 1 to 1000',
  ],
  [
    'thin-pool-threshold',
    '75',
    'thinPoolThreshold',
    75,
    '101',
    'thin-pool-threshold: "101" must be a number from 1 to 100',
  ],
  ['reserved-percent', '10', 'reservedPercent', 10, '100', 'reserved-percent: "100" must be a number from 0 to 99'],
  [
    'default-volume-size',
    '64M',
    'defaultVolumeSizeBytes',
    64 * 1024 ** 2,
    '1K',
    'default-volume-size: "1K" must be a size of at least 1M',
  ],
  ['job-wait-seconds', '0', 'jobWaitSeconds', 0, '601', 'job-wait-seconds: "601" must be a number from 0 to 600'],
  ['lvm-udev-sync', 'false', 'lvmUdevSync', false, 'yes', 'lvm-udev-sync: "yes" must be true or false'],
  [
    'restrict-paths-to-kubelet-dir',
    'true',
    'restrictPathsToKubeletDir',
    true,
    'on',
    'restrict-paths-to-kubelet-dir: "on" must be true or false',
  ],
  [
    'max-volumes-per-node',
    '16',
    'maxVolumesPerNode',
    16,
    '1e6',
    'max-volumes-per-node: "1e6" must be a number from 0 to 100000',
  ],
  ['target-backend', 'tgt', 'targetBackend', 'tgt', 'scst', 'target-backend: "scst" must be lio or tgt'],
  [
    'iqn-prefix',
    'iqn.2025-02.com.example.storage',
    'iqnPrefix',
    'iqn.2025-02.com.example.storage',
    'IQN.2025-02.com.example',
    'iqn-prefix: "IQN.2025-02.com.example" must be an iSCSI qualified name such as iqn.2024-01.com.example.storage (lower case, at most 120 characters)',
  ],
  [
    'portals',
    '10.0.0.1:3260, [fd00::1]:3261',
    'portals',
    [
      { address: '10.0.0.1', port: 3260 },
      { address: 'fd00::1', port: 3261 },
    ],
    '10.0.0.1:0',
    'portals: "10.0.0.1:0" must be address:port',
  ],
  [
    'kubelet-dir',
    '/var/lib/k0s/kubelet',
    'kubeletDir',
    '/var/lib/k0s/kubelet',
    'kubelet',
    'kubelet-dir: "kubelet" must be an absolute path',
  ],
  ['agent-port', '10000', 'agentPort', 10000, '0', 'agent-port: "0" must be a number from 1 to 65535'],
  [
    'loop-vg-size',
    '2G',
    'loopVgSizeBytes',
    2 * 1024 ** 3,
    '32M',
    'loop-vg-size: "32M" must be a size of at least 64M (e.g. 1G)',
  ],
];

describe('config: every option', () => {
  it('the table has a row for every Config field, and every row a documented flag', () => {
    const c = load(base);
    const keys = OPTIONS.flatMap((o) => (o.key ? [o.key] : []));
    expect(new Set(keys).size).toBe(keys.length);
    expect(Object.keys(c).sort()).toEqual([...keys].sort());
    for (const o of OPTIONS) expect(o.help.length, o.name).toBeGreaterThan(10);
  });

  it('defaults of the options config.test.ts does not check', () => {
    const c = load(base);
    expect(c.nodeName).toBe('node-a');
    expect(c.driverName).toBe('lvm-iscsi.csi.example.org');
    expect(c.thinPool).toBeUndefined();
    expect([
      c.statsIntervalSeconds,
      c.thinPoolPercent,
      c.overSubscriptionRatio,
      c.thinPoolThreshold,
      c.reservedPercent,
    ]).toEqual([60, 80, 20, 90, 0]);
    expect([c.dataDir, c.loopVgSizeBytes, c.defaultVolumeSizeBytes, c.jobWaitSeconds]).toEqual([
      '/var/lib/csi-lvm-iscsi',
      1024 ** 3,
      1024 ** 3,
      5,
    ]);
    expect([c.lvmUdevSync, c.maxVolumesPerNode, c.targetBackend, c.iqnPrefix]).toEqual([
      true,
      0,
      'lio',
      'iqn.2024-01.org.example.csi-lvm-iscsi',
    ]);
    expect(c.portals).toHaveLength(1);
    expect(c.portals[0]?.port).toBe(3260);
    expect([c.initiatorName, c.kubeletDir, c.chapSecretDir, c.reconcileIntervalSeconds]).toEqual([
      undefined,
      '/var/lib/kubelet',
      undefined,
      60,
    ]);
    expect([c.agentListen, c.agentTlsDir, c.agentDiscovery, c.agents, c.agentPort]).toEqual([
      undefined,
      undefined,
      'static',
      [],
      9809,
    ]);
    expect([c.namespace, c.kubeconfig]).toEqual(['kube-system', undefined]);
  });

  it.each(CASES)(
    '--%s: a good value sets the field, a bad one is a problem naming the option',
    (flag, good, key, value, bad, problem) => {
      expect(load([...base, `--${flag}`, good])[key]).toEqual(value);
      expect(load(base, { [envName(flag)]: good })[key]).toEqual(value);
      expect(load([...base, '--config', '/c.json'], {}, JSON.stringify({ [flag]: good }))[key]).toEqual(value);
      expect(problems([...base, `--${flag}=${bad}`])).toEqual([problem]);
    },
  );

  it('free-text options: initiator name, agent selector, kubeconfig (empty = unset)', () => {
    const c = load([
      ...base,
      '--initiator-name',
      'iqn.1993-08.org.debian:01:abc',
      '--agent-selector',
      'app=agent',
      '--kubeconfig',
      '/k/config',
    ]);
    expect([c.initiatorName, c.agentSelector, c.kubeconfig]).toEqual([
      'iqn.1993-08.org.debian:01:abc',
      'app=agent',
      '/k/config',
    ]);
    const e = load([...base, '--initiator-name', '', '--kubeconfig', '']);
    expect([e.initiatorName, e.kubeconfig]).toEqual([undefined, undefined]);
  });

  it('a config-file number or boolean is read as its text; an empty env value does not override the file', () => {
    const c = load(
      [...base, '--config', '/c.json'],
      { [envName('thin-pool-percent')]: '' },
      JSON.stringify({ 'thin-pool-percent': 40, 'lvm-udev-sync': false }),
    );
    expect([c.thinPoolPercent, c.lvmUdevSync]).toEqual([40, false]);
  });
});
