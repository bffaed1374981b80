// Rollout (argoproj.io/v1alpha1): types, reserved labels/annotations and defaults, following Argo's
// pkg/apis/rollouts/v1alpha1/types.go and utils/defaults/defaults.go. Objects come from the API server
// (structural CRD schema), so shapes are trusted here; semantic checks are in rollout-validation.ts.
// Quirk kept from Argo: status.observedGeneration is a STRING holding metadata.generation.

import type { AnalysisPhase } from './analysis-run.ts';
import type { IntOrString, KubeObject } from './meta.ts';
import type { LabelSelector, PodTemplateSpec } from './workloads.ts';

export const ROLLOUT_API_VERSION = 'argoproj.io/v1alpha1';

// Reserved labels and annotations (Argo's v1alpha1 constants and utils/annotations).
export const POD_TEMPLATE_HASH_LABEL = 'rollouts-pod-template-hash';
export const REVISION_ANNOTATION = 'rollout.argoproj.io/revision';
export const DESIRED_REPLICAS_ANNOTATION = 'rollout.argoproj.io/desired-replicas';
/** On a ReplicaSet: JSON of the canary/stable (preview/active) metadata injected into its pod template. */
export const EPHEMERAL_METADATA_ANNOTATION = 'rollout.argoproj.io/ephemeral-metadata';
/** Quirk: Argo's scale-down deadline annotation has no prefix. RFC 3339 value. */
export const SCALE_DOWN_DEADLINE_ANNOTATION = 'scale-down-deadline';
export const MANAGED_BY_ANNOTATION = 'argo-rollouts.argoproj.io/managed-by-rollouts';
export const WORKLOAD_GENERATION_ANNOTATION = 'rollout.argoproj.io/workload-generation';
export const ROLLOUT_TYPE_LABEL = 'rollout-type';
export const STEP_INDEX_LABEL = 'step-index';

// Deliberately parallel constants: one name per Argo default (utils/defaults/defaults.go).
export const DEFAULT_REPLICAS = 1;
export const DEFAULT_REVISION_HISTORY_LIMIT = 10;
export const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;
export const DEFAULT_SCALE_DOWN_DELAY_SECONDS = 30;
export const DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS = 30;
export const DEFAULT_MAX_SURGE = '25%';
export const DEFAULT_MAX_UNAVAILABLE = '25%';
export const DEFAULT_MAX_TRAFFIC_WEIGHT = 100;
export const DEFAULT_SUCCESSFUL_RUN_HISTORY_LIMIT = 5;
export const DEFAULT_UNSUCCESSFUL_RUN_HISTORY_LIMIT = 5;
/** Argo re-queues an invalid Rollout every 20 s. */
export const INVALID_SPEC_REQUEUE_MS = 20_000;

export interface RolloutAnalysisTemplate {
  templateName: string;
  clusterScope?: boolean;
}

export interface PodTemplateHashValueFrom {
  podTemplateHashValue?: 'Stable' | 'Latest';
  fieldRef?: { fieldPath: string };
}

export interface AnalysisRunArgument {
  name: string;
  value?: string;
  valueFrom?: PodTemplateHashValueFrom;
}

export interface RolloutAnalysis {
  templates?: RolloutAnalysisTemplate[];
  args?: AnalysisRunArgument[];
  dryRun?: { metricName: string }[];
  measurementRetention?: { metricName: string; limit: number }[];
  analysisRunMetadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
}

export interface RolloutAnalysisBackground extends RolloutAnalysis {
  startingStep?: number;
}

export interface StringMatch {
  exact?: string;
  prefix?: string;
  regex?: string;
}

export interface SetHeaderRoute {
  name: string;
  match?: { headerName: string; headerValue: StringMatch }[];
}

export interface SetMirrorRoute {
  name: string;
  match?: { method?: StringMatch; path?: StringMatch; headers?: Record<string, StringMatch> }[];
  percentage?: number;
}

