// The pure VirtualService functions: Argo's processRoutes rules per destination, route selection (tls SNI
// sets, tcp ports, unnamed routes), ValidateHTTPRoutes' subset messages, managed-route ordering.
import { describe, expect, it } from 'vitest';
import type { IstioVirtualService } from '../../../../src/api/routers/istio.ts';
import {
  destinationHost,
  type JsonObject,
  orderRoutes,
  type SplitTargets,
  selectHttpRoutes,
  selectTlsRoutes,
  validateVirtualService,
  weightDestinations,
  withoutManagedRoutes,
} from '../../../../src/traffic/istio/virtual-service.ts';
import { regularTlsSniVsvc, routes, singleRouteSubsetVsvc, yaml } from './fixtures.ts';

const HOST: SplitTargets = {
  canaryService: 'canary',
  stableService: 'stable',
  canarySubset: '',
  stableSubset: '',
  additionalSubsets: [],
  subsetLevel: false,
};
const SUBSET: SplitTargets = {
  canaryService: '',
  stableService: '',
  canarySubset: 'canary-subset',
  stableSubset: 'stable-subset',
  additionalSubsets: ['mobile'],
  subsetLevel: true,
};

const d = (host: string, weight?: number, extra: JsonObject = {}): JsonObject => ({
  destination: { host, ...extra },
  ...(weight !== undefined ? { weight } : {}),
});

function ref(o: Partial<IstioVirtualService> = {}): IstioVirtualService {
  return {
    ref: 'vsvc',
    name: 'vsvc',
    routes: [],
    tlsRoutes: [],
    tcpRoutes: [],
    path: 'spec.strategy.canary.trafficRouting.istio.virtualService',
    ...o,
  };
}

describe('weightDestinations (Argo processRoutes)', () => {
  const cases: { name: string; dests: JsonObject[]; w: number; extra?: never[]; want: JsonObject[] }[] = [
    {
      name: 'canary gets w, stable 100-w',
      dests: [d('stable', 100), d('canary', 0)],
      w: 30,
      want: [d('stable', 70), d('canary', 30)],
    },
    {
      name: 'a stranger still taking traffic is removed',
      dests: [d('stable', 80), d('old-exp', 10), d('canary', 10)],
      w: 10,
      want: [d('stable', 90), d('canary', 10)],
    },
    {
      name: 'a zero-weight stranger stays',
      dests: [d('stable', 100), d('canary', 0), d('parked', 0)],
      w: 5,
      want: [d('stable', 95), d('canary', 5), d('parked', 0)],
    },
    {
      name: 'hosts are matched by their first label; a host starting with "." is left alone',
      dests: [d('stable.ns.svc.cluster.local', 100), d('canary.ns', 0), d('.odd', 7)],
      w: 50,
      want: [d('stable.ns.svc.cluster.local', 50), d('canary.ns', 50), d('.odd', 7)],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(weightDestinations(c.dests, c.w, [], HOST)).toEqual(c.want);
    });
  }

  it('appends missing experiment Services by name and takes their weight from stable', () => {
    const out = weightDestinations(
      [d('stable', 100), d('canary', 0)],
      10,
      [
        { serviceName: 'exp-b', podTemplateHash: 'b', weight: 5 },
        { serviceName: 'exp-a', podTemplateHash: 'a', weight: 20 },
        { serviceName: 'exp-zero', podTemplateHash: 'z', weight: 0 },
      ],
      HOST,
    );
    expect(out).toEqual([d('stable', 65), d('canary', 10), d('exp-a', 20), d('exp-b', 5)]);
  });

  it('never gives stable a negative weight', () => {
    const out = weightDestinations(
      [d('stable', 100), d('canary', 0)],
      90,
      [{ serviceName: 'exp', podTemplateHash: 'e', weight: 20 }],
      HOST,
    );
    expect(out[0]).toEqual(d('stable', 0));
  });

  it('keeps additionalSubsetNames destinations and subtracts their weight from stable', () => {
    const dests = [
      d('svc', 80, { subset: 'stable-subset' }),
      d('svc', 0, { subset: 'canary-subset' }),
      d('svc', 20, { subset: 'mobile' }),
      d('svc', 5, { subset: 'retired' }),
    ];
    expect(weightDestinations(dests, 10, [], SUBSET)).toEqual([
      d('svc', 70, { subset: 'stable-subset' }),
      d('svc', 10, { subset: 'canary-subset' }),
      d('svc', 20, { subset: 'mobile' }),
    ]);
  });

  it('returns the same destination objects when nothing changes (only Argo’s fields change)', () => {
    const dests = [
      d('stable', 90, { port: { number: 80 } }),
      { ...d('canary', 10), headers: { request: {} } },
    ];
    const out = weightDestinations(dests, 10, [], HOST);
    expect(out[0]).toBe(dests[0]);
    expect(out[1]).toBe(dests[1]);
  });

  it('names a destination by its host’s first DNS label (getHost)', () => {
    expect(destinationHost(d('a.b.c'))).toBe('a');
    expect(destinationHost(d('plain'))).toBe('plain');
    expect(destinationHost(d('.lead'))).toBe('');
    expect(destinationHost({})).toBe('');
  });
});

