// `sluice undo NAME [--to-revision N]`: Argo's undo. Finds the ReplicaSet of revision N (default: the
// previous revision) among the ReplicaSets the Rollout controls, and unless the current template already
// matches it, restores its pod template (minus the pod-template-hash label) with a JSON patch replacing
// /spec/template, on the Rollout or on its workloadRef Deployment.

import { commandFlags, examplesHelp } from '../command-table.ts';
import { stringFlag } from '../flags.ts';
import { undoRollout } from './actions.ts';
import {
  type CliIo,
  EXIT_ERROR,
  EXIT_OK,
  helpOrUsageExit,
  KUBE_FLAGS_USAGE,
  parseOrUsage,
  usageError,
  withApi,
} from './command.ts';

export const UNDO_USAGE = `Undo a rollout: roll back to the previous revision.

Usage:
  sluice undo ROLLOUT_NAME [--to-revision N]

Flags:
      --to-revision N   the revision to roll back to (default 0: the previous revision)
${KUBE_FLAGS_USAGE}${examplesHelp('undo')}`;

const FLAGS = commandFlags('undo');

export async function runUndo(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseOrUsage(argv, FLAGS, UNDO_USAGE, io);
  if (args === undefined) return helpOrUsageExit(argv);
  if (args.positionals.length !== 1) return usageError(io, 'undo needs exactly one ROLLOUT_NAME', UNDO_USAGE);
  const name = args.positionals[0]!;
  const toRevisionFlag = stringFlag(args.values, 'to-revision');
  let toRevision = 0;
  if (toRevisionFlag !== undefined) {
    if (!/^\d+$/.test(toRevisionFlag)) {
      return usageError(
        io,
        `--to-revision: must be a non-negative integer, got "${toRevisionFlag}"`,
        UNDO_USAGE,
      );
    }
    toRevision = Number(toRevisionFlag);
  }
  return withApi(io, args.kube, async (api) => {
    const undone = await undoRollout(api, api.namespace, name, toRevision);
    if (!undone.ok) {
      io.err(`Error: ${undone.error}\n`);
      return EXIT_ERROR;
    }
    if (undone.value.kind === 'skipped') {
      io.out(`skipped rollback (current template already matches revision ${undone.value.revision})\n`);
      return EXIT_OK;
    }
    io.out(`rollout '${undone.value.rollout.metadata.name}' undo\n`);
    return EXIT_OK;
  });
}
