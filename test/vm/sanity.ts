/**
 * The conformance tier: csi-sanity (kubernetes-csi/csi-test v5.4.0, the
 * Kubernetes project's CSI conformance suite) run inside the guest against the
 * plugin in `all` mode on a real volume group, exported over iSCSI on
 * loopback. Used by sanity-thin.test.ts and sanity-thick.test.ts.
 *
 * The binary is `<repo>/../shared/tools/csi-sanity` (CI clones the repo with
 * shared/ beside it), or $CSI_SANITY. A missing binary fails the test.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  destroyVg,
  disks,
  makeVg,
  MiB,
  repo,
  shStatus,
  startPlugin,
  type PluginProcess,
  PUBLISH_WITHOUT_CHAP,
} from './lib.js';

const sanityBinary = (): string => process.env['CSI_SANITY'] || join(repo, '..', 'shared', 'tools', 'csi-sanity');

interface SpecResult {
  name: string;
  /** 'passed' | 'failed' | 'skipped' | 'pending' as csi-sanity's JUnit report writes them */
  status: string;
  message: string;
}

export interface SanityResult {
  exitCode: number | null;
  /** "Ran N of M Specs in S seconds" */
  ranLine: string;
  /** "SUCCESS! -- N Passed | N Failed | N Pending | N Skipped" (or FAIL!) */
  summaryLine: string;
  specs: SpecResult[];
  seconds: number;
  logFile: string;
}

export interface SanityRun {
  /** Names the VG, the log files and the work directory. */
  label: string;
  /** StorageClass parameters (-csi.testvolumeparameters), none for the defaults. */
  parameters?: Record<string, string>;
  /** -ginkgo.focus regular expressions (ORed); none for the full suite. */
  focus?: string[];
  /** Volume sizes: base and expanded. */
  sizeMiB: number;
  expandMiB: number;
  /**
   * --max-volumes-per-node for the plugin, and -csi.testnodevolumeattachlimit so the
   * ControllerPublishVolume attach-limit spec runs (it publishes this many volumes, then
   * one more that must fail).
   */
  maxVolumesPerNode?: number;
}

const unescapeXml = (s: string) =>
  s
    .replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#([0-9]+);/g, (_, d: string) => String.fromCodePoint(parseInt(d, 10)))
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

/** The specs of a ginkgo JUnit report (one <testcase> each; status attribute as ginkgo v2 writes it). */
function parseJunit(xml: string): SpecResult[] {
  const out: SpecResult[] = [];
  const re = /<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g;
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    const attrs = m[1] ?? '';
    const body = m[3] ?? '';
    const attr = (n: string) => unescapeXml(new RegExp(`\\b${n}="([^"]*)"`).exec(attrs)?.[1] ?? '');
    const name = attr('name');
    // ginkgo's suite-level nodes (BeforeSuite/AfterSuite/ReportAfterSuite) are testcases too
    if (
      /^\[(BeforeSuite|AfterSuite|SynchronizedBeforeSuite|SynchronizedAfterSuite|ReportBeforeSuite|ReportAfterSuite)\]/.test(
        name,
      )
    ) {
      if (attr('status') === 'passed' || attr('status') === '') continue;
    }
    const fail = /<(failure|error)\b[^>]*?message="([^"]*)"[^>]*>([\s\S]*?)<\/\1>/.exec(body);
    const skip = /<skipped\b[^>]*?message="([^"]*)"/.exec(body);
    const message = fail
      ? `${unescapeXml(fail[2] ?? '')}\n${unescapeXml(fail[3] ?? '').trim()}`
      : skip
        ? unescapeXml(skip[1] ?? '')
        : '';
    out.push({ name, status: attr('status') || (fail ? 'failed' : skip ? 'skipped' : 'passed'), message });
  }
  return out;
}

/** csi-sanity's suite timeout (minutes), a third of its default. */
const SUITE_TIMEOUT_MIN = 20;
/** The vitest timeout of a test that runs csi-sanity: the suite timeout, its grace and teardown. */
export const SANITY_TEST_TIMEOUT_MS = (SUITE_TIMEOUT_MIN + 4) * 60_000;

