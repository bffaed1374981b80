import { describe, expect, it } from 'vitest';
import { RateLimiter, type RateLimiterClock } from '../../../src/kube/rate-limiter.ts';

/** A manual clock: timers fire only when advance() passes their due time. */
function fakeClock(): RateLimiterClock & { advance(ms: number): Promise<void> } {
  let nowMs = 0;
  let timers: { dueMs: number; fn: () => void; id: number }[] = [];
  let nextId = 1;
  return {
    now: () => nowMs,
    setTimeout(fn, ms) {
      const t = { dueMs: nowMs + ms, fn, id: nextId++ };
      timers.push(t);
      return t;
    },
    clearTimeout(timer) {
      timers = timers.filter((t) => t !== timer);
    },
    async advance(ms) {
      const end = nowMs + ms;
      for (;;) {
        const due = timers.filter((t) => t.dueMs <= end).sort((a, b) => a.dueMs - b.dueMs || a.id - b.id)[0];
        if (due === undefined) break;
        timers = timers.filter((t) => t !== due);
        nowMs = due.dueMs;
        due.fn();
        await Promise.resolve();
      }
      nowMs = end;
      await new Promise((r) => setImmediate(r));
    },
  };
}

function track(p: Promise<void>, order: string[], name: string): void {
  void p.then(() => order.push(name));
}

describe('RateLimiter', () => {
  it('lets a burst through at once, then paces at qps', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(10, 3, clock);
    const order: string[] = [];
    for (const n of ['a', 'b', 'c', 'd', 'e']) track(limiter.acquire(), order, n);
    await clock.advance(0);
    expect(order).toEqual(['a', 'b', 'c']);
    await clock.advance(99);
    expect(order).toEqual(['a', 'b', 'c']);
    await clock.advance(1);
    expect(order).toEqual(['a', 'b', 'c', 'd']);
    await clock.advance(100);
    expect(order).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(limiter.waitedMs).toBe(100 + 200);
  });

  it('serves the low lane only when no normal request waits, even one that arrived later', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(10, 1, clock);
    const order: string[] = [];
    track(limiter.acquire('normal'), order, 'n1');
    track(limiter.acquire('low'), order, 'event1');
    track(limiter.acquire('low'), order, 'event2');
    track(limiter.acquire('normal'), order, 'n2');
    await clock.advance(0);
    expect(order).toEqual(['n1']);
    expect(limiter.pending).toEqual({ normal: 1, low: 2 });
    await clock.advance(100);
    expect(order).toEqual(['n1', 'n2']);
    track(limiter.acquire('normal'), order, 'n3');
    await clock.advance(100);
    expect(order).toEqual(['n1', 'n2', 'n3']);
    await clock.advance(200);
    expect(order).toEqual(['n1', 'n2', 'n3', 'event1', 'event2']);
  });

  it('does not let a low request take a saved token while normal requests wait', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(10, 2, clock);
    const order: string[] = [];
    track(limiter.acquire(), order, 'n1');
    track(limiter.acquire(), order, 'n2');
    track(limiter.acquire(), order, 'n3');
    track(limiter.acquire('low'), order, 'low');
    await clock.advance(0);
    expect(order).toEqual(['n1', 'n2']);
    await clock.advance(100);
    expect(order).toEqual(['n1', 'n2', 'n3']);
    // The low lane leaves half the burst (1 token) saved: it goes once the bucket holds 2.
    await clock.advance(100);
    expect(order).toEqual(['n1', 'n2', 'n3']);
    await clock.advance(100);
    expect(order).toEqual(['n1', 'n2', 'n3', 'low']);
  });

  it('keeps half the burst for normal requests however many events queue', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(10, 4, clock);
    const order: string[] = [];
    for (const n of ['e1', 'e2', 'e3', 'e4']) track(limiter.acquire('low'), order, n);
    await clock.advance(0);
    expect(order).toEqual(['e1', 'e2']);
    for (const n of ['n1', 'n2']) track(limiter.acquire(), order, n);
    await clock.advance(0);
    expect(order).toEqual(['e1', 'e2', 'n1', 'n2']);
    expect(limiter.waitedMs).toBe(0);
    // Empty bucket: the next event waits until 3 tokens are back (1 to spend, 2 kept).
    await clock.advance(299);
    expect(order).toEqual(['e1', 'e2', 'n1', 'n2']);
    await clock.advance(1);
    expect(order).toEqual(['e1', 'e2', 'n1', 'n2', 'e3']);
  });

  it('refills up to burst while idle, no more', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(10, 2, clock);
    const order: string[] = [];
    track(limiter.acquire(), order, 'a');
    track(limiter.acquire(), order, 'b');
    await clock.advance(10_000);
    for (const n of ['c', 'd', 'e']) track(limiter.acquire(), order, n);
    await clock.advance(0);
    expect(order).toEqual(['a', 'b', 'c', 'd']);
  });

  it('releases every waiter on shutdown', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(1, 1, clock);
    const order: string[] = [];
    track(limiter.acquire(), order, 'a');
    track(limiter.acquire(), order, 'b');
    track(limiter.acquire('low'), order, 'c');
    await clock.advance(0);
    limiter.releaseAll();
    await clock.advance(0);
    expect(order).toEqual(['a', 'b', 'c']);
  });

  it('rejects a non-positive qps or a burst below one, naming the setting', () => {
    expect(() => new RateLimiter(0, 1)).toThrow(/qps/);
    expect(() => new RateLimiter(1, 0)).toThrow(/burst/);
  });
});
