// The Traffic section of `sluice get rollout`: for each router, the weight its objects route against the
// status' desired weight (match, mismatch), a missing object, an API the cluster does not serve (404
// without a Status naming the object), the proxy router's verdict from status, discovery of served
// versions, and the rendering, alone and inside `get rollout`.

import { describe, expect, it } from 'vitest';
import type { Kind, KubeObject } from '../../../src/api/meta.ts';
import type { Rollout, RolloutStatus } from '../../../src/api/rollout.ts';
import { type CliApi, CliApiError, type ObjectList } from '../../../src/cli/kube.ts';
import type { CliIo } from '../../../src/cli/rollouts/command.ts';
import { runGet } from '../../../src/cli/rollouts/get.ts';
import {
  type CliDiscovery,
  discoverServedVersions,
  renderTrafficSection,
  routerWeights,
  TRAFFIC_REFRESH_MS,
  type TrafficSection,
  TrafficWatch,
} from '../../../src/cli/rollouts/router-weights.ts';

const NS = 'shop';

class FakeApi implements CliApi {
  readonly namespace = NS;
  readonly objects = new Map<string, KubeObject>();
  /** Kinds whose API the "cluster" does not serve: 404 with the API server's generic message. */
  readonly notServed = new Set<Kind>();
  readonly gets: string[] = [];

  put(obj: KubeObject): this {
    this.objects.set(`${obj.kind}/${obj.metadata.namespace ?? NS}/${obj.metadata.name}`, obj);
    return this;
  }

  async get<T extends KubeObject>(kind: Kind, ns: string, name: string): Promise<T> {
    this.gets.push(`${kind} ${ns}/${name}`);
    if (this.notServed.has(kind))
      throw new CliApiError(404, 'NotFound', 'the server could not find the requested resource');
    const obj = this.objects.get(`${kind}/${ns}/${name}`);
    if (obj === undefined)
      throw new CliApiError(404, 'NotFound', `${kind.toLowerCase()}s.example.io "${name}" not found`);
    return structuredClone(obj) as T;
  }

  async list<T extends KubeObject>(kind: Kind): Promise<ObjectList<T>> {
    return { items: [...this.objects.values()].filter((o) => o.kind === kind) as T[], resourceVersion: '1' };
  }

  async patch<T extends KubeObject>(): Promise<T> {
    throw new Error('read only');
  }
  async update<T extends KubeObject>(): Promise<T> {
    throw new Error('read only');
  }
  async watch(
    _kind: Kind,
    _ns: string | undefined,
    _query: unknown,
    _rv: string,
    _onEvent: unknown,
    signal: AbortSignal,
  ): Promise<void> {
    if (!signal.aborted)
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
  }
  async close(): Promise<void> {}
}

function rollout(trafficRouting: Record<string, unknown>, status: RolloutStatus = weights(30)): Rollout {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'web', namespace: NS, uid: 'ro-uid', resourceVersion: '7' },
    spec: {
      replicas: 2,
      strategy: {
        canary: {
          canaryService: 'web-canary',
          stableService: 'web-stable',
          trafficRouting,
          steps: [{ setWeight: 30 }, { pause: {} }],
        },
      },
    },
    status,
  } as Rollout;
}

function weights(canary: number, verified?: boolean, extra: Partial<RolloutStatus> = {}): RolloutStatus {
  return {
    currentStepIndex: 1,
    canary: {
      weights: {
        canary: { weight: canary, serviceName: 'web-canary' },
        stable: { weight: 100 - canary, serviceName: 'web-stable' },
        ...(verified === undefined ? {} : { verified }),
      },
    },
    ...extra,
  };
}

function canaryIngress(weight: number): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name: 'web-web-ingress-canary',
      namespace: NS,
      annotations: {
        'nginx.ingress.kubernetes.io/canary': 'true',
        'nginx.ingress.kubernetes.io/canary-weight': String(weight),
      },
    },
  };
}

function virtualService(canary: number): KubeObject {
  return {
    apiVersion: 'networking.istio.io/v1alpha3',
    kind: 'VirtualService',
    metadata: { name: 'web-vs', namespace: NS },
    spec: {
      http: [
        {
          name: 'primary',
          route: [
            { destination: { host: 'web-stable' }, weight: 100 - canary },
            { destination: { host: 'web-canary' }, weight: canary },
          ],
        },
      ],
    },
  } as KubeObject;
}

