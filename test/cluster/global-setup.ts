// Vitest global setup for tests that need the Kubernetes control plane: ensures one cluster runs for the
// whole test run (reusing one started by `npm run cluster:up`, or starting it and building the binaries
// first when the cache is empty) and exposes its kubeconfig path as SLUICE_TEST_KUBECONFIG to the test
// workers. A cluster this setup started is stopped at the end; a reused one is left running.

import { ensureCluster, stopCluster } from './control-plane.ts';
import { defaultStateDir } from './paths.ts';

export const KUBECONFIG_ENV = 'SLUICE_TEST_KUBECONFIG';

export default async function setup(): Promise<() => Promise<void>> {
  const stateDir = defaultStateDir();
  const { state, started } = await ensureCluster({ stateDir });
  process.env[KUBECONFIG_ENV] = state.kubeconfig;
  return async () => {
    if (started) await stopCluster(stateDir);
  };
}
