// `sluice proxy --workers 2` (proxy/workers/) over real sockets: the two workers share the data port,
// and together they behave as one proxy: weights exact over the union of their picks, a sticky cookie
// honoured by either, one admin /metrics summing both, one proxy as the control plane sees it with
// every request reported once, a killed worker forked again, and close() (what SIGTERM runs) draining.
// Each request goes on a fresh connection: the primary hands connections to the workers in turn, so
// sequential requests land on both.

import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeLatencyHistogram } from '../../../proxy/histograms.ts';
import { type RunningProxyWorkers, startProxyWorkers } from '../../../proxy/workers/supervisor.ts';
import { HistogramStore } from '../../../src/control/histogram-store.ts';
import { route, startHarness, TOKEN, until } from '../control/harness.ts';

const WORKERS = 2;
const SILENT = pino({ level: 'silent' });

interface Backend {
  server: Server;
  address: string;
  /** Remote ports of the upstream connections requests arrived on. */
  peers: Set<number>;
}

async function backend(body: string, delayMs = 0): Promise<Backend> {
  const peers = new Set<number>();
  const server = createServer((req, res) => {
    peers.add(req.socket.remotePort ?? 0);
    req.resume();
    setTimeout(() => res.end(body), delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, address: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, peers };
}

interface Answer {
  status: number;
  body: string;
  setCookie: string[];
}

/** One request on a connection of its own (agent: false closes it after the response). */
function fresh(port: number, headers: Record<string, string> = {}, path = '/'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path, agent: false, headers },
      (res: IncomingMessage) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body, setCookie: res.headers['set-cookie'] ?? [] }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  return res.text();
}

/** The sum of http_requests_total over every series of the checkout route. */
function requestsTotal(text: string): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith('http_requests_total{') && line.includes('app="checkout"'))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

function routesFile(stable: string, canary: string, canaryWeight: number, sticky = false): unknown {
  return {
    routes: [
      {
        name: 'checkout',
        namespace: 'shop',
        match: { pathPrefix: '/' },
        backends: [
          { name: 'stable', revision: 's1', address: stable, weight: 100 - canaryWeight },
          { name: 'canary', revision: 'c1', address: canary, weight: canaryWeight },
        ],
        ...(sticky ? { stickySessions: { cookie: 'sluice-checkout', maxAgeSeconds: 600 } } : {}),
      },
    ],
  };
}

