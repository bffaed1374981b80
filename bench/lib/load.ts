// Load generators. Closed-loop throughput runs use autocannon (programmatic API, in this process)
// with a fixed connection count and a fixed request `amount`, so CPU per request is measured over
// an exact count. Latencies are recorded per response in microseconds (autocannon's own histogram
// keeps whole milliseconds, too coarse for a p50 under 1 ms).
//
// The fixed-rate run does NOT use autocannon's overallRate/connectionRate: autocannon resets a
// per-connection quota once a second and sends the quota back-to-back (lib/httpClient.js), so
// "2,000 req/s" becomes a saturating burst at the start of each second followed by idle. The paced
// generator below issues requests on a 1 ms schedule through an undici Pool (open loop: a slow
// target queues requests in the pool, and that queueing is part of the measured latency).
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { LatencyRecorder } from './stats.ts';

export interface LoadResult {
  /** Responses received (any status). */
  responses: number;
  durationMs: number;
  requestsPerSec: number;
  p50Us: number;
  p99Us: number;
  non2xx: number;
  /** Socket errors and timeouts. */
  socketErrors: number;
  /** non2xx + socketErrors. */
  errors: number;
}

interface AutocannonResult {
  errors: number;
  timeouts: number;
  non2xx: number;
}
interface AutocannonInstance {
  on(
    event: 'response',
    listener: (client: unknown, statusCode: number, resBytes: number, responseTimeMs: number) => void,
  ): void;
  stop(): void;
}
type Autocannon = (
  options: Record<string, unknown>,
  callback: (err: Error | null, result: AutocannonResult) => void,
) => AutocannonInstance;

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

export interface ClosedLoopOptions {
  url: string;
  connections: number;
  /** Exact number of requests to complete. */
  amount: number;
  /** Hard stop, in case a target stalls. */
  maxDurationMs: number;
}

/** Runs `amount` requests over `connections` keep-alive connections as fast as the target answers. */
export async function runClosedLoop(options: ClosedLoopOptions): Promise<LoadResult> {
  const recorder = new LatencyRecorder();
  let responses = 0;
  const startMs = performance.now();
  // autocannon notices the end of an `amount` run on its 1 s tick; rate from the last response instead.
  let lastResponseMs = startMs;
  let stopTimer: NodeJS.Timeout | undefined;
  const result = await new Promise<AutocannonResult>((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        amount: options.amount,
        timeout: 10,
        pipelining: 1,
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', (_client, _status, _bytes, responseTimeMs) => {
      responses++;
      lastResponseMs = performance.now();
      recorder.recordUs(responseTimeMs * 1000);
    });
    stopTimer = setTimeout(() => instance.stop(), options.maxDurationMs);
  }).finally(() => clearTimeout(stopTimer));
  const durationMs = lastResponseMs - startMs;
  const socketErrors = result.errors + result.timeouts;
  return {
    responses,
    durationMs,
    requestsPerSec: (responses * 1000) / durationMs,
    p50Us: recorder.percentileUs(50),
    p99Us: recorder.percentileUs(99),
    non2xx: result.non2xx,
    socketErrors,
    errors: result.non2xx + socketErrors,
  };
}

export interface PacedOptions {
  url: string;
  ratePerSec: number;
  durationMs: number;
  /** Sent at the same rate before the measured part (opens the pool's connections); not recorded. */
  warmupMs: number;
  /** Upper bound of concurrent connections in the pool. */
  connections: number;
}

const TICK_MS = 1;
const REQUEST_TIMEOUT_MS = 10_000;

/** Number of requests due by elapsedMs at ratePerSec, never more than total. */
export function requestsDue(elapsedMs: number, ratePerSec: number, total: number): number {
  return Math.min(total, Math.floor((elapsedMs * ratePerSec) / 1000));
}

/** Sends requests at a fixed rate for a fixed duration; latency from issue to end of body. */
export async function runPaced(options: PacedOptions): Promise<LoadResult> {
  const url = new URL(options.url);
  const pool = new Pool(url.origin, {
    connections: options.connections,
    pipelining: 1,
    headersTimeout: REQUEST_TIMEOUT_MS,
    bodyTimeout: REQUEST_TIMEOUT_MS,
    keepAliveTimeout: 30_000,
  });
  const recorder = new LatencyRecorder();
  const warmupCount = Math.round((options.ratePerSec * options.warmupMs) / 1000);
  const total = warmupCount + Math.round((options.ratePerSec * options.durationMs) / 1000);
  let issued = 0;
  let responses = 0;
  let non2xx = 0;
  const inFlight = new Set<Promise<void>>();
  const fire = (measured: boolean): void => {
    const t0 = performance.now();
    const p = pool
      .request({ path: url.pathname, method: 'GET' })
      .then(async (res) => {
        await res.body.dump();
        if (!measured) return;
        responses++;
        if (res.statusCode < 200 || res.statusCode > 299) non2xx++;
        else recorder.recordUs((performance.now() - t0) * 1000);
      })
      .catch(() => {
        // counted as unanswered below
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  const startMs = performance.now();
  let measuredStartMs = startMs;
  try {
    while (issued < total) {
      const due = requestsDue(performance.now() - startMs, options.ratePerSec, total);
      while (issued < due) {
        if (issued === warmupCount) measuredStartMs = performance.now();
        fire(issued >= warmupCount);
        issued++;
      }
      await sleep(TICK_MS);
    }
    await Promise.race([Promise.all(inFlight), sleep(REQUEST_TIMEOUT_MS + 1_000)]);
  } finally {
    await pool.destroy();
  }
  const durationMs = performance.now() - measuredStartMs;
  // Failed requests and any still unanswered at the deadline both count as socket errors.
  const unanswered = issued - warmupCount - responses;
  return {
    responses,
    durationMs,
    requestsPerSec: (responses * 1000) / durationMs,
    p50Us: recorder.percentileUs(50),
    p99Us: recorder.percentileUs(99),
    non2xx,
    socketErrors: unanswered,
    errors: non2xx + unanswered,
  };
}
