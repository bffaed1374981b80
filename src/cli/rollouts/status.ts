// `sluice status NAME [-w/--watch=true] [-t/--timeout 0]`: Argo's status. Watches the Rollout and prints
// `Phase - message` whenever it changes, until Healthy (exit 0) or Degraded (exit 1, `Error: The rollout
// is in a degraded state with message: ...`); after --timeout it fails with `Error: Rollout status watch
// exceeded timeout` (exit 1). With --watch=false it prints the status once: exit 1 only when Degraded.

import { parseDuration } from '../../api/duration.ts';
import type { Rollout } from '../../api/rollout.ts';
import { getRolloutPhase } from '../../rollout/phase.ts';
import { commandFlags, examplesHelp } from '../command-table.ts';
import { boolFlag, stringFlag } from '../flags.ts';
import { type CliIo, EXIT_ERROR, EXIT_OK, KUBE_FLAGS_USAGE, usageError, withApi } from './command.ts';
import { ListWatch } from './list-watch.ts';
import { parseVerb } from './verb.ts';

export const STATUS_USAGE = `Show the status of a rollout. Watches the rollout until it is Healthy or Degraded or the
timeout passes: exits 0 when Healthy, 1 when Degraded or on timeout.

Usage:
  sluice status ROLLOUT_NAME [--timeout 5m] [--watch=false]

Flags:
  -w, --watch              watch until the rollout is done (default true; --watch=false prints once)
  -t, --timeout DURATION   give up after this long, e.g. 60s, 5m (default 0: wait forever)
${KUBE_FLAGS_USAGE}${examplesHelp('status')}`;

const FLAGS = commandFlags('status');

function line(status: { phase: string; message: string }): string {
  return status.message === '' ? status.phase : `${status.phase} - ${status.message}`;
}

export async function runStatus(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseVerb(argv, io, STATUS_USAGE, 'status', { flags: FLAGS, names: 'one' });
  if (typeof args === 'number') return args;
  const name = args.positionals[0]!;
  const watch = boolFlag(args.values, 'watch', true);
  const timeoutFlag = stringFlag(args.values, 'timeout') ?? '0';
  const timeout = parseDuration(timeoutFlag);
  if (!timeout.ok || timeout.ms < 0) {
    return usageError(io, `--timeout: invalid duration "${timeoutFlag}" (e.g. 30s, 5m, 1h)`, STATUS_USAGE);
  }
  return withApi(io, args.kube, async (api) => {
    let ro = await api.get<Rollout>('Rollout', api.namespace, name);
    let status = getRolloutPhase(ro);
    if (!watch) {
      io.out(
        status.phase === 'Healthy' || status.phase === 'Degraded' ? `${status.phase}\n` : `${line(status)}\n`,
      );
    } else {
      const controller = new AbortController();
      const stop = (): void => controller.abort();
      io.signal.addEventListener('abort', stop, { once: true });
      const timer = timeout.ms > 0 ? setTimeout(stop, timeout.ms) : undefined;
      let previous = '';
      const report = (current: Rollout): void => {
        ro = current;
        status = getRolloutPhase(current);
        const text = line(status);
        if (text !== previous) {
          io.out(`${text}\n`);
          previous = text;
        }
        if (status.phase === 'Healthy' || status.phase === 'Degraded') controller.abort();
      };
      try {
        const watcher = new ListWatch<Rollout>(
          api,
          'Rollout',
          api.namespace,
          { fieldSelector: `metadata.name=${name}` },
          (type, obj) => {
            if (type !== 'DELETED') report(obj);
          },
        );
        const { done } = await watcher.start(controller.signal);
        const first = watcher.values()[0];
        if (first !== undefined) report(first);
        await done;
      } finally {
        controller.abort();
        if (timer !== undefined) clearTimeout(timer);
        io.signal.removeEventListener('abort', stop);
      }
    }
    if (status.phase === 'Degraded') {
      io.err(`Error: The rollout is in a degraded state with message: ${status.message}\n`);
      return EXIT_ERROR;
    }
    if (status.phase !== 'Healthy' && watch) {
      io.err('Error: Rollout status watch exceeded timeout\n');
      return EXIT_ERROR;
    }
    return EXIT_OK;
  });
}
