// Replica math, exactly as Argo's utils/replicaset/{canary,replicaset,bluegreen}.go: maxSurge /
// maxUnavailable fenceposts, the basic-canary nearest-weight approximation (with the surge options and
// the "never round a 1..99% weight down to 0 canaries" rule), traffic-routed ceil counts, setCanaryScale
// and the blue-green previewReplicaCount. Pure functions over the Rollout and its ReplicaSets.

import type { IntOrString } from '../api/meta.ts';
import {
  abortScaleDownDelaySeconds,
  type CanaryStep,
  canarySteps,
  currentSetWeight,
  currentStepIndex,
  maxSurgeOrDefault,
  maxTrafficWeight,
  maxUnavailableOrDefault,
  type Rollout,
  replicasOrDefault,
  type SetCanaryScale,
  type TrafficWeights,
} from '../api/rollout.ts';
import { type ReplicaSet, rsAvailable, rsSpecReplicas, rsStatusReplicas } from '../api/workloads.ts';

/**
 * apimachinery's deprecated GetValueFromIntOrPercent, as Argo calls it: an int is taken as is, and any
 * string is a percent once "%" is removed (quirk: "3" means 3%). Percent values round up or down.
 */
export function valueFromIntOrPercent(
  value: IntOrString,
  total: number,
  roundUp: boolean,
): { ok: true; value: number } | { ok: false; error: string } {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return { ok: false, error: `invalid value ${value}: must be an integer` };
    return { ok: true, value };
  }
  const stripped = value.replaceAll('%', '');
  if (!/^[+-]?\d+$/.test(stripped))
    return { ok: false, error: `invalid value "${value}": not an int or a percent` };
  const pct = Number(stripped);
  const raw = (pct * total) / 100;
  return { ok: true, value: roundUp ? Math.ceil(raw) : Math.floor(raw) };
}

/** Argo's resolveFenceposts: surge rounds up, unavailable rounds down, both zero forces unavailable=1. */
export function resolveFenceposts(
  maxSurge: IntOrString,
  maxUnavailable: IntOrString,
  desired: number,
): { surge: number; unavailable: number } {
  const s = valueFromIntOrPercent(maxSurge, desired, true);
  const u = valueFromIntOrPercent(maxUnavailable, desired, false);
  const surge = s.ok ? s.value : 0;
  let unavailable = u.ok ? u.value : 0;
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { surge, unavailable };
}

/** Argo's MaxSurge: 0 for blueGreen. */
export function maxSurge(ro: Rollout): number {
  if (!ro.spec.strategy.canary) return 0;
  return resolveFenceposts(maxSurgeOrDefault(ro), maxUnavailableOrDefault(ro), replicasOrDefault(ro)).surge;
}

/** Argo's MaxUnavailable: capped at spec.replicas; 0 when replicas is 0. */
export function maxUnavailable(ro: Rollout): number {
  const replicas = replicasOrDefault(ro);
  if (replicas === 0) return 0;
  const surge = ro.spec.strategy.canary ? maxSurgeOrDefault(ro) : 0;
  const { unavailable } = resolveFenceposts(surge, maxUnavailableOrDefault(ro), replicas);
  return Math.min(unavailable, replicas);
}

function floorCeilingTied(weight: number, total: number): boolean {
  const v = (total * weight) / 100;
  return v - Math.trunc(v) === 0.5;
}

function weightDelta(weight: number, canary: number, total: number): number {
  return Math.abs((canary * 100) / total - weight);
}

/**
 * Argo's approximateWeightedCanaryStableReplicaCounts: candidate canary counts ceil/floor of
 * replicas*w/100 over totals replicas (and replicas+1 when surge is allowed); the option closest to w
 * wins, the earlier one on equal deltas. Returns [canary, stable].
 */
