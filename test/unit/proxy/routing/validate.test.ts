import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { percentToBp, validateRoutesConfig } from '../../../../proxy/routing/validate.ts';

type Json = Record<string, unknown>;

function baseRoute(overrides: Json = {}): Json {
  return {
    name: 'checkout',
    match: { host: 'shop.example.com', pathPrefix: '/' },
    backends: [
      { name: 'stable', revision: '6f9c7d', address: 'http://127.0.0.1:9001', weight: 90 },
      { name: 'canary', revision: '84b2a1', address: 'http://127.0.0.1:9002', weight: 10 },
    ],
    ...overrides,
  };
}

function backends(...weights: unknown[]): Json[] {
  return weights.map((weight, i) => ({
    name: `b${i}`,
    revision: `r${i}`,
    address: `http://127.0.0.1:${9001 + i}`,
    weight,
  }));
}

function errorsOf(input: unknown): { path: string; message: string }[] {
  const r = validateRoutesConfig(input);
  if (r.ok) throw new Error('expected validation to fail');
  return r.errors;
}

describe('percent to basis points', () => {
  it.each([
    [0, 0],
    [100, 10_000],
    [12.34, 1_234],
    [0.01, 1],
    [0.1, 10],
    [0.29, 29],
    [33.33, 3_333],
    [99.99, 9_999],
  ])('converts %s%% to %s bp exactly', (percent, bp) => {
    expect(percentToBp(percent)).toEqual({ ok: true, bp });
  });

  it.each([[-1], [100.01], [0.001], [12.345], [Number.NaN], [Infinity], ['10'], [null], [0.1 + 0.2]])(
    'rejects %s',
    (value) => {
      expect(percentToBp(value).ok).toBe(false);
    },
  );
});