/**
 * Makes the VG, starts the plugin (waits for Probe ready, as a CO does), runs
 * csi-sanity against it and tears everything down. The plain ginkgo output
 * goes to $VM_OUT/sanity-<label>.log as it comes (tail it from the host), the
 * plugin's log to $VM_OUT/sanity-<label>.plugin.log, also as it comes.
 */
export async function runSanity(run: SanityRun): Promise<SanityResult> {
  const bin = sanityBinary();
  if (!existsSync(bin))
    throw new Error(
      `csi-sanity not found at ${bin}: put the v5.4.0 binary there (../shared/tools/csi-sanity beside the repo) or set CSI_SANITY`,
    );
  const vg = `sanity${run.label}vg`;
  const work = mkdtempSync(`/tmp/sanity-${run.label}-`);
  const outDir = process.env['VM_OUT'] || work;
  const logFile = join(outDir, `sanity-${run.label}.log`);
  const junit = join(outDir, `sanity-${run.label}.junit.xml`);
  const pluginLog = join(outDir, `sanity-${run.label}.plugin.log`);
  const kubelet = join(work, 'kubelet');
  mkdirSync(kubelet);
  let p: PluginProcess | undefined;
  makeVg(vg, disks.slice(0, 4));
  try {
    p = await startPlugin(
      [
        '--mode',
        'all',
        ...PUBLISH_WITHOUT_CHAP,
        '--volume-group',
        vg,
        '--thin-pool',
        'pool',
        '--thin-pool-percent',
        '50',
        '--default-volume-size',
        `${run.sizeMiB}M`,
        '--portals',
        '127.0.0.1:3260',
        '--kubelet-dir',
        kubelet,
        '--node-id',
        'sanity-node',
        // csi-sanity does not retry: a call that finds a background copy or wipe running
        // answers ABORTED after --job-wait-seconds (a CO retries it). 60 s covers a 64 MiB
        // wipe under software emulation.
        '--job-wait-seconds',
        '60',
        ...(run.maxVolumesPerNode ? ['--max-volumes-per-node', String(run.maxVolumesPerNode)] : []),
      ],
      { logFile: pluginLog },
    );
    const args = [
      `-csi.endpoint=unix://${p.sock}`,
      `-csi.stagingdir=${join(work, 'staging')}`,
      `-csi.mountdir=${join(work, 'mount')}`,
      `-csi.testvolumesize=${run.sizeMiB * MiB}`,
      `-csi.testvolumeexpandsize=${run.expandMiB * MiB}`,
      `-ginkgo.junit-report=${junit}`,
      '-ginkgo.no-color',
      '-ginkgo.v',
      // a call that never returns fails the suite in 20 minutes (ginkgo's default is an hour),
      // and a spec running past 2 minutes prints where it waits, once a minute
      `-ginkgo.timeout=${SUITE_TIMEOUT_MIN}m`,
      '-ginkgo.poll-progress-after=120s',
      '-ginkgo.poll-progress-interval=60s',
    ];
    if (run.parameters) {
      const file = join(work, 'parameters.yaml');
      writeFileSync(
        file,
        Object.entries(run.parameters)
          .map(([k, v]) => `${k}: ${JSON.stringify(v)}\n`)
          .join(''),
      );
      args.push(`-csi.testvolumeparameters=${file}`);
    }
    if (run.maxVolumesPerNode) args.push('-csi.testnodevolumeattachlimit');
    for (const f of run.focus ?? []) args.push(`-ginkgo.focus=${f}`);
    const log = createWriteStream(logFile);
    log.write(`$ ${bin} ${args.join(' ')}\n`);
    const started = Date.now();
    let text = '';
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(bin, args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, GINKGO_NO_COLOR: 'TRUE' },
      });
      const take = (d: Buffer) => {
        text += d.toString();
        log.write(d);
      };
      child.stdout.on('data', take);
      child.stderr.on('data', take);
      child.on('error', reject);
      child.on('close', (code) => resolve(code));
    });
    const seconds = Math.round((Date.now() - started) / 1000);
    log.write(`\n[exit ${exitCode}, ${seconds} s]\n(the plugin's log, as it came: ${pluginLog})\n`);
    await new Promise((r) => log.end(r));
    const ranLine = /Ran \d+ of \d+ Specs? in [\d.]+ seconds/.exec(text)?.[0] ?? '';
    const summaryLine =
      /(SUCCESS|FAIL)! -- \d+ Passed \| \d+ Failed \| \d+ Pending \| \d+ Skipped/.exec(text)?.[0] ?? '';
    const specs = existsSync(junit) ? parseJunit(readFileSync(junit, 'utf8')) : [];
    return { exitCode, ranLine, summaryLine, specs, seconds, logFile };
  } finally {
    if (p) await p.stop();
    shStatus(['iscsiadm', '-m', 'node', '--logoutall=all']);
    destroyVg(vg);
  }
}

