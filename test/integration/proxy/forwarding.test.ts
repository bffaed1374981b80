// The proxy's forwarding behaviour over real sockets: framing, headers, keep-alive, streaming with
// backpressure, WebSocket tunnels, routing by weight / header / cookie, live weight changes under
// load, file-driven reloads and graceful shutdown.

import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import pino from 'pino';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RoutesConfig } from '../../../proxy/config.ts';
import { type RunningProxy, startProxy } from '../../../proxy/main.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface Backend {
  server: Server;
  port: number;
  address: string;
  connections: number;
  requests: IncomingMessage[];
  handler: Handler;
}

async function startBackend(name: string): Promise<Backend> {
  const b: Backend = {
    server: createServer(),
    port: 0,
    address: '',
    connections: 0,
    requests: [],
    handler: (_req, res) => {
      res.setHeader('x-backend', name);
      res.end(name);
    },
  };
  b.server.on('connection', () => b.connections++);
  b.server.on('request', (req, res) => {
    b.requests.push(req);
    b.handler(req, res);
  });
  await new Promise<void>((r) => b.server.listen(0, '127.0.0.1', r));
  b.port = (b.server.address() as { port: number }).port;
  b.address = `http://127.0.0.1:${b.port}`;
  return b;
}

function routes(stable: Backend, canary: Backend, canaryWeight: number, extra: object = {}): RoutesConfig {
  return {
    routes: [
      {
        name: 'checkout',
        namespace: 'shop',
        match: { pathPrefix: '/' },
        backends: [
          { name: 'stable', revision: 'rev-stable', address: stable.address, weight: 100 - canaryWeight },
          { name: 'canary', revision: 'rev-canary', address: canary.address, weight: canaryWeight },
        ],
        ...extra,
      },
    ],
  };
}

let dir: string;
let stable: Backend;
let canary: Backend;
let proxy: RunningProxy;
let base: string;
let agent: Agent;
let version = 1;

function apply(config: RoutesConfig): void {
  const result = proxy.apply(config, ++version);
  if (!result.ok) throw new Error(result.reason);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-fwd-'));
  stable = await startBackend('stable');
  canary = await startBackend('canary');
  const file = join(dir, 'routes.yaml');
  writeFileSync(file, JSON.stringify(routes(stable, canary, 0)));
  proxy = await startProxy({
    configPath: file,
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    logger: pino({ level: 'silent' }),
  });
  base = `http://127.0.0.1:${proxy.dataAddress.port}`;
  agent = new Agent({ connections: 16 });
});

afterAll(async () => {
  await agent.close();
  await proxy.close(1_000);
  stable.server.closeAllConnections();
  canary.server.closeAllConnections();
  await new Promise((r) => stable.server.close(r));
  await new Promise((r) => canary.server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  const reset: Handler = (_req, res) => res.end('ok');
  stable.requests.length = 0;
  canary.requests.length = 0;
  stable.handler = (req, res) => {
    res.setHeader('x-backend', 'stable');
    reset(req, res);
  };
  canary.handler = (req, res) => {
    res.setHeader('x-backend', 'canary');
    reset(req, res);
  };
  apply(routes(stable, canary, 0));
});

function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      out += d;
    });
    s.on('end', () => resolve(out));
    s.on('error', reject);
    s.write(bytes);
  });
}

