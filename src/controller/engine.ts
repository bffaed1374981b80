// The reconcile engine over any ObjectStore: the three work queues' workers (Rollouts, AnalysisRuns,
// Experiments) with their reconcilers, routers and metric providers wired in. `sluice controller` runs it
// over the KubeStore once it leads; `sluice standalone` over the in-memory store. Subscribing the queues to
// store changes (Enqueuer) stays with the caller, which knows which kinds it caches.

import type { Logger } from 'pino';
import type { MetricProvider } from '../analysis/providers/provider.ts';
import { reconcileAnalysisRun } from '../analysis/reconcile.ts';
import { reconcileExperiment } from '../experiment/reconcile.ts';
import type { ReconcileLog, ReconcileResult } from '../reconcile/result.ts';
import { reconcileRollout as defaultReconcileRollout } from '../rollout/reconcile.ts';
import type { ObjectStore } from '../store/object-store.ts';
import type { ReconcileFn } from './options.ts';
import type { Routers } from './routers.ts';
import type { WorkQueue } from './work-queue.ts';
import { runWorker, type WorkerHooks, type WorkerKind } from './workers.ts';

export interface EngineQueues {
  readonly rollouts: WorkQueue;
  readonly analysisRuns: WorkQueue;
  readonly experiments: WorkQueue;
}

export interface EngineOptions {
  readonly store: ObjectStore;
  readonly queues: EngineQueues;
  readonly routers: Routers;
  readonly providers: readonly MetricProvider[];
  readonly log: Logger;
  readonly hooks: WorkerHooks;
  readonly threads: {
    readonly rollouts: number;
    readonly analysisRuns: number;
    readonly experiments: number;
  };
  /** Replaces the Rollout reconciler (tests). */
  readonly reconcileRollout?: ReconcileFn;
  /** The clock (ms) handed to the reconcilers; default Date.now. */
  readonly now?: () => number;
}

/** Starts the workers; they run until their queues shut down. Returns their promises. */
export function startWorkers(o: EngineOptions): Promise<void>[] {
  const { store, routers, log } = o;
  const now = o.now ?? Date.now;
  const logFor =
    (field: string, ns: string, name: string): ReconcileLog =>
    (level, msg, fields) =>
      log[level]({ [field]: `${ns}/${name}`, ...fields }, msg);
  const reconcileRollout = o.reconcileRollout ?? defaultReconcileRollout;
  const pools: readonly [
    WorkQueue,
    WorkerKind,
    number,
    (ns: string, name: string) => Promise<ReconcileResult>,
  ][] = [
    [
      o.queues.rollouts,
      'rollout',
      o.threads.rollouts,
      (ns, name) =>
        reconcileRollout(store, ns, name, now(), {
          log: logFor('rollout', ns, name),
          routers: routers.routersFor,
          publishRoutes: routers.publishRoutes,
        }),
    ],
    [
      o.queues.analysisRuns,
      'analysisrun',
      o.threads.analysisRuns,
      (ns, name) =>
        reconcileAnalysisRun(
          { store, providers: o.providers, log: log.child({ analysisrun: `${ns}/${name}` }) },
          ns,
          name,
        ),
    ],
    [
      o.queues.experiments,
      'experiment',
      o.threads.experiments,
      (ns, name) => reconcileExperiment(store, ns, name, now(), { log: logFor('experiment', ns, name) }),
    ],
  ];
  const workers: Promise<void>[] = [];
  for (const [queue, kind, threads, reconcile] of pools) {
    for (let i = 0; i < threads; i++) workers.push(runWorker(queue, kind, reconcile, o.hooks));
  }
  return workers;
}
