// The web provider (and the prometheus provider's auth plumbing) against real HTTP servers on port 0.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrometheusProvider } from '../../../src/analysis/providers/prometheus.ts';
import type { ProviderRequest } from '../../../src/analysis/providers/provider.ts';
import { createProviderRegistry } from '../../../src/analysis/providers/registry.ts';
import { createWebProvider } from '../../../src/analysis/providers/web.ts';
import { runAnalysis } from '../../../src/analysis/runner.ts';
import { metric, runOf } from '../../fixtures/analysis/scripted.ts';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;
const routes = new Map<string, Handler>();
const seen: Array<{ url: string; method: string; headers: IncomingMessage['headers']; body: string }> = [];
let server: Server;
let base: string;
const pending = new Set<ServerResponse>();

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!;
      seen.push({ url: req.url ?? '', method: req.method ?? '', headers: req.headers, body });
      const handler = routes.get(path);
      if (!handler) {
        res.writeHead(404).end('not found');
        return;
      }
      pending.add(res);
      res.on('close', () => pending.delete(res));
      handler(req, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  routes.set('/json', (_q, _b, res) =>
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end('{"data":{"ok":true,"items":[{"v":0.5},{"v":2}]}}'),
  );
  routes.set('/text', (_q, _b, res) => res.writeHead(200).end('42'));
  routes.set('/down', (_q, _b, res) => res.writeHead(503).end('unavailable'));
  routes.set('/echo', (req, body, res) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        ct: req.headers['content-type'],
        body: JSON.parse(body || 'null'),
        auth: req.headers.authorization ?? null,
      }),
    ),
  );
  routes.set('/slow', (_q, _b, res) => {
    const t = setTimeout(() => res.writeHead(200).end('late'), 3_000);
    res.on('close', () => clearTimeout(t));
  });
  routes.set('/token', (req, body, res) => {
    const params = new URLSearchParams(body);
    const basic = `Basic ${Buffer.from('client:secret').toString('base64')}`;
    if (params.get('grant_type') !== 'client_credentials' || req.headers.authorization !== basic) {
      res.writeHead(401).end('{"error":"invalid_client"}');
      return;
    }
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ access_token: `tok-${params.get('scope')}`, expires_in: 3600 }));
  });
  routes.set('/api/v1/query', (req, body, res) => {
    if (req.method === 'POST' && req.headers['x-post-refused']) {
      res.writeHead(405).end();
      return;
    }
    const q =
      req.method === 'POST'
        ? new URLSearchParams(body).get('query')
        : new URL(req.url!, base).searchParams.get('query');
    if (q === 'bad(') {
      res
        .writeHead(400, { 'content-type': 'application/json' })
        .end('{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected end of input"}');
      return;
    }
    if (q === 'text') {
      res.writeHead(502).end('<html>bad gateway</html>');
      return;
    }
    const data =
      q === 'scalar'
        ? { resultType: 'scalar', result: [1, '0.25'] }
        : q === 'matrix'
          ? {
              resultType: 'matrix',
              result: [
                {
                  metric: {},
                  values: [
                    [1, '1'],
                    [2, '2'],
                  ],
                },
                { metric: {}, values: [[1, '+Inf']] },
              ],
            }
          : q === 'empty'
            ? { resultType: 'vector', result: [] }
            : {
                resultType: 'vector',
                result: [
                  { metric: { a: 'x' }, value: [1, '0.5'] },
                  { metric: { a: 'y' }, value: [1, 'NaN'] },
                ],
              };
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        status: 'success',
        data,
        warnings: q === 'warn' ? ['careful'] : undefined,
        auth: req.headers.authorization,
      }),
    );
  });
});

