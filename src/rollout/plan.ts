// The Rollout planner: observed state + now in, actions + the complete new status + events out. Pure
// (no I/O, clock injected through Observed.nowMs). Level-triggered: everything is derived from the
// objects and status as they are now, so a plan computed after a crash at any point continues from the
// same step (deterministic ReplicaSet and AnalysisRun names, adoption of what exists).

import { templateNotFound } from '../analysis/args.ts';
import { isCompletedPhase } from '../api/analysis-run.ts';
import {
  computePodTemplateHash,
  fnv32a,
  podTemplateEqualIgnoreHash,
  safeEncodeString,
} from '../api/pod-template/hash.ts';
import {
  canarySteps,
  INVALID_SPEC_REQUEUE_MS,
  POD_TEMPLATE_HASH_LABEL,
  REVISION_ANNOTATION,
  ROLLOUT_API_VERSION,
  type Rollout,
  type RolloutStatus,
  replicasOrDefault,
  revisionHistoryLimitOrDefault,
} from '../api/rollout.ts';
import { validateRolloutSpec } from '../api/rollout-validation.ts';
import { APPS_V1, type ReplicaSet, rsAvailable } from '../api/workloads.ts';
import { controllerRef } from '../reconcile/owners.ts';
import { generateAffinity, planAntiAffinity, templateWithoutAntiAffinity } from './anti-affinity.ts';
import { reconcileBlueGreen } from './bluegreen.ts';
import { reconcileCanary } from './canary.ts';
import { getCondition, MESSAGE, newCondition, REASON, setCondition } from './conditions.ts';
import {
  type Ctx,
  createdMs,
  event,
  findByHash,
  isoTime,
  type Observed,
  type Plan,
  requeueAt,
  rsHash,
  rsRevision,
  runHistoryLimit,
} from './context.ts';
import { planEphemeralMetadata, templateWithoutEphemeralMetadata } from './ephemeral-metadata.ts';
import { planExperimentHousekeeping } from './experiment.ts';
import { calculateRolloutPhase } from './phase.ts';
import { planRestart } from './restart.ts';
import { computeConditions, computeCounts, pruneUndefined } from './status.ts';

/** Argo's ComputeStepHash: FNV-32a of the JSON steps, safe-encoded. */
export function computeStepHash(ro: Rollout): string | undefined {
  if (!ro.spec.strategy.canary) return undefined;
  return safeEncodeString(String(fnv32a(new TextEncoder().encode(JSON.stringify(canarySteps(ro))))));
}

/** The Rollout with template and selector taken from its workloadRef Deployment, when it has one. */
function effectiveRollout(obs: Observed): Rollout | string {
  const ro = obs.rollout;
  if (!ro.spec.workloadRef) return ro;
  const w = obs.workload;
  if (!w)
    return `spec.workloadRef.name: Invalid value: "${ro.spec.workloadRef.name ?? ''}": ${ro.spec.workloadRef.kind ?? 'Deployment'} "${ro.spec.workloadRef.name ?? ''}" not found`;
  return { ...ro, spec: { ...ro.spec, template: w.spec.template, selector: w.spec.selector } };
}

