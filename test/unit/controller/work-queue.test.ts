import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WorkQueue } from '../../../src/controller/work-queue.ts';

describe('work queue', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('hands out each key once however many times it is added while waiting', async () => {
    const q = new WorkQueue();
    q.add('ns/a');
    q.add('ns/b');
    q.add('ns/a');
    expect(q.length).toBe(2);
    expect(await q.get()).toBe('ns/a');
    expect(await q.get()).toBe('ns/b');
    expect(q.length).toBe(0);
  });

  it('never gives a key to two workers: a key added during processing is queued again by done()', async () => {
    const q = new WorkQueue();
    q.add('k');
    const key = await q.get();
    q.add('k');
    expect(q.length).toBe(0);
    let second: string | undefined;
    void q.get().then((k) => {
      second = k;
    });
    await Promise.resolve();
    expect(second).toBeUndefined();
    q.done(key!);
    await Promise.resolve();
    expect(second).toBe('k');
  });

  it('resolves a waiting get() as soon as a key is added', async () => {
    const q = new WorkQueue();
    const pending = q.get();
    q.add('x');
    expect(await pending).toBe('x');
  });

  it('adds after a delay and keeps the earlier of two delays for the same key', async () => {
    const q = new WorkQueue();
    q.addAfter('k', 5_000);
    q.addAfter('k', 1_000);
    q.addAfter('k', 9_000);
    vi.advanceTimersByTime(999);
    expect(q.length).toBe(0);
    vi.advanceTimersByTime(1);
    expect(q.length).toBe(1);
    expect(await q.get()).toBe('k');
    q.done('k');
    vi.advanceTimersByTime(10_000);
    expect(q.length).toBe(0);
  });

  it('backs off per item exponentially from 5 ms, capped at 1000 s, until forgotten', () => {
    const q = new WorkQueue({ burst: 1_000_000 });
    const delays = Array.from({ length: 5 }, () => q.when('k'));
    expect(delays).toEqual([5, 10, 20, 40, 80]);
    expect(q.numRequeues('k')).toBe(5);
    for (let i = 0; i < 30; i++) q.when('k');
    expect(q.when('k')).toBe(1_000_000);
    expect(q.when('other')).toBe(5);
    q.forget('k');
    expect(q.numRequeues('k')).toBe(0);
    expect(q.when('k')).toBe(5);
  });

  it('limits all keys together with a token bucket of 10 per second after a burst of 100', () => {
    const q = new WorkQueue();
    const delays = Array.from({ length: 102 }, (_, i) => q.when(`k${i}`));
    expect(delays.slice(0, 100).every((d) => d === 5)).toBe(true);
    expect(delays[100]).toBeCloseTo(100, 6);
    expect(delays[101]).toBeCloseTo(200, 6);
    vi.advanceTimersByTime(1_000);
    // 10 tokens refilled, 2 already owed: the next key waits 0 ms from the bucket, 5 ms from backoff.
    expect(q.when('later')).toBe(5);
  });

  it('adds a rate-limited key after its backoff', () => {
    const q = new WorkQueue();
    q.addRateLimited('k');
    q.addRateLimited('k');
    vi.advanceTimersByTime(4);
    expect(q.length).toBe(0);
    vi.advanceTimersByTime(1);
    expect(q.length).toBe(1);
  });

  it('returns undefined to waiting and later getters after shutDown and drops delayed keys', async () => {
    const q = new WorkQueue();
    const waiting = q.get();
    q.addAfter('k', 100);
    q.shutDown();
    expect(await waiting).toBeUndefined();
    expect(await q.get()).toBeUndefined();
    vi.advanceTimersByTime(200);
    q.add('x');
    expect(q.length).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});
