// What every reconciler shares around its pure planner: the result the work queue acts on, the guard around
// the planner and the report of a failed apply, and the tail of a reconcile (status written through the
// status subresource as a merge patch of old vs new, then the plan's events).

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

/** The structured log sink reconcilers are given. */
export type ReconcileLog = (
  level: 'info' | 'warn' | 'error',
  msg: string,
  fields?: Record<string, unknown>,
) => void;

/** Which object a reconcile is about, for logs. */
export interface ReconcileTarget {
  /** 'rollout', 'experiment': the word in the log message. */
  readonly what: string;
  readonly namespace: string;
  readonly name: string;
}

/**
 * Runs a pure planner. A planner that throws is a bug that must not take the controller down: the failure is
 * logged, coded SLUICE_PLAN_FAILED and returned as the reconcile's result (retried with back-off).
 */
export function runPlanner<P>(
  target: ReconcileTarget,
  log: ReconcileLog | undefined,
  planner: () => P,
): { readonly ok: true; readonly plan: P } | { readonly ok: false; readonly result: ReconcileResult } {
  try {
    return { ok: true, plan: planner() };
  } catch (err) {
    const error = withContext('plan', err, 'SLUICE_PLAN_FAILED');
    log?.('error', `${target.what} planning failed`, {
      namespace: target.namespace,
      name: target.name,
      error: error.message,
      code: error.code,
    });
    return { ok: false, result: { requeueAfterMs: APPLY_ERROR_REQUEUE_MS, error } };
  }
}

/** The result of an apply that stopped at a failed write: logged, returned with its code kept. */
export function applyFailed(
  target: ReconcileTarget,
  log: ReconcileLog | undefined,
  error: SluiceError,
): ReconcileResult {
  log?.('warn', `${target.what} apply failed`, {
    namespace: target.namespace,
    name: target.name,
    error: error.message,
    code: error.code,
  });
  return { requeueAfterMs: APPLY_ERROR_REQUEUE_MS, error };
}

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