describe('routes validation', () => {
  it('accepts the issue example and fills defaults', () => {
    const r = validateRoutesConfig({
      routes: [
        baseRoute({
          namespace: 'shop',
          stickySessions: { cookie: 'sluice-checkout' },
          headerRoutes: [{ name: 'beta', match: [{ header: 'X-Beta', exact: 'true' }], backend: 'canary' }],
          mirror: { backend: 'canary', percent: 5 },
          timeouts: { connectMs: 500 },
        }),
        { name: 'any', backends: backends(100) },
      ],
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const [checkout, any] = r.config.routes;
    expect(checkout!.stickySessions).toEqual({ cookie: 'sluice-checkout', maxAgeSeconds: 3600 });
    expect(checkout!.headerRoutes![0]!.match[0]!.header).toBe('x-beta');
    expect(any!.match).toEqual({ host: '*', pathPrefix: '/' });
  });

  it('normalises hosts, prefixes and addresses', () => {
    const r = validateRoutesConfig({
      routes: [
        {
          name: 'a',
          match: { host: 'Shop.Example.COM.', pathPrefix: '/api//' },
          backends: [{ name: 's', revision: 'r', address: 'http://LOCALHOST:80/', weight: 100 }],
        },
      ],
    });
    expect(r.ok && r.config.routes[0]).toMatchObject({
      match: { host: 'shop.example.com', pathPrefix: '/api' },
      backends: [{ address: 'http://localhost' }],
    });
  });

  it('accepts an empty route list', () => {
    expect(validateRoutesConfig({ routes: [] }).ok).toBe(true);
  });

  it.each<[string, unknown, string, string]>([
    ['document not a mapping', 'routes: []', '', 'mapping'],
    ['routes not a list', { routes: {} }, 'routes', 'list'],
    ['unknown top-level field', { routes: [], rotues: [] }, 'rotues', 'unknown field'],
    ['unknown route field', { routes: [baseRoute({ wieght: 1 })] }, 'routes[0].wieght', 'unknown field'],
    ['empty route name', { routes: [baseRoute({ name: '' })] }, 'routes[0].name', 'non-empty'],
    [
      'host with a port',
      { routes: [baseRoute({ match: { host: 'a.example:80' } })] },
      'routes[0].match.host',
      'port',
    ],
    [
      'host with a space',
      { routes: [baseRoute({ match: { host: 'a b' } })] },
      'routes[0].match.host',
      'host name',
    ],
    [
      'prefix without slash',
      { routes: [baseRoute({ match: { pathPrefix: 'api' } })] },
      'routes[0].match.pathPrefix',
      'start with "/"',
    ],
    [
      'prefix with a query',
      { routes: [baseRoute({ match: { pathPrefix: '/a?b' } })] },
      'routes[0].match.pathPrefix',
      'query',
    ],
    [
      'unknown match field',
      { routes: [baseRoute({ match: { path: '/' } })] },
      'routes[0].match.path',
      'unknown field',
    ],
    ['no backends', { routes: [baseRoute({ backends: [] })] }, 'routes[0].backends', 'non-empty'],
    [
      'weight above 100',
      { routes: [baseRoute({ backends: backends(90, 101) })] },
      'routes[0].backends[1].weight',
      'between 0 and 100',
    ],
    [
      'weight negative',
      { routes: [baseRoute({ backends: backends(-1, 101) })] },
      'routes[0].backends[0].weight',
      'between 0 and 100',
    ],
    [
      'weight three decimals',
      { routes: [baseRoute({ backends: backends(89.995, 10.005) })] },
      'routes[0].backends[0].weight',
      'two decimals',
    ],
    [
      'weight as a string',
      { routes: [baseRoute({ backends: backends('90', 10) })] },
      'routes[0].backends[0].weight',
      'number',
    ],
    [
      'weights not summing to 100',
      { routes: [baseRoute({ backends: backends(90, 9.99) })] },
      'routes[0].backends',
      'sum to exactly 100 (they sum to 99.99)',
    ],
    [
      'address not a URL',
      { routes: [baseRoute({ backends: [{ ...backends(100)[0], address: '127.0.0.1:9001' }] })] },
      'routes[0].backends[0].address',
      'http',
    ],
    [
      'address with a path',
      { routes: [baseRoute({ backends: [{ ...backends(100)[0], address: 'http://a:1/x' }] })] },
      'routes[0].backends[0].address',
      'origin only',
    ],
    [
      'address with a query',
      { routes: [baseRoute({ backends: [{ ...backends(100)[0], address: 'http://a:1?x' }] })] },
      'routes[0].backends[0].address',
      'origin only',
    ],
    [
      'address with ftp',
      { routes: [baseRoute({ backends: [{ ...backends(100)[0], address: 'ftp://a:1' }] })] },
      'routes[0].backends[0].address',
      'http',
    ],
    [
      'address with credentials',
      { routes: [baseRoute({ backends: [{ ...backends(100)[0], address: 'http://u:p@a:1' }] })] },
      'routes[0].backends[0].address',
      'credentials',
    ],
    [
      'missing revision',
      { routes: [baseRoute({ backends: [{ name: 's', address: 'http://a:1', weight: 100 }] })] },
      'routes[0].backends[0].revision',
      'non-empty',
    ],
    [
      'unknown backend field',
      { routes: [baseRoute({ backends: [{ ...backends(100)[0], wieght: 1 }] })] },
      'routes[0].backends[0].wieght',
      'unknown field',
    ],
    [
      'duplicate backend name',
      { routes: [baseRoute({ backends: [backends(50)[0], { ...backends(0, 50)[1], name: 'b0' }] })] },
      'routes[0].backends[1].name',
      'duplicate backend',
    ],
    [
      'bad cookie name',
      { routes: [baseRoute({ stickySessions: { cookie: 'a b' } })] },
      'routes[0].stickySessions.cookie',
      'cookie name',
    ],
    [
      'cookie name with =',
      { routes: [baseRoute({ stickySessions: { cookie: 'a=b' } })] },
      'routes[0].stickySessions.cookie',
      'cookie name',
    ],
    [
      'max age 0',
      { routes: [baseRoute({ stickySessions: { cookie: 'c', maxAgeSeconds: 0 } })] },
      'routes[0].stickySessions.maxAgeSeconds',
      'between 1 and 604800',
    ],
    [
      'max age above a week',
      { routes: [baseRoute({ stickySessions: { cookie: 'c', maxAgeSeconds: 604_801 } })] },
      'routes[0].stickySessions.maxAgeSeconds',
      'between 1 and 604800',
    ],
    [
      'max age fractional',
      { routes: [baseRoute({ stickySessions: { cookie: 'c', maxAgeSeconds: 1.5 } })] },
      'routes[0].stickySessions.maxAgeSeconds',
      'integer',
    ],
    [
      'header route to unknown backend',
      {
        routes: [
          baseRoute({ headerRoutes: [{ name: 'h', match: [{ header: 'x', exact: 'y' }], backend: 'nope' }] }),
        ],
      },
      'routes[0].headerRoutes[0].backend',
      "route's backends",
    ],
    [
      'header matcher with two kinds',
      {
        routes: [
          baseRoute({
            headerRoutes: [
              { name: 'h', match: [{ header: 'x', exact: 'y', prefix: 'z' }], backend: 'canary' },
            ],
          }),
        ],
      },
      'routes[0].headerRoutes[0].match[0]',
      'exactly one of',
    ],
    [
      'header matcher with no kind',
      { routes: [baseRoute({ headerRoutes: [{ name: 'h', match: [{ header: 'x' }], backend: 'canary' }] })] },
      'routes[0].headerRoutes[0].match[0]',
      'exactly one of',
    ],
    [
      'header name not a token',
      {
        routes: [
          baseRoute({
            headerRoutes: [{ name: 'h', match: [{ header: 'x y', exact: 'y' }], backend: 'canary' }],
          }),
        ],
      },
      'routes[0].headerRoutes[0].match[0].header',
      'token',
    ],
    [
      'regex that does not compile',
      {
        routes: [
          baseRoute({
            headerRoutes: [{ name: 'h', match: [{ header: 'x', regex: '(' }], backend: 'canary' }],
          }),
        ],
      },
      'routes[0].headerRoutes[0].match[0].regex',
      'does not compile',
    ],
    [
      'empty header matcher list',
      { routes: [baseRoute({ headerRoutes: [{ name: 'h', match: [], backend: 'canary' }] })] },
      'routes[0].headerRoutes[0].match',
      'non-empty',
    ],
    [
      'duplicate header route name',
      {
        routes: [
          baseRoute({
            headerRoutes: [
              { name: 'h', match: [{ header: 'x', exact: '1' }], backend: 'canary' },
              { name: 'h', match: [{ header: 'x', exact: '2' }], backend: 'stable' },
            ],
          }),
        ],
      },
      'routes[0].headerRoutes[1].name',
      'duplicate header route',
    ],
    [
      'mirror to unknown backend',
      { routes: [baseRoute({ mirror: { backend: 'nope', percent: 5 } })] },
      'routes[0].mirror.backend',
      "route's backends",
    ],
    [
      'mirror percent above 100',
      { routes: [baseRoute({ mirror: { backend: 'canary', percent: 150 } })] },
      'routes[0].mirror.percent',
      'between 0 and 100',
    ],
    [
      'mirror percent three decimals',
      { routes: [baseRoute({ mirror: { backend: 'canary', percent: 1.234 } })] },
      'routes[0].mirror.percent',
      'two decimals',
    ],
    [
      'timeout zero',
      { routes: [baseRoute({ timeouts: { connectMs: 0 } })] },
      'routes[0].timeouts.connectMs',
      'positive integer',
    ],
    [
      'timeout fractional',
      { routes: [baseRoute({ timeouts: { idleBodyMs: 1.5 } })] },
      'routes[0].timeouts.idleBodyMs',
      'positive integer',
    ],
    [
      'unknown timeout',
      { routes: [baseRoute({ timeouts: { readMs: 1 } })] },
      'routes[0].timeouts.readMs',
      'unknown field',
    ],
    [
      'duplicate route name',
      { routes: [baseRoute(), baseRoute({ match: { pathPrefix: '/x' } })] },
      'routes[1].name',
      'duplicate route name',
    ],
    [
      'duplicate host and prefix',
      {
        routes: [
          baseRoute(),
          baseRoute({ name: 'other', match: { host: 'SHOP.example.com', pathPrefix: '//' } }),
        ],
      },
      'routes[1].match',
      'same host',
    ],
    [
      'duplicate default match',
      {
        routes: [
          { name: 'a', backends: backends(100) },
          { name: 'b', match: { host: '*' }, backends: backends(100) },
        ],
      },
      'routes[1].match',
      'same host',
    ],
  ])('rejects %s at its field path', (_name, input, path, fragment) => {
    const errors = errorsOf(input);
    const hit = errors.find((e) => e.path === path);
    expect(hit, JSON.stringify(errors)).toBeDefined();
    expect(hit!.message).toContain(fragment);
  });

  it('reports every error, not only the first', () => {
    const errors = errorsOf({
      routes: [
        baseRoute({ name: '', backends: backends(90, 101) }),
        baseRoute({ timeouts: { connectMs: -1 } }),
      ],
    });
    expect(errors.map((e) => e.path)).toEqual(
      expect.arrayContaining([
        'routes[0].name',
        'routes[0].backends[1].weight',
        'routes[1].timeouts.connectMs',
      ]),
    );
  });

  it('never throws on arbitrary input', () => {
    for (const input of [
      null,
      undefined,
      42,
      'x',
      [],
      { routes: [null, 1, 'x', []] },
      { routes: [{ backends: [null] }] },
    ]) {
      expect(validateRoutesConfig(input).ok).toBe(false);
    }
  });

  it('never throws on random structures shaped like a routes file', () => {
    const value = fc.oneof(fc.anything(), fc.constant('http://127.0.0.1:1'), fc.double(), fc.integer());
    const backend = fc.dictionary(
      fc.constantFrom('name', 'revision', 'address', 'endpoints', 'weight', 'x'),
      fc.oneof(value, fc.array(value, { maxLength: 3 })),
    );
    const route = fc.dictionary(
      fc.constantFrom(
        'name',
        'match',
        'backends',
        'stickySessions',
        'headerRoutes',
        'mirror',
        'timeouts',
        'endpointPolicy',
      ),
      fc.oneof(value, fc.array(backend, { maxLength: 3 }), fc.dictionary(fc.string(), value)),
    );
    fc.assert(
      fc.property(fc.array(route, { maxLength: 4 }), (routes) => {
        const r = validateRoutesConfig({ routes });
        return r.ok || r.errors.every((e) => typeof e.path === 'string' && e.message.length > 0);
      }),
      { seed: 3, numRuns: 300 },
    );
  });
});

describe('backends given as endpoints', () => {
  function withEndpoints(stable: unknown, canary: unknown = ['http://10.0.1.1:8080']): Json {
    return baseRoute({
      backends: [
        { name: 'stable', revision: 's1', endpoints: stable, weight: 50 },
        { name: 'canary', revision: 'c1', endpoints: canary, weight: 50 },
      ],
    });
  }

  it('reduces each endpoint to its origin and keeps the form the backend was given in', () => {
    const r = validateRoutesConfig({
      routes: [
        baseRoute({
          backends: [
            { name: 'stable', revision: 's1', address: 'http://127.0.0.1:9001/', weight: 50 },
            {
              name: 'canary',
              revision: 'c1',
              endpoints: ['http://10.0.1.1:8080/', 'HTTPS://Pod-B.example:443', 'http://[fd00::1]:80'],
              weight: 50,
            },
          ],
        }),
      ],
    });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.config.routes[0]!.backends).toEqual([
      { name: 'stable', revision: 's1', address: 'http://127.0.0.1:9001', weight: 50 },
      {
        name: 'canary',
        revision: 'c1',
        endpoints: ['http://10.0.1.1:8080', 'https://pod-b.example', 'http://[fd00::1]'],
        weight: 50,
      },
    ]);
  });

  it('accepts an empty list: the side has no ready pod', () => {
    const r = validateRoutesConfig({ routes: [withEndpoints([])] });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.config.routes[0]!.backends[0]).toEqual({
      name: 'stable',
      revision: 's1',
      endpoints: [],
      weight: 50,
    });
  });

  it.each<[string, Json, string, string]>([
    [
      'neither address nor endpoints',
      baseRoute({ backends: [{ name: 's', revision: 'r', weight: 100 }] }),
      'routes[0].backends[0]',
      'exactly one of address, endpoints (found none)',
    ],
    [
      'both address and endpoints',
      baseRoute({
        backends: [
          { name: 's', revision: 'r', address: 'http://a:1', endpoints: ['http://b:1'], weight: 100 },
        ],
      }),
      'routes[0].backends[0].endpoints',
      'not be given together with address',
    ],
    ['endpoints not a list', withEndpoints('http://10.0.0.1:80'), 'routes[0].backends[0].endpoints', 'list'],
    [
      'an endpoint with a path',
      withEndpoints(['http://10.0.0.1:80', 'http://10.0.0.2:80/x']),
      'routes[0].backends[0].endpoints[1]',
      'origin only',
    ],
    [
      'an endpoint that is not a URL',
      withEndpoints([42]),
      'routes[0].backends[0].endpoints[0]',
      'http:// or https:// URL',
    ],
    [
      'a duplicate endpoint (after normalising)',
      withEndpoints(['http://10.0.0.1:8080', 'http://10.0.0.2:8080', 'HTTP://10.0.0.1:8080/']),
      'routes[0].backends[0].endpoints[2]',
      'duplicate endpoint "http://10.0.0.1:8080" (also routes[0].backends[0].endpoints[0])',
    ],
    [
      'an unknown endpoint policy',
      { ...withEndpoints(['http://10.0.0.1:80']), endpointPolicy: 'random' },
      'routes[0].endpointPolicy',
      '"least-outstanding" or "round-robin"',
    ],
  ])('rejects %s at its field path', (_name, route, path, fragment) => {
    const errors = errorsOf({ routes: [route] });
    const hit = errors.find((e) => e.path === path);
    expect(hit, JSON.stringify(errors)).toBeDefined();
    expect(hit!.message).toContain(fragment);
  });

  it.each(['least-outstanding', 'round-robin'])('accepts endpointPolicy %s', (policy) => {
    const r = validateRoutesConfig({
      routes: [{ ...withEndpoints(['http://10.0.0.1:80']), endpointPolicy: policy }],
    });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.config.routes[0]!.endpointPolicy).toBe(policy);
  });
});
