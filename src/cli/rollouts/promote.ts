// `sluice promote NAME [--full]`: Argo's PromoteRollout. Reads the Rollout, computes the patches for its
// state (patches.ts promotePatches), sends the status patch to the status subresource first and the
// spec patch to the main resource; when the status subresource is not served it sends the unified
// patch instead. Deprecated -c/--skip-current-step and -a/--skip-all-steps are accepted as in Argo.

import { commandFlags, examplesHelp } from '../command-table.ts';
import { boolFlag } from '../flags.ts';
import { promoteRollout } from './actions.ts';
import { type CliIo, EXIT_ERROR, EXIT_OK, KUBE_FLAGS_USAGE, withApi } from './command.ts';
import { parseVerb } from './verb.ts';

export const PROMOTE_USAGE = `Promote a rollout: resume a rollout paused at a canary step or a paused blue-green
pre-promotion. To skip analysis, pauses and steps entirely, use '--full'.

Usage:
  sluice promote ROLLOUT_NAME [--full]

Flags:
      --full                  fully promote: skip the remaining steps, pauses and analysis
  -c, --skip-current-step     (deprecated) skip the current canary step
  -a, --skip-all-steps        (deprecated, use --full) skip the remaining steps
${KUBE_FLAGS_USAGE}${examplesHelp('promote')}`;

const FLAGS = commandFlags('promote');

export async function runPromote(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseVerb(argv, io, PROMOTE_USAGE, 'promote', { flags: FLAGS, names: 'one' });
  if (typeof args === 'number') return args;
  const name = args.positionals[0]!;
  const full = boolFlag(args.values, 'full');
  const options = {
    full,
    skipCurrentStep: boolFlag(args.values, 'skip-current-step'),
    skipAllSteps: boolFlag(args.values, 'skip-all-steps'),
  };
  if (options.skipCurrentStep)
    io.err(
      'Flag --skip-current-step has been deprecated, use without the flag instead ex: promote ROLLOUT_NAME\n',
    );
  if (options.skipAllSteps) io.err('Flag --skip-all-steps has been deprecated, use --full instead\n');
  return withApi(io, args.kube, async (api) => {
    const promoted = await promoteRollout(api, api.namespace, name, options);
    if (!promoted.ok) {
      io.err(`Error: ${promoted.error}\n`);
      return EXIT_ERROR;
    }
    const ro = promoted.value;
    io.out(
      full ? `rollout '${ro.metadata.name}' fully promoted\n` : `rollout '${ro.metadata.name}' promoted\n`,
    );
    return EXIT_OK;
  });
}