describe('proxy with --workers 2', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function backends(delayMs = 0): Promise<{ stable: Backend; canary: Backend }> {
    const stable = await backend('stable', delayMs);
    const canary = await backend('canary', delayMs);
    for (const b of [stable, canary]) {
      cleanups.push(
        () =>
          new Promise((resolve) => {
            b.server.close(resolve);
            b.server.closeAllConnections();
          }),
      );
    }
    return { stable, canary };
  }

  async function fileProxy(config: unknown): Promise<RunningProxyWorkers> {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'sluice-workers-'));
    const path = join(dir, 'routes.yaml');
    await writeFile(path, JSON.stringify(config)); // JSON is YAML
    const proxy = await startProxyWorkers({
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      configPath: path,
      workers: WORKERS,
      logger: SILENT,
    });
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    cleanups.push(() => proxy.close(1_000));
    routesPaths.set(proxy, path);
    return proxy;
  }
  const routesPaths = new Map<RunningProxyWorkers, string>();

  it('holds the weights within N requests over the union of both workers, at every prefix', async () => {
    const { stable, canary } = await backends();
    for (const canaryWeight of [50, 10]) {
      const proxy = await fileProxy(routesFile(stable.address, canary.address, canaryWeight));
      let canaryCount = 0;
      let worst = 0;
      const total = 200;
      for (let n = 1; n <= total; n++) {
        const answer = await fresh(proxy.dataAddress.port);
        expect(answer.status).toBe(200);
        if (answer.body === 'canary') canaryCount++;
        worst = Math.max(worst, Math.abs(canaryCount - (n * canaryWeight) / 100));
      }
      expect(worst).toBeLessThanOrEqual(WORKERS);
      expect(canaryCount).toBeGreaterThanOrEqual((total * canaryWeight) / 100 - WORKERS);
      expect(canaryCount).toBeLessThanOrEqual((total * canaryWeight) / 100 + WORKERS);
      // Both workers served: each keeps its own upstream connection to a backend.
      expect(stable.peers.size).toBeGreaterThanOrEqual(WORKERS);
      await proxy.close(500);
    }
  });

  it('honours a sticky cookie issued by one worker in the other', async () => {
    const { stable, canary } = await backends();
    const proxy = await fileProxy(routesFile(stable.address, canary.address, 50, true));
    const first = await fresh(proxy.dataAddress.port);
    const cookie = first.setCookie.find((c) => c.startsWith('sluice-checkout='));
    expect(cookie).toBeDefined();
    const side = first.body === 'canary' ? canary : stable;
    side.peers.clear();
    const pair = cookie!.split(';', 1)[0]!;
    for (let i = 0; i < 8; i++) {
      const answer = await fresh(proxy.dataAddress.port, { cookie: pair });
      expect(answer.body).toBe(first.body);
      // An invalid cookie would be replaced; a valid one is not re-issued.
      expect(answer.setCookie.filter((c) => c.startsWith('sluice-checkout='))).toEqual([]);
    }
    // The session's backend saw the upstream connections of both workers.
    expect(side.peers.size).toBeGreaterThanOrEqual(WORKERS);
  });

  it('serves one /metrics on the admin port that sums both workers', async () => {
    const { stable, canary } = await backends();
    const proxy = await fileProxy(routesFile(stable.address, canary.address, 50));
    const sent = 40;
    for (let i = 0; i < sent; i++) expect((await fresh(proxy.dataAddress.port)).status).toBe(200);
    const text = await scrape(proxy.adminAddress.port);
    const requests = text
      .split('\n')
      .filter((line) => line.startsWith('http_requests_total{') && line.includes('app="checkout"'))
      .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
    expect(requests).toBe(sent);
    const counts = text
      .split('\n')
      .filter((line) => line.startsWith('http_request_duration_seconds_count{'))
      .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
    expect(counts).toBe(sent);
    expect(text.match(/^# TYPE http_requests_total /gm)).toHaveLength(1);
    expect(text).toMatch(/^sluice_proxy_config_version 1$/m);
    expect(stable.peers.size + canary.peers.size).toBeGreaterThanOrEqual(2 * WORKERS);
    const ready = await fetch(`http://127.0.0.1:${proxy.adminAddress.port}/ready`);
    expect(ready.status).toBe(200);
  });

  it('is one proxy to the control plane: one Hello, ACK after both workers applied, each request reported once', async () => {
    const ingested: { requests: number; histogram: string }[] = [];
    class RecordingStore extends HistogramStore {
      override ingest(input: unknown) {
        const report = input as { requests: number; histogram: string };
        ingested.push({ requests: report.requests, histogram: report.histogram });
        return super.ingest(input);
      }
    }
    const h = await startHarness({ histograms: new RecordingStore() });
    cleanups.push(() => h.server.close());
    const { stable, canary } = await backends();
    const published = h.routes.publish(
      route('checkout', 'shop', {
        backends: [
          { name: 'stable', revision: 's1', address: stable.address, weight: 50 },
          { name: 'canary', revision: 'c1', address: canary.address, weight: 50 },
        ],
      }),
    );
    const proxy = await startProxyWorkers({
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      control: {
        target: h.target,
        token: TOKEN,
        proxyId: 'gateway-0',
        routes: [{ name: 'checkout', namespace: 'shop' }],
        reportIntervalMs: 250,
      },
      workers: WORKERS,
      logger: SILENT,
    });
    cleanups.push(() => proxy.close(1_000));
    await until(() => h.server.deliveries('shop', 'checkout')[0]?.ackedVersion === published, 'ACK', 10_000);
    expect(h.server.proxies()).toHaveLength(1);
    const sent = 30;
    for (let i = 0; i < sent; i++) expect((await fresh(proxy.dataAddress.port)).status).toBe(200);
    const reported = () => ingested.reduce((sum, r) => sum + r.requests, 0);
    await until(() => reported() >= sent, 'reports', 10_000);
    await new Promise((resolve) => setTimeout(resolve, 800)); // later intervals add nothing
    expect(reported()).toBe(sent);
    const recorded = ingested.reduce((sum, r) => {
      const histogram = decodeLatencyHistogram(r.histogram);
      const count = histogram.totalCount;
      histogram.destroy();
      return sum + count;
    }, 0);
    expect(recorded).toBe(sent);
    expect(h.server.proxies()).toHaveLength(1);
  });

  it('forks a killed worker again, which serves the current config', async () => {
    const { stable, canary } = await backends();
    const proxy = await fileProxy(routesFile(stable.address, canary.address, 50));
    let sent = 0;
    for (; sent < 10; sent++) expect((await fresh(proxy.dataAddress.port)).status).toBe(200);
    expect(requestsTotal(await scrape(proxy.adminAddress.port))).toBe(sent);
    const [victim] = proxy.workerPids();
    process.kill(victim!, 'SIGKILL');
    // A new config while the worker is down: the restarted worker must start with it.
    const { writeFile } = await import('node:fs/promises');
    await writeFile(routesPaths.get(proxy)!, JSON.stringify(routesFile(stable.address, canary.address, 100)));
    await until(() => proxy.restarts === 1 && !proxy.workerPids().includes(victim!), 'restart', 10_000);
    await until(() => proxy.workersUp() === WORKERS, 'the new worker listening', 10_000);
    for (let i = 0; i < 100; i++) {
      sent++;
      if ((await fresh(proxy.dataAddress.port)).body === 'canary') break;
      await new Promise((resolve) => setTimeout(resolve, 50)); // the file watcher's debounce
    }
    canary.peers.clear();
    // The primary hands connections only to listening workers: none is lost across the restart.
    const bodies: string[] = [];
    for (let i = 0; i < 20; i++) {
      const answer = await fresh(proxy.dataAddress.port).catch(() => null);
      bodies.push(answer?.status === 200 ? answer.body : `failed ${answer?.status}`);
    }
    // Every answer from the new config, from both workers (the new one included).
    expect(bodies).toEqual(new Array(20).fill('canary'));
    expect(canary.peers.size).toBeGreaterThanOrEqual(WORKERS);
    sent += 20;
    // The dead worker's counts (as of the scrape before it died) stay: the total never goes down.
    expect(requestsTotal(await scrape(proxy.adminAddress.port))).toBe(sent);
    const ready = await fetch(`http://127.0.0.1:${proxy.adminAddress.port}/ready`);
    expect(ready.status).toBe(200);
  });

  it('drains every worker on close (SIGTERM): requests in flight finish, then the port is closed', async () => {
    const { stable, canary } = await backends(400);
    const proxy = await fileProxy(routesFile(stable.address, canary.address, 50));
    const inFlight = Array.from({ length: 4 }, () => fresh(proxy.dataAddress.port));
    await new Promise((resolve) => setTimeout(resolve, 150));
    const closing = proxy.close(5_000);
    const answers = await Promise.all(inFlight);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    await closing;
    await expect(fresh(proxy.dataAddress.port)).rejects.toThrow();
  });
});

