// Two `sluice controller` replicas on the real control plane: only the leader reconciles; when it shuts
// down (SIGTERM path: drain, release the Lease) the standby takes over and carries on with the Rollouts.
// Needs SLUICE_TEST_KUBECONFIG (see kube-store.test.ts).

import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Controller } from '../../../src/controller/lifecycle.ts';
import type { KubeClient } from '../../../src/kube/client.ts';
import { controllerClient, useNamespace } from '../../cluster/namespace.ts';
import { waitFor, waitOut } from '../../cluster/wait.ts';

const KUBECONFIG = process.env.SLUICE_TEST_KUBECONFIG;
const SKIP_REASON =
  'needs SLUICE_TEST_KUBECONFIG (run `npm run cluster:up`, then export SLUICE_TEST_KUBECONFIG=$PWD/.cluster/kubeconfig)';
if (!KUBECONFIG) console.warn(`leader-election controller tests skipped: ${SKIP_REASON}`);

function rollout(name: string) {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image: 'app:1' }] },
      },
      strategy: { canary: { steps: [{ setWeight: 50 }, { pause: {} }] } },
    },
  };
}

describe.skipIf(!KUBECONFIG)(`two controller replicas`, () => {
  let client: KubeClient;
  const controllers: Controller[] = [];
  const ns = useNamespace('ha', { crds: true });
  let namespace: string;

  beforeAll(async () => {
    namespace = ns.name;
    client = await controllerClient();
    for (const identity of ['replica-a', 'replica-b']) {
      const c = new Controller({
        kubeconfig: KUBECONFIG!,
        namespace,
        leaseNamespace: namespace,
        identity,
        leaseDurationMs: 4_000,
        renewDeadlineMs: 3_000,
        retryPeriodMs: 500,
        metricsPort: 0,
        healthzPort: 0,
        listenHost: '127.0.0.1',
        rolloutThreads: 2,
        analysisThreads: 2,
        logger: pino({ level: 'warn' }),
      });
      await c.start();
      controllers.push(c);
    }
  });

  afterAll(async () => {
    for (const c of controllers) await c.stop();
    await client?.close();
  });

  const replicaSets = async (app: string) => {
    const res = await client.request('GET', `/apis/apps/v1/namespaces/${namespace}/replicasets`, {
      query: { labelSelector: `app=${app}` },
    });
    return (res.body as { items: unknown[] }).items.length;
  };

  it('reconciles only on the leader, and the standby takes over when the leader stops', async () => {
    const leader = await waitFor(() => controllers.find((c) => c.isLeader), { what: 'a leader' });
    const standby = controllers.find((c) => c !== leader)!;
    await waitOut(
      1_000,
      'the standby retries (every 500 ms) while the leader holds the lease and must not lead',
    );
    expect(standby.isLeader).toBe(false);
    const scrape = async (c: Controller) => (await fetch(`http://127.0.0.1:${c.metricsPort}/metrics`)).text();
    expect(await scrape(standby)).toContain('sluice_controller_leader 0');
    // Both replicas are healthy: the standby is ready to take over.
    expect((await fetch(`http://127.0.0.1:${standby.healthzPort}/healthz`)).status).toBe(200);

    const first = await client.request(
      'POST',
      `/apis/argoproj.io/v1alpha1/namespaces/${namespace}/rollouts`,
      { body: rollout('one') },
    );
    expect(first.status).toBe(201);
    await waitFor(async () => ((await replicaSets('one')) === 1 ? true : undefined), {
      what: 'the leader creates a ReplicaSet',
    });

    expect(await leader.stop()).toBe(0);
    await waitFor(() => (standby.isLeader ? true : undefined), {
      what: 'the standby leads',
      timeoutMs: 5_000,
    });
    const second = await client.request(
      'POST',
      `/apis/argoproj.io/v1alpha1/namespaces/${namespace}/rollouts`,
      { body: rollout('two') },
    );
    expect(second.status).toBe(201);
    await waitFor(async () => ((await replicaSets('two')) === 1 ? true : undefined), {
      what: 'the new leader reconciles',
    });
    // The first Rollout's ReplicaSet is adopted, not duplicated.
    expect(await replicaSets('one')).toBe(1);
    expect(await scrape(standby)).toContain('sluice_controller_leader 1');
  });
});
