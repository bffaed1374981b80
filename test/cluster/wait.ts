// The one way cluster tests wait: `waitFor` polls a condition until it holds and, on timeout, fails with
// what it waited for (and the last error and state). A fixed delay is only for a window that is itself the
// point of a test (nothing may happen during it, or a duration the test configured must elapse): `waitOut`
// names that reason at the call site, so a reader can tell it from a sleep standing in for a condition.

import { setTimeout as sleep } from 'node:timers/promises';

export const DEFAULT_WAIT_TIMEOUT_MS = 30_000;
export const DEFAULT_POLL_MS = 150;

export interface WaitOptions {
  /** What is awaited, for the timeout message: "rollout ro paused at step 1". */
  what: string;
  timeoutMs?: number;
  intervalMs?: number;
  /** The state worth seeing when the wait times out (read only then). */
  describe?: () => string | Promise<string>;
}

/**
 * Polls `probe` until it returns something other than undefined or false, and resolves with that. A probe
 * that throws counts as "not yet" (a read racing a create); the last error is in the timeout message.
 */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  options: WaitOptions,
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const state = options.describe
        ? await Promise.resolve()
            .then(options.describe)
            .catch((error: unknown) => `(describe failed: ${String(error)})`)
        : '';
      const last = lastError === undefined ? '' : ` (last error: ${String(lastError)})`;
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${options.what}${last}${state ? `\n${state}` : ''}`,
      );
    }
    await sleep(options.intervalMs ?? DEFAULT_POLL_MS);
  }
}

/**
 * Lets `ms` pass on purpose. Only for a window that is the point of the test: asserting that something
 * does NOT happen within it, or letting a duration the test itself configured elapse. `why` says which.
 */
export async function waitOut(ms: number, why: string): Promise<void> {
  if (why.trim() === '') throw new Error('waitOut needs a reason');
  await sleep(ms);
}
