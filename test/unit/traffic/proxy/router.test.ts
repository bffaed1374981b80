// The sluice/proxy router against the in-memory store, a real RouteTable and a scripted delivery view:
// routes built from Services' ready endpoints, weights in basis points of maxTrafficWeight, managed
// header and mirror routes, verification only once every subscribed proxy ACKed, and the restart seed.
import { describe, expect, it } from 'vitest';
import type { Rollout } from '../../../../src/api/rollout.ts';
import { type DeliveryView, type RouteDelivery, RouteTable } from '../../../../src/control/route-table.ts';
import { createMemoryStore } from '../../../../src/store/memory.ts';
import { ProxyRouting, toPercent } from '../../../../src/traffic/proxy/router.ts';

const NS = 'shop';

function rollout(
  plugin: Record<string, unknown> = {},
  extra: Partial<Rollout['spec']['strategy']['canary']> = {},
  status?: Rollout['status'],
): Rollout {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'checkout', namespace: NS },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'checkout' } },
      template: {
        metadata: { labels: { app: 'checkout' } },
        spec: { containers: [{ name: 'app', image: 'sluice-demo:v1' }] },
      },
      strategy: {
        canary: {
          stableService: 'checkout-stable',
          canaryService: 'checkout-canary',
          trafficRouting: { plugins: { 'sluice/proxy': plugin } },
          steps: [{ setWeight: 10 }, { pause: {} }],
          ...extra,
        },
      },
    },
    ...(status ? { status } : {}),
  } as Rollout;
}

function service(name: string, ports = [{ name: 'http', port: 80, targetPort: 8080 }]) {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS }, spec: { ports } };
}

function endpoints(name: string, ready: string[], notReady: string[] = [], portName = 'http') {
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name, namespace: NS },
    subsets: [
      {
        addresses: ready.map((ip) => ({ ip })),
        notReadyAddresses: notReady.map((ip) => ({ ip })),
        ports: [{ name: portName, port: 8080, protocol: 'TCP' }],
      },
    ],
  };
}

class ScriptedDeliveries implements DeliveryView {
  list: RouteDelivery[] = [];
  deliveries(): RouteDelivery[] {
    return this.list;
  }
}

function setup(ro = rollout()) {
  const store = createMemoryStore();
  store.seed(service('checkout-stable') as never);
  store.seed(service('checkout-canary') as never);
  store.seed(endpoints('checkout-stable', ['10.244.0.2', '10.244.0.1'], ['10.244.0.9']) as never);
  store.seed(endpoints('checkout-canary', ['10.244.0.3']) as never);
  const table = new RouteTable();
  const deliveries = new ScriptedDeliveries();
  const routing = new ProxyRouting(store, table, deliveries);
  return { store, table, deliveries, routing, ro };
}