function trafficSplit(canary: number): KubeObject {
  return {
    apiVersion: 'split.smi-spec.io/v1alpha1',
    kind: 'TrafficSplit',
    metadata: { name: 'web', namespace: NS },
    spec: {
      service: 'web-stable',
      backends: [
        { service: 'web-canary', weight: String(canary) },
        { service: 'web-stable', weight: String(100 - canary) },
      ],
    },
  } as KubeObject;
}

function httpRoute(canary: number): KubeObject {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'web-route', namespace: NS },
    spec: {
      rules: [
        {
          backendRefs: [
            { name: 'web-stable', port: 80, weight: 100 - canary },
            { name: 'web-canary', port: 80, weight: canary },
          ],
        },
      ],
    },
  } as KubeObject;
}

const ROUTERS = [
  {
    router: 'Nginx',
    kind: 'Ingress' as Kind,
    config: { nginx: { stableIngress: 'web-ingress' } },
    object: (w: number) => canaryIngress(w),
    row: `Ingress ${NS}/web-web-ingress-canary`,
    missing: `Ingress ${NS}/web-web-ingress-canary not found`,
    notServed: 'Ingress API networking.k8s.io/v1 not served (CRD not installed?)',
  },
  {
    router: 'Istio',
    kind: 'VirtualService' as Kind,
    config: { istio: { virtualService: { name: 'web-vs', routes: ['primary'] } } },
    object: (w: number) => virtualService(w),
    row: `VirtualService ${NS}/web-vs route primary`,
    missing: `VirtualService ${NS}/web-vs not found`,
    notServed: 'VirtualService API networking.istio.io/v1alpha3 not served (CRD not installed?)',
  },
  {
    router: 'SMI',
    kind: 'TrafficSplit' as Kind,
    config: { smi: {} },
    object: (w: number) => trafficSplit(w),
    row: `TrafficSplit ${NS}/web`,
    missing: `TrafficSplit ${NS}/web not found`,
    notServed: 'TrafficSplit API split.smi-spec.io/v1alpha1 not served (CRD not installed?)',
  },
  {
    router: 'GatewayAPI',
    kind: 'HTTPRoute' as Kind,
    config: { plugins: { 'argoproj-labs/gatewayAPI': { httpRoute: 'web-route' } } },
    object: (w: number) => httpRoute(w),
    row: `HTTPRoute ${NS}/web-route rule 0`,
    missing: `HTTPRoute ${NS}/web-route not found`,
    notServed: 'HTTPRoute API gateway.networking.k8s.io/v1 not served (CRD not installed?)',
  },
];

