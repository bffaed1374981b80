// Ephemeral metadata on the real test cluster: canaryMetadata/stableMetadata reach the ReplicaSet
// templates and the running pods (patched in place, the same pod names), swap on promotion, and leave the
// pod-template hash and the revision count alone.

import { afterEach, describe, expect, it } from 'vitest';
import { waitOut } from '../cluster/wait.ts';
import { canaryRollout, E2e } from './fixture.ts';

let e: E2e | undefined;
afterEach(async () => {
  await e?.dispose();
  e = undefined;
});

interface PodMeta {
  name: string;
  hash: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  deleting: boolean;
}

async function podMeta(t: E2e): Promise<PodMeta[]> {
  const list = await t.client.get(`/api/v1/namespaces/${t.namespace}/pods`);
  const items = (list.items ?? []) as {
    metadata: {
      name: string;
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
      deletionTimestamp?: string;
    };
  }[];
  return items.map((p) => ({
    name: p.metadata.name,
    hash: p.metadata.labels?.['rollouts-pod-template-hash'] ?? '',
    labels: p.metadata.labels ?? {},
    annotations: p.metadata.annotations ?? {},
    deleting: p.metadata.deletionTimestamp !== undefined,
  }));
}

describe('ephemeral metadata', () => {
  it('labels canary and stable pods in place and swaps the labels on promotion without a restart', async () => {
    e = await E2e.create('ephemeral-md');
    const t = e;
    await t.healthyRollout(
      canaryRollout('ro', {
        replicas: 2,
        steps: [{ setWeight: 50 }, { pause: {} }],
        canary: {
          canaryMetadata: { labels: { role: 'canary', 'canary-only': 'yes' }, annotations: { 'x/c': '1' } },
          stableMetadata: { labels: { role: 'stable' } },
        },
      }),
      'ro',
    );
    const v1 = (await t.rollout('ro')).status?.currentPodHash ?? '';
    await t.waitFor('stable pods labelled', async () => {
      const pods = (await podMeta(t)).filter((p) => !p.deleting);
      return pods.length === 2 && pods.every((p) => p.labels.role === 'stable') ? pods : undefined;
    });
    const [rs1] = await t.replicaSets('ro');
    expect(rs1?.annotations['rollout.argoproj.io/ephemeral-metadata']).toBe('{"labels":{"role":"stable"}}');

    await t.setImage('ro', 'example.com/app:v2');
    await t.waitForPhase('ro', 'Paused');
    const v2 = (await t.rollout('ro')).status?.currentPodHash ?? '';
    const canaryPods = await t.waitFor('canary pod labelled', async () => {
      const pods = (await podMeta(t)).filter((p) => !p.deleting && p.hash === v2);
      return pods.length === 1 && pods[0]?.labels.role === 'canary' ? pods : undefined;
    });
    expect(canaryPods[0]?.labels['canary-only']).toBe('yes');
    expect(canaryPods[0]?.annotations['x/c']).toBe('1');
    const stableNow = (await podMeta(t)).filter((p) => !p.deleting && p.hash === v1);
    expect(stableNow.every((p) => p.labels.role === 'stable')).toBe(true);

    await t.sluiceOk('promote', 'ro');
    await t.waitForPhase('ro', 'Healthy');
    const promoted = await t.waitFor('promoted pods relabelled', async () => {
      const pods = (await podMeta(t)).filter((p) => !p.deleting && p.hash === v2);
      return pods.length === 2 &&
        pods.every((p) => p.labels.role === 'stable' && !('canary-only' in p.labels))
        ? pods
        : undefined;
    });
    // The canary pod was relabelled, not replaced.
    expect(promoted.map((p) => p.name)).toContain(canaryPods[0]?.name);
    expect(promoted.every((p) => !('x/c' in p.annotations))).toBe(true);
    const rss = await t.replicaSets('ro');
    expect(rss.map((r) => r.revision)).toEqual(['1', '2']);
    expect(rss[1]?.name).toBe(`ro-${v2}`);
    expect(rss[1]?.annotations['rollout.argoproj.io/ephemeral-metadata']).toBe(
      '{"labels":{"role":"stable"}}',
    );
    // Steady state: no more writes to the ReplicaSets (no template churn from the injection).
    const versions = JSON.stringify(rss.map((r) => [r.name, r.annotations]));
    await waitOut(2_000, 'steady state: nothing may write the ReplicaSets again');
    expect(JSON.stringify((await t.replicaSets('ro')).map((r) => [r.name, r.annotations]))).toBe(versions);
  });
});
