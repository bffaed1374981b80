// The NGINX router against the in-memory store, ported from Argo's nginx_test.go TestReconcile* cases
// (same inputs, same writes or errors), plus the guide's payment-service manifests at 10/30/60%, other
// writers' annotations, maxTrafficWeight, nothing half-written, and a cluster without the Ingress API.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../../../src/api/meta.ts';
import type { Rollout } from '../../../../src/api/rollout.ts';
import {
  createMemoryStore,
  type MemoryStore,
  type MemoryStoreOptions,
} from '../../../../src/store/memory.ts';
import { StoreError } from '../../../../src/store/object-store.ts';
import type { RouterContext } from '../../../../src/traffic/context.ts';
import type { Ingress } from '../../../../src/traffic/nginx/canary-ingress.ts';
import { NginxRouter, nginxRouter } from '../../../../src/traffic/nginx/router.ts';
import type { TrafficRouter } from '../../../../src/traffic/router.ts';
import {
  CANARY_INGRESS,
  CANARY_SERVICE,
  fakeRollout,
  MULTI_INGRESS_CASES,
  NS,
  networkingIngress,
  ownedBy,
  plainIngress,
  STABLE_INGRESS,
  STABLE_SERVICE,
  userFields,
  withAnnotations,
} from './fixtures.ts';

function setup(ro: Rollout, objects: KubeObject[] = [], options: MemoryStoreOptions = {}) {
  const store = createMemoryStore(options);
  for (const obj of objects) store.seed(obj);
  const ctx: RouterContext = { store, rollout: ro, apiVersions: options.apiVersions ?? {} };
  const router = nginxRouter(ctx);
  if (router === undefined) throw new Error('no nginx router');
  return { store, router };
}

const ingress = (store: MemoryStore, name: string) => store.get<Ingress>('Ingress', NS, name);
const writes = (store: MemoryStore) => Object.fromEntries(store.writes);