export function approximateWeightedCanaryStableReplicaCounts(
  specReplicas: number,
  desiredWeight: number,
  surge: number,
): [number, number] {
  if (specReplicas === 0) return [0, 0];
  const options: { canary: number; total: number }[] = [];
  const ceil = Math.ceil((specReplicas * desiredWeight) / 100);
  const floor = Math.floor((specReplicas * desiredWeight) / 100);
  const tied = floorCeilingTied(desiredWeight, specReplicas);
  const zeroAllowed = desiredWeight === 100 || desiredWeight === 0 || (specReplicas === 1 && surge === 0);
  if (ceil < specReplicas || zeroAllowed) options.push({ canary: ceil, total: specReplicas });
  if (!tied && (floor !== 0 || zeroAllowed)) options.push({ canary: floor, total: specReplicas });
  if (surge > 0) {
    options.push({ canary: ceil, total: specReplicas + 1 });
    if (!floorCeilingTied(desiredWeight, specReplicas + 1) && (floor !== 0 || zeroAllowed)) {
      options.push({ canary: floor, total: specReplicas + 1 });
    }
  }
  if (options.length === 0) return [0, specReplicas];
  let best = options[0]!;
  let bestDelta = weightDelta(desiredWeight, best.canary, best.total);
  for (const o of options.slice(1)) {
    const d = weightDelta(desiredWeight, o.canary, o.total);
    if (d < bestDelta) {
      best = o;
      bestDelta = d;
    }
  }
  return [best.canary, best.total - best.canary];
}

/** The current step and its index; index past the end (or no steps) gives step undefined. */
export function currentCanaryStep(ro: Rollout): { step?: CanaryStep; index?: number } {
  const index = currentStepIndex(ro);
  if (index === undefined) return {};
  const steps = canarySteps(ro);
  if (index >= steps.length) return { index };
  return { step: steps[index], index };
}

/** Argo's UseSetCanaryScale (traffic routing only; ignored on abort unless abortScaleDownDelaySeconds is 0). */
export function useSetCanaryScale(ro: Rollout): SetCanaryScale | undefined {
  if (!ro.spec.strategy.canary?.trafficRouting) return undefined;
  if (ro.status?.abort && abortScaleDownDelaySeconds(ro) !== 0) return undefined;
  const { step, index } = currentCanaryStep(ro);
  if (step === undefined || index === undefined) return undefined;
  const steps = canarySteps(ro);
  for (let i = index; i >= 0; i--) {
    const scs = steps[i]?.setCanaryScale;
    if (scs === undefined) continue;
    if (scs.matchTrafficWeight) return undefined;
    return scs;
  }
  return undefined;
}

/** Argo's GetCanaryReplicasOrWeight. */
export function canaryReplicasOrWeight(ro: Rollout): { replicas?: number; weight: number } {
  const s = ro.status;
  if (s?.promoteFull || !s?.stableRS || s.currentPodHash === s.stableRS) return { weight: 100 };
  const scs = useSetCanaryScale(ro);
  if (scs?.replicas !== undefined) return { replicas: scs.replicas, weight: 0 };
  if (scs?.weight !== undefined) return { weight: scs.weight };
  // A setWeight counts in maxTrafficWeight (Nginx, plugins); replicas follow its share of 100.
  const index = currentStepIndex(ro);
  if (!s.abort && (index === undefined || index >= canarySteps(ro).length)) return { weight: 100 };
  return { weight: (currentSetWeight(ro) * 100) / maxTrafficWeight(ro) };
}

export function sumSpecReplicas(rss: readonly (ReplicaSet | undefined)[]): number {
  return rss.reduce((n, rs) => n + (rs ? rsSpecReplicas(rs) : 0), 0);
}

export function sumAvailable(rss: readonly (ReplicaSet | undefined)[]): number {
  return rss.reduce((n, rs) => n + rsAvailable(rs), 0);
}

/** Argo's CheckStableRSExists: a stable RS that is not the new RS. */
export function stableRSExists(newRS: ReplicaSet | undefined, stableRS: ReplicaSet | undefined): boolean {
  if (stableRS === undefined) return false;
  if (newRS === undefined) return true;
  return newRS.metadata.name !== stableRS.metadata.name;
}

/** Argo's GetReplicasForScaleDown. */
export function replicasForScaleDown(rs: ReplicaSet | undefined, ignoreAvailability: boolean): number {
  if (rs === undefined) return 0;
  const spec = rsSpecReplicas(rs);
  if (spec < rsAvailable(rs)) return spec;
  if (ignoreAvailability) return spec;
  return rsAvailable(rs);
}

