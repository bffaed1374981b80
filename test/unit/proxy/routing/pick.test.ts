import { describe, expect, it } from 'vitest';
import type { RoutesConfig } from '../../../../proxy/config.ts';
import { createKeyRing } from '../../../../proxy/routing/key-ring.ts';
import { mirrorTarget, pickBackend } from '../../../../proxy/routing/pick.ts';
import { buildSnapshot } from '../../../../proxy/routing/snapshot.ts';
import type { BackendPick } from '../../../../proxy/routing/snapshot-types.ts';
import { validateRoutesConfig } from '../../../../proxy/routing/validate.ts';
import type { SeriesLabels } from '../../../../proxy/telemetry.ts';

const KEYS = createKeyRing([{ id: 'k1', secret: Buffer.alloc(32, 7) }]);
const DEFAULT_TIMEOUTS = { connectMs: 1_000, responseHeadersMs: 5_000, idleBodyMs: 30_000 };

function snapshotOf(input: unknown, version = 1) {
  const v = validateRoutesConfig(input);
  if (!v.ok) throw new Error(JSON.stringify(v.errors));
  const upstreams: string[] = [];
  const labels: SeriesLabels[] = [];
  const snap = buildSnapshot(v.config, version, {
    outstanding: () => 0,
    upstreamFor: (address) => {
      upstreams.push(address);
      return `pool:${address}`;
    },
    series: (l) => {
      labels.push(l);
      return { labels: l, record() {} };
    },
    keys: KEYS,
    defaultTimeouts: DEFAULT_TIMEOUTS,
  });
  return { snap, upstreams, labels };
}

const noHeaders = () => undefined;
const nameOf = (p: BackendPick<string>) => (p.kind === 'backend' ? p.backend.name : 'none');

function twoBackends(canary: number, extra: Record<string, unknown> = {}) {
  return {
    routes: [
      {
        name: 'checkout',
        namespace: 'shop',
        backends: [
          { name: 'stable', revision: 's1', address: 'http://127.0.0.1:9001/', weight: 100 - canary },
          { name: 'canary', revision: 'c1', address: 'http://127.0.0.1:9002', weight: canary },
        ],
        ...extra,
      },
    ],
  };
}

