// The Istio router against the in-memory store: Argo's istio_test.go cases (same VirtualService and
// DestinationRule YAML, same resulting objects), plus the promises Sluice adds: a user's fields survive,
// nothing is written when nothing changed or when one VirtualService is invalid, failures are results.
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../../src/api/meta.ts';
import { StoreError } from '../../../../src/store/object-store.ts';
import { IstioRouter, istioRouter } from '../../../../src/traffic/istio/router.ts';
import {
  hostRollout,
  type Json,
  named,
  regularMixedVsvc,
  regularTcpVsvc,
  regularTlsVsvc,
  regularVsvc,
  regularVsvcWithExtra,
  rollout,
  routes,
  setup,
  singleRouteMixedVsvc,
  singleRouteSubsetVsvc,
  singleRouteTcpVsvc,
  singleRouteTlsVsvc,
  singleRouteVsvc,
  subsetDestinationRule,
  subsetRollout,
  weightOf,
  yaml,
} from './fixtures.ts';

const HEADER_ROUTE = 'test-header-route';

describe('Istio router: setWeight', () => {
  it('updates the VirtualService once (TestReconcileUpdateVirtualService, TLS and TCP variants)', async () => {
    for (const [text, vs] of [
      [regularVsvc, { name: 'vsvc', routes: ['primary'] }],
      [regularTlsVsvc, { name: 'vsvc', tlsRoutes: [{ port: 3000 }] }],
      [regularTcpVsvc, { name: 'vsvc', tcpRoutes: [{ port: 3000 }] }],
    ] as const) {
      const s = setup(hostRollout(vs), [text]);
      expect(await s.router.setWeight(10, [])).toEqual({ ok: true });
      expect(s.updates()).toBe(1);
    }
  });

  it('writes nothing when the weights are already right (TestReconcileNoChanges, TLS, TCP)', async () => {
    for (const [text, vs] of [
      [regularVsvc, { name: 'vsvc', routes: ['primary'] }],
      [regularTlsVsvc, { name: 'vsvc', tlsRoutes: [{ port: 3001 }] }],
      [regularTcpVsvc, { name: 'vsvc', tcpRoutes: [{ port: 3001 }] }],
    ] as const) {
      const s = setup(hostRollout(vs), [text]);
      const before = await s.vs();
      expect(await s.router.setWeight(0, [])).toEqual({ ok: true });
      expect(s.updates()).toBe(0);
      expect((await s.vs()).metadata).toEqual(before.metadata);
    }
  });

  it('weights http, tls and tcp routes together (TestReconcileWeightsBaseCase)', async () => {
    const s = setup(
      hostRollout({
        name: 'vsvc',
        routes: ['primary'],
        tlsRoutes: [{ port: 3000 }],
        tcpRoutes: [{ port: 3000 }],
      }),
      [regularMixedVsvc],
    );
    expect(await s.router.setWeight(20, [])).toEqual({ ok: true });
    const vs = await s.vs();
    const [http0, http1] = routes(vs, 'http');
    expect([weightOf(http0!, 'canary'), weightOf(http0!, 'stable')]).toEqual([20, 80]);
    expect([weightOf(http1!, 'canary'), weightOf(http1!, 'stable')]).toEqual([0, 100]);
    for (const kind of ['tls', 'tcp'] as const) {
      const [r0, r1] = routes(vs, kind);
      expect([weightOf(r0!, 'canary'), weightOf(r0!, 'stable')]).toEqual([20, 80]);
      expect([weightOf(r1!, 'canary'), weightOf(r1!, 'stable')]).toEqual([0, 100]);
    }
  });

  it('infers the only route of each kind when none is named (TestReconcileInferredSingleRoute)', async () => {
    for (const text of [singleRouteVsvc, singleRouteTlsVsvc, singleRouteTcpVsvc, singleRouteMixedVsvc]) {
      const s = setup(hostRollout({ name: 'vsvc' }), [text]);
      expect(await s.router.setWeight(10, [])).toEqual({ ok: true });
      expect(s.updates()).toBe(1);
      const vs = await s.vs();
      for (const kind of ['http', 'tls', 'tcp'] as const) {
        for (const r of routes(vs, kind))
          expect([weightOf(r, 'stable'), weightOf(r, 'canary')]).toEqual([90, 10]);
      }
    }
  });

  it('refuses an unknown route name with Argo’s message and writes nothing (TestReconcileInvalidValidation)', async () => {
    const s = setup(hostRollout({ name: 'vsvc', routes: ['route-not-found'] }), [regularVsvc]);
    const r = await s.router.setWeight(10, []);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toBe(
      'spec.strategy.canary.trafficRouting.istio.virtualService.name: Invalid value: "vsvc": Istio VirtualService has invalid HTTP routes. Error: HTTP Route \'route-not-found\' is not found in the defined Virtual Service.',
    );
    expect(s.updates()).toBe(0);
  });

  it('refuses tls and tcp ports no route matches (TestTlsReconcileInvalidValidation, TCP)', async () => {
    const tls = setup(hostRollout({ name: 'vsvc', tlsRoutes: [{ port: 1001 }] }), [regularTlsVsvc]);
    expect(await tls.router.setWeight(0, [])).toMatchObject({
      ok: false,
      error: expect.stringContaining('No matching TLS routes found in the defined Virtual Service.'),
    });
    const tcp = setup(hostRollout({ name: 'vsvc', tcpRoutes: [{ port: 1001 }] }), [regularTcpVsvc]);
    expect(await tcp.router.setWeight(0, [])).toMatchObject({
      ok: false,
      error: expect.stringContaining('No matching TCP routes found in the defined Virtual Service.'),
    });
  });

  it('refuses ambiguous routes when none is named (TestReconcileAmbiguousRoutes, TLS, TCP)', async () => {
    for (const [text, kind, field] of [
      [regularVsvc, 'http', 'routes'],
      [regularTlsVsvc, 'tls', 'tlsRoutes'],
      [regularTcpVsvc, 'tcp', 'tcpRoutes'],
    ] as const) {
      const s = setup(hostRollout({ name: 'vsvc' }), [text]);
      const r = await s.router.setWeight(0, []);
      expect(r).toMatchObject({
        ok: false,
        error: expect.stringContaining(
          `spec.${kind}[] should be set in VirtualService and it must have exactly one route when omitting spec.strategy.canary.trafficRouting.istio.virtualService.${field}`,
        ),
      });
    }
  });

  it('says the VirtualService is not found (TestReconcileVirtualServiceNotFound)', async () => {
    const s = setup(hostRollout({ name: 'vsvc', routes: ['primary'] }), []);
    expect(await s.router.setWeight(10, [])).toEqual({
      ok: false,
      error: 'virtualservices.networking.istio.io "vsvc" not found',
    });
  });

  it('reports a cluster without the Istio CRDs as a failed verb, never a throw', async () => {
    const s = setup(hostRollout({ name: 'vsvc', routes: ['primary'] }), [], {
      unservedKinds: ['VirtualService', 'DestinationRule'],
    });
    for (const r of [
      await s.router.setWeight(10, []),
      await s.router.setHeaderRoute({ name: 'h', match: [{ headerName: 'a', headerValue: { exact: 'b' } }] }),
      await s.router.setMirrorRoute({ name: 'm', match: [{ method: { exact: 'GET' } }] }),
      await s.router.removeManagedRoutes(),
    ]) {
      expect(r).toEqual({
        ok: false,
        error: expect.stringContaining('the server could not find the requested resource'),
      });
    }
    const dr = setup(subsetRollout(), [], { unservedKinds: ['DestinationRule'] });
    expect(await dr.router.updateHash('a', 'b', [])).toEqual({
      ok: false,
      error: 'the server could not find the requested resource',
    });
  });

  it('adds, reweighs and removes an experiment Service destination (TestHostSplitExperimentStep)', async () => {
    const s = setup(hostRollout({ name: 'vsvc', routes: ['primary'] }), [regularVsvc]);
    const exp = { serviceName: 'exp-svc', podTemplateHash: '', weight: 20 };
    await s.router.setWeight(10, [exp]);
    let primary = routes(await s.vs())[0]!;
    expect([weightOf(primary, 'stable'), weightOf(primary, 'canary'), weightOf(primary, 'exp-svc')]).toEqual([
      70, 10, 20,
    ]);
    expect(primary.route?.[2]).toEqual({ destination: { host: 'exp-svc' }, weight: 20 });
    await s.router.setWeight(10, [{ ...exp, weight: 10 }]);
    primary = routes(await s.vs())[0]!;
    expect([weightOf(primary, 'stable'), weightOf(primary, 'exp-svc')]).toEqual([80, 10]);
    await s.router.setWeight(10, []);
    primary = routes(await s.vs())[0]!;
    expect(primary.route?.map((d) => d.destination.host)).toEqual(['stable', 'canary']);
    expect([weightOf(primary, 'stable'), weightOf(primary, 'canary')]).toEqual([90, 10]);
    expect(s.updates()).toBe(3); // TestReconcileVirtualServiceExperimentStep: one update per change
  });

  it('keeps a user’s retries, timeouts, fault, headers and other routes through weight changes', async () => {
    const text = `${regularVsvcWithExtra}  - name: other
    timeout: 5s
    fault:
      delay: { percentage: { value: 0.1 }, fixedDelay: 5s }
    headers:
      request: { set: { x-env: prod } }
    route:
    - destination: { host: legacy }
`;
    const original = yaml(text);
    const s = setup(hostRollout({ name: 'vsvc', routes: ['primary'] }), [original]);
    for (const w of [10, 50, 100, 0]) expect(await s.router.setWeight(w, [])).toEqual({ ok: true });
    const vs = await s.vs();
    const expected = structuredClone(original) as Json;
    // Only primary's two weights are Argo's; after the round trip to 0 they are back where they were.
    expect(vs.spec).toEqual(expected.spec);
    await s.router.setWeight(30, []);
    const after = routes(await s.vs());
    const before = routes(expected);
    expect(after[0]).toEqual({
      ...before[0],
      route: [
        { destination: { host: 'stable', port: { number: 8443 } }, weight: 70 },
        { destination: { host: 'canary', port: { number: 8443 } }, weight: 30 },
      ],
    });
    expect(after.slice(1)).toEqual(before.slice(1));
    expect(((await s.vs()).spec as Json).gateways).toEqual(['istio-rollout-gateway']);
  });

  it('weights every VirtualService of virtualServices[] (TestMultipleVirtualServiceReconcileUpdateVirtualServices)', async () => {
    const vs2 = `${named(singleRouteVsvc, 'vsvc2')}`.replace(
      '  - route:',
      '  - name: blue-green\n    route:',
    );
    const ro = rollout({
      stableService: 'stable',
      canaryService: 'canary',
      istio: {
        virtualServices: [
          { name: 'vsvc1', routes: ['primary', 'secondary'] },
          { name: 'vsvc2', routes: ['blue-green'] },
        ],
      },
    });
    const s = setup(ro, [named(regularVsvc, 'vsvc1'), vs2]);
    expect(await s.router.setWeight(0, [])).toEqual({ ok: true });
    expect(s.updates()).toBe(0);
    expect(await s.router.setWeight(10, [])).toEqual({ ok: true });
    expect(s.updates()).toBe(2);
    for (const r of routes(await s.vs('vsvc1'))) expect(weightOf(r, 'canary')).toBe(10);
    expect(weightOf(routes(await s.vs('vsvc2'))[0]!, 'canary')).toBe(10);
  });

  it('writes no VirtualService when one of several is invalid or missing', async () => {
    const ro = rollout({
      stableService: 'stable',
      canaryService: 'canary',
      istio: {
        virtualServices: [
          { name: 'vsvc1', routes: ['primary'] },
          { name: 'vsvc2', routes: ['route-not-found'] },
        ],
      },
    });
    const s = setup(ro, [named(regularVsvc, 'vsvc1'), named(regularVsvc, 'vsvc2')]);
    const r = await s.router.setWeight(10, []);
    expect(r).toMatchObject({
      ok: false,
      error: expect.stringMatching(
        /^spec\.strategy\.canary\.trafficRouting\.istio\.virtualServices\[1\]\.name: Invalid value: "vsvc2": .*HTTP Route 'route-not-found' is not found/,
      ),
    });
    expect(s.updates()).toBe(0);
    const missing = setup(ro, [named(regularVsvc, 'vsvc1')]);
    expect(await missing.router.setWeight(10, [])).toEqual({
      ok: false,
      error: 'virtualservices.networking.istio.io "vsvc2" not found',
    });
    expect(missing.updates()).toBe(0);
  });

  it('reads a VirtualService named name.namespace in that namespace', async () => {
    const other = named(regularVsvc, 'shared').replace('namespace: default', 'namespace: mesh');
    const s = setup(hostRollout({ name: 'shared.mesh', routes: ['primary'] }), [other]);
    expect(await s.router.setWeight(25, [])).toEqual({ ok: true });
    expect(weightOf(routes(await s.vs('shared', 'mesh'))[0]!, 'canary')).toBe(25);
  });

  it('matches hosts by their first DNS label (TestValidateHosts)', async () => {
    const text = regularVsvc.replaceAll("host: 'stable'", 'host: stable.default.svc.cluster.local');
    const s = setup(hostRollout({ name: 'vsvc', routes: ['primary'] }), [text]);
    expect(await s.router.setWeight(40, [])).toEqual({ ok: true });
    expect(weightOf(routes(await s.vs())[0]!, 'stable.default.svc.cluster.local')).toBe(60);
  });

  it('refuses a route without the canary or stable Service (validateVirtualServiceRouteDestinations)', async () => {
    const s = setup(
      rollout({
        stableService: 'not-found-stable',
        canaryService: 'canary',
        istio: { virtualService: { name: 'vsvc', routes: ['primary'] } },
      }),
      [regularVsvc],
    );
    expect(await s.router.setWeight(10, [])).toMatchObject({
      ok: false,
      error: expect.stringContaining("Error: Stable Service 'not-found-stable' not found in route"),
    });
  });

  it('records Argo’s events on the Rollout', async () => {
    const s = setup(hostRollout({ name: 'vsvc', routes: ['primary'] }), [regularVsvc]);
    await s.router.setWeight(10, []);
    const missing = setup(hostRollout({ name: 'gone', routes: ['primary'] }), []);
    await missing.router.setWeight(10, []);
    const events = [...s.store.list('Event'), ...missing.store.list('Event')] as unknown as Json[];
    expect(events.map((e) => [e.reason, e.message])).toEqual([
      ['Updated VirtualService', "VirtualService `vsvc` set to desiredWeight '10'"],
      ['VirtualServiceNotFound', 'VirtualService `gone` not found'],
    ]);
  });

  it('retries on a Conflict with a fresh read', async () => {
    const s = setup(hostRollout({ name: 'vsvc', routes: ['primary'] }), [regularVsvc]);
    let conflicts = 1;
    s.store.injectFaults((a) =>
      a.verb === 'update' && a.kind === 'VirtualService' && conflicts-- > 0
        ? new StoreError('Conflict', 409, 'the object has been modified')
        : undefined,
    );
    expect(await s.router.setWeight(10, [])).toEqual({ ok: true });
    expect(weightOf(routes(await s.vs())[0]!, 'canary')).toBe(10);
  });

  it('answers undefined to verifyWeight (Argo: VerifyWeight unsupported)', async () => {
    const s = setup(hostRollout({ name: 'vsvc', routes: ['primary'] }), [regularVsvc]);
    expect(await s.router.verifyWeight(10, [])).toBeUndefined();
    expect(s.router.type).toBe('Istio');
    expect(s.router).toBeInstanceOf(IstioRouter);
  });
});

