// Ephemeral metadata (canaryMetadata/stableMetadata, previewMetadata/activeMetadata) over the in-memory
// store, with the harness keeping Pod objects per ReplicaSet: injected into the role's RS template and
// patched onto its running pods in place, swapped on promotion, recorded in the RS annotation, and never
// a template change of its own.

import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/api/meta.ts';
import { computePodTemplateHash } from '../../../src/api/pod-template/hash.ts';
import type { Rollout } from '../../../src/api/rollout.ts';
import { ephemeralChanges, marshalPodMetadata } from '../../../src/rollout/ephemeral-metadata.ts';
import { HASH, NS, startHarness } from '../../fixtures/rollout-harness.ts';
import { webRollout, webService } from '../../fixtures/rollout-objects.ts';

const EPHEMERAL = 'rollout.argoproj.io/ephemeral-metadata';
const CANARY_MD = { labels: { role: 'canary', canaryOnly: 'yes' }, annotations: { 'note/canary': 'c' } };
const STABLE_MD = { labels: { role: 'stable' } };

/** These tests watch the pods, so the harness keeps Pod objects. */
const start = (ro: Rollout, objs: KubeObject[] = []) => startHarness(ro, objs, { withPods: true });

describe('ephemeral metadata change sets (Argo SyncEphemeralPodMetadata)', () => {
  const cases: {
    name: string;
    meta: { labels?: Record<string, string>; annotations?: Record<string, string> };
    existing?: { labels?: Record<string, string>; annotations?: Record<string, string> };
    desired?: { labels?: Record<string, string>; annotations?: Record<string, string> };
    onlyReal?: boolean;
    want: unknown;
  }[] = [
    {
      name: 'adds desired keys that differ',
      meta: { labels: { app: 'web', role: 'old' } },
      desired: { labels: { role: 'canary' }, annotations: { a: '1' } },
      want: { labels: { role: 'canary' }, annotations: { a: '1' } },
    },
    {
      name: 'nothing to do when already in place',
      meta: { labels: { app: 'web', role: 'canary' } },
      existing: { labels: { role: 'canary' } },
      desired: { labels: { role: 'canary' } },
      want: undefined,
    },
    {
      name: 'removes only keys it injected before and no longer wants',
      meta: { labels: { app: 'web', role: 'canary', canaryOnly: 'yes', sidecar: 'istio' } },
      existing: { labels: { role: 'canary', canaryOnly: 'yes' } },
      desired: { labels: { role: 'stable' } },
      want: { labels: { role: 'stable', canaryOnly: null }, annotations: {} },
    },
    {
      name: 'desired nil removes everything recorded',
      meta: { labels: { app: 'web', role: 'canary' }, annotations: { x: '1' } },
      existing: { labels: { role: 'canary' }, annotations: { x: '1' } },
      want: { labels: { role: null }, annotations: { x: null } },
    },
    {
      name: 'a recorded key already gone still counts for the ReplicaSet record (Argo)',
      meta: { labels: { app: 'web' } },
      existing: { labels: { gone: 'x' } },
      want: { labels: { gone: null }, annotations: {} },
    },
    {
      name: 'but is no pod write',
      meta: { labels: { app: 'web' } },
      existing: { labels: { gone: 'x' } },
      onlyReal: true,
      want: undefined,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = ephemeralChanges(c.meta, c.existing, c.desired, c.onlyReal);
      if (c.want === undefined) expect(got).toBeUndefined();
      else expect(got).toEqual({ labels: {}, annotations: {}, ...(c.want as object) });
    });
  }

  it('records what it injected as Go json.Marshal writes it (labels first, sorted keys, HTML escaped)', () => {
    expect(marshalPodMetadata({ annotations: { z: '<1>', a: '&' }, labels: { b: '2', a: '1' } })).toBe(
      '{"labels":{"a":"1","b":"2"},"annotations":{"a":"\\u0026","z":"\\u003c1\\u003e"}}',
    );
    expect(marshalPodMetadata({ labels: {} })).toBe('{}');
  });
});

