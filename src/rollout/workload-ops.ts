// Operations on the workloads around a Rollout shared by both strategies: Service selector switching
// (Argo's ensureSVCTargets: first adoption of an unmanaged Service waits for a fully available RS, later
// switches need one available pod), and scale-down of ReplicaSets that are neither new nor stable —
// by scale-down-deadline (blue-green, traffic-routed canary, with scaleDownDelayRevisionLimit) or
// within maxUnavailable (basic canary, oldest first).

import {
  MANAGED_BY_ANNOTATION,
  POD_TEMPLATE_HASH_LABEL,
  replicasOrDefault,
  SCALE_DOWN_DEADLINE_ANNOTATION,
} from '../api/rollout.ts';
import { type ReplicaSet, rsAvailable, rsSpecReplicas } from '../api/workloads.ts';
import { type Ctx, event, findByHash, requeueAt, rsRevision, scaleRS } from './context.ts';
import { maxUnavailable, sumAvailable } from './replicas.ts';

/** Points a Service's `rollouts-pod-template-hash` selector at `hash` when the target RS can serve. */
export function switchService(ctx: Ctx, serviceName: string, hash: string, force = false): boolean {
  const svc = ctx.obs.services[serviceName];
  if (!svc || !hash) return false;
  const current = svc.spec.selector?.[POD_TEMPLATE_HASH_LABEL];
  if (current === hash) return true;
  const target = findByHash(ctx.allRSs, hash);
  if (!force) {
    if (!target) return false;
    const managed = svc.metadata.annotations?.[MANAGED_BY_ANNOTATION] === ctx.ro.metadata.name;
    const available = rsAvailable(target);
    if (!managed && (available === 0 || available < rsSpecReplicas(target))) return false;
    if (managed && available === 0) return false;
  }
  ctx.actions.push({ kind: 'switchService', service: serviceName, hash, rolloutName: ctx.ro.metadata.name });
  event(
    ctx,
    'Normal',
    'SwitchService',
    `Switched selector for service '${serviceName}' from '${current ?? ''}' to '${hash}'`,
  );
  return true;
}

function deadlineMs(rs: ReplicaSet): number | undefined {
  const v = rs.metadata.annotations?.[SCALE_DOWN_DEADLINE_ANNOTATION];
  if (!v) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

/**
 * Older ReplicaSets under a delay: scaled to 0 once their scale-down-deadline has passed (re-queued for
 * it meanwhile), immediately when they carry no deadline, and beyond scaleDownDelayRevisionLimit the
 * oldest delayed ones go at once.
 */
export function scaleDownOtherReplicaSets(
  ctx: Ctx,
  olderRSs: readonly ReplicaSet[],
  revisionLimit?: number,
): void {
  const live = olderRSs.filter((rs) => rsSpecReplicas(rs) > 0).sort((a, b) => rsRevision(b) - rsRevision(a));
  let delayed = 0;
  for (const rs of live) {
    const due = deadlineMs(rs);
    if (due !== undefined && due > ctx.nowMs) {
      delayed++;
      if (revisionLimit === undefined || delayed <= revisionLimit) {
        requeueAt(ctx, due);
        continue;
      }
    }
    scaleRS(ctx, rs, 0, due !== undefined ? { [SCALE_DOWN_DEADLINE_ANNOTATION]: null } : undefined);
  }
}

/** Basic canary: older RSs drained oldest first, unavailable pods first, within maxUnavailable. */
export function scaleDownOldBasic(ctx: Ctx, olderRSs: readonly ReplicaSet[]): void {
  const minAvailable = replicasOrDefault(ctx.ro) - maxUnavailable(ctx.ro);
  let budget = Math.max(0, sumAvailable(ctx.allRSs) - minAvailable);
  const live = olderRSs.filter((rs) => rsSpecReplicas(rs) > 0).sort((a, b) => rsRevision(a) - rsRevision(b));
  for (const rs of live) {
    const spec = rsSpecReplicas(rs);
    const unavailable = Math.max(0, spec - rsAvailable(rs));
    const fromAvailable = Math.min(budget, spec - unavailable);
    budget -= fromAvailable;
    const target = spec - unavailable - fromAvailable;
    if (target !== spec) scaleRS(ctx, rs, target);
  }
}