describe('NginxRouter.setWeight (SetWeight)', () => {
  it("fails with Argo's message when the stable Ingress is missing (TestReconcileStableIngressNotFound)", async () => {
    const { store, router } = setup(fakeRollout({ stableIngress: STABLE_INGRESS }));
    expect(await router.setWeight(10, [])).toEqual({
      ok: false,
      error:
        'error retrieving stableIngress `stable-ingress` from cache: ingress.networking.k8s.io "stable-ingress" not found',
    });
    expect(writes(store)).toEqual({});
  });

  describe.each(MULTI_INGRESS_CASES)('$name', ({ nginx, ingresses, canaryIngresses }) => {
    it('creates one canary Ingress per stable Ingress (TestReconcileStableIngressFound)', async () => {
      const ro = fakeRollout(nginx);
      const { store, router } = setup(
        ro,
        ingresses.map((name) => plainIngress(name, 80, STABLE_SERVICE)),
      );
      expect(await router.setWeight(10, [])).toEqual({ ok: true });
      expect(writes(store)).toEqual({ 'create Ingress': ingresses.length });
      for (const name of canaryIngresses) {
        expect(userFields(ingress(store, name))).toEqual({
          apiVersion: 'networking.k8s.io/v1',
          kind: 'Ingress',
          metadata: {
            name,
            namespace: NS,
            annotations: {
              'nginx.ingress.kubernetes.io/canary': 'true',
              'nginx.ingress.kubernetes.io/canary-weight': '10',
            },
            ownerReferences: [
              {
                apiVersion: 'argoproj.io/v1alpha1',
                kind: 'Rollout',
                name: 'rollout',
                uid: ro.metadata.uid,
                controller: true,
                blockOwnerDeletion: true,
              },
            ],
          },
          spec: {
            rules: [
              {
                host: 'fakehost.example.com',
                http: {
                  paths: [
                    { path: '/foo', backend: { service: { name: CANARY_SERVICE, port: { number: 80 } } } },
                  ],
                },
              },
            ],
          },
        });
      }
    });

    it('fails and writes nothing when the stable Ingress routes to another Service (TestReconcileStableIngressFoundWrongBackend)', async () => {
      const { store, router } = setup(
        fakeRollout(nginx),
        ingresses.map((name) => plainIngress(name, 80, 'other-service')),
      );
      const result = await router.setWeight(10, []);
      expect(result.ok).toBe(false);
      expect(!result.ok && result.error).toContain('has no rules using service');
      expect(writes(store)).toEqual({});
    });

    it('refuses a canary Ingress it does not control (TestReconcileStableAndCanaryIngressFoundNoOwner)', async () => {
      const { store, router } = setup(fakeRollout(nginx), [
        plainIngress(STABLE_INGRESS, 80, STABLE_SERVICE),
        ...ingresses.slice(1).map((name) => plainIngress(name, 80, STABLE_SERVICE)),
        plainIngress(CANARY_INGRESS, 80, CANARY_SERVICE),
      ]);
      expect(await router.setWeight(10, [])).toEqual({
        ok: false,
        error: 'canary ingress `rollout-stable-ingress-canary` controlled by different object',
      });
      expect(writes(store)).toEqual({});
    });

    it('refuses a canary Ingress another Rollout controls (TestReconcileStableAndCanaryIngressFoundBadOwner)', async () => {
      const other = fakeRollout(
        { stableIngress: 'stable-ingress2' },
        {},
        '4b712b69-5de9-11ea-a10a-0a9ba5899dd2',
      );
      const { store, router } = setup(fakeRollout(nginx), [
        ...ingresses.map((name) => plainIngress(name, 80, STABLE_SERVICE)),
        ownedBy(plainIngress(CANARY_INGRESS, 80, CANARY_SERVICE), other),
      ]);
      expect(await router.setWeight(10, [])).toEqual({
        ok: false,
        error: 'canary ingress `rollout-stable-ingress-canary` controlled by different object',
      });
      expect(ingress(store, CANARY_INGRESS)?.metadata.annotations).toBeUndefined();
    });

    it('patches the weight of its canary Ingresses (TestReconcileStableAndCanaryIngressFoundPatch)', async () => {
      const ro = fakeRollout(nginx);
      const { store, router } = setup(ro, [
        ...ingresses.map((name) => plainIngress(name, 80, STABLE_SERVICE)),
        ...canaryIngresses.map((name) =>
          ownedBy(
            withAnnotations(plainIngress(name, 80, CANARY_SERVICE), {
              'nginx.ingress.kubernetes.io/canary': 'true',
              'nginx.ingress.kubernetes.io/canary-weight': '15',
            }),
            ro,
          ),
        ),
      ]);
      expect(await router.setWeight(10, [])).toEqual({ ok: true });
      expect(writes(store)).toEqual({ 'patch Ingress': canaryIngresses.length });
      for (const name of canaryIngresses)
        expect(
          ingress(store, name)?.metadata.annotations?.['nginx.ingress.kubernetes.io/canary-weight'],
        ).toBe('10');
    });

    it('patches networking.k8s.io/v1 canary Ingresses to the desired state (TestReconcileWillInvokeNetworkingIngress)', async () => {
      const ro = fakeRollout(nginx);
      const { store, router } = setup(ro, [
        ...ingresses.map((name) => networkingIngress(name, 80, STABLE_SERVICE)),
        ...canaryIngresses.map((name) =>
          ownedBy(
            withAnnotations(networkingIngress(name, 80, CANARY_SERVICE), {
              'nginx.ingress.kubernetes.io/canary': 'true',
              'nginx.ingress.kubernetes.io/canary-weight': '15',
            }),
            ro,
          ),
        ),
      ]);
      expect(await router.setWeight(10, [])).toEqual({ ok: true });
      expect(writes(store)).toEqual({ 'patch Ingress': canaryIngresses.length });
      for (const name of canaryIngresses) {
        const canary = ingress(store, name)!;
        expect(canary.metadata.annotations?.['nginx.ingress.kubernetes.io/canary-weight']).toBe('10');
        // Labels and the default backend are not part of the desired canary Ingress: Argo's patch drops them.
        expect(canary.metadata.labels).toBeUndefined();
        expect(canary.spec?.defaultBackend).toBeUndefined();
        expect(canary.spec?.ingressClassName).toBe('ingress-name');
      }
    });

    it('writes nothing when the canary Ingresses already carry the weight (TestReconcileStableAndCanaryIngressFoundNoChange)', async () => {
      const ro = fakeRollout(nginx);
      const { store, router } = setup(ro, [
        ...ingresses.map((name) => plainIngress(name, 80, STABLE_SERVICE)),
        ...canaryIngresses.map((name) =>
          ownedBy(
            withAnnotations(plainIngress(name, 80, CANARY_SERVICE), {
              'nginx.ingress.kubernetes.io/canary': 'true',
              'nginx.ingress.kubernetes.io/canary-weight': '10',
            }),
            ro,
          ),
        ),
      ]);
      expect(await router.setWeight(10, [])).toEqual({ ok: true });
      expect(writes(store)).toEqual({});
    });

    it("reports a failed create in Argo's words (TestReconcileCanaryCreateError)", async () => {
      const { store, router } = setup(
        fakeRollout(nginx),
        ingresses.map((name) => plainIngress(name, 80, STABLE_SERVICE)),
      );
      const attempts: string[] = [];
      store.injectFaults((a) => {
        attempts.push(`${a.verb} ${a.name}`);
        return a.verb === 'create' ? new StoreError('Invalid', 422, 'fake error') : undefined;
      });
      expect(await router.setWeight(10, [])).toEqual({
        ok: false,
        error: `error creating canary ingress \`${canaryIngresses[0]}\`: fake error`,
      });
      expect(attempts).toEqual([`create ${canaryIngresses[0]}`]);
    });

    it('patches a canary Ingress created meanwhile by another reconcile (TestReconcileCanaryCreateErrorAlreadyExistsPatch)', async () => {
      const ro = fakeRollout(nginx);
      const { store, router } = setup(
        ro,
        ingresses.map((name) => plainIngress(name, 80, STABLE_SERVICE)),
      );
      const attempts: string[] = [];
      store.injectFaults((a) => {
        attempts.push(`${a.verb} ${a.name}`);
        if (a.verb !== 'create') return undefined;
        // The race: someone else's create lands first.
        store.seed(
          ownedBy(
            withAnnotations(plainIngress(a.name, 80, CANARY_SERVICE), {
              'nginx.ingress.kubernetes.io/canary': 'true',
              'nginx.ingress.kubernetes.io/canary-weight': '15',
            }),
            ro,
          ),
        );
        return new StoreError('AlreadyExists', 409, `ingresses.networking.k8s.io "${a.name}" already exists`);
      });
      expect(await router.setWeight(10, [])).toEqual({ ok: true });
      expect(attempts).toEqual(canaryIngresses.flatMap((name) => [`create ${name}`, `patch ${name}`]));
      for (const name of canaryIngresses)
        expect(
          ingress(store, name)?.metadata.annotations?.['nginx.ingress.kubernetes.io/canary-weight'],
        ).toBe('10');
    });
  });
});