function scaleDownCountFor(
  drain: ReplicaSet | undefined,
  desired: number,
  scaleDown: number,
  current: number,
): number {
  if (drain !== undefined && rsSpecReplicas(drain) > desired)
    return Math.max(desired, rsSpecReplicas(drain) - scaleDown);
  return current;
}

function adjustWithinLimits(
  drain: ReplicaSet | undefined,
  adjust: ReplicaSet | undefined,
  drainCount: number,
  adjustCount: number,
  maxAllowed: number,
  minAvailable: number,
): [number, number] {
  let totalAvailable = 0;
  let over = Math.max(0, adjustCount + drainCount - maxAllowed);
  if (drain !== undefined) totalAvailable += Math.min(rsAvailable(drain), drainCount);
  if (adjust !== undefined) {
    adjustCount -= over;
    totalAvailable += Math.min(rsAvailable(adjust), adjustCount);
    const extraAvailable = Math.max(0, rsAvailable(adjust) - adjustCount);
    const needed = Math.max(0, minAvailable - totalAvailable);
    adjustCount += Math.min(extraAvailable, needed);
    over = Math.max(0, adjustCount + drainCount - maxAllowed);
    drainCount -= over;
  }
  return [drainCount, adjustCount];
}

/**
 * Argo's CalculateReplicaCountsForBasicCanary: returns [canary, stable] spec counts for this reconcile,
 * stepping toward the approximated weight within maxSurge (stable scaled up first) and maxUnavailable
 * (older ReplicaSets drained before the canary or stable is scaled down).
 */
export function basicCanaryReplicaCounts(
  ro: Rollout,
  newRS: ReplicaSet | undefined,
  stableRS: ReplicaSet | undefined,
  otherRSs: readonly ReplicaSet[],
): [number, number] {
  const specReplicas = replicasOrDefault(ro);
  const { weight } = canaryReplicasOrWeight(ro);
  const surge = maxSurge(ro);
  let [desiredNew, desiredStable] = approximateWeightedCanaryStableReplicaCounts(specReplicas, weight, surge);
  let stableCount = 0;
  let newCount = newRS ? rsSpecReplicas(newRS) : 0;
  const scaleStable = stableRSExists(newRS, stableRS);
  if (scaleStable) stableCount = rsSpecReplicas(stableRS);
  else {
    desiredNew = specReplicas;
    desiredStable = 0;
  }
  const maxAllowed = specReplicas + surge;
  const all: (ReplicaSet | undefined)[] = [...otherRSs, newRS];
  if (scaleStable) all.push(stableRS);
  let scaleUp = maxAllowed - sumSpecReplicas(all);
  if (scaleStable && rsSpecReplicas(stableRS) < desiredStable && scaleUp > 0) {
    if (rsSpecReplicas(stableRS) + scaleUp < desiredStable) {
      stableCount = rsSpecReplicas(stableRS) + scaleUp;
      scaleUp = 0;
    } else {
      stableCount = desiredStable;
      scaleUp -= desiredStable - rsSpecReplicas(stableRS);
    }
  }
  if (newRS && rsSpecReplicas(newRS) < desiredNew && scaleUp > 0) {
    newCount = Math.min(desiredNew, rsSpecReplicas(newRS) + scaleUp);
  }
  if (sumSpecReplicas(otherRSs) > 0) return [newCount, stableCount];
  const minAvailable = specReplicas - maxUnavailable(ro);
  const increasing = newRS === undefined || desiredNew >= rsSpecReplicas(newRS);
  const toScaleDown = replicasForScaleDown(newRS, !increasing) + replicasForScaleDown(stableRS, increasing);
  if (toScaleDown <= minAvailable) return [newCount, stableCount];
  const scaleDown = toScaleDown - minAvailable;
  // Scale one side down (the canary when it shrinks, else the stable), then keep the pair within limits.
  const drain = (
    rs: ReplicaSet | undefined,
    desired: number,
    count: number,
    other: ReplicaSet | undefined,
    otherCount: number,
  ): [number, number] =>
    adjustWithinLimits(
      rs,
      other,
      scaleDownCountFor(rs, desired, scaleDown, count),
      otherCount,
      maxAllowed,
      minAvailable,
    );
  if (!increasing) [newCount, stableCount] = drain(newRS, desiredNew, newCount, stableRS, stableCount);
  else if (scaleStable)
    [stableCount, newCount] = drain(stableRS, desiredStable, stableCount, newRS, newCount);
  return [newCount, stableCount];
}

