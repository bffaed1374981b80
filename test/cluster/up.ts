// `npm run cluster:up`: builds the binaries if the cache is empty (progress shown), then starts etcd,
// kube-apiserver, kube-controller-manager and the pod-readiness simulator in the background and writes
// .cluster/kubeconfig. A healthy running cluster is reused; leftovers of a dead one are cleaned up first.
//
//   node test/cluster/up.ts [--dir .cluster]

import { parseArgs } from 'node:util';
import { ensureCluster } from './control-plane.ts';
import { defaultStateDir } from './paths.ts';

const { values } = parseArgs({ options: { dir: { type: 'string' } } });
const stateDir = values.dir ?? defaultStateDir();
const startedAtMs = Date.now();
try {
  const { state, started } = await ensureCluster({ stateDir });
  const seconds = ((Date.now() - startedAtMs) / 1000).toFixed(1);
  process.stdout.write(
    `${started ? `cluster started in ${seconds} s` : 'cluster already running'}: ${state.server}\n` +
      `export KUBECONFIG=${state.kubeconfig}\n`,
  );
} catch (error) {
  process.stderr.write(`cluster:up failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
