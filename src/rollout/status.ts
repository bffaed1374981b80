// Status bookkeeping: replica counts (for blueGreen, HPAReplicas/selector/available describe the active
// RS), the scale-subresource selector string, the Progressing/Paused/Available/Healthy/Completed
// conditions with Argo's reasons and messages and the progress deadline.

import {
  POD_TEMPLATE_HASH_LABEL,
  progressDeadlineSecondsOrDefault,
  type RolloutCondition,
  type RolloutConditionType,
  type RolloutStatus,
  replicasOrDefault,
} from '../api/rollout.ts';
import { type ReplicaSet, rsAvailable, rsReady, rsStatusReplicas } from '../api/workloads.ts';
import { getCondition, MESSAGE, newCondition, REASON, setCondition } from './conditions.ts';
import { type Ctx, event, findByHash, requeueAt } from './context.ts';

export function selectorString(matchLabels: Readonly<Record<string, string>>): string {
  return Object.keys(matchLabels)
    .sort()
    .map((k) => `${k}=${matchLabels[k]}`)
    .join(',');
}

export function computeCounts(ctx: Ctx): void {
  const st = ctx.status;
  const all = ctx.allRSs;
  const sum = (f: (rs: ReplicaSet) => number) => all.reduce((n, rs) => n + f(rs), 0);
  st.replicas = sum(rsStatusReplicas);
  st.updatedReplicas = rsStatusReplicas(ctx.newRS);
  const match = ctx.ro.spec.selector?.matchLabels ?? {};
  if (ctx.ro.spec.strategy.blueGreen) {
    const active = findByHash(all, st.blueGreen?.activeSelector);
    st.readyReplicas = rsReady(active);
    st.availableReplicas = rsAvailable(active);
    st.HPAReplicas = rsStatusReplicas(active);
    st.selector = selectorString(
      st.blueGreen?.activeSelector
        ? { ...match, [POD_TEMPLATE_HASH_LABEL]: st.blueGreen.activeSelector }
        : match,
    );
  } else {
    st.readyReplicas = sum(rsReady);
    st.availableReplicas = sum(rsAvailable);
    st.HPAReplicas = st.replicas;
    st.selector = selectorString(match);
  }
}

function progressed(old: RolloutStatus, st: RolloutStatus): boolean {
  return (
    old.updatedReplicas !== st.updatedReplicas ||
    (old.replicas ?? 0) > (st.replicas ?? 0) ||
    (old.readyReplicas ?? 0) < (st.readyReplicas ?? 0) ||
    (old.availableReplicas ?? 0) < (st.availableReplicas ?? 0) ||
    old.stableRS !== st.stableRS ||
    old.currentStepIndex !== st.currentStepIndex ||
    old.currentStepHash !== st.currentStepHash ||
    old.blueGreen?.activeSelector !== st.blueGreen?.activeSelector ||
    old.blueGreen?.previewSelector !== st.blueGreen?.previewSelector
  );
}

/** Whether the progress deadline is suspended (Argo: paused, analysis/experiment steps, delayed scale-downs). */
function deadlineSuspended(ctx: Ctx): boolean {
  const st = ctx.status;
  if (ctx.ro.spec.paused || (st.pauseConditions ?? []).length > 0) return true;
  const steps = ctx.ro.spec.strategy.canary?.steps ?? [];
  const step = steps[st.currentStepIndex ?? 0];
  if (step && (step.analysis !== undefined || step.experiment !== undefined || step.pause !== undefined)) {
    if (st.stableRS !== st.currentPodHash) return true;
  }
  return false;
}

