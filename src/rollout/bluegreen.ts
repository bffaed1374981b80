// The blue-green strategy (Argo's rollout/bluegreen.go): the new RS at previewReplicaCount until the
// one-way scaleUpPreviewCheckPoint, preview Service switched as soon as the new RS exists, pre-promotion
// analysis once the preview is saturated, the BlueGreenPause (autoPromotionEnabled false, or
// autoPromotionSeconds counted from the pause start), the active switch once the new RS is fully
// available, post-promotion analysis before the new RS becomes stable, the old active RS kept for
// scaleDownDelaySeconds, fast rollback to an RS still inside its delay, and abort back to stableRS.

import {
  abortScaleDownDelaySeconds,
  autoPromotionEnabled,
  POD_TEMPLATE_HASH_LABEL,
  type RolloutAnalysis,
  type RolloutAnalysisRunStatus,
  replicasOrDefault,
  SCALE_DOWN_DEADLINE_ANNOTATION,
} from '../api/rollout.ts';
import { type ReplicaSet, rsAvailable } from '../api/workloads.ts';
import { reconcileAnalysis } from './analysis.ts';
// Deliberately parallel to canary.ts's import: both strategies plan through the same context helpers.
import {
  addPause,
  annotateRS,
  type Ctx,
  event,
  findByHash,
  hasPause,
  isoTime,
  pauseStart,
  removePause,
  requeueAt,
  resumedByUser,
  scaleRS,
} from './context.ts';
import { blueGreenNewRSReplicas } from './replicas.ts';
import { scaleDownOtherReplicaSets, switchService } from './workload-ops.ts';