describe('Istio router: header routes', () => {
  it('adds a header route above the others, 100% to the canary, and removes it (TestHttpReconcileHeaderRouteHostBased)', async () => {
    const s = setup(hostRollout({ name: 'vsvc', routes: ['primary'] }, [HEADER_ROUTE]), [regularVsvc]);
    const r = await s.router.setHeaderRoute({
      name: HEADER_ROUTE,
      match: [{ headerName: 'agent', headerValue: { exact: 'firefox' } }],
    });
    expect(r).toEqual({ ok: true });
    let http = routes(await s.vs());
    expect(http.map((x) => x.name)).toEqual([HEADER_ROUTE, 'primary', 'secondary']);
    expect(http[0]).toEqual({
      name: HEADER_ROUTE,
      match: [{ headers: { agent: { exact: 'firefox' } } }],
      route: [{ destination: { host: 'canary' }, weight: 100 }],
    });
    expect(weightOf(http[1]!, 'stable')).toBe(100);
    expect(await s.router.setHeaderRoute({ name: HEADER_ROUTE })).toEqual({ ok: true });
    http = routes(await s.vs());
    expect(http.map((x) => x.name)).toEqual(['primary', 'secondary']);
  });

  it('sends header traffic to the DestinationRule host and canary subset (TestHttpReconcileHeaderRouteSubsetBased)', async () => {
    const s = setup(subsetRollout([HEADER_ROUTE]), [singleRouteSubsetVsvc, subsetDestinationRule]);
    const r = await s.router.setHeaderRoute({
      name: HEADER_ROUTE,
      match: [{ headerName: 'agent', headerValue: { regex: 'firefox' } }],
    });
    expect(r).toEqual({ ok: true });
    const http = routes(await s.vs());
    expect(http[0]?.name).toBe(HEADER_ROUTE);
    expect(http[0]?.route?.[0]?.destination).toEqual({ host: 'rollout-service', subset: 'canary-subset' });
    expect(http[0]?.match).toEqual([{ headers: { agent: { regex: 'firefox' } } }]);
  });

  it('copies the weighted route’s port and keeps the user’s other fields (TestHttpReconcileHeaderRouteWithExtra)', async () => {
    const original = yaml(regularVsvcWithExtra);
    const s = setup(hostRollout({ name: 'vsvc', routes: ['primary'] }, [HEADER_ROUTE]), [original]);
    await s.router.setHeaderRoute({
      name: HEADER_ROUTE,
      match: [{ headerName: 'agent', headerValue: { exact: 'firefox' } }],
    });
    const http = routes(await s.vs());
    expect(http[0]?.route).toEqual([
      { destination: { host: 'canary', port: { number: 8443 } }, weight: 100 },
    ]);
    expect(http.slice(1)).toEqual(routes(original));
    expect(await s.router.removeManagedRoutes()).toEqual({ ok: true });
    expect((await s.vs()).spec).toEqual(original.spec);
  });

  it('writes once and never duplicates a header route (TestReconcileUpdateHeader, TestReconcileHeaderRouteAvoidDuplicates)', async () => {
    const s = setup(hostRollout({ name: 'vsvc', routes: ['primary'] }, [HEADER_ROUTE]), [regularVsvc]);
    const route = {
      name: HEADER_ROUTE,
      match: [{ headerName: 'browser', headerValue: { prefix: 'Firefox' } }],
    };
    await s.router.setHeaderRoute(route);
    expect(s.updates()).toBe(1);
    await s.router.setHeaderRoute(route);
    expect(s.updates()).toBe(1);
    expect(routes(await s.vs()).filter((r) => r.name === HEADER_ROUTE)).toHaveLength(1);
  });

  it('fails on a VirtualService without spec.http (Argo: spec.http not found)', async () => {
    const s = setup(hostRollout({ name: 'vsvc', tlsRoutes: [{ port: 3000 }] }, [HEADER_ROUTE]), [
      singleRouteTlsVsvc,
    ]);
    expect(
      await s.router.setHeaderRoute({
        name: HEADER_ROUTE,
        match: [{ headerName: 'a', headerValue: { exact: 'b' } }],
      }),
    ).toEqual({
      ok: false,
      error: '[SetHeaderRoute] failed to reconcile header routes: spec.http not found',
    });
  });
});