describe('sluice proxy --workers 2 (the CLI)', () => {
  async function freePort(): Promise<number> {
    const { createServer: createNetServer } = await import('node:net');
    const server = createNetServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    return port;
  }

  it('drains both workers on SIGTERM and exits 0', async () => {
    const { spawn } = await import('node:child_process');
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const slow = await backend('slow', 500);
    const dir = await mkdtemp(join(tmpdir(), 'sluice-workers-cli-'));
    try {
      const routes = join(dir, 'routes.yaml');
      await writeFile(routes, JSON.stringify(routesFile(slow.address, slow.address, 50)));
      const [data, admin] = [await freePort(), await freePort()];
      const main = join(import.meta.dirname, '..', '..', '..', 'src', 'cli', 'main.ts');
      const child = spawn(
        process.execPath,
        [
          main,
          'proxy',
          '--config',
          routes,
          '--workers',
          '2',
          '--listen',
          `127.0.0.1:${data}`,
          '--admin',
          `127.0.0.1:${admin}`,
          '--loglevel',
          'warn',
          '--drain-timeout',
          '5',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      child.stderr.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const deadline = Date.now() + 20_000;
      for (;;) {
        const ready = await fetch(`http://127.0.0.1:${admin}/ready`).then(
          (r) => r.status,
          () => 0,
        );
        if (ready === 200) break;
        if (Date.now() > deadline) throw new Error(`proxy not ready:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      // Four requests in flight on fresh connections: both workers hold some.
      const inFlight = Array.from({ length: 4 }, () => fresh(data));
      await new Promise((resolve) => setTimeout(resolve, 200));
      child.kill('SIGTERM');
      const answers = await Promise.all(inFlight);
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
      expect(slow.peers.size).toBeGreaterThanOrEqual(2);
      expect(await exited).toBe(0);
      await expect(fresh(data)).rejects.toThrow();
    } finally {
      await new Promise((resolve) => {
        slow.server.close(resolve);
        slow.server.closeAllConnections();
      });
      await rm(dir, { recursive: true, force: true });
    }
  });
});
