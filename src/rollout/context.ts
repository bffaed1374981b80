// Shared vocabulary of the planner: the observed state it reads, the actions it emits, and helpers on
// ReplicaSets of one Rollout. No I/O here; apply.ts executes actions through the ObjectStore.

import type { AnalysisRun } from '../api/analysis-run.ts';
import type { AnalysisTemplate } from '../api/analysis-template.ts';
import type { Experiment } from '../api/experiment.ts';
import {
  DEFAULT_SUCCESSFUL_RUN_HISTORY_LIMIT,
  DEFAULT_UNSUCCESSFUL_RUN_HISTORY_LIMIT,
  POD_TEMPLATE_HASH_LABEL,
  REVISION_ANNOTATION,
  type Rollout,
  type RolloutStatus,
  type SetHeaderRoute,
  type SetMirrorRoute,
} from '../api/rollout.ts';
import type { Deployment, Pod, ReplicaSet, Service } from '../api/workloads.ts';
import type { ChildWrite } from '../reconcile/child-writes.ts';
import type { PlannedEvent } from '../reconcile/result.ts';
import type { WeightDestinationSpec } from '../traffic/router.ts';

export interface Observed {
  readonly rollout: Rollout;
  /** ReplicaSets controlled by this Rollout (ownerReference uid) or adoptable by selector. */
  readonly replicaSets: readonly ReplicaSet[];
  /** Services referenced by the strategy, by name; undefined when absent. */
  readonly services: Readonly<Record<string, Service | undefined>>;
  /** AnalysisRuns controlled by this Rollout. */
  readonly analysisRuns: readonly AnalysisRun[];
  readonly lookupTemplate: (name: string, clusterScope: boolean) => AnalysisTemplate | undefined;
  /** Experiments controlled by this Rollout (canary experiment steps); none when absent. */
  readonly experiments?: readonly Experiment[];
  /** Pods of this Rollout's ReplicaSets (needed for restartAt and ephemeral metadata only). */
  readonly pods?: readonly Pod[];
  /** The Deployment named by spec.workloadRef, when used. */
  readonly workload?: Deployment;
  readonly nowMs: number;
}

export interface TrafficAction {
  readonly kind: 'traffic';
  readonly canaryHash: string;
  readonly stableHash: string;
  readonly canaryService?: string;
  readonly stableService?: string;
  readonly weight: number;
  /** Experiment Services that take traffic beside canary and stable (Argo's additional destinations). */
  readonly additional: readonly WeightDestinationSpec[];
  readonly removeManagedRoutes: boolean;
  /** Reset weight to 0 before changing hashes (never send traffic to a canary with 0 available pods). */
  readonly resetWeightFirst: boolean;
  readonly headerRoute?: SetHeaderRoute;
  readonly mirrorRoute?: SetMirrorRoute;
}

export type Action =
  | { readonly kind: 'setSpecReplicas'; readonly replicas: number }
  | { readonly kind: 'patchRolloutAnnotations'; readonly annotations: Record<string, string> }
  | ChildWrite
  | {
      /** Ephemeral metadata and injected anti-affinity: a merge patch of the RS and its pod template. */
      readonly kind: 'patchReplicaSetTemplate';
      readonly name: string;
      readonly annotations?: Readonly<Record<string, string | null>>;
      readonly templateMetadata?: {
        readonly labels: Readonly<Record<string, string | null>>;
        readonly annotations: Readonly<Record<string, string | null>>;
      };
      /** A merge patch of spec.template.spec.affinity; null removes it. */
      readonly affinityPatch?: unknown;
    }
  | {
      /** Ephemeral metadata on a running pod, in place: null removes a key. */
      readonly kind: 'patchPodMetadata';
      readonly name: string;
      readonly labels: Readonly<Record<string, string | null>>;
      readonly annotations: Readonly<Record<string, string | null>>;
    }
  | { readonly kind: 'deleteReplicaSet'; readonly name: string }
  | {
      readonly kind: 'switchService';
      readonly service: string;
      readonly hash: string;
      readonly rolloutName: string;
    }
  | { readonly kind: 'deleteAnalysisRun'; readonly name: string }
  | { readonly kind: 'createExperiment'; readonly experiment: Experiment }
  | { readonly kind: 'terminateExperiment'; readonly name: string }
  | { readonly kind: 'deleteExperiment'; readonly name: string }
  | TrafficAction
  | { readonly kind: 'scaleDeployment'; readonly name: string; readonly replicas: number }
  | {
      /** Restart: evict in this order until `limit` pods went (a budget's refusal skips to the next). */
      readonly kind: 'evictPods';
      readonly names: readonly string[];
      readonly limit: number;
    };

