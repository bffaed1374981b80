// The canary strategy (Argo's rollout/canary.go, trafficrouting.go, service.go): ReplicaSet scaling
// (basic nearest-weight math or traffic-routed ceil), older ReplicaSets, stable/canary Service
// selectors, traffic router weights, step and background analysis, experiment steps (experiment.ts),
// pause steps with the controllerPause handshake, step progression, abort, promote-full and promotion of
// the stable RS.

import {
  abortScaleDownDelaySeconds,
  type CanaryStep,
  canarySteps,
  currentSetWeight,
  maxTrafficWeight,
  type RolloutExperimentStep,
  replicasOrDefault,
  SCALE_DOWN_DEADLINE_ANNOTATION,
  type TrafficWeights,
  type WeightDestination,
} from '../api/rollout.ts';
import { parsePauseDuration } from '../api/rollout-validation.ts';
import type { ReplicaSet } from '../api/workloads.ts';
import { rsAvailable } from '../api/workloads.ts';
import type { WeightDestinationSpec } from '../traffic/router.ts';
import { reconcileAnalysis } from './analysis.ts';
import {
  addPause,
  annotateRS,
  type Ctx,
  event,
  hasPause,
  isoTime,
  pauseStart,
  plannedReplicas,
  removePause,
  requeueAt,
  resumedByUser,
  scaleRS,
} from './context.ts';
import { reconcileExperimentStep } from './experiment.ts';
import {
  atDesiredReplicaCountsForCanary,
  basicCanaryReplicaCounts,
  trafficRoutedCanaryReplicaCounts,
} from './replicas.ts';
import { scaleDownOldBasic, scaleDownOtherReplicaSets, switchService } from './workload-ops.ts';

/** Argo's step string in RolloutStepCompleted messages. */
export function stepString(step: CanaryStep): string {
  if (step.setWeight !== undefined) return `setWeight: ${step.setWeight}`;
  if (step.pause !== undefined)
    return step.pause.duration !== undefined ? `pause: ${step.pause.duration}` : 'pause';
  if (step.analysis !== undefined) return 'analysis';
  if (step.experiment !== undefined) return 'experiment';
  if (step.setCanaryScale !== undefined) return 'setCanaryScale';
  if (step.setHeaderRoute !== undefined) return 'setHeaderRoute';
  if (step.setMirrorRoute !== undefined) return 'setMirrorRoute';
  if (step.plugin !== undefined) return 'plugin';
  return 'unknown';
}

function others(ctx: Ctx): ReplicaSet[] {
  return ctx.allRSs.filter(
    (rs) => rs.metadata.name !== ctx.newRS.metadata.name && rs.metadata.name !== ctx.stableRS?.metadata.name,
  );
}

