// The open-loop load generator of bench/blast-radius.ts, run in a worker thread so its event loop is not
// the in-process proxy's: requests leave on a 1 ms schedule at a fixed rate whatever the answers (an
// undici Pool of bounded connections; a slow target queues requests in the pool), each recorded with its
// send time, completion time, status and `x-demo-version`. Bounded by a request count and a duration;
// `stop` ends the firing early. Times are epoch milliseconds with sub-ms precision
// (performance.timeOrigin + performance.now()), comparable with the main thread's.
//
// Protocol (bench/lib/open-loop.ts is the other side):
//   in:  { type: 'start', run: LoadRun }   { type: 'stop' }   { type: 'exit' }
//   out: { type: 'started' }   { type: 'done', result: LoadRecords }
import { setTimeout as sleep } from 'node:timers/promises';
import { parentPort } from 'node:worker_threads';
import { Pool } from 'undici';
import type { LoadRecords, LoadRun, WorkerIn, WorkerOut } from './open-loop.ts';

const TICK_MS = 1;
const VERSION_HEADER = 'x-demo-version';

function epochNowMs(): number {
  return performance.timeOrigin + performance.now();
}

let stopRequested = false;

async function run(spec: LoadRun): Promise<LoadRecords> {
  const url = new URL(spec.url);
  const pool = new Pool(url.origin, {
    connections: spec.connections,
    pipelining: 1,
    headersTimeout: spec.requestTimeoutMs,
    bodyTimeout: spec.requestTimeoutMs,
    keepAliveTimeout: 30_000,
  });
  const capacity = spec.maxRequests;
  const sendMs = new Float64Array(capacity);
  const doneMs = new Float64Array(capacity);
  const status = new Uint16Array(capacity);
  const versionIndex = new Int16Array(capacity).fill(-1);
  const versions: string[] = [];
  const versionIds = new Map<string, number>();
  const inFlight = new Set<Promise<void>>();
  let issued = 0;
  const fire = (i: number): void => {
    sendMs[i] = epochNowMs();
    const p = pool
      .request({ path: url.pathname, method: 'GET' })
      .then(async (res) => {
        await res.body.dump();
        doneMs[i] = epochNowMs();
        status[i] = res.statusCode;
        const raw = res.headers[VERSION_HEADER];
        const version = typeof raw === 'string' ? raw : undefined;
        if (version !== undefined) {
          let id = versionIds.get(version);
          if (id === undefined) {
            id = versions.length;
            versions.push(version);
            versionIds.set(version, id);
          }
          versionIndex[i] = id;
        }
      })
      .catch(() => {
        doneMs[i] = epochNowMs();
        status[i] = 0;
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  const startMs = performance.now();
  stopRequested = false;
  parentPort!.postMessage({ type: 'started' } satisfies WorkerOut);
  try {
    while (issued < capacity && !stopRequested) {
      const elapsedMs = performance.now() - startMs;
      if (elapsedMs >= spec.maxDurationMs) break;
      const due = Math.min(capacity, Math.floor((elapsedMs * spec.ratePerSec) / 1000));
      while (issued < due) fire(issued++);
      await sleep(TICK_MS);
    }
    await Promise.race([Promise.all(inFlight), sleep(spec.requestTimeoutMs + 1_000)]);
  } finally {
    await pool.destroy();
  }
  return {
    count: issued,
    sendMs: sendMs.slice(0, issued),
    doneMs: doneMs.slice(0, issued),
    status: status.slice(0, issued),
    versionIndex: versionIndex.slice(0, issued),
    versions,
    startedAtMs: performance.timeOrigin + startMs,
  };
}

parentPort!.on('message', (message: WorkerIn) => {
  if (message.type === 'stop') {
    stopRequested = true;
    return;
  }
  if (message.type === 'exit') {
    process.exit(0);
  }
  void run(message.run).then((result) => {
    parentPort!.postMessage({ type: 'done', result } satisfies WorkerOut, [
      result.sendMs.buffer as ArrayBuffer,
      result.doneMs.buffer as ArrayBuffer,
      result.status.buffer as ArrayBuffer,
      result.versionIndex.buffer as ArrayBuffer,
    ]);
  });
});
