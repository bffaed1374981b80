// A real Sluice proxy (proxy/main.ts startProxy, subscribed over the control API) against the control
// server: it serves what the RouteTable publishes, NACKs what its validator rejects, and keeps serving
// its last snapshot while the controller restarts, then resubscribes.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningProxy, startProxy } from '../../../proxy/main.ts';
import { RouteTable } from '../../../src/control/route-table.ts';
import { type Harness, route, startHarness, TOKEN, until } from './harness.ts';

const SILENT = { level: 'silent' } as const;

async function backend(body: string): Promise<{ server: Server; address: string }> {
  const server = createServer((_req, res) => res.end(body));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, address: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('control server with a real proxy', () => {
  const harnesses: Harness[] = [];
  const proxies: RunningProxy[] = [];
  const backends: Server[] = [];
  afterEach(async () => {
    await Promise.all(proxies.splice(0).map((p) => p.close(100)));
    await Promise.all(harnesses.splice(0).map((h) => h.server.close()));
    await Promise.all(backends.splice(0).map((b) => new Promise((resolve) => b.close(resolve))));
  });

  async function harness(options: Parameters<typeof startHarness>[0] = {}): Promise<Harness> {
    const h = await startHarness(options);
    harnesses.push(h);
    return h;
  }

  async function proxy(target: string): Promise<RunningProxy> {
    const pino = (await import('pino')).default;
    const p = await startProxy({
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      control: { target, token: TOKEN, proxyId: 'gateway-0', routes: [{ name: 'checkout' }] },
      logger: pino(SILENT),
    });
    proxies.push(p);
    return p;
  }

  async function get(p: RunningProxy): Promise<{ status: number; body: string }> {
    const res = await request(`http://127.0.0.1:${p.dataAddress.port}/`);
    return { status: res.statusCode, body: await res.body.text() };
  }

  async function twoBackends() {
    const stable = await backend('stable');
    const canary = await backend('canary');
    backends.push(stable.server, canary.server);
    return { stable: stable.address, canary: canary.address };
  }

  it('serves the published route, and NACKs a route its validator rejects while serving the last good one', async () => {
    const h = await harness();
    const { stable, canary } = await twoBackends();
    const good = route('checkout', 'shop', {
      backends: [
        { name: 'stable', revision: 's1', address: stable, weight: 100 },
        { name: 'canary', revision: 'c1', address: canary, weight: 0 },
      ],
    });
    const v1 = h.routes.publish(good);
    const p = await proxy(h.target);
    await until(() => h.server.deliveries('shop', 'checkout')[0]?.ackedVersion === v1, 'ACK');
    expect(await get(p)).toEqual({ status: 200, body: 'stable' });

    const v2 = h.routes.publish({
      ...good,
      headerRoutes: [{ name: 'beta', match: [{ header: 'x-beta', exact: 'on' }], backend: 'preview' }],
    });
    await until(() => h.server.deliveries('shop', 'checkout')[0]?.nack !== undefined, 'NACK');
    const [delivery] = h.server.deliveries('shop', 'checkout');
    expect(delivery).toMatchObject({ proxyId: 'gateway-0', sentVersion: v2, ackedVersion: v1 });
    expect(delivery!.nack!.version).toBe(v2);
    expect(delivery!.nack!.reason).toContain('routes[0].headerRoutes[0].backend');
    expect(await get(p)).toEqual({ status: 200, body: 'stable' });
  });

  it('serves a backend given as its ready endpoints (control.proto Backend.endpoints)', async () => {
    const h = await harness();
    const { stable, canary } = await twoBackends();
    h.routes.publish(
      route('checkout', 'shop', {
        backends: [
          { name: 'stable', revision: 's1', endpoints: [stable, canary], weight: 100 },
          { name: 'canary', revision: 'c1', endpoints: [], weight: 0 },
        ],
      }),
    );
    const p = await proxy(h.target);
    await until(() => h.server.deliveries('shop', 'checkout')[0]?.ackedVersion === 1, 'ACK');
    const bodies = new Set<string>();
    for (let i = 0; i < 6; i++) bodies.add((await get(p)).body);
    expect([...bodies].sort()).toEqual(['canary', 'stable']);
  });

  it('keeps serving its last snapshot while the controller restarts, then resubscribes and applies the new one', async () => {
    const h = await harness();
    const { stable, canary } = await twoBackends();
    const withWeights = (stableWeight: number) =>
      route('checkout', 'shop', {
        backends: [
          { name: 'stable', revision: 's1', address: stable, weight: stableWeight },
          { name: 'canary', revision: 'c1', address: canary, weight: 100 - stableWeight },
        ],
      });
    h.routes.publish(withWeights(100));
    const p = await proxy(h.target);
    await until(() => h.server.deliveries('shop', 'checkout')[0]?.ackedVersion === 1, 'ACK');
    const port = h.port;
    await h.server.close();
    harnesses.splice(harnesses.indexOf(h), 1);
    for (let i = 0; i < 5; i++) expect(await get(p)).toEqual({ status: 200, body: 'stable' });

    // The restarted controller starts from an empty table: no snapshot until the route is published.
    const restarted = await harness({ port, routes: new RouteTable() });
    await until(() => restarted.server.deliveries('shop', 'checkout').length === 1, 'resubscribed', 10_000);
    expect(restarted.server.deliveries('shop', 'checkout')[0]!.sentVersion).toBe(0);
    expect(await get(p)).toEqual({ status: 200, body: 'stable' });
    restarted.routes.publish(withWeights(0));
    await until(
      () => restarted.server.deliveries('shop', 'checkout')[0]!.ackedVersion === 1,
      'ACK after restart',
    );
    expect(await get(p)).toEqual({ status: 200, body: 'canary' });
  });
});