describe('Istio router: mirror routes', () => {
  const get = { name: 'test-mirror-1', match: [{ method: { exact: 'GET' } }] };

  it('prepends a mirror route carrying the weights and removes it (TestHttpReconcileMirrorRoute)', async () => {
    const s = setup(hostRollout({ name: 'vsvc', routes: ['primary'] }, ['test-mirror-1', 'test-mirror-2']), [
      regularVsvc,
    ]);
    expect(await s.router.setMirrorRoute(get)).toEqual({ ok: true });
    let http = routes(await s.vs());
    expect(http).toHaveLength(3);
    expect(http[0]).toEqual({
      name: 'test-mirror-1',
      match: [{ method: { exact: 'GET' } }],
      route: [{ destination: { host: 'stable' }, weight: 100 }, { destination: { host: 'canary' } }],
      mirror: { host: 'canary' },
      mirrorPercentage: { value: 100 },
    });
    expect(http.map((r) => r.name)).toEqual(['test-mirror-1', 'primary', 'secondary']);
    expect(await s.router.setMirrorRoute({ name: 'test-mirror-1' })).toEqual({ ok: true });
    expect(routes(await s.vs()).map((r) => r.name)).toEqual(['primary', 'secondary']);
    await s.router.setMirrorRoute(get);
    await s.router.setMirrorRoute({
      name: 'test-mirror-2',
      match: [{ method: { exact: 'GET' } }],
      percentage: 90,
    });
    http = routes(await s.vs());
    expect(http).toHaveLength(4);
    expect(http[1]?.mirrorPercentage).toEqual({ value: 90 });
    await s.router.removeManagedRoutes();
    expect(routes(await s.vs()).map((r) => r.name)).toEqual(['primary', 'secondary']);
  });

  it('orders managed routes as listed and reweighs mirror routes on setWeight (TestHttpReconcileMirrorRouteOrder)', async () => {
    const s = setup(
      hostRollout({ name: 'vsvc', routes: ['primary', 'secondary'] }, [
        'test-mirror-2',
        'test-mirror-3',
        'test-mirror-1',
      ]),
      [regularVsvc],
    );
    await s.router.setMirrorRoute(get);
    await s.router.setMirrorRoute({
      name: 'test-mirror-2',
      match: [{ method: { exact: 'POST' } }],
      percentage: 90,
    });
    await s.router.setMirrorRoute({
      name: 'test-mirror-3',
      match: [{ method: { exact: 'GET' } }],
      percentage: 90,
    });
    await s.router.setWeight(40, []);
    let http = routes(await s.vs());
    expect(http.map((r) => r.name)).toEqual([
      'test-mirror-2',
      'test-mirror-3',
      'test-mirror-1',
      'primary',
      'secondary',
    ]);
    expect([weightOf(http[0]!, 'canary'), weightOf(http[0]!, 'stable')]).toEqual([40, 60]);
    await s.router.setMirrorRoute({ name: 'test-mirror-3' });
    http = routes(await s.vs());
    expect(http.map((r) => r.name)).toEqual(['test-mirror-2', 'test-mirror-1', 'primary', 'secondary']);
    await s.router.removeManagedRoutes();
    expect(routes(await s.vs())).toHaveLength(2);
  });

  it('keeps the unnamed route weighted next to mirror routes (TestHttpReconcileMirrorRouteOrderSingleRouteNoName)', async () => {
    const s = setup(
      hostRollout({ name: 'vsvc', routes: [] }, ['test-mirror-2', 'test-mirror-3', 'test-mirror-1']),
      [singleRouteVsvc],
    );
    await s.router.setWeight(30, []);
    await s.router.setMirrorRoute(get);
    await s.router.setMirrorRoute({
      name: 'test-mirror-2',
      match: [{ method: { exact: 'POST' } }],
      percentage: 90,
    });
    await s.router.setMirrorRoute({
      name: 'test-mirror-3',
      match: [{ method: { exact: 'GET' } }],
      percentage: 90,
    });
    let http = routes(await s.vs());
    expect(http.map((r) => r.name)).toEqual(['test-mirror-2', 'test-mirror-3', 'test-mirror-1', undefined]);
    expect(http[3]?.route?.map((d) => d.weight)).toEqual([70, 30]);
    expect(weightOf(http[0]!, 'canary')).toBe(30);
    await s.router.setWeight(40, []);
    http = routes(await s.vs());
    expect(weightOf(http[0]!, 'canary')).toBe(40);
    expect(weightOf(http[1]!, 'stable')).toBe(60);
    // Argo leaves the unnamed route at 30 here (its mirror names replace the omitted route list).
    expect(http[3]?.route?.map((d) => d.weight)).toEqual([60, 40]);
    await s.router.setMirrorRoute({ name: 'test-mirror-3' });
    expect(routes(await s.vs()).map((r) => r.name)).toEqual(['test-mirror-2', 'test-mirror-1', undefined]);
    await s.router.removeManagedRoutes();
    expect(routes(await s.vs())).toHaveLength(1);
  });

  it('mirrors to the DestinationRule host and canary subset (TestHttpReconcileMirrorRouteSubset)', async () => {
    const s = setup(subsetRollout(['test-mirror-1']), [singleRouteSubsetVsvc, subsetDestinationRule]);
    expect(await s.router.setMirrorRoute(get)).toEqual({ ok: true });
    const http = routes(await s.vs());
    expect(http).toHaveLength(2);
    expect(http[0]?.mirror).toEqual({ host: 'rollout-service', subset: 'canary-subset' });
    expect(http[0]?.route?.map((d) => d.destination)).toEqual([
      { host: 'rollout-service', subset: 'stable-subset' },
      { host: 'rollout-service', subset: 'canary-subset' },
    ]);
    expect(http[1]?.name).toBeUndefined();
    expect(http[1]?.mirror).toBeUndefined();
    await s.router.removeManagedRoutes();
    expect(routes(await s.vs())).toHaveLength(1);
  });

  it('copies ports into the mirror route and keeps other routes’ fields (TestHttpReconcileMirrorRouteWithExtraFields)', async () => {
    const original = yaml(regularVsvcWithExtra);
    const s = setup(hostRollout({ name: 'vsvc', routes: ['primary'] }, ['test-mirror-1']), [original]);
    await s.router.setMirrorRoute({
      ...get,
      match: [{ method: { exact: 'GET' }, path: { prefix: '/api' }, headers: { 'x-debug': { exact: '1' } } }],
    });
    const http = routes(await s.vs());
    expect(http[0]?.route?.map((d) => d.destination)).toEqual([
      { host: 'stable', port: { number: 8443 } },
      { host: 'canary', port: { number: 8443 } },
    ]);
    expect(http[0]?.mirror).toEqual({ host: 'canary', port: { number: 8443 } });
    expect(http[0]?.match).toEqual([
      { method: { exact: 'GET' }, uri: { prefix: '/api' }, headers: { 'x-debug': { exact: '1' } } },
    ]);
    expect(http.slice(1)).toEqual(routes(original));
  });
});

