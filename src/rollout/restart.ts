// spec.restartAt (Argo's rollout/restart.go, reference §2.4): every pod of the Rollout's ReplicaSets
// created before restartAt is replaced through the eviction API, so PodDisruptionBudgets are honoured.
// Pure planning here: one evictPods action lists the candidates in priority order with how many may go
// now; apply.ts evicts them in that order, skipping a pod a budget refuses (429) and trying the next, as
// Argo does. For a canary, a reconcile that evicted anything stops there (reconcile.ts).

import { replicasOrDefault } from '../api/rollout.ts';
import type { Pod } from '../api/workloads.ts';
import { type Ctx, createdMs, event, requeueAt } from './context.ts';
import { maxUnavailable } from './replicas.ts';

/** Argo's restartPodCheckTime: pods left to restart (or refused by a budget) are re-checked this often. */
export const RESTART_RECHECK_MS = 30_000;

/** Kubernetes' podutil.IsPodAvailable: Ready for minReadySeconds (and not terminating, as Argo counts). */
function podAvailable(pod: Pod, minReadySeconds: number, nowMs: number): boolean {
  if (pod.metadata.deletionTimestamp) return false;
  const ready = (pod.status?.conditions ?? []).find((c) => c.type === 'Ready' && c.status === 'True');
  if (!ready) return false;
  if (minReadySeconds === 0) return true;
  const since = Date.parse(ready.lastTransitionTime ?? '');
  return !Number.isNaN(since) && since + minReadySeconds * 1000 < nowMs;
}

/**
 * Argo's RolloutPodRestarter.Reconcile. Candidates: pods created before restartAt and not terminating,
 * stable RS first, then the new RS, then the others oldest first (oldest pod first within an RS). At
 * most available - (max(replicas, Σ spec replicas) - max(maxUnavailable, 1)) are evicted now, so at most
 * max(maxUnavailable, 1) pods are down at a time. Re-checked every 30 s while any pod created before
 * restartAt is left (terminating ones included); then status.restartedAt = restartAt.
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
  const rank = new Map<string, number>();
  for (const [i, rs] of [ctx.stableRS, ctx.newRS, ...others].entries()) {
    if (rs && !rank.has(rs.metadata.name)) rank.set(rs.metadata.name, i);
  }
  const ownerRank = (p: Pod) =>
    rank.get(p.metadata.ownerReferences?.find((o) => o.kind === 'ReplicaSet')?.name ?? '');
  const pods = (ctx.obs.pods ?? []).filter((p) => ownerRank(p) !== undefined);
  const needRestart = pods.filter((p) => createdMs(p) < at);
  if (needRestart.length === 0) {
    st.restartedAt = restartAt;
    event(ctx, 'Normal', 'RolloutRestarted', `Rollout restarted at ${restartAt}`);
    return;
  }
  const concurrent = Math.max(maxUnavailable(ctx.ro), 1);
  const total = ctx.allRSs.reduce((n, rs) => n + (rs.spec.replicas ?? 1), 0);
  const minAvailable = Math.max(replicasOrDefault(ctx.ro), total) - concurrent;
  const minReadySeconds = ctx.ro.spec.minReadySeconds ?? 0;
  const available = pods.filter((p) => podAvailable(p, minReadySeconds, ctx.nowMs)).length;
  const limit = available - minAvailable;
  const candidates = needRestart
    .filter((p) => !p.metadata.deletionTimestamp)
    .sort((a, b) => (ownerRank(a) ?? 0) - (ownerRank(b) ?? 0) || createdMs(a) - createdMs(b));
  if (limit > 0 && candidates.length > 0) {
    ctx.actions.push({ kind: 'evictPods', names: candidates.map((p) => p.metadata.name), limit });
  }
  requeueAt(ctx, ctx.nowMs + RESTART_RECHECK_MS);
}
