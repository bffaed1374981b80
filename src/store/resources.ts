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
  ConfigMap: r('ConfigMap', 'v1', 'configmaps', true, false),
  Ingress: r('Ingress', 'networking.k8s.io/v1', 'ingresses', true, true),
  // The versions below are defaults: the controller resolves the served one (flags, discovery) and hands
  // it to the store and the routers as ApiVersions.
  VirtualService: r('VirtualService', 'networking.istio.io/v1alpha3', 'virtualservices', true, false),
  DestinationRule: r('DestinationRule', 'networking.istio.io/v1alpha3', 'destinationrules', true, false),
  TrafficSplit: r('TrafficSplit', 'split.smi-spec.io/v1alpha1', 'trafficsplits', true, false),
  HTTPRoute: r('HTTPRoute', 'gateway.networking.k8s.io/v1', 'httproutes', true, true),
  GRPCRoute: r('GRPCRoute', 'gateway.networking.k8s.io/v1', 'grpcroutes', true, true),
  TCPRoute: r('TCPRoute', 'gateway.networking.k8s.io/v1alpha2', 'tcproutes', true, true),
};

/** Kinds whose served version differs between clusters: the version a store and the routers use. */
export type ApiVersions = Readonly<Partial<Record<Kind, string>>>;

/** The group/version a store uses for a kind: the override when one is given, else the table's. */
export function apiVersionOf(kind: Kind, versions: ApiVersions = {}): string {
  return versions[kind] ?? RESOURCES[kind].apiVersion;
}

export const ALL_KINDS: readonly Kind[] = Object.keys(RESOURCES) as Kind[];

export function isKind(value: string): value is Kind {
  return Object.hasOwn(RESOURCES, value);
}

/** Collection path, e.g. `/apis/apps/v1/namespaces/ns/replicasets` (all namespaces when ns is undefined). */
export function collectionPath(
  kind: Kind,
  namespace: string | undefined,
  versions: ApiVersions = {},
): string {
  const info = RESOURCES[kind];
  const apiVersion = apiVersionOf(kind, versions);
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  if (!info.namespaced || namespace === undefined || namespace === '') return `${base}/${info.plural}`;
  return `${base}/namespaces/${encodeURIComponent(namespace)}/${info.plural}`;
}

export function objectPath(kind: Kind, namespace: string, name: string, versions: ApiVersions = {}): string {
  const info = RESOURCES[kind];
  return `${collectionPath(kind, info.namespaced ? namespace : undefined, versions)}/${encodeURIComponent(name)}`;
}