describe('Istio router: removeManagedRoutes', () => {
  it('does nothing to a tls-only VirtualService (TestSingleTlsRouteReconcile)', async () => {
    const s = setup(hostRollout({ name: 'vsvc', tlsRoutes: [{ port: 3000 }] }, ['x']), [singleRouteTlsVsvc]);
    expect(await s.router.setWeight(30, [])).toEqual({ ok: true });
    const tls = routes(await s.vs(), 'tls');
    expect(tls[0]?.route?.map((d) => d.weight)).toEqual([70, 30]);
    expect(await s.router.removeManagedRoutes()).toEqual({ ok: true });
    expect(s.updates()).toBe(1);
  });

  it('removes managed routes from every VirtualService, even when the first has none', async () => {
    const ro = rollout({
      stableService: 'stable',
      canaryService: 'canary',
      istio: {
        virtualServices: [
          { name: 'vsvc1', routes: ['primary'] },
          { name: 'vsvc2', routes: ['primary'] },
        ],
      },
      managedRoutes: [HEADER_ROUTE],
    });
    const withHeader = yaml(named(regularVsvc, 'vsvc2'));
    (withHeader.spec as { http: Json[] }).http.unshift({
      name: HEADER_ROUTE,
      route: [{ destination: { host: 'canary' }, weight: 100 }],
    });
    const s = setup(ro, [named(regularVsvc, 'vsvc1'), withHeader]);
    expect(await s.router.removeManagedRoutes()).toEqual({ ok: true });
    expect(routes(await s.vs('vsvc2')).map((r) => r.name)).toEqual(['primary', 'secondary']);
    expect(s.updates()).toBe(1);
  });
});