describe('sluice/proxy router', () => {
  it('publishes the route with both sides as ready endpoints and the weight in basis points', async () => {
    const { table, routing, ro } = setup(
      rollout({
        hosts: ['shop.example.com'],
        pathPrefix: '/api',
        stickySessions: { cookie: 'sid' },
        timeouts: { connect: '2s' },
      }),
    );
    const router = routing.routerFor(ro)!;
    expect(await router.updateHash('canaryhash', 'stablehash')).toEqual({ ok: true });
    expect(await router.setWeight(10)).toEqual({ ok: true });
    const published = table.get(NS, 'checkout');
    expect(published?.route).toEqual({
      namespace: NS,
      name: 'checkout',
      match: { host: 'shop.example.com', pathPrefix: '/api' },
      backends: [
        {
          name: 'stable',
          revision: 'stablehash',
          endpoints: ['http://10.244.0.1:8080', 'http://10.244.0.2:8080'],
          weight: 90,
        },
        { name: 'canary', revision: 'canaryhash', endpoints: ['http://10.244.0.3:8080'], weight: 10 },
      ],
      stickySessions: { cookie: 'sid' },
      timeouts: { connectMs: 2000 },
    });
  });

  it('honours maxTrafficWeight with two decimals', async () => {
    expect(toPercent(1, 3)).toBe(33.33);
    expect(toPercent(5, 1000)).toBe(0.5);
    const { table, routing } = setup();
    const ro = rollout({}, { trafficRouting: { maxTrafficWeight: 1000, plugins: { 'sluice/proxy': {} } } });
    const router = routing.routerFor(ro)!;
    await router.updateHash('c', 's');
    await router.setWeight(5);
    expect(table.get(NS, 'checkout')?.route.backends.map((b) => b.weight)).toEqual([99.5, 0.5]);
  });

  it('does not bump the version when nothing changed', async () => {
    const { table, routing, ro } = setup();
    const router = routing.routerFor(ro)!;
    await router.updateHash('c', 's');
    await router.setWeight(10);
    const version = table.version;
    await routing.routerFor(ro)!.updateHash('c', 's');
    await routing.routerFor(ro)!.setWeight(10);
    expect(table.version).toBe(version);
  });

  it('verifies a weight only when every subscribed proxy ACKed a snapshot carrying it', async () => {
    const { table, deliveries, routing, ro } = setup();
    const router = routing.routerFor(ro)!;
    await router.updateHash('c', 's');
    await router.setWeight(10);
    const v = table.get(NS, 'checkout')!.version;
    expect(await router.verifyWeight(10)).toBe(false);
    expect(router.unverifiedReason()).toBe('no proxy is subscribed to route shop/checkout');
    deliveries.list = [
      { proxyId: 'gw-1', peer: 'p1', sentVersion: v, ackedVersion: v },
      { proxyId: 'gw-2', peer: 'p2', sentVersion: v, ackedVersion: v - 1 },
    ];
    expect(await router.verifyWeight(10)).toBe(false);
    expect(router.unverifiedReason()).toContain(
      `proxy gw-2 has not ACKed snapshot ${v} yet (ACKed ${v - 1})`,
    );
    deliveries.list[1] = {
      proxyId: 'gw-2',
      peer: 'p2',
      sentVersion: v,
      ackedVersion: v - 1,
      nack: { version: v, reason: 'routes[0].headerRoutes[0].backend: no such backend' },
    };
    expect(await router.verifyWeight(10)).toBe(false);
    expect(router.unverifiedReason()).toContain(
      `proxy gw-2 rejected snapshot ${v}: routes[0].headerRoutes[0].backend`,
    );
    deliveries.list[1] = { proxyId: 'gw-2', peer: 'p2', sentVersion: v, ackedVersion: v };
    expect(await router.verifyWeight(10)).toBe(true);
    expect(router.unverifiedReason()).toBeUndefined();
    // A weight the route does not carry is never verified.
    expect(await router.verifyWeight(25)).toBe(false);
  });

  it('adds and removes managed header and mirror routes', async () => {
    const { table, routing, ro } = setup();
    const router = routing.routerFor(ro)!;
    await router.updateHash('c', 's');
    await router.setHeaderRoute({
      name: 'beta',
      match: [{ headerName: 'X-Beta', headerValue: { exact: 'yes' } }],
    });
    await router.setMirrorRoute({ name: 'shadow', match: [{ path: { prefix: '/' } }], percentage: 20 });
    let route = table.get(NS, 'checkout')!.route;
    expect(route.headerRoutes).toEqual([
      { name: 'beta', match: [{ header: 'x-beta', exact: 'yes' }], backend: 'canary' },
    ]);
    expect(route.mirror).toEqual({ backend: 'canary', percent: 20 });
    // The state outlives the reconcile's router instance.
    await routing.routerFor(ro)!.setHeaderRoute({ name: 'beta' });
    route = table.get(NS, 'checkout')!.route;
    expect(route.headerRoutes).toBeUndefined();
    expect(route.mirror).toEqual({ backend: 'canary', percent: 20 });
    await routing.routerFor(ro)!.removeManagedRoutes();
    expect(table.get(NS, 'checkout')!.route.mirror).toBeUndefined();
  });

  it('refuses what the proxy cannot express, naming the field', async () => {
    const { routing, ro } = setup();
    const router = routing.routerFor(ro)!;
    expect(
      await router.setMirrorRoute({ name: 'm', match: [{ method: { exact: 'GET' } }], percentage: 10 }),
    ).toEqual({
      ok: false,
      error: expect.stringContaining('setMirrorRoute.match[0].method:'),
    });
    expect(await router.setHeaderRoute({ name: 'h', match: [{ headerName: 'x', headerValue: {} }] })).toEqual(
      {
        ok: false,
        error: 'setHeaderRoute.match[0].headerValue: exactly one of exact, prefix, regex',
      },
    );
  });

  it('fails with the Service named when it is missing or its port is ambiguous', async () => {
    const { store, routing, ro } = setup();
    store.seed(
      service('checkout-canary', [
        { name: 'http', port: 80, targetPort: 8080 },
        { name: 'grpc', port: 90, targetPort: 9090 },
      ]) as never,
    );
    expect(await routing.routerFor(ro)!.setWeight(10)).toEqual({
      ok: false,
      error: 'service "checkout-canary" has 2 ports: set plugins.sluice/proxy.port to the one to use',
    });
    const named = rollout({ port: 'grpc' });
    expect(await routing.routerFor(named)!.setWeight(10)).toEqual({
      ok: false,
      error: 'service "checkout-stable" has no port "grpc" (plugins.sluice/proxy.port)',
    });
  });

  it('seeds a restarted controller from the status: weight and the managed routes of past steps', async () => {
    const ro = rollout(
      {},
      {
        steps: [
          { setWeight: 20 },
          {
            setHeaderRoute: { name: 'beta', match: [{ headerName: 'x-beta', headerValue: { exact: '1' } }] },
          },
          { pause: {} },
        ],
        trafficRouting: { managedRoutes: [{ name: 'beta' }], plugins: { 'sluice/proxy': {} } },
      },
      {
        currentStepIndex: 2,
        canary: {
          weights: {
            canary: { weight: 20, podTemplateHash: 'c', serviceName: 'checkout-canary' },
            stable: { weight: 80, podTemplateHash: 's', serviceName: 'checkout-stable' },
          },
        },
      } as Rollout['status'],
    );
    const { table, routing } = setup(ro);
    await routing.routerFor(ro)!.updateHash('c', 's');
    const route = table.get(NS, 'checkout')!.route;
    expect(route.backends.map((b) => [b.name, b.revision, b.weight])).toEqual([
      ['stable', 's', 80],
      ['canary', 'c', 20],
    ]);
    expect(route.headerRoutes?.map((h) => h.name)).toEqual(['beta']);
    // Only one publish happened: no intermediate snapshot with weight 0 reached the proxies.
    expect(table.version).toBe(1);
  });

  it('removes the route when the Rollout goes or renames it', async () => {
    const { table, routing, ro } = setup();
    await routing.routerFor(ro)!.setWeight(0);
    expect(table.get(NS, 'checkout')).toBeDefined();
    await routing.routerFor(rollout({ route: 'shop-front' }))!.setWeight(0);
    expect(table.get(NS, 'checkout')).toBeUndefined();
    expect(table.get(NS, 'shop-front')).toBeDefined();
    routing.forget(NS, 'checkout');
    expect(table.all()).toEqual([]);
  });
});