describe('picking a backend', () => {
  it('splits plain requests exactly by weight and reuses the same result objects', () => {
    const route = snapshotOf(twoBackends(10)).snap.routes[0]!;
    const seen = new Set<BackendPick<string>>();
    let canary = 0;
    for (let i = 0; i < 10_000; i++) {
      const p = pickBackend(route, noHeaders, false, 0);
      seen.add(p);
      if (nameOf(p) === 'canary') canary++;
      expect(p.kind === 'backend' && p.via).toBe('weight');
    }
    expect(canary).toBe(1_000);
    expect(seen.size).toBe(2); // preallocated: no per-request allocation on the plain path
  });

  it('never picks a backend of weight 0 and starts fresh with each snapshot', () => {
    const route = snapshotOf(twoBackends(0)).snap.routes[0]!;
    for (let i = 0; i < 1_000; i++) expect(nameOf(pickBackend(route, noHeaders, false, 0))).toBe('stable');
    const a = snapshotOf(twoBackends(50)).snap.routes[0]!;
    const b = snapshotOf(twoBackends(50)).snap.routes[0]!;
    expect(nameOf(pickBackend(a, noHeaders, false, 0))).toBe(nameOf(pickBackend(b, noHeaders, false, 0)));
  });

  it('returns none when no backend has weight', () => {
    const config: RoutesConfig = {
      routes: [
        {
          name: 'x',
          match: { host: '*', pathPrefix: '/' },
          backends: [{ name: 'a', revision: 'r', address: 'http://127.0.0.1:1', weight: 0 }],
        },
      ],
    };
    const snap = buildSnapshot(config, 1, {
      upstreamFor: (a) => a,
      outstanding: () => 0,
      series: (l) => ({ labels: l, record() {} }),
      keys: KEYS,
      defaultTimeouts: DEFAULT_TIMEOUTS,
    });
    expect(pickBackend(snap.routes[0]!, noHeaders, false, 0)).toEqual({ kind: 'none' });
  });

  it('evaluates header routes first, first match wins, all matchers must match', () => {
    const route = snapshotOf(
      twoBackends(0, {
        headerRoutes: [
          {
            name: 'both',
            match: [
              { header: 'X-Beta', exact: 'true' },
              { header: 'x-tier', prefix: 'gold' },
            ],
            backend: 'stable',
          },
          { name: 'beta', match: [{ header: 'x-beta', exact: 'true' }], backend: 'canary' },
          { name: 'agent', match: [{ header: 'user-agent', regex: '^Canary/\\d+' }], backend: 'canary' },
        ],
      }),
    ).snap.routes[0]!;
    const pick = (h: Record<string, string>) => pickBackend(route, (n) => h[n], false, 0);
    expect(pick({ 'x-beta': 'true', 'x-tier': 'gold-plus' })).toMatchObject({
      via: 'header',
      backend: { name: 'stable' },
    });
    expect(pick({ 'x-beta': 'true' })).toMatchObject({ via: 'header', backend: { name: 'canary' } });
    expect(pick({ 'x-beta': 'TRUE' })).toMatchObject({ via: 'weight', backend: { name: 'stable' } });
    expect(pick({ 'user-agent': 'Canary/2 (x)' })).toMatchObject({
      via: 'header',
      backend: { name: 'canary' },
    });
    expect(pick({ 'user-agent': 'Mozilla Canary/2' })).toMatchObject({ via: 'weight' });
    expect(pick({})).toMatchObject({ via: 'weight', backend: { name: 'stable' } });
  });

  it('mirrors exactly the configured percentage, evenly spread', () => {
    const route = snapshotOf(twoBackends(10, { mirror: { backend: 'canary', percent: 5 } })).snap.routes[0]!;
    let mirrored = 0;
    for (let i = 1; i <= 10_000; i++) {
      const m = mirrorTarget(route);
      if (m !== null) {
        expect(m.name).toBe('canary');
        mirrored++;
      }
      expect(mirrored).toBe(Math.floor((i * 5) / 100));
    }
    const none = snapshotOf(twoBackends(10)).snap.routes[0]!;
    expect(mirrorTarget(none)).toBeNull();
    const zero = snapshotOf(twoBackends(10, { mirror: { backend: 'canary', percent: 0 } })).snap.routes[0]!;
    expect(mirrorTarget(zero)).toBeNull();
  });
});