describe('routerWeights', () => {
  for (const r of ROUTERS) {
    describe(r.router, () => {
      it('matches when the object routes the desired weight', async () => {
        const api = new FakeApi().put(r.object(30));
        const section = await routerWeights(api, rollout(r.config));
        expect(section?.rows).toEqual([
          { router: r.router, object: r.row, desired: 30, actual: 30, stable: 70, match: true },
        ]);
      });

      it('a mismatch shows both', async () => {
        const api = new FakeApi().put(r.object(20));
        const section = await routerWeights(api, rollout(r.config));
        expect(section?.rows).toEqual([
          { router: r.router, object: r.row, desired: 30, actual: 20, stable: 80, match: false },
        ]);
      });

      it('a missing object is named', async () => {
        const section = await routerWeights(new FakeApi(), rollout(r.config));
        expect(section?.rows).toEqual([
          {
            router: r.router,
            object: r.row.replace(/ (route|rule) .*$/, ''),
            desired: 30,
            error: r.missing,
            match: undefined,
          },
        ]);
      });

      it('an API the cluster does not serve (404 naming no object) is "not served"', async () => {
        const api = new FakeApi().put(r.object(30));
        api.notServed.add(r.kind);
        const section = await routerWeights(api, rollout(r.config));
        expect(section?.rows[0]?.error).toBe(r.notServed);
        expect(section?.rows[0]?.match).toBeUndefined();
      });
    });
  }

  it('Proxy: the status verdict, no object read', async () => {
    const config = { plugins: { 'sluice/proxy': {} } };
    const api = new FakeApi();
    const verified = await routerWeights(api, rollout(config, weights(30, true)));
    expect(verified?.rows).toEqual([
      { router: 'Proxy', object: 'route web', desired: 30, actual: 30, match: true },
    ]);
    const waiting = await routerWeights(
      api,
      rollout(
        config,
        weights(30, false, {
          conditions: [
            {
              type: 'WeightVerified',
              status: 'False',
              reason: 'WeightNotVerified',
              message: 'proxy gw-1 has not ACKed',
              lastUpdateTime: '',
              lastTransitionTime: '',
            },
          ],
        }),
      ),
    );
    expect(waiting?.rows).toEqual([
      {
        router: 'Proxy',
        object: 'route web',
        desired: 30,
        waiting: 'proxy gw-1 has not ACKed',
        match: false,
      },
    ]);
    expect(waiting?.verified).toBe(false);
    expect(waiting?.waitingReason).toBe('proxy gw-1 has not ACKed');
    const unknown = await routerWeights(api, rollout(config, weights(30)));
    expect(unknown?.rows).toEqual([{ router: 'Proxy', object: 'route web', desired: 30, match: undefined }]);
    expect(api.gets).toEqual([]);
  });

  it('no section without trafficRouting', async () => {
    const ro = rollout({});
    delete ro.spec.strategy.canary!.trafficRouting;
    expect(await routerWeights(new FakeApi(), ro)).toBeUndefined();
  });

  it('several routers in Argo order; an invalid config is a row naming the field', async () => {
    const api = new FakeApi().put(canaryIngress(30)).put(virtualService(30));
    const section = await routerWeights(
      api,
      rollout({
        nginx: { stableIngress: 'web-ingress' },
        istio: { virtualService: { name: 'web-vs' } },
        smi: { bogus: 1 },
      }),
    );
    expect(section?.rows.map((r) => [r.router, r.match ?? r.error])).toEqual([
      ['Istio', true],
      ['Nginx', true],
      [
        'SMI',
        'spec.strategy.canary.trafficRouting.smi.bogus: unknown field (known: rootService, trafficSplitName)',
      ],
    ]);
  });

  it('Istio: each selected route is a row; a route without the canary says so', async () => {
    const vs = virtualService(30) as KubeObject & { spec: { http: unknown[] } };
    vs.spec.http.push({ name: 'other', route: [{ destination: { host: 'web-stable' } }] });
    const section = await routerWeights(
      new FakeApi().put(vs),
      rollout({ istio: { virtualService: { name: 'web-vs', routes: ['primary', 'other'] } } }),
    );
    expect(section?.rows.map((r) => [r.object, r.actual ?? r.error])).toEqual([
      [`VirtualService ${NS}/web-vs route primary`, 30],
      [`VirtualService ${NS}/web-vs route other`, 'no canary destination in the route'],
    ]);
  });

  it('Gateway API: the header rules the plugin recorded in its ConfigMap are not weighted rules', async () => {
    const route = httpRoute(30) as KubeObject & { spec: { rules: unknown[] } };
    route.spec.rules.push({ backendRefs: [{ name: 'web-canary', port: 80 }] });
    const api = new FakeApi().put(route).put({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'argo-gatewayapi-configmap', namespace: NS },
      data: { httpManagedRoutes: JSON.stringify({ 'canary-header': { 'web-route': 1 } }) },
    } as KubeObject);
    const section = await routerWeights(
      api,
      rollout({ plugins: { 'argoproj-labs/gatewayAPI': { httpRoute: 'web-route' } } }),
    );
    expect(section?.rows.map((r) => r.object)).toEqual([`HTTPRoute ${NS}/web-route rule 0`]);
  });

  it('with raw GETs, reads at the versions discovery finds', async () => {
    const paths: string[] = [];
    const api = Object.assign(new FakeApi(), {
      async rawGet(path: string): Promise<{ status: number; body: unknown }> {
        paths.push(path);
        if (path === '/apis/split.smi-spec.io/v1alpha2')
          return { status: 200, body: { resources: [{ name: 'trafficsplits' }] } };
        if (path === `/apis/split.smi-spec.io/v1alpha2/namespaces/${NS}/trafficsplits/web`)
          return { status: 200, body: { ...trafficSplit(30), apiVersion: 'split.smi-spec.io/v1alpha2' } };
        return {
          status: 404,
          body: {
            kind: 'Status',
            reason: 'NotFound',
            message: 'the server could not find the requested resource',
          },
        };
      },
    });
    const section = await routerWeights(api, rollout({ smi: {} }));
    expect(section?.rows).toEqual([
      { router: 'SMI', object: `TrafficSplit ${NS}/web`, desired: 30, actual: 30, stable: 70, match: true },
    ]);
    expect(paths).toEqual([
      '/apis/split.smi-spec.io/v1alpha1',
      '/apis/split.smi-spec.io/v1alpha3',
      '/apis/split.smi-spec.io/v1alpha2',
      `/apis/split.smi-spec.io/v1alpha2/namespaces/${NS}/trafficsplits/web`,
    ]);
    expect(api.gets).toEqual([]);
  });

  it('discoverServedVersions keeps the default for a group the cluster does not serve', async () => {
    const raw: CliDiscovery = {
      rawGet: async (path) =>
        path === '/apis/gateway.networking.k8s.io/v1beta1'
          ? { status: 200, body: { resources: [{ name: 'httproutes' }] } }
          : { status: 404, body: '404 page not found' },
    };
    expect(await discoverServedVersions(raw, ['HTTPRoute', 'VirtualService'])).toEqual({
      HTTPRoute: 'gateway.networking.k8s.io/v1beta1',
    });
  });
});

