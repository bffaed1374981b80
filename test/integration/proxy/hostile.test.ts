// The proxy against hostile clients and upstreams, over real sockets: every malformed request of the
// shared table gets its catalogued status and a closed connection and never smuggles a request to
// the backend; malformed upstream responses map to 502 (or a destroyed client connection once the
// response started); slowloris, slow uploads, floods, resets, stalls, races, aborts and slow readers
// each end the right way, with no leaked connection and a proxy that still answers afterwards.

import { createServer, type Socket } from 'node:net';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RouteConfig } from '../../../proxy/config.ts';
import { ERRORS, type ErrorCode } from '../../../proxy/errors.ts';
import { type MethodPolicy, parseMethodPolicy } from '../../../proxy/server-options.ts';
import {
  eventually,
  MALFORMED_REQUESTS,
  MALFORMED_RESPONSES,
  OVERSIZED_RESPONSE_HEAD,
  okResponse,
  type RawReply,
  type RawUpstream,
  rawConnect,
  rawRequest,
  refusedPort,
  splitResponses,
  startRawUpstream,
  startTestProxy,
  type TestProxy,
} from '../../fixtures/raw-peers.ts';

const SHORT_MS = 300;

let upstream: RawUpstream;
let proxy: TestProxy;

function routes(upstreamAddress: string, refusedAddress: string): RouteConfig[] {
  const backend = (address: string) => [{ name: 'stable', revision: 'r1', address, weight: 100 }];
  return [
    { name: 'main', namespace: 'test', match: { pathPrefix: '/' }, backends: backend(upstreamAddress) },
    {
      name: 'short',
      namespace: 'test',
      match: { pathPrefix: '/slow/' },
      backends: backend(upstreamAddress),
      timeouts: { connectMs: 1_000, responseHeadersMs: SHORT_MS, idleBodyMs: SHORT_MS },
    },
    {
      name: 'refused',
      namespace: 'test',
      match: { pathPrefix: '/refused/' },
      backends: backend(refusedAddress),
    },
  ];
}

beforeAll(async () => {
  upstream = await startRawUpstream();
  const refused = await refusedPort();
  proxy = await startTestProxy(routes(upstream.address, `http://127.0.0.1:${refused}`), {
    headersTimeoutMs: SHORT_MS,
    bodyTimeoutMs: SHORT_MS,
    keepAliveTimeoutMs: 3_000,
    maxHeadBytes: 4_096,
    maxBodyBytes: 1_000_000,
    defaultTimeouts: { connectMs: 1_000, responseHeadersMs: 3_000, idleBodyMs: 3_000 },
  });
});

afterAll(async () => {
  await proxy?.close();
  await upstream?.close();
});

function expectError(reply: RawReply, code: ErrorCode): void {
  const res = reply.responses[0];
  expect(res, `no complete response; read ${JSON.stringify(reply.text.slice(0, 200))}`).toBeDefined();
  expect(res!.status).toBe(ERRORS[code].status);
  expect(res!.headers.get('x-sluice-error')).toBe(code);
}

/** The proxy holds no client connection and still answers a plain request. */
async function expectHealthy(): Promise<void> {
  expect(await eventually(() => proxy.proxy.server.openConnections === 0, 3_000)).toBe(true);
  const reply = await rawRequest(proxy.port, 'GET /healthy HTTP/1.1\r\nHost: h.test\r\n\r\n', {
    responses: 1,
  });
  expect(reply.responses[0]?.status).toBe(200);
  expect(reply.responses[0]?.body).toBe('ok /healthy');
  expect(await eventually(() => proxy.proxy.server.openConnections === 0, 3_000)).toBe(true);
}

function metricsText(): Promise<string> {
  return proxy.proxy.telemetry.metrics.render();
}

/** Value of one http_requests_total sample of the test routes (0 when absent). */
async function requestCount(app: string, status: number, method = 'GET'): Promise<number> {
  const prefix = `http_requests_total{app="${app}",namespace="test",role="stable",revision="r1",status="${status}",method="${method}"} `;
  const line = (await metricsText()).split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? 0 : Number(line.slice(prefix.length));
}

describe('malformed requests through the proxy', () => {
  afterAll(async () => {
    expect(upstream.received()).not.toContain('/smuggled');
    await expectHealthy();
  });

  it.each(MALFORMED_REQUESTS.map((r) => [r.name, r] as const))('%s', async (_name, row) => {
    const before = upstream.received().length;
    const reply = await rawRequest(proxy.port, row.raw, { timeoutMs: 3_000 });
    expectError(reply, row.code);
    expect(reply.responses).toHaveLength(1);
    expect(reply.ending, 'the connection must be closed after a rejected request').not.toBe('open');
    const seen = upstream.received().slice(before);
    expect(seen).not.toContain('/smuggled');
    if (row.level !== 'body') expect(seen).toBe('');
  });
});

