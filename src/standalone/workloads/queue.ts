// A small keyed work queue for the local workload controllers: a key added while pending is not added
// twice, keys are handled one at a time in the order they became due, and a handler that throws (a
// write conflict, a store error) is logged and retried after a delay. Delayed adds (minReadySeconds,
// crash-loop back-off) keep the earliest due time.

import type { WorkloadsLog } from './log.ts';

const RETRY_MS = 200;

export class WorkQueue {
  readonly #handler: (key: string) => Promise<void>;
  readonly #log: WorkloadsLog;
  readonly #name: string;
  /** key -> due time (ms since epoch). */
  readonly #due = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(name: string, handler: (key: string) => Promise<void>, log: WorkloadsLog) {
    this.#name = name;
    this.#handler = handler;
    this.#log = log;
  }

  add(key: string, delayMs = 0): void {
    if (this.#stopped) return;
    const due = Date.now() + delayMs;
    const current = this.#due.get(key);
    if (current !== undefined && current <= due) return;
    this.#due.set(key, due);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#stopped || this.#running !== undefined) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    let next = Number.POSITIVE_INFINITY;
    for (const due of this.#due.values()) next = Math.min(next, due);
    if (next === Number.POSITIVE_INFINITY) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#running = this.#drain().finally(() => {
          this.#running = undefined;
          this.#schedule();
        });
      },
      Math.max(0, next - Date.now()),
    );
  }

  async #drain(): Promise<void> {
    for (;;) {
      if (this.#stopped) return;
      const now = Date.now();
      let key: string | undefined;
      let best = Number.POSITIVE_INFINITY;
      for (const [k, due] of this.#due) {
        if (due <= now && due < best) {
          best = due;
          key = k;
        }
      }
      if (key === undefined) return;
      this.#due.delete(key);
      try {
        await this.#handler(key);
      } catch (error) {
        this.#log.warn(
          {
            module: 'local-workloads',
            queue: this.#name,
            key,
            err: error instanceof Error ? error.message : String(error),
          },
          `${this.#name} ${key}: retrying after an error`,
        );
        this.add(key, RETRY_MS);
      }
    }
  }

  /** Stops taking work; resolves once the key being handled (if any) is done. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#due.clear();
    await this.#running;
  }
}