describe('renderTrafficSection', () => {
  const section: TrafficSection = {
    desiredCanary: 30,
    desiredStable: 70,
    desiredAdditional: [],
    maxWeight: 100,
    verified: undefined,
    rows: [
      {
        router: 'Nginx',
        object: 'Ingress e-commerce/payment-service-rollout-payment-service-ingress-canary',
        desired: 30,
        actual: 30,
        stable: 70,
        match: true,
      },
      {
        router: 'Istio',
        object: 'VirtualService shop/web route primary',
        desired: 30,
        actual: 20,
        match: false,
      },
      {
        router: 'SMI',
        object: 'TrafficSplit shop/web',
        desired: 30,
        error: 'TrafficSplit shop/web not found',
        match: undefined,
      },
      {
        router: 'Proxy',
        object: 'route web',
        desired: 30,
        waiting: 'proxy gw-1 has not ACKed',
        match: false,
      },
    ],
  };

  it('a header line in the 17-column block, then one aligned line per object', () => {
    expect(renderTrafficSection(section)).toBe(
      [
        'Traffic:         desired canary 30 / stable 70 (of 100)   verified: -',
        '  Nginx  Ingress e-commerce/payment-service-rollout-payment-service-ingress-canary  actual 30 ✔',
        '  Istio  VirtualService shop/web route primary                                      actual 20 ✖ (desired 30)',
        '  SMI    TrafficSplit shop/web                                                      ⚠ TrafficSplit shop/web not found',
        '  Proxy  route web                                                                  ◷ waiting: proxy gw-1 has not ACKed',
        '',
      ].join('\n'),
    );
  });

  it('a failing router (TrafficRouting False) shows as the held step under the header', () => {
    const message =
      'Nginx router setWeight: error retrieving stableIngress `payment-service-ingress` from cache: ingress.networking.k8s.io "payment-service-ingress" not found';
    expect(renderTrafficSection({ ...section, routerError: message, rows: [] })).toBe(
      `Traffic:         desired canary 30 / stable 70 (of 100)   verified: -\n  ⚠ step held: ${message}\n`,
    );
  });

  it('verified ✔, or ✖ waiting with the reason; experiment destinations in the desired split', () => {
    expect(renderTrafficSection({ ...section, verified: true, rows: [] })).toBe(
      'Traffic:         desired canary 30 / stable 70 (of 100)   verified: ✔\n',
    );
    expect(
      renderTrafficSection({
        ...section,
        desiredStable: 60,
        desiredAdditional: [{ service: 'web-exp', weight: 10 }],
        maxWeight: 1000,
        verified: false,
        waitingReason: 'proxy gw-1 has not ACKed',
        rows: [],
      }),
    ).toBe(
      'Traffic:         desired canary 30 / web-exp 10 / stable 60 (of 1000)   verified: ✖ waiting: proxy gw-1 has not ACKed\n',
    );
  });

  it('colours the icons on a terminal', () => {
    expect(renderTrafficSection({ ...section, rows: [section.rows[0]!] }, true)).toContain(
      '\x1b[32m✔\x1b[0m',
    );
  });
});

