// Vitest configuration for the tests that need the Kubernetes control plane (until they are a project of
// the root config): `npx vitest run --config test/cluster/vitest.config.ts`.

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/integration/cluster-*.test.ts', 'test/integration/crds*.test.ts'],
    globalSetup: ['test/cluster/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
