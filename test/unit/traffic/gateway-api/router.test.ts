// The Gateway API router against the in-memory store, ported from the plugin's pkg/plugin/plugin_test.go
// (argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi, its mocks' routes): weights on HTTPRoute,
// GRPCRoute and TCPRoute, several routes at once, header routes on HTTP and GRPC routes recorded in the
// plugin's ConfigMap and removed again; plus what Sluice adds: the native key, missing routes and CRDs,
// user fields surviving every write, idempotent header routes, experiment destinations and the
// refusal of setMirrorRoute.
import { describe, expect, it } from 'vitest';
import type { Rollout } from '../../../../src/api/rollout.ts';
import { createMemoryStore, type MemoryStore } from '../../../../src/store/memory.ts';
import { StoreError } from '../../../../src/store/object-store.ts';
import {
  GATEWAY_API_MIRROR_UNSUPPORTED,
  gatewayApiRouter,
} from '../../../../src/traffic/gateway-api/router.ts';
import type { RouteRule } from '../../../../src/traffic/gateway-api/rules.ts';

const NS = 'default';
const STABLE = 'argo-rollouts-stable-service';
const CANARY = 'argo-rollouts-canary-service';
const HTTP_ROUTE = 'argo-rollouts-http-route';
const GRPC_ROUTE = 'argo-rollouts-grpc-route';
const TCP_ROUTE = 'argo-rollouts-tcp-route';
const CONFIG_MAP = 'test-config';
const MANAGED = 'test-header-route';
const PLUGIN = 'argoproj-labs/gatewayAPI';

type Route = { metadata: { name: string; labels?: Record<string, string> }; spec: { rules: RouteRule[] } };

function newRollout(
  config: Record<string, unknown>,
  extra: { key?: string; maxTrafficWeight?: number; status?: Rollout['status'] } = {},
): Rollout {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'rollout', namespace: NS, uid: 'ro-uid' },
    spec: {
      selector: { matchLabels: { app: 'x' } },
      template: { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'a', image: 'a' }] } },
      strategy: {
        canary: {
          stableService: STABLE,
          canaryService: CANARY,
          trafficRouting: {
            managedRoutes: [{ name: MANAGED }],
            plugins: { [extra.key ?? PLUGIN]: config },
            ...(extra.maxTrafficWeight !== undefined ? { maxTrafficWeight: extra.maxTrafficWeight } : {}),
          },
        },
      },
    },
    ...(extra.status ? { status: extra.status } : {}),
  } as Rollout;
}

const backend = (name: string, weight = 0) => ({ name, port: 80, weight });

function httpRoute(rules?: RouteRule[]) {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: HTTP_ROUTE, namespace: NS },
    spec: {
      parentRefs: [{ name: 'gateway' }],
      rules: rules ?? [
        {
          backendRefs: [backend(STABLE), backend(CANARY)],
          matches: [{ path: { type: 'PathPrefix', value: '/' } }],
        },
      ],
    },
  };
}

function grpcRoute() {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'GRPCRoute',
    metadata: { name: GRPC_ROUTE, namespace: NS },
    spec: { rules: [{ backendRefs: [backend(STABLE), backend(CANARY)] }] },
  };
}

function tcpRoute() {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1alpha2',
    kind: 'TCPRoute',
    metadata: { name: TCP_ROUTE, namespace: NS },
    spec: { rules: [{ backendRefs: [backend(STABLE), backend(CANARY)] }] },
  };
}

function setup(options: { unserved?: boolean } = {}) {
  const store = createMemoryStore(options.unserved ? { unservedKinds: ['HTTPRoute'] } : {});
  store.seed(httpRoute() as never);
  store.seed(grpcRoute() as never);
  store.seed(tcpRoute() as never);
  store.seed({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: CONFIG_MAP, namespace: NS } } as never);
  return store;
}

function router(store: MemoryStore, ro: Rollout) {
  const r = gatewayApiRouter({ store, rollout: ro, apiVersions: {} });
  if (r === undefined) throw new Error('no router');
  return r;
}

const rulesOf = (store: MemoryStore, kind: 'HTTPRoute' | 'GRPCRoute' | 'TCPRoute', name: string) =>
  store.get<Route & { kind: string; apiVersion: string }>(kind, NS, name)!.spec.rules;

