// One reconcile of one Rollout: observe (from the store's cache), plan (pure), apply (idempotent),
// then write the status through the status subresource as a merge patch of old vs new, and record the
// plan's events. Called by the `sluice controller` work queue and directly by tests.

import { storeTemplateLookup } from '../analysis/args.ts';
import type { AnalysisRun } from '../api/analysis-run.ts';
import type { Experiment } from '../api/experiment.ts';
import type { KubeObject } from '../api/meta.ts';
import { isTrafficRouted, type Rollout, type RolloutStatus } from '../api/rollout.ts';
import type { Deployment, Pod, ReplicaSet, Service } from '../api/workloads.ts';
import { isControlledBy } from '../reconcile/owners.ts';
import {
  applyFailed,
  type PlannedEvent,
  type ReconcileLog,
  type ReconcileResult,
  runPlanner,
  writeStatusAndEvents,
} from '../reconcile/result.ts';
import type { ObjectStore } from '../store/object-store.ts';
import {
  type RouterResult,
  ServiceRouter,
  type TrafficRouter,
  type Verification,
} from '../traffic/router.ts';
import { applyActions, TrafficRouterError } from './apply.ts';
import { getCondition, newCondition, REASON, setCondition } from './conditions.ts';
import type { Observed, Plan } from './context.ts';
import { hasEphemeralMetadata } from './ephemeral-metadata.ts';
import { planRollout } from './plan.ts';
import { RESTART_RECHECK_MS } from './restart.ts';

/** Argo's ROLLOUT_VERIFY_RETRY_INTERVAL: how soon a weight the routers have not verified is checked again. */
export const VERIFY_RETRY_MS = 10_000;

export interface ReconcileDeps {
  /** The traffic routers of a Rollout (called in Argo's fixed order, ROUTER_ORDER). Default: a ServiceRouter. */
  readonly routers?: (ro: Rollout) => readonly TrafficRouter[];
  /** Routes that follow the Services rather than router verbs (a blue-green Rollout's proxy route). */
  readonly publishRoutes?: (ro: Rollout) => Promise<RouterResult>;
  /** Structured log sink. */
  readonly log?: ReconcileLog;
  /** Called with each plan before it is applied (tests, debugging). */
  readonly onPlan?: (plan: Plan) => void;
}

const controlledBy = (obj: KubeObject, ro: Rollout): boolean => isControlledBy(obj, 'Rollout', ro);

/** Gathers what the planner needs from the store's cache. */
export function observeRollout(store: ObjectStore, ro: Rollout, nowMs: number): Observed {
  const ns = ro.metadata.namespace ?? '';
  const replicaSets = store.list<ReplicaSet>('ReplicaSet', ns).filter((rs) => controlledBy(rs, ro));
  const names = new Set<string>();
  const c = ro.spec.strategy?.canary;
  const bg = ro.spec.strategy?.blueGreen;
  for (const n of [c?.stableService, c?.canaryService, bg?.activeService, bg?.previewService])
    if (n) names.add(n);
  const services: Record<string, Service | undefined> = {};
  for (const n of names) services[n] = store.get<Service>('Service', ns, n);
  const analysisRuns = store
    .list<KubeObject>('AnalysisRun', ns)
    .filter((r) => controlledBy(r, ro)) as unknown as AnalysisRun[];
  const experiments = store
    .list<KubeObject>('Experiment', ns)
    .filter((e) => controlledBy(e, ro)) as unknown as Experiment[];
  const lookupTemplate = storeTemplateLookup(store, ns);
  let pods: Pod[] | undefined;
  if ((ro.spec.restartAt && ro.spec.restartAt !== ro.status?.restartedAt) || hasEphemeralMetadata(ro)) {
    const rsNames = new Set(replicaSets.map((rs) => rs.metadata.name));
    pods = store
      .list<Pod>('Pod', ns)
      .filter((p) =>
        (p.metadata.ownerReferences ?? []).some((o) => o.kind === 'ReplicaSet' && rsNames.has(o.name)),
      );
  }
  const workload =
    ro.spec.workloadRef?.name && (ro.spec.workloadRef.kind ?? 'Deployment') === 'Deployment'
      ? store.get<Deployment>('Deployment', ns, ro.spec.workloadRef.name)
      : undefined;
  return {
    rollout: ro,
    replicaSets,
    services,
    analysisRuns,
    lookupTemplate,
    ...(experiments.length > 0 ? { experiments } : {}),
    ...(pods ? { pods } : {}),
    ...(workload ? { workload } : {}),
    nowMs,
  };
}

