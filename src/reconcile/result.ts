// What every reconciler shares around its pure planner: the result the work queue acts on, the owner test
// that decides which children a parent sees, and the tail of a reconcile (status written through the
// status subresource as a merge patch of old vs new, then the plan's events).

import type { Kind, KubeObject, ObjectStore, OwnerReference } from '../store/object-store.ts';
import { createStatusMergePatch } from '../store/patch.ts';

export interface ReconcileResult {
  requeueAfterMs?: number;
  /** A write that failed; the caller re-queues with back-off. */
  error?: string;
}

export const APPLY_ERROR_REQUEUE_MS = 5_000;

export interface PlannedEvent {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

/** The ownerReference a controller puts on what it creates (garbage-collected with the owner). */
export function controllerRef(
  apiVersion: string,
  kind: Kind,
  owner: { readonly metadata: { readonly name: string; readonly uid?: string } },
): OwnerReference {
  return {
    apiVersion,
    kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Whether `obj` names `owner` (of `kind`) as its controller: by uid, or by name when the owner has none yet. */
export function isControlledBy(
  obj: { readonly metadata: { readonly ownerReferences?: readonly OwnerReference[] } },
  kind: Kind,
  owner: { readonly metadata: { readonly name: string; readonly uid?: string } },
): boolean {
  return (obj.metadata.ownerReferences ?? []).some(
    (o) =>
      o.controller === true &&
      o.kind === kind &&
      (owner.metadata.uid ? o.uid === owner.metadata.uid : o.name === owner.metadata.name),
  );
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
      const message = err instanceof Error ? err.message : String(err);
      return { requeueAfterMs: APPLY_ERROR_REQUEUE_MS, error: `patchStatus: ${message}` };
    }
  }
  for (const e of events) store.recordEvent(obj, e.type, e.reason, e.message);
  return requeueAfterMs !== undefined ? { requeueAfterMs } : {};
}
