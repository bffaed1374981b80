// `sluice abort NAME...`: Argo's abort, `{"status":{"abort":true}}` on the status subresource. The
// controller sends traffic back to stable and scales the canary down; spec.template stays the new
// version, so `retry` resumes it and `undo` reverts it.

import { examplesHelp } from '../command-table.ts';
import { abortRollout } from './actions.ts';
import { type CliIo, KUBE_FLAGS_USAGE } from './command.ts';
import { changeEach, parseVerb } from './verb.ts';

export const ABORT_USAGE = `Abort a rollout: stop progressing the current rollout and revert all steps. The
previous ReplicaSet will be active. spec.template still holds the new version: 'retry' resumes it, and
updating spec.template back (e.g. 'undo') fully reverts.

Usage:
  sluice abort ROLLOUT_NAME...
${KUBE_FLAGS_USAGE}${examplesHelp('abort')}`;

// Deliberately parallel to pause.ts (and retry.ts, terminate.ts): each such verb is its usage text and
// one parseVerb + changeEach call; what they share is written once in verb.ts.
export async function runAbort(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseVerb(argv, io, ABORT_USAGE, 'abort', { names: 'some' });
  if (typeof args === 'number') return args;
  return changeEach(io, args.kube, args.positionals, 'rollout', 'aborted', (api, name) =>
    abortRollout(api, api.namespace, name),
  );
}