export async function reconcileRollout(
  store: ObjectStore,
  namespace: string,
  name: string,
  nowMs: number,
  deps: ReconcileDeps = {},
): Promise<ReconcileResult> {
  const ro = store.get<Rollout>('Rollout', namespace, name);
  if (!ro || ro.metadata.deletionTimestamp) return {};
  const target = { what: 'rollout', namespace, name };
  const planned = runPlanner(target, deps.log, () => planRollout(observeRollout(store, ro, nowMs)));
  if (!planned.ok) return planned.result;
  const { plan } = planned;
  deps.onPlan?.(plan);
  const routers =
    deps.routers?.(ro) ?? (isTrafficRouted(ro) || ro.spec.strategy?.canary ? [new ServiceRouter()] : []);
  // An abort moves traffic off the canary before anything else the plan writes (Service selectors, scale
  // changes): those go through the API and its client rate limiter, the weight does not have to wait.
  // (dynamicStableScale steps the weight down as the stable scales up instead: the plan's weight.)
  if (
    plan.status.abort === true &&
    !ro.spec.strategy?.canary?.dynamicStableScale &&
    (ro.status?.canary?.weights?.canary.weight ?? 0) > 0
  ) {
    for (const router of routers) await router.setWeight(0, []);
  }
  const applied = await applyActions(store, ro, plan.actions, routers, {
    stopAfterEviction: ro.spec.strategy?.canary !== undefined,
  });
  if (!applied.ok) {
    // Argo's reconcileTrafficRouting records a failed SetWeight as a Warning event and fails the
    // reconcile (retried with backoff); Sluice does so for every router verb and also names the router
    // in the TrafficRouting condition. The plan's status is not written, so the step does not advance.
    const cause = applied.error.cause;
    if (cause instanceof TrafficRouterError && !cause.waiting)
      await noteRouterFailure(store, ro, cause, nowMs);
    return applyFailed(target, deps.log, applied.error);
  }
  const published = (await deps.publishRoutes?.(ro)) ?? { ok: true };
  if (!published.ok) {
    const error = new TrafficRouterError('Proxy', 'publishRoute', published.error);
    await noteRouterFailure(store, ro, error, nowMs);
    return applyFailed(target, deps.log, error);
  }
  // Argo's canary returns right after restarting pods, without a status write: the counts the rest of
  // the plan used no longer hold. The next reconcile (pod events, or the re-check) carries on.
  if (applied.stopped) return { requeueAfterMs: RESTART_RECHECK_MS };
  const status = plan.status;
  if (status.canary?.weights && applied.verified !== undefined) {
    status.canary.weights.verified = applied.verified;
  }
  const events = [
    ...plan.events,
    ...verificationNotes(ro, status, routers, applied.verified, nowMs),
    ...routerRecovered(ro, status, nowMs),
  ];
  // A weight not verified yet holds its step; Argo checks it again after the verify retry interval.
  const requeueAfterMs =
    applied.verified === false
      ? Math.min(plan.requeueAfterMs ?? VERIFY_RETRY_MS, VERIFY_RETRY_MS)
      : plan.requeueAfterMs;
  return writeStatusAndEvents(store, 'Rollout', ro, status, events, requeueAfterMs);
}

/**
 * A router verb failed: a Warning event naming the router (aggregated by the recorder while it repeats)
 * and the TrafficRouting condition False with the same message, written on its own so the step holds
 * visibly. A failure to write the condition is left to the retry that follows anyway.
 */
async function noteRouterFailure(
  store: ObjectStore,
  ro: Rollout,
  error: TrafficRouterError,
  nowMs: number,
): Promise<void> {
  store.recordEvent(ro, 'Warning', REASON.TrafficRoutingError, error.message);
  const previous = getCondition(ro.status, 'TrafficRouting');
  if (previous?.status === 'False' && previous.message === error.message) return;
  const conditions = setCondition(
    ro.status?.conditions ?? [],
    newCondition(
      'TrafficRouting',
      'False',
      REASON.TrafficRoutingError,
      error.message,
      new Date(nowMs).toISOString(),
    ),
  );
  try {
    await writeStatusAndEvents(store, 'Rollout', ro, { ...ro.status, conditions }, [], undefined);
  } catch {
    // The reconcile fails and is retried either way; the condition is written then.
  }
}

/** The routers answered again after a failure: the TrafficRouting condition turns True. */
function routerRecovered(ro: Rollout, status: RolloutStatus, nowMs: number): PlannedEvent[] {
  const previous = getCondition(ro.status, 'TrafficRouting');
  if (previous?.status !== 'False') return [];
  const message = 'Traffic routers updated';
  status.conditions = setCondition(
    status.conditions ?? [],
    newCondition(
      'TrafficRouting',
      'True',
      REASON.TrafficRoutingReady,
      message,
      new Date(nowMs).toISOString(),
    ),
  );
  return [{ type: 'Normal', reason: REASON.TrafficRoutingReady, message }];
}

/**
 * Routers that can say why a weight is not verified (the proxy router: which proxy has not ACKed, or
 * NACKed and why) put it in the WeightVerified condition, with an event when the wait starts and when a
 * proxy's refusal changes; the condition turns True once the weight is verified. Others leave no trace,
 * as in Argo.
 */
function verificationNotes(
  ro: Rollout,
  status: RolloutStatus,
  routers: readonly TrafficRouter[],
  verified: Verification,
  nowMs: number,
): PlannedEvent[] {
  const previous = getCondition(ro.status, 'WeightVerified');
  const nowIso = new Date(nowMs).toISOString();
  if (verified === false) {
    const reasons = routers.flatMap((r) => r.unverifiedReason?.() ?? []);
    if (reasons.length === 0) return [];
    const message = reasons.join('; ');
    status.conditions = setCondition(
      status.conditions ?? [],
      newCondition('WeightVerified', 'False', REASON.WeightNotVerified, message, nowIso),
    );
    const refused = message.includes(' rejected snapshot ');
    const started = previous?.status !== 'False';
    if (!started && !(refused && previous?.message !== message)) return [];
    return [{ type: refused ? 'Warning' : 'Normal', reason: REASON.WeightNotVerified, message }];
  }
  if (verified === true && previous?.status === 'False') {
    const message = 'Traffic weight verified by every proxy of the route';
    status.conditions = setCondition(
      status.conditions ?? [],
      newCondition('WeightVerified', 'True', REASON.WeightVerified, message, nowIso),
    );
    return [{ type: 'Normal', reason: REASON.WeightVerified, message }];
  }
  return [];
}
