// The SMI router against the in-memory store, ported from Argo's rollout/trafficrouting/smi/smi_test.go
// for each served TrafficSplit version (v1alpha1 Quantity-string weights, v1alpha2/v1alpha3 integers):
// create with defaults and owner, patch when the weight changes, no write when nothing changed, read
// errors surfaced, a TrafficSplit the Rollout does not own refused; plus the CRD missing, experiment
// destinations, an invalid config and a user's fields surviving the patch.
import { describe, expect, it } from 'vitest';
import type { Rollout } from '../../../../src/api/rollout.ts';
import { createMemoryStore, type MemoryStore } from '../../../../src/store/memory.ts';
import { StoreError } from '../../../../src/store/object-store.ts';
import { smiRouter, type TrafficSplit } from '../../../../src/traffic/smi/router.ts';

const NS = 'default';
const VERSIONS = [
  ['v1alpha1', (n: number) => String(n)],
  ['v1alpha2', (n: number) => n],
  ['v1alpha3', (n: number) => n],
] as const;

function fakeRollout(smi: Record<string, unknown> = {}): Rollout {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'rollout', namespace: NS, uid: 'ro-uid' },
    spec: {
      selector: { matchLabels: { app: 'x' } },
      template: { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'a', image: 'a' }] } },
      strategy: {
        canary: {
          stableService: 'stable-service',
          canaryService: 'canary-service',
          trafficRouting: { smi },
        },
      },
    },
  } as Rollout;
}

function setup(version: string, ro = fakeRollout(), extra: { unserved?: boolean } = {}) {
  const store = createMemoryStore({
    apiVersions: { TrafficSplit: `split.smi-spec.io/${version}` },
    ...(extra.unserved ? { unservedKinds: ['TrafficSplit' as const] } : {}),
  });
  const router = smiRouter({
    store,
    rollout: ro,
    apiVersions: { TrafficSplit: `split.smi-spec.io/${version}` },
  });
  if (router === undefined) throw new Error('no router');
  return { store, router, ro };
}

