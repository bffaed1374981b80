// Push to N proxies (issue 9): no cluster. The controller's ControlServer (src/control/server.ts) with a
// RouteTable, on 127.0.0.1, in this thread; N real control clients in a worker thread
// (push-clients-worker.ts), all subscribed to one route. Each weight change is one RouteTable.publish
// (which pushes to every covering proxy synchronously, as the abort path relies on); the next is
// published once all N ACKed the previous, after a short gap. Measured per change, from just before
// publish(): the last ACK the server received (its onAck hook, this thread's clock) and the last client
// that applied the snapshot (the worker's clock: the same epoch-based monotonic clock).
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { HistogramStore } from '../../src/control/histogram-store.ts';
import { type ControlRoute, RouteTable } from '../../src/control/route-table.ts';
import { ControlServer } from '../../src/control/server.ts';
import { type Distribution, distribution, epochNowMs } from './blast-stats.ts';

export type PushWorkerIn =
  | {
      type: 'start';
      target: string;
      token: string;
      proxies: number;
      route: { name: string; namespace: string };
    }
  | { type: 'stop' };
export type PushWorkerOut =
  | { type: 'ready' }
  | { type: 'done'; applied: { version: number; count: number; lastMs: number }[] };

export interface PushOptions {
  proxies: number;
  changes: number;
  /** Pause between one change being ACKed by all and the next publish. */
  gapMs: number;
  /** Changes published first and not measured (JIT warm-up of server and clients). */
  warmupChanges: number;
  /** Per change: give up waiting for all ACKs after this. */
  timeoutMs: number;
  log: (line: string) => void;
}

export interface PushResult {
  proxies: number;
  changes: number;
  /** Changes every proxy ACKed within the timeout. */
  completed: number;
  /** publish() -> the server has the last proxy's ACK. */
  allAckedMs: Distribution;
  /** publish() -> the last proxy applied it (before its ACK left). */
  allAppliedMs: Distribution;
  /** How long publish() itself took (building and writing N snapshots, synchronously). */
  publishCallMs: Distribution;
  /** Connect -> every proxy had its first snapshot. */
  connectAllMs: number;
  gapMs: number;
  warmupChanges: number;
  clientsIn: 'worker thread';
}

const ROUTE = { name: 'checkout', namespace: 'bench' } as const;

function routeWithCanaryWeight(weight: number): ControlRoute {
  return {
    ...ROUTE,
    match: {},
    backends: [
      {
        name: 'stable',
        revision: 'rev-stable',
        endpoints: ['http://10.0.0.1:8080', 'http://10.0.0.2:8080'],
        weight: 100 - weight,
      },
      { name: 'canary', revision: 'rev-canary', endpoints: ['http://10.0.0.3:8080'], weight },
    ],
  };
}

export async function runPushFanout(options: PushOptions): Promise<PushResult> {
  const token = randomBytes(24).toString('hex');
  const routes = new RouteTable();
  routes.publish(routeWithCanaryWeight(0));
  const acks = new Map<number, { count: number; lastMs: number }>();
  let waiting: { version: number; resolve: () => void } | undefined;
  const server = new ControlServer({
    routes,
    histograms: new HistogramStore(),
    token,
    host: '127.0.0.1',
    port: 0,
    routeKnown: () => true,
    onAck: (_proxyId, version) => {
      const atMs = epochNowMs();
      const entry = acks.get(version) ?? { count: 0, lastMs: 0 };
      entry.count++;
      entry.lastMs = atMs;
      acks.set(version, entry);
      if (waiting?.version === version && entry.count >= options.proxies) waiting.resolve();
    },
  });
  const port = await server.listen();
  const worker = new Worker(new URL('./push-clients-worker.ts', import.meta.url));
  let workerError: Error | undefined;
  worker.on('error', (error: unknown) => {
    workerError = error instanceof Error ? error : new Error(String(error));
  });
  const messages: PushWorkerOut[] = [];
  const next = (type: PushWorkerOut['type'], timeoutMs: number): Promise<PushWorkerOut | undefined> =>
    new Promise((resolve) => {
      const check = (): boolean => {
        const i = messages.findIndex((m) => m.type === type);
        if (i < 0) return false;
        resolve(messages.splice(i, 1)[0]);
        return true;
      };
      if (check()) return;
      const timer = setTimeout(() => {
        worker.off('message', onMessage);
        resolve(undefined);
      }, timeoutMs);
      const onMessage = (): void => {
        if (check()) {
          clearTimeout(timer);
          worker.off('message', onMessage);
        }
      };
      worker.on('message', onMessage);
    });
  worker.on('message', (m: PushWorkerOut) => messages.push(m));
  const sends: { version: number; t0: number; publishedMs: number }[] = [];
  try {
    const connectStarted = epochNowMs();
    worker.postMessage({
      type: 'start',
      target: `127.0.0.1:${port}`,
      token,
      proxies: options.proxies,
      route: ROUTE,
    } satisfies PushWorkerIn);
    if ((await next('ready', 60_000)) === undefined)
      throw new Error(
        `push: ${options.proxies} control clients not all subscribed within 60 s (${workerError ?? 'no error'})`,
      );
    const connectAllMs = epochNowMs() - connectStarted;
    options.log(`push: ${options.proxies} proxies subscribed in ${connectAllMs.toFixed(0)} ms`);
    await sleep(500);
    let completed = 0;
    for (let i = 0; i < options.warmupChanges + options.changes; i++) {
      const measured = i >= options.warmupChanges;
      // Set weight / abort, alternately: every change is new content.
      const weight = i % 2 === 0 ? 5 : 0;
      const all = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), options.timeoutMs);
        waiting = {
          version: routes.version + 1,
          resolve: () => {
            clearTimeout(timer);
            resolve(true);
          },
        };
      });
      const t0 = epochNowMs();
      const version = routes.publish(routeWithCanaryWeight(weight));
      const publishedMs = epochNowMs();
      if (version !== waiting!.version)
        throw new Error(`push: expected version ${waiting!.version}, got ${version}`);
      if (measured) sends.push({ version, t0, publishedMs });
      if ((await all) && measured) completed++;
      waiting = undefined;
      await sleep(options.gapMs);
    }
    worker.postMessage({ type: 'stop' } satisfies PushWorkerIn);
    const done = await next('done', 15_000);
    const applied = new Map((done?.type === 'done' ? done.applied : []).map((a) => [a.version, a] as const));
    const ackMs: number[] = [];
    const applyMs: number[] = [];
    for (const s of sends) {
      const a = acks.get(s.version);
      if (a !== undefined && a.count >= options.proxies) ackMs.push(a.lastMs - s.t0);
      const p = applied.get(s.version);
      if (p !== undefined && p.count >= options.proxies) applyMs.push(p.lastMs - s.t0);
    }
    return {
      proxies: options.proxies,
      changes: options.changes,
      completed,
      allAckedMs: distribution(ackMs),
      allAppliedMs: distribution(applyMs),
      publishCallMs: distribution(sends.map((s) => s.publishedMs - s.t0)),
      connectAllMs,
      gapMs: options.gapMs,
      warmupChanges: options.warmupChanges,
      clientsIn: 'worker thread',
    };
  } finally {
    await worker.terminate();
    await server.close();
  }
}