const record = (store: MemoryStore, key = 'httpManagedRoutes', name = CONFIG_MAP) =>
  JSON.parse(
    store.get<
      { data?: Record<string, string> } & { kind: string; apiVersion: string; metadata: { name: string } }
    >('ConfigMap', NS, name)?.data?.[key] ?? '{}',
  );

const headerStep = {
  name: MANAGED,
  match: [{ headerName: 'X-Test', headerValue: { prefix: 'test' } }],
};

describe('Gateway API router (argoproj-labs/gatewayAPI)', () => {
  it('is undefined without the plugin key; its type is the key used', () => {
    const store = setup();
    const ro = newRollout({ httpRoute: HTTP_ROUTE });
    ro.spec.strategy.canary!.trafficRouting!.plugins = {};
    expect(gatewayApiRouter({ store, rollout: ro, apiVersions: {} })).toBeUndefined();
    expect(router(store, newRollout({ httpRoute: HTTP_ROUTE })).type).toBe(PLUGIN);
    expect(router(store, newRollout({ httpRoute: HTTP_ROUTE }, { key: 'sluice/gateway-api' })).type).toBe(
      'sluice/gateway-api',
    );
  });

  it('SetHTTPRouteWeight: stable 100-w, canary w', async () => {
    const store = setup();
    const r = router(store, newRollout({ namespace: NS, httpRoute: HTTP_ROUTE, configMap: CONFIG_MAP }));
    expect(await r.setWeight(30, [])).toEqual({ ok: true });
    const rules = rulesOf(store, 'HTTPRoute', HTTP_ROUTE);
    expect(rules[0]!.backendRefs!.map((b) => b.weight)).toEqual([70, 30]);
  });

  it('SetGRPCRouteWeight', async () => {
    const store = setup();
    expect(await router(store, newRollout({ grpcRoute: GRPC_ROUTE })).setWeight(30, [])).toEqual({
      ok: true,
    });
    expect(rulesOf(store, 'GRPCRoute', GRPC_ROUTE)[0]!.backendRefs!.map((b) => b.weight)).toEqual([70, 30]);
  });

  it('SetTCPRouteWeight', async () => {
    const store = setup();
    expect(await router(store, newRollout({ tcpRoute: TCP_ROUTE })).setWeight(30, [])).toEqual({ ok: true });
    expect(rulesOf(store, 'TCPRoute', TCP_ROUTE)[0]!.backendRefs!.map((b) => b.weight)).toEqual([70, 30]);
  });

  it('SetWeightViaRoutes: every listed route', async () => {
    const store = setup();
    const ro = newRollout({
      httpRoutes: [{ name: HTTP_ROUTE, useHeaderRoutes: true }],
      tcpRoutes: [{ name: TCP_ROUTE, useHeaderRoutes: true }],
      configMap: CONFIG_MAP,
    });
    expect(await router(store, ro).setWeight(30, [])).toEqual({ ok: true });
    expect(rulesOf(store, 'HTTPRoute', HTTP_ROUTE)[0]!.backendRefs!.map((b) => b.weight)).toEqual([70, 30]);
    expect(rulesOf(store, 'TCPRoute', TCP_ROUTE)[0]!.backendRefs!.map((b) => b.weight)).toEqual([70, 30]);
  });

  it('sets the weights in every rule that names the Services, and writes nothing when they hold', async () => {
    const store = createMemoryStore();
    store.seed(
      httpRoute([
        {
          matches: [{ path: { type: 'PathPrefix', value: '/api' } }],
          backendRefs: [backend(STABLE), backend(CANARY)],
        },
        { matches: [{ path: { type: 'PathPrefix', value: '/static' } }], backendRefs: [backend('cdn', 1)] },
        {
          matches: [{ path: { type: 'PathPrefix', value: '/' } }],
          backendRefs: [backend(CANARY), backend(STABLE)],
        },
      ]) as never,
    );
    const r = router(store, newRollout({ httpRoute: HTTP_ROUTE }));
    expect(await r.setWeight(10, [])).toEqual({ ok: true });
    const rules = rulesOf(store, 'HTTPRoute', HTTP_ROUTE);
    expect(rules.map((rule) => rule.backendRefs!.map((b) => `${b.name}=${b.weight}`))).toEqual([
      [`${STABLE}=90`, `${CANARY}=10`],
      ['cdn=1'],
      [`${CANARY}=10`, `${STABLE}=90`],
    ]);
    const before = store.writes.get('update HTTPRoute');
    expect(await r.setWeight(10, [])).toEqual({ ok: true });
    expect(store.writes.get('update HTTPRoute')).toBe(before);
  });

  it('keeps maxTrafficWeight: stable gets max - w', async () => {
    const store = setup();
    const r = router(store, newRollout({ httpRoute: HTTP_ROUTE }, { maxTrafficWeight: 1000 }));
    expect(await r.setWeight(300, [])).toEqual({ ok: true });
    expect(rulesOf(store, 'HTTPRoute', HTTP_ROUTE)[0]!.backendRefs!.map((b) => b.weight)).toEqual([700, 300]);
  });

  it("keeps a user's other rules, matches, filters, timeouts, parentRefs and labels", async () => {
    const store = createMemoryStore();
    const userRules: RouteRule[] = [
      {
        matches: [{ path: { type: 'PathPrefix', value: '/' }, headers: [{ name: 'x-tenant', value: 'a' }] }],
        filters: [
          { type: 'RequestHeaderModifier', requestHeaderModifier: { add: [{ name: 'x-a', value: '1' }] } },
        ],
        timeouts: { request: '10s' },
        backendRefs: [{ ...backend(STABLE), filters: [{ type: 'ResponseHeaderModifier' }] }, backend(CANARY)],
      },
      { matches: [{ path: { type: 'Exact', value: '/health' } }], backendRefs: [backend('health', 1)] },
    ];
    const route = httpRoute(userRules);
    store.seed({ ...route, metadata: { ...route.metadata, labels: { team: 'shop' } } } as never);
    const r = router(store, newRollout({ httpRoute: HTTP_ROUTE, configMap: CONFIG_MAP }));
    expect(await r.setWeight(20, [])).toEqual({ ok: true });
    expect(await r.setHeaderRoute(headerStep)).toEqual({ ok: true });
    expect(await r.setWeight(40, [])).toEqual({ ok: true });
    const after = store.get<Route & { kind: string; apiVersion: string }>('HTTPRoute', NS, HTTP_ROUTE)!;
    expect(after.metadata.labels).toEqual({ team: 'shop' });
    expect((after.spec as unknown as { parentRefs: unknown }).parentRefs).toEqual([{ name: 'gateway' }]);
    const expected = structuredClone(userRules);
    expected[0]!.backendRefs![0]!.weight = 60;
    expected[0]!.backendRefs![1]!.weight = 40;
    expect(after.spec.rules.slice(0, 2)).toEqual(expected);
    expect(await r.removeManagedRoutes()).toEqual({ ok: true });
    expect(rulesOf(store, 'HTTPRoute', HTTP_ROUTE)).toEqual(expected);
  });

  it('SetHTTPHeaderRoute: a rule copying the matches, the header as a prefix regex, canary only; recorded in the ConfigMap', async () => {
    const store = setup();
    const r = router(store, newRollout({ namespace: NS, httpRoute: HTTP_ROUTE, configMap: CONFIG_MAP }));
    expect(await r.setHeaderRoute(headerStep)).toEqual({ ok: true });
    const rules = rulesOf(store, 'HTTPRoute', HTTP_ROUTE);
    expect(rules).toHaveLength(2);
    expect(rules[1]).toEqual({
      matches: [
        {
          path: { type: 'PathPrefix', value: '/' },
          headers: [{ name: 'X-Test', type: 'RegularExpression', value: 'test.*' }],
        },
      ],
      backendRefs: [{ group: '', kind: 'Service', name: CANARY, port: 80 }],
    });
    expect(record(store)).toEqual({ [MANAGED]: { [HTTP_ROUTE]: 1 } });
  });

  it('SetGRPCHeaderRoute: one match of headers when the rule has none', async () => {
    const store = setup();
    const r = router(store, newRollout({ namespace: NS, grpcRoute: GRPC_ROUTE, configMap: CONFIG_MAP }));
    expect(await r.setHeaderRoute(headerStep)).toEqual({ ok: true });
    const rules = rulesOf(store, 'GRPCRoute', GRPC_ROUTE);
    expect(rules[1]!.matches).toEqual([
      { headers: [{ name: 'X-Test', type: 'RegularExpression', value: 'test.*' }] },
    ]);
    expect(record(store, 'grpcManagedRoutes')).toEqual({ [MANAGED]: { [GRPC_ROUTE]: 1 } });
  });

  it('RemoveHTTPManagedRoutes and RemoveGRPCManagedRoutes: back to one rule, the record emptied', async () => {
    const store = setup();
    const ro = newRollout({ httpRoute: HTTP_ROUTE, grpcRoute: GRPC_ROUTE, configMap: CONFIG_MAP });
    const r = router(store, ro);
    expect(await r.setHeaderRoute(headerStep)).toEqual({ ok: true });
    expect(rulesOf(store, 'HTTPRoute', HTTP_ROUTE)).toHaveLength(2);
    expect(rulesOf(store, 'GRPCRoute', GRPC_ROUTE)).toHaveLength(2);
    expect(await r.removeManagedRoutes()).toEqual({ ok: true });
    expect(rulesOf(store, 'HTTPRoute', HTTP_ROUTE)).toHaveLength(1);
    expect(rulesOf(store, 'GRPCRoute', GRPC_ROUTE)).toHaveLength(1);
    expect(record(store)).toEqual({});
    expect(record(store, 'grpcManagedRoutes')).toEqual({});
  });

  it('a setHeaderRoute step without matches removes that header route', async () => {
    const store = setup();
    const r = router(store, newRollout({ httpRoute: HTTP_ROUTE, configMap: CONFIG_MAP }));
    await r.setHeaderRoute(headerStep);
    expect(await r.setHeaderRoute({ name: MANAGED })).toEqual({ ok: true });
    expect(rulesOf(store, 'HTTPRoute', HTTP_ROUTE)).toHaveLength(1);
    expect(record(store)).toEqual({});
  });

  it('a GRPCRoute header step without matches removes the gRPC rule (the plugin removes from HTTPRoutes)', async () => {
    const store = setup();
    const r = router(store, newRollout({ grpcRoute: GRPC_ROUTE, configMap: CONFIG_MAP }));
    await r.setHeaderRoute(headerStep);
    expect(rulesOf(store, 'GRPCRoute', GRPC_ROUTE)).toHaveLength(2);
    expect(await r.setHeaderRoute({ name: MANAGED })).toEqual({ ok: true });
    expect(rulesOf(store, 'GRPCRoute', GRPC_ROUTE)).toHaveLength(1);
    expect(record(store, 'grpcManagedRoutes')).toEqual({});
  });

  it('repeating a header step replaces its rule instead of adding another', async () => {
    const store = setup();
    const r = router(store, newRollout({ httpRoute: HTTP_ROUTE, configMap: CONFIG_MAP }));
    await r.setHeaderRoute(headerStep);
    await r.setHeaderRoute(headerStep);
    expect(rulesOf(store, 'HTTPRoute', HTTP_ROUTE)).toHaveLength(2);
    await r.setHeaderRoute({
      name: MANAGED,
      match: [{ headerName: 'X-Test', headerValue: { exact: 'yes' } }],
    });
    const rules = rulesOf(store, 'HTTPRoute', HTTP_ROUTE);
    expect(rules).toHaveLength(2);
    expect(rules[1]!.matches![0]!.headers).toEqual([{ name: 'X-Test', type: 'Exact', value: 'yes' }]);
  });

  it('two header routes: removing the first shifts the recorded index of the second', async () => {
    const store = setup();
    const ro = newRollout({ httpRoute: HTTP_ROUTE, configMap: CONFIG_MAP });
    ro.spec.strategy.canary!.trafficRouting!.managedRoutes = [{ name: 'first' }, { name: 'second' }];
    const r = router(store, ro);
    await r.setHeaderRoute({ name: 'first', match: [{ headerName: 'a', headerValue: { exact: '1' } }] });
    await r.setHeaderRoute({ name: 'second', match: [{ headerName: 'b', headerValue: { regex: '2+' } }] });
    expect(record(store)).toEqual({ first: { [HTTP_ROUTE]: 1 }, second: { [HTTP_ROUTE]: 2 } });
    await r.setHeaderRoute({ name: 'first' });
    expect(record(store)).toEqual({ second: { [HTTP_ROUTE]: 1 } });
    const rules = rulesOf(store, 'HTTPRoute', HTTP_ROUTE);
    expect(rules[1]!.matches![0]!.headers).toEqual([{ name: 'b', type: 'RegularExpression', value: '2+' }]);
  });

  it('leaves the header rules out of the weights', async () => {
    const store = setup();
    const r = router(store, newRollout({ httpRoute: HTTP_ROUTE, configMap: CONFIG_MAP }));
    await r.setHeaderRoute(headerStep);
    expect(await r.setWeight(25, [])).toEqual({ ok: true });
    const rules = rulesOf(store, 'HTTPRoute', HTTP_ROUTE);
    expect(rules[0]!.backendRefs!.map((b) => b.weight)).toEqual([75, 25]);
    expect(rules[1]!.backendRefs).toEqual([{ group: '', kind: 'Service', name: CANARY, port: 80 }]);
  });

  it('creates the default ConfigMap argo-gatewayapi-configmap when absent', async () => {
    const store = setup();
    const r = router(store, newRollout({ httpRoute: HTTP_ROUTE }));
    expect(await r.setHeaderRoute(headerStep)).toEqual({ ok: true });
    expect(record(store, 'httpManagedRoutes', 'argo-gatewayapi-configmap')).toEqual({
      [MANAGED]: { [HTTP_ROUTE]: 1 },
    });
  });

  it('skips header routes on routes without useHeaderRoutes, and TCPRoutes', async () => {
    const store = setup();
    const r = router(store, newRollout({ httpRoutes: [{ name: HTTP_ROUTE }], tcpRoute: TCP_ROUTE }));
    expect(await r.setHeaderRoute(headerStep)).toEqual({ ok: true });
    expect(rulesOf(store, 'HTTPRoute', HTTP_ROUTE)).toHaveLength(1);
    expect(rulesOf(store, 'TCPRoute', TCP_ROUTE)).toHaveLength(1);
  });

  it('refuses a header match without a value type (the plugin: invalid header match type)', async () => {
    const store = setup();
    const r = router(store, newRollout({ httpRoute: HTTP_ROUTE }));
    expect(await r.setHeaderRoute({ name: MANAGED, match: [{ headerName: 'x', headerValue: {} }] })).toEqual({
      ok: false,
      error: 'invalid header match type',
    });
  });

  it('never deletes a rule the record points at when it is no longer a header rule', async () => {
    const store = setup();
    const r = router(store, newRollout({ httpRoute: HTTP_ROUTE, configMap: CONFIG_MAP }));
    await r.setHeaderRoute(headerStep);
    // A user replaced the managed rule by one of their own.
    const route = store.get<Route & { kind: string; apiVersion: string }>('HTTPRoute', NS, HTTP_ROUTE)!;
    const edited = structuredClone(route);
    edited.spec.rules[1] = { backendRefs: [backend('other', 1)] };
    await store.update(edited);
    expect(await r.removeManagedRoutes()).toEqual({ ok: true });
    expect(rulesOf(store, 'HTTPRoute', HTTP_ROUTE)).toHaveLength(2);
    expect(record(store)).toEqual({});
  });

  it('says which HTTPRoute is missing', async () => {
    const store = setup();
    const r = router(store, newRollout({ httpRoute: 'nope' }));
    const result = await r.setWeight(10, []);
    expect(result).toEqual({
      ok: false,
      error: `HTTPRoute "default/nope" not found (named by spec.strategy.canary.trafficRouting.plugins.${PLUGIN})`,
    });
  });

  it('says the CRD is missing when the cluster does not serve HTTPRoute', async () => {
    const store = setup({ unserved: true });
    const result = await router(store, newRollout({ httpRoute: HTTP_ROUTE })).setWeight(10, []);
    expect(result).toMatchObject({
      ok: false,
      error: expect.stringContaining('HTTPRoute gateway.networking.k8s.io/v1 is not served by the cluster'),
    });
  });

  it('names the served version the cluster lacks (GRPCRoute v1alpha2 here)', async () => {
    const store = createMemoryStore({ unservedKinds: ['GRPCRoute'] });
    const r = gatewayApiRouter({
      store,
      rollout: newRollout({ grpcRoute: GRPC_ROUTE }),
      apiVersions: { GRPCRoute: 'gateway.networking.k8s.io/v1alpha2' },
    })!;
    expect(await r.setWeight(10, [])).toMatchObject({
      ok: false,
      error: expect.stringContaining(
        'GRPCRoute gateway.networking.k8s.io/v1alpha2 is not served by the cluster',
      ),
    });
  });

  it('says when the canary or stable Service is in no rule', async () => {
    const store = createMemoryStore();
    store.seed(httpRoute([{ backendRefs: [backend(STABLE)] }]) as never);
    const r = router(store, newRollout({ httpRoute: HTTP_ROUTE }));
    expect(await r.setWeight(10, [])).toMatchObject({
      ok: false,
      error: expect.stringContaining(`backendRef was not found in httpRoute`),
    });
    expect(await r.setHeaderRoute(headerStep)).toMatchObject({
      ok: false,
      error: expect.stringContaining(CANARY),
    });
  });

  it('reports a Conflict from a stale write as an error, never a throw', async () => {
    const store = setup();
    store.injectFaults((a) =>
      a.verb === 'update' && a.kind === 'HTTPRoute' ? new StoreError('Conflict', 409, 'modified') : undefined,
    );
    const result = await router(store, newRollout({ httpRoute: HTTP_ROUTE })).setWeight(10, []);
    expect(result).toEqual({ ok: false, error: 'Conflict: modified' });
  });

  it('puts the route back when the ConfigMap cannot be written', async () => {
    const store = setup();
    store.injectFaults((a) => (a.kind === 'ConfigMap' ? new StoreError('Forbidden', 403, 'no') : undefined));
    const r = router(store, newRollout({ httpRoute: HTTP_ROUTE, configMap: CONFIG_MAP }));
    expect(await r.setHeaderRoute(headerStep)).toEqual({ ok: false, error: 'Forbidden: no' });
    expect(rulesOf(store, 'HTTPRoute', HTTP_ROUTE)).toHaveLength(1);
  });

  it('routes experiment destinations in the canary rule and drops those of a finished experiment', async () => {
    const store = setup();
    const additional = [{ serviceName: 'exp-svc', podTemplateHash: 'e', weight: 10 }];
    const r = router(store, newRollout({ httpRoute: HTTP_ROUTE }));
    expect(await r.setWeight(20, additional)).toEqual({ ok: true });
    expect(rulesOf(store, 'HTTPRoute', HTTP_ROUTE)[0]!.backendRefs).toEqual([
      backend(STABLE, 70),
      backend(CANARY, 20),
      backend('exp-svc', 10),
    ]);
    const later = newRollout(
      { httpRoute: HTTP_ROUTE },
      {
        status: {
          canary: {
            weights: {
              canary: { weight: 20, serviceName: CANARY },
              stable: { weight: 70, serviceName: STABLE },
              additional: [{ weight: 10, serviceName: 'exp-svc' }],
            },
          },
        } as Rollout['status'],
      },
    );
    expect(await router(store, later).setWeight(20, [])).toEqual({ ok: true });
    expect(rulesOf(store, 'HTTPRoute', HTTP_ROUTE)[0]!.backendRefs).toEqual([
      backend(STABLE, 80),
      backend(CANARY, 20),
    ]);
  });

  it('refuses setMirrorRoute with a clear message', async () => {
    const store = setup();
    expect(
      await router(store, newRollout({ httpRoute: HTTP_ROUTE })).setMirrorRoute({ name: 'm', percentage: 5 }),
    ).toEqual({
      ok: false,
      error: GATEWAY_API_MIRROR_UNSUPPORTED,
    });
  });

  it('cannot verify weights and has nothing to do on a new hash', async () => {
    const store = setup();
    const r = router(store, newRollout({ httpRoute: HTTP_ROUTE }));
    expect(await r.verifyWeight(10, [])).toBeUndefined();
    expect(await r.updateHash('a', 'b', [])).toEqual({ ok: true });
  });

  it('answers every verb with the field error when the config is invalid', async () => {
    const store = setup();
    const r = router(store, newRollout({ httpRoutes: [{ nme: 'x' }] }, { key: 'sluice/gateway-api' }));
    const error =
      'spec.strategy.canary.trafficRouting.plugins.sluice/gateway-api.httpRoutes[0].nme: unknown field (known: name, useHeaderRoutes)';
    expect(r.type).toBe('sluice/gateway-api');
    expect(await r.setWeight(10, [])).toEqual({ ok: false, error });
    expect(await r.setHeaderRoute(headerStep)).toEqual({ ok: false, error });
    expect(await r.removeManagedRoutes()).toEqual({ ok: false, error });
    // setWeight already failed and holds the step; verification has nothing to say (Argo's nil).
    expect(await r.verifyWeight(10, [])).toBeUndefined();
    const ro = newRollout({ httpRoute: HTTP_ROUTE }, { key: 'sluice/gateway-api' });
    ro.spec.strategy.canary!.canaryService = '';
    const missing = router(store, ro);
    expect(missing.type).toBe('sluice/gateway-api');
    expect(await missing.setWeight(10, [])).toMatchObject({
      ok: false,
      error: expect.stringContaining('spec.strategy.canary.canaryService: required'),
    });
  });
});
