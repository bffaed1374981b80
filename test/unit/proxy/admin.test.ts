import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { type AdminServer, startAdminServer } from '../../../proxy/admin.ts';
import { createTelemetry } from '../../../proxy/telemetry.ts';
import { parseExposition } from '../../fixtures/prometheus.ts';

describe('admin server', () => {
  let admin: AdminServer | undefined;
  afterEach(async () => {
    await admin?.close();
    admin = undefined;
  });

  it('serves metrics, health, readiness (503 until ready) and the config as JSON', async () => {
    const telemetry = createTelemetry();
    telemetry
      .series({ app: 'checkout', namespace: 'shop', role: 'stable', revision: 'r1' })
      .record(200, 'GET', 1_234);
    let ready = false;
    admin = await startAdminServer({
      host: '127.0.0.1',
      port: 0,
      metrics: telemetry.metrics,
      describeConfig: () => ({ version: 3, routes: [{ name: 'checkout' }] }),
      ready: () => ready,
    });
    expect(admin.address).toBe(`127.0.0.1:${admin.port}`);
    const base = `http://${admin.address}`;

    const metrics = await request(`${base}/metrics`);
    expect(metrics.statusCode).toBe(200);
    expect(metrics.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const { samples } = parseExposition(await metrics.body.text());
    expect(samples.some((s) => s.name === 'http_requests_total' && s.labels.app === 'checkout')).toBe(true);

    const health = await request(`${base}/healthz`);
    expect(health.statusCode).toBe(200);
    await health.body.dump();

    const notReady = await request(`${base}/ready`);
    expect(notReady.statusCode).toBe(503);
    await notReady.body.dump();
    ready = true;
    const nowReady = await request(`${base}/ready`);
    expect(nowReady.statusCode).toBe(200);
    await nowReady.body.dump();

    const config = await request(`${base}/config`);
    expect(config.statusCode).toBe(200);
    expect(config.headers['content-type']).toMatch(/^application\/json/);
    expect(await config.body.json()).toEqual({ version: 3, routes: [{ name: 'checkout' }] });

    const missing = await request(`${base}/nope`);
    expect(missing.statusCode).toBe(404);
    await missing.body.dump();
    const post = await request(`${base}/metrics`, { method: 'POST', body: 'x' });
    expect(post.statusCode).toBe(405);
    await post.body.dump();
  });

  it('answers 500 instead of crashing when describeConfig or ready throws', async () => {
    admin = await startAdminServer({
      host: '127.0.0.1',
      port: 0,
      metrics: { render: () => '' },
      describeConfig: () => {
        throw new Error('boom');
      },
      ready: () => {
        throw new Error('boom');
      },
    });
    const config = await request(`http://${admin.address}/config`);
    expect(config.statusCode).toBe(500);
    expect(await config.body.text()).toContain('boom');
    const ready = await request(`http://${admin.address}/ready`);
    expect(ready.statusCode).toBe(503);
    await ready.body.dump();
  });

  it('rejects an invalid port naming the field', async () => {
    await expect(
      startAdminServer({
        host: '127.0.0.1',
        port: 70_000,
        metrics: { render: () => '' },
        describeConfig: () => null,
        ready: () => true,
      }),
    ).rejects.toThrow(/port/);
  });
});
