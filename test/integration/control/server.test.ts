// The control server against the proxy's real control client (proxy/control/client.ts) on real sockets:
// subscription, snapshots and their ACK/NACK as the DeliveryView reports them, pushes on RouteTable
// changes, authentication, unknown routes, reports, leader gating.

import { status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { reportToWire } from '../../../proxy/control/convert.ts';
import type { ControlServerOptions } from '../../../src/control/server.ts';
import {
  type Harness,
  histogramReport,
  type RawStream,
  type RecordingClient,
  rawStream,
  route,
  sleep,
  startClient,
  startHarness,
  until,
  withCanaryWeight,
} from './harness.ts';

describe('control server', () => {
  const harnesses: Harness[] = [];
  const clients: RecordingClient[] = [];
  const raws: RawStream[] = [];
  afterEach(async () => {
    for (const r of raws.splice(0)) r.close();
    await Promise.all(clients.splice(0).map((c) => c.client.close()));
    await Promise.all(harnesses.splice(0).map((h) => h.server.close()));
  });

  async function harness(overrides: Partial<ControlServerOptions> = {}): Promise<Harness> {
    const h = await startHarness(overrides);
    harnesses.push(h);
    return h;
  }
  function client(h: Harness, overrides: Parameters<typeof startClient>[1] = {}): RecordingClient {
    const c = startClient(h.target, overrides);
    clients.push(c);
    return c;
  }
  function raw(h: Harness, token?: string): RawStream {
    const r = token === undefined ? rawStream(h.target) : rawStream(h.target, token);
    raws.push(r);
    return r;
  }

  it('sends a subscribed proxy the published routes it covers and tracks its ACK in deliveries()', async () => {
    const h = await harness();
    h.routes.publish(route('checkout'));
    h.routes.publish(route('checkout', 'other-team'));
    h.routes.publish(route('cart'));
    const exact = client(h);
    const byName = client(h, { proxyId: 'gateway-1', routes: [{ name: 'checkout' }] });
    await until(() => exact.snapshots.length > 0 && byName.snapshots.length > 0, 'both snapshots');
    expect(exact.snapshots[0]!.version).toBe(3);
    expect(exact.snapshots[0]!.config.routes.map((r) => `${r.namespace}/${r.name}`)).toEqual([
      'shop/checkout',
    ]);
    expect(byName.snapshots[0]!.config.routes.map((r) => `${r.namespace}/${r.name}`).sort()).toEqual([
      'other-team/checkout',
      'shop/checkout',
    ]);
    await until(() => h.acks.length === 2, 'two ACKs');
    expect(
      h.server.deliveries('shop', 'checkout').map(({ proxyId, sentVersion, ackedVersion, nack }) => ({
        proxyId,
        sentVersion,
        ackedVersion,
        nack,
      })),
    ).toEqual([
      { proxyId: 'proxy-a', sentVersion: 3, ackedVersion: 3, nack: undefined },
      { proxyId: 'gateway-1', sentVersion: 3, ackedVersion: 3, nack: undefined },
    ]);
    expect(h.server.deliveries('other-team', 'checkout').map((d) => d.proxyId)).toEqual(['gateway-1']);
    expect(h.server.deliveries('shop', 'cart')).toEqual([]);
    expect(h.server.deliveries('shop', 'checkout')[0]!.peer).toMatch(/127\.0\.0\.1:\d+$/);
    expect(h.acks.find((a) => a.proxyId === 'proxy-a')!.routes).toEqual([
      { namespace: 'shop', name: 'checkout' },
    ]);
    const status = h.server.proxies().find((p) => p.proxyId === 'proxy-a')!;
    expect(status.version).toBe('0.1.0');
    expect(status.lastAckLatencyMs).toBeGreaterThanOrEqual(0);
    expect(h.metrics.acks.get({})).toBe(2);
    expect(h.metrics.snapshotsSent.get({})).toBe(2);
    const exposed = await h.registry.expose();
    expect(exposed).toContain('sluice_control_connected_proxies 2');
    expect(exposed).toContain('sluice_control_snapshot_version 3');
    expect(exposed).toContain('sluice_control_ack_latency_seconds_count 2');
  });

  it('pushes a RouteTable change to the proxies that cover the route, synchronously, and to no other', async () => {
    const h = await harness();
    h.routes.publish(route('checkout'));
    h.routes.publish(route('cart'));
    const checkout = client(h);
    const cart = client(h, { proxyId: 'proxy-cart', routes: [{ name: 'cart', namespace: 'shop' }] });
    await until(() => h.acks.length === 2, 'first ACKs');
    const version = h.routes.publish(withCanaryWeight(route('checkout'), 50));
    // Written from the table's listener, before publish() returned: no timer, no tick in between.
    expect(h.server.deliveries('shop', 'checkout')[0]!.sentVersion).toBe(version);
    await until(() => checkout.snapshots.length === 2, 'pushed snapshot');
    expect(checkout.snapshots[1]!.version).toBe(version);
    expect(checkout.snapshots[1]!.config.routes[0]!.backends.map((b) => b.weight)).toEqual([50, 50]);
    await until(
      () => h.server.deliveries('shop', 'checkout')[0]!.ackedVersion === version,
      'ACK of the push',
    );
    await sleep(50);
    expect(cart.snapshots.map((s) => s.version)).toEqual([2]);
    expect(h.server.deliveries('shop', 'cart')[0]!.sentVersion).toBe(2);
  });

  it('sends a snapshot without a route its Rollout removed', async () => {
    const h = await harness();
    h.routes.publish(route('checkout'));
    h.routes.publish(route('checkout', 'other-team'));
    const c = client(h, { routes: [{ name: 'checkout' }] });
    await until(() => c.snapshots.length === 1, 'snapshot');
    h.routes.remove('other-team', 'checkout');
    await until(() => c.snapshots.length === 2, 'snapshot after remove');
    expect(c.snapshots[1]!.config.routes.map((r) => r.namespace)).toEqual(['shop']);
  });

  it('withholds the snapshot until every subscribed route has been published', async () => {
    const h = await harness();
    h.routes.publish(route('checkout'));
    const c = client(h, {
      routes: [
        { name: 'checkout', namespace: 'shop' },
        { name: 'cart', namespace: 'shop' },
      ],
    });
    await until(() => c.client.connected(), 'subscribed');
    await sleep(100);
    expect(c.snapshots).toEqual([]);
    expect(h.server.deliveries('shop', 'checkout')).toMatchObject([{ sentVersion: 0, ackedVersion: 0 }]);
    h.routes.publish(route('cart'));
    await until(() => c.snapshots.length === 1, 'snapshot');
    expect(c.snapshots[0]!.config.routes.map((r) => r.name)).toEqual(['checkout', 'cart']);
  });

  it('withholds a name-only subscription until the route is published in every namespace declaring it', async () => {
    const h = await harness({ routeNamespaces: () => ['shop', 'other-team'] });
    const c = client(h, { routes: [{ name: 'checkout' }] });
    h.routes.publish(route('checkout'));
    await until(() => c.client.connected(), 'subscribed');
    await sleep(100);
    expect(c.snapshots).toEqual([]);
    h.routes.publish(route('checkout', 'other-team'));
    await until(() => c.snapshots.length === 1, 'snapshot');
    expect(c.snapshots[0]!.config.routes).toHaveLength(2);
  });

  it('all routes: serves every published route, also one declared after it subscribed, and counts it in deliveries()', async () => {
    const h = await harness();
    h.routes.publish(route('checkout'));
    const c = client(h, { routes: [], allRoutes: { servedNow: () => [] } });
    await until(() => c.snapshots.length === 1, 'first snapshot');
    expect(c.snapshots[0]!.config.routes.map((r) => r.name)).toEqual(['checkout']);
    h.routes.publish(route('cart', 'other-team'));
    await until(() => c.snapshots.length === 2, 'snapshot with the new route');
    expect(c.snapshots[1]!.config.routes.map((r) => `${r.namespace}/${r.name}`).sort()).toEqual([
      'other-team/cart',
      'shop/checkout',
    ]);
    await until(() => h.server.deliveries('other-team', 'cart')[0]?.ackedVersion === h.routes.version, 'ACK');
    expect(h.server.proxies()).toMatchObject([{ proxyId: 'proxy-a', allRoutes: true }]);
  });

  it('all routes: the first snapshot waits for the routes the proxy serves now; one no Rollout declares is dropped, not refused', async () => {
    const h = await harness({ routeKnown: (_namespace, name) => name !== 'gone' });
    h.routes.publish(route('checkout'));
    const c = client(h, {
      routes: [],
      allRoutes: {
        servedNow: () => [
          { name: 'checkout', namespace: 'shop' },
          { name: 'cart', namespace: 'shop' },
          { name: 'gone', namespace: 'shop' },
        ],
      },
    });
    await until(() => c.client.connected(), 'subscribed');
    await sleep(100);
    // A restarted control plane has not published cart again yet: no partial table that would drop it.
    expect(c.snapshots).toEqual([]);
    h.routes.publish(route('cart'));
    await until(() => c.snapshots.length === 1, 'snapshot');
    expect(c.snapshots[0]!.config.routes.map((r) => r.name).sort()).toEqual(['cart', 'checkout']);
  });

  it('all routes: the client refuses a list of routes besides it', () => {
    expect(() => startClient('127.0.0.1:1', { allRoutes: { servedNow: () => [] } })).toThrow(
      'control: give routes or allRoutes, not both',
    );
  });

  it('tracks a NACK with its reason until a newer ACK, and logs it at warn', async () => {
    const h = await harness();
    h.routes.publish(route('checkout'));
    const c = client(h, {
      onSnapshot: (version, config) => {
        c.snapshots.push({ version, config });
        const canary = config.routes[0]!.backends[1]!.weight;
        return canary > 60
          ? { ok: false, reason: 'routes[0].backends[1].weight: over the limit' }
          : { ok: true };
      },
    });
    await until(() => h.acks.length === 1, 'ACK');
    const bad = h.routes.publish(withCanaryWeight(route('checkout'), 70));
    await until(() => h.metrics.nacks.get({}) === 1, 'NACK');
    expect(h.server.deliveries('shop', 'checkout')).toMatchObject([
      {
        proxyId: 'proxy-a',
        sentVersion: bad,
        ackedVersion: 1,
        nack: { version: bad, reason: 'routes[0].backends[1].weight: over the limit' },
      },
    ]);
    expect(h.logs).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        fields: expect.objectContaining({
          proxyId: 'proxy-a',
          version: bad,
          reason: 'routes[0].backends[1].weight: over the limit',
        }),
      }),
    );
    const good = h.routes.publish(withCanaryWeight(route('checkout'), 20));
    await until(() => h.server.deliveries('shop', 'checkout')[0]!.ackedVersion === good, 'ACK');
    expect(h.server.deliveries('shop', 'checkout')[0]!.nack).toBeUndefined();
  });

  it('refuses a missing or wrong token with UNAUTHENTICATED, counts and logs it without the token', async () => {
    const h = await harness();
    const wrong = client(h, { token: 'not-the-token' });
    const missing = raw(h, '');
    expect((await missing.status).code).toBe(status.UNAUTHENTICATED);
    await until(() => wrong.logs.some((l) => l.fields.code === status.UNAUTHENTICATED), 'client refused');
    expect(wrong.client.connected()).toBe(false);
    expect(h.metrics.unauthenticatedStreams.get({})).toBeGreaterThanOrEqual(2);
    expect(h.server.proxies()).toEqual([]);
    const refusals = h.logs.filter((l) => l.level === 'warn' && /bearer token/.test(l.msg));
    expect(refusals.map((l) => l.fields.authorization)).toContain('mismatch');
    expect(refusals.map((l) => l.fields.authorization)).toContain('missing');
    expect(JSON.stringify(h.logs)).not.toContain('not-the-token');
    expect(JSON.stringify(h.logs)).not.toContain('control-test-token');
  });

  it('refuses a subscription naming a route no Rollout declares with NOT_FOUND naming the route', async () => {
    const h = await harness({
      routeKnown: (namespace, name) => name === 'checkout' && namespace !== 'ghost',
    });
    const r = raw(h);
    r.call.write({
      hello: { proxy_id: 'p', routes: [{ name: 'checkout' }, { name: 'payments', namespace: 'shop' }] },
    });
    expect(await r.status).toEqual({
      code: status.NOT_FOUND,
      details: 'hello.routes[1]: no Rollout declares route shop/payments',
    });
    const c = client(h, { routes: [{ name: 'checkout', namespace: 'ghost' }] });
    await until(() => c.logs.some((l) => l.fields.code === status.NOT_FOUND), 'client refused');
    expect(c.logs.find((l) => l.fields.code === status.NOT_FOUND)!.fields.details).toContain(
      'ghost/checkout',
    );
    expect(h.metrics.unknownRouteSubscriptions.get({})).toBeGreaterThanOrEqual(2);
    expect(h.logs).toContainEqual(
      expect.objectContaining({ level: 'warn', fields: expect.objectContaining({ route: 'shop/payments' }) }),
    );
    expect(h.server.proxies()).toEqual([]);
  });

  it('requires a Hello with a proxy_id first', async () => {
    const h = await harness();
    const noId = raw(h);
    noId.call.write({ hello: { routes: [{ name: 'checkout' }] } });
    expect(await noId.status).toEqual({
      code: status.INVALID_ARGUMENT,
      details: 'hello.proxy_id: is required',
    });
    const ackFirst = raw(h);
    ackFirst.call.write({ ack: { version: 1 } });
    expect((await ackFirst.status).code).toBe(status.INVALID_ARGUMENT);
    const silent = await harness({ helloTimeoutMs: 50 });
    const mute = raw(silent);
    expect(await mute.status).toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/^hello/),
    });
  });

  it('ends only the stream whose handling threw, with INTERNAL', async () => {
    const h = await harness({
      routeKnown: (_namespace, name) => {
        if (name === 'boom') throw new Error('store not ready');
        return true;
      },
    });
    h.routes.publish(route('checkout'));
    const r = raw(h);
    r.call.write({ hello: { proxy_id: 'p', routes: [{ name: 'boom' }] } });
    expect(await r.status).toEqual({ code: status.INTERNAL, details: 'internal error' });
    const c = client(h);
    await until(() => c.snapshots.length === 1, 'other stream served');
  });

  it('replaces the stream of a proxy_id by a newer one, closing the older', async () => {
    const h = await harness();
    h.routes.publish(route('checkout'));
    const first = raw(h);
    first.call.write({ hello: { proxy_id: 'gw', routes: [{ name: 'checkout' }] } });
    await until(() => first.messages.length === 1, 'first snapshot');
    const peerOfFirst = h.server.deliveries('shop', 'checkout')[0]!.peer;
    const second = raw(h);
    second.call.write({ hello: { proxy_id: 'gw', routes: [{ name: 'checkout' }] } });
    expect((await first.status).code).toBe(status.ABORTED);
    await until(() => second.messages.length === 1, 'second snapshot');
    const deliveries = h.server.deliveries('shop', 'checkout');
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]!.peer).not.toBe(peerOfFirst);
    expect(h.server.proxies()).toHaveLength(1);
  });

  it('ingests reports with the proxy id and tells onReports which routes got new measurements', async () => {
    const h = await harness();
    h.routes.publish(route('checkout'));
    const c = client(h);
    await until(() => c.client.connected(), 'subscribed');
    const report = histogramReport();
    c.queue.push(report, histogramReport({ role: 'stable', revision: 'rev-stable' }));
    await until(() => h.reported.length > 0, 'reports');
    expect(h.reported[0]).toEqual([{ namespace: 'shop', name: 'checkout' }]);
    const series = h.histograms.series({
      route: 'checkout',
      namespace: 'shop',
      revision: 'canary',
      fromMs: 0,
      toMs: Date.now(),
    });
    expect(series.ok && series.value.intervals.map((i) => [i.proxyId, i.requests, i.errors])).toEqual([
      ['proxy-a', 4, 1],
    ]);
    expect(h.metrics.reportsIngested.get({ result: 'stored' })).toBe(2);
    // A report sent again after a reconnect is a duplicate, not an error.
    c.queue.push(report);
    await until(() => h.metrics.reportsIngested.get({ result: 'duplicate' }) === 1, 'duplicate');
    expect(c.client.connected()).toBe(true);
  });

  it("closes a proxy's stream with INVALID_ARGUMENT naming the field on a bad report, keeps what came before, leaves other proxies alone", async () => {
    const h = await harness();
    h.routes.publish(route('checkout'));
    const other = client(h, { proxyId: 'proxy-b' });
    await until(() => h.acks.length === 1, 'other proxy ACK');
    const bad = raw(h);
    bad.call.write({ hello: { proxy_id: 'proxy-garbage', routes: [{ name: 'checkout' }] } });
    await until(() => bad.messages.length === 1, 'snapshot');
    bad.call.write({
      reports: {
        reports: [
          reportToWire(histogramReport()),
          reportToWire(histogramReport({ histogram: 'HISTFAAAAgarbage' })),
        ],
      },
    });
    const closed = await bad.status;
    expect(closed.code).toBe(status.INVALID_ARGUMENT);
    expect(closed.details).toMatch(/^reports\[1\]\.histogram: is not a compressed base64 HDR histogram/);
    expect(h.metrics.reportsRejected.get({ reason: 'invalid' })).toBe(1);
    expect(h.metrics.reportsIngested.get({ result: 'stored' })).toBe(1);
    expect(h.reported).toEqual([[{ namespace: 'shop', name: 'checkout' }]]);
    expect(h.logs).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        fields: expect.objectContaining({ proxyId: 'proxy-garbage' }),
      }),
    );
    expect(h.server.proxies().map((p) => p.proxyId)).toEqual(['proxy-b']);
    const version = h.routes.publish(withCanaryWeight(route('checkout'), 30));
    await until(() => other.snapshots.some((s) => s.version === version), 'other proxy still served');
    expect(other.client.connected()).toBe(true);
  });

  it('rejects reports for a route the proxy did not subscribe to, and unparseable numbers', async () => {
    const h = await harness();
    h.routes.publish(route('checkout'));
    const r = raw(h);
    r.call.write({ hello: { proxy_id: 'p', routes: [{ name: 'checkout', namespace: 'shop' }] } });
    await until(() => r.messages.length === 1, 'snapshot');
    r.call.write({ reports: { reports: [reportToWire(histogramReport({ namespace: 'other-team' }))] } });
    expect(await r.status).toEqual({
      code: status.INVALID_ARGUMENT,
      details: 'reports[0].route: other-team/checkout is not a route this proxy subscribed to',
    });
    const r2 = raw(h);
    r2.call.write({ hello: { proxy_id: 'p2', routes: [{ name: 'checkout' }] } });
    r2.call.write({ reports: { reports: [{ ...reportToWire(histogramReport()), end_ms: '-5' }] } });
    expect(await r2.status).toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: /^reports\[0\]\.end_ms: /,
    });
    expect(h.metrics.reportsRejected.get({ reason: 'unsubscribed_route' })).toBe(1);
    expect(h.metrics.reportsRejected.get({ reason: 'malformed' })).toBe(1);
  });

  it('bounds what a proxy may send: messages over the receive limit, batches over the report limit', async () => {
    const h = await harness({ maxReceiveMessageBytes: 4_096, maxReportBatch: 3 });
    const big = raw(h);
    big.call.write({ hello: { proxy_id: 'p', routes: [{ name: 'checkout' }] } });
    big.call.write({
      reports: { reports: [reportToWire(histogramReport({ revision: 'r'.repeat(5_000) }))] },
    });
    expect((await big.status).code).toBe(status.RESOURCE_EXHAUSTED);
    const many = raw(h);
    many.call.write({ hello: { proxy_id: 'q', routes: [{ name: 'checkout' }] } });
    many.call.write({ reports: { reports: Array.from({ length: 4 }, () => ({ route: 'checkout' })) } });
    expect(await many.status).toEqual({
      code: status.INVALID_ARGUMENT,
      details: 'reports: 4 reports exceed the limit of 3',
    });
    expect(h.metrics.reportsRejected.get({ reason: 'batch_too_large' })).toBe(1);
  });

  it('refuses proxies with UNAVAILABLE while standby; the proxy subscribes once the server serves', async () => {
    const h = await harness({ serving: false });
    h.routes.publish(route('checkout'));
    const c = client(h);
    await until(
      () =>
        c.logs.filter((l) => l.fields.code === status.UNAVAILABLE && l.fields.details === 'not the leader')
          .length >= 2,
      'refused and retried',
    );
    expect(c.client.connected()).toBe(false);
    expect(c.snapshots).toEqual([]);
    h.server.setServing(true);
    await until(() => c.snapshots.length === 1, 'snapshot once serving');
    expect(h.server.deliveries('shop', 'checkout')).toHaveLength(1);
  });

  it('closes every stream with UNAVAILABLE when it stops serving; the proxy keeps its last snapshot', async () => {
    const h = await harness();
    h.routes.publish(route('checkout'));
    const c = client(h);
    await until(() => h.acks.length === 1, 'ACK');
    h.server.setServing(false);
    await until(() => !c.client.connected(), 'disconnected');
    expect(c.logs).toContainEqual(
      expect.objectContaining({
        fields: expect.objectContaining({ code: status.UNAVAILABLE, details: 'not the leader' }),
      }),
    );
    expect(h.server.deliveries('shop', 'checkout')).toEqual([]);
    expect(await h.registry.expose()).toContain('sluice_control_connected_proxies 0');
    // No onSnapshot while disconnected: the proxy serves what it has.
    h.routes.publish(withCanaryWeight(route('checkout'), 40));
    await sleep(100);
    expect(c.snapshots).toHaveLength(1);
  });
});
