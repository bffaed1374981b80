// Executes an Experiment plan's actions through the ObjectStore, in order, idempotently: creates tolerate
// AlreadyExists (the object is adopted on the next reconcile), deletes and run terminations tolerate
// NotFound, scaling is a merge patch of just spec.replicas (and the scale-down-deadline annotation). The
// first failure stops the sequence and is returned, never thrown.

import type { Experiment } from '../api/experiment.ts';
import { type KubeObject, type ObjectStore, StoreError } from '../store/object-store.ts';
import type { ExperimentAction } from './plan.ts';

export type ExperimentApplyResult =
  | { ok: true; applied: number }
  | { ok: false; error: string; applied: number };

async function tolerate(p: Promise<unknown>, ok: 'AlreadyExists' | 'NotFound'): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (err instanceof StoreError && err.reason === ok) return;
    throw err;
  }
}

async function applyOne(store: ObjectStore, ns: string, a: ExperimentAction): Promise<void> {
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

export async function applyExperimentActions(
  store: ObjectStore,
  ex: Experiment,
  actions: readonly ExperimentAction[],
): Promise<ExperimentApplyResult> {
  const ns = ex.metadata.namespace ?? '';
  let applied = 0;
  for (const a of actions) {
    try {
      await applyOne(store, ns, a);
      applied++;
    } catch (err) {
      const reason =
        err instanceof StoreError
          ? `${err.reason}: ${err.message}`
          : err instanceof Error
            ? err.message
            : String(err);
      return { ok: false, error: `${a.kind}: ${reason}`, applied };
    }
  }
  return { ok: true, applied };
}
