// The demo application (src/demo/app.ts) on a real socket: what it answers, how it misbehaves when told
// to, and how bad settings are refused. Randomness and waiting are injected, so nothing here is timed.
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DEMO_VERSION_HEADER,
  type DemoApp,
  type DemoAppConfig,
  demoImageVersion,
  demoSettingsFromEnv,
  isDemoImage,
  startDemoApp,
} from '../../../src/demo/app.ts';

const BASE: DemoAppConfig = {
  name: 'shop-7d9f-abcde',
  version: 'v2',
  errorRate: 0,
  latencyMs: 0,
  latencyJitterMs: 0,
};
const apps: DemoApp[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});

async function start(config: Partial<DemoAppConfig>, deps = {}): Promise<DemoApp> {
  const app = await startDemoApp({ ...BASE, ...config }, { host: '127.0.0.1', port: 0 }, deps);
  apps.push(app);
  return app;
}

async function get(
  app: DemoApp,
  path = '/',
): Promise<{ status: number; version: unknown; body: Record<string, unknown> }> {
  const res = await request(`http://127.0.0.1:${app.port}${path}`);
  return {
    status: res.statusCode,
    version: res.headers[DEMO_VERSION_HEADER],
    body: (await res.body.json()) as Record<string, unknown>,
  };
}

describe('demo app', () => {
  it('answers JSON naming the pod, the version and the path, with x-demo-version', async () => {
    const app = await start({});
    const r = await get(app, '/checkout?x=1');
    expect(r).toEqual({
      status: 200,
      version: 'v2',
      body: { pod: 'shop-7d9f-abcde', version: 'v2', path: '/checkout?x=1' },
    });
  });

  it('fails every request with 500 at ERROR_RATE 1, still naming its version', async () => {
    const app = await start({ errorRate: 1 });
    for (let i = 0; i < 5; i++) {
      const r = await get(app);
      expect(r.status).toBe(500);
      expect(r.version).toBe('v2');
      expect(r.body.error).toBe('injected failure (ERROR_RATE)');
    }
  });

  it('fails the requests whose draw falls under ERROR_RATE', async () => {
    const draws = [0.1, 0.5, 0.19, 0.2, 0.9];
    const app = await start({ errorRate: 0.2 }, { random: () => draws.shift() ?? 0.99 });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await get(app)).status);
    expect(statuses).toEqual([500, 200, 500, 200, 200]);
  });

  it('waits LATENCY_MS plus a share of LATENCY_JITTER_MS before answering', async () => {
    const waited: number[] = [];
    const app = await start(
      { latencyMs: 150, latencyJitterMs: 100 },
      {
        random: () => 0.5,
        delay: (ms: number) => {
          waited.push(ms);
          return Promise.resolve();
        },
      },
    );
    expect((await get(app)).status).toBe(200);
    expect(waited).toEqual([200]);
  });

  it('reads its misbehaviour from the environment, and refuses a bad value naming the variable', () => {
    expect(demoSettingsFromEnv({})).toEqual({ errorRate: 0, latencyMs: 0, latencyJitterMs: 0 });
    expect(demoSettingsFromEnv({ ERROR_RATE: '0.2', LATENCY_MS: '150', LATENCY_JITTER_MS: '' })).toEqual({
      errorRate: 0.2,
      latencyMs: 150,
      latencyJitterMs: 0,
    });
    expect(() => demoSettingsFromEnv({ ERROR_RATE: '1.5' })).toThrow(
      'ERROR_RATE: must be between 0 and 1, got 1.5',
    );
    expect(() => demoSettingsFromEnv({ LATENCY_MS: 'slow' })).toThrow(
      'LATENCY_MS: must be a number, got "slow"',
    );
    expect(() => demoSettingsFromEnv({ LATENCY_JITTER_MS: '-1' })).toThrow(
      'LATENCY_JITTER_MS: must be between',
    );
  });

  it('refuses a config it cannot honour instead of serving something else', async () => {
    await expect(start({ errorRate: 2 })).rejects.toThrow('errorRate: must be between 0 and 1');
    await expect(start({ version: '' })).rejects.toThrow('version: must not be empty');
  });

  it('recognises its image and reads the version from the tag', () => {
    expect(isDemoImage('sluice-demo:v2')).toBe(true);
    expect(isDemoImage('registry.example.com/team/sluice-demo:1.4.0')).toBe(true);
    expect(isDemoImage('sluice-demo')).toBe(true);
    expect(isDemoImage('sluice-demo-other:v1')).toBe(false);
    expect(isDemoImage('nginx:1.25')).toBe(false);
    expect(demoImageVersion('registry.example.com:5000/sluice-demo:v3')).toBe('v3');
    expect(demoImageVersion('sluice-demo')).toBe('latest');
    expect(demoImageVersion('sluice-demo@sha256:abc')).toBe('latest');
  });
});