describe('malformed upstream responses', () => {
  beforeAll(() => {
    MALFORMED_RESPONSES.forEach((row, i) => {
      upstream.on(`/slow/bad-response/${i}/`, (socket) => {
        socket.write(row.raw, 'latin1');
        return 'leave';
      });
    });
    upstream.on('/slow/oversized-head', (socket) => {
      socket.write(OVERSIZED_RESPONSE_HEAD);
      return 'leave';
    });
  });
  afterAll(expectHealthy);

  it.each(MALFORMED_RESPONSES.map((r, i) => [r.name, r, i] as const))('%s -> 502', async (_name, row, i) => {
    const reply = await rawRequest(
      proxy.port,
      `GET /slow/bad-response/${i}/ HTTP/1.1\r\nHost: h.test\r\n\r\n`,
      {
        responses: 1,
      },
    );
    expectError(reply, row.code);
  });

  it('an oversized upstream head -> 502 SLUICE_UPSTREAM_HEADERS_TOO_LARGE', async () => {
    const reply = await rawRequest(proxy.port, 'GET /slow/oversized-head HTTP/1.1\r\nHost: h.test\r\n\r\n', {
      responses: 1,
    });
    expectError(reply, 'SLUICE_UPSTREAM_HEADERS_TOO_LARGE');
  });
});

