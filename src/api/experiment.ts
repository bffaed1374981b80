// Experiment (argoproj.io/v1alpha1, short name exp): the types of Argo's experiment_types.go. The
// controller is src/experiment/ (plan.ts decides, apply.ts writes, reconcile.ts binds them to the store).

import type { AnalysisPhase } from './analysis-run.ts';
import type { Argument } from './analysis-template.ts';
import type { KubeObject } from './meta.ts';
import type { LabelSelector, PodTemplateSpec, WorkloadCondition } from './workloads.ts';

export interface TemplateSpec {
  name: string;
  replicas?: number;
  minReadySeconds?: number;
  selector?: LabelSelector;
  template: PodTemplateSpec;
  service?: { name?: string };
}

export interface ExperimentAnalysisTemplateRef {
  name: string;
  templateName: string;
  clusterScope?: boolean;
  args?: Argument[];
  requiredForCompletion?: boolean;
}

export interface ExperimentSpec {
  templates: TemplateSpec[];
  duration?: string;
  progressDeadlineSeconds?: number;
  terminate?: boolean;
  analyses?: ExperimentAnalysisTemplateRef[];
  scaleDownDelaySeconds?: number;
  dryRun?: { metricName: string }[];
  measurementRetention?: { metricName: string; limit: number }[];
  analysisRunMetadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
}

export type TemplateStatusCode = 'Progressing' | 'Running' | 'Successful' | 'Failed' | 'Error';

export interface TemplateStatus {
  name: string;
  replicas: number;
  updatedReplicas: number;
  readyReplicas: number;
  availableReplicas: number;
  collisionCount?: number;
  status?: TemplateStatusCode;
  message?: string;
  lastTransitionTime?: string;
  serviceName?: string;
  podTemplateHash?: string;
}

export interface ExperimentAnalysisRunStatus {
  name: string;
  analysisRun: string;
  phase: AnalysisPhase;
  message?: string;
}

export interface ExperimentStatus {
  phase?: AnalysisPhase;
  message?: string;
  templateStatuses?: TemplateStatus[];
  availableAt?: string;
  conditions?: WorkloadCondition[];
  analysisRuns?: ExperimentAnalysisRunStatus[];
}

export interface Experiment extends KubeObject {
  kind: 'Experiment';
  spec: ExperimentSpec;
  status?: ExperimentStatus;
}

export const DEFAULT_EXPERIMENT_PROGRESS_DEADLINE_SECONDS = 600;
export const DEFAULT_EXPERIMENT_SCALE_DOWN_DELAY_SECONDS = 30;
