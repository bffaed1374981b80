// Phase and message derivation, exactly Argo's CalculateRolloutPhase (utils/rollout/rolloututil.go,
// first match wins), plus the client-side GetRolloutPhase checks that the CLI shows.

import type { Rollout, RolloutPhase, RolloutSpec, RolloutStatus } from '../api/rollout.ts';
import { REASON } from './conditions.ts';

export interface PhaseResult {
  phase: RolloutPhase;
  message: string;
}

function isBasicCanary(spec: RolloutSpec): boolean {
  return spec.strategy.canary !== undefined && spec.strategy.canary.trafficRouting === undefined;
}

/** Argo's CalculateRolloutPhase over a spec and the new status. */
export function calculateRolloutPhase(spec: RolloutSpec, status: RolloutStatus): PhaseResult {
  for (const c of status.conditions ?? []) {
    if (c.type === 'InvalidSpec')
      return { phase: 'Degraded', message: `${REASON.InvalidSpec}: ${c.message}` };
  }
  for (const c of status.conditions ?? []) {
    if (c.reason === REASON.RolloutAborted || c.reason === REASON.ProgressDeadlineExceeded) {
      return { phase: 'Degraded', message: `${c.reason}: ${c.message}` };
    }
  }
  if (spec.paused) return { phase: 'Paused', message: 'manually paused' };
  const pause = status.pauseConditions?.[0];
  if (pause) return { phase: 'Paused', message: pause.reason };
  if (spec.restartAt !== undefined && spec.restartAt !== status.restartedAt) {
    return { phase: 'Progressing', message: 'rollout is restarting' };
  }
  const replicas = spec.replicas ?? 1;
  const updated = status.updatedReplicas ?? 0;
  const available = status.availableReplicas ?? 0;
  if (updated < replicas) return { phase: 'Progressing', message: 'more replicas need to be updated' };
  if (available < updated)
    return { phase: 'Progressing', message: 'updated replicas are still becoming available' };
  if (spec.strategy.blueGreen) {
    if (status.blueGreen?.activeSelector !== status.currentPodHash) {
      return { phase: 'Progressing', message: 'active service cutover pending' };
    }
    if (status.stableRS !== status.currentPodHash) {
      // Argo: post-promotion analysis pending vs. other post-promotion verification
      const post = spec.strategy.blueGreen.postPromotionAnalysis !== undefined;
      return {
        phase: 'Progressing',
        message: post
          ? 'waiting for analysis to complete'
          : 'waiting for post-promotion verification to complete',
      };
    }
  } else if (spec.strategy.canary) {
    if (isBasicCanary(spec) && (status.replicas ?? 0) > updated) {
      return { phase: 'Progressing', message: 'old replicas are pending termination' };
    }
    if (status.stableRS !== status.currentPodHash) {
      return { phase: 'Progressing', message: 'waiting for all steps to complete' };
    }
  }
  return { phase: 'Healthy', message: '' };
}

/** Argo's isGenerationObserved: a non-numeric observedGeneration (old controllers) counts as observed. */
function isGenerationObserved(ro: Rollout): boolean {
  const observed = ro.status?.observedGeneration;
  if (observed === undefined || !/^-?\d+$/.test(observed)) return true;
  const generation = ro.metadata.generation ?? 0;
  return Number(observed) >= generation;
}

/** Argo's client-side GetRolloutPhase (utils/rollout/rolloututil.go): what `sluice get`/`list`/`status` show. */
export function getRolloutPhase(ro: Rollout): PhaseResult {
  if (!isGenerationObserved(ro)) {
    return { phase: 'Progressing', message: 'waiting for rollout spec update to be observed' };
  }
  const status = ro.status ?? {};
  if (status.controllerPause && (status.pauseConditions ?? []).length === 0) {
    return { phase: 'Progressing', message: 'waiting for rollout to unpause' };
  }
  if (status.phase) return { phase: status.phase, message: status.message ?? '' };
  return calculateRolloutPhase(ro.spec, status);
}
