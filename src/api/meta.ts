// The Kubernetes object vocabulary every layer shares: the kinds Sluice reads and writes, object metadata
// and owner references. Pure types; the bottom of the import graph (imports nothing of ours).

export type Kind =
  | 'Rollout'
  | 'AnalysisTemplate'
  | 'ClusterAnalysisTemplate'
  | 'AnalysisRun'
  | 'Experiment'
  | 'ReplicaSet'
  | 'Deployment'
  | 'Service'
  | 'Endpoints'
  | 'Pod'
  | 'Secret'
  | 'Job'
  | 'Event'
  | 'Lease'
  | 'ConfigMap'
  // Traffic routers' objects (issue 10): read fresh, never cached, so no CRD is needed until a router uses it.
  | 'Ingress'
  | 'VirtualService'
  | 'DestinationRule'
  | 'TrafficSplit'
  | 'HTTPRoute'
  | 'GRPCRoute'
  | 'TCPRoute';

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  generateName?: string;
}

/**
 * Metadata as a manifest's parser sees it before the API server has named the object (an AnalysisTemplate
 * read from a file, an AnalysisRun built from generateName): the name may still be absent.
 */
export type ManifestMeta = Readonly<Pick<ObjectMeta, 'namespace' | 'uid' | 'labels' | 'annotations'>> & {
  readonly name?: string;
};

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
}

/** Kubernetes intstr.IntOrString: `25` or `"25%"`. */
export type IntOrString = number | string;
