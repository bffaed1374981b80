// spec.restartAt (Argo's rollout/restart.go, reference §2.4): every pod of the Rollout's ReplicaSets
// created before restartAt is replaced through the eviction API, so PodDisruptionBudgets are honoured.
// Pure planning here; apply.ts performs the evictions and treats a budget's 429 as "not now".

import { replicasOrDefault } from '../api/rollout.ts';
import { isPodReady, type Pod, rsSpecReplicas } from '../api/workloads.ts';
import { type Ctx, event, requeueAt } from './context.ts';
import { maxUnavailable, sumAvailable } from './replicas.ts';

/** Argo's restartPodCheckTime: pods left to restart (or refused by a budget) are re-checked this often. */
export const RESTART_RECHECK_MS = 30_000;

function createdMs(obj: { metadata: { creationTimestamp?: string } }): number {
  const t = Date.parse(obj.metadata.creationTimestamp ?? '');
  return Number.isNaN(t) ? 0 : t;
}

/**
 * Argo's restart (reference §2.4): pods created before spec.restartAt are evicted through the eviction
 * API (apply.ts; a PodDisruptionBudget's 429 just leaves the pod for the next pass), stable RS first,
 * then the new RS, then the others oldest first, at most max(maxUnavailable, 1) at a time while keeping
 * max(replicas, Σ spec replicas) - that many available. Re-checked every 30 s until none is left, then
 * status.restartedAt = restartAt.
 */
export function planRestart(ctx: Ctx): void {
  const restartAt = ctx.ro.spec.restartAt;
  const st = ctx.status;
  if (!restartAt || restartAt === st.restartedAt) return;
  const at = Date.parse(restartAt);
  if (Number.isNaN(at)) return;
  if (at > ctx.nowMs) {
    requeueAt(ctx, at);
    return;
  }
  const others = ctx.allRSs
    .filter((rs) => rs !== ctx.stableRS && rs !== ctx.newRS)
    .sort((a, b) => createdMs(a) - createdMs(b) || a.metadata.name.localeCompare(b.metadata.name));
  const order = [ctx.stableRS, ctx.newRS, ...others];
  const rank = new Map<string, number>();
  order.forEach((rs, i) => {
    if (rs && !rank.has(rs.metadata.name)) rank.set(rs.metadata.name, i);
  });
  const ownerRank = (p: Pod) =>
    rank.get(p.metadata.ownerReferences?.find((o) => o.kind === 'ReplicaSet')?.name ?? '');
  const pods = (ctx.obs.pods ?? []).filter(
    (p) => ownerRank(p) !== undefined && !p.metadata.deletionTimestamp,
  );
  const old = pods.filter((p) => Date.parse(p.metadata.creationTimestamp ?? '') < at);
  if (old.length === 0) {
    st.restartedAt = restartAt;
    event(ctx, 'Normal', 'RolloutRestarted', `Rollout restarted at ${restartAt}`);
    return;
  }
  const concurrent = Math.max(maxUnavailable(ctx.ro), 1);
  const desired = Math.max(
    replicasOrDefault(ctx.ro),
    ctx.allRSs.reduce((n, rs) => n + rsSpecReplicas(rs), 0),
  );
  // Pods already missing (evicted ones whose replacements are not ready yet) use up the budget.
  const missing = Math.max(desired - sumAvailable(ctx.allRSs), pods.filter((p) => !isPodReady(p)).length);
  const victims = old
    .sort((a, b) => (ownerRank(a) ?? 0) - (ownerRank(b) ?? 0) || createdMs(a) - createdMs(b))
    .slice(0, Math.max(0, concurrent - missing));
  for (const p of victims) ctx.actions.push({ kind: 'evictPod', name: p.metadata.name });
  requeueAt(ctx, ctx.nowMs + RESTART_RECHECK_MS);
}
