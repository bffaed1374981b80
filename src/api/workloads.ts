// Minimal typed shapes of the core/apps objects the Rollout reconciler reads and writes: ReplicaSet,
// Service, Pod, Deployment. Only the fields Sluice looks at are typed; pod specs stay opaque records
// because the controller copies them, hashes them and compares them, and never interprets them.

import type { KubeObject } from './meta.ts';

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

export interface PodTemplateSpec {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  spec?: Record<string, unknown>;
}

export interface WorkloadCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  lastUpdateTime?: string;
}

export interface ReplicaSetSpec {
  replicas?: number;
  minReadySeconds?: number;
  selector: LabelSelector;
  template: PodTemplateSpec;
}

export interface ReplicaSetStatus {
  replicas?: number;
  fullyLabeledReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  observedGeneration?: number;
  conditions?: WorkloadCondition[];
}

export interface ReplicaSet extends KubeObject {
  kind: 'ReplicaSet';
  spec: ReplicaSetSpec;
  status?: ReplicaSetStatus;
}

export interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: string;
}

export interface Service extends KubeObject {
  kind: 'Service';
  spec: { selector?: Record<string, string>; ports?: ServicePort[]; type?: string; [k: string]: unknown };
}

export interface PodCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastTransitionTime?: string;
}

export interface Pod extends KubeObject {
  kind: 'Pod';
  spec?: Record<string, unknown>;
  status?: { phase?: string; conditions?: PodCondition[]; startTime?: string };
}

export interface Deployment extends KubeObject {
  kind: 'Deployment';
  spec: {
    replicas?: number;
    selector: LabelSelector;
    template: PodTemplateSpec;
    minReadySeconds?: number;
    [k: string]: unknown;
  };
  status?: {
    replicas?: number;
    availableReplicas?: number;
    readyReplicas?: number;
    observedGeneration?: number;
  };
}

export const APPS_V1 = 'apps/v1';

/** Spec replicas of a ReplicaSet (Kubernetes defaults a nil count to 1). */
export function rsSpecReplicas(rs: ReplicaSet | undefined): number {
  if (rs === undefined) return 0;
  return rs.spec.replicas ?? 1;
}

export function rsAvailable(rs: ReplicaSet | undefined): number {
  return rs?.status?.availableReplicas ?? 0;
}

export function rsReady(rs: ReplicaSet | undefined): number {
  return rs?.status?.readyReplicas ?? 0;
}

export function rsStatusReplicas(rs: ReplicaSet | undefined): number {
  return rs?.status?.replicas ?? 0;
}

export function isPodReady(pod: Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

export interface EndpointAddress {
  ip: string;
  targetRef?: { kind?: string; name?: string; namespace?: string };
}

export interface EndpointPort {
  name?: string;
  port: number;
  protocol?: string;
}

/** core/v1 Endpoints, as the endpoints controller writes them for a Service of the same name. */
export interface Endpoints extends KubeObject {
  kind: 'Endpoints';
  subsets?: {
    addresses?: EndpointAddress[];
    notReadyAddresses?: EndpointAddress[];
    ports?: EndpointPort[];
  }[];
}