describe('sluice/proxy router for blue-green', () => {
  /** The canary fixture's Rollout with a blue-green strategy instead. */
  function blueGreen(plugin: Record<string, unknown> = {}, preview = true): Rollout {
    const ro = rollout();
    ro.spec.strategy = {
      blueGreen: {
        activeService: 'checkout-stable',
        ...(preview ? { previewService: 'checkout-canary' } : {}),
        trafficRouting: { plugins: { 'sluice/proxy': plugin } },
      },
    };
    return ro;
  }

  it('sends everything to the active Service and the preview header to the preview Service', () => {
    const { store, table, routing } = setup();
    store.seed({
      ...service('checkout-stable'),
      spec: { ...service('checkout-stable').spec, selector: { 'rollouts-pod-template-hash': 'blue' } },
    } as never);
    store.seed({
      ...service('checkout-canary'),
      spec: { ...service('checkout-canary').spec, selector: { 'rollouts-pod-template-hash': 'green' } },
    } as never);
    expect(
      routing.publishBlueGreen(blueGreen({ previewHeader: { name: 'X-Preview', value: 'yes' } })),
    ).toEqual({ ok: true });
    expect(table.get(NS, 'checkout')?.route).toEqual({
      namespace: NS,
      name: 'checkout',
      match: {},
      backends: [
        {
          name: 'active',
          revision: 'blue',
          endpoints: ['http://10.244.0.1:8080', 'http://10.244.0.2:8080'],
          weight: 100,
        },
        { name: 'preview', revision: 'green', endpoints: ['http://10.244.0.3:8080'], weight: 0 },
      ],
      headerRoutes: [{ name: 'preview', match: [{ header: 'x-preview', exact: 'yes' }], backend: 'preview' }],
    });
  });

  it('without a preview Service has the active backend only; forgets the route with the Rollout', () => {
    const { table, routing } = setup();
    expect(routing.publishBlueGreen(blueGreen({}, false))).toEqual({ ok: true });
    const route = table.get(NS, 'checkout')!.route;
    expect(route.backends.map((b) => b.name)).toEqual(['active']);
    expect(route.headerRoutes).toBeUndefined();
    routing.forget(NS, 'checkout');
    expect(table.all()).toEqual([]);
  });

  it('names a missing Service', () => {
    const { routing } = setup();
    const ro = blueGreen();
    ro.spec.strategy.blueGreen!.previewService = 'nope';
    expect(routing.publishBlueGreen(ro)).toEqual({ ok: false, error: 'service "nope" not found' });
  });
});