function deadlineMs(rs: ReplicaSet): number | undefined {
  const v = rs.metadata.annotations?.[SCALE_DOWN_DEADLINE_ANNOTATION];
  if (v === undefined || v === '') return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

export function reconcileCanary(ctx: Ctx): void {
  const ro = ctx.ro;
  const c = ro.spec.strategy.canary!;
  const steps = canarySteps(ro);
  const st = ctx.status;
  const routed = c.trafficRouting !== undefined;
  const newRS = ctx.newRS;
  const promoted = () => st.stableRS === st.currentPodHash;

  if (st.abort) {
    st.currentStepIndex = steps.length > 0 ? 0 : st.currentStepIndex;
    st.pauseConditions = undefined;
    st.controllerPause = undefined;
    // Argo's reconcileExperiments: an aborted rollout has no current Experiment (all get terminated).
    if (st.canary?.currentExperiment !== undefined)
      st.canary = { ...st.canary, currentExperiment: undefined };
  }

  const halted = ro.spec.paused === true;

  // --- ReplicaSet scaling ---
  if (!halted) {
    const stableRS =
      ctx.stableRS && ctx.stableRS.metadata.name !== newRS.metadata.name ? ctx.stableRS : undefined;
    const olderRSs = others(ctx);
    if (routed) {
      let [canaryCount, stableCount] = trafficRoutedCanaryReplicaCounts(ro, st.canary?.weights);
      if (promoted()) canaryCount = replicasOrDefault(ro);
      // Argo's shouldDelayScaleDownOnAbort: with dynamicStableScale and no explicit abortScaleDownDelaySeconds
      // the aborted canary follows its stepped-down weight, without the default 30 s delay.
      const delayOnAbort = !(c.dynamicStableScale && c.abortScaleDownDelaySeconds === undefined);
      if (st.abort && stableRS && delayOnAbort) {
        // Keep the aborted canary for abortScaleDownDelaySeconds after the stable is fully available; 0 = never.
        const delay = abortScaleDownDelaySeconds(ro);
        const current = newRS.spec.replicas ?? 1;
        const stableReady = rsAvailable(stableRS) >= replicasOrDefault(ro);
        if (delay === 0) canaryCount = current;
        else if (current > 0) {
          const due = deadlineMs(newRS);
          if (!stableReady) canaryCount = current;
          else if (due === undefined) {
            annotateRS(ctx, newRS, {
              [SCALE_DOWN_DEADLINE_ANNOTATION]: isoTime(ctx.nowMs + (delay ?? 0) * 1000),
            });
            requeueAt(ctx, ctx.nowMs + (delay ?? 0) * 1000);
            canaryCount = current;
          } else if (due > ctx.nowMs) {
            requeueAt(ctx, due);
            canaryCount = current;
          } else canaryCount = 0;
        }
      }
      scaleRS(
        ctx,
        newRS,
        canaryCount,
        canaryCount === 0 && deadlineMs(newRS) !== undefined
          ? { [SCALE_DOWN_DEADLINE_ANNOTATION]: null }
          : undefined,
      );
      if (stableRS) scaleRS(ctx, stableRS, stableCount);
      scaleDownOtherReplicaSets(ctx, olderRSs, c.scaleDownDelayRevisionLimit);
    } else {
      const [canaryCount, stableCount] = basicCanaryReplicaCounts(ro, newRS, stableRS, olderRSs);
      scaleRS(ctx, newRS, canaryCount);
      if (stableRS) scaleRS(ctx, stableRS, stableCount);
      scaleDownOldBasic(ctx, olderRSs);
    }
  }

  // --- analysis (step + background) and step progression ---
  if (!halted && !st.abort && !promoted()) progressSteps(ctx);
  if (ctx.abortMessage !== undefined) return; // plan.ts re-plans the abort on the next pass

  // --- promotion to stable ---
  if (!halted && !st.abort && !promoted()) {
    const done = st.promoteFull === true || (st.currentStepIndex ?? 0) >= steps.length;
    const stableRS =
      ctx.stableRS && ctx.stableRS.metadata.name !== newRS.metadata.name ? ctx.stableRS : undefined;
    const canaryReady =
      rsAvailable(newRS) >= replicasOrDefault(ro) && plannedReplicas(ctx, newRS) >= replicasOrDefault(ro);
    const basicReady =
      routed || atDesiredReplicaCountsForCanary(ro, newRS, stableRS, others(ctx), st.canary?.weights);
    if (done && canaryReady && basicReady) {
      const previous = ctx.stableRS;
      st.stableRS = st.currentPodHash;
      st.promoteFull = undefined;
      st.canary = {
        ...st.canary,
        currentStepAnalysisRunStatus: undefined,
        currentBackgroundAnalysisRunStatus: undefined,
        currentExperiment: undefined,
      };
      event(
        ctx,
        'Normal',
        'RolloutCompleted',
        `Rollout completed update to revision ${ctx.revision} (${st.currentPodHash}): Completed all ${steps.length} canary steps`,
      );
      if (
        routed &&
        previous &&
        previous.metadata.name !== newRS.metadata.name &&
        (previous.spec.replicas ?? 1) > 0
      ) {
        const delaySec = c.scaleDownDelaySeconds ?? 30;
        annotateRS(ctx, previous, { [SCALE_DOWN_DEADLINE_ANNOTATION]: isoTime(ctx.nowMs + delaySec * 1000) });
        requeueAt(ctx, ctx.nowMs + delaySec * 1000);
      }
      ctx.stableRS = newRS;
    }
  }

  // --- services ---
  const stableHash = st.stableRS ?? st.currentPodHash ?? '';
  // Argo: an abort points the canary back at the stable at once, except while dynamicStableScale still
  // steps the canary's weight down (the canary pods keep serving that weight until it reaches 0).
  const steppingDown =
    st.abort === true &&
    routed &&
    c.dynamicStableScale === true &&
    dynamicAbortWeight(ctx, maxTrafficWeight(ro), replicasOrDefault(ro), ctx.old.canary?.weights) > 0;
  const canaryHash = (st.abort && !steppingDown) || promoted() ? stableHash : (st.currentPodHash ?? '');
  if (c.stableService) switchService(ctx, c.stableService, stableHash);
  if (c.canaryService) switchService(ctx, c.canaryService, canaryHash);

  // --- traffic routing ---
  if (routed) planTraffic(ctx, stableHash, canaryHash);
}

function progressSteps(ctx: Ctx): void {
  const ro = ctx.ro;
  const c = ro.spec.strategy.canary!;
  const steps = canarySteps(ro);
  const st = ctx.status;
  const index = st.currentStepIndex ?? 0;
  const podHash = st.currentPodHash ?? '';

  // Background analysis: from startingStep until promotion.
  if (c.analysis && st.promoteFull !== true && index >= (c.analysis.startingStep ?? 0)) {
    const inconclusivePaused = hasPause(ctx, 'InconclusiveAnalysisRun');
    // Argo: once the user resumes a rollout paused on an inconclusive background run, a new background
    // run is started (`<name>.1`); the inconclusive one must not pause the rollout again.
    const recorded = st.canary?.currentBackgroundAnalysisRunStatus;
    const resumedFromInconclusive =
      recorded?.status === 'Inconclusive' && !inconclusivePaused && resumedByUser(ctx);
    const out = reconcileAnalysis(
      ctx,
      c.analysis,
      { type: 'Background', podHash, revision: ctx.revision },
      resumedFromInconclusive ? undefined : recorded,
      !inconclusivePaused,
    );
    if (out?.kind === 'invalid') {
      ctx.abortMessage = `Background analysis: ${out.error}`;
      return;
    }
    st.canary = {
      ...st.canary,
      currentBackgroundAnalysisRunStatus: out && 'status' in out ? out.status : undefined,
    };
    if (out?.kind === 'failed') {
      ctx.abortMessage = out.message;
      return;
    }
    if (out?.kind === 'inconclusive' && !resumedByUser(ctx)) addPause(ctx, 'InconclusiveAnalysisRun');
  }

  if (st.promoteFull) {
    st.currentStepIndex = steps.length > 0 ? steps.length : st.currentStepIndex;
    st.pauseConditions = undefined;
    st.controllerPause = undefined;
    if (st.canary?.currentExperiment !== undefined)
      st.canary = { ...st.canary, currentExperiment: undefined };
    return;
  }
  // Argo's reconcileStepBasedAnalysisRun: a step run stays current only while its analysis step is the
  // current step; once the step is left (e.g. promote skipped it) the run is no longer recorded, so the
  // housekeeping terminates it.
  if (steps[index]?.analysis === undefined && st.canary?.currentStepAnalysisRunStatus !== undefined)
    st.canary = { ...st.canary, currentStepAnalysisRunStatus: undefined };
  // Likewise the current Experiment: leaving its step (promote) lets the housekeeping terminate it.
  if (steps[index]?.experiment === undefined && st.canary?.currentExperiment !== undefined)
    st.canary = { ...st.canary, currentExperiment: undefined };
  if (index >= steps.length) return;
  const step = steps[index]!;
  let completed = false;

  if (step.setWeight !== undefined || step.setCanaryScale !== undefined) {
    const weights = st.canary?.weights;
    // Argo completes a setWeight step only once the routers verified the weight they were given in that
    // same reconcile. Ours are called after this plan: a step whose weight is not the one on record yet
    // waits for the next reconcile's verdict (the new weights in the status bring it), when the routers
    // verify at all (a verdict is on record).
    const unverifiedChange =
      step.setWeight !== undefined &&
      weights?.verified !== undefined &&
      (weights.canary.weight !== step.setWeight || weights.canary.podTemplateHash !== podHash);
    completed =
      atDesiredReplicaCountsForCanary(ro, ctx.newRS, ctx.stableRS, others(ctx), weights) &&
      !unverifiedChange &&
      weights?.verified !== false;
  } else if (step.pause !== undefined) {
    const dur = step.pause.duration !== undefined ? parsePauseDuration(step.pause.duration) : undefined;
    const durMs = dur?.ok ? dur.ms : undefined;
    const start = pauseStart(ctx, 'CanaryPauseStep');
    if (start === undefined && resumedByUser(ctx)) completed = true;
    else if (start !== undefined) {
      if (durMs !== undefined && ctx.nowMs >= start + durMs) {
        removePause(ctx, 'CanaryPauseStep');
        completed = true;
      } else if (durMs !== undefined) requeueAt(ctx, start + durMs);
    } else if (durMs === 0) completed = true;
    else if ((st.pauseConditions ?? []).length === 0) {
      addPause(ctx, 'CanaryPauseStep');
      if (durMs !== undefined) requeueAt(ctx, ctx.nowMs + durMs);
    }
  } else if (step.analysis !== undefined) {
    const inconclusivePaused = hasPause(ctx, 'InconclusiveAnalysisRun');
    const out = reconcileAnalysis(
      ctx,
      step.analysis,
      { type: 'Step', podHash, revision: ctx.revision, stepIndex: index },
      st.canary?.currentStepAnalysisRunStatus,
      !inconclusivePaused && (st.pauseConditions ?? []).length === 0,
    );
    if (out?.kind === 'invalid') {
      ctx.abortMessage = `Step-based analysis: ${out.error}`;
      return;
    }
    st.canary = {
      ...st.canary,
      currentStepAnalysisRunStatus: out && 'status' in out ? out.status : undefined,
    };
    if (out?.kind === 'successful') completed = true;
    else if (out?.kind === 'failed') {
      ctx.abortMessage = out.message;
      return;
    } else if (out?.kind === 'inconclusive') {
      if (resumedByUser(ctx)) completed = true;
      else addPause(ctx, 'InconclusiveAnalysisRun');
    }
  } else if (step.setHeaderRoute !== undefined || step.setMirrorRoute !== undefined) {
    completed = true;
  } else if (step.experiment !== undefined) {
    const inconclusivePaused = hasPause(ctx, 'InconclusiveExperiment');
    const out = reconcileExperimentStep(
      ctx,
      step.experiment,
      { podHash, revision: ctx.revision, stepIndex: index },
      !inconclusivePaused && (st.pauseConditions ?? []).length === 0,
    );
    if (out.kind === 'invalid') {
      ctx.abortMessage = `Experiment step: ${out.error}`;
      return;
    }
    // Argo records neither a missing nor a failed Experiment as current (the abort terminates them all).
    const current = out.kind === 'waiting' || out.kind === 'failed' ? undefined : out.name;
    st.canary = { ...st.canary, currentExperiment: current };
    if (out.kind === 'successful') completed = true;
    else if (out.kind === 'failed') {
      ctx.abortMessage = out.message;
      return;
    } else if (out.kind === 'inconclusive') {
      // As for an inconclusive step analysis: the user's promote (which clears the pause condition and
      // leaves controllerPause) accepts the verdict and moves on.
      if (resumedByUser(ctx)) completed = true;
      else addPause(ctx, 'InconclusiveExperiment');
    }
  } else if (step.plugin !== undefined) {
    // Step plugins are not implemented yet: the step waits (promote skips it).
    completed = false;
  }

  if (completed) {
    st.currentStepIndex = index + 1;
    if ((st.pauseConditions ?? []).length === 0) st.controllerPause = undefined;
    st.canary = { ...st.canary, currentStepAnalysisRunStatus: undefined, currentExperiment: undefined };
    event(
      ctx,
      'Normal',
      'RolloutStepCompleted',
      `Rollout step ${index + 1}/${steps.length} completed (${stepString(step)})`,
    );
    requeueAt(ctx, ctx.nowMs);
  }
}

function planTraffic(ctx: Ctx, stableHash: string, canaryHash: string): void {
  const ro = ctx.ro;
  const c = ro.spec.strategy.canary!;
  const st = ctx.status;
  const replicas = replicasOrDefault(ro);
  const max = maxTrafficWeight(ro);
  const prev = ctx.old.canary?.weights;
  const prevWeight = prev?.canary.weight ?? 0;
  const steps = canarySteps(ro);
  const index = st.currentStepIndex ?? 0;
  const promoted = st.stableRS === st.currentPodHash;
  const newAvailable = rsAvailable(ctx.newRS);
  let weight: number;
  let removeManagedRoutes = false;
  let additional: WeightDestinationSpec[] = [];
  if (promoted) {
    weight = 0;
    removeManagedRoutes = true;
  } else if (st.abort) {
    // Argo: 100% to stable at once, unless dynamicStableScale steps the canary down as the stable's
    // available pods can carry it (never back up when the stable's availability flaps).
    weight = c.dynamicStableScale ? dynamicAbortWeight(ctx, max, replicas, prev) : 0;
    removeManagedRoutes = true;
  } else if (newAvailable === 0) {
    weight = 0;
    removeManagedRoutes = true;
    additional = experimentDestinations(ctx);
  } else if (st.promoteFull) {
    weight = c.dynamicStableScale ? Math.trunc((max * newAvailable) / replicas) : prevWeight;
    removeManagedRoutes = true;
  } else {
    // After the last step the weight is the maximum, but, as at every step, only once the canary has the
    // replicas for it (Argo checks AtDesiredReplicaCountsForCanary first); until then the previous stays.
    const desired = index >= steps.length ? max : currentSetWeight(ro);
    const [canaryCount] = trafficRoutedCanaryReplicaCounts(ro, prev);
    const ready = (ctx.newRS.spec.replicas ?? 1) === canaryCount && newAvailable >= canaryCount;
    weight = ready ? desired : Math.min(prevWeight, desired);
    if (index < steps.length) additional = experimentDestinations(ctx);
  }
  // Stable capacity first: never lower the stable's share below what its available pods can carry.
  const stableRS = ctx.stableRS;
  if (!promoted && !st.abort && stableRS && weight !== prevWeight) {
    const needed = Math.ceil(((max - weight) * replicas) / max);
    if (rsAvailable(stableRS) < needed && weight > prevWeight) weight = prevWeight;
  }
  const step = index < steps.length ? steps[index] : undefined;
  const headerRoute = !st.abort && ctx.revision > 1 ? step?.setHeaderRoute : undefined;
  const mirrorRoute = !st.abort && ctx.revision > 1 ? step?.setMirrorRoute : undefined;
  ctx.actions.push({
    kind: 'traffic',
    canaryHash,
    stableHash,
    ...(c.canaryService ? { canaryService: c.canaryService } : {}),
    ...(c.stableService ? { stableService: c.stableService } : {}),
    weight,
    additional,
    removeManagedRoutes,
    resetWeightFirst:
      prevWeight > 0 &&
      prev?.canary.podTemplateHash !== undefined &&
      prev.canary.podTemplateHash !== canaryHash,
    ...(headerRoute ? { headerRoute } : {}),
    ...(mirrorRoute ? { mirrorRoute } : {}),
  });
  const additionalWeights = additional.map((d) => ({
    weight: d.weight,
    serviceName: d.serviceName,
    podTemplateHash: d.podTemplateHash,
  }));
  const additionalChanged = JSON.stringify(prev?.additional ?? []) !== JSON.stringify(additionalWeights);
  if (weight !== prevWeight || additionalChanged)
    event(
      ctx,
      'Normal',
      'TrafficWeightUpdated',
      trafficWeightUpdatedMessage(prev, weight, additionalWeights),
    );
  const sameWeights =
    prev && prev.canary.weight === weight && prev.canary.podTemplateHash === canaryHash && !additionalChanged;
  st.canary = {
    ...st.canary,
    weights: {
      canary: {
        weight,
        podTemplateHash: canaryHash,
        ...(c.canaryService ? { serviceName: c.canaryService } : {}),
      },
      stable: {
        weight: max - weight - additional.reduce((sum, d) => sum + d.weight, 0),
        podTemplateHash: stableHash,
        ...(c.stableService ? { serviceName: c.stableService } : {}),
      },
      ...(additionalWeights.length > 0 ? { additional: additionalWeights } : {}),
      ...(sameWeights && prev.verified !== undefined ? { verified: prev.verified } : {}),
    },
  };
}

/** Argo's calculateDesiredWeightOnAbortOrStableRollback with dynamicStableScale. */
function dynamicAbortWeight(
  ctx: Ctx,
  max: number,
  replicas: number,
  prev: TrafficWeights | undefined,
): number {
  const stableAvailable = rsAvailable(ctx.stableRS);
  let weight = max - Math.trunc((max * stableAvailable) / Math.max(replicas, 1));
  if (prev !== undefined) weight = Math.min(weight, prev.canary.weight);
  return Math.max(weight, 0);
}

/**
 * Argo's calculateWeightDestinationsFromExperiment: while the experiment of the current (or last earlier)
 * experiment step is Running, each of its templates with a Service gets the template's weight.
 */
function experimentDestinations(ctx: Ctx): WeightDestinationSpec[] {
  const steps = canarySteps(ctx.ro);
  const index = ctx.status.currentStepIndex ?? 0;
  let expStep: RolloutExperimentStep | undefined;
  for (let i = Math.min(index, steps.length - 1); i >= 0; i--) {
    expStep = steps[i]?.experiment;
    if (expStep !== undefined) break;
  }
  const name = ctx.status.canary?.currentExperiment ?? ctx.old.canary?.currentExperiment;
  if (expStep === undefined || name === undefined) return [];
  const ex = (ctx.obs.experiments ?? []).find((e) => e.metadata.name === name);
  if (ex?.status?.phase !== 'Running') return [];
  const out: WeightDestinationSpec[] = [];
  for (const ts of ex.status.templateStatuses ?? []) {
    const weight = expStep.templates.find((t) => t.name === ts.name)?.weight;
    if (weight === undefined || weight === null || !ts.serviceName) continue;
    out.push({ serviceName: ts.serviceName, podTemplateHash: ts.podTemplateHash ?? '', weight });
  }
  return out;
}

/** Argo's trafficWeightUpdatedMessage. */
function trafficWeightUpdatedMessage(
  prev: TrafficWeights | undefined,
  weight: number,
  additional: readonly WeightDestination[],
): string {
  const details: string[] = [];
  if (prev === undefined) details.push(`to ${weight}`);
  else if (prev.canary.weight !== weight) details.push(`from ${prev.canary.weight} to ${weight}`);
  if (prev !== undefined && JSON.stringify(prev.additional ?? []) !== JSON.stringify(additional))
    details.push(`additional: ${JSON.stringify(additional)}`);
  return `Traffic weight updated ${details.join(', ')}`;
}
