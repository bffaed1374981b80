import { configDefaults, defineConfig } from 'vitest/config';

// Tests that need the Kubernetes test control plane (test/cluster/): one cluster per run, started by
// the global setup (or the one `npm run cluster:up` started, which is then left running).
const CLUSTER_TESTS = [
  'test/integration/cluster/**/*.test.ts',
  'test/integration/crds/**/*.test.ts',
  'test/integration/kube/**/*.test.ts',
  'test/integration/controller/**/*.test.ts',
  'test/integration/cli/**/*.test.ts',
  'test/e2e/**/*.test.ts',
  'test/contract/kube-store.test.ts',
  'test/integration/deploy/apply.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'default',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...CLUSTER_TESTS],
          // Both cores for the files that need no cluster (vitest's default is cores - 1, one worker here),
          // and all of them before the cluster files start: the control plane then has the machine to itself.
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'cluster',
          include: CLUSTER_TESTS,
          sequence: { groupOrder: 1 },
          globalSetup: ['test/cluster/global-setup.ts'],
          // One cluster file at a time: each starts its own controller against one shared API server,
          // and on two cores parallel files starve the pod-readiness simulator.
          fileParallelism: false,
          testTimeout: 90_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
