// antiAffinity on the real test cluster: the API server stores the injected term on the update's new
// ReplicaSet (a valid core/v1 Affinity, so the ReplicaSet controller creates its pods from it), the first
// ReplicaSet has none, and the Rollout completes with two revisions. The test cluster has no scheduler
// (the pod simulator binds every pod to one node), so placement itself is not observed here.

import { afterEach, describe, expect, it } from 'vitest';
import { canaryRollout, E2e } from './fixture.ts';

let e: E2e | undefined;
afterEach(async () => {
  await e?.dispose();
  e = undefined;
});

async function rsAffinity(t: E2e, name: string): Promise<unknown> {
  const rs = await t.client.get(`/apis/apps/v1/namespaces/${t.namespace}/replicasets/${name}`);
  return (rs.spec as { template: { spec?: { affinity?: unknown } } }).template.spec?.affinity;
}

describe('antiAffinity', () => {
  it('injects a preferred anti-affinity term against the stable pods into the new ReplicaSet only', async () => {
    e = await E2e.create('anti-affinity');
    const t = e;
    await t.healthyRollout(
      canaryRollout('ro', {
        replicas: 2,
        steps: [{ setWeight: 50 }, { pause: {} }],
        canary: { antiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: { weight: 50 } } },
      }),
      'ro',
    );
    const v1 = (await t.rollout('ro')).status?.currentPodHash ?? '';
    expect(await rsAffinity(t, `ro-${v1}`)).toBeUndefined();
    await t.setImage('ro', 'example.com/app:v2');
    await t.waitForPhase('ro', 'Paused');
    await t.waitForPodCounts('ro', { '1': 1, '2': 1 });
    const v2 = (await t.rollout('ro')).status?.currentPodHash ?? '';
    expect(await rsAffinity(t, `ro-${v2}`)).toEqual({
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          {
            weight: 50,
            podAffinityTerm: {
              labelSelector: {
                matchExpressions: [{ key: 'rollouts-pod-template-hash', operator: 'In', values: [v1] }],
              },
              namespaces: [t.namespace],
              topologyKey: 'kubernetes.io/hostname',
            },
          },
        ],
      },
    });
    // The canary pod carries it too (created by the real ReplicaSet controller from that template).
    const pods = await t.client.get(`/api/v1/namespaces/${t.namespace}/pods`);
    const canaryPod = (
      (pods.items ?? []) as { metadata: { labels?: Record<string, string> }; spec: { affinity?: unknown } }[]
    ).find((p) => p.metadata.labels?.['rollouts-pod-template-hash'] === v2);
    expect(canaryPod?.spec.affinity).toEqual(await rsAffinity(t, `ro-${v2}`));
    await t.sluiceOk('promote', 'ro');
    const done = await t.waitForPhase('ro', 'Healthy');
    expect(done.status?.stableRS).toBe(v2);
    expect((await t.replicaSets('ro')).map((r) => r.revision)).toEqual(['1', '2']);
  });
});
