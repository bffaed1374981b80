// The client-side request budget (client-go's token bucket: --qps tokens per second, up to --burst saved
// up) with two lanes. Reconcile reads and writes take the `normal` lane; Kubernetes Events take the `low`
// lane and get a token only when no normal request is waiting and half the burst stays saved for normal
// requests. client-go sends events through the same bucket in arrival order, so after a burst (500
// Rollouts created at once) the events queued during the burst delayed every later reconcile write by
// seconds; and events allowed to spend the whole burst left the next promote's writes paced at 1/qps.
// Within a lane waiters are served in arrival order.

export type Lane = 'normal' | 'low';

export interface RateLimiterClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
}

const SYSTEM_CLOCK: RateLimiterClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer as ReturnType<typeof setTimeout>),
};

export class RateLimiter {
  readonly qps: number;
  readonly burst: number;
  /** Tokens the low lane must leave in the bucket. */
  readonly lowReserve: number;
  readonly #clock: RateLimiterClock;
  #tokens: number;
  #lastRefillMs: number;
  readonly #waiting: Record<Lane, (() => void)[]> = { normal: [], low: [] };
  #timer: unknown;
  /** Total time requests spent waiting for a token, in ms (for metrics). */
  waitedMs = 0;

  constructor(qps: number, burst: number, clock: RateLimiterClock = SYSTEM_CLOCK) {
    if (!(qps > 0)) throw new Error(`qps: must be > 0, got ${qps}`);
    if (!(burst >= 1)) throw new Error(`burst: must be >= 1, got ${burst}`);
    this.qps = qps;
    this.burst = burst;
    this.lowReserve = Math.floor(burst / 2);
    this.#clock = clock;
    this.#tokens = burst;
    this.#lastRefillMs = clock.now();
  }

  /** Requests waiting for a token, per lane. */
  get pending(): Readonly<Record<Lane, number>> {
    return { normal: this.#waiting.normal.length, low: this.#waiting.low.length };
  }

  /** Resolves when the caller may send one request. */
  acquire(lane: Lane = 'normal'): Promise<void> {
    this.#refill();
    const ahead = this.#waiting.normal.length + (lane === 'low' ? this.#waiting.low.length : 0);
    if (ahead === 0 && this.#tokens >= this.#needed(lane)) {
      this.#tokens -= 1;
      return Promise.resolve();
    }
    const startedMs = this.#clock.now();
    return new Promise((resolve) => {
      this.#waiting[lane].push(() => {
        this.waitedMs += this.#clock.now() - startedMs;
        resolve();
      });
      this.#schedule();
    });
  }

  /** Lets every waiter go (shutdown: their requests then fail on the closed connection). */
  releaseAll(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const w of [...this.#waiting.normal.splice(0), ...this.#waiting.low.splice(0)]) w();
  }

  #refill(): void {
    const nowMs = this.#clock.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((nowMs - this.#lastRefillMs) * this.qps) / 1000);
    this.#lastRefillMs = nowMs;
  }

  /** Tokens that must be in the bucket for a request of this lane to go. */
  #needed(lane: Lane): number {
    return lane === 'low' ? 1 + this.lowReserve : 1;
  }

  #schedule(): void {
    if (this.#timer !== undefined) return;
    const lane: Lane = this.#waiting.normal.length > 0 ? 'normal' : 'low';
    const waitMs = Math.max(0, ((this.#needed(lane) - this.#tokens) / this.qps) * 1000);
    const timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#refill();
      for (;;) {
        const next =
          this.#waiting.normal.length > 0
            ? this.#tokens >= 1 && this.#waiting.normal.shift()
            : this.#tokens >= this.#needed('low') && this.#waiting.low.shift();
        if (!next) break;
        this.#tokens -= 1;
        next();
      }
      if (this.#waiting.normal.length + this.#waiting.low.length > 0) this.#schedule();
    }, waitMs);
    this.#timer = timer;
  }
}