describe('Istio router: updateHash', () => {
  const dr = (subsets: string, extra = '') => `apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata:
  name: istio-destrule
  namespace: default
${extra}spec:
${subsets}`;
  const drRollout = () =>
    rollout({
      istio: {
        virtualService: { name: 'vsvc', routes: ['primary'] },
        destinationRule: { name: 'istio-destrule', canarySubsetName: 'canary', stableSubsetName: 'stable' },
      },
    });

  it('labels the subsets and keeps their other fields (TestUpdateHashAdditionalFieldsWithListers)', async () => {
    const s = setup(drRollout(), [
      dr(`  host: ratings.prod.svc.cluster.local
  trafficPolicy:
    loadBalancer:
      simple: LEAST_CONN
  subsets:
  - name: stable
    labels:
      version: v3
  - name: canary
    trafficPolicy:
      loadBalancer:
        simple: ROUND_ROBIN
`),
    ]);
    expect(await s.router.updateHash('abc123', 'def456', [])).toEqual({ ok: true });
    expect(s.updates('DestinationRule')).toBe(1);
    const got = await s.dr();
    expect((got.metadata as Json).annotations).toEqual({
      'argo-rollouts.argoproj.io/managed-by-rollouts': 'rollout',
    });
    expect(got.spec).toEqual({
      host: 'ratings.prod.svc.cluster.local',
      subsets: [
        { labels: { 'rollouts-pod-template-hash': 'def456', version: 'v3' }, name: 'stable' },
        {
          labels: { 'rollouts-pod-template-hash': 'abc123' },
          name: 'canary',
          trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } },
        },
      ],
      trafficPolicy: { loadBalancer: { simple: 'LEAST_CONN' } },
    });
  });

  it('writes nothing when the DestinationRule is already right (TestUpdateHashNoChange)', async () => {
    const s = setup(drRollout(), [
      dr(
        `  host: ratings.prod.svc.cluster.local
  subsets:
  - name: stable
    labels:
      rollouts-pod-template-hash: def456
  - name: canary
    labels:
      rollouts-pod-template-hash: abc123
`,
        `  annotations:
    argo-rollouts.argoproj.io/managed-by-rollouts: rollout
`,
      ),
    ]);
    expect(await s.router.updateHash('abc123', 'def456', [])).toEqual({ ok: true });
    expect(s.updates('DestinationRule')).toBe(0);
  });

  it('says the DestinationRule is not found (TestUpdateHashDestinationRuleNotFound)', async () => {
    const s = setup(drRollout(), []);
    expect(await s.router.updateHash('abc123', 'def456', [])).toEqual({
      ok: false,
      error: 'destinationrules.networking.istio.io "istio-destrule" not found',
    });
  });

  it('adds, keeps and drops experiment subsets (TestUpdateHashWithAdditionalDestinations)', async () => {
    const s = setup(drRollout(), [dr('  subsets:\n  - name: stable\n  - name: canary\n')]);
    const exp1 = { serviceName: 'exp-svc', podTemplateHash: 'exp-hash', weight: 20 };
    const exp2 = { serviceName: 'exp-svc2', podTemplateHash: 'exp-hash2', weight: 40 };
    await s.router.updateHash('abc123', 'def456', [exp1]);
    let subsets = ((await s.dr()).spec as { subsets: Json[] }).subsets;
    expect(subsets).toEqual([
      { name: 'stable', labels: { 'rollouts-pod-template-hash': 'def456' } },
      { name: 'canary', labels: { 'rollouts-pod-template-hash': 'abc123' } },
      { name: 'exp-svc', labels: { 'rollouts-pod-template-hash': 'exp-hash' } },
    ]);
    await s.router.updateHash('abc123', 'def456', [exp1, exp2]);
    subsets = ((await s.dr()).spec as { subsets: Json[] }).subsets;
    expect(subsets.map((x) => x.name)).toEqual(['stable', 'canary', 'exp-svc', 'exp-svc2']);
    await s.router.updateHash('abc123', 'def456', [exp2]);
    subsets = ((await s.dr()).spec as { subsets: Json[] }).subsets;
    expect(subsets).toEqual([
      { name: 'stable', labels: { 'rollouts-pod-template-hash': 'def456' } },
      { name: 'canary', labels: { 'rollouts-pod-template-hash': 'abc123' } },
      { name: 'exp-svc2', labels: { 'rollouts-pod-template-hash': 'exp-hash2' } },
    ]);
    expect(s.updates('DestinationRule')).toBe(3);
  });

  it('is a no-op without a destinationRule (host-level split)', async () => {
    const s = setup(hostRollout({ name: 'vsvc', routes: ['primary'] }), [regularVsvc]);
    expect(await s.router.updateHash('abc123', 'def456', [])).toEqual({ ok: true });
  });

  it('delays the switch while a ReplicaSet of the Rollout is not fully available (Argo #2507)', async () => {
    const rs = (name: string, replicas: number, available: number, owner = 'rollout-uid') =>
      ({
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name,
          namespace: 'default',
          ownerReferences: [
            {
              apiVersion: 'argoproj.io/v1alpha1',
              kind: 'Rollout',
              name: 'rollout',
              uid: owner,
              controller: true,
            },
          ],
        },
        spec: { replicas },
        status: { replicas, availableReplicas: available },
      }) as unknown as Json;
    const s = setup(drRollout(), [
      dr('  subsets:\n  - name: stable\n  - name: canary\n'),
      rs('rollout-new', 0, 0),
      rs('rollout-old', 2, 2),
      rs('rollout-coming', 2, 1),
      rs('someone-else', 3, 0, 'other-uid'),
    ]);
    expect(await s.router.updateHash('abc123', 'def456', [])).toEqual({
      ok: false,
      waiting: true,
      error: 'delaying destination rule switch: ReplicaSet rollout-coming not fully available',
    });
    expect(s.updates('DestinationRule')).toBe(0);
    s.store.seed(rs('rollout-coming', 2, 2) as unknown as KubeObject);
    expect(await s.router.updateHash('abc123', 'def456', [])).toEqual({ ok: true });
    expect(s.updates('DestinationRule')).toBe(1);
  });
});

