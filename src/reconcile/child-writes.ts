// The writes a controller makes to the children it owns, shared by the Rollout and Experiment appliers:
// creates tolerate AlreadyExists (the object is adopted on the next reconcile), deletes and terminations
// tolerate NotFound, every other write is a merge patch of just the fields the plan decided.

import type { AnalysisRun } from '../api/analysis-run.ts';
import type { KubeObject } from '../api/meta.ts';
import type { ReplicaSet, Service } from '../api/workloads.ts';
import { type ObjectStore, StoreError } from '../store/object-store.ts';

export type ChildWrite =
  | { readonly kind: 'createReplicaSet'; readonly rs: ReplicaSet }
  | {
      readonly kind: 'scaleReplicaSet';
      readonly name: string;
      readonly replicas: number;
      /** Annotation changes; null removes. */
      readonly annotations?: Readonly<Record<string, string | null>>;
    }
  | {
      readonly kind: 'annotateReplicaSet';
      readonly name: string;
      readonly annotations: Readonly<Record<string, string | null>>;
    }
  | { readonly kind: 'createService'; readonly service: Service }
  | { readonly kind: 'deleteService'; readonly name: string }
  | { readonly kind: 'createAnalysisRun'; readonly run: AnalysisRun }
  | { readonly kind: 'terminateAnalysisRun'; readonly name: string };

const CHILD_WRITE_KINDS: ReadonlySet<string> = new Set<ChildWrite['kind']>([
  'createReplicaSet',
  'scaleReplicaSet',
  'annotateReplicaSet',
  'createService',
  'deleteService',
  'createAnalysisRun',
  'terminateAnalysisRun',
]);

export function isChildWrite<A extends { readonly kind: string }>(a: A): a is Extract<A, ChildWrite> {
  return CHILD_WRITE_KINDS.has(a.kind);
}

/** Awaits a write, treating the given reason (AlreadyExists on create, NotFound on delete) as done. */
export async function tolerate(p: Promise<unknown>, ok: 'AlreadyExists' | 'NotFound'): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (err instanceof StoreError && err.reason === ok) return;
    throw err;
  }
}

export async function applyChildWrite(store: ObjectStore, ns: string, a: ChildWrite): Promise<void> {
  switch (a.kind) {
    case 'createReplicaSet':
      return tolerate(store.create(a.rs), 'AlreadyExists');
    case 'scaleReplicaSet':
      await store.patch('ReplicaSet', ns, a.name, {
        ...(a.annotations ? { metadata: { annotations: a.annotations } } : {}),
        spec: { replicas: a.replicas },
      });
      return;
    case 'annotateReplicaSet':
      await store.patch('ReplicaSet', ns, a.name, { metadata: { annotations: a.annotations } });
      return;
    case 'createService':
      return tolerate(store.create(a.service), 'AlreadyExists');
    case 'deleteService':
      return tolerate(store.delete('Service', ns, a.name), 'NotFound');
    case 'createAnalysisRun':
      return tolerate(store.create(a.run as unknown as KubeObject), 'AlreadyExists');
    case 'terminateAnalysisRun':
      return tolerate(store.patch('AnalysisRun', ns, a.name, { spec: { terminate: true } }), 'NotFound');
  }
}
