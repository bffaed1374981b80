// `sluice retry rollout NAME...` (also `retry ro|rollouts`): Argo's retry, `{"status":{"abort":false}}`
// on the status subresource. `sluice retry experiment NAME...` (also `exp|experiments`): Argo's
// RetryExperiment, `{"status":null}` on the status subresource, so the Experiment starts again.

import type { Experiment } from '../../api/experiment.ts';
import { examplesHelp } from '../command-table.ts';
import { retryRollout } from './actions.ts';
import { type CliIo, KUBE_FLAGS_USAGE, usageError } from './command.ts';
import { RETRY_EXPERIMENT_PATCH } from './patches.ts';
import { changeEach, parseVerb, ROLLOUT_ALIASES, resourceTypeError } from './verb.ts';

export const RETRY_USAGE = `Retry an aborted rollout or a finished experiment.

Usage:
  sluice retry rollout ROLLOUT_NAME...
  sluice retry experiment EXPERIMENT_NAME...
${KUBE_FLAGS_USAGE}${examplesHelp('retry')}`;

const EXPERIMENT_ALIASES = new Set(['experiment', 'experiments', 'exp']);

export async function runRetry(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseVerb(argv, io, RETRY_USAGE, 'retry');
  if (typeof args === 'number') return args;
  const [what, ...names] = args.positionals;
  if (what !== undefined && EXPERIMENT_ALIASES.has(what)) {
    if (names.length === 0) return usageError(io, 'retry experiment needs an EXPERIMENT_NAME', RETRY_USAGE);
    return changeEach(io, args.kube, names, 'experiment', 'retried', (api, name) =>
      api.patch<Experiment>(
        'Experiment',
        api.namespace,
        name,
        JSON.parse(RETRY_EXPERIMENT_PATCH),
        'merge',
        'status',
      ),
    );
  }
  if (what === undefined || !ROLLOUT_ALIASES.has(what)) {
    return resourceTypeError(io, 'retry', what, ['rollout', 'experiment'], RETRY_USAGE);
  }
  if (names.length === 0) return usageError(io, 'retry rollout needs a ROLLOUT_NAME', RETRY_USAGE);
  return changeEach(io, args.kube, names, 'rollout', 'retried', (api, name) =>
    retryRollout(api, api.namespace, name),
  );
}