describe('TrafficWatch', () => {
  it('reads again when the Rollout changes or after TRAFFIC_REFRESH_MS, and says when the text changed', async () => {
    const api = new FakeApi().put(canaryIngress(20));
    const ro = rollout({ nginx: { stableIngress: 'web-ingress' } });
    const w = new TrafficWatch(false);
    expect(await w.refresh(api, ro, 0)).toBe(true);
    expect(w.text).toContain('actual 20 ✖ (desired 30)');
    api.put(canaryIngress(30));
    expect(await w.refresh(api, ro, 1_000)).toBe(false);
    expect(api.gets).toHaveLength(1);
    expect(await w.refresh(api, ro, TRAFFIC_REFRESH_MS)).toBe(true);
    expect(w.text).toContain('actual 30 ✔');
    const changed = { ...ro, metadata: { ...ro.metadata, resourceVersion: '8' } };
    expect(await w.refresh(api, changed, TRAFFIC_REFRESH_MS + 1)).toBe(false);
    expect(api.gets).toHaveLength(3);
  });

  it('no text for a Rollout without trafficRouting', async () => {
    const ro = rollout({});
    delete ro.spec.strategy.canary!.trafficRouting;
    const w = new TrafficWatch(false);
    expect(await w.refresh(new FakeApi(), ro, 0)).toBe(false);
    expect(w.text).toBe('');
  });
});

describe('get rollout', () => {
  function io(api: FakeApi): { io: CliIo; out: () => string } {
    let out = '';
    return {
      io: {
        out: (t) => {
          out += t;
        },
        err: (t) => {
          out += t;
        },
        isTTY: false,
        nowMs: () => Date.parse('2026-03-01T12:00:00Z'),
        env: {},
        connect: async () => ({ ok: true, api }),
        signal: new AbortController().signal,
      },
      out: () => out,
    };
  }

  it('prints the Traffic section after the summary, Argo’s weight lines unchanged', async () => {
    const api = new FakeApi()
      .put(
        rollout({ nginx: { stableIngress: 'web-ingress' }, istio: { virtualService: { name: 'web-vs' } } }),
      )
      .put(canaryIngress(30))
      .put(virtualService(20));
    const h = io(api);
    expect(await runGet(['rollout', 'web'], h.io)).toBe(0);
    expect(h.out()).toBe(
      [
        'Name:            web',
        'Namespace:       shop',
        'Status:          ◌ Progressing',
        'Message:         more replicas need to be updated',
        'Strategy:        Canary',
        '  Step:          1/2',
        '  SetWeight:     30',
        '  ActualWeight:  0',
        'Replicas:',
        '  Desired:       2',
        '  Current:       0',
        '  Updated:       0',
        '  Ready:         0',
        '  Available:     0',
        'Traffic:         desired canary 30 / stable 70 (of 100)   verified: -',
        '  Istio  VirtualService shop/web-vs route primary  actual 20 ✖ (desired 30)',
        '  Nginx  Ingress shop/web-web-ingress-canary       actual 30 ✔',
        '',
        'NAME   KIND     STATUS         AGE  INFO',
        '⟳ web  Rollout  ◌ Progressing       ',
        '',
      ].join('\n'),
    );
  });

  it('--watch draws the Traffic section too', async () => {
    const api = new FakeApi().put(rollout({ smi: {} })).put(trafficSplit(30));
    const h = io(api);
    expect(await runGet(['rollout', 'web', '--watch', '--timeout-seconds', '1'], h.io)).toBe(0);
    expect(h.out()).toContain(
      'Traffic:         desired canary 30 / stable 70 (of 100)   verified: -\n  SMI  TrafficSplit shop/web  actual 30 ✔\n\nNAME',
    );
  });
});