describe('route selection', () => {
  const http = [{ name: 'a' }, {}, { name: 'b' }, {}];

  it('picks named routes, the first unnamed one, or the only non-managed one', () => {
    expect(selectHttpRoutes(http, ['b', 'a'], [])).toEqual({ ok: true, value: [2, 0] });
    expect(selectHttpRoutes(http, [], [])).toEqual({ ok: true, value: [1] });
    expect(selectHttpRoutes([{ name: 'hdr' }, { name: 'main' }], [], ['hdr'])).toEqual({
      ok: true,
      value: [1],
    });
    expect(selectHttpRoutes(http, ['x'], [])).toEqual({
      ok: false,
      error: "HTTP Route 'x' is not found in the defined Virtual Service.",
    });
  });

  it('matches tls routes by one port and the exact SNI set (TestTlsSniReconcileWeightsBaseCase)', () => {
    const tls = routes(yaml(regularTlsSniVsvc), 'tls') as unknown as JsonObject[];
    const all = ['foo.bar.com', 'bar.foo.com', 'localhost'];
    expect(selectTlsRoutes(tls, [{ port: 0, sniHosts: all }])).toEqual({ ok: true, value: [0] });
    expect(selectTlsRoutes(tls, [{ port: 3001, sniHosts: ['localhost'] }])).toEqual({ ok: true, value: [1] });
    expect(selectTlsRoutes(tls, [{ port: 0, sniHosts: ['localhost'] }])).toEqual({
      ok: false,
      error: 'No matching TLS routes found in the defined Virtual Service.',
    });
    expect(selectTlsRoutes(tls, [])).toEqual({ ok: true, value: [0] });
  });

  it('never matches a tls route whose match blocks name two ports', () => {
    const tls = [{ match: [{ port: 1 }, { port: 2 }], route: [] }];
    expect(selectTlsRoutes(tls, [{ port: 1, sniHosts: [] }]).ok).toBe(false);
  });
});

describe('validateVirtualService', () => {
  it('names the missing canary and stable subsets (TestValidateHTTPRoutesSubsets)', () => {
    const vs = yaml(singleRouteSubsetVsvc);
    expect(validateVirtualService(vs, ref(), SUBSET, [])).toBeUndefined();
    expect(validateVirtualService(vs, ref(), { ...SUBSET, stableSubset: 'doesntexist' }, [])).toContain(
      "Error: Stable DestinationRule subset 'doesntexist' not found in route",
    );
    expect(validateVirtualService(vs, ref(), { ...SUBSET, canarySubset: 'doesntexist' }, [])).toContain(
      "Error: Canary DestinationRule subset 'doesntexist' not found in route",
    );
  });

  it('refuses a VirtualService without http, tls and tcp routes', () => {
    expect(validateVirtualService({ spec: {} }, ref(), HOST, [])).toBe(
      'spec.strategy.canary.trafficRouting.istio.virtualService.name: Invalid value: "vsvc": Unable to get any of the HTTP, TCP or TLS routes for the Istio VirtualService',
    );
  });

  it('refuses malformed routes instead of guessing', () => {
    expect(validateVirtualService({ spec: { http: ['invalid'] } }, ref(), HOST, [])).toContain(
      'spec.http[0] must be an object',
    );
  });

  it('does not count managed routes when the route list is omitted', () => {
    const vs = {
      spec: {
        http: [
          { name: 'hdr', route: [d('canary', 100)] },
          { name: 'main', route: [d('stable', 100), d('canary', 0)] },
        ],
      },
    };
    expect(validateVirtualService(vs, ref(), HOST, ['hdr'])).toBeUndefined();
    expect(validateVirtualService(vs, ref(), HOST, [])).toContain(
      'spec.http[] should be set in VirtualService',
    );
  });
});

describe('managed routes', () => {
  it('puts managed routes first in managedRoutes order, the rest in their order', () => {
    const http = [{ name: 'primary' }, { name: 'm2' }, {}, { name: 'm1' }, { name: 'secondary' }];
    expect(orderRoutes(http, ['m1', 'm2']).map((r) => r.name)).toEqual([
      'm1',
      'm2',
      'primary',
      undefined,
      'secondary',
    ]);
    expect(orderRoutes(http, [])).toEqual(http);
  });

  it('removes only the named routes and returns the same object when there are none', () => {
    const vs = { spec: { http: [{ name: 'a' }, { name: 'b' }] } };
    expect(withoutManagedRoutes(vs, ['c'])).toBe(vs);
    expect(withoutManagedRoutes(vs, ['a'])).toEqual({ spec: { http: [{ name: 'b' }] } });
    const tlsOnly = { spec: { tls: [] } };
    expect(withoutManagedRoutes(tlsOnly, ['a'])).toBe(tlsOnly);
  });
});