function referenceError(ro: Rollout, obs: Observed): string | undefined {
  const c = ro.spec.strategy.canary;
  const bg = ro.spec.strategy.blueGreen;
  const svc: [string, string | undefined][] = c
    ? [
        ['spec.strategy.canary.stableService', c.stableService],
        ['spec.strategy.canary.canaryService', c.canaryService],
      ]
    : [
        ['spec.strategy.blueGreen.activeService', bg?.activeService],
        ['spec.strategy.blueGreen.previewService', bg?.previewService],
      ];
  for (const [path, name] of svc) {
    if (name && !obs.services[name]) return `${path}: Invalid value: "${name}": service "${name}" not found`;
  }
  const analyses: [string, { templates?: { templateName: string; clusterScope?: boolean }[] } | undefined][] =
    [
      ['spec.strategy.canary.analysis', c?.analysis],
      ['spec.strategy.blueGreen.prePromotionAnalysis', bg?.prePromotionAnalysis],
      ['spec.strategy.blueGreen.postPromotionAnalysis', bg?.postPromotionAnalysis],
      ...canarySteps(ro).map(
        (s, i) => [`spec.strategy.canary.steps[${i}].analysis`, s.analysis] as [string, typeof s.analysis],
      ),
    ];
  for (const [path, a] of analyses) {
    for (const [i, t] of (a?.templates ?? []).entries()) {
      if (!obs.lookupTemplate(t.templateName, t.clusterScope === true)) {
        return `${path}.templates[${i}].templateName: Invalid value: "${t.templateName}": ${templateNotFound(t)}`;
      }
    }
  }
  return undefined;
}

function invalidPlan(obs: Observed, detail: string, actions: Plan['actions']): Plan {
  const ro = obs.rollout;
  const nowIso = isoTime(obs.nowMs);
  const status: RolloutStatus = pruneUndefined({ ...(ro.status ?? {}) });
  const message = MESSAGE.invalidSpec(ro.metadata.name, detail);
  status.conditions = setCondition(
    status.conditions ?? [],
    newCondition('InvalidSpec', 'True', REASON.InvalidSpec, message, nowIso),
  );
  const phase = calculateRolloutPhase(ro.spec ?? { strategy: {} }, status);
  status.phase = phase.phase;
  status.message = phase.message;
  status.observedGeneration = String(ro.metadata.generation ?? '');
  const events =
    getCondition(ro.status, 'InvalidSpec')?.message === message
      ? []
      : [{ type: 'Warning' as const, reason: REASON.InvalidSpec, message }];
  return { actions, status, events, requeueAfterMs: INVALID_SPEC_REQUEUE_MS };
}

