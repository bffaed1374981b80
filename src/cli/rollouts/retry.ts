// `sluice retry rollout NAME...` (also `retry ro|rollouts`): Argo's retry, `{"status":{"abort":false}}`
// on the status subresource. Experiments are not reconciled by Sluice yet, so `retry experiment` is
// refused with a clear message.

import {
  type CliIo,
  EXIT_OK,
  helpOrUsageExit,
  KUBE_FLAGS_USAGE,
  parseOrUsage,
  usageError,
  withApi,
} from './command.ts';
import { RETRY_ROLLOUT_PATCH } from './patches.ts';
import { patchRolloutStatus } from './status-patch.ts';

export const RETRY_USAGE = `Retry an aborted rollout.

Usage:
  sluice retry rollout ROLLOUT_NAME...
${KUBE_FLAGS_USAGE}`;

const ROLLOUT_ALIASES = new Set(['rollout', 'rollouts', 'ro']);

export async function runRetry(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseOrUsage(argv, {}, RETRY_USAGE, io);
  if (args === undefined) return helpOrUsageExit(argv);
  const [what, ...names] = args.positionals;
  if (what === undefined) return usageError(io, 'retry needs a resource type: rollout', RETRY_USAGE);
  if (!ROLLOUT_ALIASES.has(what)) {
    return usageError(io, `retry: unsupported resource type "${what}" (supported: rollout)`, RETRY_USAGE);
  }
  if (names.length === 0) return usageError(io, 'retry rollout needs a ROLLOUT_NAME', RETRY_USAGE);
  return withApi(io, args.kube, async (api) => {
    for (const name of names) {
      const ro = await patchRolloutStatus(api, name, RETRY_ROLLOUT_PATCH);
      io.out(`rollout '${ro.metadata.name}' retried\n`);
    }
    return EXIT_OK;
  });
}
