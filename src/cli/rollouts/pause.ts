// `sluice pause NAME...`: Argo's pause, a merge patch `{"spec":{"paused":true}}` on the Rollout.

import type { Rollout } from '../../api/rollout.ts';
import { examplesHelp } from '../command-table.ts';
import { type CliIo, KUBE_FLAGS_USAGE } from './command.ts';
import { PAUSE_PATCH } from './patches.ts';
import { changeEach, parseVerb } from './verb.ts';

export const PAUSE_USAGE = `Pause a rollout: set the rollout paused state to 'true'.

Usage:
  sluice pause ROLLOUT_NAME...
${KUBE_FLAGS_USAGE}${examplesHelp('pause')}`;

export async function runPause(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseVerb(argv, io, PAUSE_USAGE, 'pause', { names: 'some' });
  if (typeof args === 'number') return args;
  return changeEach(io, args.kube, args.positionals, 'rollout', 'paused', (api, name) =>
    api.patch<Rollout>('Rollout', api.namespace, name, JSON.parse(PAUSE_PATCH), 'merge'),
  );
}
