// What every reconciler shares around its pure planner: the result the work queue acts on and the tail of a
// reconcile (status written through the status subresource as a merge patch of old vs new, then the plan's
// events).

import { type SluiceError, withContext } from '../api/errors.ts';
import type { Kind, KubeObject } from '../api/meta.ts';
import type { ObjectStore } from '../store/object-store.ts';
import { createStatusMergePatch } from '../store/patch.ts';

export interface ReconcileResult {
  requeueAfterMs?: number;
  /**
   * What failed, with its catalogue code kept from the cause (a Conflict stays a Conflict), so the work
   * queue can choose how to retry (src/api/errors.ts).
   */
  error?: SluiceError;
}

export const APPLY_ERROR_REQUEUE_MS = 5_000;

export interface PlannedEvent {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

/** Writes the status difference (if any), then records the events; a failed write comes back as an error. */
export async function writeStatusAndEvents(
  store: ObjectStore,
  kind: Kind,
  obj: KubeObject & { readonly status?: unknown },
  status: unknown,
  events: readonly PlannedEvent[],
  requeueAfterMs: number | undefined,
): Promise<ReconcileResult> {
  const patch = createStatusMergePatch(obj.status ?? {}, status);
  if (patch !== undefined) {
    try {
      await store.patchStatus(kind, obj.metadata.namespace ?? '', obj.metadata.name, {
        status: patch,
      });
    } catch (err) {
      return { requeueAfterMs: APPLY_ERROR_REQUEUE_MS, error: withContext('patchStatus', err) };
    }
  }
  for (const e of events) store.recordEvent(obj, e.type, e.reason, e.message);
  return requeueAfterMs !== undefined ? { requeueAfterMs } : {};
}