/** Argo's trafficWeightToReplicas: a traffic weight (of maxTrafficWeight) as a replica count, rounded up. */
function trafficWeightToReplicas(replicas: number, weight: number, maxWeight: number): number {
  return Math.ceil((weight * replicas) / maxWeight);
}

function minPods(ro: Rollout, count: number): number {
  const min = ro.spec.strategy.canary?.minPodsPerReplicaSet;
  if (count === 0 || min === undefined || !ro.spec.strategy.canary?.trafficRouting) return count;
  return Math.max(count, min);
}

/** Argo's CalculateReplicaCountsForTrafficRoutedCanary: [canary, stable]. */
export function trafficRoutedCanaryReplicaCounts(
  ro: Rollout,
  weights: TrafficWeights | undefined,
): [number, number] {
  const specReplicas = replicasOrDefault(ro);
  const { replicas, weight } = canaryReplicasOrWeight(ro);
  // canaryReplicasOrWeight answers a percent; status weights count in maxTrafficWeight.
  const max = maxTrafficWeight(ro);
  let canary =
    replicas !== undefined ? replicas : minPods(ro, trafficWeightToReplicas(specReplicas, weight, 100));
  if (!ro.spec.strategy.canary?.dynamicStableScale) return [canary, specReplicas];
  let stable = trafficWeightToReplicas(specReplicas, 100 - weight, 100);
  if (weights) {
    stable = Math.max(stable, trafficWeightToReplicas(specReplicas, weights.stable.weight, max));
    if (ro.status?.abort)
      canary = Math.max(canary, trafficWeightToReplicas(specReplicas, weights.canary.weight, max));
  }
  return [minPods(ro, canary), minPods(ro, stable)];
}

/** Argo's AtDesiredReplicaCountsForCanary. */
export function atDesiredReplicaCountsForCanary(
  ro: Rollout,
  newRS: ReplicaSet | undefined,
  stableRS: ReplicaSet | undefined,
  otherRSs: readonly ReplicaSet[],
  weights: TrafficWeights | undefined,
): boolean {
  const routed = ro.spec.strategy.canary?.trafficRouting !== undefined;
  const [desiredNew, desiredStable] = routed
    ? trafficRoutedCanaryReplicaCounts(ro, weights)
    : basicCanaryReplicaCounts(ro, newRS, stableRS, otherRSs);
  if (!newRS || desiredNew !== rsSpecReplicas(newRS) || desiredNew !== rsAvailable(newRS)) return false;
  if (!routed || !ro.spec.strategy.canary?.dynamicStableScale) {
    if (
      !stableRS ||
      desiredStable !== rsSpecReplicas(stableRS) ||
      desiredStable !== rsStatusReplicas(stableRS)
    ) {
      return false;
    }
  }
  if (!routed && sumAvailable(otherRSs) !== 0) return false;
  return true;
}

/** Argo's NewRSNewReplicas for blueGreen: previewReplicaCount until the scale-up checkpoint or promoteFull. */
export function blueGreenNewRSReplicas(
  ro: Rollout,
  newRS: ReplicaSet,
  activeRS: ReplicaSet | undefined,
): number {
  const desired = replicasOrDefault(ro);
  const preview = ro.spec.strategy.blueGreen?.previewReplicaCount;
  if (preview === undefined) return desired;
  if (activeRS === undefined || activeRS.metadata.name === newRS.metadata.name) return desired;
  if (!ro.status?.blueGreen?.scaleUpPreviewCheckPoint && !ro.status?.promoteFull) return preview;
  return desired;
}