function ownedSplit(name: string, version: string, weight: (n: number) => string | number, canary = 10) {
  return {
    apiVersion: `split.smi-spec.io/${version}`,
    kind: 'TrafficSplit',
    metadata: {
      name,
      namespace: NS,
      ownerReferences: [
        {
          apiVersion: 'argoproj.io/v1alpha1',
          kind: 'Rollout',
          name: 'rollout',
          uid: 'ro-uid',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      service: 'root-service',
      backends: [
        { service: 'canary-service', weight: weight(canary) },
        { service: 'stable-service', weight: weight(100 - canary) },
      ],
    },
  };
}

function writes(store: MemoryStore): Record<string, number> {
  return Object.fromEntries(store.writes);
}

describe('SMI router', () => {
  it('is undefined without an smi block and has type SMI', () => {
    const ro = fakeRollout();
    delete (ro.spec.strategy.canary as { trafficRouting?: unknown }).trafficRouting;
    expect(smiRouter({ store: createMemoryStore(), rollout: ro, apiVersions: {} })).toBeUndefined();
    expect(setup('v1alpha1').router.type).toBe('SMI');
  });

  it('refuses an unsupported TrafficSplit API version (Argo: Unsupported TrafficSplit API version)', async () => {
    const { router } = setup('does-not-exist');
    expect(await router.setWeight(10, [])).toEqual({
      ok: false,
      error: 'Unsupported TrafficSplit API version `does-not-exist`',
    });
  });

  describe.each(VERSIONS)('%s', (version, weight) => {
    it('creates the TrafficSplit named after the Rollout, owned by it, rooted at the stable Service', async () => {
      const { store, router } = setup(version);
      expect(await router.setWeight(10, [])).toEqual({ ok: true });
      expect(writes(store)).toEqual({ 'create TrafficSplit': 1 });
      const ts = store.get<TrafficSplit>('TrafficSplit', NS, 'rollout')!;
      expect(ts.apiVersion).toBe(`split.smi-spec.io/${version}`);
      expect(ts.metadata.ownerReferences).toEqual([
        {
          apiVersion: 'argoproj.io/v1alpha1',
          kind: 'Rollout',
          name: 'rollout',
          uid: 'ro-uid',
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
      expect(ts.spec).toEqual({
        service: 'stable-service',
        backends: [
          { service: 'canary-service', weight: weight(10) },
          { service: 'stable-service', weight: weight(90) },
        ],
      });
      const events = store.list<{ reason: string; message: string } & TrafficSplit>('Event', NS);
      expect(events.map((e) => [e.reason, e.message])).toEqual([
        ['TrafficSplitCreated', 'TrafficSplit `rollout` created'],
      ]);
    });

    it('uses trafficSplitName and rootService when set', async () => {
      const { store, router } = setup(
        version,
        fakeRollout({ rootService: 'root-service', trafficSplitName: 'traffic-split-name' }),
      );
      expect(await router.setWeight(10, [])).toEqual({ ok: true });
      const ts = store.get<TrafficSplit>('TrafficSplit', NS, 'traffic-split-name')!;
      expect(ts.spec?.service).toBe('root-service');
    });

    it('patches an existing TrafficSplit it owns to the new weight', async () => {
      const ro = fakeRollout({ rootService: 'root-service', trafficSplitName: 'traffic-split-name' });
      const { store, router } = setup(version, ro);
      store.seed(ownedSplit('traffic-split-name', version, weight) as never);
      expect(await router.setWeight(50, [])).toEqual({ ok: true });
      expect(writes(store)).toEqual({ 'patch TrafficSplit': 1 });
      const ts = store.get<TrafficSplit>('TrafficSplit', NS, 'traffic-split-name')!;
      expect(ts.spec?.backends).toEqual([
        { service: 'canary-service', weight: weight(50) },
        { service: 'stable-service', weight: weight(50) },
      ]);
    });

    it('does not write when the TrafficSplit already has the weight', async () => {
      const ro = fakeRollout({ rootService: 'root-service', trafficSplitName: `traffic-split-${version}` });
      const { store, router } = setup(version, ro);
      store.seed(ownedSplit(`traffic-split-${version}`, version, weight) as never);
      expect(await router.setWeight(10, [])).toEqual({ ok: true });
      expect(writes(store)).toEqual({});
    });

    it('refuses a TrafficSplit the Rollout does not own', async () => {
      const ro = fakeRollout({ rootService: 'root-service', trafficSplitName: 'traffic-split-name' });
      const { store, router } = setup(version, ro);
      const ts = ownedSplit('traffic-split-name', version, weight);
      store.seed({ ...ts, metadata: { ...ts.metadata, ownerReferences: undefined } } as never);
      expect(await router.setWeight(10, [])).toEqual({
        ok: false,
        error: 'Rollout does not own TrafficSplit `traffic-split-name`',
      });
      const other = ownedSplit('traffic-split-name', version, weight);
      other.metadata.ownerReferences[0]!.uid = 'someone-else';
      store.seed(other as never);
      expect(await router.setWeight(10, [])).toMatchObject({ ok: false });
      expect(writes(store)).toEqual({});
    });

    it('gives experiment destinations their weight and takes it from stable', async () => {
      const { store, router } = setup(version);
      const additional = [
        { serviceName: 'exp-a', podTemplateHash: 'a', weight: 5 },
        { serviceName: 'exp-b', podTemplateHash: 'b', weight: 10 },
      ];
      expect(await router.setWeight(20, additional)).toEqual({ ok: true });
      expect(store.get<TrafficSplit>('TrafficSplit', NS, 'rollout')!.spec?.backends).toEqual([
        { service: 'canary-service', weight: weight(20) },
        { service: 'exp-a', weight: weight(5) },
        { service: 'exp-b', weight: weight(10) },
        { service: 'stable-service', weight: weight(65) },
      ]);
    });

    it("keeps the user's other fields when it patches", async () => {
      const ro = fakeRollout({ rootService: 'root-service', trafficSplitName: 'ts' });
      const { store, router } = setup(version, ro);
      const ts = ownedSplit('ts', version, weight);
      store.seed({
        ...ts,
        metadata: { ...ts.metadata, labels: { team: 'shop' } },
        spec: { ...ts.spec, matches: [{ kind: 'HTTPRouteGroup', name: 'api' }] },
      } as never);
      expect(await router.setWeight(30, [])).toEqual({ ok: true });
      const after = store.get<TrafficSplit>('TrafficSplit', NS, 'ts')!;
      expect(after.metadata.labels).toEqual({ team: 'shop' });
      expect(after.spec?.matches).toEqual([{ kind: 'HTTPRouteGroup', name: 'api' }]);
      expect(after.spec?.backends?.[0]).toEqual({ service: 'canary-service', weight: weight(30) });
    });
  });

  it('surfaces an error reading the TrafficSplit', async () => {
    const { store, router } = setup('v1alpha1');
    store.read = async () => {
      throw new StoreError(
        'Unavailable',
        504,
        'the server was unable to return a response in the time allotted',
      );
    };
    const result = await router.setWeight(10, []);
    expect(result).toMatchObject({
      ok: false,
      error: expect.stringContaining('unable to return a response'),
    });
  });

  it('says the CRD is missing when the cluster does not serve TrafficSplit', async () => {
    const { router } = setup('v1alpha1', fakeRollout(), { unserved: true });
    const result = await router.setWeight(10, []);
    expect(result).toMatchObject({
      ok: false,
      error: expect.stringContaining('is the SMI TrafficSplit CRD installed?'),
    });
  });

  it('reports a create failure and records TrafficSplitNotCreated', async () => {
    const { store, router } = setup('v1alpha1');
    store.injectFaults((a) =>
      a.verb === 'create' ? new StoreError('Forbidden', 403, 'no create') : undefined,
    );
    expect(await router.setWeight(10, [])).toEqual({ ok: false, error: 'Forbidden: no create' });
    const events = store.list<{ reason: string } & TrafficSplit>('Event', NS);
    expect(events.map((e) => e.reason)).toEqual(['TrafficSplitNotCreated']);
  });

  it('does nothing for hashes, header and mirror routes, and cannot verify', async () => {
    const { store, router } = setup('v1alpha1');
    expect(await router.updateHash('a', 'b', [])).toEqual({ ok: true });
    expect(
      await router.setHeaderRoute({ name: 'h', match: [{ headerName: 'x', headerValue: { exact: 'y' } }] }),
    ).toEqual({
      ok: true,
    });
    expect(await router.setMirrorRoute({ name: 'm', percentage: 50 })).toEqual({ ok: true });
    expect(await router.removeManagedRoutes()).toEqual({ ok: true });
    expect(await router.verifyWeight(10, [])).toBeUndefined();
    expect(writes(store)).toEqual({});
  });

  it('answers every verb with the field error when the smi block is invalid', async () => {
    const store = createMemoryStore();
    const router = smiRouter({ store, rollout: fakeRollout({ trafficSplit: 'x' }), apiVersions: {} })!;
    const error =
      'spec.strategy.canary.trafficRouting.smi.trafficSplit: unknown field (known: rootService, trafficSplitName)';
    expect(await router.setWeight(10, [])).toEqual({ ok: false, error });
    expect(await router.updateHash('a', 'b', [])).toEqual({ ok: false, error });
    expect(await router.setHeaderRoute({ name: 'h' })).toEqual({ ok: false, error });
    expect(await router.setMirrorRoute({ name: 'm' })).toEqual({ ok: false, error });
    expect(await router.removeManagedRoutes()).toEqual({ ok: false, error });
    // setWeight already failed and holds the step; verification has nothing to say (Argo's nil).
    expect(await router.verifyWeight(10, [])).toBeUndefined();
  });
});
