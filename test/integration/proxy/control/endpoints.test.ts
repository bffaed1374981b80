// A whole proxy (startProxy) subscribed to the test control server: Hello names the routes with their
// namespace, a snapshot in the endpoints form is applied and served, one with a side that has no ready
// pod too, and a backend with both an address and endpoints is NACKed naming the field.

import { createServer, type Server } from 'node:http';
import pino from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RoutesConfig } from '../../../../proxy/config.ts';
import { type RunningProxy, startProxy } from '../../../../proxy/main.ts';
import { startTestControlServer, type TestControlServer } from '../../../fixtures/control-server.ts';

const TOKEN = 'endpoints-token';

let control: TestControlServer;
let proxy: RunningProxy;
const pods: { server: Server; address: string }[] = [];

async function startPod(name: string): Promise<{ server: Server; address: string }> {
  const server = createServer((_req, res) => {
    res.setHeader('x-pod', name);
    res.end(name);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, address: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

function routes(stable: string[], canary: string[], canaryWeight: number): RoutesConfig {
  return {
    routes: [
      {
        name: 'checkout',
        namespace: 'shop',
        match: {},
        backends: [
          { name: 'stable', revision: 's', endpoints: stable, weight: 100 - canaryWeight },
          { name: 'canary', revision: 'c', endpoints: canary, weight: canaryWeight },
        ],
      },
    ],
  };
}

async function get(): Promise<{ status: number; pod: string; body: string }> {
  const res = await request(`http://127.0.0.1:${proxy.dataAddress.port}/`);
  return { status: res.statusCode, pod: String(res.headers['x-pod'] ?? ''), body: await res.body.text() };
}

beforeAll(async () => {
  for (const name of ['s1', 's2', 'c1']) pods.push(await startPod(name));
  control = await startTestControlServer({ token: TOKEN });
  proxy = await startProxy({
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    control: {
      target: control.target,
      token: TOKEN,
      proxyId: 'proxy-endpoints',
      routes: [{ namespace: 'shop', name: 'checkout' }, { name: 'status' }],
      reportIntervalMs: 250,
    },
    logger: pino({ level: 'silent' }),
  });
});

afterAll(async () => {
  await proxy.close(500);
  await control.close();
  for (const p of pods) {
    p.server.closeAllConnections();
    await new Promise((r) => p.server.close(r));
  }
});

describe('a proxy fed endpoints by the control plane', () => {
  it('names its routes with their namespace in Hello', async () => {
    const hello = await control.waitFor('hello');
    expect(hello.hello.routes).toEqual([{ name: 'checkout', namespace: 'shop' }, { name: 'status' }]);
  });

  it('applies and serves a snapshot of endpoints, then one where the canary has no ready pod', async () => {
    const [s1, s2, c1] = pods as [(typeof pods)[0], (typeof pods)[0], (typeof pods)[0]];
    control.push(2, routes([s1.address, s2.address], [c1.address], 50));
    await control.waitFor('ack', (e) => e.version === 2);
    const seen = new Set<string>();
    for (let i = 0; i < 8; i++) seen.add((await get()).pod);
    expect([...seen].sort()).toEqual(['c1', 's1', 's2']);

    control.push(3, routes([s1.address, s2.address], [], 50));
    await control.waitFor('ack', (e) => e.version === 3);
    const answers = await Promise.all(Array.from({ length: 4 }, get));
    expect(answers.filter((a) => a.status === 503)).toHaveLength(2);
    expect(answers.find((a) => a.status === 503)?.body).toContain(
      'no ready endpoint for backend canary of route checkout',
    );
  });

  it('NACKs a backend with both an address and endpoints, naming the field, and keeps serving', async () => {
    const [s1] = pods as [(typeof pods)[0]];
    const both = routes([s1.address], [], 0);
    both.routes[0]!.backends[0]!.address = s1.address;
    control.push(4, both);
    const nack = await control.waitFor('nack', (e) => e.version === 4);
    expect(nack.reason).toContain('routes[0].backends[0].endpoints: must not be given together with address');
    const res = await request(`http://127.0.0.1:${proxy.adminAddress.port}/config`);
    expect(((await res.body.json()) as { version: number }).version).toBe(3);
  });
});
