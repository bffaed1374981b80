import { describe, expect, it } from 'vitest';
import { snapshotFromWire } from '../../../proxy/control/convert.ts';
import type { ControlRoute } from '../../../src/control/route-table.ts';
import {
  ackFromWire,
  controlPlaneDefinition,
  helloFromWire,
  nackFromWire,
  parseLong,
  reportFieldToWire,
  reportFromWire,
  routeToWire,
  snapshotToWire,
  type WireControlMessage,
} from '../../../src/control/wire.ts';

const FULL: ControlRoute = {
  namespace: 'shop',
  name: 'checkout',
  match: { host: 'shop.example.com', pathPrefix: '/api' },
  backends: [
    { name: 'stable', revision: '6f9c7d', address: 'http://10.0.0.1:8080', weight: 87.5 },
    { name: 'canary', revision: '84b2a1', address: 'http://10.0.0.2:8080', weight: 12.5 },
  ],
  stickySessions: { cookie: 'sluice-checkout', maxAgeSeconds: 3600 },
  headerRoutes: [
    {
      name: 'beta',
      match: [
        { header: 'x-beta', exact: 'true' },
        { header: 'x-user', prefix: 'qa-' },
        { header: 'x-agent', regex: '^curl/' },
      ],
      backend: 'canary',
    },
  ],
  mirror: { backend: 'canary', percent: 5 },
  timeouts: { connectMs: 2_000, responseHeadersMs: 30_000, idleBodyMs: 60_000 },
};

const MINIMAL: ControlRoute = {
  namespace: 'shop',
  name: 'cart',
  match: {},
  backends: [{ name: 'stable', revision: 'a1', address: 'http://10.0.0.3:80', weight: 100 }],
};

/** Through protobuf as grpc-js sends it, back as the proxy's client decodes it. */
function overTheWire(message: WireControlMessage): unknown {
  const method = controlPlaneDefinition().Subscribe!;
  return method.responseDeserialize(method.responseSerialize(message));
}

