import { defineConfig } from 'vitest/config';

// Three tiers, each a vitest project:
//   unit        pure code and command-driving code against the scripted FakeRunner (host)
//   integration the real executable over its real gRPC socket (host, no device-mapper needed)
//   vm          real LVM / LIO / open-iscsi; runs only inside the qemu guest (test/vm/harness)
// The guest projects (vm, vm-reboot, kube, bench) share one kernel's LVM, LIO and iSCSI state: their
// files run one at a time. vitest honours that only from the command line (fileParallelism is not
// a project option), so every script that runs them passes --no-file-parallelism.
export default defineConfig({
  test: {
    projects: [
      // 30 s: schema compiles and openssl runs take seconds when the host's two cores are busy (guests running)
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'vm',
          include: ['test/vm/**/*.test.ts'],
          environment: 'node',
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
      // npm run bench (test/bench/run.mjs) runs this one inside the guest; never part of npm test
      {
        test: {
          name: 'bench',
          include: ['test/bench/**/*.bench.ts'],
          environment: 'node',
          testTimeout: 6 * 3600_000,
          hookTimeout: 600_000,
        },
      },
      {
        // test/kube: one cluster per file inside the guest (test/kube/run.sh boots it)
        test: {
          name: 'kube',
          include: ['test/kube/**/*.test.ts'],
          environment: 'node',
          // independent scenarios run concurrently (test/kube/kube.test.ts): all of them at once
          maxConcurrency: 32,
          testTimeout: 900_000,
          hookTimeout: 1_500_000,
        },
      },
      {
        test: {
          name: 'vm-reboot',
          include: ['test/vm-reboot/**/*.test.ts'],
          environment: 'node',
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