describe('sluice/proxy router: each side only reaches the pods of its revision', () => {
  /** Endpoints whose addresses name their pods, as the endpoints controller writes them. */
  function podEndpoints(name: string, pods: Record<string, string>) {
    return {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name, namespace: NS },
      subsets: [
        {
          addresses: Object.entries(pods).map(([ip, pod]) => ({
            ip,
            targetRef: { kind: 'Pod', name: pod, namespace: NS },
          })),
          ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
        },
      ],
    };
  }

  it('leaves out the pods of another revision the endpoints controller still lists', async () => {
    const { store, table, routing, ro } = setup();
    // right after the canary Service's selector switch: one new pod ready, one old one still listed
    store.seed(
      podEndpoints('checkout-canary', {
        '10.244.0.3': 'checkout-v2hash-abcde',
        '10.244.0.1': 'checkout-v1hash-fghij',
      }) as never,
    );
    store.seed(podEndpoints('checkout-stable', { '10.244.0.1': 'checkout-v1hash-fghij' }) as never);
    const router = routing.routerFor(ro)!;
    expect(await router.updateHash('v2hash', 'v1hash')).toEqual({ ok: true });
    expect(await router.setWeight(10)).toEqual({ ok: true });
    const backends = table.get(NS, 'checkout')!.route.backends;
    expect(backends.map((b) => [b.name, b.endpoints])).toEqual([
      ['stable', ['http://10.244.0.1:8080']],
      ['canary', ['http://10.244.0.3:8080']],
    ]);
  });

  it('waits, keeping the published route, while a side with weight lists only the other revision', async () => {
    const { store, table, routing, ro } = setup();
    store.seed(podEndpoints('checkout-stable', { '10.244.0.1': 'checkout-v1hash-fghij' }) as never);
    store.seed(podEndpoints('checkout-canary', { '10.244.0.1': 'checkout-v1hash-fghij' }) as never);
    const router = routing.routerFor(ro)!;
    // weight 0: the canary side's stale endpoints take no traffic, the route is published
    expect(await router.updateHash('v2hash', 'v1hash')).toEqual({ ok: true });
    const before = table.get(NS, 'checkout')!;
    expect(before.route.backends[1]!.endpoints).toEqual([]);
    const waited = await router.setWeight(10);
    expect(waited).toEqual({
      ok: false,
      waiting: true,
      error:
        'service "checkout-canary" endpoints list only pods of other revisions than v2hash (the endpoints controller has not followed the selector yet)',
    });
    expect(table.get(NS, 'checkout')!.version).toBe(before.version);
    // the endpoints controller catches up: the weight goes out
    store.seed(podEndpoints('checkout-canary', { '10.244.0.3': 'checkout-v2hash-abcde' }) as never);
    expect(await router.setWeight(10)).toEqual({ ok: true });
    const after = table.get(NS, 'checkout')!.route.backends[1]!;
    expect([after.endpoints, after.weight]).toEqual([['http://10.244.0.3:8080'], 10]);
  });

  it('keeps addresses without a Pod reference, and matches the 58-character cut of long pod names', async () => {
    const { routing, table, store } = setup();
    const long = 'a-rollout-name-that-is-forty-five-characters-x';
    const ro = rollout();
    ro.metadata.name = long;
    // Kubernetes cuts generateName `<rollout>-<hash>-` to 58 characters before the 5 random ones
    const podName = `${`${long}-v2hash-`.slice(0, 58)}zzzzz`;
    store.seed(podEndpoints('checkout-canary', { '10.244.0.3': podName }) as never);
    store.seed(endpoints('checkout-stable', ['10.244.0.1']) as never);
    const router = routing.routerFor(ro)!;
    await router.updateHash('v2hash', 'v1hash');
    expect(await router.setWeight(10)).toEqual({ ok: true });
    // the route is named after the Rollout
    expect(table.get(NS, long)!.route.backends.map((b) => b.endpoints)).toEqual([
      ['http://10.244.0.1:8080'],
      ['http://10.244.0.3:8080'],
    ]);
  });
});
