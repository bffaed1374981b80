// The idle collector (issue 15): one full collection when a window was idle and the heap in use grew,
// never under load, and a new baseline after each collection.

import { describe, expect, it, vi } from 'vitest';
import {
  IDLE_GC_MAX_CPU_US,
  IDLE_GC_MIN_GROWTH_BYTES,
  type IdleGcDeps,
  shouldCollect,
  startIdleGc,
} from '../../../proxy/idle-gc.ts';

const MiB = 1024 * 1024;

describe('shouldCollect', () => {
  const state = { lastCpuUs: 1_000_000, baselineHeapBytes: 12 * MiB };
  it.each([
    [
      'idle window, heap grown by the minimum',
      1_000_000 + IDLE_GC_MAX_CPU_US - 1,
      12 * MiB + IDLE_GC_MIN_GROWTH_BYTES,
      true,
    ],
    ['busy window (load), heap grown', 1_000_000 + IDLE_GC_MAX_CPU_US, 60 * MiB, false],
    ['idle window, heap barely grown', 1_000_000, 12 * MiB + IDLE_GC_MIN_GROWTH_BYTES - 1, false],
  ])('%s: %s', (_name, cpuUs, heap, expected) => {
    expect(shouldCollect(state, cpuUs, heap)).toBe(expected);
  });
});

describe('startIdleGc', () => {
  it('collects once after traffic stops, then waits for the heap to grow again', () => {
    vi.useFakeTimers();
    try {
      let cpuUs = 0;
      let heap = 12 * MiB;
      const collect = vi.fn(() => {
        heap = 13 * MiB;
      });
      const deps: IdleGcDeps = { cpuUs: () => cpuUs, heapUsedBytes: () => heap, collect };
      const stop = startIdleGc(deps, 1_000);
      // Under load: CPU busy, heap growing: no collection.
      cpuUs += 900_000;
      heap = 40 * MiB;
      vi.advanceTimersByTime(1_000);
      expect(collect).not.toHaveBeenCalled();
      // Traffic stops: the next idle window collects.
      vi.advanceTimersByTime(1_000);
      expect(collect).toHaveBeenCalledTimes(1);
      // Still idle, nothing new to return: no more collections.
      vi.advanceTimersByTime(5_000);
      expect(collect).toHaveBeenCalledTimes(1);
      stop();
    } finally {
      vi.useRealTimers();
    }
  });
});