export interface Plan {
  readonly actions: Action[];
  /** The complete new status; reconcile diffs it against the old one into a merge patch. */
  readonly status: RolloutStatus;
  readonly events: PlannedEvent[];
  /** Re-reconcile after this many ms (pause durations, scale-down deadlines, progress deadline). */
  readonly requeueAfterMs?: number;
}

export function rsHash(rs: ReplicaSet | undefined): string | undefined {
  return rs?.metadata.labels?.[POD_TEMPLATE_HASH_LABEL];
}

export function rsRevision(rs: ReplicaSet): number {
  const v = Number(rs.metadata.annotations?.[REVISION_ANNOTATION]);
  return Number.isFinite(v) ? v : 0;
}

export function findByHash(rss: readonly ReplicaSet[], hash: string | undefined): ReplicaSet | undefined {
  if (!hash) return undefined;
  return rss.find((rs) => rsHash(rs) === hash);
}

export function isoTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * metadata.creationTimestamp in ms; 0 when missing or unparsable. Takes any metadata: AnalysisRun's
 * (the manifest's) does not declare the field, though every stored object has it.
 */
export function createdMs(obj: { readonly metadata: object }): number {
  const ts = (obj.metadata as { creationTimestamp?: unknown }).creationTimestamp;
  const t = typeof ts === 'string' ? Date.parse(ts) : Number.NaN;
  return Number.isNaN(t) ? 0 : t;
}

/**
 * Argo's successfulRunHistoryLimit / unsuccessfulRunHistoryLimit for the AnalysisRuns and Experiments a
 * Rollout keeps: fed finished items newest first, says whether each one is over the limit of its kind.
 */
export function runHistoryLimit(ro: Rollout): (successful: boolean) => boolean {
  const limits = ro.spec.analysis ?? {};
  const successfulLimit = limits.successfulRunHistoryLimit ?? DEFAULT_SUCCESSFUL_RUN_HISTORY_LIMIT;
  const unsuccessfulLimit = limits.unsuccessfulRunHistoryLimit ?? DEFAULT_UNSUCCESSFUL_RUN_HISTORY_LIMIT;
  let successful = 0;
  let unsuccessful = 0;
  return (isSuccessful) =>
    isSuccessful ? ++successful > successfulLimit : ++unsuccessful > unsuccessfulLimit;
}

/** Keeps the earliest requeue. */
export function earliest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

/** The mutable working state of one planning pass. */
export interface Ctx {
  readonly ro: Rollout;
  readonly obs: Observed;
  readonly nowMs: number;
  readonly nowIso: string;
  /** Status as read at the start of the reconcile. */
  readonly old: RolloutStatus;
  /** The new status being built. */
  status: RolloutStatus;
  readonly actions: Action[];
  readonly events: PlannedEvent[];
  requeueAtMs?: number;
  readonly allRSs: ReplicaSet[];
  newRS: ReplicaSet;
  newRSCreated: boolean;
  stableRS?: ReplicaSet;
  readonly revision: number;
  /** Names of AnalysisRuns that are current this reconcile (all others unfinished get terminated). */
  readonly keepRuns: Set<string>;
  /** Abort requested by an analysis verdict or the progress deadline this reconcile. */
  abortMessage?: string;
}

export function event(ctx: Ctx, type: 'Normal' | 'Warning', reason: string, message: string): void {
  ctx.events.push({ type, reason, message });
}

export function requeueAt(ctx: Ctx, atMs: number): void {
  ctx.requeueAtMs = earliest(ctx.requeueAtMs, Math.max(atMs, ctx.nowMs));
}

/** The spec replicas this plan gives an RS (a pending scale or create, else the observed value). */
export function plannedReplicas(ctx: Ctx, rs: ReplicaSet): number {
  for (let i = ctx.actions.length - 1; i >= 0; i--) {
    const a = ctx.actions[i]!;
    if (a.kind === 'scaleReplicaSet' && a.name === rs.metadata.name) return a.replicas;
  }
  return rs.spec.replicas ?? 1;
}

/** Scales an RS (folding into its create action when it is new this reconcile), with Argo's event. */
export function scaleRS(
  ctx: Ctx,
  rs: ReplicaSet,
  replicas: number,
  annotations?: Readonly<Record<string, string | null>>,
): void {
  const current = rs.spec.replicas ?? 1;
  if (ctx.newRSCreated && rs.metadata.name === ctx.newRS.metadata.name) {
    rs.spec.replicas = replicas;
    return;
  }
  const annChanged =
    annotations !== undefined &&
    Object.entries(annotations).some(([k, v]) => (rs.metadata.annotations?.[k] ?? null) !== v);
  if (current === replicas && !annChanged) return;
  const idx = ctx.actions.findIndex((a) => a.kind === 'scaleReplicaSet' && a.name === rs.metadata.name);
  if (idx >= 0) ctx.actions.splice(idx, 1);
  ctx.actions.push({
    kind: 'scaleReplicaSet',
    name: rs.metadata.name,
    replicas,
    ...(annotations ? { annotations } : {}),
  });
  if (current !== replicas) {
    const op = replicas > current ? 'up' : 'down';
    event(
      ctx,
      'Normal',
      'ScalingReplicaSet',
      `Scaled ${op} ReplicaSet ${rs.metadata.name} (revision ${rsRevision(rs)}) from ${current} to ${replicas}`,
    );
  }
}

export function annotateRS(
  ctx: Ctx,
  rs: ReplicaSet,
  annotations: Readonly<Record<string, string | null>>,
): void {
  const changed = Object.entries(annotations).some(([k, v]) => (rs.metadata.annotations?.[k] ?? null) !== v);
  if (!changed) return;
  if (ctx.newRSCreated && rs.metadata.name === ctx.newRS.metadata.name) {
    const ann = { ...(rs.metadata.annotations ?? {}) };
    for (const [k, v] of Object.entries(annotations)) {
      if (v === null) delete ann[k];
      else ann[k] = v;
    }
    rs.metadata.annotations = ann;
    return;
  }
  ctx.actions.push({ kind: 'annotateReplicaSet', name: rs.metadata.name, annotations });
}

// ---- pause conditions (Argo's rollout/pause.go pauseContext) ----

export function hasPause(ctx: Ctx, reason: string): boolean {
  return (ctx.status.pauseConditions ?? []).some((p) => p.reason === reason);
}

export function pauseStart(ctx: Ctx, reason: string): number | undefined {
  const p = (ctx.status.pauseConditions ?? []).find((c) => c.reason === reason);
  return p ? Date.parse(p.startTime) : undefined;
}

export function addPause(
  ctx: Ctx,
  reason: 'CanaryPauseStep' | 'BlueGreenPause' | 'InconclusiveAnalysisRun' | 'InconclusiveExperiment',
): void {
  if (hasPause(ctx, reason)) return;
  ctx.status.pauseConditions = [...(ctx.status.pauseConditions ?? []), { reason, startTime: ctx.nowIso }];
  ctx.status.controllerPause = true;
  event(ctx, 'Normal', 'RolloutPaused', `Rollout is paused (${reason})`);
}

export function removePause(ctx: Ctx, reason: string): void {
  const left = (ctx.status.pauseConditions ?? []).filter((p) => p.reason !== reason);
  ctx.status.pauseConditions = left.length > 0 ? left : undefined;
}

/** Argo's handshake: the user resumed when controllerPause is set and no pause condition is left. */
export function resumedByUser(ctx: Ctx): boolean {
  return ctx.old.controllerPause === true && (ctx.old.pauseConditions ?? []).length === 0;
}
