// The snake_case <-> camelCase mapping, through the real protobuf encoding of control.proto.

import { describe, expect, it } from 'vitest';
import type { RoutesConfig } from '../../../../proxy/config.ts';
import {
  helloFromWire,
  helloToWire,
  reportFromWire,
  reportToWire,
  snapshotFromWire,
  snapshotToWire,
} from '../../../../proxy/control/convert.ts';
import {
  controlPlaneService,
  type WireControlMessage,
  type WireProxyMessage,
  type WireRouteSnapshot,
} from '../../../../proxy/control/proto.ts';
import type { HistogramReport } from '../../../../proxy/control/report.ts';

const subscribe = controlPlaneService().service.Subscribe!;

function overTheWireToProxy(message: WireControlMessage): WireControlMessage {
  return subscribe.responseDeserialize(subscribe.responseSerialize(message)) as WireControlMessage;
}

function overTheWireToController(message: WireProxyMessage): WireProxyMessage {
  return subscribe.requestDeserialize(subscribe.requestSerialize(message)) as WireProxyMessage;
}

const FULL: RoutesConfig = {
  routes: [
    {
      name: 'checkout',
      namespace: 'shop',
      match: { host: 'shop.example.com', pathPrefix: '/api' },
      backends: [
        { name: 'stable', revision: '6f9c7d', address: 'http://127.0.0.1:9001', weight: 99.99 },
        { name: 'canary', revision: '84b2a1', address: 'http://127.0.0.1:9002', weight: 0.01 },
      ],
      stickySessions: { cookie: 'sluice-checkout', maxAgeSeconds: 3600 },
      headerRoutes: [
        {
          name: 'beta',
          match: [
            { header: 'x-beta', exact: 'true' },
            { header: 'x-tier', prefix: 'gold' },
            { header: 'user-agent', regex: '^curl/' },
          ],
          backend: 'canary',
        },
      ],
      mirror: { backend: 'canary', percent: 12.5 },
      timeouts: { connectMs: 1_000, responseHeadersMs: 5_000, idleBodyMs: 30_000 },
    },
    {
      // Only the required fields: optional ones must stay absent, not become "" or 0.
      name: 'minimal',
      match: {},
      backends: [{ name: 'stable', revision: 'r', address: 'http://127.0.0.1:9003', weight: 100 }],
    },
    {
      name: 'zeroes',
      namespace: '',
      match: { host: '*' },
      backends: [
        { name: 'stable', revision: 'a', address: 'http://127.0.0.1:9004', weight: 100 },
        { name: 'canary', revision: 'b', address: 'http://127.0.0.1:9005', weight: 0 },
      ],
      stickySessions: { cookie: 'c' },
      mirror: { backend: 'canary', percent: 0 },
      timeouts: {},
    },
    {
      // The endpoints form: the ready pods of each side, and a side with none.
      name: 'pods',
      namespace: 'shop',
      match: { pathPrefix: '/pods' },
      backends: [
        {
          name: 'stable',
          revision: 'a',
          endpoints: ['http://10.0.0.1:8080', 'https://10.0.0.2:8443'],
          weight: 90,
        },
        { name: 'canary', revision: 'b', endpoints: [], weight: 10 },
      ],
      endpointPolicy: 'round-robin',
    },
  ],
};

