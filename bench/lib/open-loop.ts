// The main-thread side of the open-loop generator (open-loop-worker.ts): one worker thread for the whole
// benchmark, one bounded run at a time. `start` resolves once the first request is due; `stop` ends the
// firing, waits for the answers in flight (bounded by the request timeout) and returns every request.
import { Worker } from 'node:worker_threads';

export interface LoadRun {
  /** http://host:port/path of the gateway. */
  url: string;
  ratePerSec: number;
  /** Hard bounds: the run ends at whichever comes first (or at stop()). */
  maxRequests: number;
  maxDurationMs: number;
  /** Upper bound of the pool's connections. */
  connections: number;
  requestTimeoutMs: number;
}

/** Every request of a run, by index in send order. Times are epoch ms (sub-ms precision). */
export interface LoadRecords {
  count: number;
  sendMs: Float64Array;
  /** When the answer's body ended (or the request failed). */
  doneMs: Float64Array;
  /** HTTP status; 0 for a request that failed without an answer or was still unanswered at the end. */
  status: Uint16Array;
  /** Index into `versions` of the answer's x-demo-version, -1 when it had none. */
  versionIndex: Int16Array;
  versions: string[];
  startedAtMs: number;
}

export type WorkerIn = { type: 'start'; run: LoadRun } | { type: 'stop' } | { type: 'exit' };
export type WorkerOut = { type: 'started' } | { type: 'done'; result: LoadRecords };

export class OpenLoopGenerator {
  readonly #worker: Worker;
  #pending: ((result: LoadRecords) => void) | undefined;
  #started: (() => void) | undefined;
  #error: Error | undefined;

  constructor() {
    this.#worker = new Worker(new URL('./open-loop-worker.ts', import.meta.url));
    this.#worker.on('message', (message: WorkerOut) => {
      if (message.type === 'started') {
        this.#started?.();
        this.#started = undefined;
      } else {
        this.#pending?.(message.result);
        this.#pending = undefined;
      }
    });
    this.#worker.on('error', (error: unknown) => {
      this.#error = error instanceof Error ? error : new Error(String(error));
    });
  }

  /**
   * Starts a run; resolves once it is firing, with `done` for the records (a holder: an async function
   * returning a promise would wait for it). One run at a time.
   */
  async start(run: LoadRun): Promise<{ done: Promise<LoadRecords> }> {
    if (this.#error) throw this.#error;
    if (this.#pending !== undefined) throw new Error('open-loop: a run is already in progress');
    const done = new Promise<LoadRecords>((resolve) => {
      this.#pending = resolve;
    });
    await new Promise<void>((resolve) => {
      this.#started = resolve;
      this.#worker.postMessage({ type: 'start', run } satisfies WorkerIn);
    });
    return { done };
  }

  /** Ends the current run early; its promise (from start) resolves with the records. */
  stop(): void {
    this.#worker.postMessage({ type: 'stop' } satisfies WorkerIn);
  }

  async close(): Promise<void> {
    await this.#worker.terminate();
  }
}
