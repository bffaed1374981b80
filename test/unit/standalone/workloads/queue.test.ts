// The local controllers' work queue: deduplication, order, retry after an error, delayed keys, stop.
import { describe, expect, it } from 'vitest';
import { WorkQueue } from '../../../../src/standalone/workloads/queue.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function logSink() {
  const warnings: string[] = [];
  return {
    warnings,
    log: { info: () => {}, warn: (_f: Record<string, unknown>, m: string) => warnings.push(m) },
  };
}

describe('WorkQueue', () => {
  it('handles a key added twice once, in the order keys were added', async () => {
    const seen: string[] = [];
    const { log } = logSink();
    const q = new WorkQueue('test', async (key) => void seen.push(key), log);
    q.add('a');
    q.add('b');
    q.add('a');
    await sleep(30);
    expect(seen).toEqual(['a', 'b']);
    await q.stop();
  });

  it('retries a key whose handler throws, and logs it', async () => {
    let calls = 0;
    const { log, warnings } = logSink();
    const q = new WorkQueue(
      'test',
      async () => {
        calls += 1;
        if (calls === 1) throw new Error('conflict');
      },
      log,
    );
    q.add('x');
    await sleep(400);
    expect(calls).toBe(2);
    expect(warnings).toEqual(['test x: retrying after an error']);
    await q.stop();
  });

  it('runs a delayed key when due, an earlier add wins, and nothing runs after stop', async () => {
    const seen: string[] = [];
    const { log } = logSink();
    const q = new WorkQueue('test', async (key) => void seen.push(key), log);
    q.add('late', 100);
    q.add('late', 10_000);
    await sleep(30);
    expect(seen).toEqual([]);
    await sleep(120);
    expect(seen).toEqual(['late']);
    q.add('never', 20);
    await q.stop();
    await sleep(50);
    expect(seen).toEqual(['late']);
  });
});
