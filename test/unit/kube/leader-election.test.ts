import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LeaderElector, type Lease, microTime } from '../../../src/kube/leader-election.ts';
import { createMemoryStore } from '../../../src/store/memory.ts';
import { StoreError } from '../../../src/store/object-store.ts';

function candidate(store: ReturnType<typeof createMemoryStore>, identity: string, log: string[]) {
  return new LeaderElector({
    store,
    namespace: 'kube-system',
    name: 'sluice-controller-lock',
    identity,
    onStartedLeading: () => log.push(`${identity} started`),
    onStoppedLeading: () => log.push(`${identity} stopped`),
  });
}

describe('leader election over a Lease', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: Date.parse('2024-05-01T00:00:00Z') });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('formats renewTime as a MicroTime with six fractional digits', () => {
    expect(microTime(Date.parse('2024-05-01T00:00:01.234Z'))).toBe('2024-05-01T00:00:01.234000Z');
  });

  it('lets exactly one candidate lead, and hands over at once when the leader releases on shutdown', async () => {
    const store = createMemoryStore();
    const log: string[] = [];
    const a = candidate(store, 'a', log);
    const b = candidate(store, 'b', log);
    void a.start();
    await vi.advanceTimersByTimeAsync(10);
    void b.start();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(log).toEqual(['a started']);
    expect(a.isLeader).toBe(true);
    expect(b.isLeader).toBe(false);
    const lease = store.get<Lease>('Lease', 'kube-system', 'sluice-controller-lock');
    expect(lease?.spec?.holderIdentity).toBe('a');
    expect(lease?.spec?.leaseDurationSeconds).toBe(15);

    const stopped = a.stop();
    await vi.advanceTimersByTimeAsync(10);
    await stopped;
    expect(store.get<Lease>('Lease', 'kube-system', 'sluice-controller-lock')?.spec?.holderIdentity).toBe('');
    await vi.advanceTimersByTimeAsync(2_500);
    expect(log).toEqual(['a started', 'a stopped', 'b started']);
    expect(store.get<Lease>('Lease', 'kube-system', 'sluice-controller-lock')?.spec?.leaseTransitions).toBe(
      1,
    );
    await b.stop();
  });

  it('steps down after the renew deadline when renewals fail, and a standby takes over after the lease duration', async () => {
    const store = createMemoryStore();
    const log: string[] = [];
    const a = candidate(store, 'a', log);
    const b = candidate(store, 'b', log);
    const aDone = a.start();
    await vi.advanceTimersByTimeAsync(10);
    void b.start();
    await vi.advanceTimersByTimeAsync(5_000);
    // From now on writes fail (as if a were partitioned from the API server); b is only reading meanwhile.
    let partitioned = true;
    const fail = new StoreError('Unavailable', 503, 'partitioned');
    store.injectFaults(() => (partitioned ? fail : undefined));
    // Reads still work, but a cannot renew: b must wait the full lease after its last observed change.
    await vi.advanceTimersByTimeAsync(10_500);
    await aDone;
    expect(log).toEqual(['a started', 'a stopped']);
    partitioned = false;
    store.injectFaults(undefined);
    expect(b.isLeader).toBe(false);
    await vi.advanceTimersByTimeAsync(8_000);
    expect(log).toEqual(['a started', 'a stopped', 'b started']);
    await b.stop();
  });

  it('rejects timings where the renew deadline is not between the retry period and the lease duration', () => {
    const store = createMemoryStore();
    expect(
      () =>
        new LeaderElector({
          store,
          namespace: 'ns',
          name: 'l',
          identity: 'x',
          leaseDurationMs: 5_000,
          renewDeadlineMs: 10_000,
          onStartedLeading: () => {},
          onStoppedLeading: () => {},
        }),
    ).toThrow(/leaseDuration/);
  });
});
