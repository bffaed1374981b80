// `sluice pause NAME...`: Argo's pause, a merge patch `{"spec":{"paused":true}}` on the Rollout.

import type { Rollout } from '../../api/rollout.ts';
import {
  type CliIo,
  EXIT_OK,
  helpOrUsageExit,
  KUBE_FLAGS_USAGE,
  parseOrUsage,
  usageError,
  withApi,
} from './command.ts';
import { PAUSE_PATCH } from './patches.ts';

export const PAUSE_USAGE = `Pause a rollout: set the rollout paused state to 'true'.

Usage:
  sluice pause ROLLOUT_NAME...
${KUBE_FLAGS_USAGE}`;

export async function runPause(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseOrUsage(argv, {}, PAUSE_USAGE, io);
  if (args === undefined) return helpOrUsageExit(argv);
  if (args.positionals.length === 0) return usageError(io, 'pause needs a ROLLOUT_NAME', PAUSE_USAGE);
  return withApi(io, args.kube, async (api) => {
    for (const name of args.positionals) {
      const ro = await api.patch<Rollout>('Rollout', api.namespace, name, JSON.parse(PAUSE_PATCH), 'merge');
      io.out(`rollout '${ro.metadata.name}' paused\n`);
    }
    return EXIT_OK;
  });
}