function newReplicaSet(
  ro: Rollout,
  hash: string,
  revision: number,
  stableHash: string | undefined,
): ReplicaSet {
  const template = ro.spec.template ?? {};
  const labels = { ...(template.metadata?.labels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash };
  // Argo's createDesiredReplicaSet: the anti-affinity term goes in after the hash was computed.
  const affinity = generateAffinity(ro, stableHash, hash);
  const spec = template.spec ? { ...template.spec } : undefined;
  if (spec && affinity !== undefined) spec.affinity = affinity;
  return {
    apiVersion: APPS_V1,
    kind: 'ReplicaSet',
    metadata: {
      name: `${ro.metadata.name}-${hash}`,
      ...(ro.metadata.namespace ? { namespace: ro.metadata.namespace } : {}),
      labels,
      annotations: { [REVISION_ANNOTATION]: String(revision) },
      ownerReferences: [controllerRef(ROLLOUT_API_VERSION, 'Rollout', ro)],
    },
    spec: {
      replicas: 0,
      ...(ro.spec.minReadySeconds !== undefined ? { minReadySeconds: ro.spec.minReadySeconds } : {}),
      selector: {
        matchLabels: { ...(ro.spec.selector?.matchLabels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash },
      },
      template: {
        ...template,
        metadata: { ...(template.metadata ?? {}), labels },
        ...(spec ? { spec } : {}),
      },
    },
  };
}

/**
 * Argo's ReplicaSetTemplateMatchesRollout: the live template without what the controller injects
 * (ephemeral metadata, the anti-affinity term), for the semantic comparison with the Rollout's template.
 */
function templateWithoutInjected(ro: Rollout, rs: ReplicaSet): ReplicaSet['spec']['template'] {
  return templateWithoutAntiAffinity(templateWithoutEphemeralMetadata(rs), ro);
}

export function planRollout(obs: Observed): Plan {
  const actions: Plan['actions'] = [];
  if (obs.rollout.spec?.replicas === undefined) actions.push({ kind: 'setSpecReplicas', replicas: 1 });
  const eff = effectiveRollout(obs);
  if (typeof eff === 'string') return invalidPlan(obs, eff, actions);
  const ro = eff;
  const specError = validateRolloutSpec(obs.rollout) ?? referenceError(ro, obs);
  if (specError) return invalidPlan(obs, specError, actions);

  const nowIso = isoTime(obs.nowMs);
  const old: RolloutStatus = obs.rollout.status ?? {};
  const status: RolloutStatus = pruneUndefined({ ...old });
  status.conditions = (status.conditions ?? []).filter((c) => c.type !== 'InvalidSpec');
  const allRSs = obs.replicaSets
    .filter((rs) => !rs.metadata.deletionTimestamp)
    .map((rs) => structuredClone(rs));

  // --- the new ReplicaSet (Argo's FindNewReplicaSet). Tier 1: the ReplicaSet labelled with the template's
  // Argo hash (v1.9+ or v1.8 bytes) is it, even if its live template has since diverged (API-server
  // defaults such as a volume's defaultMode, admission webhooks). Tier 2: a ReplicaSet whose template is
  // semantically equal (hash written by another algorithm, or a field newer than our schema). Else a new
  // ReplicaSet under the current hash. ---
  const template = ro.spec.template ?? {};
  const hash = computePodTemplateHash(template, status.collisionCount);
  const withLabel = (h: string) => allRSs.find((rs) => rsHash(rs) === h);
  let newRS =
    withLabel(hash) ??
    withLabel(computePodTemplateHash(template, status.collisionCount, 'argo-v1.8')) ??
    allRSs
      .filter((rs) => podTemplateEqualIgnoreHash(templateWithoutInjected(ro, rs), template))
      .sort((a, b) => rsRevision(b) - rsRevision(a))[0];
  let newRSCreated = false;
  const maxOldRevision = Math.max(0, ...allRSs.filter((rs) => rs !== newRS).map(rsRevision));
  const revision = newRS && rsRevision(newRS) > maxOldRevision ? rsRevision(newRS) : maxOldRevision + 1;
  if (!newRS) {
    if (allRSs.some((rs) => rs.metadata.name === `${ro.metadata.name}-${hash}`)) {
      // Hash collision with a different template: bump collisionCount and retry (Argo's behaviour).
      status.collisionCount = (status.collisionCount ?? 0) + 1;
      return { actions, status, events: [], requeueAfterMs: 0 };
    }
    newRS = newReplicaSet(ro, hash, revision, status.stableRS);
    newRSCreated = true;
    actions.push({ kind: 'createReplicaSet', rs: newRS });
    allRSs.push(newRS);
  }
  const events: Plan['events'] = [];
  const podHash = rsHash(newRS) ?? hash;
  if (newRSCreated)
    events.push({
      type: 'Normal',
      reason: 'RolloutUpdated',
      message: `Rollout updated to revision ${revision}`,
    });
  if (newRSCreated)
    events.push({
      type: 'Normal',
      reason: 'NewReplicaSetCreated',
      message: MESSAGE.newReplicaSetCreated(newRS.metadata.name),
    });
  if (!newRSCreated && rsRevision(newRS) !== revision) {
    actions.push({
      kind: 'annotateReplicaSet',
      name: newRS.metadata.name,
      annotations: { [REVISION_ANNOTATION]: String(revision) },
    });
  }
  if (obs.rollout.metadata.annotations?.[REVISION_ANNOTATION] !== String(revision)) {
    actions.push({
      kind: 'patchRolloutAnnotations',
      annotations: { [REVISION_ANNOTATION]: String(revision) },
    });
  }

  const ctx: Ctx = {
    // The replica math reads rollout.status: give it the status being built (same object, mutated in place).
    ro: { ...ro, status },
    obs,
    nowMs: obs.nowMs,
    nowIso,
    old,
    status,
    actions,
    events,
    allRSs,
    newRS,
    newRSCreated,
    stableRS: findByHash(allRSs, status.stableRS),
    revision,
    keepRuns: new Set(),
  };

  // --- resets: new pod template or new steps restart the steps; first deploy and rollback skip them ---
  const steps = canarySteps(ro);
  const stepHash = computeStepHash(ro);
  const podHashChanged = old.currentPodHash !== undefined && old.currentPodHash !== podHash;
  if (
    podHashChanged ||
    (ro.spec.strategy.canary && old.currentStepHash !== undefined && old.currentStepHash !== stepHash)
  ) {
    status.currentStepIndex = steps.length > 0 ? 0 : undefined;
    status.pauseConditions = undefined;
    status.controllerPause = undefined;
    status.canary = status.canary?.weights ? { weights: status.canary.weights } : undefined;
    if (status.blueGreen) {
      status.blueGreen = {
        ...(status.blueGreen.activeSelector ? { activeSelector: status.blueGreen.activeSelector } : {}),
        ...(status.blueGreen.previewSelector ? { previewSelector: status.blueGreen.previewSelector } : {}),
      };
    }
    if (podHashChanged) {
      status.abort = undefined;
      status.abortedAt = undefined;
      status.promoteFull = undefined;
      if (ro.spec.restartAt) status.restartedAt = ro.spec.restartAt;
    }
  }
  status.currentPodHash = podHash;
  status.currentStepHash = stepHash;
  if (ro.spec.strategy.canary) {
    if (status.currentStepIndex === undefined && steps.length > 0) status.currentStepIndex = 0;
    if (!status.stableRS) {
      // Initial deploy: no steps. The Completed condition turns True right away, and Argo announces that
      // with RolloutCompleted (`...: Initial deploy`) as for every later completion.
      status.stableRS = podHash;
      ctx.stableRS = newRS;
      if (steps.length > 0) status.currentStepIndex = steps.length;
      event(
        ctx,
        'Normal',
        REASON.RolloutCompleted,
        `Rollout completed update to revision ${revision} (${podHash}): Initial deploy`,
      );
    } else if (podHashChanged && status.stableRS === podHash && steps.length > 0) {
      status.currentStepIndex = steps.length;
      event(ctx, 'Normal', 'SkipSteps', 'Rollback to stable ReplicaSets');
    } else if (podHashChanged && steps.length > 0 && rollbackWithinWindow(ctx, newRSCreated)) {
      status.currentStepIndex = steps.length;
      event(ctx, 'Normal', 'SkipSteps', 'Rollback within rollbackWindow: steps skipped');
    }
  }

  // --- abort requested by the user / retry ---
  let abortReason: string | undefined;
  const fullyPromoted =
    status.stableRS === podHash &&
    (!ro.spec.strategy.blueGreen || status.blueGreen?.activeSelector === podHash);
  if (status.abort === false) status.abort = undefined;
  if (status.abort && fullyPromoted) {
    status.abort = undefined;
    status.abortedAt = undefined;
  }
  if (status.abort && !status.abortedAt) {
    status.abortedAt = nowIso;
    event(ctx, 'Warning', REASON.RolloutAborted, MESSAGE.rolloutAborted(revision));
  }
  if (!status.abort && old.abortedAt && !podHashChanged) {
    status.abortedAt = undefined;
    status.canary = status.canary?.weights ? { weights: status.canary.weights } : undefined;
    if (status.blueGreen) {
      status.blueGreen = {
        ...status.blueGreen,
        prePromotionAnalysisRunStatus: undefined,
        postPromotionAnalysisRunStatus: undefined,
      };
    }
    event(ctx, 'Normal', REASON.RolloutRetry, MESSAGE.rolloutRetry);
  }

  // --- restart (spec.restartAt) runs first, as in Argo ---
  planRestart(ctx);

  // --- injected pod-template parts, after the restart and before scaling, as in Argo ---
  planAntiAffinity(ctx);
  planEphemeralMetadata(ctx);

  // --- strategy ---
  if (ro.spec.strategy.blueGreen) reconcileBlueGreen(ctx);
  else reconcileCanary(ctx);

  if (ctx.abortMessage !== undefined) {
    status.abort = true;
    status.abortedAt = nowIso;
    status.pauseConditions = undefined;
    status.controllerPause = undefined;
    abortReason = ctx.abortMessage;
    event(ctx, 'Warning', REASON.RolloutAborted, MESSAGE.rolloutAborted(revision, abortReason));
    requeueAt(ctx, ctx.nowMs);
  }

  // --- AnalysisRuns: terminate the ones no longer current, garbage-collect history ---
  planRunHousekeeping(ctx);
  // --- ReplicaSet history ---
  planHistoryLimit(ctx);
  // --- Experiments: terminate the ones no longer current, garbage-collect history ---
  planExperimentHousekeeping(ctx);
  // --- workloadRef scale-down ---
  planWorkloadScaleDown(ctx);

  computeCounts(ctx);
  if (ro.spec.workloadRef && obs.workload?.metadata.generation !== undefined) {
    status.workloadObservedGeneration = String(obs.workload.metadata.generation);
  }
  status.observedGeneration = String(obs.rollout.metadata.generation ?? '');
  computeConditions(ctx, abortReason);
  const progressing = status.conditions?.find((c) => c.type === 'Progressing');
  if (
    ro.spec.progressDeadlineAbort &&
    progressing?.reason === REASON.ProgressDeadlineExceeded &&
    !status.abort &&
    status.stableRS !== status.currentPodHash
  ) {
    // Argo's evaluateProgressDeadlineAbort: a timed-out update is also aborted (never a completed one).
    status.abort = true;
    status.abortedAt = nowIso;
    abortReason = `${progressing.reason}: ${progressing.message}`;
    event(ctx, 'Warning', REASON.RolloutAborted, MESSAGE.rolloutAborted(revision, abortReason));
    computeConditions(ctx, abortReason);
    requeueAt(ctx, ctx.nowMs);
  }
  const phase = calculateRolloutPhase(ro.spec, status);
  status.phase = phase.phase;
  status.message = phase.message;
  // A user resume (promote) clears status.pauseConditions itself and leaves controllerPause set: that is
  // still a paused rollout as far as this announcement goes, or the usual resume would never be reported.
  const prevPaused = (old.pauseConditions ?? []).length > 0 || old.controllerPause === true;
  const nowPaused = (status.pauseConditions ?? []).length > 0 || status.controllerPause === true;
  if (prevPaused && !nowPaused && !status.abort)
    event(ctx, 'Normal', 'RolloutResumed', MESSAGE.rolloutResumed);
  const requeueAfterMs = ctx.requeueAtMs === undefined ? undefined : Math.max(0, ctx.requeueAtMs - obs.nowMs);
  return {
    actions,
    status: pruneUndefined(status),
    events,
    ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}),
  };
}

