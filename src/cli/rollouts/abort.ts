// `sluice abort NAME...`: Argo's abort, `{"status":{"abort":true}}` on the status subresource. The
// controller sends traffic back to stable and scales the canary down; spec.template stays the new
// version, so `retry` resumes it and `undo` reverts it.

import {
  type CliIo,
  EXIT_OK,
  helpOrUsageExit,
  KUBE_FLAGS_USAGE,
  parseOrUsage,
  usageError,
  withApi,
} from './command.ts';
import { ABORT_PATCH } from './patches.ts';
import { patchRolloutStatus } from './status-patch.ts';

export const ABORT_USAGE = `Abort a rollout: stop progressing the current rollout and revert all steps. The
previous ReplicaSet will be active. spec.template still holds the new version: 'retry' resumes it, and
updating spec.template back (e.g. 'undo') fully reverts.

Usage:
  sluice abort ROLLOUT_NAME...
${KUBE_FLAGS_USAGE}`;

export async function runAbort(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseOrUsage(argv, {}, ABORT_USAGE, io);
  if (args === undefined) return helpOrUsageExit(argv);
  if (args.positionals.length === 0) return usageError(io, 'abort needs a ROLLOUT_NAME', ABORT_USAGE);
  return withApi(io, args.kube, async (api) => {
    for (const name of args.positionals) {
      const ro = await patchRolloutStatus(api, name, ABORT_PATCH);
      io.out(`rollout '${ro.metadata.name}' aborted\n`);
    }
    return EXIT_OK;
  });
}