describe('control message conversion', () => {
  it('round-trips a RoutesConfig through a protobuf-encoded RouteSnapshot exactly, optional presence included', () => {
    const wire = overTheWireToProxy({ snapshot: snapshotToWire(42, FULL) });
    expect(wire.message).toBe('snapshot');
    const parsed = snapshotFromWire(wire.snapshot!);
    expect(parsed).toEqual({ ok: true, version: 42, config: FULL });
  });

  it('uses the proto field names in snake_case on the wire', () => {
    const wire = overTheWireToProxy({ snapshot: snapshotToWire(1, FULL) });
    const route = wire.snapshot!.routes![0]!;
    expect(route.match?.path_prefix).toBe('/api');
    expect(route.sticky_sessions?.max_age_seconds).toBe(3600);
    expect(route.header_routes?.[0]?.match?.[1]?.prefix).toBe('gold');
    expect(route.timeouts?.response_headers_ms).toBe(5_000);
    expect(wire.snapshot!.version).toBe('1');
  });

  it('NACK-worthy snapshots: a version beyond 2^53 and a non-finite weight are named', () => {
    const huge = snapshotFromWire({ version: '18446744073709551615', routes: [] });
    expect(huge).toMatchObject({ ok: false, reason: expect.stringContaining('version') });
    const bad: WireRouteSnapshot = {
      version: '3',
      routes: [
        { name: 'x', backends: [{ name: 'a', revision: 'r', address: 'http://h:1', weight: Number.NaN }] },
      ],
    };
    expect(snapshotFromWire(bad)).toEqual({
      ok: false,
      version: 3,
      reason: 'routes[0].backends[0].weight: must be a finite number, got NaN',
    });
  });

  it('reads a backend as its address when the address is set, else as its endpoints (empty included)', () => {
    const wire = overTheWireToProxy({
      snapshot: {
        version: '7',
        routes: [
          {
            name: 'r',
            backends: [
              { name: 'a', revision: 'r', address: 'http://h:1', weight: 50 },
              { name: 'b', revision: 'r', weight: 25 },
              { name: 'c', revision: 'r', address: '', endpoints: ['http://10.0.0.9:80'], weight: 25 },
            ],
          },
        ],
      },
    });
    const backends = wire.snapshot!.routes![0]!.backends!;
    // proto3 has no presence for repeated fields: absent and empty decode alike
    expect(backends[1]!.endpoints).toEqual([]);
    const parsed = snapshotFromWire(wire.snapshot!);
    expect(parsed.ok && parsed.config.routes[0]!.backends).toEqual([
      { name: 'a', revision: 'r', address: 'http://h:1', weight: 50 },
      { name: 'b', revision: 'r', endpoints: [], weight: 25 },
      { name: 'c', revision: 'r', endpoints: ['http://10.0.0.9:80'], weight: 25 },
    ]);
    // the address form is sent as it always was: no endpoints on the wire
    const sent = overTheWireToProxy({ snapshot: snapshotToWire(1, FULL) }).snapshot!;
    expect(sent.routes![0]!.backends![0]).toEqual({
      name: 'stable',
      revision: '6f9c7d',
      address: 'http://127.0.0.1:9001',
      weight: 99.99,
      endpoints: [],
    });
  });

  it('keeps both forms when both are sent, so the validator NACKs the snapshot naming the field', () => {
    const parsed = snapshotFromWire({
      version: '2',
      routes: [
        {
          name: 'r',
          backends: [
            { name: 'a', revision: 'r', address: 'http://h:1', endpoints: ['http://p:1'], weight: 100 },
          ],
        },
      ],
    });
    expect(parsed.ok && parsed.config.routes[0]!.backends[0]).toMatchObject({
      address: 'http://h:1',
      endpoints: ['http://p:1'],
    });
  });

  it('round-trips histogram reports and hello through the encoding', () => {
    const report: HistogramReport = {
      route: 'checkout',
      namespace: 'shop',
      role: 'canary',
      revision: '84b2a1',
      startMs: 1_700_000_000_000,
      endMs: 1_700_000_001_000,
      histogram: 'HISTFAAAACR4nJNpmSzMwMDAxQABzFCaEUzOmNZg/wEiAPYuBx4=',
      count1xx: 0,
      count2xx: 950,
      count3xx: 10,
      count4xx: 10,
      count5xx: 30,
      requests: 1_000,
      errors: 30,
    };
    const wire = overTheWireToController({ reports: { reports: [reportToWire(report)] } });
    expect(wire.message).toBe('reports');
    expect(reportFromWire(wire.reports!.reports![0]!)).toEqual({ ok: true, report });

    const hello = {
      proxyId: 'p-1',
      version: '0.1.0',
      routes: [{ name: 'a' }, { name: 'b', namespace: 'ns' }],
    };
    const helloWire = overTheWireToController({ hello: helloToWire(hello) });
    expect(helloFromWire(helloWire.hello!)).toEqual(hello);
  });
});
