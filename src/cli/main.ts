// The `sluice` process (also installed as the kubectl plugin `kubectl-sluice`): runs the command line
// (dispatch.ts) and exits with its code.

import { basename } from 'node:path';
import { runSluice } from './dispatch.ts';
import { execProxySettings } from './proxy-exec.ts';

// Installed as the kubectl plugin `kubectl-sluice`, the same binary is run as `kubectl sluice ...`.
const PROGRAM = basename(process.argv[1] ?? '').startsWith('kubectl-sluice') ? 'kubectl sluice' : 'sluice';

// `sluice proxy` needs V8 and malloc settings that only apply at process start (proxy-exec.ts).
execProxySettings(process.argv.slice(2));

runSluice(process.argv.slice(2), PROGRAM).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`sluice: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