describe('control wire conversion', () => {
  it('converts every field of a route, and the proxy reads back what the controller published', () => {
    const decoded = overTheWire(snapshotToWire(7, [FULL, MINIMAL])) as { snapshot: object };
    const parsed = snapshotFromWire(decoded.snapshot);
    expect(parsed).toEqual({
      ok: true,
      version: 7,
      config: {
        routes: [
          {
            namespace: 'shop',
            name: 'checkout',
            match: { host: 'shop.example.com', pathPrefix: '/api' },
            backends: FULL.backends,
            stickySessions: { cookie: 'sluice-checkout', maxAgeSeconds: 3600 },
            headerRoutes: FULL.headerRoutes,
            mirror: { backend: 'canary', percent: 5 },
            timeouts: { connectMs: 2_000, responseHeadersMs: 30_000, idleBodyMs: 60_000 },
          },
          {
            namespace: 'shop',
            name: 'cart',
            match: {},
            backends: MINIMAL.backends,
          },
        ],
      },
    });
  });

  it('leaves absent optional fields absent on the wire (proto3 presence)', () => {
    const wire = routeToWire(MINIMAL);
    expect(wire).toEqual({
      name: 'cart',
      namespace: 'shop',
      match: {},
      backends: [{ name: 'stable', revision: 'a1', address: 'http://10.0.0.3:80', weight: 100 }],
      header_routes: [],
    });
    const decoded = overTheWire({ snapshot: { version: '1', routes: [wire] } }) as {
      snapshot: { routes: Record<string, unknown>[] };
    };
    const route = decoded.snapshot.routes[0]!;
    for (const field of ['sticky_sessions', 'mirror', 'timeouts'])
      expect(route[field], field).toBeUndefined();
    expect(route.match).toEqual({});
  });

  it('sends a backend of ready endpoints as `endpoints` with no address, and an address alone otherwise', () => {
    const route: ControlRoute = {
      ...MINIMAL,
      backends: [
        {
          name: 'stable',
          revision: 'a1',
          endpoints: ['http://10.0.0.4:80', 'http://10.0.0.5:80'],
          weight: 90,
        },
        { name: 'canary', revision: 'b2', endpoints: [], weight: 10 },
      ],
    };
    expect(routeToWire(route).backends).toEqual([
      { name: 'stable', revision: 'a1', endpoints: ['http://10.0.0.4:80', 'http://10.0.0.5:80'], weight: 90 },
      { name: 'canary', revision: 'b2', endpoints: [], weight: 10 },
    ]);
    expect(routeToWire(MINIMAL).backends[0]).not.toHaveProperty('endpoints');
  });

  it('reads a Hello: proxy_id required, route names required, namespace optional', () => {
    expect(
      helloFromWire({
        proxy_id: 'gw-1',
        version: '0.1.0',
        routes: [{ name: 'checkout' }, { name: 'cart', namespace: 'shop' }],
      }),
    ).toEqual({
      ok: true,
      value: {
        proxyId: 'gw-1',
        version: '0.1.0',
        routes: [{ name: 'checkout' }, { name: 'cart', namespace: 'shop' }],
        allRoutes: false,
      },
    });
    expect(helloFromWire({ proxy_id: 'gw-1', all_routes: true })).toEqual({
      ok: true,
      value: { proxyId: 'gw-1', version: '', routes: [], allRoutes: true },
    });
    expect(helloFromWire({ routes: [{ name: 'checkout' }] })).toMatchObject({
      ok: false,
      field: 'hello.proxy_id',
    });
    expect(helloFromWire({ proxy_id: 'p', routes: [{ name: 'a' }, { namespace: 'shop' }] })).toMatchObject({
      ok: false,
      field: 'hello.routes[1].name',
    });
    expect(helloFromWire({ proxy_id: 'p', routes: [{ name: 'a', namespace: '' }] })).toMatchObject({
      ok: false,
      field: 'hello.routes[0].namespace',
    });
  });

  it('reads 64-bit versions and counts as safe integers, naming the field otherwise', () => {
    expect(parseLong(undefined, 'x')).toEqual({ ok: true, value: 0 });
    expect(parseLong('42', 'x')).toEqual({ ok: true, value: 42 });
    expect(parseLong('18446744073709551615', 'ack.version')).toMatchObject({
      ok: false,
      field: 'ack.version',
    });
    expect(ackFromWire({ version: '3' })).toEqual({ ok: true, value: 3 });
    expect(nackFromWire({ version: '4', reason: 'routes[0]: bad' })).toEqual({
      ok: true,
      value: { version: 4, reason: 'routes[0]: bad' },
    });
    expect(nackFromWire({ version: '9007199254740993' })).toMatchObject({ ok: false, field: 'nack.version' });
  });

  it("reads a report into the histogram store's shape, naming the wire field of a bad number", () => {
    expect(
      reportFromWire(
        {
          route: 'checkout',
          namespace: 'shop',
          role: 'canary',
          revision: 'b2',
          start_ms: '1000',
          end_ms: '2000',
          histogram: 'HISTFAAAA',
          count_2xx: '9',
          count_5xx: '1',
          requests: '10',
          errors: '1',
        },
        'reports[0]',
      ),
    ).toEqual({
      ok: true,
      value: {
        route: 'checkout',
        namespace: 'shop',
        role: 'canary',
        revision: 'b2',
        startMs: 1000,
        endMs: 2000,
        histogram: 'HISTFAAAA',
        count1xx: 0,
        count2xx: 9,
        count3xx: 0,
        count4xx: 0,
        count5xx: 1,
        requests: 10,
        errors: 1,
      },
    });
    expect(reportFromWire({ end_ms: '1e400' }, 'reports[3]')).toMatchObject({
      ok: false,
      field: 'reports[3].end_ms',
    });
  });

  it("names a histogram store error by the report's wire field", () => {
    expect(reportFieldToWire('report.endMs', 'reports[2]')).toBe('reports[2].end_ms');
    expect(reportFieldToWire('report.count5xx', 'reports[0]')).toBe('reports[0].count_5xx');
    expect(reportFieldToWire('report.histogram', 'reports[1]')).toBe('reports[1].histogram');
    expect(reportFieldToWire('report', 'reports[1]')).toBe('reports[1]');
  });
});
