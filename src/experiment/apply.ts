// Executes an Experiment plan's actions through the ObjectStore, in order, idempotently: creates tolerate
// AlreadyExists (the object is adopted on the next reconcile), deletes and run terminations tolerate
// NotFound, scaling is a merge patch of just spec.replicas (and the scale-down-deadline annotation). The
// first failure stops the sequence and is returned, never thrown.

import { type SluiceError, withContext } from '../api/errors.ts';
import type { Experiment } from '../api/experiment.ts';
import { applyChildWrite } from '../reconcile/child-writes.ts';
import type { ObjectStore } from '../store/object-store.ts';
import type { ExperimentAction } from './plan.ts';

export type ExperimentApplyResult =
  | { ok: true; applied: number }
  | { ok: false; error: SluiceError; applied: number };

export async function applyExperimentActions(
  store: ObjectStore,
  ex: Experiment,
  actions: readonly ExperimentAction[],
): Promise<ExperimentApplyResult> {
  const ns = ex.metadata.namespace ?? '';
  let applied = 0;
  for (const a of actions) {
    try {
      await applyChildWrite(store, ns, a);
      applied++;
    } catch (err) {
      return { ok: false, error: withContext(a.kind, err), applied };
    }
  }
  return { ok: true, applied };
}