afterAll(async () => {
  for (const res of pending) res.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function request(provider: Record<string, unknown>, extra: Partial<ProviderRequest> = {}): ProviderRequest {
  return { metricName: 'm', provider, nowMs: Date.now(), signal: new AbortController().signal, ...extra };
}

describe('web provider', () => {
  const web = createWebProvider();
  afterAll(() => web.close());

  it('takes the first JSONPath match as the result', async () => {
    expect(await web.run(request({ web: { url: `${base}/json`, jsonPath: '{$.data.ok}' } }))).toEqual({
      result: true,
      value: 'true',
    });
    expect(await web.run(request({ web: { url: `${base}/json`, jsonPath: '{$.data.items[*].v}' } }))).toEqual(
      { result: 0.5, value: '0.5' },
    );
    expect(await web.run(request({ web: { url: `${base}/json`, jsonPath: '{.data.items[1]}' } }))).toEqual({
      result: { v: 2 },
      value: '{"v":2}',
    });
  });

  it('defaults jsonPath to the whole document', async () => {
    const r = await web.run(request({ web: { url: `${base}/json` } }));
    expect(r.result).toEqual({ data: { ok: true, items: [{ v: 0.5 }, { v: 2 }] } });
  });

  it('returns a non-JSON body as the raw string', async () => {
    expect(await web.run(request({ web: { url: `${base}/text` } }))).toEqual({ result: 42, value: '42' });
    routes.set('/plain', (_q, _b, res) => res.writeHead(200).end('ok then'));
    expect(await web.run(request({ web: { url: `${base}/plain` } }))).toEqual({
      result: 'ok then',
      value: 'ok then',
    });
  });

  it('sends jsonBody with Content-Type application/json, and headers', async () => {
    const r = await web.run(
      request({
        web: {
          method: 'POST',
          url: `${base}/echo`,
          jsonBody: { a: [1] },
          headers: [{ key: 'Authorization', value: 'Bearer t' }],
        },
      }),
    );
    expect(r.result).toEqual({ ct: 'application/json', body: { a: [1] }, auth: 'Bearer t' });
  });

  it('non-2xx, unreachable, timeout and a missing JSONPath are Error measurements', async () => {
    expect(await web.run(request({ web: { url: `${base}/down` } }))).toEqual({
      phase: 'Error',
      message: 'received non 2xx response code: 503',
    });
    const refused = await web.run(request({ web: { url: 'http://127.0.0.1:1/' } }));
    expect(refused.phase).toBe('Error');
    expect(refused.message).toMatch(/ECONNREFUSED/);
    const slow = await web.run(request({ web: { url: `${base}/slow`, timeoutSeconds: 1 } }));
    expect(slow).toEqual({ phase: 'Error', message: `Get "${base}/slow": timeout after 1000 ms` });
    const missing = await web.run(request({ web: { url: `${base}/json`, jsonPath: '{$.data.nope}' } }));
    expect(missing.phase).toBe('Error');
    expect(missing.message).toContain('nope is not found');
  });

  it('rejects bad configuration naming the field', async () => {
    expect((await web.run(request({ web: { url: `${base}/json`, method: 'DELETE' } }))).message).toMatch(
      /^web\.method/,
    );
    expect((await web.run(request({ web: { url: `${base}/json`, body: 'x' } }))).message).toMatch(
      /^web\.body: only allowed with POST or PUT/,
    );
    expect((await web.run(request({ web: {} }))).message).toBe('web.url: is required');
    expect((await web.run(request({ web: { url: `${base}/json`, jsonPath: '$.a' } }))).message).toMatch(
      /^web\.jsonPath/,
    );
  });

  it('fetches an OAuth2 client-credentials token and sends it as a Bearer token', async () => {
    const r = await web.run(
      request({
        web: {
          method: 'POST',
          url: `${base}/echo`,
          body: '1',
          authentication: {
            oauth2: {
              tokenUrl: `${base}/token`,
              clientId: 'client',
              clientSecret: 'secret',
              scopes: ['read'],
            },
          },
        },
      }),
    );
    expect((r.result as { auth: string }).auth).toBe('Bearer tok-read');
  });

  it('runs a whole analysis with conditions on the web result', async () => {
    const run = await runAnalysis(
      runOf([
        metric('ok', {
          successCondition: 'result == true',
          provider: { web: { url: `${base}/json`, jsonPath: '{$.data.ok}' } },
        }),
        metric('num', {
          successCondition: 'asInt(result) == 42',
          provider: { web: { url: `${base}/text` } },
        }),
        metric('all', {
          successCondition: 'all(result, {#.v < 1})',
          provider: { web: { url: `${base}/json`, jsonPath: '{$.data.items}' } },
        }),
      ]),
      { providers: createProviderRegistry([web]) },
    );
    expect(run.status?.metricResults?.map((r) => r.phase)).toEqual(['Successful', 'Successful', 'Failed']);
    expect(run.status?.phase).toBe('Failed');
  });
});

describe('prometheus provider against an HTTP server speaking the API', () => {
  const prom = createPrometheusProvider();
  afterAll(() => prom.close());
  const q = (query: string, extra: Record<string, unknown> = {}) =>
    request({ prometheus: { address: base, query, ...extra } });

  it('shapes vector, scalar, matrix and empty results as Argo does', async () => {
    const vector = await prom.run(q('vector'));
    expect(vector.value).toBe('[0.5,NaN]');
    expect((vector.result as number[])[0]).toBe(0.5);
    expect(Number.isNaN((vector.result as number[])[1])).toBe(true);
    expect(await prom.run(q('scalar'))).toEqual({ result: 0.25, value: '0.25' });
    expect(await prom.run(q('matrix'))).toEqual({
      result: [1, 2, Number.POSITIVE_INFINITY],
      value: '[1,2,+Inf]',
    });
    expect(await prom.run(q('empty'))).toEqual({ result: [], value: '[]' });
    expect((await prom.run(q('warn'))).metadata).toEqual({ warnings: 'careful' });
  });

  it('returns the server message for bad PromQL and HTTP errors', async () => {
    expect(await prom.run(q('bad('))).toEqual({
      phase: 'Error',
      message: 'bad_data: 1:5: parse error: unexpected end of input',
    });
    expect(await prom.run(q('text'))).toEqual({
      phase: 'Error',
      message: 'server returned HTTP status 502: <html>bad gateway</html>',
    });
  });

  it('sends headers, basic auth and OAuth2 tokens; falls back to GET when POST is refused', async () => {
    seen.length = 0;
    await prom.run(
      q('vector', {
        headers: [{ key: 'X-Scope-OrgID', value: 'team-a' }],
        authentication: { basicAuth: { username: 'u', password: 'p' } },
      }),
    );
    const last = seen[seen.length - 1]!;
    expect(last.method).toBe('POST');
    expect(last.headers['x-scope-orgid']).toBe('team-a');
    expect(last.headers.authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    await prom.run(
      q('vector', {
        authentication: {
          oauth2: {
            tokenUrl: `${base}/token`,
            clientId: 'client',
            clientSecret: 'secret',
            scopes: ['metrics'],
          },
        },
      }),
    );
    expect(seen[seen.length - 1]!.headers.authorization).toBe('Bearer tok-metrics');
    const viaGet = await prom.run(q('scalar', { headers: [{ key: 'X-Post-Refused', value: '1' }] }));
    expect(viaGet.value).toBe('0.25');
    expect(seen[seen.length - 1]!.method).toBe('GET');
  });

  it('rejects bad configuration naming the field, and stores the resolved query as metric metadata', async () => {
    expect((await prom.run(q('up', { timeout: -1 }))).message).toBe(
      'prometheus.timeout: must be a non-negative integer (seconds)',
    );
    expect((await prom.run(request({ prometheus: { query: 'up' } }, {}))).message).toMatch(
      /^prometheus\.address/,
    );
    expect(prom.metricMetadata?.(q('sum(up)'))).toEqual({ ResolvedPrometheusQuery: 'sum(up)' });
  });
});
