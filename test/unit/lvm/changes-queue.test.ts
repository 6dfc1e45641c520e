import { describe, expect, it } from 'vitest';
import type { CommandRunner, RunOptions, RunResult } from '../../../src/exec/runner.js';
import { Lvm, LVM_CHANGES, LVM_CHANGES_AT_ONCE } from '../../../src/lvm/lvm.js';
import { lvmSettings } from '../../../src/lvm/settings.js';

/** A runner whose commands take `ms` and that records how many run at once. */
class SlowRunner implements CommandRunner {
  running = 0;
  most = 0;
  readonly started: string[] = [];
  /** The --name of each command, in start order. */
  readonly names: string[] = [];
  /** forceKill as each command was given it, by program. */
  readonly forceKill: Array<[string, boolean | undefined]> = [];
  constructor(private readonly ms: number) {}
  async run(argv: readonly string[], o?: RunOptions): Promise<RunResult> {
    this.started.push(argv[0] ?? '');
    this.names.push(argv[argv.indexOf('--name') + 1] ?? '');
    this.forceKill.push([argv[0] ?? '', o?.forceKill]);
    this.running++;
    this.most = Math.max(this.most, this.running);
    await new Promise((r) => setTimeout(r, this.ms));
    this.running--;
    if (o?.signal?.aborted) throw new Error('ran although cancelled');
    const stdout = argv[0] === 'lvs' ? '{"report":[{"lv":[]}]}' : argv[0] === 'vgs' ? '{"report":[{"vg":[]}]}' : '';
    return { stdout, stderr: '', exitCode: 0, durationMs: this.ms };
  }
}

describe('LVM changes run at most LVM_CHANGES_AT_ONCE at a time (LVM_CHANGES)', () => {
  it('concurrent lvcreates: at most three at once, started in call order', async () => {
    const runner = new SlowRunner(20);
    const lvm = new Lvm(runner, lvmSettings());
    await Promise.all(
      Array.from({ length: 8 }, (_, i) => lvm.createThin('vg0', 'pool', `lv${i}`, 64 * 1024 * 1024, [])),
    );
    expect(LVM_CHANGES_AT_ONCE).toBe(3);
    expect(runner.most).toBe(LVM_CHANGES_AT_ONCE);
    expect(runner.names).toEqual(Array.from({ length: 8 }, (_, i) => `lv${i}`));
  });

  it('reports do not queue behind a change', async () => {
    const runner = new SlowRunner(30);
    const lvm = new Lvm(runner, lvmSettings());
    await Promise.all([
      lvm.createThin('vg0', 'pool', 'a', 64 * 1024 * 1024, []),
      lvm.listLvs('vg0'),
      lvm.listVgs(['vg0']),
    ]);
    expect(runner.most).toBe(3);
  });

  it('a call cancelled while queued runs nothing', async () => {
    const runner = new SlowRunner(50);
    const lvm = new Lvm(runner, lvmSettings());
    const ac = new AbortController();
    const running = Array.from({ length: LVM_CHANGES_AT_ONCE }, (_, i) =>
      lvm.createThin('vg0', 'pool', `a${i}`, 64 * 1024 * 1024, []),
    );
    const queued = lvm.remove('vg0', 'b', { signal: ac.signal });
    await new Promise((r) => setTimeout(r, 10));
    expect(LVM_CHANGES.queued).toBe(1);
    ac.abort();
    await expect(queued).rejects.toMatchObject({ name: 'AbortError' });
    await Promise.all(running);
    expect(runner.started).toEqual(Array.from({ length: LVM_CHANGES_AT_ONCE }, () => 'lvcreate'));
  });

  it('a change is never sent SIGKILL (forceKill false); reports may be', async () => {
    const runner = new SlowRunner(1);
    const lvm = new Lvm(runner, lvmSettings());
    await lvm.createThin('vg0', 'pool', 'a', 64 * 1024 * 1024, []);
    await lvm.remove('vg0', 'a');
    await lvm.listLvs('vg0');
    await lvm.listVgs(['vg0']);
    expect(runner.forceKill).toEqual([
      ['lvcreate', false],
      ['lvremove', false],
      ['lvs', undefined],
      ['vgs', undefined],
    ]);
  });
});