describe('upstream failures after the response started destroy the client connection', () => {
  const cases: [string, (socket: Socket) => void][] = [
    [
      'bad chunk size mid-body',
      (s) =>
        s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nmore\r\n0\r\n\r\n'),
    ],
    [
      'chunk data longer than its size',
      (s) => s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloEXTRA\r\n0\r\n\r\n'),
    ],
    [
      'bare LF after a chunk',
      (s) => s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n'),
    ],
    [
      'body shorter than Content-Length, then FIN',
      (s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello'),
    ],
    [
      'chunked body cut by FIN',
      (s) => s.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n'),
    ],
    [
      'reset mid-body',
      (s) => {
        s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello');
        setTimeout(() => s.resetAndDestroy(), 50);
      },
    ],
    ['stall mid-body (idleBodyMs)', (s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello')],
  ];

  beforeAll(() => {
    for (const [i, [, behave]] of cases.entries()) {
      upstream.on(`/slow/mid/${i}/`, (socket) => {
        behave(socket);
        return 'leave';
      });
    }
  });
  afterAll(expectHealthy);

  it.each(cases.map(([name], i) => [name, i] as const))('%s', async (_name, i) => {
    const started = Date.now();
    const reply = await rawRequest(proxy.port, `GET /slow/mid/${i}/ HTTP/1.1\r\nHost: h.test\r\n\r\n`, {
      timeoutMs: 3_000,
    });
    expect(reply.text.startsWith('HTTP/1.1 200 OK\r\n')).toBe(true);
    expect(reply.responses, 'the client must not see a complete response').toHaveLength(0);
    expect(reply.ending).not.toBe('open');
    expect(Date.now() - started).toBeLessThan(2_500);
  });

  it('records an upstream reset mid-body as a 5xx of the route', async () => {
    const before = await requestCount('short', 502);
    upstream.on('/slow/mid-reset-metric', (s) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello');
      setTimeout(() => s.resetAndDestroy(), 50);
      return 'leave';
    });
    const reply = await rawRequest(proxy.port, 'GET /slow/mid-reset-metric HTTP/1.1\r\nHost: h.test\r\n\r\n');
    expect(reply.responses).toHaveLength(0);
    expect(reply.ending).not.toBe('open');
    expect(await requestCount('short', 502)).toBe(before + 1);
    expect(await metricsText()).toMatch(
      /sluice_proxy_upstream_errors_total\{code="SLUICE_UPSTREAM_RESET_MID_BODY"\} [1-9]/,
    );
  });
});

describe('unusual but valid upstream responses', () => {
  afterAll(expectHealthy);

  it('relays a close-delimited body completely, chunked, and keeps the client connection', async () => {
    upstream.on('/close-delimited', (s) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\npart one, ');
      setTimeout(() => s.end('part two'), 50);
      return 'leave';
    });
    const conn = await rawConnect(proxy.port);
    conn.socket.write('GET /close-delimited HTTP/1.1\r\nHost: h.test\r\n\r\n');
    await conn.waitFor((t) => splitResponses(Buffer.from(t, 'latin1')).responses.length === 1);
    const [first] = splitResponses(Buffer.from(conn.text(), 'latin1')).responses;
    expect(first!.framing).toBe('chunked');
    expect(first!.body).toBe('part one, part two');
    conn.socket.write('GET /after HTTP/1.1\r\nHost: h.test\r\n\r\n');
    await conn.waitFor((t) => splitResponses(Buffer.from(t, 'latin1')).responses.length === 2);
    expect(splitResponses(Buffer.from(conn.text(), 'latin1')).responses[1]!.body).toBe('ok /after');
    conn.socket.destroy();
  });

  it('relays a close-delimited body to an HTTP/1.0 client by closing the connection', async () => {
    upstream.on('/close-delimited-10', (s) => {
      s.end('HTTP/1.1 200 OK\r\n\r\nuntil close');
      return 'leave';
    });
    const reply = await rawRequest(proxy.port, 'GET /close-delimited-10 HTTP/1.0\r\n\r\n');
    expect(reply.ending).toBe('end');
    expect(reply.text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(reply.text).not.toMatch(/transfer-encoding/i);
    expect(reply.text.endsWith('\r\n\r\nuntil close')).toBe(true);
  });

  it('drops interim 1xx responses and relays the final one', async () => {
    upstream.on('/interim', (s) => {
      s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n');
      setTimeout(() => s.write(okResponse('final')), 20);
      return 'keep';
    });
    const reply = await rawRequest(proxy.port, 'GET /interim HTTP/1.1\r\nHost: h.test\r\n\r\n', {
      responses: 1,
    });
    expect(reply.text).not.toContain('103');
    expect(reply.responses[0]!.status).toBe(200);
    expect(reply.responses[0]!.body).toBe('final');
  });

  it.each([
    [
      '204 with body bytes following',
      'HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL',
      204,
    ],
    [
      '304 with Content-Length and body bytes',
      'HTTP/1.1 304 Not Modified\r\nContent-Length: 4\r\n\r\nEVIL',
      304,
    ],
    [
      '204 with Content-Length and body bytes',
      'HTTP/1.1 204 No Content\r\nContent-Length: 4\r\n\r\nEVIL',
      204,
    ],
  ] as const)(
    '%s: no body is relayed and the stray bytes never reach another request',
    async (name, raw, status) => {
      const path = `/nobody-${name.replace(/[^a-z0-9]+/gi, '-')}`;
      upstream.on(path, (s) => {
        s.write(raw);
        return 'leave';
      });
      const conn = await rawConnect(proxy.port);
      conn.socket.write(`GET ${path} HTTP/1.1\r\nHost: h.test\r\n\r\n`);
      await conn.waitFor((t) => splitResponses(Buffer.from(t, 'latin1')).responses.length === 1);
      conn.socket.write('GET /next HTTP/1.1\r\nHost: h.test\r\n\r\n');
      await conn.waitFor((t) => splitResponses(Buffer.from(t, 'latin1')).responses.length === 2);
      const { responses, rest } = splitResponses(Buffer.from(conn.text(), 'latin1'));
      expect(responses[0]!.status).toBe(status);
      if (status === 204) expect(responses[0]!.headers.has('content-length')).toBe(false);
      else expect(responses[0]!.headers.get('content-length')).toBe('4');
      expect(responses[1]!.body).toBe('ok /next');
      expect(rest).toBe('');
      expect(conn.text()).not.toContain('EVIL');
      conn.socket.destroy();
    },
  );

  it('relays Content-Length of a HEAD response without a body, and the connection stays usable', async () => {
    upstream.on('/head', (s) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n');
      return 'keep';
    });
    const conn = await rawConnect(proxy.port);
    conn.socket.write(
      'HEAD /head HTTP/1.1\r\nHost: h.test\r\n\r\nGET /after-head HTTP/1.1\r\nHost: h.test\r\n\r\n',
    );
    await conn.waitFor((t) => splitResponses(Buffer.from(t, 'latin1'), 1).responses.length === 2);
    const { responses } = splitResponses(Buffer.from(conn.text(), 'latin1'), 1);
    expect(responses[0]!.status).toBe(200);
    expect(responses[0]!.headers.get('content-length')).toBe('1000');
    expect(responses[1]!.body).toBe('ok /after-head');
    conn.socket.destroy();
  });
});

describe('hostile clients and upstreams', () => {
  afterEach(expectHealthy);

  it('slowloris: a head dripped byte by byte gets 408 after headersTimeoutMs', async () => {
    const started = Date.now();
    const head = `GET / HTTP/1.1\r\nHost: h.test\r\nX-Pad: ${'a'.repeat(100)}\r\n\r\n`;
    const reply = await rawRequest(proxy.port, head, { dripMs: 20, timeoutMs: 3_000 });
    expectError(reply, 'SLUICE_REQUEST_TIMEOUT');
    expect(reply.ending).not.toBe('open');
    expect(Date.now() - started).toBeLessThan(2_500);
  });

  it('slow body upload: 408 and close after bodyTimeoutMs of silence', async () => {
    const conn = await rawConnect(proxy.port);
    conn.socket.write('POST /upload HTTP/1.1\r\nHost: h.test\r\nContent-Length: 100\r\n\r\nabc');
    const ending = await conn.ended;
    expect(ending).not.toBe('open');
    const { responses } = splitResponses(Buffer.from(conn.text(), 'latin1'));
    expect(responses[0]?.status).toBe(408);
    expect(responses[0]?.headers.get('x-sluice-error')).toBe('SLUICE_REQUEST_TIMEOUT');
  });

  it('a steady upload longer than responseHeadersMs is not cut off by the response-headers deadline', async () => {
    upstream.on('/slow/upload', (s, req) => {
      s.write(okResponse(`got ${req.body.length}`));
      return 'keep';
    });
    const conn = await rawConnect(proxy.port);
    conn.socket.write('POST /slow/upload HTTP/1.1\r\nHost: h.test\r\nContent-Length: 8\r\n\r\n');
    for (let i = 0; i < 8; i++) {
      await new Promise((r) => setTimeout(r, 100)); // 800 ms in all, each gap below bodyTimeoutMs
      conn.socket.write('x');
    }
    await conn.waitFor((t) => splitResponses(Buffer.from(t, 'latin1')).responses.length === 1, 3_000);
    expect(splitResponses(Buffer.from(conn.text(), 'latin1')).responses[0]!.body).toBe('got 8');
    conn.socket.destroy();
  });

  it('a connection flood beyond maxConnections: excess sockets are closed, existing ones keep working', async () => {
    const small = await startTestProxy(routes(upstream.address, upstream.address), { maxConnections: 4 });
    try {
      const held = await Promise.all([1, 2, 3, 4].map(() => rawConnect(small.port)));
      expect(await eventually(() => small.proxy.server.openConnections === 4)).toBe(true);
      const excess = await Promise.all([1, 2, 3].map(() => rawConnect(small.port)));
      const endings = await Promise.race([
        Promise.all(excess.map((c) => c.ended)),
        new Promise<string>((r) => setTimeout(() => r('still open'), 2_000)),
      ]);
      expect(endings).not.toBe('still open');
      for (const [i, c] of held.entries()) {
        c.socket.write(`GET /held/${i} HTTP/1.1\r\nHost: h.test\r\n\r\n`);
        await c.waitFor((t) => splitResponses(Buffer.from(t, 'latin1')).responses.length === 1);
        expect(splitResponses(Buffer.from(c.text(), 'latin1')).responses[0]!.body).toBe(`ok /held/${i}`);
      }
      for (const c of held) c.socket.destroy();
      expect(await eventually(() => small.proxy.server.openConnections === 0)).toBe(true);
      const after = await rawRequest(small.port, 'GET /again HTTP/1.1\r\nHost: h.test\r\n\r\n', {
        responses: 1,
      });
      expect(after.responses[0]!.status).toBe(200);
    } finally {
      await small.close();
    }
  });

  it('idle connections (silent from the start, or idle after a response) are closed after keepAliveTimeoutMs', async () => {
    const small = await startTestProxy(routes(upstream.address, upstream.address), {
      keepAliveTimeoutMs: SHORT_MS,
    });
    try {
      const silent = await rawConnect(small.port);
      const used = await rawConnect(small.port);
      used.socket.write('GET /once HTTP/1.1\r\nHost: h.test\r\n\r\n');
      await used.waitFor((t) => splitResponses(Buffer.from(t, 'latin1')).responses.length === 1);
      const started = Date.now();
      const endings = await Promise.all([silent.ended, used.ended]);
      expect(endings.every((e) => e !== 'open')).toBe(true);
      expect(Date.now() - started).toBeLessThan(2_500);
      expect(await eventually(() => small.proxy.server.openConnections === 0)).toBe(true);
    } finally {
      await small.close();
    }
  });

  it('upstream refuses the connection: 502 SLUICE_UPSTREAM_CONNECT_FAILED', async () => {
    const reply = await rawRequest(proxy.port, 'GET /refused/x HTTP/1.1\r\nHost: h.test\r\n\r\n', {
      responses: 1,
    });
    expectError(reply, 'SLUICE_UPSTREAM_CONNECT_FAILED');
  });

  it('upstream accepts but never answers: 504 SLUICE_UPSTREAM_HEADERS_TIMEOUT after responseHeadersMs', async () => {
    upstream.on('/slow/silent', () => 'leave');
    const started = Date.now();
    const reply = await rawRequest(proxy.port, 'GET /slow/silent HTTP/1.1\r\nHost: h.test\r\n\r\n', {
      responses: 1,
      timeoutMs: 3_000,
    });
    expectError(reply, 'SLUICE_UPSTREAM_HEADERS_TIMEOUT');
    expect(Date.now() - started).toBeGreaterThanOrEqual(SHORT_MS - 10);
    expect(Date.now() - started).toBeLessThan(2_500);
  });

  it('upstream resets before responding: 502 SLUICE_UPSTREAM_RESET', async () => {
    upstream.on('/slow/reset-early', (s) => {
      s.resetAndDestroy();
      return 'leave';
    });
    const reply = await rawRequest(proxy.port, 'GET /slow/reset-early HTTP/1.1\r\nHost: h.test\r\n\r\n', {
      responses: 1,
    });
    expectError(reply, 'SLUICE_UPSTREAM_RESET');
  });

  it('keep-alive race: an idempotent request on a socket the upstream just closed is retried once, on a fresh socket', async () => {
    const served = new WeakSet<Socket>();
    upstream.on('/race/', (s, req) => {
      if (req.target.startsWith('/race/go') && served.has(s)) {
        s.destroy(); // the backend's idle close lands just as the proxy reuses the socket
        return 'leave';
      }
      served.add(s);
      setTimeout(() => s.write(okResponse(`ok ${req.target}`)), 50);
      return 'keep';
    });
    // two concurrent requests leave two reused-able sockets idle in the pool
    const prime = await Promise.all(
      [1, 2].map((i) =>
        rawRequest(proxy.port, `GET /race/prime${i} HTTP/1.1\r\nHost: h.test\r\n\r\n`, { responses: 1 }),
      ),
    );
    expect(prime.map((p) => p.responses[0]?.status)).toEqual([200, 200]);
    const before = upstream.requests.filter((r) => r.target === '/race/go').length;
    const reply = await rawRequest(proxy.port, 'GET /race/go HTTP/1.1\r\nHost: h.test\r\n\r\n', {
      responses: 1,
    });
    expect(reply.responses[0]?.status).toBe(200);
    expect(reply.responses[0]?.body).toBe('ok /race/go');
    expect(upstream.requests.filter((r) => r.target === '/race/go').length - before).toBe(2);
  });

  it('keep-alive race: a retried PUT still forwards the body that arrives after the retry', async () => {
    const served = new WeakSet<Socket>();
    const sockets = new Set<Socket>();
    const backend = createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
      let buf = '';
      s.on('data', (d: Buffer) => {
        if (served.has(s)) {
          s.destroy(); // idle close racing the proxy's reuse of this socket
          return;
        }
        buf += d.toString('latin1');
        const headEnd = buf.indexOf('\r\n\r\n');
        if (headEnd < 0) return;
        const length = Number(/content-length: *(\d+)/i.exec(buf.slice(0, headEnd))?.[1] ?? '0');
        if (buf.length < headEnd + 4 + length) return;
        served.add(s);
        s.write(okResponse(`body=${buf.slice(headEnd + 4, headEnd + 4 + length)}`));
        buf = '';
      });
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    const { port } = backend.address() as { port: number };
    const small = await startTestProxy(routes(`http://127.0.0.1:${port}`, `http://127.0.0.1:${port}`));
    try {
      const conn = await rawConnect(small.port);
      conn.socket.write('GET /prime HTTP/1.1\r\nHost: h.test\r\n\r\n');
      await conn.waitFor((t) => splitResponses(Buffer.from(t, 'latin1')).responses.length === 1);
      conn.socket.write('PUT /put HTTP/1.1\r\nHost: h.test\r\nContent-Length: 5\r\n\r\n');
      await new Promise((r) => setTimeout(r, 150)); // the head was sent, reset, and retried
      conn.socket.write('hello');
      await conn.waitFor((t) => splitResponses(Buffer.from(t, 'latin1')).responses.length === 2);
      const res = splitResponses(Buffer.from(conn.text(), 'latin1')).responses[1]!;
      expect([res.status, res.body]).toEqual([200, 'body=hello']);
      conn.socket.destroy();
    } finally {
      await small.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => backend.close(() => r()));
    }
  });

  it('keep-alive race: a POST is not retried (502 SLUICE_UPSTREAM_RESET)', async () => {
    const served = new WeakSet<Socket>();
    upstream.on('/post-race/', (s, req) => {
      if (req.method === 'POST' && served.has(s)) {
        s.destroy();
        return 'leave';
      }
      served.add(s);
      s.write(okResponse());
      return 'keep';
    });
    const conn = await rawConnect(proxy.port);
    conn.socket.write('GET /post-race/prime HTTP/1.1\r\nHost: h.test\r\n\r\n');
    await conn.waitFor((t) => splitResponses(Buffer.from(t, 'latin1')).responses.length === 1);
    conn.socket.write('POST /post-race/go HTTP/1.1\r\nHost: h.test\r\nContent-Length: 2\r\n\r\nhi');
    await conn.waitFor((t) => splitResponses(Buffer.from(t, 'latin1')).responses.length === 2);
    const res = splitResponses(Buffer.from(conn.text(), 'latin1')).responses[1]!;
    expect(res.status).toBe(502);
    expect(res.headers.get('x-sluice-error')).toBe('SLUICE_UPSTREAM_RESET');
    conn.socket.destroy();
  });

  it('client aborts mid-response: the upstream socket is closed and nothing crashes', async () => {
    let upstreamSocket: Socket | null = null;
    upstream.on('/abort', (s) => {
      upstreamSocket = s;
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n${'a'.repeat(1_000)}`);
      return 'leave';
    });
    const conn = await rawConnect(proxy.port);
    conn.socket.write('GET /abort HTTP/1.1\r\nHost: h.test\r\n\r\n');
    await conn.waitFor((t) => t.includes('aaaa'));
    conn.socket.destroy();
    expect(await eventually(() => upstreamSocket !== null && (upstreamSocket as Socket).destroyed)).toBe(
      true,
    );
  });

  it('a client that never reads a large response: the exchange ends after idleBodyMs and both sockets are freed', async () => {
    let upstreamSocket: Socket | null = null;
    let written = 0;
    upstream.on('/slow/big', (s) => {
      upstreamSocket = s;
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 268435456\r\n\r\n');
      const block = Buffer.alloc(65_536, 0x61);
      const pump = (): void => {
        while (!s.destroyed && written < 268_435_456) {
          written += block.length;
          if (!s.write(block)) {
            s.once('drain', pump);
            return;
          }
        }
      };
      pump();
      return 'leave';
    });
    const stallsBefore = await requestCount('short', 408);
    const conn = await rawConnect(proxy.port);
    conn.socket.pause(); // never read
    conn.socket.write('GET /slow/big HTTP/1.1\r\nHost: h.test\r\n\r\n');
    expect(
      await eventually(() => upstreamSocket !== null && (upstreamSocket as Socket).destroyed, 4_000),
    ).toBe(true);
    expect(written).toBeLessThan(268_435_456);
    expect(await eventually(() => proxy.proxy.server.openConnections === 0, 3_000)).toBe(true);
    expect(await requestCount('short', 408)).toBe(stallsBefore + 1);
    expect(await metricsText()).toMatch(
      /sluice_proxy_upstream_errors_total\{code="SLUICE_CLIENT_WRITE_STALL"\} [1-9]/,
    );
    conn.socket.destroy();
  });

  it('a client pipelining many requests without reading: the proxy stops taking requests once its send buffer is full', async () => {
    const body = 'r'.repeat(16_384);
    upstream.on('/amplify', (s) => {
      s.write(okResponse(body));
      return 'keep';
    });
    const conn = await rawConnect(proxy.port);
    conn.socket.pause(); // never read
    conn.socket.write('GET /amplify HTTP/1.1\r\nHost: h.test\r\n\r\n'.repeat(2_000));
    await new Promise((r) => setTimeout(r, 1_000));
    const served = upstream.requests.filter((r) => r.target === '/amplify').length;
    // the kernel buffers take some responses; without backpressure all 2,000 (32 MB) would be queued
    expect(served).toBeGreaterThan(0);
    expect(served).toBeLessThan(500);
    conn.socket.destroy();
  });

  it('a Content-Length above maxBodyBytes gets 413 up front, and the upstream sees nothing', async () => {
    const before = upstream.received().length;
    const reply = await rawRequest(
      proxy.port,
      `POST /big HTTP/1.1\r\nHost: h.test\r\nContent-Length: 2000000\r\n\r\n${'x'.repeat(10_000)}`,
    );
    expectError(reply, 'SLUICE_PAYLOAD_TOO_LARGE');
    expect(reply.ending).not.toBe('open');
    expect(upstream.received().length).toBe(before);
  });

  it('a chunked body growing past maxBodyBytes gets 413 and is cut off', async () => {
    const chunk = `ffff\r\n${'x'.repeat(0xffff)}\r\n`;
    const conn = await rawConnect(proxy.port);
    conn.socket.on('error', () => {});
    conn.socket.write('POST /big-chunked HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: chunked\r\n\r\n');
    for (let i = 0; i < 20 && !conn.socket.destroyed; i++) conn.socket.write(chunk); // 1.3 MB
    const ending = await Promise.race([
      conn.ended,
      new Promise<string>((r) => setTimeout(() => r('open'), 3_000)),
    ]);
    expect(ending).not.toBe('open');
    const res = splitResponses(Buffer.from(conn.text(), 'latin1')).responses[0];
    expect(res?.status).toBe(413);
    expect(res?.headers.get('x-sluice-error')).toBe('SLUICE_PAYLOAD_TOO_LARGE');
    expect(upstream.requests.some((r) => r.target === '/big-chunked')).toBe(false);
  });

  it('a client that half-closes while its response is pending is treated as gone (as nginx and Node do): the upstream request is abandoned', async () => {
    let upstreamSocket: Socket | null = null;
    upstream.on('/half-close', (s) => {
      upstreamSocket = s; // never answers; the main route would wait 3 s for the head
      return 'leave';
    });
    const conn = await rawConnect(proxy.port);
    conn.socket.end('GET /half-close HTTP/1.1\r\nHost: h.test\r\n\r\n');
    expect(await conn.ended).not.toBe('open');
    expect(
      await eventually(() => upstreamSocket !== null && (upstreamSocket as Socket).destroyed, 2_000),
    ).toBe(true);
  });

  it('Connection: close from the client: one response, then the proxy closes', async () => {
    const reply = await rawRequest(
      proxy.port,
      'GET /close-me HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\nGET /never HTTP/1.1\r\nHost: h.test\r\n\r\n',
    );
    expect(reply.ending).toBe('end');
    expect(reply.responses.map((r) => r.body)).toEqual(['ok /close-me']);
    expect(reply.responses[0]!.headers.get('connection')).toBe('close');
    expect(upstream.requests.some((r) => r.target === '/never')).toBe(false);
  });

  it('an upstream that answers before the request body is complete: the answer is relayed, then both sides close', async () => {
    const conn = await rawConnect(proxy.port);
    conn.socket.on('error', () => {});
    upstream.on('/early-answer', () => 'leave');
    const upstreamSaw = eventually(() => upstream.received().includes('POST /early-answer'));
    conn.socket.write('POST /early-answer HTTP/1.1\r\nHost: h.test\r\nContent-Length: 100000\r\n\r\nabc');
    expect(await upstreamSaw).toBe(true);
    // the raw upstream frames whole requests, so answer from here on the socket that got the head
    const answered = upstream.lastSocket();
    expect(answered).not.toBeNull();
    answered!.write('HTTP/1.1 413 Content Too Large\r\nContent-Length: 4\r\n\r\nstop');
    expect(await conn.ended).not.toBe('open');
    const { responses } = splitResponses(Buffer.from(conn.text(), 'latin1'));
    expect(responses.map((r) => [r.status, r.body])).toEqual([[413, 'stop']]);
    expect(await eventually(() => answered!.destroyed)).toBe(true);
  });

  it('pipelined requests: three GETs in one write get three responses in order', async () => {
    const reply = await rawRequest(
      proxy.port,
      'GET /p1 HTTP/1.1\r\nHost: h.test\r\n\r\nGET /p2 HTTP/1.1\r\nHost: h.test\r\n\r\nGET /p3 HTTP/1.1\r\nHost: h.test\r\n\r\n',
      { responses: 3 },
    );
    expect(reply.responses.map((r) => r.body)).toEqual(['ok /p1', 'ok /p2', 'ok /p3']);
  });

  it('Expect: 100-continue: the client gets 100, then the response; the upstream never sees Expect', async () => {
    upstream.on('/expect', (s, req) => {
      s.write(okResponse(`body=${req.body.toString()} expect=${req.headers.get('expect') ?? 'none'}`));
      return 'keep';
    });
    const conn = await rawConnect(proxy.port);
    conn.socket.write(
      'PUT /expect HTTP/1.1\r\nHost: h.test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n',
    );
    await conn.waitFor((t) => t.startsWith('HTTP/1.1 100 Continue\r\n\r\n'));
    conn.socket.write('hello');
    await conn.waitFor((t) => splitResponses(Buffer.from(t, 'latin1')).responses.length === 2);
    const { responses } = splitResponses(Buffer.from(conn.text(), 'latin1'));
    expect(responses.map((r) => r.status)).toEqual([100, 200]);
    expect(responses[1]!.body).toBe('body=hello expect=none');
    conn.socket.destroy();
  });
});

describe('method policy, Host and HTTP/1.0 keep-alive', () => {
  it.each(['TRACE', 'TRACK'])(
    '%s gets 405 SLUICE_METHOD_REFUSED and never reaches the backend',
    async (method) => {
      const before = upstream.requests.length;
      const reply = await rawRequest(
        proxy.port,
        `${method} /echo HTTP/1.1\r\nHost: h.test\r\nCookie: s=1\r\n\r\n`,
        {
          responses: 1,
        },
      );
      expectError(reply, 'SLUICE_METHOD_REFUSED');
      expect(JSON.parse(reply.responses[0]!.body).detail).toBe(`${method} (--allow-methods)`);
      expect(upstream.requests.length).toBe(before);
    },
  );

  it('--allow-methods lists what is forwarded; a 405 says it in Allow', async () => {
    const strict = await startTestProxy(routes(upstream.address, 'http://127.0.0.1:1'), {
      methods: parseMethodPolicy('GET,HEAD') as MethodPolicy,
    });
    try {
      const refused = await rawRequest(
        strict.port,
        'POST /x HTTP/1.1\r\nHost: h.test\r\nContent-Length: 0\r\n\r\n',
        {
          responses: 1,
        },
      );
      expectError(refused, 'SLUICE_METHOD_REFUSED');
      expect(refused.responses[0]!.headers.get('allow')).toBe('GET, HEAD');
      const ok = await rawRequest(strict.port, 'GET /x HTTP/1.1\r\nHost: h.test\r\n\r\n', { responses: 1 });
      expect(ok.responses[0]?.status).toBe(200);
    } finally {
      await strict.close();
    }
    expect(parseMethodPolicy('*')).toEqual({ refuse: new Set() });
    expect(parseMethodPolicy('GET,CONNECT')).toContain('CONNECT is never forwarded');
    expect(parseMethodPolicy('GET,B@D')).toBe('not a method token: "B@D"');
  });

  it('Connection naming Host does not strip it: the backend gets the Host the client sent', async () => {
    const reply = await rawRequest(
      proxy.port,
      'GET /host-kept HTTP/1.1\r\nHost: h.test\r\nConnection: close, Host\r\n\r\n',
      { responses: 1 },
    );
    expect(reply.responses[0]?.status).toBe(200);
    const seen = upstream.requests.find((r) => r.target === '/host-kept');
    expect(seen?.headers.get('host')).toBe('h.test');
  });

  it('an HTTP/1.0 request without Host goes upstream with the backend authority as Host', async () => {
    const reply = await rawRequest(proxy.port, 'GET /no-host-10 HTTP/1.0\r\n\r\n', { responses: 1 });
    expect(reply.responses[0]?.status).toBe(200);
    const seen = upstream.requests.find((r) => r.target === '/no-host-10');
    expect(seen?.headers.get('host')).toBe(`127.0.0.1:${upstream.port}`);
  });

  it('an HTTP/1.0 client asking for keep-alive gets it: two requests on one connection', async () => {
    const one = 'GET /ka-10-a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n';
    const two = 'GET /ka-10-b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n';
    const reply = await rawRequest(proxy.port, one + two, { responses: 2 });
    expect(reply.responses.map((r) => r.body)).toEqual(['ok /ka-10-a', 'ok /ka-10-b']);
    expect(reply.responses[0]!.headers.get('connection')).toBe('keep-alive');
    // Without keep-alive, HTTP/1.0 still gets one response and a close.
    const plain = await rawRequest(proxy.port, 'GET /ka-10-c HTTP/1.0\r\n\r\nGET /ka-10-d HTTP/1.0\r\n\r\n');
    expect(plain.responses.map((r) => r.body)).toEqual(['ok /ka-10-c']);
    expect(plain.ending).not.toBe('open');
  });
});

describe('a valid pipelined stream gets the same responses however it is cut into writes', () => {
  beforeAll(() => {
    upstream.on('/echo/', (s, req) => {
      s.write(okResponse(`${req.method} ${req.target} ${req.body.toString('latin1')}`));
      return 'keep';
    });
  });
  afterAll(expectHealthy);

  const request = fc.record({
    kind: fc.constantFrom('get', 'length', 'chunked'),
    body: fc.string({ unit: fc.constantFrom(...'ab 0\r\n;GET/'.split('')), maxLength: 40 }),
    id: fc.nat({ max: 999 }),
  });
  const serialize = (r: { kind: string; body: string; id: number }): string => {
    const target = `/echo/${r.id}`;
    if (r.kind === 'get') return `GET ${target} HTTP/1.1\r\nHost: h.test\r\n\r\n`;
    if (r.kind === 'length')
      return `POST ${target} HTTP/1.1\r\nHost: h.test\r\nContent-Length: ${r.body.length}\r\n\r\n${r.body}`;
    const half = r.body.length >> 1;
    const chunks = [r.body.slice(0, half), r.body.slice(half)].filter((c) => c.length > 0);
    return (
      `POST ${target} HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: chunked\r\n\r\n` +
      chunks.map((c) => `${c.length.toString(16)}\r\n${c}\r\n`).join('') +
      '0\r\n\r\n'
    );
  };
  const expected = (r: { kind: string; body: string; id: number }): string =>
    r.kind === 'get' ? `GET /echo/${r.id} ` : `POST /echo/${r.id} ${r.body}`;

  it('random requests in random pieces', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(request, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        async (requests, cuts) => {
          const stream = Buffer.from(requests.map(serialize).join(''), 'latin1');
          const points = [...new Set(cuts.map((c) => c % stream.length))].sort((a, b) => a - b);
          const conn = await rawConnect(proxy.port);
          try {
            let prev = 0;
            for (const p of [...points, stream.length]) {
              if (p > prev) conn.socket.write(stream.subarray(prev, p));
              prev = p;
              await new Promise((r) => setImmediate(r));
            }
            await conn.waitFor(
              (t) => splitResponses(Buffer.from(t, 'latin1')).responses.length === requests.length,
              3_000,
            );
            const { responses, rest } = splitResponses(Buffer.from(conn.text(), 'latin1'));
            expect(responses.map((r) => r.body)).toEqual(requests.map(expected));
            expect(rest).toBe('');
          } finally {
            conn.socket.destroy();
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