function deadlineMs(rs: ReplicaSet): number | undefined {
  const v = rs.metadata.annotations?.[SCALE_DOWN_DEADLINE_ANNOTATION];
  if (!v) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

export function reconcileBlueGreen(ctx: Ctx): void {
  const ro = ctx.ro;
  const bg = ro.spec.strategy.blueGreen!;
  const st = ctx.status;
  const newRS = ctx.newRS;
  const newHash = st.currentPodHash ?? '';
  const replicas = replicasOrDefault(ro);
  const activeSvc = ctx.obs.services[bg.activeService];
  const activeHash = st.blueGreen?.activeSelector ?? activeSvc?.spec.selector?.[POD_TEMPLATE_HASH_LABEL];
  const activeRS = findByHash(ctx.allRSs, activeHash);
  st.blueGreen = { ...st.blueGreen };
  const halted = ro.spec.paused === true;
  const delaySec = bg.scaleDownDelaySeconds ?? 30;

  const keep = new Set<string>([newRS.metadata.name]);
  if (activeRS) keep.add(activeRS.metadata.name);
  if (ctx.stableRS) keep.add(ctx.stableRS.metadata.name);

  const switchActive = (hash: string, annotateOld: boolean): void => {
    const previous = findByHash(ctx.allRSs, st.blueGreen?.activeSelector ?? activeHash);
    if (switchService(ctx, bg.activeService, hash, true))
      st.blueGreen = { ...st.blueGreen, activeSelector: hash };
    if (annotateOld && previous && previous.metadata.name !== findByHash(ctx.allRSs, hash)?.metadata.name) {
      annotateRS(ctx, previous, { [SCALE_DOWN_DEADLINE_ANNOTATION]: isoTime(ctx.nowMs + delaySec * 1000) });
      requeueAt(ctx, ctx.nowMs + delaySec * 1000);
    }
  };

  /** The preview Service (when there is one) and status.blueGreen.previewSelector follow `hash`. */
  const switchPreview = (hash: string): void => {
    if (bg.previewService) switchService(ctx, bg.previewService, hash, true);
    st.blueGreen = { ...st.blueGreen, previewSelector: hash };
  };
  /** Runs (or reads) a promotion analysis and records its run status; true once it passed. */
  const promotionPassed = (analysis: RolloutAnalysis, type: 'PrePromotion' | 'PostPromotion'): boolean => {
    const field =
      type === 'PrePromotion' ? 'prePromotionAnalysisRunStatus' : 'postPromotionAnalysisRunStatus';
    const gate = promotionGate(ctx, analysis, type, newHash, st.blueGreen?.[field]);
    st.blueGreen = { ...st.blueGreen, [field]: gate.status };
    return gate.passed;
  };
  const scaleDownOthers = (): void =>
    scaleDownOtherReplicaSets(
      ctx,
      ctx.allRSs.filter((rs) => !keep.has(rs.metadata.name)),
      bg.scaleDownDelayRevisionLimit,
    );

  // --- abort: active back to stable, preview RS scaled down after abortScaleDownDelaySeconds ---
  if (st.abort) {
    st.pauseConditions = undefined;
    st.controllerPause = undefined;
    const stableHash = st.stableRS;
    if (stableHash) {
      switchActive(stableHash, false);
      const stableRS = findByHash(ctx.allRSs, stableHash);
      if (stableRS && !halted) scaleRS(ctx, stableRS, replicas);
      switchPreview(stableHash);
    }
    if (!halted && newRS.metadata.name !== ctx.stableRS?.metadata.name && (newRS.spec.replicas ?? 1) > 0) {
      const delay = abortScaleDownDelaySeconds(ro);
      if (delay !== 0) {
        const due = deadlineMs(newRS);
        if (due === undefined) {
          annotateRS(ctx, newRS, {
            [SCALE_DOWN_DEADLINE_ANNOTATION]: isoTime(ctx.nowMs + (delay ?? 0) * 1000),
          });
          requeueAt(ctx, ctx.nowMs + (delay ?? 0) * 1000);
        } else if (due > ctx.nowMs) requeueAt(ctx, due);
        else scaleRS(ctx, newRS, 0, { [SCALE_DOWN_DEADLINE_ANNOTATION]: null });
      }
    }
    if (!halted) scaleDownOthers();
    return;
  }

  // --- first deploy: nothing serves yet, so point everything at the new RS at once ---
  if (!activeHash || !st.stableRS) {
    if (!halted) scaleRS(ctx, newRS, replicas);
    switchActive(newHash, false);
    switchPreview(newHash);
    if (!st.stableRS) {
      // Argo announces the first completion too, as the canary's initial deploy does.
      event(
        ctx,
        'Normal',
        'RolloutCompleted',
        `Rollout completed update to revision ${ctx.revision} (${newHash}): Initial deploy`,
      );
    }
    st.stableRS = newHash;
    return;
  }

  const promoted = st.stableRS === newHash && activeHash === newHash;
  if (promoted) {
    if (!halted) scaleRS(ctx, newRS, replicas);
    switchPreview(newHash);
    st.blueGreen.scaleUpPreviewCheckPoint = undefined;
    st.promoteFull = undefined;
    if (!halted) scaleDownOthers();
    return;
  }
  if (halted) return;

  // --- fast rollback: the new RS is an older one still scaled up inside its delay ---
  const withinDelay = deadlineMs(newRS) !== undefined && rsAvailable(newRS) >= replicas;
  if (activeHash !== newHash && withinDelay) {
    annotateRS(ctx, newRS, { [SCALE_DOWN_DEADLINE_ANNOTATION]: null });
    switchActive(newHash, true);
    switchPreview(newHash);
    st.stableRS = newHash;
    event(
      ctx,
      'Normal',
      'RolloutCompleted',
      `Rollout completed update to revision ${ctx.revision} (${newHash}): Fast rollback`,
    );
    return;
  }

  if (activeHash !== newHash) {
    // --- before the switch: preview stack ---
    const desired = blueGreenNewRSReplicas(ro, newRS, activeRS);
    scaleRS(ctx, newRS, desired);
    if (activeRS) scaleRS(ctx, activeRS, replicas);
    switchPreview(newHash);
    scaleDownOthers();
    const saturated = rsAvailable(newRS) >= desired && (newRS.spec.replicas ?? 1) === desired;
    if (!saturated) return;

    if (st.promoteFull !== true) {
      if (bg.prePromotionAnalysis && !promotionPassed(bg.prePromotionAnalysis, 'PrePromotion')) return;
      // --- the BlueGreenPause handshake ---
      const auto = autoPromotionEnabled(ro);
      const autoSec = bg.autoPromotionSeconds ?? 0;
      if (!auto || autoSec > 0) {
        const start = pauseStart(ctx, 'BlueGreenPause');
        const resumed = start === undefined && resumedByUser(ctx);
        if (!resumed) {
          if (start === undefined) {
            addPause(ctx, 'BlueGreenPause');
            if (auto) requeueAt(ctx, ctx.nowMs + autoSec * 1000);
            return;
          }
          if (auto && ctx.nowMs >= start + autoSec * 1000) removePause(ctx, 'BlueGreenPause');
          else {
            if (auto) requeueAt(ctx, start + autoSec * 1000);
            return;
          }
        }
      }
      if (bg.previewReplicaCount !== undefined && !st.blueGreen.scaleUpPreviewCheckPoint) {
        st.blueGreen.scaleUpPreviewCheckPoint = true;
        requeueAt(ctx, ctx.nowMs);
        return;
      }
    }
    if (rsAvailable(newRS) < replicas || (newRS.spec.replicas ?? 1) < replicas) {
      scaleRS(ctx, newRS, replicas);
      return;
    }
    const delayOld = !(bg.postPromotionAnalysis && bg.scaleDownDelaySeconds === undefined);
    switchActive(newHash, delayOld);
    st.pauseConditions = undefined;
    st.controllerPause = undefined;
  }

  // --- after the switch: post-promotion analysis, then the new RS becomes stable ---
  scaleRS(ctx, newRS, replicas);
  if (bg.postPromotionAnalysis && st.promoteFull !== true) {
    if (!promotionPassed(bg.postPromotionAnalysis, 'PostPromotion')) return;
    if (bg.scaleDownDelaySeconds === undefined) {
      const old = findByHash(ctx.allRSs, st.stableRS);
      if (old && old.metadata.name !== newRS.metadata.name) {
        annotateRS(ctx, old, { [SCALE_DOWN_DEADLINE_ANNOTATION]: isoTime(ctx.nowMs + delaySec * 1000) });
        requeueAt(ctx, ctx.nowMs + delaySec * 1000);
      }
    }
  }
  st.stableRS = newHash;
  st.promoteFull = undefined;
  st.blueGreen.scaleUpPreviewCheckPoint = undefined;
  st.controllerPause = undefined;
  event(
    ctx,
    'Normal',
    'RolloutCompleted',
    `Rollout completed update to revision ${ctx.revision} (${newHash}): Completed blue-green update`,
  );
}

/**
 * A pre- or post-promotion analysis gate (Argo's rollout/analysis.go): creates or reads the run;
 * invalid or failed aborts, inconclusive pauses until the user promotes, successful passes. `status`
 * is what the rollout's status records for the run (kept when the gate is invalid).
 */
function promotionGate(
  ctx: Ctx,
  analysis: RolloutAnalysis,
  type: 'PrePromotion' | 'PostPromotion',
  podHash: string,
  recorded: RolloutAnalysisRunStatus | undefined,
): { passed: boolean; status: RolloutAnalysisRunStatus | undefined } {
  const out = reconcileAnalysis(
    ctx,
    analysis,
    { type, podHash, revision: ctx.revision },
    recorded,
    !hasPause(ctx, 'InconclusiveAnalysisRun'),
  );
  if (out?.kind === 'invalid') {
    ctx.abortMessage = `${type} analysis: ${out.error}`;
    return { passed: false, status: recorded };
  }
  const status = out && 'status' in out ? out.status : undefined;
  if (out?.kind === 'failed') {
    ctx.abortMessage = out.message;
    return { passed: false, status };
  }
  if (out?.kind === 'inconclusive' && !resumedByUser(ctx)) {
    addPause(ctx, 'InconclusiveAnalysisRun');
    return { passed: false, status };
  }
  return {
    passed: out?.kind === 'successful' || (out?.kind === 'inconclusive' && resumedByUser(ctx)),
    status,
  };
}
