// A rate-limited work queue with client-go's semantics (util/workqueue): a key is queued at most once
// (dedupe while waiting), a key being processed is never handed to a second worker (if it is added
// meanwhile it is marked dirty and queued again by done()), delayed adds keep the earliest time, and
// addRateLimited waits for the longer of a per-item exponential backoff (5 ms * 2^failures, capped at
// 1000 s) and a global token bucket (10 per second, burst 100) - DefaultControllerRateLimiter.
// Keys are strings (`namespace/name`); the queue holds no other state, so reconciles stay level-triggered.

export const DEFAULT_BASE_DELAY_MS = 5;
export const DEFAULT_MAX_DELAY_MS = 1_000_000;
export const DEFAULT_BUCKET_QPS = 10;
export const DEFAULT_BUCKET_BURST = 100;
/** Conflicts retried at once before the per-key back-off takes over. */
export const DEFAULT_IMMEDIATE_RETRIES = 3;

export interface WorkQueueOptions {
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly qps?: number;
  readonly burst?: number;
  /** Clock for the token bucket (ms). Timers use the global setTimeout (fake timers work in tests). */
  readonly now?: () => number;
}

interface Waiting {
  readonly atMs: number;
  readonly timer: ReturnType<typeof setTimeout>;
}

export class WorkQueue {
  readonly #queue: string[] = [];
  readonly #dirty = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #waiting = new Map<string, Waiting>();
  readonly #failures = new Map<string, number>();
  readonly #getters: ((key: string | undefined) => void)[] = [];
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #qps: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #lastRefillMs: number;
  #shuttingDown = false;
  /** Total adds (including re-adds of dirty keys), for metrics. */
  adds = 0;

  constructor(options: WorkQueueOptions = {}) {
    this.#baseDelayMs = options.baseDelayMs ?? DEFAULT_BASE_DELAY_MS;
    this.#maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
    this.#qps = options.qps ?? DEFAULT_BUCKET_QPS;
    this.#burst = options.burst ?? DEFAULT_BUCKET_BURST;
    this.#now = options.now ?? Date.now;
    this.#tokens = this.#burst;
    this.#lastRefillMs = this.#now();
  }

  /** Keys waiting to be handed out (not counting delayed or in-flight keys). */
  get length(): number {
    return this.#queue.length;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  add(key: string): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.adds += 1;
    this.#dirty.add(key);
    if (this.#processing.has(key)) return;
    const getter = this.#getters.shift();
    if (getter !== undefined) {
      this.#dirty.delete(key);
      this.#processing.add(key);
      getter(key);
    } else this.#queue.push(key);
  }

  /** Adds after `delayMs`; a key already waiting keeps whichever time is earlier. */
  addAfter(key: string, delayMs: number): void {
    if (this.#shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const atMs = this.#now() + delayMs;
    const existing = this.#waiting.get(key);
    if (existing !== undefined) {
      if (existing.atMs <= atMs) return;
      clearTimeout(existing.timer);
    }
    const timer = setTimeout(() => {
      this.#waiting.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref?.();
    this.#waiting.set(key, { atMs, timer });
  }

  /** Adds after the rate limiter's delay for this key (and counts a failure for it). */
  addRateLimited(key: string): void {
    this.addAfter(key, this.when(key));
  }

  /**
   * Re-adds at once, counting a failure: for a write that lost a resourceVersion race, where the next
   * read already sees the newer object. After `limit` failures in a row it falls back to addRateLimited,
   * so a key whose conflicts do not clear cannot spin.
   */
  addImmediate(key: string, limit = DEFAULT_IMMEDIATE_RETRIES): void {
    const failures = this.#failures.get(key) ?? 0;
    if (failures >= limit) {
      this.addRateLimited(key);
      return;
    }
    this.#failures.set(key, failures + 1);
    this.add(key);
  }

  /** The delay addRateLimited would use now; records the attempt. */
  when(key: string): number {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    const backoffMs = Math.min(this.#baseDelayMs * 2 ** failures, this.#maxDelayMs);
    return Math.max(backoffMs, this.#reserveToken());
  }

  /** Clears the key's failure count (call after a successful reconcile). */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** The next key to process, or undefined once the queue is shut down. Call done(key) afterwards. */
  get(): Promise<string | undefined> {
    const key = this.#queue.shift();
    if (key !== undefined) {
      this.#dirty.delete(key);
      this.#processing.add(key);
      return Promise.resolve(key);
    }
    if (this.#shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#getters.push(resolve));
  }

  /** Marks the key processed; if it was added meanwhile, it is queued again. */
  done(key: string): void {
    this.#processing.delete(key);
    if (this.#dirty.has(key)) {
      this.#dirty.delete(key);
      this.add(key);
    }
  }

  /** Stops handing out keys: waiting getters get undefined, delayed adds are dropped. */
  shutDown(): void {
    this.#shuttingDown = true;
    for (const w of this.#waiting.values()) clearTimeout(w.timer);
    this.#waiting.clear();
    this.#queue.length = 0;
    this.#dirty.clear();
    for (const getter of this.#getters.splice(0)) getter(undefined);
  }

  /** Token bucket (golang.org/x/time/rate Reserve): delay until a token is available, in ms. */
  #reserveToken(): number {
    const nowMs = this.#now();
    const elapsedMs = Math.max(0, nowMs - this.#lastRefillMs);
    this.#lastRefillMs = nowMs;
    this.#tokens = Math.min(this.#burst, this.#tokens + (elapsedMs * this.#qps) / 1000);
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : (-this.#tokens / this.#qps) * 1000;
  }
}
