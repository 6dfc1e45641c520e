/**
 * Conformance tier, thick volumes: csi-sanity v5.4.0 with
 * `-csi.testvolumeparameters` {lvmType: thick}, 32 MiB volumes expanded to
 * 64 MiB, focused on the Controller specs where thick volumes take other code
 * paths than thin ones: create (empty, from a snapshot, from a volume), delete
 * (zeroed), snapshots (COW, zeroed on delete) and expansion. The whole suite on
 * thick volumes does not fit CI's time budget (every thick delete wipes the
 * LV); the thin run covers the rest. See sanity.ts and test/vm/README.md.
 */
import { describe, expect, it } from 'vitest';
import { inGuest } from './lib.js';
import { describeResult, runSanity, SANITY_TEST_TIMEOUT_MS, unexpectedSpecs } from './sanity.js';

export const THICK_FOCUS = [
  '\\[Controller Server\\] (CreateVolume|DeleteVolume) ',
  '(CreateSnapshot|DeleteSnapshot|ExpandVolume) \\[Controller Server\\]',
];

describe.runIf(inGuest)('csi-sanity v5.4.0: thick volumes (lvmType: thick), Controller specs', () => {
  it(
    '0 Failed; skipped only where the plugin does not advertise the capability',
    async () => {
      const r = await runSanity({
        label: 'thick',
        parameters: { lvmType: 'thick' },
        focus: THICK_FOCUS,
        sizeMiB: 32,
        expandMiB: 64,
      });
      console.log(describeResult('thick', r));
      expect(r.specs.filter((s) => s.status === 'passed').length, `no spec passed (log ${r.logFile})`).toBeGreaterThan(
        0,
      );
      expect(unexpectedSpecs(r, true)).toEqual([]);
      expect(r.summaryLine).toMatch(/^SUCCESS! -- \d+ Passed \| 0 Failed \| \d+ Pending \| \d+ Skipped$/);
      expect(r.exitCode).toBe(0);
    },
    SANITY_TEST_TIMEOUT_MS,
  );
});