describe('canary ephemeral metadata', () => {
  it('puts stableMetadata on the first ReplicaSet and its pods without changing the pod-template hash', async () => {
    const ro = webRollout({ canary: { canaryMetadata: CANARY_MD, stableMetadata: STABLE_MD } });
    const h = await start(ro);
    const hash = computePodTemplateHash(ro.spec.template!);
    const rss = h.rss();
    expect(rss.map((r) => r.metadata.name)).toEqual([`web-${hash}`]);
    expect(h.ro().status?.currentPodHash).toBe(hash);
    expect(rss[0]!.spec.template.metadata?.labels).toEqual({ app: 'web', [HASH]: hash, role: 'stable' });
    expect(rss[0]!.metadata.annotations?.[EPHEMERAL]).toBe('{"labels":{"role":"stable"}}');
    const pods = h.pods();
    expect(pods).toHaveLength(2);
    for (const p of pods) expect(p.metadata.labels?.role).toBe('stable');
    expect(h.ro().status?.phase).toBe('Healthy');
  });

  it('labels canary pods during the update and swaps to stableMetadata in place on promotion', async () => {
    const h = await start(
      webRollout({
        canary: {
          canaryMetadata: CANARY_MD,
          stableMetadata: STABLE_MD,
          steps: [{ setWeight: 50 }, { pause: {} }],
        },
      }),
    );
    const v1 = h.ro().status!.currentPodHash!;
    const stablePods = h.pods().map((p) => p.metadata.name);
    await h.setImage('web:2');
    await h.converge();
    const v2 = h.ro().status!.currentPodHash!;
    expect(h.ro().status).toMatchObject({ stableRS: v1, phase: 'Paused' });
    const canaryRS = h.rsByHash(v2)!;
    expect(canaryRS.spec.template.metadata?.labels).toEqual({
      app: 'web',
      [HASH]: v2,
      role: 'canary',
      canaryOnly: 'yes',
    });
    expect(canaryRS.spec.template.metadata?.annotations).toEqual({ 'note/canary': 'c' });
    expect(JSON.parse(canaryRS.metadata.annotations?.[EPHEMERAL] ?? '')).toEqual(CANARY_MD);
    const canaryPods = h.pods(canaryRS.metadata.name);
    expect(canaryPods.length).toBeGreaterThan(0);
    for (const p of canaryPods)
      expect(p.metadata.labels).toMatchObject({ role: 'canary', canaryOnly: 'yes' });
    // The stable RS and its pods keep the stable role.
    expect(h.rsByHash(v1)!.spec.template.metadata?.labels?.role).toBe('stable');
    for (const p of h.pods(h.rsByHash(v1)!.metadata.name)) expect(p.metadata.labels?.role).toBe('stable');
    expect(h.pods(h.rsByHash(v1)!.metadata.name).every((p) => stablePods.includes(p.metadata.name))).toBe(
      true,
    );

    await h.patchStatus({ pauseConditions: null });
    await h.converge();
    expect(h.ro().status).toMatchObject({ stableRS: v2, phase: 'Healthy' });
    const promoted = h.rsByHash(v2)!;
    expect(promoted.spec.template.metadata?.labels).toEqual({ app: 'web', [HASH]: v2, role: 'stable' });
    expect(promoted.spec.template.metadata?.annotations ?? {}).toEqual({});
    expect(promoted.metadata.annotations?.[EPHEMERAL]).toBe('{"labels":{"role":"stable"}}');
    // The same pods (no restart), relabelled: canary-only keys gone.
    const after = h.pods(promoted.metadata.name);
    expect(after.map((p) => p.metadata.name)).toEqual(
      expect.arrayContaining(canaryPods.map((p) => p.metadata.name)),
    );
    for (const p of after) {
      expect(p.metadata.labels).toEqual({ app: 'web', [HASH]: v2, role: 'stable' });
      expect(p.metadata.annotations?.['note/canary']).toBeUndefined();
    }
    // The old stable RS's template no longer carries injected metadata.
    const old = h.rsByHash(v1)!;
    expect(old.spec.template.metadata?.labels).toEqual({ app: 'web', [HASH]: v1 });
    expect(old.metadata.annotations?.[EPHEMERAL]).toBeUndefined();
    expect(h.rss()).toHaveLength(2);
  });

  it('a metadata-only spec change patches pods in place and starts no new revision', async () => {
    const h = await start(webRollout({ canary: { stableMetadata: STABLE_MD } }));
    const names = h.pods().map((p) => p.metadata.name);
    await h.store.patch('Rollout', NS, 'web', {
      spec: {
        strategy: {
          canary: { stableMetadata: { labels: { role: null, tier: 'gold' }, annotations: { a: 'b' } } },
        },
      },
    });
    await h.converge();
    expect(h.rss()).toHaveLength(1);
    expect(h.ro().metadata.annotations?.['rollout.argoproj.io/revision']).toBe('1');
    const pods = h.pods();
    expect(pods.map((p) => p.metadata.name)).toEqual(names);
    for (const p of pods) {
      expect(p.metadata.labels?.role).toBeUndefined();
      expect(p.metadata.labels?.tier).toBe('gold');
      expect(p.metadata.annotations).toEqual({ a: 'b' });
    }
  });

  it('removing the metadata from the spec removes exactly what was injected from RS and pods', async () => {
    const h = await start(webRollout({ canary: { stableMetadata: STABLE_MD } }));
    const rs = h.rss()[0]!;
    // A label another controller added to a pod stays.
    const pod = h.pods()[0]!;
    await h.store.patch('Pod', NS, pod.metadata.name, { metadata: { labels: { sidecar: 'istio' } } });
    await h.store.patch('Rollout', NS, 'web', { spec: { strategy: { canary: { stableMetadata: null } } } });
    expect(h.ro().spec.strategy.canary?.stableMetadata).toBeUndefined();
    // No ephemeral metadata configured any more: Argo leaves the last injection alone...
    await h.converge();
    expect(h.rss()[0]!.metadata.annotations?.[EPHEMERAL]).toBeDefined();
    // ...and a different configuration replaces it, removing only the recorded keys.
    await h.store.patch('Rollout', NS, 'web', {
      spec: { strategy: { canary: { stableMetadata: { labels: { tier: 'x' } } } } },
    });
    expect(h.ro().spec.strategy.canary?.stableMetadata).toEqual({ labels: { tier: 'x' } });
    await h.converge();
    expect(h.rss()[0]!.spec.template.metadata?.labels).toEqual({
      app: 'web',
      [HASH]: rs.metadata.labels?.[HASH],
      tier: 'x',
    });
    expect(h.store.get<KubeObject>('Pod', NS, pod.metadata.name)?.metadata.labels).toEqual({
      app: 'web',
      [HASH]: rs.metadata.labels?.[HASH],
      sidecar: 'istio',
      tier: 'x',
    });
  });

  it('semantic template comparison ignores injected metadata (a hash written another way still matches)', async () => {
    const h = await start(webRollout({ canary: { stableMetadata: STABLE_MD } }));
    const [rs] = h.rss();
    // A collisionCount changes the computed hash, so only the semantic fallback can find the RS.
    await h.patchStatus({ collisionCount: 7 });
    await h.reconcile();
    expect(h.rss().map((r) => r.metadata.name)).toEqual([rs!.metadata.name]);
    expect(h.ro().status?.currentPodHash).toBe(rs!.metadata.labels?.[HASH]);
  });
});