describe('route snapshot', () => {
  it('resolves upstreams by origin and series by route x backend once, at build time', () => {
    const { snap, upstreams, labels } = snapshotOf(twoBackends(10));
    expect(upstreams).toEqual(['http://127.0.0.1:9001', 'http://127.0.0.1:9002']);
    expect(labels).toEqual([
      { app: 'checkout', namespace: 'shop', role: 'stable', revision: 's1' },
      { app: 'checkout', namespace: 'shop', role: 'canary', revision: 'c1' },
    ]);
    const b = snap.routes[0]!.backends[1]!;
    expect(b).toMatchObject({
      index: 1,
      weightBp: 1_000,
      mode: 'address',
      endpoints: [{ address: 'http://127.0.0.1:9002', upstream: 'pool:http://127.0.0.1:9002' }],
    });
    expect(b.picker.pick()?.upstream).toBe('pool:http://127.0.0.1:9002');
    expect(b.series.labels.revision).toBe('c1');
  });

  it('matches exact hosts before *, longest prefix first', () => {
    const backends = [{ name: 'b', revision: 'r', address: 'http://127.0.0.1:1', weight: 100 }];
    const { snap } = snapshotOf({
      routes: [
        { name: 'any', backends },
        { name: 'shop', match: { host: 'Shop.Example.com' }, backends },
        { name: 'shop-api', match: { host: 'shop.example.com', pathPrefix: '/api/' }, backends },
      ],
    });
    expect(snap.match('SHOP.example.com:443', '/api/x')?.name).toBe('shop-api');
    expect(snap.match('shop.example.com', '/apis')?.name).toBe('shop');
    expect(snap.match('other', '/api')?.name).toBe('any');
    expect(snap.match(undefined, '/')?.name).toBe('any');
    const { snap: narrow } = snapshotOf({ routes: [{ name: 'a', match: { pathPrefix: '/a' }, backends }] });
    expect(narrow.match('x', '/b')).toBeNull();
  });

  it('applies per-route timeout overrides over the defaults', () => {
    const { snap } = snapshotOf(twoBackends(10, { timeouts: { connectMs: 250 } }));
    expect(snap.routes[0]!.timeouts).toEqual({ ...DEFAULT_TIMEOUTS, connectMs: 250 });
  });

  it('describes itself as JSON for the admin endpoint', () => {
    const { snap } = snapshotOf(
      twoBackends(12.34, {
        stickySessions: { cookie: 'sid' },
        headerRoutes: [{ name: 'beta', match: [{ header: 'x-beta', exact: '1' }], backend: 'canary' }],
        mirror: { backend: 'canary', percent: 0.5 },
      }),
      42,
    );
    const d = JSON.parse(JSON.stringify(snap.describe()));
    expect(d.version).toBe(42);
    expect(d.routes[0]).toMatchObject({
      name: 'checkout',
      namespace: 'shop',
      match: { host: '*', pathPrefix: '/' },
      backends: [
        {
          name: 'stable',
          revision: 's1',
          address: 'http://127.0.0.1:9001',
          weightPercent: 87.66,
          weightBp: 8_766,
        },
        {
          name: 'canary',
          revision: 'c1',
          address: 'http://127.0.0.1:9002',
          weightPercent: 12.34,
          weightBp: 1_234,
        },
      ],
      stickySessions: {
        cookie: 'sid',
        maxAgeSeconds: 3600,
        keyId: 'k1',
        buckets: [
          { backend: 'stable', start: 1_234, end: 10_000 },
          { backend: 'canary', start: 0, end: 1_234 },
        ],
      },
      headerRoutes: [
        { name: 'beta', backend: 'canary', match: [{ header: 'x-beta', kind: 'exact', value: '1' }] },
      ],
      mirror: { backend: 'canary', percent: 0.5, percentBp: 50 },
      timeouts: DEFAULT_TIMEOUTS,
    });
  });

  it('gives three backends cumulative bucket ranges, the first on top', () => {
    const { snap } = snapshotOf({
      routes: [
        {
          name: 'three',
          stickySessions: { cookie: 'sid' },
          backends: [
            { name: 'stable', revision: 's', address: 'http://127.0.0.1:1', weight: 70 },
            { name: 'c1', revision: 'a', address: 'http://127.0.0.1:2', weight: 20 },
            { name: 'c2', revision: 'b', address: 'http://127.0.0.1:3', weight: 10 },
          ],
        },
      ],
    });
    const buckets = (snap.describe() as { routes: { stickySessions: { buckets: unknown } }[] }).routes[0]!
      .stickySessions.buckets;
    expect(buckets).toEqual([
      { backend: 'stable', start: 3_000, end: 10_000 },
      { backend: 'c1', start: 0, end: 2_000 },
      { backend: 'c2', start: 2_000, end: 3_000 },
    ]);
    const route = snap.routes[0]!;
    const counts: Record<string, number> = {};
    for (let i = 0; i < 1_000; i++) {
      const name = nameOf(pickBackend(route, noHeaders, false, 0));
      counts[name] = (counts[name] ?? 0) + 1;
    }
    expect(counts).toEqual({ stable: 700, c1: 200, c2: 100 });
  });
});