export function computeConditions(ctx: Ctx, abortReason: string | undefined): void {
  const st = ctx.status;
  const old = ctx.old;
  const nowIso = ctx.nowIso;
  const replicas = replicasOrDefault(ctx.ro);
  let conds: RolloutCondition[] = (st.conditions ?? []).filter((c) => c.type !== 'InvalidSpec');
  const rsName = ctx.newRS.metadata.name;
  const paused = ctx.ro.spec.paused === true || (st.pauseConditions ?? []).length > 0;
  const completed = st.stableRS === st.currentPodHash;
  const available = ctx.ro.spec.strategy.blueGreen
    ? (st.availableReplicas ?? 0) >= replicas
    : (st.availableReplicas ?? 0) >= replicas;
  const healthy =
    !paused &&
    completed &&
    (st.updatedReplicas ?? 0) >= replicas &&
    (st.availableReplicas ?? 0) >= replicas &&
    (ctx.ro.spec.strategy.blueGreen
      ? st.blueGreen?.activeSelector === st.currentPodHash
      : (st.replicas ?? 0) <= replicas);
  const prev = getCondition(old, 'Progressing');

  let progressing: RolloutCondition;
  if (st.abort) {
    const keepMsg = prev?.reason === REASON.RolloutAborted && abortReason === undefined;
    progressing = keepMsg
      ? prev
      : newCondition(
          'Progressing',
          'False',
          REASON.RolloutAborted,
          MESSAGE.rolloutAborted(ctx.revision, abortReason),
          nowIso,
        );
  } else if (old.abortedAt && !st.abort) {
    progressing = newCondition('Progressing', 'Unknown', REASON.RolloutRetry, MESSAGE.rolloutRetry, nowIso);
  } else if (paused) {
    progressing = newCondition('Progressing', 'Unknown', REASON.RolloutPaused, MESSAGE.rolloutPaused, nowIso);
  } else if (healthy) {
    progressing = newCondition(
      'Progressing',
      'True',
      REASON.NewReplicaSetAvailable,
      MESSAGE.replicaSetCompleted(rsName),
      nowIso,
    );
  } else if (prev?.reason === REASON.RolloutPaused) {
    progressing = newCondition(
      'Progressing',
      'Unknown',
      REASON.RolloutResumed,
      MESSAGE.rolloutResumed,
      nowIso,
    );
  } else if (ctx.newRSCreated) {
    progressing = newCondition(
      'Progressing',
      'True',
      REASON.NewReplicaSetCreated,
      MESSAGE.newReplicaSetCreated(rsName),
      nowIso,
    );
  } else if (prev && prev.reason === REASON.ProgressDeadlineExceeded && !progressed(old, st)) {
    progressing = prev;
  } else if (!prev || progressed(old, st) || prev.status !== 'True') {
    progressing = newCondition(
      'Progressing',
      'True',
      REASON.ReplicaSetUpdated,
      MESSAGE.replicaSetProgressing(rsName),
      nowIso,
    );
    if (prev && prev.status === 'True') progressing.lastTransitionTime = prev.lastTransitionTime;
  } else {
    progressing = prev;
  }
  // Argo's SetRolloutCondition: the same status, reason and message keep the condition as it is, its
  // lastUpdateTime included. Only ReplicaSetUpdated bumps lastUpdateTime, and only when progress was seen.
  // Rewriting it on every reconcile made each status patch cause the next one (a loop paced only by the
  // client's qps, once reconciles of many Rollouts were more than a second apart).
  if (
    prev !== undefined &&
    progressing !== prev &&
    progressing.reason !== REASON.ReplicaSetUpdated &&
    progressing.status === prev.status &&
    progressing.reason === prev.reason &&
    progressing.message === prev.message
  )
    progressing = prev;
  // Progress deadline (Argo's timeout check against lastUpdateTime).
  if (
    progressing.status === 'True' &&
    progressing.reason !== REASON.NewReplicaSetAvailable &&
    !deadlineSuspended(ctx)
  ) {
    const deadlineMs =
      Date.parse(progressing.lastUpdateTime) + progressDeadlineSecondsOrDefault(ctx.ro) * 1000;
    if (ctx.nowMs >= deadlineMs) {
      progressing = newCondition(
        'Progressing',
        'False',
        REASON.ProgressDeadlineExceeded,
        MESSAGE.replicaSetTimedOut(rsName),
        nowIso,
      );
      event(ctx, 'Warning', REASON.ProgressDeadlineExceeded, MESSAGE.replicaSetTimedOut(rsName));
    } else requeueAt(ctx, deadlineMs);
  }
  conds = progressing === prev ? conds : [...conds.filter((c) => c.type !== 'Progressing'), progressing];
  if (progressing !== prev && prev && prev.status === progressing.status) {
    conds = conds.map((c) =>
      c.type === 'Progressing' ? { ...progressing, lastTransitionTime: prev.lastTransitionTime } : c,
    );
  }

  // Paused, Available, Healthy, Completed: True or False, one reason, a message for each side.
  const twoState = (
    type: RolloutConditionType,
    on: boolean,
    reason: string,
    messages: { readonly on: string; readonly off: string },
  ) => {
    conds = setCondition(
      conds,
      newCondition(type, on ? 'True' : 'False', reason, on ? messages.on : messages.off, nowIso),
    );
  };
  twoState('Paused', paused, REASON.RolloutPaused, {
    on: MESSAGE.rolloutPaused,
    off: MESSAGE.rolloutResumed,
  });
  twoState('Available', available, REASON.Available, { on: MESSAGE.available, off: MESSAGE.notAvailable });
  twoState('Healthy', healthy, REASON.RolloutHealthy, { on: MESSAGE.healthy, off: MESSAGE.notHealthy });
  twoState('Completed', completed, REASON.RolloutCompleted, {
    on: `Rollout completed update to revision ${ctx.revision} (${st.currentPodHash}): Rollout completed update to revision ${ctx.revision}`,
    off: `Rollout not completed, started update to revision ${ctx.revision} (${st.currentPodHash})`,
  });
  // ReplicaFailure is copied from the ReplicaSets (the new RS preferred), as Argo does.
  const failure = [ctx.newRS, ...ctx.allRSs]
    .flatMap((rs) => rs.status?.conditions ?? [])
    .find((c) => c.type === 'ReplicaFailure' && c.status === 'True');
  if (failure) {
    conds = setCondition(
      conds,
      newCondition('ReplicaFailure', 'True', failure.reason ?? 'FailedCreate', failure.message ?? '', nowIso),
    );
  } else conds = conds.filter((c) => c.type !== 'ReplicaFailure');
  st.conditions = conds;
}

/** Removes undefined members recursively (so a status compares and serialises cleanly). */
export function pruneUndefined<T>(value: T): T {
  return JSON.parse(JSON.stringify(value ?? {})) as T;
}