export interface SetCanaryScale {
  weight?: number;
  replicas?: number;
  matchTrafficWeight?: boolean;
}

export interface RolloutPause {
  duration?: IntOrString;
}

export interface RolloutExperimentTemplate {
  name: string;
  specRef: 'canary' | 'stable';
  replicas?: number;
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  selector?: LabelSelector;
  weight?: number;
  service?: { name?: string };
}

/** Argo's RolloutExperimentStepAnalysisTemplateRef: args are resolved against the Rollout at creation. */
export interface RolloutExperimentStepAnalysis {
  name: string;
  templateName: string;
  clusterScope?: boolean;
  args?: AnalysisRunArgument[];
  requiredForCompletion?: boolean;
}

export interface RolloutExperimentStep {
  templates: RolloutExperimentTemplate[];
  duration?: string;
  analyses?: RolloutExperimentStepAnalysis[];
  dryRun?: { metricName: string }[];
  measurementRetention?: { metricName: string; limit: number }[];
  analysisRunMetadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  scaleDownDelaySeconds?: number;
}

export interface CanaryStep {
  setWeight?: number;
  pause?: RolloutPause;
  analysis?: RolloutAnalysis;
  experiment?: RolloutExperimentStep;
  setCanaryScale?: SetCanaryScale;
  setHeaderRoute?: SetHeaderRoute;
  setMirrorRoute?: SetMirrorRoute;
  plugin?: { name: string; config?: unknown };
}

export interface TrafficRouting {
  istio?: Record<string, unknown>;
  nginx?: Record<string, unknown>;
  alb?: Record<string, unknown>;
  smi?: Record<string, unknown>;
  ambassador?: Record<string, unknown>;
  appMesh?: Record<string, unknown>;
  traefik?: Record<string, unknown>;
  apisix?: Record<string, unknown>;
  plugins?: Record<string, unknown>;
  managedRoutes?: { name: string }[];
  maxTrafficWeight?: number;
}

export interface AntiAffinity {
  preferredDuringSchedulingIgnoredDuringExecution?: { weight: number };
  requiredDuringSchedulingIgnoredDuringExecution?: Record<string, never>;
}

