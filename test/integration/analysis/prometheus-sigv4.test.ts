// prometheus `authentication.sigv4` (Amazon Managed Prometheus): queries signed for service "aps" with
// environment credentials; a local server checks the signature of the POST and of the GET fallback.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrometheusProvider } from '../../../src/analysis/providers/prometheus.ts';
import type { ProviderRequest } from '../../../src/analysis/providers/provider.ts';
import { signV4 } from '../../../src/analysis/providers/sigv4.ts';
import { type FakeApi, json, type Seen, startFakeApi } from '../../fixtures/analysis/saas-server.ts';

const NOW = Date.parse('2025-06-01T10:00:00Z');
const ENV = {
  AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'amp-secret-key',
  AWS_SESSION_TOKEN: 'amp-token',
};
let api: FakeApi;
beforeAll(async () => {
  api = await startFakeApi();
});
afterAll(async () => {
  await api.close();
});

function verified(req: Seen): boolean {
  const { authorization, ...rest } = req.headers as Record<string, string>;
  const names = /SignedHeaders=([^,]+)/.exec(authorization ?? '')?.[1]?.split(';') ?? [];
  const headers: Record<string, string> = {};
  for (const n of names) headers[n] = rest[n]!;
  return (
    signV4({
      method: req.method,
      url: new URL(req.url, api.base),
      headers,
      body: req.body,
      region: 'us-west-2',
      service: 'aps',
      credentials: {
        accessKeyId: ENV.AWS_ACCESS_KEY_ID,
        secretAccessKey: ENV.AWS_SECRET_ACCESS_KEY,
        sessionToken: ENV.AWS_SESSION_TOKEN,
      },
      nowMs: NOW,
    }).headers.authorization === authorization
  );
}

function request(block: Record<string, unknown>): ProviderRequest {
  return {
    metricName: 'm',
    provider: { prometheus: block },
    nowMs: NOW,
    signal: new AbortController().signal,
  };
}

const OK = {
  status: 'success',
  data: { resultType: 'vector', result: [{ metric: {}, value: [1, '0.99'] }] },
};

describe('prometheus authentication.sigv4', () => {
  it('signs the POST for service aps in the given region', async () => {
    const prometheus = createPrometheusProvider({ env: ENV, nowMs: () => NOW });
    api.handle((req, res) =>
      verified(req) ? json(res, 200, OK) : json(res, 403, { message: 'bad signature' }),
    );
    const result = await prometheus.run(
      request({
        address: `${api.base}/workspaces/ws-1`,
        query: 'up',
        authentication: { sigv4: { region: 'us-west-2' } },
      }),
    );
    expect(result).toMatchObject({ result: [0.99], value: '[0.99]' });
    const req = api.seen.at(-1)!;
    expect(req.url).toBe('/workspaces/ws-1/api/v1/query');
    expect(req.headers.authorization).toContain('/us-west-2/aps/aws4_request');
    expect(req.headers['x-amz-security-token']).toBe('amp-token');
    await prometheus.close();
  });

  it('signs the GET fallback too', async () => {
    const prometheus = createPrometheusProvider({ env: ENV, nowMs: () => NOW });
    api.handle((req, res) => {
      if (req.method === 'POST') return void res.writeHead(405).end();
      return verified(req) ? json(res, 200, OK) : json(res, 403, { message: 'bad signature' });
    });
    const result = await prometheus.run(
      request({
        address: api.base,
        query: 'sum(rate(x[5m]))',
        authentication: { sigv4: { region: 'us-west-2' } },
      }),
    );
    expect(result.value).toBe('[0.99]');
    expect(api.seen.at(-1)!.method).toBe('GET');
    await prometheus.close();
  });

  it('refuses a profile or role, needs credentials, and does not sign an empty block', async () => {
    const prometheus = createPrometheusProvider({ env: ENV, nowMs: () => NOW });
    const profile = await prometheus.run(
      request({ address: api.base, query: 'up', authentication: { sigv4: { region: 'r', profile: 'p' } } }),
    );
    expect(profile.message).toContain('prometheus.authentication.sigv4.profile: not supported by Sluice');
    const role = await prometheus.run(
      request({
        address: api.base,
        query: 'up',
        authentication: { sigv4: { roleArn: 'arn:aws:iam::1:role/x' } },
      }),
    );
    expect(role.message).toContain('prometheus.authentication.sigv4.roleArn: not supported by Sluice');
    const noCreds = createPrometheusProvider({ env: {} });
    const missing = await noCreds.run(
      request({ address: api.base, query: 'up', authentication: { sigv4: { region: 'us-west-2' } } }),
    );
    expect(missing).toMatchObject({ phase: 'Error' });
    expect(missing.message).toContain('no AWS credentials');
    api.handle((req, res) => json(res, 200, { ...OK, auth: req.headers.authorization ?? null }));
    const plain = await prometheus.run(
      request({ address: api.base, query: 'up', authentication: { sigv4: {} } }),
    );
    expect(plain.value).toBe('[0.99]');
    expect(api.seen.at(-1)!.headers.authorization).toBeUndefined();
    api.handle((_q, res) => json(res, 403, { message: `denied ${ENV.AWS_SECRET_ACCESS_KEY}` }));
    const denied = await prometheus.run(
      request({ address: api.base, query: 'up', authentication: { sigv4: { region: 'us-west-2' } } }),
    );
    expect(denied.phase).toBe('Error');
    expect(denied.message).not.toContain(ENV.AWS_SECRET_ACCESS_KEY);
    await prometheus.close();
    await noCreds.close();
  });
});
