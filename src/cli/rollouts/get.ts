// `sluice get rollout NAME [-w/--watch] [--no-color] [--timeout-seconds N]` (also `get ro|rollouts`):
// the header block, the Traffic section (the weights the routers' objects route, router-weights.ts) and
// the tree of revisions, ReplicaSets, pods and AnalysisRuns (info.ts, tree.ts).
// With --watch it follows the objects: on a terminal it redraws in place (at most every 200 ms, and every
// second so ages move, as Argo does); otherwise it prints the whole view again whenever it changes.

import type { KubeObject } from '../../api/meta.ts';
import type { Rollout } from '../../api/rollout.ts';
import type { ReplicaSet } from '../../api/workloads.ts';
import { commandFlags, examplesHelp } from '../command-table.ts';
import { boolFlag, stringFlag } from '../flags.ts';
import type { CliApi } from '../kube.ts';
import { type CliIo, EXIT_OK, KUBE_FLAGS_USAGE, usageError, withApi } from './command.ts';
import { type AnalysisRunObject, buildRolloutInfo } from './info.ts';
import { ListWatch, sleep } from './list-watch.ts';
import { TrafficWatch } from './router-weights.ts';
import { CLEAR_SCREEN, renderRollout } from './tree.ts';
import { parseVerb, ROLLOUT_ALIASES, resourceTypeError } from './verb.ts';

export const GET_USAGE = `Get details about and a visual representation of a rollout.

Usage:
  sluice get rollout ROLLOUT_NAME [--watch]

Flags:
  -w, --watch                 watch live updates to the rollout
      --no-color              do not colorize output
      --timeout-seconds N     with --watch, stop after N seconds (0: never)
${KUBE_FLAGS_USAGE}${examplesHelp('get')}`;

const FLAGS = commandFlags('get');

export const REDRAW_MIN_INTERVAL_MS = 200;
export const TICK_MS = 1_000;

async function snapshot(
  api: CliApi,
  name: string,
): Promise<{ ro: Rollout; rss: ReplicaSet[]; pods: KubeObject[]; runs: AnalysisRunObject[] }> {
  const ro = await api.get<Rollout>('Rollout', api.namespace, name);
  const [rss, pods, runs] = await Promise.all([
    api.list<ReplicaSet>('ReplicaSet', api.namespace),
    api.list<KubeObject>('Pod', api.namespace),
    api.list<AnalysisRunObject>('AnalysisRun', api.namespace),
  ]);
  return { ro, rss: rss.items, pods: pods.items, runs: runs.items };
}

export async function runGet(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseVerb(argv, io, GET_USAGE, 'get', { flags: FLAGS });
  if (typeof args === 'number') return args;
  const [what, name, ...extra] = args.positionals;
  if (what === undefined || !ROLLOUT_ALIASES.has(what))
    return resourceTypeError(io, 'get', what, ['rollout'], GET_USAGE);
  if (name === undefined || extra.length > 0)
    return usageError(io, 'get rollout needs exactly one ROLLOUT_NAME', GET_USAGE);
  const timeoutFlag = stringFlag(args.values, 'timeout-seconds') ?? '0';
  if (!/^\d+$/.test(timeoutFlag)) {
    return usageError(
      io,
      `--timeout-seconds: must be a non-negative integer, got "${timeoutFlag}"`,
      GET_USAGE,
    );
  }
  const timeoutMs = Number(timeoutFlag) * 1000;
  const color =
    io.isTTY && !boolFlag(args.values, 'no-color') && io.env.NO_COLOR === undefined && io.env.TERM !== 'dumb';
  const watch = boolFlag(args.values, 'watch');
  return withApi(io, args.kube, async (api) => {
    if (!watch) {
      const snap = await snapshot(api, name);
      const traffic = new TrafficWatch(color);
      await traffic.refresh(api, snap.ro, io.nowMs());
      io.out(
        renderRollout(
          buildRolloutInfo(snap.ro, snap.rss, snap.pods, snap.runs),
          { nowMs: io.nowMs(), color },
          traffic.text,
        ),
      );
      return EXIT_OK;
    }
    return watchRollout(api, name, io, { color, timeoutMs });
  });
}

async function watchRollout(
  api: CliApi,
  name: string,
  io: CliIo,
  opts: { color: boolean; timeoutMs: number },
): Promise<number> {
  // Fail fast (e.g. not found) before starting the watches.
  await api.get<Rollout>('Rollout', api.namespace, name);
  const controller = new AbortController();
  const onAbort = (): void => controller.abort();
  io.signal.addEventListener('abort', onAbort, { once: true });
  const timer = opts.timeoutMs > 0 ? setTimeout(onAbort, opts.timeoutMs) : undefined;
  let dirty = true;
  const changed = (): void => {
    dirty = true;
  };
  const rollouts = new ListWatch<Rollout>(
    api,
    'Rollout',
    api.namespace,
    { fieldSelector: `metadata.name=${name}` },
    changed,
  );
  const rss = new ListWatch<ReplicaSet>(api, 'ReplicaSet', api.namespace, {}, changed);
  const pods = new ListWatch<KubeObject>(api, 'Pod', api.namespace, {}, changed);
  const runs = new ListWatch<AnalysisRunObject>(api, 'AnalysisRun', api.namespace, {}, changed);
  try {
    const loops = await Promise.all([rollouts, rss, pods, runs].map((lw) => lw.start(controller.signal)));
    let lastDrawMs = 0;
    let lastText = '';
    const traffic = new TrafficWatch(opts.color);
    while (!controller.signal.aborted) {
      const current = rollouts.values()[0];
      if (current !== undefined && (await traffic.refresh(api, current, io.nowMs()))) dirty = true;
      const nowMs = io.nowMs();
      const tick = io.isTTY && nowMs - lastDrawMs >= TICK_MS;
      if ((dirty || tick) && nowMs - lastDrawMs >= REDRAW_MIN_INTERVAL_MS) {
        const ro = rollouts.values()[0];
        if (ro !== undefined) {
          dirty = false;
          const text = renderRollout(
            buildRolloutInfo(ro, rss.values(), pods.values(), runs.values()),
            { nowMs, color: opts.color },
            traffic.text,
          );
          if (io.isTTY) io.out(CLEAR_SCREEN + text);
          else if (text !== lastText) io.out(lastText === '' ? text : `\n${text}`);
          lastText = text;
          lastDrawMs = nowMs;
        }
      }
      await sleep(REDRAW_MIN_INTERVAL_MS / 2, controller.signal);
    }
    await Promise.all(loops.map((l) => l.done));
    return EXIT_OK;
  } finally {
    controller.abort();
    if (timer !== undefined) clearTimeout(timer);
    io.signal.removeEventListener('abort', onAbort);
  }
}
