/**
 * Conformance tier, thin volumes: the whole csi-sanity v5.4.0 suite against the
 * plugin in `all` mode with default parameters (thin LVs), staging and mount
 * directories, 32 MiB volumes expanded to 64 MiB, an attach limit of 2. See
 * sanity.ts and test/vm/README.md ("Conformance tier").
 */
import { describe, expect, it } from 'vitest';
import { inGuest } from './lib.js';
import { describeResult, runSanity, SANITY_TEST_TIMEOUT_MS, unexpectedSpecs } from './sanity.js';

describe.runIf(inGuest)('csi-sanity v5.4.0: thin volumes (default parameters), full suite', () => {
  it(
    '0 Failed; skipped or pending only where the plugin does not advertise the capability',
    async () => {
      const r = await runSanity({ label: 'thin', sizeMiB: 32, expandMiB: 64, maxVolumesPerNode: 2 });
      console.log(describeResult('thin', r));
      expect(r.specs.length, `no specs in the JUnit report (log ${r.logFile})`).toBeGreaterThan(0);
      expect(unexpectedSpecs(r, false)).toEqual([]);
      expect(r.summaryLine).toMatch(/^SUCCESS! -- \d+ Passed \| 0 Failed \| \d+ Pending \| \d+ Skipped$/);
      expect(r.exitCode).toBe(0);
    },
    SANITY_TEST_TIMEOUT_MS,
  );
});