describe('istioRouter', () => {
  it('is undefined without trafficRouting.istio', () => {
    const ro = rollout({ stableService: 'stable', canaryService: 'canary', istio: {} });
    ro.spec.strategy.canary = { stableService: 'stable', canaryService: 'canary', trafficRouting: {} };
    const s = setup(hostRollout({ name: 'vsvc' }), []);
    expect(istioRouter({ ...s.ctx, rollout: ro })).toBeUndefined();
  });

  it('answers every verb with the config error for an invalid config', async () => {
    const ro = rollout({
      stableService: 'stable',
      canaryService: 'canary',
      istio: { virtualService: { name: 'vsvc', rutes: [] } },
    });
    const s = setup(ro, [regularVsvc]);
    const error =
      'spec.strategy.canary.trafficRouting.istio.virtualService.rutes: unknown field (known: name, routes, tlsRoutes, tcpRoutes)';
    expect(await s.router.setWeight(10, [])).toEqual({ ok: false, error });
    expect(await s.router.updateHash('a', 'b', [])).toEqual({ ok: false, error });
    expect(await s.router.setHeaderRoute({ name: 'x' })).toEqual({ ok: false, error });
    expect(await s.router.setMirrorRoute({ name: 'x' })).toEqual({ ok: false, error });
    expect(await s.router.removeManagedRoutes()).toEqual({ ok: false, error });
    expect(await s.router.verifyWeight(10, [])).toBeUndefined();
    expect(s.router.type).toBe('Istio');
    expect(s.updates()).toBe(0);
  });
});
