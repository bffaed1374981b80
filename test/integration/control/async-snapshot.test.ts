// The control client with an asynchronous onSnapshot and drainReports (what a multi-worker proxy's
// primary gives it, proxy/workers/supervisor.ts): snapshots are applied one at a time and answered in
// the order they arrived, a rejected promise becomes a NACK, and awaited reports are sent.

import { afterEach, describe, expect, it } from 'vitest';
import {
  type Harness,
  histogramReport,
  route,
  startClient,
  startHarness,
  until,
  withCanaryWeight,
} from './harness.ts';

describe('control client with asynchronous callbacks', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function harness(): Promise<Harness> {
    const h = await startHarness();
    cleanups.push(() => h.server.close());
    return h;
  }

  it('applies one snapshot at a time and ACKs in arrival order', async () => {
    const h = await harness();
    const base = route('checkout');
    h.routes.publish(base);
    let inFlight = 0;
    let overlapped = false;
    const applied: number[] = [];
    const { client } = startClient(h.target, {
      onSnapshot: async (version) => {
        inFlight++;
        if (inFlight > 1) overlapped = true;
        await new Promise((resolve) => setTimeout(resolve, 60 - version * 10));
        applied.push(version);
        inFlight--;
        return { ok: true };
      },
    });
    cleanups.push(() => client.close());
    await until(() => h.acks.length >= 1, 'first ACK');
    const v2 = h.routes.publish(withCanaryWeight(base, 20));
    const v3 = h.routes.publish(withCanaryWeight(base, 30));
    await until(() => h.acks.some((a) => a.version === v3), 'ACK of the last snapshot');
    expect(overlapped).toBe(false);
    const acked = h.acks.map((a) => a.version);
    expect(acked).toEqual([...acked].sort((a, b) => a - b));
    expect(applied).toEqual([...applied].sort((a, b) => a - b));
    expect(acked).toContain(v3);
    expect(v2).toBeLessThan(v3);
  });

  it('NACKs with the reason when the promise rejects', async () => {
    const h = await harness();
    h.routes.publish(route('checkout'));
    const { client } = startClient(h.target, {
      onSnapshot: async () => {
        throw new Error('worker 1 did not apply');
      },
    });
    cleanups.push(() => client.close());
    await until(() => h.server.deliveries('shop', 'checkout')[0]?.nack !== undefined, 'NACK');
    expect(h.server.deliveries('shop', 'checkout')[0]!.nack!.reason).toContain('worker 1 did not apply');
  });

  it('sends the reports an asynchronous drainReports resolves with', async () => {
    const h = await harness();
    h.routes.publish(route('checkout'));
    let pending = [histogramReport()];
    const { client } = startClient(h.target, {
      drainReports: async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return pending.splice(0);
      },
    });
    cleanups.push(() => client.close());
    await until(() => h.reported.length >= 1, 'report');
    pending = [];
    expect(h.reported.flat()).toHaveLength(1);
  });
});
