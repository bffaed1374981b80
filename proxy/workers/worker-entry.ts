// The module node:cluster runs in each worker of `sluice proxy --workers N` (see worker.ts).

import { runWorker } from './worker.ts';

runWorker();
