// The controller side's one error catalogue (the proxy has its own in proxy/errors.ts): every failure the
// controller, its reconcilers and the CLI can meet has a stable SLUICE_* code, a one-line meaning, and what
// the work queue does with a reconcile that failed with it. Errors keep their type from where they happen
// to the worker (a reconciler wraps, it never flattens to text), so a Conflict is retried at once and a
// refusal that only a change of input can cure is not retried in a hot loop. docs/errors.md lists every
// code; test/unit/api/errors-catalogue.test.ts fails when one is missing there.

/**
 * What the controller's work queue does with a reconcile that failed with the code:
 * - `immediate`: retry at once (the cache was stale; the next read sees the new resourceVersion);
 * - `backoff`: retry with the queue's per-key exponential back-off (transient, or worth re-checking).
 * - `bounded-backoff`: the same back-off, never longer than BOUNDED_RETRY_MAX_MS: for failures about
 *   objects the controller does not watch (a router's Ingress or VirtualService), whose repair it only
 *   sees by asking again.
 * Codes that only the CLI meets (usage, kubeconfig, a refused CLI request) say `backoff` too: that is what
 * the queue would do, though none of them reaches it.
 */
export type RetryPolicy = 'immediate' | 'backoff' | 'bounded-backoff';

/** The longest wait of `bounded-backoff` (Argo's weight-verify retry interval). */
export const BOUNDED_RETRY_MAX_MS = 10_000;

export const CONTROLLER_ERRORS = {
  SLUICE_STORE_NOT_FOUND: { retry: 'backoff', message: 'the object does not exist (404 NotFound)' },
  SLUICE_STORE_CONFLICT: {
    retry: 'immediate',
    message: 'the object changed since it was read (409 Conflict on resourceVersion)',
  },
  SLUICE_STORE_ALREADY_EXISTS: {
    retry: 'backoff',
    message: 'an object with that name exists (409 AlreadyExists)',
  },
  SLUICE_STORE_INVALID: {
    retry: 'backoff',
    message: 'the API server refused the object or patch as invalid (422)',
  },
  SLUICE_STORE_FORBIDDEN: { retry: 'backoff', message: 'RBAC forbids the request (401/403)' },
  SLUICE_STORE_TOO_MANY_REQUESTS: {
    retry: 'backoff',
    message: 'a PodDisruptionBudget does not allow the eviction now (429)',
  },
  SLUICE_STORE_UNAVAILABLE: {
    retry: 'backoff',
    message: 'the API server did not answer or failed (5xx, network)',
  },
  SLUICE_API_REFUSED: {
    retry: 'backoff',
    message: 'the API server refused a CLI request (CLI; the reason names why)',
  },
  SLUICE_INVALID_SPEC: {
    retry: 'backoff',
    message: 'a manifest fails to parse or validate; the field path is in the message',
  },
  SLUICE_KUBECONFIG: {
    retry: 'backoff',
    message: 'no usable kubeconfig, context, cluster or credentials (controller start, CLI)',
  },
  SLUICE_USAGE: {
    retry: 'backoff',
    message: 'a command line that cannot be run: unknown flag, missing value (CLI, exit code 2)',
  },
  SLUICE_TRAFFIC_ROUTER: {
    retry: 'bounded-backoff',
    message: 'a traffic router could not apply a weight, route or hash (the router and verb are named)',
  },
  SLUICE_PROVIDER_FAILED: {
    retry: 'backoff',
    message: 'a metric provider could not take a measurement (recorded as an Error measurement)',
  },
  SLUICE_EXPRESSION: {
    retry: 'backoff',
    message: 'a success/failure condition failed to evaluate (the measurement is an Error)',
  },
  SLUICE_PLAN_FAILED: {
    retry: 'backoff',
    message: 'a reconciler planner threw (a bug): reported and retried',
  },
  SLUICE_INTERNAL: { retry: 'backoff', message: 'an unexpected failure without a more precise code' },
} as const satisfies Record<string, { retry: RetryPolicy; message: string }>;

export type ControllerErrorCode = keyof typeof CONTROLLER_ERRORS;

/** An error with a catalogue code. Subclasses (StoreError, CliApiError, ...) add their own fields. */
export class SluiceError extends Error {
  readonly code: ControllerErrorCode;
  constructor(code: ControllerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SluiceError';
    this.code = code;
  }

  /** One line for logs, results and conditions; subclasses put their reason first. */
  describe(): string {
    return this.message;
  }
}

/** The text of anything thrown: an Error's message, else its string form. The one place this is written. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The catalogue code of anything thrown: its own, or SLUICE_INTERNAL for errors from outside ours. */
export function errorCode(err: unknown): ControllerErrorCode {
  return err instanceof SluiceError ? err.code : 'SLUICE_INTERNAL';
}

/** How the work queue retries a reconcile that failed with `err`. */
export function retryPolicy(err: unknown): RetryPolicy {
  return CONTROLLER_ERRORS[errorCode(err)].retry;
}

/**
 * A failure with the step it happened in prepended ("evictPods: Forbidden: ..."), keeping the code of the
 * cause (a wrapped Conflict is still a Conflict) and the cause itself.
 */
export function withContext(
  context: string,
  err: unknown,
  fallback: ControllerErrorCode = 'SLUICE_INTERNAL',
): SluiceError {
  const code = err instanceof SluiceError ? err.code : fallback;
  return new SluiceError(code, `${context}: ${describeError(err)}`, { cause: err });
}

/** An error as one line for logs and conditions: a store failure's reason first, as the API server says it. */
export function describeError(err: unknown): string {
  return err instanceof SluiceError ? err.describe() : errorText(err);
}
