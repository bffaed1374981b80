// Where each Kind of the ObjectStore lives on the API server: group/version, plural, scope, and whether
// it has a status subresource (writes to the main resource then ignore status, and generation is bumped
// only by changes outside metadata and status). One table, shared by the Kubernetes-backed store, the
// in-memory store and the RBAC manifests' test.

import type { Kind } from '../api/meta.ts';

export interface ResourceInfo {
  readonly kind: Kind;
  readonly apiVersion: string;
  /** Lower-case plural used in URLs and RBAC rules. */
  readonly plural: string;
  readonly namespaced: boolean;
  readonly statusSubresource: boolean;
}

function r(
  kind: Kind,
  apiVersion: string,
  plural: string,
  namespaced: boolean,
  statusSubresource: boolean,
): ResourceInfo {
  return { kind, apiVersion, plural, namespaced, statusSubresource };
}

export const RESOURCES: Readonly<Record<Kind, ResourceInfo>> = {
  Rollout: r('Rollout', 'argoproj.io/v1alpha1', 'rollouts', true, true),
  AnalysisTemplate: r('AnalysisTemplate', 'argoproj.io/v1alpha1', 'analysistemplates', true, false),
  ClusterAnalysisTemplate: r(
    'ClusterAnalysisTemplate',
    'argoproj.io/v1alpha1',
    'clusteranalysistemplates',
    false,
    false,
  ),
  AnalysisRun: r('AnalysisRun', 'argoproj.io/v1alpha1', 'analysisruns', true, true),
  Experiment: r('Experiment', 'argoproj.io/v1alpha1', 'experiments', true, true),
  ReplicaSet: r('ReplicaSet', 'apps/v1', 'replicasets', true, true),
  Deployment: r('Deployment', 'apps/v1', 'deployments', true, true),
  Service: r('Service', 'v1', 'services', true, true),
  Endpoints: r('Endpoints', 'v1', 'endpoints', true, false),
  Pod: r('Pod', 'v1', 'pods', true, true),
  Secret: r('Secret', 'v1', 'secrets', true, false),
  Job: r('Job', 'batch/v1', 'jobs', true, true),
  Event: r('Event', 'v1', 'events', true, false),
  Lease: r('Lease', 'coordination.k8s.io/v1', 'leases', true, false),
};

export const ALL_KINDS: readonly Kind[] = Object.keys(RESOURCES) as Kind[];

export function isKind(value: string): value is Kind {
  return Object.hasOwn(RESOURCES, value);
}

/** Collection path, e.g. `/apis/apps/v1/namespaces/ns/replicasets` (all namespaces when ns is undefined). */
export function collectionPath(kind: Kind, namespace: string | undefined): string {
  const info = RESOURCES[kind];
  const base = info.apiVersion.includes('/') ? `/apis/${info.apiVersion}` : `/api/${info.apiVersion}`;
  if (!info.namespaced || namespace === undefined || namespace === '') return `${base}/${info.plural}`;
  return `${base}/namespaces/${encodeURIComponent(namespace)}/${info.plural}`;
}

export function objectPath(kind: Kind, namespace: string, name: string): string {
  const info = RESOURCES[kind];
  return `${collectionPath(kind, info.namespaced ? namespace : undefined)}/${encodeURIComponent(name)}`;
}