/**
 * Argo's isRollbackWithinWindow: going back to an existing RS older than the stable one, with fewer than
 * rollbackWindow.revisions ReplicaSets created between them, is fast-tracked (no steps, no analysis).
 */
function rollbackWithinWindow(ctx: Ctx, newRSCreated: boolean): boolean {
  const window = ctx.ro.spec.rollbackWindow?.revisions;
  const stable = ctx.stableRS;
  if (window === undefined || newRSCreated || !stable) return false;
  const from = ctx.obs.replicaSets.find((rs) => rs.metadata.name === ctx.newRS.metadata.name);
  if (!from || rsRevision(from) >= rsRevision(stable)) return false;
  const between = ctx.obs.replicaSets.filter(
    (rs) => rsRevision(rs) > rsRevision(from) && rsRevision(rs) < rsRevision(stable),
  ).length;
  return between < window;
}

function planRunHousekeeping(ctx: Ctx): void {
  const st = ctx.status;
  const keep = new Set(ctx.keepRuns);
  // Argo's reconcileAnalysisRuns: promoteFull (as the reconcile found it) cancels every run, so the
  // runs the status still records are not kept then either.
  if (!st.abort && ctx.obs.rollout.status?.promoteFull !== true) {
    for (const r of [
      st.canary?.currentStepAnalysisRunStatus,
      st.canary?.currentBackgroundAnalysisRunStatus,
      st.blueGreen?.prePromotionAnalysisRunStatus,
      st.blueGreen?.postPromotionAnalysisRunStatus,
    ]) {
      if (r?.name) keep.add(r.name);
    }
  }
  const runs = ctx.obs.analysisRuns;
  for (const run of runs) {
    const name = run.metadata.name ?? '';
    if (!keep.has(name) && !isCompletedPhase(run.status?.phase) && run.spec.terminate !== true) {
      ctx.actions.push({ kind: 'terminateAnalysisRun', name });
    }
  }
  const completed = runs
    .filter((r) => isCompletedPhase(r.status?.phase) && !keep.has(r.metadata.name ?? ''))
    .sort((a, b) => createdMs(b) - createdMs(a));
  const overLimit = runHistoryLimit(ctx.ro);
  for (const run of completed) {
    if (overLimit(run.status?.phase === 'Successful'))
      ctx.actions.push({ kind: 'deleteAnalysisRun', name: run.metadata.name ?? '' });
  }
}

