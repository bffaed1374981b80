import { afterEach, describe, expect, it } from 'vitest';
import type { RoutesConfig } from '../../../../proxy/config.ts';
import {
  backoffDelayMs,
  type ControlClient,
  type ControlClientOptions,
  startControlClient,
} from '../../../../proxy/control/client.ts';
import type { HistogramReport } from '../../../../proxy/control/report.ts';
import { decodeLatencyHistogram, HistogramRecorder } from '../../../../proxy/histograms.ts';
import { startTestControlServer, type TestControlServer } from '../../../fixtures/control-server.ts';

const TOKEN = 's3cret-token';

const ROUTES: RoutesConfig = {
  routes: [
    {
      name: 'checkout',
      namespace: 'shop',
      match: { host: 'shop.example.com', pathPrefix: '/' },
      backends: [
        { name: 'stable', revision: '6f9c7d', address: 'http://127.0.0.1:9001', weight: 90 },
        { name: 'canary', revision: '84b2a1', address: 'http://127.0.0.1:9002', weight: 10 },
      ],
      stickySessions: { cookie: 'sluice-checkout', maxAgeSeconds: 3600 },
      headerRoutes: [{ name: 'beta-users', match: [{ header: 'x-beta', exact: 'true' }], backend: 'canary' }],
      mirror: { backend: 'canary', percent: 5 },
    },
  ],
};

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('control client against the test control server', () => {
  const servers: TestControlServer[] = [];
  const clients: ControlClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  async function server(port?: number): Promise<TestControlServer> {
    const s = await startTestControlServer({ token: TOKEN, port });
    servers.push(s);
    return s;
  }

  function client(target: string, overrides: Partial<ControlClientOptions> = {}): ControlClient {
    const c = startControlClient({
      target,
      token: TOKEN,
      proxyId: 'proxy-a',
      proxyVersion: '0.1.0',
      routes: [{ name: 'checkout', namespace: 'shop' }],
      onSnapshot: () => ({ ok: true }),
      drainReports: () => [],
      reportIntervalMs: 50,
      backoff: { initialMs: 50, maxMs: 200 },
      ...overrides,
    });
    clients.push(c);
    return c;
  }

  it('is refused with UNAUTHENTICATED on a wrong token, never counts as connected, and keeps retrying', async () => {
    const s = await server();
    const snapshots: number[] = [];
    const c = client(s.target, {
      token: 'wrong',
      onSnapshot: (version) => {
        snapshots.push(version);
        return { ok: true };
      },
    });
    s.push(1, ROUTES);
    const refused = await s.waitFor('unauthenticated');
    expect(refused.authorization).toBe('Bearer wrong');
    await until(() => s.events.filter((e) => e.kind === 'unauthenticated').length >= 2);
    expect(c.connected()).toBe(false);
    expect(s.events.some((e) => e.kind === 'hello')).toBe(false);
    expect(snapshots).toEqual([]);
  });

  it('refuses a stream without any token', async () => {
    const s = await server();
    client(s.target, { token: undefined });
    const refused = await s.waitFor('unauthenticated');
    expect(refused.authorization).toBeUndefined();
  });

  it('says hello, applies a pushed snapshot in the RoutesConfig shape and ACKs its version', async () => {
    const s = await server();
    const applied: { version: number; config: RoutesConfig }[] = [];
    const c = client(s.target, {
      onSnapshot: (version, config) => {
        applied.push({ version, config });
        return { ok: true };
      },
    });
    const hello = await s.waitFor('hello');
    expect(hello.hello).toEqual({
      proxyId: 'proxy-a',
      version: '0.1.0',
      routes: [{ name: 'checkout', namespace: 'shop' }],
    });
    await until(() => c.connected());
    s.push(7, ROUTES);
    await s.waitFor('ack', (e) => e.version === 7);
    expect(applied).toEqual([{ version: 7, config: ROUTES }]);
    s.push(8, { routes: [] });
    await s.waitFor('ack', (e) => e.version === 8);
    expect(applied.map((a) => a.version)).toEqual([7, 8]);
  });

  it('announces routes given as plain names', async () => {
    const s = await server();
    client(s.target, { routes: ['checkout', { name: 'payments', namespace: 'pay' }] });
    const hello = await s.waitFor('hello');
    expect(hello.hello.routes).toEqual([{ name: 'checkout' }, { name: 'payments', namespace: 'pay' }]);
  });

  it('NACKs with the reason onSnapshot gives, and when onSnapshot throws', async () => {
    const s = await server();
    client(s.target, {
      onSnapshot: (version) => {
        if (version === 2) throw new Error('kaboom');
        return { ok: false, reason: 'routes[0].backends[1].weight: weights must add up to 100' };
      },
    });
    await s.waitFor('hello');
    s.push(1, ROUTES);
    const nack = await s.waitFor('nack', (e) => e.version === 1);
    expect(nack.reason).toBe('routes[0].backends[1].weight: weights must add up to 100');
    s.push(2, ROUTES);
    const thrown = await s.waitFor('nack', (e) => e.version === 2);
    expect(thrown.reason).toContain('kaboom');
    expect(s.events.some((e) => e.kind === 'ack')).toBe(false);
  });

  it('keeps the last config while the server is gone, then resubscribes to a restarted server', async () => {
    const first = await server();
    const applied: number[] = [];
    const changes: boolean[] = [];
    const c = client(first.target, {
      onSnapshot: (version) => {
        applied.push(version);
        return { ok: true };
      },
      onConnectionChange: (connected) => changes.push(connected),
    });
    first.push(1, ROUTES);
    await first.waitFor('ack', (e) => e.version === 1);
    const port = first.port;
    await first.close();
    servers.splice(servers.indexOf(first), 1);
    await until(() => !c.connected());
    expect(applied).toEqual([1]);

    // Nothing listens for a few backoff rounds; then the controller comes back on the same port.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const second = await server(port);
    second.push(2, ROUTES);
    const hello = await second.waitFor('hello', undefined, 8_000);
    expect(hello.hello.proxyId).toBe('proxy-a');
    await second.waitFor('ack', (e) => e.version === 2, 8_000);
    expect(applied).toEqual([1, 2]);
    expect(c.connected()).toBe(true);
    expect(changes).toEqual([true, false, true]);
  });

  it('streams histogram reports that the server decodes back into the recorded latencies', async () => {
    const s = await server();
    const store = new HistogramRecorder({ intervalMs: 100 });
    const series = store.series({ app: 'checkout', namespace: 'shop', role: 'canary', revision: '84b2a1' });
    client(s.target, { drainReports: undefined, histograms: store });
    await s.waitFor('hello');
    for (let i = 1; i <= 200; i++) series.record(i <= 10 ? 503 : 200, 'GET', i * 1_000);

    const received: HistogramReport[] = [];
    await until(() => {
      for (const e of s.events.splice(0)) if (e.kind === 'reports') received.push(...e.reports);
      return received.reduce((n, r) => n + r.requests, 0) >= 200;
    });
    expect(
      received.every((r) => r.route === 'checkout' && r.role === 'canary' && r.revision === '84b2a1'),
    ).toBe(true);
    expect(received.reduce((n, r) => n + r.errors, 0)).toBe(10);
    expect(received.reduce((n, r) => n + r.count2xx, 0)).toBe(190);
    const merged = decodeLatencyHistogram(received[0]!.histogram);
    for (const r of received.slice(1)) merged.add(decodeLatencyHistogram(r.histogram));
    expect(merged.totalCount).toBe(200);
    expect(merged.getValueAtPercentile(50)).toBeGreaterThanOrEqual(99_900);
    expect(merged.getValueAtPercentile(50)).toBeLessThanOrEqual(100_100);
    expect(merged.maxValue).toBeGreaterThanOrEqual(199_800);
    for (const r of received) expect(r.endMs - r.startMs).toBe(100);
  });

  it('keeps a bounded backlog while disconnected, drops the oldest, counts them, and sends the rest on reconnect', async () => {
    let next = 0;
    const makeReport = (): HistogramReport => ({
      route: 'checkout',
      namespace: 'shop',
      role: 'stable',
      revision: 'r1',
      startMs: next * 1_000,
      endMs: ++next * 1_000,
      histogram: '',
      count1xx: 0,
      count2xx: 1,
      count3xx: 0,
      count4xx: 0,
      count5xx: 0,
      requests: 1,
      errors: 0,
    });
    const droppedCounts: number[] = [];
    // Nothing listens on this port yet.
    const probe = await server();
    const port = probe.port;
    await probe.close();
    servers.splice(0);
    const c = client(`127.0.0.1:${port}`, {
      drainReports: () => [makeReport(), makeReport()],
      maxBacklogReports: 5,
      onReportsDropped: (count) => droppedCounts.push(count),
    });
    await until(() => next >= 12);
    expect(c.backlogSize()).toBe(5);
    expect(c.droppedReports()).toBeGreaterThanOrEqual(7);
    expect(droppedCounts.reduce((a, b) => a + b, 0)).toBe(c.droppedReports());

    const s = await server(port);
    const batch = await s.waitFor('reports', undefined, 8_000);
    // The oldest went first: what arrives first is a contiguous run of the newest reports.
    const starts = batch.reports.map((r) => r.startMs);
    expect(starts.length).toBeGreaterThan(0);
    expect(starts[0]!).toBeGreaterThanOrEqual(c.droppedReports() * 1_000);
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBe(1_000);
  });

  it('rejects bad options naming the field', () => {
    const base = {
      target: '127.0.0.1:1',
      proxyId: 'p',
      routes: [],
      onSnapshot: () => ({ ok: true }) as const,
      drainReports: () => [],
    };
    expect(() => startControlClient({ ...base, target: 'nope' })).toThrow(/target/);
    expect(() => startControlClient({ ...base, reportIntervalMs: 0 })).toThrow(/reportIntervalMs/);
    expect(() => startControlClient({ ...base, tls: { cert: Buffer.from('x') } })).toThrow(
      /tls\.cert and tls\.key/,
    );
    expect(() => startControlClient({ ...base, token: 'has space' })).toThrow(/token/);
    expect(() => startControlClient({ ...base, drainReports: undefined })).toThrow(
      /drainReports or histograms/,
    );
  });
});

describe('backoffDelayMs', () => {
  it('doubles from the initial delay up to the cap, jittered within [d/2, d]', () => {
    expect([0, 1, 2, 3, 10, 50].map((n) => backoffDelayMs(n, 100, 10_000, 1))).toEqual([
      100, 200, 400, 800, 10_000, 10_000,
    ]);
    expect(backoffDelayMs(0, 100, 10_000, 0)).toBe(50);
    expect(backoffDelayMs(20, 100, 10_000, 0)).toBe(5_000);
  });
});
