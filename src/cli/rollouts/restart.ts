// `sluice restart NAME [-i/--in 30s]`: Argo's restart, a merge patch setting spec.restartAt to now (+in),
// RFC 3339 UTC to the second, with Argo's patch text. The controller then evicts pods older than that.

import { parsePauseDuration } from '../../api/rollout-validation.ts';
import { commandFlags, examplesHelp } from '../command-table.ts';
import { stringFlag } from '../flags.ts';
import { restartRollout } from './actions.ts';
import { type CliIo, EXIT_OK, KUBE_FLAGS_USAGE, usageError, withApi } from './command.ts';
import { parseVerb } from './verb.ts';

export const RESTART_USAGE = `Restart the pods of a rollout.

Usage:
  sluice restart ROLLOUT_NAME [--in 10s]

Flags:
  -i, --in DURATION   amount of time before the restart (e.g. 30s, 5m, 1h; a bare number is seconds)
${KUBE_FLAGS_USAGE}${examplesHelp('restart')}`;

const FLAGS = commandFlags('restart');

export async function runRestart(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseVerb(argv, io, RESTART_USAGE, 'restart', { flags: FLAGS, names: 'one' });
  if (typeof args === 'number') return args;
  const name = args.positionals[0]!;
  const inFlag = stringFlag(args.values, 'in');
  let delayMs = 0;
  if (inFlag !== undefined) {
    // Argo parses --in as a DurationString: int seconds or a Go duration.
    const parsed = parsePauseDuration(inFlag);
    if (!parsed.ok || parsed.ms < 0) {
      return usageError(
        io,
        `--in: invalid duration "${inFlag}"${parsed.ok ? ': must not be negative' : `: ${parsed.error}`}`,
        RESTART_USAGE,
      );
    }
    delayMs = parsed.ms;
  }
  return withApi(io, args.kube, async (api) => {
    const ro = await restartRollout(api, api.namespace, name, new Date(io.nowMs() + delayMs));
    io.out(`rollout '${ro.metadata.name}' restarts in ${inFlag ?? '0s'}\n`);
    return EXIT_OK;
  });
}
