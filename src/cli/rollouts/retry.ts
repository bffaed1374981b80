// `sluice retry rollout NAME...` (also `retry ro|rollouts`): Argo's retry, `{"status":{"abort":false}}`
// on the status subresource. `sluice retry experiment NAME...` (also `exp|experiments`): Argo's
// RetryExperiment, `{"status":null}` on the status subresource, so the Experiment starts again.

import type { Experiment } from '../../api/experiment.ts';
import {
  type CliIo,
  EXIT_OK,
  helpOrUsageExit,
  KUBE_FLAGS_USAGE,
  parseOrUsage,
  usageError,
  withApi,
} from './command.ts';
import { RETRY_EXPERIMENT_PATCH, RETRY_ROLLOUT_PATCH } from './patches.ts';
import { patchRolloutStatus } from './status-patch.ts';

export const RETRY_USAGE = `Retry an aborted rollout or a finished experiment.

Usage:
  sluice retry rollout ROLLOUT_NAME...
  sluice retry experiment EXPERIMENT_NAME...
${KUBE_FLAGS_USAGE}`;

const ROLLOUT_ALIASES = new Set(['rollout', 'rollouts', 'ro']);
const EXPERIMENT_ALIASES = new Set(['experiment', 'experiments', 'exp']);

export async function runRetry(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseOrUsage(argv, {}, RETRY_USAGE, io);
  if (args === undefined) return helpOrUsageExit(argv);
  const [what, ...names] = args.positionals;
  if (what === undefined) {
    return usageError(io, 'retry needs a resource type: rollout or experiment', RETRY_USAGE);
  }
  if (EXPERIMENT_ALIASES.has(what)) {
    if (names.length === 0) return usageError(io, 'retry experiment needs an EXPERIMENT_NAME', RETRY_USAGE);
    return withApi(io, args.kube, async (api) => {
      for (const name of names) {
        const ex = await api.patch<Experiment>(
          'Experiment',
          api.namespace,
          name,
          JSON.parse(RETRY_EXPERIMENT_PATCH),
          'merge',
          'status',
        );
        io.out(`experiment '${ex.metadata.name}' retried\n`);
      }
      return EXIT_OK;
    });
  }
  if (!ROLLOUT_ALIASES.has(what)) {
    return usageError(
      io,
      `retry: unsupported resource type "${what}" (supported: rollout, experiment)`,
      RETRY_USAGE,
    );
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
