// The second stage of a pick: a pod of the side the weights chose. Round robin is exact; least
// outstanding goes to the endpoint with the fewest requests in flight and is round robin among ties.

import { describe, expect, it } from 'vitest';
import type { RoutesConfig } from '../../../../proxy/config.ts';
import { EndpointPicker, type SnapshotEndpoint } from '../../../../proxy/routing/endpoint-picker.ts';
import { createKeyRing } from '../../../../proxy/routing/key-ring.ts';
import { mirrorTarget, pickBackend } from '../../../../proxy/routing/pick.ts';
import { buildSnapshot } from '../../../../proxy/routing/snapshot.ts';
import { validateRoutesConfig } from '../../../../proxy/routing/validate.ts';

/** A fake upstream handle: its address and a settable in-flight count. */
interface Fake {
  address: string;
  inFlight: number;
}

function endpoints(n: number): SnapshotEndpoint<Fake>[] {
  return Array.from({ length: n }, (_, i) => {
    const address = `http://10.0.0.${i + 1}:8080`;
    return { address, upstream: { address, inFlight: 0 } };
  });
}

const inFlight = (f: Fake): number => f.inFlight;

function indexes(picker: EndpointPicker<Fake>, eps: SnapshotEndpoint<Fake>[], count: number): number[] {
  return Array.from({ length: count }, () => eps.indexOf(picker.pick()!));
}

describe('round robin over endpoints', () => {
  it('gives each of n endpoints exactly N/n of N requests, every window of n covering all', () => {
    const eps = endpoints(3);
    const picker = new EndpointPicker(eps, 'round-robin', null, 0);
    const seq = indexes(picker, eps, 3_000);
    const counts = [0, 0, 0];
    for (const i of seq) counts[i]!++;
    expect(counts).toEqual([1_000, 1_000, 1_000]);
    for (let w = 0; w + 3 <= seq.length; w += 3) expect(new Set(seq.slice(w, w + 3)).size).toBe(3);
  });

  it('starts where the injected draw says, so proxies do not all start on the first pod', () => {
    const eps = endpoints(4);
    expect(indexes(new EndpointPicker(eps, 'round-robin', null, 0.5), eps, 5)).toEqual([2, 3, 0, 1, 2]);
    expect(indexes(new EndpointPicker(eps, 'round-robin', null, 0.999), eps, 2)).toEqual([3, 0]);
  });

  it('never looks at the in-flight counts', () => {
    const eps = endpoints(2);
    eps[0]!.upstream.inFlight = 100;
    const picker = new EndpointPicker(eps, 'round-robin', inFlight, 0);
    expect(indexes(picker, eps, 4)).toEqual([0, 1, 0, 1]);
  });
});

describe('least outstanding requests', () => {
  it('prefers the idle endpoint over busy ones', () => {
    const eps = endpoints(3);
    eps[0]!.upstream.inFlight = 3;
    eps[2]!.upstream.inFlight = 5;
    const picker = new EndpointPicker(eps, 'least-outstanding', inFlight, 0);
    expect(indexes(picker, eps, 3)).toEqual([1, 1, 1]);
  });

  it('takes the least loaded when none is idle', () => {
    const eps = endpoints(3);
    eps[0]!.upstream.inFlight = 4;
    eps[1]!.upstream.inFlight = 2;
    eps[2]!.upstream.inFlight = 3;
    expect(new EndpointPicker(eps, 'least-outstanding', inFlight, 0).pick()).toBe(eps[1]);
  });

  it('breaks ties round robin: with equal load it is exactly round robin', () => {
    const eps = endpoints(3);
    const picker = new EndpointPicker(eps, 'least-outstanding', inFlight, 0);
    expect(indexes(picker, eps, 7)).toEqual([0, 1, 2, 0, 1, 2, 0]);
    for (const e of eps) e.upstream.inFlight = 2;
    expect(indexes(picker, eps, 3)).toEqual([1, 2, 0]);
  });

  it('spreads concurrent requests: each pick counted in flight until it ends', () => {
    const eps = endpoints(4);
    const picker = new EndpointPicker(eps, 'least-outstanding', inFlight, 0);
    for (let i = 0; i < 8; i++) picker.pick()!.upstream.inFlight++;
    expect(eps.map((e) => e.upstream.inFlight)).toEqual([2, 2, 2, 2]);
    // one endpoint finishes its requests: the next two go there
    eps[2]!.upstream.inFlight = 0;
    const next = [picker.pick()!, picker.pick()!];
    expect(next).toEqual([eps[2], eps[2]]);
  });

  it('needs the in-flight counts', () => {
    expect(() => new EndpointPicker(endpoints(2), 'least-outstanding', null, 0)).toThrow(/in-flight/);
  });
});

describe('either policy', () => {
  it.each(['round-robin', 'least-outstanding'] as const)(
    '%s: one endpoint is always it, none is null',
    (policy) => {
      const one = endpoints(1);
      const picker = new EndpointPicker(
        one,
        policy,
        () => {
          throw new Error('a single endpoint needs no count');
        },
        0.7,
      );
      for (let i = 0; i < 3; i++) expect(picker.pick()).toBe(one[0]);
      expect(new EndpointPicker([], policy, inFlight, 0.3).pick()).toBeNull();
    },
  );
});