describe('blue-green ephemeral metadata', () => {
  it('previewMetadata on the preview stack until promotion, then activeMetadata', async () => {
    const h = await start(
      webRollout({
        blueGreen: {
          activeService: 'active',
          previewService: 'preview',
          autoPromotionEnabled: false,
          previewMetadata: { labels: { role: 'preview' } },
          activeMetadata: { labels: { role: 'active' } },
        },
      }),
      [webService('active'), webService('preview')],
    );
    const v1 = h.ro().status!.currentPodHash!;
    for (const p of h.pods()) expect(p.metadata.labels?.role).toBe('active');
    await h.setImage('web:2');
    await h.converge();
    const v2 = h.ro().status!.currentPodHash!;
    expect(h.ro().status).toMatchObject({ phase: 'Paused', stableRS: v1 });
    for (const p of h.pods(h.rsByHash(v2)!.metadata.name)) expect(p.metadata.labels?.role).toBe('preview');
    for (const p of h.pods(h.rsByHash(v1)!.metadata.name)) expect(p.metadata.labels?.role).toBe('active');
    await h.patchStatus({ pauseConditions: null });
    await h.converge();
    expect(h.ro().status).toMatchObject({ stableRS: v2 });
    expect(h.rsByHash(v2)!.spec.template.metadata?.labels?.role).toBe('active');
    for (const p of h.pods(h.rsByHash(v2)!.metadata.name)) expect(p.metadata.labels?.role).toBe('active');
    expect(h.rsByHash(v1)!.spec.template.metadata?.labels?.role).toBeUndefined();
  });
});
