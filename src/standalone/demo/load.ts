// The demo's built-in load: a bounded, paced open loop through the embedded proxy, from sticky clients
// (they keep the route's cookie, as a browser would) and non-sticky ones (no cookie jar). Every answer is
// counted under the version that gave it (the demo app's x-demo-version header), with its status and
// latency, so the view and the summary show what users saw, measured on the client side.

import { Agent, request } from 'node:http';
import { DEMO_VERSION_HEADER } from '../../demo/app.ts';

export interface LoadOptions {
  readonly host: string;
  readonly port: number;
  /** Requests per second over all clients. */
  readonly ratePerSec: number;
  /** How many clients share the rate; half of them (rounded up) keep cookies. */
  readonly clients: number;
  /** The route's sticky-session cookie, kept by the sticky clients. */
  readonly cookieName: string;
  /** A request unanswered after this long counts as failed (version "none"). */
  readonly timeoutMs?: number;
}

export interface VersionTotals {
  requests: number;
  failed: number;
  /** Epoch ms the first request this version answered was sent; the last answer it gave arrived. */
  firstSentAt: number;
  lastAnsweredAt: number;
  /** Every answer's latency (ms), in arrival order. */
  latencies: number[];
}

export interface Sample {
  readonly at: number;
  readonly version: string;
  readonly ok: boolean;
  readonly latencyMs: number;
}

export interface WindowStats {
  readonly version: string;
  readonly requests: number;
  readonly share: number;
  readonly successRate: number;
  readonly p95: number;
  readonly p99: number;
}

export interface Load {
  readonly totals: ReadonlyMap<string, VersionTotals>;
  /** Per version over the last `windowMs`: share of answers, success rate, p95 and p99 latency. */
  window(windowMs: number): WindowStats[];
  /** Stops sending and waits (bounded) for the requests in flight. */
  stop(): Promise<void>;
}

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
}

const KEEP_SAMPLES_MS = 10_000;

export function startLoad(o: LoadOptions): Load {
  const timeoutMs = o.timeoutMs ?? 5_000;
  const totals = new Map<string, VersionTotals>();
  const samples: Sample[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  let inFlight = 0;
  let stopped = false;
  let drained: (() => void) | undefined;

  const record = (sentAt: number, version: string, ok: boolean): void => {
    const now = Date.now();
    let t = totals.get(version);
    if (t === undefined) {
      t = { requests: 0, failed: 0, firstSentAt: sentAt, lastAnsweredAt: now, latencies: [] };
      totals.set(version, t);
    }
    t.requests++;
    if (!ok) t.failed++;
    t.latencies.push(now - sentAt);
    t.firstSentAt = Math.min(t.firstSentAt, sentAt);
    t.lastAnsweredAt = Math.max(t.lastAnsweredAt, now);
    samples.push({ at: now, version, ok, latencyMs: now - sentAt });
    if (samples.length > 4_096 && (samples[0]?.at ?? now) < now - KEEP_SAMPLES_MS) {
      const keepFrom = samples.findIndex((s) => s.at >= now - KEEP_SAMPLES_MS);
      samples.splice(0, keepFrom < 0 ? samples.length : keepFrom);
    }
  };

  const send = (jar: Map<string, string> | undefined): void => {
    const sentAt = Date.now();
    inFlight++;
    let done = false;
    const finish = (version: string, ok: boolean): void => {
      if (done) return;
      done = true;
      record(sentAt, version, ok);
      inFlight--;
      if (stopped && inFlight === 0) drained?.();
    };
    const cookie = jar && jar.size > 0 ? [...jar].map(([k, v]) => `${k}=${v}`).join('; ') : undefined;
    const req = request(
      {
        host: o.host,
        port: o.port,
        path: '/',
        agent,
        timeout: timeoutMs,
        headers: cookie !== undefined ? { cookie } : {},
      },
      (res) => {
        if (jar !== undefined) {
          for (const line of res.headers['set-cookie'] ?? []) {
            const pair = line.split(';')[0] ?? '';
            const eq = pair.indexOf('=');
            if (eq > 0 && pair.slice(0, eq).trim() === o.cookieName)
              jar.set(o.cookieName, pair.slice(eq + 1).trim());
          }
        }
        const header = res.headers[DEMO_VERSION_HEADER];
        const version = typeof header === 'string' && header !== '' ? header : 'none';
        const status = res.statusCode ?? 0;
        res.resume();
        res.on('end', () => finish(version, status >= 200 && status < 500));
        res.on('error', () => finish(version, false));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => finish('none', false));
    req.end();
  };

  const clients = Math.max(1, o.clients);
  const periodMs = (1_000 * clients) / Math.max(1, o.ratePerSec);
  const timers: NodeJS.Timeout[] = [];
  for (let i = 0; i < clients; i++) {
    const jar = i % 2 === 0 ? new Map<string, string>() : undefined;
    // Spread the clients' ticks over one period so the load is even.
    const first = setTimeout(
      () => {
        if (stopped) return;
        send(jar);
        timers.push(setInterval(() => send(jar), periodMs));
      },
      (periodMs * i) / clients,
    );
    timers.push(first);
  }

  return {
    totals,
    window(windowMs) {
      const from = Date.now() - windowMs;
      const by = new Map<string, Sample[]>();
      let all = 0;
      for (let i = samples.length - 1; i >= 0; i--) {
        const s = samples[i]!;
        if (s.at < from) break;
        all++;
        const list = by.get(s.version) ?? [];
        list.push(s);
        by.set(s.version, list);
      }
      return [...by]
        .map(([version, list]) => {
          const lat = list.map((s) => s.latencyMs).sort((a, b) => a - b);
          return {
            version,
            requests: list.length,
            share: all === 0 ? 0 : list.length / all,
            successRate: list.filter((s) => s.ok).length / list.length,
            p95: quantile(lat, 0.95),
            p99: quantile(lat, 0.99),
          };
        })
        .sort((a, b) => a.version.localeCompare(b.version));
    },
    async stop() {
      stopped = true;
      for (const t of timers) {
        clearTimeout(t);
        clearInterval(t);
      }
      if (inFlight > 0)
        await new Promise<void>((resolve) => {
          drained = resolve;
          setTimeout(resolve, timeoutMs + 500).unref();
        });
      agent.destroy();
    },
  };
}
