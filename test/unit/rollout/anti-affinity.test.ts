// spec.strategy.*.antiAffinity over the in-memory store: the new ReplicaSet of an update gets a pod
// anti-affinity term against the stable ReplicaSet's pods, the first deploy does not, an older RS coming
// back is re-pointed at the current stable, and neither the hash nor template-change detection sees it.

import { describe, expect, it } from 'vitest';
import { computePodTemplateHash } from '../../../src/api/pod-template/hash.ts';
import type { Rollout } from '../../../src/api/rollout.ts';
import { validateRolloutSpec } from '../../../src/api/rollout-validation.ts';
import { generateAffinity, removeInjectedAntiAffinity } from '../../../src/rollout/anti-affinity.ts';
import { HASH, NS, startHarness } from '../../fixtures/rollout-harness.ts';
import { webRollout, webService } from '../../fixtures/rollout-objects.ts';

type Strategy = Rollout['spec']['strategy'];

function term(stable: string) {
  return {
    labelSelector: { matchExpressions: [{ key: HASH, operator: 'In', values: [stable] }] },
    namespaces: [NS],
    topologyKey: 'kubernetes.io/hostname',
  };
}

const PREFERRED = { preferredDuringSchedulingIgnoredDuringExecution: { weight: 40 } };
const REQUIRED = { requiredDuringSchedulingIgnoredDuringExecution: {} };

describe('antiAffinity validation (Argo ValidateRolloutStrategyAntiAffinity)', () => {
  const cases: { name: string; aa: unknown; want: string | undefined }[] = [
    {
      name: 'preferred with weight 1',
      aa: { preferredDuringSchedulingIgnoredDuringExecution: { weight: 1 } },
      want: undefined,
    },
    {
      name: 'preferred with weight 100',
      aa: { preferredDuringSchedulingIgnoredDuringExecution: { weight: 100 } },
      want: undefined,
    },
    { name: 'required', aa: REQUIRED, want: undefined },
    {
      name: 'neither set',
      aa: {},
      want: 'antiAffinity: Invalid value: "antiAffinity.PreferredDuringSchedulingIgnoredDuringExecution: false antiAffinity.RequiredDuringSchedulingIgnoredDuringExecution: false": AntiAffinity must have exactly one of the following set: preferredDuringSchedulingIgnoredDuringExecution or requiredDuringSchedulingIgnoredDuringExecution',
    },
    {
      name: 'both set',
      aa: { ...PREFERRED, ...REQUIRED },
      want: 'antiAffinity: Invalid value: "antiAffinity.PreferredDuringSchedulingIgnoredDuringExecution: true antiAffinity.RequiredDuringSchedulingIgnoredDuringExecution: true": AntiAffinity must have exactly one',
    },
    {
      name: 'weight 0',
      aa: { preferredDuringSchedulingIgnoredDuringExecution: { weight: 0 } },
      want: 'antiAffinity.weight: Invalid value: 0: AntiAffinity weight must be between 1 and 100',
    },
    {
      name: 'weight 101',
      aa: { preferredDuringSchedulingIgnoredDuringExecution: { weight: 101 } },
      want: 'antiAffinity.weight: Invalid value: 101: AntiAffinity weight must be between 1 and 100',
    },
  ];
  for (const strategy of ['canary', 'blueGreen'] as const) {
    for (const c of cases) {
      it(`${strategy}: ${c.name}`, () => {
        const s = (
          strategy === 'canary'
            ? { canary: { antiAffinity: c.aa } }
            : { blueGreen: { activeService: 'active', antiAffinity: c.aa } }
        ) as Strategy;
        const err = validateRolloutSpec(webRollout(s));
        if (c.want === undefined) expect(err).toBeUndefined();
        else expect(err).toContain(`spec.strategy.${strategy}.${c.want}`);
      });
    }
  }

  it('an invalid antiAffinity degrades the Rollout with InvalidSpec naming the field and creates nothing', async () => {
    const h = await startHarness(
      webRollout({
        canary: { antiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: { weight: 0 } } },
      }),
    );
    expect(h.rss()).toHaveLength(0);
    const cond = h.ro().status?.conditions?.find((c) => c.type === 'InvalidSpec');
    expect(cond?.status).toBe('True');
    expect(cond?.message).toContain('spec.strategy.canary.antiAffinity.weight');
    expect(h.ro().status?.phase).toBe('Degraded');
  });
});

