// `sluice list rollouts [--name N] [-A] [-w] [--timestamps]` (also `list rollout|ro`): Argo's table
// NAME STRATEGY STATUS STEP SET-WEIGHT READY DESIRED UP-TO-DATE AVAILABLE, with its column padding.
// --watch prints a new line for a rollout whenever its row changes.

import { canarySteps, currentSetWeight, type Rollout } from '../../api/rollout.ts';
import { getRolloutPhase } from '../../rollout/phase.ts';
import { commandFlags, examplesHelp } from '../command-table.ts';
import { boolFlag, stringFlag } from '../flags.ts';
import { type CliIo, EXIT_OK, KUBE_FLAGS_USAGE, usageError, withApi } from './command.ts';
import { ListWatch } from './list-watch.ts';
import { tabulate } from './tree.ts';
import { parseVerb, ROLLOUT_ALIASES, resourceTypeError } from './verb.ts';

export const LIST_USAGE = `List rollouts in a namespace (the current one unless -n or -A).

Usage:
  sluice list rollouts [--all-namespaces] [--name NAME] [--watch] [--timestamps]

Flags:
  -A, --all-namespaces   include all namespaces
      --name NAME        only show the rollout with this name
  -w, --watch            watch for changes
      --timestamps       print timestamps on updates
${KUBE_FLAGS_USAGE}${examplesHelp('list')}`;

const FLAGS = commandFlags('list');

export interface RolloutRow {
  namespace: string;
  name: string;
  strategy: string;
  status: string;
  step: string;
  setWeight: string;
  readyCurrent: string;
  desired: number;
  upToDate: number;
  available: number;
}

/** Argo's newRolloutInfo (cmd/list/rollloutinfo.go). */
export function rolloutRow(ro: Rollout): RolloutRow {
  const status = ro.status ?? {};
  const row: RolloutRow = {
    namespace: ro.metadata.namespace ?? '',
    name: ro.metadata.name,
    strategy: 'unknown',
    status: getRolloutPhase(ro).phase,
    step: '-',
    setWeight: '-',
    readyCurrent: `${status.readyReplicas ?? 0}/${status.replicas ?? 0}`,
    desired: ro.spec.replicas ?? 1,
    upToDate: status.updatedReplicas ?? 0,
    available: status.availableReplicas ?? 0,
  };
  if (ro.spec.strategy.canary) {
    row.strategy = 'Canary';
    const steps = canarySteps(ro);
    if (status.currentStepIndex !== undefined && steps.length > 0)
      row.step = `${status.currentStepIndex}/${steps.length}`;
    row.setWeight = String(currentSetWeight(ro));
  } else if (ro.spec.strategy.blueGreen) {
    row.strategy = 'BlueGreen';
  }
  return row;
}

export const LIST_HEADER = 'NAME\tSTRATEGY\tSTATUS\tSTEP\tSET-WEIGHT\tREADY\tDESIRED\tUP-TO-DATE\tAVAILABLE';

/** One row with Argo's columnFmtString padding (`%-10s\t%-9s\t%-12s\t...%-9d`), tabs kept for tabulate. */
export function rowLine(row: RolloutRow, options: { namespace: boolean; timestamp?: string }): string {
  const cells = [
    row.name.padEnd(10),
    row.strategy.padEnd(9),
    row.status.padEnd(12),
    row.step.padEnd(4),
    row.setWeight.padEnd(10),
    row.readyCurrent.padEnd(5),
    String(row.desired).padEnd(7),
    String(row.upToDate).padEnd(10),
    String(row.available).padEnd(9),
  ];
  if (options.namespace) cells.unshift(row.namespace.padEnd(9));
  if (options.timestamp !== undefined) cells.unshift(options.timestamp.padEnd(20));
  return cells.join('\t');
}

export function headerLine(options: { namespace: boolean; timestamps: boolean }): string {
  let header = LIST_HEADER;
  if (options.namespace) header = `NAMESPACE\t${header}`;
  if (options.timestamps) header = `TIMESTAMP\t${header}`;
  return header;
}

function timestamp(nowMs: number): string {
  return `${new Date(Math.floor(nowMs / 1000) * 1000).toISOString().slice(0, 19)}Z`;
}

export async function runList(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseVerb(argv, io, LIST_USAGE, 'list', { flags: FLAGS });
  if (typeof args === 'number') return args;
  const [what, ...extra] = args.positionals;
  if (what === undefined || !ROLLOUT_ALIASES.has(what)) {
    return resourceTypeError(io, 'list', what, ['rollouts'], LIST_USAGE);
  }
  if (extra.length > 0)
    return usageError(io, `list rollouts takes no arguments, got "${extra.join(' ')}"`, LIST_USAGE);
  const all = boolFlag(args.values, 'all-namespaces');
  const watch = boolFlag(args.values, 'watch');
  const timestamps = boolFlag(args.values, 'timestamps');
  const nameFilter = stringFlag(args.values, 'name');
  const query = nameFilter === undefined ? {} : { fieldSelector: `metadata.name=${nameFilter}` };
  return withApi(io, args.kube, async (api) => {
    const namespace = all ? undefined : api.namespace;
    const stamp = (): string | undefined => (timestamps ? timestamp(io.nowMs()) : undefined);
    const listed = await api.list<Rollout>('Rollout', namespace, query);
    if (listed.items.length === 0 && !watch) {
      io.err('No resources found.\n');
      return EXIT_OK;
    }
    const lines = [headerLine({ namespace: all, timestamps })];
    for (const ro of listed.items)
      lines.push(rowLine(rolloutRow(ro), { namespace: all, timestamp: stamp() }));
    io.out(tabulate(lines));
    if (!watch) return EXIT_OK;
    const previous = new Map(
      listed.items.map((ro) => [
        `${ro.metadata.namespace}/${ro.metadata.name}`,
        JSON.stringify(rolloutRow(ro)),
      ]),
    );
    const watcher = new ListWatch<Rollout>(api, 'Rollout', namespace, query, (type, ro) => {
      if (type === 'DELETED') return;
      const row = rolloutRow(ro);
      const key = `${row.namespace}/${row.name}`;
      const json = JSON.stringify(row);
      if (previous.get(key) === json) return;
      previous.set(key, json);
      // Argo keeps one tabwriter for the updates; each line is padded by its fixed column formats.
      io.out(tabulate([rowLine(row, { namespace: all, timestamp: stamp() })]));
    });
    await (await watcher.start(io.signal)).done;
    return EXIT_OK;
  });
}