function planHistoryLimit(ctx: Ctx): void {
  const limit = revisionHistoryLimitOrDefault(ctx.ro);
  const protectedNames = new Set([ctx.newRS.metadata.name, ctx.stableRS?.metadata.name]);
  const activeRS = findByHash(ctx.allRSs, ctx.status.blueGreen?.activeSelector);
  if (activeRS) protectedNames.add(activeRS.metadata.name);
  const scaledDown = ctx.allRSs
    .filter(
      (rs) =>
        !protectedNames.has(rs.metadata.name) &&
        (rs.spec.replicas ?? 1) === 0 &&
        (rs.status?.replicas ?? 0) === 0 &&
        !ctx.actions.some((a) => a.kind === 'scaleReplicaSet' && a.name === rs.metadata.name),
    )
    .sort((a, b) => rsRevision(a) - rsRevision(b));
  const excess = scaledDown.length - limit;
  for (const rs of scaledDown.slice(0, Math.max(0, excess))) {
    ctx.actions.push({ kind: 'deleteReplicaSet', name: rs.metadata.name });
    const hash = rsHash(rs);
    for (const run of ctx.obs.analysisRuns) {
      if (
        run.metadata.labels?.[POD_TEMPLATE_HASH_LABEL] === hash &&
        !ctx.keepRuns.has(run.metadata.name ?? '')
      ) {
        ctx.actions.push({ kind: 'deleteAnalysisRun', name: run.metadata.name ?? '' });
      }
    }
  }
}

function planWorkloadScaleDown(ctx: Ctx): void {
  const ref = ctx.ro.spec.workloadRef;
  const w = ctx.obs.workload;
  if (!ref || !w || ref.kind !== 'Deployment') return;
  const mode = ref.scaleDown ?? 'never';
  if (mode === 'never') return;
  const replicas = replicasOrDefault(ctx.ro);
  const healthy = ctx.status.stableRS === ctx.status.currentPodHash && rsAvailable(ctx.newRS) >= replicas;
  let target: number | undefined;
  if (healthy) target = 0;
  else if (mode === 'progressively') {
    target = Math.max(0, Math.min(w.spec.replicas ?? 1, replicas - rsAvailable(ctx.newRS)));
  }
  if (target !== undefined && target !== (w.spec.replicas ?? 1)) {
    ctx.actions.push({ kind: 'scaleDeployment', name: w.metadata.name, replicas: target });
    event(
      ctx,
      'Normal',
      'ScalingDeployment',
      `Scaled Deployment ${w.metadata.name} from ${w.spec.replicas ?? 1} to ${target}`,
    );
  }
}
