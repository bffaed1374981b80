// `npm run cluster:down`: stops every process of the cluster recorded in .cluster/state.json (by pid, after
// checking each pid still runs the recorded command) and removes the state directory. Safe to run twice.
//
//   node test/cluster/down.ts [--dir .cluster]

import { parseArgs } from 'node:util';
import { stopCluster, withClusterLock } from './control-plane.ts';
import { defaultStateDir } from './paths.ts';

const { values } = parseArgs({ options: { dir: { type: 'string' } } });
const stateDir = values.dir ?? defaultStateDir();
try {
  await withClusterLock(stateDir, () => stopCluster(stateDir));
  process.stdout.write('cluster stopped\n');
} catch (error) {
  process.stderr.write(`cluster:down failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