describe('endpoints in a snapshot', () => {
  const KEYS = createKeyRing([{ id: 'k1', secret: Buffer.alloc(32, 3) }]);

  function build(input: unknown, random: () => number = () => 0) {
    const v = validateRoutesConfig(input);
    if (!v.ok) throw new Error(JSON.stringify(v.errors));
    const upstreams = new Map<string, Fake>();
    const snap = buildSnapshot(v.config, 1, {
      upstreamFor: (address) => {
        const f = upstreams.get(address) ?? { address, inFlight: 0 };
        upstreams.set(address, f);
        return f;
      },
      outstanding: inFlight,
      series: (l) => ({ labels: l, record() {} }),
      keys: KEYS,
      defaultTimeouts: { connectMs: 1_000, responseHeadersMs: 1_000, idleBodyMs: 1_000 },
      random,
    });
    return { snap, upstreams };
  }

  const route = (extra: Record<string, unknown> = {}): RoutesConfig['routes'][number] =>
    ({
      name: 'checkout',
      backends: [
        {
          name: 'stable',
          revision: 's1',
          endpoints: ['http://10.0.0.1:80', 'http://10.0.0.2:80'],
          weight: 50,
        },
        {
          name: 'canary',
          revision: 'c1',
          endpoints: ['http://10.0.1.1:80', 'http://10.0.1.2:80'],
          weight: 50,
        },
      ],
      ...extra,
    }) as RoutesConfig['routes'][number];

  it('chooses the side by exact weights, then a pod of that side in turn', () => {
    const { snap } = build({ routes: [route({ endpointPolicy: 'round-robin' })] });
    const r = snap.routes[0]!;
    const counts = new Map<string, number>();
    for (let i = 0; i < 4_000; i++) {
      const p = pickBackend(r, () => undefined, false, 0);
      if (p.kind !== 'backend') throw new Error('no backend');
      const e = p.backend.picker.pick()!;
      counts.set(`${p.backend.name} ${e.address}`, (counts.get(`${p.backend.name} ${e.address}`) ?? 0) + 1);
    }
    expect(Object.fromEntries(counts)).toEqual({
      'stable http://10.0.0.1': 1_000,
      'stable http://10.0.0.2': 1_000,
      'canary http://10.0.1.1': 1_000,
      'canary http://10.0.1.2': 1_000,
    });
  });

  it('shares one upstream handle per address across backends, routes and snapshots', () => {
    const { snap, upstreams } = build({
      routes: [route(), { ...route(), name: 'other', match: { pathPrefix: '/other' } }],
    });
    expect([...upstreams.keys()]).toEqual([
      'http://10.0.0.1',
      'http://10.0.0.2',
      'http://10.0.1.1',
      'http://10.0.1.2',
    ]);
    expect(snap.routes[0]!.backends[1]!.endpoints[0]!.upstream).toBe(
      snap.routes[1]!.backends[1]!.endpoints[0]!.upstream,
    );
  });

  it('defaults to least-outstanding', () => {
    const { snap, upstreams } = build({ routes: [route()] });
    upstreams.get('http://10.0.0.1')!.inFlight = 1;
    const stable = snap.routes[0]!.backends[0]!;
    expect(snap.routes[0]!.endpointPolicy).toBe('least-outstanding');
    expect([stable.picker.pick()!.address, stable.picker.pick()!.address]).toEqual([
      'http://10.0.0.2',
      'http://10.0.0.2',
    ]);
  });

  it('has no endpoint to give for a side with no ready pod, and mirrors pick pods too', () => {
    const { snap } = build({
      routes: [
        route({
          backends: [
            { name: 'stable', revision: 's1', address: 'http://10.0.0.1:80', weight: 100 },
            { name: 'canary', revision: 'c1', endpoints: [], weight: 0 },
          ],
          mirror: { backend: 'canary', percent: 100 },
        }),
      ],
    });
    const r = snap.routes[0]!;
    expect(r.backends[1]!.picker.pick()).toBeNull();
    expect(mirrorTarget(r)?.picker.pick()).toBeNull();
  });

  it('draws a start only for backends with a choice, leaving sticky bucket draws unchanged', () => {
    const draws: string[] = [];
    const random = () => {
      draws.push('draw');
      return 0.5;
    };
    build(
      {
        routes: [
          route({
            backends: [
              { name: 'stable', revision: 's1', address: 'http://10.0.0.1:80', weight: 50 },
              { name: 'canary', revision: 'c1', endpoints: ['http://10.0.1.1:80'], weight: 50 },
            ],
          }),
        ],
      },
      random,
    );
    expect(draws).toEqual([]);
    build({ routes: [route()] }, random);
    expect(draws).toEqual(['draw', 'draw']);
  });

  it('describes the endpoints and the policy for the admin /config', () => {
    const { snap } = build({
      routes: [
        route({
          backends: [
            { name: 'stable', revision: 's1', address: 'http://10.0.0.1:80/', weight: 90 },
            {
              name: 'canary',
              revision: 'c1',
              endpoints: ['http://10.0.1.1:80', 'http://10.0.1.2:8080'],
              weight: 10,
            },
          ],
        }),
      ],
    });
    const d = JSON.parse(JSON.stringify(snap.describe()));
    expect(d.routes[0].endpointPolicy).toBe('least-outstanding');
    expect(d.routes[0].backends).toEqual([
      { name: 'stable', revision: 's1', address: 'http://10.0.0.1', weightPercent: 90, weightBp: 9_000 },
      {
        name: 'canary',
        revision: 'c1',
        endpoints: ['http://10.0.1.1', 'http://10.0.1.2:8080'],
        weightPercent: 10,
        weightBp: 1_000,
      },
    ]);
  });
});
