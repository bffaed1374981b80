// One reconcile of one Experiment: observe (from the store's cache), plan (pure), apply (idempotent),
// then write the status through the status subresource as a merge patch of old vs new, and record the
// plan's events. Called by the `sluice controller` experiment work queue and directly by tests.

import { storeTemplateLookup } from '../analysis/args.ts';
import type { AnalysisRun } from '../api/analysis-run.ts';
import type { Experiment } from '../api/experiment.ts';
import type { KubeObject } from '../api/meta.ts';
import type { ReplicaSet, Service } from '../api/workloads.ts';
import { isControlledBy } from '../reconcile/owners.ts';
import {
  applyFailed,
  type ReconcileLog,
  type ReconcileResult,
  runPlanner,
  writeStatusAndEvents,
} from '../reconcile/result.ts';
import type { ObjectStore } from '../store/object-store.ts';
import { applyExperimentActions } from './apply.ts';
import { type ExperimentObserved, type ExperimentPlan, experimentRsName, planExperiment } from './plan.ts';

export interface ExperimentReconcileDeps {
  /** Structured log sink. */
  readonly log?: ReconcileLog;
  /** Called with each plan before it is applied (tests, debugging). */
  readonly onPlan?: (plan: ExperimentPlan) => void;
}

const controlledBy = (obj: KubeObject, ex: Experiment): boolean => isControlledBy(obj, 'Experiment', ex);

/** Gathers what the planner needs from the store's cache. */
export function observeExperiment(store: ObjectStore, ex: Experiment, nowMs: number): ExperimentObserved {
  const ns = ex.metadata.namespace ?? '';
  const replicaSets: Record<string, ReplicaSet | undefined> = {};
  for (const t of Array.isArray(ex.spec?.templates) ? ex.spec.templates : []) {
    if (typeof t?.name !== 'string') continue;
    replicaSets[t.name] = store.get<ReplicaSet>('ReplicaSet', ns, experimentRsName(ex, t));
  }
  const services = store.list<Service>('Service', ns).filter((s) => controlledBy(s, ex));
  const analysisRuns = store
    .list<KubeObject>('AnalysisRun', ns)
    .filter((r) => controlledBy(r, ex)) as unknown as AnalysisRun[];
  return {
    experiment: ex,
    replicaSets,
    services,
    analysisRuns,
    lookupTemplate: storeTemplateLookup(store, ns),
    nowMs,
  };
}

// Deliberately parallel to rollout/reconcile.ts: every binder is get -> runPlanner -> apply -> write status;
// the shared steps live in reconcile/result.ts, what remains is each kind's own types and apply.
export async function reconcileExperiment(
  store: ObjectStore,
  namespace: string,
  name: string,
  nowMs: number,
  deps: ExperimentReconcileDeps = {},
): Promise<ReconcileResult> {
  const ex = store.get<Experiment>('Experiment', namespace, name);
  if (!ex || ex.metadata.deletionTimestamp) return {};
  const target = { what: 'experiment', namespace, name };
  const planned = runPlanner(target, deps.log, () => planExperiment(observeExperiment(store, ex, nowMs)));
  if (!planned.ok) return planned.result;
  const { plan } = planned;
  deps.onPlan?.(plan);
  const applied = await applyExperimentActions(store, ex, plan.actions);
  if (!applied.ok) return applyFailed(target, deps.log, applied.error);
  return writeStatusAndEvents(store, 'Experiment', ex, plan.status, plan.events, plan.requeueAfterMs);
}
