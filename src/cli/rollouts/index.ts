// The rollout verbs of `sluice` / `kubectl sluice`, with the same verbs and arguments as Argo's plugin.
// main.ts dispatches here for every verb listed in ROLLOUT_VERBS.

import { runAbort } from './abort.ts';
import type { CliIo } from './command.ts';
import { runGet } from './get.ts';
import { runLint } from './lint.ts';
import { runList } from './list.ts';
import { runPause } from './pause.ts';
import { runPromote } from './promote.ts';
import { runRestart } from './restart.ts';
import { runRetry } from './retry.ts';
import { runSet } from './set-image.ts';
import { runStatus } from './status.ts';
import { runUndo } from './undo.ts';

export type VerbRunner = (argv: readonly string[], io: CliIo) => Promise<number>;

export const ROLLOUT_VERBS: Readonly<Record<string, VerbRunner>> = {
  get: runGet,
  list: runList,
  promote: runPromote,
  abort: runAbort,
  retry: runRetry,
  pause: runPause,
  undo: runUndo,
  restart: runRestart,
  set: runSet,
  status: runStatus,
  lint: runLint,
};

export const ROLLOUT_VERBS_USAGE = `  get rollout NAME [-w]      the rollout's revisions, ReplicaSets, pods and analysis runs
  list rollouts [-A] [-w]    list rollouts
  promote NAME [--full]      promote a paused rollout (--full: skip all remaining steps)
  abort NAME                 abort a rollout: traffic back to stable
  retry rollout NAME         retry an aborted rollout
  pause NAME                 pause a rollout
  undo NAME [--to-revision N]  roll back to the previous (or given) revision
  restart NAME [--in 30s]    restart the pods of a rollout
  set image NAME CONTAINER=IMAGE  update the image of a rollout
  status NAME [--timeout 5m] wait until Healthy (exit 0) or Degraded/timeout (exit 1)
  lint -f FILE               validate the Rollouts in a file
`;

export function isRolloutVerb(verb: string): boolean {
  return Object.hasOwn(ROLLOUT_VERBS, verb);
}

export async function runRolloutVerb(verb: string, argv: readonly string[], io: CliIo): Promise<number> {
  const runner = ROLLOUT_VERBS[verb];
  if (runner === undefined) {
    io.err(`sluice: unknown command "${verb}"\n`);
    return 2;
  }
  return runner(argv, io);
}