describe("the guide's payment-service manifests", () => {
  const fixture = (file: string) =>
    readFileSync(new URL(`../../../fixtures/guides/${file}`, import.meta.url), 'utf8');
  const manifests = () =>
    parseAllDocuments(fixture('canary-services-ingress.yaml')).map((d) => d.toJS() as KubeObject);
  const CANARY = 'payment-service-rollout-payment-service-ingress-canary';

  it.each([10, 30, 60])('gives the expected canary Ingress at weight %i', async (weight) => {
    const store = createMemoryStore();
    for (const obj of manifests()) store.seed(obj);
    const ro = store.seed(parse(fixture('canary-nginx-rollout.yaml')) as Rollout);
    const router = nginxRouter({ store, rollout: ro, apiVersions: {} })!;
    // The steps in order: create at 10, then patch the weight to 30 and 60.
    for (const w of [10, 30, 60].filter((w) => w <= weight))
      expect(await router.setWeight(w, [])).toEqual({ ok: true });

    expect(userFields(store.get<Ingress>('Ingress', 'e-commerce', CANARY))).toEqual({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: {
        name: CANARY,
        namespace: 'e-commerce',
        annotations: {
          'kubernetes.io/ingress.class': 'nginx',
          'nginx.ingress.kubernetes.io/canary': 'true',
          'nginx.ingress.kubernetes.io/canary-weight': String(weight),
        },
        ownerReferences: [
          {
            apiVersion: 'argoproj.io/v1alpha1',
            kind: 'Rollout',
            name: 'payment-service-rollout',
            uid: ro.metadata.uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: {
        rules: [
          {
            host: 'payment.enterprise.com',
            http: {
              paths: [
                {
                  path: '/',
                  pathType: 'Prefix',
                  backend: { service: { name: 'payment-service-canary', port: { number: 80 } } },
                },
              ],
            },
          },
        ],
      },
    });
    // The stable Ingress is never written.
    expect(store.get<Ingress>('Ingress', 'e-commerce', 'payment-service-ingress')).toMatchObject(
      manifests().find((o) => o.kind === 'Ingress')!,
    );
    const events = store.list<KubeObject & { reason: string; message: string }>('Event', 'e-commerce');
    expect(events.map((e) => e.reason)).toContain('CreatingCanaryIngress');
    expect(events.find((e) => e.reason === 'CreatingCanaryIngress')?.message).toBe(
      `Creating canary ingress \`${CANARY}\` with weight \`10\``,
    );
  });

  it('is garbage-collected with the Rollout', async () => {
    const store = createMemoryStore();
    for (const obj of manifests()) store.seed(obj);
    const ro = store.seed(parse(fixture('canary-nginx-rollout.yaml')) as Rollout);
    await nginxRouter({ store, rollout: ro, apiVersions: {} })!.setWeight(10, []);
    await store.delete('Rollout', 'e-commerce', ro.metadata.name);
    expect(store.get('Ingress', 'e-commerce', CANARY)).toBeUndefined();
    expect(store.get('Ingress', 'e-commerce', 'payment-service-ingress')).toBeDefined();
  });
});

describe('NginxRouter beyond the ported cases', () => {
  it("keeps a user's extra annotation on the canary Ingress across weight changes", async () => {
    const ro = fakeRollout({ stableIngress: STABLE_INGRESS });
    const { store, router } = setup(ro, [plainIngress(STABLE_INGRESS, 80, STABLE_SERVICE)]);
    await router.setWeight(10, []);
    await store.patch('Ingress', NS, CANARY_INGRESS, {
      metadata: {
        annotations: { 'example.com/owner': 'payments', 'nginx.ingress.kubernetes.io/canary-weight': '99' },
      },
    });
    expect(await router.setWeight(30, [])).toEqual({ ok: true });
    expect(ingress(store, CANARY_INGRESS)?.metadata.annotations).toEqual({
      'example.com/owner': 'payments',
      'nginx.ingress.kubernetes.io/canary': 'true',
      'nginx.ingress.kubernetes.io/canary-weight': '30',
    });
  });

  it('writes a weight over maxTrafficWeight as given, with canary-weight-total (Argo does not clamp)', async () => {
    const ro = fakeRollout({ stableIngress: STABLE_INGRESS }, { maxTrafficWeight: 50 });
    const { store, router } = setup(ro, [plainIngress(STABLE_INGRESS, 80, STABLE_SERVICE)]);
    expect(await router.setWeight(80, [])).toEqual({ ok: true });
    expect(ingress(store, CANARY_INGRESS)?.metadata.annotations).toEqual({
      'nginx.ingress.kubernetes.io/canary': 'true',
      'nginx.ingress.kubernetes.io/canary-weight': '80',
      'nginx.ingress.kubernetes.io/canary-weight-total': '50',
    });
  });

  it('writes nothing when any stable Ingress lacks the stable Service, and names that Ingress', async () => {
    const ro = fakeRollout({ stableIngresses: [STABLE_INGRESS, 'admin-ingress'] });
    const { store, router } = setup(ro, [
      plainIngress(STABLE_INGRESS, 80, STABLE_SERVICE),
      plainIngress('admin-ingress', 80, 'admin-service'),
    ]);
    expect(await router.setWeight(10, [])).toEqual({
      ok: false,
      error: 'ingress `admin-ingress` has no rules using service stable-service backend',
    });
    expect(writes(store)).toEqual({});
    expect(ingress(store, CANARY_INGRESS)).toBeUndefined();
  });

  it('says so when the cluster does not serve the Ingress API', async () => {
    const { store, router } = setup(fakeRollout({ stableIngress: STABLE_INGRESS }), [], {
      unservedKinds: ['Ingress'],
    });
    expect(await router.setWeight(10, [])).toEqual({
      ok: false,
      error:
        'error retrieving stableIngress `stable-ingress` from cache: the server could not find the requested resource (the cluster does not serve networking.k8s.io/v1 Ingress)',
    });
    expect(writes(store)).toEqual({});
  });

  it('refuses the legacy extensions/v1beta1 Ingress API', async () => {
    const { router } = setup(fakeRollout({ stableIngress: STABLE_INGRESS }), [], {
      apiVersions: { Ingress: 'extensions/v1beta1' },
    });
    expect(await router.setWeight(10, [])).toEqual({
      ok: false,
      error:
        'Ingress API extensions/v1beta1 is not supported by the NGINX router (networking.k8s.io/v1 only)',
    });
  });

  it('reports a failed patch naming the canary Ingress', async () => {
    const ro = fakeRollout({ stableIngress: STABLE_INGRESS });
    const { store, router } = setup(ro, [plainIngress(STABLE_INGRESS, 80, STABLE_SERVICE)]);
    await router.setWeight(10, []);
    store.injectFaults((a) =>
      a.verb === 'patch' ? new StoreError('Forbidden', 403, 'ingresses is forbidden') : undefined,
    );
    expect(await router.setWeight(20, [])).toEqual({
      ok: false,
      error: 'error patching canary ingress `rollout-stable-ingress-canary`: ingresses is forbidden',
    });
  });

  it('answers the other verbs as Argo: no-ops and no verification (type Nginx)', async () => {
    const { store, router } = setup(fakeRollout({ stableIngress: STABLE_INGRESS }));
    expect(router).toBeInstanceOf(NginxRouter);
    expect(router.type).toBe('Nginx');
    expect(await router.updateHash('abc', 'def', [])).toEqual({ ok: true });
    expect(
      await router.setHeaderRoute({ name: 'h', match: [{ headerName: 'x', headerValue: { exact: 'y' } }] }),
    ).toEqual({ ok: true });
    expect(await router.setMirrorRoute({ name: 'm', percentage: 10 })).toEqual({ ok: true });
    expect(await router.verifyWeight(10, [])).toBeUndefined();
    expect(await router.removeManagedRoutes()).toEqual({ ok: true });
    expect(writes(store)).toEqual({});
  });
});

describe('nginxRouter', () => {
  const ctx = (ro: Rollout): RouterContext => ({ store: createMemoryStore(), rollout: ro, apiVersions: {} });

  it('is undefined for a Rollout without trafficRouting.nginx', () => {
    const ro = fakeRollout({});
    delete ro.spec.strategy.canary!.trafficRouting!.nginx;
    expect(nginxRouter(ctx(ro))).toBeUndefined();
  });

  it('answers every verb with the field error when the config is invalid', async () => {
    const router: TrafficRouter = nginxRouter(
      ctx(fakeRollout({ stableIngress: 'a', stableIngresses: ['b'] })),
    )!;
    const error = {
      ok: false,
      error:
        'spec.strategy.canary.trafficRouting.nginx: Either StableIngress or StableIngresses must be configured. Both are configured.',
    };
    expect(router.type).toBe('Nginx');
    expect(await router.setWeight(10, [])).toEqual(error);
    expect(await router.updateHash('a', 'b', [])).toEqual(error);
    expect(await router.setHeaderRoute({ name: 'h' })).toEqual(error);
    expect(await router.setMirrorRoute({ name: 'm' })).toEqual(error);
    expect(await router.removeManagedRoutes()).toEqual(error);
    expect(await router.verifyWeight(10, [])).toBeUndefined();
  });
});