/**
 * Skips that are fine: each is a capability the plugin does not advertise (see
 * test/vm/README.md, "Conformance tier"). csi-sanity words them as below
 * (ginkgo's JUnit message is "skipped - <reason>").
 */
const ALLOWED_SKIPS: Array<{ reason: RegExp; why: string }> = [
  {
    reason: /^skipped - (Controller)?Modify ?Volume not supported$/i,
    why: 'no MODIFY_VOLUME controller capability (ControllerModifyVolume, VolumeAttributesClass)',
  },
  {
    reason: /^skipped - GroupControllerService not supported$/,
    why: 'no GROUP_CONTROLLER_SERVICE plugin capability (volume group snapshots)',
  },
];
/** Specs csi-sanity v5.4.0 itself marks pending (XIt). */
const ALLOWED_PENDING = [/ListVolumes pagination should detect volumes added between pages/];

/** Specs that make the run fail: failed, or skipped/pending for a reason not allowed above. */
export function unexpectedSpecs(r: SanityResult, focused: boolean): string[] {
  const bad: string[] = [];
  for (const s of r.specs) {
    if (s.status === 'passed') continue;
    if (s.status === 'skipped' && focused && (s.message === 'skipped' || s.message === '')) continue; // not in the focus
    if (s.status === 'skipped' && ALLOWED_SKIPS.some((a) => a.reason.test(s.message))) continue;
    if (s.status === 'pending' && ALLOWED_PENDING.some((re) => re.test(s.name))) continue;
    bad.push(`${s.status.toUpperCase()} ${s.name}: ${s.message.split('\n').slice(0, 3).join(' / ')}`);
  }
  return bad;
}

/** The report printed to the test log: summary line, every skip and every failure with its message. */
export function describeResult(label: string, r: SanityResult): string {
  const lines = [
    `csi-sanity ${label}: ${r.ranLine || '(no "Ran" line)'} -- ${r.summaryLine || '(no summary line)'} [exit ${r.exitCode}, ${r.seconds} s, log ${r.logFile}]`,
  ];
  const notFocused = r.specs.filter(
    (x) => x.status === 'skipped' && (x.message === 'skipped' || x.message === ''),
  ).length;
  if (notFocused) lines.push(`  (${notFocused} specs outside -ginkgo.focus)`);
  for (const s of r.specs.filter(
    (x) => (x.status === 'skipped' && x.message !== 'skipped' && x.message !== '') || x.status === 'pending',
  ))
    lines.push(`  ${s.status.toUpperCase()}: ${s.name}${s.message ? ` (${s.message.split('\n')[0]})` : ''}`);
  for (const s of r.specs.filter((x) => x.status !== 'passed' && x.status !== 'skipped' && x.status !== 'pending'))
    lines.push(`  ${s.status.toUpperCase()}: ${s.name}\n    ${s.message.replace(/\n/g, '\n    ')}`);
  return lines.join('\n');
}
