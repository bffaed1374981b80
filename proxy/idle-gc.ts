// Keeps the V8 heap near its live size (issue 15): a bounded old-generation growth, and the garbage
// returned to the system once traffic stops. With the small young
// generation the proxy runs with (--max-semi-space-size=2, src/cli/proxy-exec.ts) short-lived request
// objects that survive two scavenges are promoted, and nothing collects the old generation again until it
// fills: a proxy that went quiet after a burst measured 39 MiB of V8 heap in use 60 s later against 13 MiB
// idle, and V8 keeps the pages. Every IDLE_GC_CHECK_MS this checks the process's CPU time; when the last
// window was idle (under 1% of one core) and the heap in use plus ArrayBuffer memory (dead body copies,
// proxy/read-copies.ts) has grown by IDLE_GC_MIN_GROWTH_BYTES since the last collection, it runs one
// full collection. It never runs under load, so it adds no latency.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export const IDLE_GC_CHECK_MS = 5_000;
/**
 * The old generation may grow by half its live size before the next full collection, instead of V8's
 * own factor (up to 4x when collections look cheap). A proxy's live heap is small and its garbage
 * promoted request objects, so the cap costs little: 25,000 hostile requests peaked at 88-94 MiB RSS
 * against 118 MiB, with CPU per request unchanged within noise (37.5 against 38.3 µs, seven rounds).
 * V8 reads the flag at every collection, so it is set at run time (it is not allowed in NODE_OPTIONS).
 */
export const HEAP_GROWING_PERCENT = 50;
/** CPU used in one window below which the process counts as idle: 1% of a core. */
export const IDLE_GC_MAX_CPU_US = IDLE_GC_CHECK_MS * 10;
export const IDLE_GC_MIN_GROWTH_BYTES = 8 * 1024 * 1024;

export interface IdleGcState {
  readonly lastCpuUs: number;
  /** Heap in use after the last collection (or at start). */
  readonly baselineHeapBytes: number;
}

/** Whether to collect now, given the CPU time and heap in use sampled at the end of a window. */
export function shouldCollect(state: IdleGcState, cpuUs: number, heapUsedBytes: number): boolean {
  return (
    cpuUs - state.lastCpuUs < IDLE_GC_MAX_CPU_US &&
    heapUsedBytes - state.baselineHeapBytes >= IDLE_GC_MIN_GROWTH_BYTES
  );
}

export interface IdleGcDeps {
  cpuUs: () => number;
  heapUsedBytes: () => number;
  collect: () => void;
}

/** V8's `gc`: a full collection without options, a scavenge with `{ type: 'minor' }`. */
export type V8Gc = (options?: { type: 'minor' | 'major' }) => void;

let v8GcFn: V8Gc | undefined;

/**
 * V8's `gc` without --expose-gc on the command line: the flag is set at run time and `gc` is taken from
 * a fresh context, once per process.
 */
export function v8Gc(): V8Gc {
  if (v8GcFn === undefined) {
    setFlagsFromString('--expose-gc');
    v8GcFn = runInNewContext('gc') as V8Gc;
  }
  return v8GcFn;
}

const processDeps = (): IdleGcDeps => ({
  cpuUs: () => {
    const u = process.cpuUsage();
    return u.user + u.system;
  },
  heapUsedBytes: () => {
    // ArrayBuffers count too: dead body copies hold malloc'd memory until a collection frees them.
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  },
  collect: () => v8Gc()(),
});

/**
 * Sets the heap growth (HEAP_GROWING_PERCENT) and starts the check; the returned function stops it. The
 * timer never keeps the process alive.
 */
export function startIdleGc(deps: IdleGcDeps = processDeps(), intervalMs = IDLE_GC_CHECK_MS): () => void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  let state: IdleGcState = { lastCpuUs: deps.cpuUs(), baselineHeapBytes: deps.heapUsedBytes() };
  const timer = setInterval(() => {
    const cpuUs = deps.cpuUs();
    const heap = deps.heapUsedBytes();
    if (shouldCollect(state, cpuUs, heap)) {
      deps.collect();
      state = { lastCpuUs: deps.cpuUs(), baselineHeapBytes: deps.heapUsedBytes() };
    } else {
      state = { lastCpuUs: cpuUs, baselineHeapBytes: Math.min(state.baselineHeapBytes, heap) };
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