export interface PodTemplateMetadata {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface CanaryStrategy {
  canaryService?: string;
  stableService?: string;
  steps?: CanaryStep[];
  trafficRouting?: TrafficRouting;
  maxUnavailable?: IntOrString;
  maxSurge?: IntOrString;
  analysis?: RolloutAnalysisBackground;
  antiAffinity?: AntiAffinity;
  canaryMetadata?: PodTemplateMetadata;
  stableMetadata?: PodTemplateMetadata;
  scaleDownDelaySeconds?: number;
  scaleDownDelayRevisionLimit?: number;
  abortScaleDownDelaySeconds?: number;
  dynamicStableScale?: boolean;
  pingPong?: { pingService: string; pongService: string };
  minPodsPerReplicaSet?: number;
  replicaProgressThreshold?: { type: 'Percent' | 'Pods'; value: number };
}

export interface BlueGreenStrategy {
  activeService: string;
  previewService?: string;
  previewReplicaCount?: number;
  autoPromotionEnabled?: boolean;
  autoPromotionSeconds?: number;
  maxUnavailable?: IntOrString;
  scaleDownDelaySeconds?: number;
  scaleDownDelayRevisionLimit?: number;
  abortScaleDownDelaySeconds?: number;
  prePromotionAnalysis?: RolloutAnalysis;
  postPromotionAnalysis?: RolloutAnalysis;
  antiAffinity?: AntiAffinity;
  previewMetadata?: PodTemplateMetadata;
  activeMetadata?: PodTemplateMetadata;
  /** Sluice's extension (Argo's blue-green has no traffic routing): only `plugins["sluice/proxy"]`. */
  trafficRouting?: { plugins?: Record<string, unknown> };
}

export interface RolloutStrategy {
  canary?: CanaryStrategy;
  blueGreen?: BlueGreenStrategy;
}

export interface WorkloadRef {
  apiVersion?: string;
  kind?: string;
  name?: string;
  scaleDown?: 'never' | 'onsuccess' | 'progressively';
}

export interface RolloutSpec {
  replicas?: number;
  selector?: LabelSelector;
  template?: PodTemplateSpec;
  workloadRef?: WorkloadRef;
  minReadySeconds?: number;
  revisionHistoryLimit?: number;
  paused?: boolean;
  progressDeadlineSeconds?: number;
  progressDeadlineAbort?: boolean;
  restartAt?: string;
  rollbackWindow?: { revisions?: number };
  strategy: RolloutStrategy;
  analysis?: { successfulRunHistoryLimit?: number; unsuccessfulRunHistoryLimit?: number };
}

export type PauseReason =
  | 'CanaryPauseStep'
  | 'BlueGreenPause'
  | 'InconclusiveAnalysisRun'
  | 'InconclusiveExperiment';

export interface PauseCondition {
  reason: PauseReason;
  startTime: string;
}

export type RolloutConditionType =
  | 'Progressing'
  | 'Paused'
  | 'Available'
  | 'Healthy'
  | 'Completed'
  | 'ReplicaFailure'
  | 'InvalidSpec'
  /** Sluice: set by routers that can say why a weight waits (the proxy router); absent otherwise. */
  | 'WeightVerified'
  // Sluice's: False while a traffic router's verb fails (the message names the router and the verb).
  | 'TrafficRouting';

export interface RolloutCondition {
  type: RolloutConditionType;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastUpdateTime: string;
  lastTransitionTime: string;
}

export interface RolloutAnalysisRunStatus {
  name: string;
  status: AnalysisPhase | '';
  message?: string;
}

export interface WeightDestination {
  weight: number;
  serviceName?: string;
  podTemplateHash?: string;
}

export interface TrafficWeights {
  canary: WeightDestination;
  stable: WeightDestination;
  additional?: WeightDestination[];
  verified?: boolean;
}

export interface CanaryStatus {
  currentStepAnalysisRunStatus?: RolloutAnalysisRunStatus;
  currentBackgroundAnalysisRunStatus?: RolloutAnalysisRunStatus;
  currentExperiment?: string;
  weights?: TrafficWeights;
  stablePingPong?: 'ping' | 'pong';
}

export interface BlueGreenStatus {
  previewSelector?: string;
  activeSelector?: string;
  scaleUpPreviewCheckPoint?: boolean;
  prePromotionAnalysisRunStatus?: RolloutAnalysisRunStatus;
  postPromotionAnalysisRunStatus?: RolloutAnalysisRunStatus;
}

export type RolloutPhase = 'Healthy' | 'Degraded' | 'Paused' | 'Progressing';

export interface RolloutStatus {
  abort?: boolean;
  abortedAt?: string;
  pauseConditions?: PauseCondition[];
  controllerPause?: boolean;
  currentPodHash?: string;
  currentStepHash?: string;
  currentStepIndex?: number;
  stableRS?: string;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  HPAReplicas?: number;
  selector?: string;
  collisionCount?: number;
  observedGeneration?: string;
  conditions?: RolloutCondition[];
  restartedAt?: string;
  promoteFull?: boolean;
  phase?: RolloutPhase;
  message?: string;
  workloadObservedGeneration?: string;
  canary?: CanaryStatus;
  blueGreen?: BlueGreenStatus;
}

export interface Rollout extends KubeObject {
  kind: 'Rollout';
  spec: RolloutSpec;
  status?: RolloutStatus;
}

// ---- defaults (utils/defaults/defaults.go) ----

export function replicasOrDefault(ro: Rollout): number {
  return ro.spec.replicas ?? DEFAULT_REPLICAS;
}

export function revisionHistoryLimitOrDefault(ro: Rollout): number {
  return ro.spec.revisionHistoryLimit ?? DEFAULT_REVISION_HISTORY_LIMIT;
}

export function progressDeadlineSecondsOrDefault(ro: Rollout): number {
  return ro.spec.progressDeadlineSeconds ?? DEFAULT_PROGRESS_DEADLINE_SECONDS;
}

export function maxSurgeOrDefault(ro: Rollout): IntOrString {
  return ro.spec.strategy.canary?.maxSurge ?? DEFAULT_MAX_SURGE;
}

export function maxUnavailableOrDefault(ro: Rollout): IntOrString {
  if (ro.spec.strategy.blueGreen) return ro.spec.strategy.blueGreen.maxUnavailable ?? DEFAULT_MAX_UNAVAILABLE;
  return ro.spec.strategy.canary?.maxUnavailable ?? DEFAULT_MAX_UNAVAILABLE;
}

export function maxTrafficWeight(ro: Rollout): number {
  return ro.spec.strategy.canary?.trafficRouting?.maxTrafficWeight ?? DEFAULT_MAX_TRAFFIC_WEIGHT;
}

/** Argo: scaleDownDelaySeconds (30 by default) for blueGreen, and for canary only with traffic routing. */
export function scaleDownDelaySecondsOrDefault(ro: Rollout): number {
  const bg = ro.spec.strategy.blueGreen;
  if (bg) return bg.scaleDownDelaySeconds ?? DEFAULT_SCALE_DOWN_DELAY_SECONDS;
  const c = ro.spec.strategy.canary;
  if (c?.trafficRouting) return c.scaleDownDelaySeconds ?? DEFAULT_SCALE_DOWN_DELAY_SECONDS;
  return 0;
}

/**
 * Argo's GetAbortScaleDownDelaySecondsOrDefault: undefined = no delay (scale down immediately, basic
 * canary); 0 = never scale down; otherwise seconds. Only blueGreen and traffic-routed canaries delay.
 */
export function abortScaleDownDelaySeconds(ro: Rollout): number | undefined {
  const bg = ro.spec.strategy.blueGreen;
  if (bg) return bg.abortScaleDownDelaySeconds ?? DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS;
  const c = ro.spec.strategy.canary;
  if (c?.trafficRouting) return c.abortScaleDownDelaySeconds ?? DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS;
  return undefined;
}

export function autoPromotionEnabled(ro: Rollout): boolean {
  return ro.spec.strategy.blueGreen?.autoPromotionEnabled ?? true;
}

export function canarySteps(ro: Rollout): CanaryStep[] {
  return ro.spec.strategy.canary?.steps ?? [];
}

/**
 * Argo's GetCurrentCanaryStep index: undefined for a non-canary or a canary without steps; otherwise
 * status.currentStepIndex (0 when unset), which may equal len(steps) once all steps are done.
 */
export function currentStepIndex(ro: Rollout): number | undefined {
  if (!ro.spec.strategy.canary || canarySteps(ro).length === 0) return undefined;
  return ro.status?.currentStepIndex ?? 0;
}

/**
 * Argo's GetCurrentSetWeight: 0 when aborted, 100 past the last step, else the last setWeight at or before
 * the step. One copy for the controller's replica math and the CLI's SetWeight column.
 */
export function currentSetWeight(ro: Rollout): number {
  if (ro.status?.abort) return 0;
  const steps = canarySteps(ro);
  const index = currentStepIndex(ro);
  if (index === undefined || index >= steps.length) return 100;
  for (let i = index; i >= 0; i--) {
    const w = steps[i]?.setWeight;
    if (w !== undefined) return w;
  }
  return 0;
}

export function isTrafficRouted(ro: Rollout): boolean {
  return ro.spec.strategy.canary?.trafficRouting !== undefined;
}

export function strategyName(ro: Rollout): 'canary' | 'blueGreen' | 'none' {
  if (ro.spec.strategy.blueGreen) return 'blueGreen';
  if (ro.spec.strategy.canary) return 'canary';
  return 'none';
}