describe('forwarding', () => {
  it('strips hop-by-hop headers, including those named in Connection, and adds X-Forwarded-*', async () => {
    const reply = await raw(
      proxy.dataAddress.port,
      'GET /a?b=1 HTTP/1.1\r\nHost: shop.example.com\r\nConnection: close, x-secret\r\nX-Secret: 1\r\n' +
        'Keep-Alive: timeout=5\r\nTE: trailers\r\nProxy-Authorization: x\r\nX-Forwarded-For: 10.0.0.1\r\nX-Custom: yes\r\n\r\n',
    );
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    const seen = stable.requests[0]!;
    expect(seen.url).toBe('/a?b=1');
    expect(seen.headers['x-secret']).toBeUndefined();
    expect(seen.headers['keep-alive']).toBeUndefined();
    expect(seen.headers.te).toBeUndefined();
    expect(seen.headers['proxy-authorization']).toBeUndefined();
    expect(seen.headers['x-custom']).toBe('yes');
    expect(seen.headers.host).toBe('shop.example.com');
    expect(seen.headers['x-forwarded-for']).toBe('10.0.0.1, 127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-host']).toBe('shop.example.com');
  });

  it('strips hop-by-hop headers from responses and re-frames them', async () => {
    stable.handler = (_req, res) => {
      res.setHeader('connection', 'keep-alive, x-internal');
      res.setHeader('x-internal', 'leak');
      res.setHeader('keep-alive', 'timeout=5');
      res.end('body');
    };
    const res = await request(`${base}/`, { dispatcher: agent });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-internal']).toBeUndefined();
    expect(res.headers['keep-alive']).toBeUndefined();
    expect(await res.body.text()).toBe('body');
  });

  it('reuses upstream connections across requests (keep-alive pool)', async () => {
    const before = stable.connections;
    for (let i = 0; i < 50; i++) {
      const res = await request(`${base}/k${i}`, { dispatcher: agent });
      await res.body.text();
    }
    expect(stable.connections - before).toBeLessThanOrEqual(2);
  });

  it('streams large bodies intact both ways, chunked and by length', async () => {
    stable.handler = (req, res) => {
      const hash = createHash('sha256');
      let n = 0;
      req.on('data', (d: Buffer) => {
        hash.update(d);
        n += d.length;
      });
      req.on('end', () => {
        res.setHeader('x-received', String(n));
        res.setHeader('x-sha', hash.digest('hex'));
        // respond with a large chunked body
        const chunk = Buffer.alloc(64 * 1024, 7);
        for (let i = 0; i < 64; i++) res.write(chunk);
        res.end();
      });
    };
    const body = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < body.length; i++) body[i] = i & 0xff;
    const expected = createHash('sha256').update(body).digest('hex');
    // Content-Length upload
    const r1 = await request(`${base}/up`, { method: 'POST', body, dispatcher: agent });
    expect(r1.headers['x-received']).toBe(String(body.length));
    expect(r1.headers['x-sha']).toBe(expected);
    expect((await r1.body.arrayBuffer()).byteLength).toBe(64 * 64 * 1024);
    // chunked upload (a stream without a known length)
    async function* parts(): AsyncGenerator<Buffer> {
      for (let i = 0; i < body.length; i += 100_000) yield body.subarray(i, i + 100_000);
    }
    const r2 = await request(`${base}/up`, {
      method: 'POST',
      body: Readable.from(parts()),
      dispatcher: agent,
    });
    expect(r2.headers['x-received']).toBe(String(body.length));
    expect(r2.headers['x-sha']).toBe(expected);
    await r2.body.dump();
  });

  it('applies backpressure: a slow client does not make the proxy buffer the whole response', async () => {
    let blocked = false;
    stable.handler = (_req, res) => {
      const chunk = Buffer.alloc(256 * 1024, 1);
      let written = 0;
      const pump = (): void => {
        while (written < 64 * 1024 * 1024) {
          written += chunk.length;
          if (!res.write(chunk)) {
            blocked = true;
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    };
    const s = connect(proxy.dataAddress.port, '127.0.0.1');
    s.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
    s.pause(); // never read
    await new Promise((r) => setTimeout(r, 500));
    expect(blocked).toBe(true);
    s.destroy();
  });

  it('relays close-delimited upstream bodies as chunked to HTTP/1.1 clients', async () => {
    const rawUp = await new Promise<{ port: number; close: () => void }>((resolve) => {
      const srv = createNetServer((sock: Socket) => {
        sock.once('data', () => {
          sock.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil-close-body');
        });
      });
      srv.listen(0, '127.0.0.1', () =>
        resolve({ port: (srv.address() as { port: number }).port, close: () => srv.close() }),
      );
    });
    const cfg = routes(stable, canary, 0);
    cfg.routes[0]!.backends[0]!.address = `http://127.0.0.1:${rawUp.port}`;
    apply(cfg);
    const res = await request(`${base}/`, { dispatcher: agent });
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(await res.body.text()).toBe('until-close-body');
    rawUp.close();
  });
});

describe('WebSocket', () => {
  it('passes upgrades through and relays frames both ways', async () => {
    stable.server.once('upgrade', (req: IncomingMessage, socket: Socket) => {
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Accept: ${createHash('sha1')
            .update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
            .digest('base64')}\r\n\r\n`,
      );
      socket.on('data', (d: Buffer) => socket.write(Buffer.concat([Buffer.from('echo:'), d])));
      socket.on('end', () => socket.end());
    });
    const s = connect(proxy.dataAddress.port, '127.0.0.1');
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    s.write(
      'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    await waitFor(() => Buffer.concat(got).toString().includes('\r\n\r\n'));
    expect(Buffer.concat(got).toString()).toMatch(/^HTTP\/1\.1 101 /);
    got.length = 0;
    s.write('ping');
    await waitFor(() => Buffer.concat(got).toString() === 'echo:ping');
    s.destroy();
  });
});

describe('routing', () => {
  it('splits by weight exactly (smooth weighted round robin)', async () => {
    apply(routes(stable, canary, 10));
    let canaryCount = 0;
    for (let i = 0; i < 200; i++) {
      const res = await request(`${base}/w`, { dispatcher: agent });
      await res.body.text();
      if (res.headers['x-backend'] === 'canary') canaryCount++;
    }
    expect(canaryCount).toBe(20);
  });

  it('routes by header before weights', async () => {
    apply(
      routes(stable, canary, 0, {
        headerRoutes: [{ name: 'beta', match: [{ header: 'x-beta', exact: 'true' }], backend: 'canary' }],
      }),
    );
    const res = await request(`${base}/`, { headers: { 'x-beta': 'true' }, dispatcher: agent });
    await res.body.text();
    expect(res.headers['x-backend']).toBe('canary');
  });

  it('sets a signed sticky cookie and keeps the user on its side until the weight moves', async () => {
    apply(routes(stable, canary, 50, { stickySessions: { cookie: 'sluice-checkout', maxAgeSeconds: 600 } }));
    const first = await request(`${base}/`, { dispatcher: agent });
    await first.body.text();
    const setCookie = String(first.headers['set-cookie']);
    expect(setCookie).toMatch(/^sluice-checkout=v1\./);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Lax/);
    expect(setCookie).toMatch(/Max-Age=600/);
    const cookie = setCookie.split(';')[0]!;
    const side = first.headers['x-backend'];
    for (let i = 0; i < 10; i++) {
      const r = await request(`${base}/`, { headers: { cookie }, dispatcher: agent });
      await r.body.text();
      expect(r.headers['x-backend']).toBe(side);
      expect(r.headers['set-cookie']).toBeUndefined();
    }
    // abort: weight 0 sends the user to stable on the next request
    apply(routes(stable, canary, 0, { stickySessions: { cookie: 'sluice-checkout', maxAgeSeconds: 600 } }));
    const after = await request(`${base}/`, { headers: { cookie }, dispatcher: agent });
    await after.body.text();
    expect(after.headers['x-backend']).toBe('stable');
  });

  it('answers 404 with a catalogued code when no route matches, keeping the connection', async () => {
    apply({
      routes: [
        {
          name: 'only-api',
          match: { pathPrefix: '/api' },
          backends: [{ name: 'stable', revision: 'r', address: stable.address, weight: 100 }],
        },
      ],
    });
    const res = await request(`${base}/nope`, { dispatcher: agent });
    expect(res.statusCode).toBe(404);
    expect(res.headers['x-sluice-error']).toBe('SLUICE_NO_ROUTE');
    await res.body.text();
  });

  it('loses no request while the weights change 100 times under load', async () => {
    const load = new Agent({ connections: 32 });
    let failures = 0;
    let done = 0;
    let stop = false;
    const worker = async (): Promise<void> => {
      while (!stop) {
        try {
          const r = await request(`${base}/load`, { dispatcher: load });
          await r.body.text();
          if (r.statusCode !== 200) failures++;
        } catch {
          failures++;
        }
        done++;
      }
    };
    const workers = Array.from({ length: 16 }, worker);
    for (let i = 0; i < 100; i++) {
      apply(routes(stable, canary, (i * 37) % 101));
      await new Promise((r) => setTimeout(r, 10));
    }
    stop = true;
    await Promise.all(workers);
    await load.close();
    expect(done).toBeGreaterThan(200);
    expect(failures).toBe(0);
  });
});

describe('lifecycle', () => {
  it('reloads the routes file when it changes and keeps the last good config on a bad edit', async () => {
    const file = join(dir, 'watched.yaml');
    writeFileSync(file, JSON.stringify(routes(stable, canary, 0)));
    const p = await startProxy({
      configPath: file,
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      logger: pino({ level: 'silent' }),
    });
    try {
      const url = `http://127.0.0.1:${p.dataAddress.port}/`;
      writeFileSync(file, JSON.stringify(routes(stable, canary, 100)));
      await waitFor(async () => {
        const r = await request(url);
        await r.body.text();
        return r.headers['x-backend'] === 'canary';
      });
      writeFileSync(file, 'routes:\n  - name: checkout\n    backends: []\n');
      await new Promise((r) => setTimeout(r, 300));
      const r = await request(url);
      await r.body.text();
      expect(r.headers['x-backend']).toBe('canary');
    } finally {
      await p.close(500);
    }
  });

  it('drains in-flight requests on shutdown and stops accepting new ones', async () => {
    const file = join(dir, 'drain.yaml');
    writeFileSync(file, JSON.stringify(routes(stable, canary, 0)));
    const p = await startProxy({
      configPath: file,
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      logger: pino({ level: 'silent' }),
    });
    stable.handler = (_req, res) => {
      setTimeout(() => res.end('slow'), 300);
    };
    const url = `http://127.0.0.1:${p.dataAddress.port}/`;
    const inflight = request(url).then(async (r) => ({ status: r.statusCode, body: await r.body.text() }));
    await new Promise((r) => setTimeout(r, 100));
    const closing = p.close(5_000);
    await new Promise((r) => setTimeout(r, 50));
    await expect(request(url)).rejects.toThrow();
    expect(await inflight).toEqual({ status: 200, body: 'slow' });
    await closing;
  });
});

async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('condition not met in time');
}