describe('antiAffinity injection (Argo GenerateReplicaSetAffinity)', () => {
  it('appends the term to the template’s own affinity only for a non-stable RS, and removes exactly it', () => {
    const own = {
      nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } },
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          { weight: 5, podAffinityTerm: { topologyKey: 'zone' } },
        ],
      },
    };
    const ro = webRollout({ canary: { antiAffinity: PREFERRED } }, { affinity: own });
    expect(generateAffinity(ro, undefined, 'new')).toEqual(own);
    expect(generateAffinity(ro, 'new', 'new')).toEqual(own);
    const got = generateAffinity(ro, 'old', 'new');
    expect(got).toEqual({
      ...own,
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          own.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0],
          { weight: 40, podAffinityTerm: term('old') },
        ],
      },
    });
    expect(removeInjectedAntiAffinity(got, ro)).toEqual(own);
    const bare = webRollout({ blueGreen: { activeService: 'a', antiAffinity: REQUIRED } });
    const req = generateAffinity(bare, 'old', 'new');
    expect(req).toEqual({
      podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term('old')] },
    });
    expect(removeInjectedAntiAffinity(req, bare)).toBeUndefined();
  });

  it('canary: first deploy has no term; the update’s new RS is anti-affine to the stable pods, hash unchanged', async () => {
    const h = await startHarness(
      webRollout({ canary: { antiAffinity: PREFERRED, steps: [{ setWeight: 50 }, { pause: {} }] } }),
    );
    const v1 = h.ro().status!.currentPodHash!;
    expect(h.rss()[0]!.spec.template.spec?.affinity).toBeUndefined();
    await h.setImage('web:2');
    await h.converge();
    const v2 = h.ro().status!.currentPodHash!;
    expect(h.rsByHash(v2)!.metadata.name).toBe(`web-${computePodTemplateHash(h.ro().spec.template!)}`);
    expect(h.rsByHash(v2)!.spec.template.spec?.affinity).toEqual({
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 40, podAffinityTerm: term(v1) }],
      },
    });
    expect(h.rsByHash(v1)!.spec.template.spec?.affinity).toBeUndefined();
    // Semantic comparison ignores the term: with a hash written another way the RS is still found.
    const before = h.rss().map((r) => r.metadata.name);
    await h.patchStatus({ collisionCount: 3 });
    await h.reconcile();
    expect(h.rss().map((r) => r.metadata.name)).toEqual(before);
    expect(h.ro().status?.currentPodHash).toBe(v2);
    await h.patchStatus({ collisionCount: null, pauseConditions: null });
    await h.converge();
    expect(h.ro().status).toMatchObject({ stableRS: v2, phase: 'Healthy' });
    expect(h.rss()).toHaveLength(2);
  });

  it('blue-green: required term on the preview RS', async () => {
    const h = await startHarness(
      webRollout({
        blueGreen: { activeService: 'active', autoPromotionEnabled: false, antiAffinity: REQUIRED },
      }),
      [webService('active')],
    );
    const v1 = h.ro().status!.currentPodHash!;
    await h.setImage('web:2');
    await h.converge();
    const v2 = h.ro().status!.currentPodHash!;
    expect(h.rsByHash(v2)!.spec.template.spec?.affinity).toEqual({
      podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term(v1)] },
    });
  });

  it('an older RS coming back is re-pointed at the current stable ReplicaSet', async () => {
    const h = await startHarness(webRollout({ canary: { antiAffinity: REQUIRED, steps: [{ pause: {} }] } }));
    const v1 = h.ro().status!.currentPodHash!;
    await h.setImage('web:2');
    await h.converge();
    const v2 = h.ro().status!.currentPodHash!;
    expect(h.rsByHash(v2)!.spec.template.spec?.affinity).toEqual({
      podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term(v1)] },
    });
    await h.setImage('web:3');
    await h.converge();
    const v3 = h.ro().status!.currentPodHash!;
    await h.patchStatus({ pauseConditions: null });
    await h.converge();
    expect(h.ro().status?.stableRS).toBe(v3);
    await h.setImage('web:2');
    await h.converge();
    expect(h.ro().status?.currentPodHash).toBe(v2);
    expect(h.rss()).toHaveLength(3);
    expect(h.rsByHash(v2)!.spec.template.spec?.affinity).toEqual({
      podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term(v3)] },
    });
  });
});
