// Leader election on a real coordination.k8s.io/v1 Lease. Needs SLUICE_TEST_KUBECONFIG (see kube-store.test.ts).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../../../src/kube/client.ts';
import { KubeStore } from '../../../src/kube/kube-store.ts';
import { LeaderElector, type Lease } from '../../../src/kube/leader-election.ts';
import { controllerClient, useNamespace } from '../../cluster/namespace.ts';
import { waitFor, waitOut } from '../../cluster/wait.ts';

const KUBECONFIG = process.env.SLUICE_TEST_KUBECONFIG;
const SKIP_REASON =
  'needs SLUICE_TEST_KUBECONFIG (run `npm run cluster:up`, then export SLUICE_TEST_KUBECONFIG=$PWD/.cluster/kubeconfig)';
if (!KUBECONFIG) console.warn(`leader-election integration tests skipped: ${SKIP_REASON}`);

describe.skipIf(!KUBECONFIG)(`leader election on a real Lease`, () => {
  let client: KubeClient;
  let store: KubeStore;
  const ns = useNamespace('leader');
  let namespace: string;

  beforeAll(async () => {
    namespace = ns.name;
    client = await controllerClient();
    store = new KubeStore(client, { kinds: [] });
  });

  afterAll(async () => {
    await client?.close();
  });

  it('elects one leader, and a standby takes over promptly when the leader releases on shutdown', async () => {
    const log: string[] = [];
    const make = (identity: string) =>
      new LeaderElector({
        store,
        namespace,
        name: 'lock',
        identity,
        leaseDurationMs: 4_000,
        renewDeadlineMs: 3_000,
        retryPeriodMs: 500,
        onStartedLeading: () => log.push(`${identity} started`),
        onStoppedLeading: () => log.push(`${identity} stopped`),
      });
    const a = make('a');
    const b = make('b');
    void a.start();
    await waitFor(() => a.isLeader, { what: 'a leads' });
    void b.start();
    await waitOut(1_500, 'b retries (every 500 ms) while a holds the lease and must not take it');
    expect(b.isLeader).toBe(false);
    const held = await store.read<Lease>('Lease', namespace, 'lock');
    expect(held?.spec?.holderIdentity).toBe('a');
    expect(held?.spec?.leaseDurationSeconds).toBe(4);
    expect(held?.spec?.renewTime).toMatch(/\.\d{6}Z$/);

    const releasedAt = Date.now();
    await a.stop();
    await waitFor(() => b.isLeader, { what: 'b leads', timeoutMs: 5_000, intervalMs: 50 });
    // Released leases are taken at the next retry, not after the 4 s lease duration.
    expect(Date.now() - releasedAt).toBeLessThan(2_500);
    expect(log).toEqual(['a started', 'a stopped', 'b started']);
    const taken = await store.read<Lease>('Lease', namespace, 'lock');
    expect(taken?.spec?.holderIdentity).toBe('b');
    expect(taken?.spec?.leaseTransitions).toBe(1);
    await b.stop();
    expect((await store.read<Lease>('Lease', namespace, 'lock'))?.spec?.holderIdentity).toBe('');
  });
});
