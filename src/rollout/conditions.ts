// Rollout conditions (Argo's utils/conditions/conditions.go): types, reasons, messages, and the setter
// that keeps lastTransitionTime when the status does not change.

import type { RolloutCondition, RolloutConditionType, RolloutStatus } from '../api/rollout.ts';

export const REASON = {
  NewReplicaSetCreated: 'NewReplicaSetCreated',
  FoundNewReplicaSet: 'FoundNewReplicaSet',
  ReplicaSetUpdated: 'ReplicaSetUpdated',
  NewReplicaSetAvailable: 'NewReplicaSetAvailable',
  ReplicaSetNotAvailable: 'ReplicaSetNotAvailable',
  RolloutPaused: 'RolloutPaused',
  RolloutResumed: 'RolloutResumed',
  RolloutRetry: 'RolloutRetry',
  ProgressDeadlineExceeded: 'ProgressDeadlineExceeded',
  RolloutAborted: 'RolloutAborted',
  ReplicaSetCreateError: 'ReplicaSetCreateError',
  Available: 'AvailableReason',
  RolloutHealthy: 'RolloutHealthy',
  RolloutCompleted: 'RolloutCompleted',
  InvalidSpec: 'InvalidSpec',
  WeightVerified: 'WeightVerified',
  WeightNotVerified: 'WeightNotVerified',
  TrafficRoutingError: 'TrafficRoutingError',
  TrafficRoutingReady: 'TrafficRoutingReady',
} as const;

export const MESSAGE = {
  newReplicaSetCreated: (rs: string) => `Created new replica set "${rs}"`,
  foundNewReplicaSet: (rs: string) => `Found new replica set "${rs}"`,
  replicaSetProgressing: (rs: string) => `ReplicaSet "${rs}" is progressing.`,
  replicaSetCompleted: (rs: string) => `ReplicaSet "${rs}" has successfully progressed.`,
  replicaSetNotAvailable: 'Rollout does not have minimum availability',
  replicaSetTimedOut: (rs: string) => `ReplicaSet "${rs}" has timed out progressing.`,
  rolloutTimedOut: (ro: string) => `Rollout "${ro}" has timed out progressing.`,
  rolloutPaused: 'Rollout is paused',
  rolloutResumed: 'Rollout is resumed',
  rolloutRetry: 'Retrying Rollout after abort',
  rolloutAborted: (revision: number, reason?: string) =>
    `Rollout aborted update to revision ${revision}${reason ? `: ${reason}` : ''}`,
  available: 'Rollout has minimum availability',
  notAvailable: 'Rollout does not have minimum availability',
  healthy: 'Rollout is healthy',
  notHealthy: 'Rollout does not have minimum availability',
  completed: 'Rollout completed update to revision',
  invalidSpec: (name: string, detail: string) => `The Rollout "${name}" is invalid: ${detail}`,
} as const;

export function getCondition(
  status: RolloutStatus | undefined,
  type: RolloutConditionType,
): RolloutCondition | undefined {
  return status?.conditions?.find((c) => c.type === type);
}

export function newCondition(
  type: RolloutConditionType,
  status: RolloutCondition['status'],
  reason: string,
  message: string,
  nowIso: string,
): RolloutCondition {
  return { type, status, reason, message, lastUpdateTime: nowIso, lastTransitionTime: nowIso };
}

/**
 * Argo's SetRolloutCondition: replaces the condition of the same type; when status and reason are
 * unchanged the old condition is kept as is (no churn); when only the reason/message changes the
 * lastTransitionTime is kept.
 */
export function setCondition(conditions: RolloutCondition[], next: RolloutCondition): RolloutCondition[] {
  const current = conditions.find((c) => c.type === next.type);
  if (current && current.status === next.status && current.reason === next.reason) {
    if (current.message === next.message) return conditions;
    const updated = { ...next, lastTransitionTime: current.lastTransitionTime };
    return conditions.map((c) => (c.type === next.type ? updated : c));
  }
  const value =
    current && current.status === next.status
      ? { ...next, lastTransitionTime: current.lastTransitionTime }
      : next;
  return [...conditions.filter((c) => c.type !== next.type), value];
}

export function removeCondition(
  conditions: RolloutCondition[],
  type: RolloutConditionType,
): RolloutCondition[] {
  return conditions.filter((c) => c.type !== type);
}
