// The controller drives real Sluice proxies (issue 9's acceptance): a real controller with its control
// server, real proxies subscribed to it, real demo pods (sluice-demo images served by the pod simulator),
// real traffic through the proxies, and analysis on the proxies' own histograms (sluice/judge), no
// Prometheus anywhere.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { request } from 'undici';
import { afterEach, describe, expect, it, type TestContext } from 'vitest';
import { type RunningProxy, startProxy } from '../../proxy/main.ts';
import type { Rollout } from '../../src/api/rollout.ts';
import { type DemoContainerOptions, demoContainer, requireDemoPods } from '../cluster/demo-traffic.ts';
import { testClient } from '../cluster/namespace.ts';
import { freePort } from '../fixtures/prometheus.ts';
import { E2e, type E2eControl, service } from './fixture.ts';

let e: E2e | undefined;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
  await e?.dispose();
  e = undefined;
});

async function control(): Promise<E2eControl> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-e2e-control-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const token = randomBytes(24).toString('hex');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, token);
  return { port: await freePort(), token, tokenFile };
}

async function start(
  prefix: string,
  ctx: Pick<TestContext, 'skip'>,
  mode: 'in-process' | 'subprocess' = 'in-process',
) {
  const client = await testClient();
  try {
    await requireDemoPods(ctx, client);
  } finally {
    await client.close();
  }
  e = await E2e.create(prefix, { controller: 'none', control: await control() });
  await e.startController(mode);
  return e;
}

/** A proxy subscribed to the test's controller for the given routes of the test namespace. */
async function gateway(env: E2e, proxyId: string, routes: string[], ready = true): Promise<RunningProxy> {
  const c = env.control!;
  const proxy: RunningProxy = await startProxy({
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    control: {
      target: `127.0.0.1:${c.port}`,
      token: c.token,
      proxyId,
      routes: routes.map((name) => ({ name, namespace: env.namespace })),
      reportIntervalMs: 250,
    },
    logger: pino({ level: 'silent' }),
  });
  cleanups.push(() => proxy.close(100));
  if (ready)
    await env.waitFor(
      `proxy ${proxyId} to apply its first snapshot`,
      async () => proxy.server.snapshot !== null || undefined,
    );
  return proxy;
}

interface Reply {
  status: number;
  version: string;
}

async function get(proxy: RunningProxy): Promise<Reply> {
  const { host, port } = proxy.dataAddress;
  try {
    const res = await request(`http://${host}:${port}/`, { headersTimeout: 5_000, bodyTimeout: 5_000 });
    await res.body.dump();
    return { status: res.statusCode, version: String(res.headers['x-demo-version'] ?? '') };
  } catch (error) {
    return { status: 0, version: `error: ${String(error)}` };
  }
}

interface Load {
  readonly replies: Reply[];
  stop(): Promise<void>;
}

/** The running background load, paused while sample() measures. */
let pauseLoad: (() => Promise<() => void>) | undefined;

/**
 * Sequential requests, one at a time and alone (the background load pauses meanwhile), so the proxy's
 * exact weights show in them: any run of n requests through one proxy is within one of n x weight.
 */
async function sample(proxy: RunningProxy, n: number): Promise<Reply[]> {
  const resume = await pauseLoad?.();
  try {
    const out: Reply[] = [];
    for (let i = 0; i < n; i++) out.push(await get(proxy));
    return out;
  } finally {
    resume?.();
  }
}

/** Background load (one request in flight at a time) until stopped; keeps every reply. */
function load(proxy: RunningProxy): Load {
  const replies: Reply[] = [];
  let running = true;
  let paused: Promise<void> | undefined;
  let onIdle: (() => void) | undefined;
  const done = (async () => {
    while (running) {
      if (paused !== undefined) {
        onIdle?.();
        await paused;
        continue;
      }
      replies.push(await get(proxy));
    }
    onIdle?.();
  })();
  pauseLoad = async () => {
    if (!running) return () => {};
    let open = (): void => {};
    paused = new Promise<void>((resolve) => {
      open = resolve;
    });
    await new Promise<void>((resolve) => {
      onIdle = resolve;
    });
    return () => {
      paused = undefined;
      onIdle = undefined;
      open();
    };
  };
  const stop = async (): Promise<void> => {
    running = false;
    await done;
    pauseLoad = undefined;
  };
  cleanups.push(stop);
  return { replies, stop };
}

const count = (replies: readonly Reply[], version: string) =>
  replies.filter((r) => r.version === version).length;

function judgeTemplate(route: string): Record<string, unknown> {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AnalysisTemplate',
    metadata: { name: 'judge' },
    spec: {
      args: [{ name: 'canary-hash' }, { name: 'stable-hash' }],
      metrics: [
        {
          name: 'judge',
          interval: '2s',
          failureLimit: 0,
          inconclusiveLimit: 1000,
          provider: {
            plugin: {
              'sluice/judge': {
                route,
                canary: '{{args.canary-hash}}',
                baseline: '{{args.stable-hash}}',
                alpha: 0.01,
                onNoData: 'Successful',
                metrics: [{ name: 'error-rate' }, { name: 'latency', thresholdMs: 100 }],
              },
            },
          },
        },
      ],
    },
  };
}

function proxyRollout(
  name: string,
  app: DemoContainerOptions,
  steps: Record<string, unknown>[],
  analysis = true,
) {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, annotations: { 'sluice.test/ready-delay-ms': '200' } },
        spec: { containers: [demoContainer(app)] },
      },
      strategy: {
        canary: {
          stableService: `${name}-stable`,
          canaryService: `${name}-canary`,
          trafficRouting: { plugins: { 'sluice/proxy': {} } },
          ...(analysis
            ? {
                analysis: {
                  templates: [{ templateName: 'judge' }],
                  args: [
                    { name: 'canary-hash', valueFrom: { podTemplateHashValue: 'Latest' } },
                    { name: 'stable-hash', valueFrom: { podTemplateHashValue: 'Stable' } },
                  ],
                },
              }
            : {}),
          steps,
        },
      },
    },
  };
}

async function deploy(
  env: E2e,
  name: string,
  steps: Record<string, unknown>[],
  analysis = true,
): Promise<void> {
  await env.apply([service(`${name}-stable`, name), service(`${name}-canary`, name)]);
  if (analysis) await env.apply(judgeTemplate(name));
  await env.healthyRollout(proxyRollout(name, { tag: 'v1' }, steps, analysis), name);
}

async function update(env: E2e, name: string, app: DemoContainerOptions): Promise<void> {
  await env.patchRollout(name, { spec: { template: { spec: { containers: [demoContainer(app)] } } } });
}

/** Paused at `step` with the step's weight verified by every proxy. */
function verifiedAt(env: E2e, name: string, step: number): Promise<Rollout> {
  return env.waitForRollout(
    name,
    `paused at step ${step} with the weight verified`,
    (ro) =>
      ro.status?.currentStepIndex === step &&
      ro.status.phase === 'Paused' &&
      ro.status.canary?.weights?.verified === true,
  );
}

const STEPS = [{ setWeight: 10 }, { pause: {} }, { setWeight: 50 }, { pause: {} }];

describe('the sluice/proxy router with real proxies, pods and traffic', () => {
  it('promotes a healthy canary 10 -> 50 -> 100, each step carrying exactly its share once ACKed', async (ctx) => {
    const env = await start('proxy-healthy', ctx);
    await deploy(env, 'web', STEPS);
    const gw = await gateway(env, 'gw-1', ['web']);
    const before = await sample(gw, 20);
    expect(count(before, 'v1')).toBe(20);
    const background = load(gw);
    await update(env, 'web', { tag: 'v2' });
    await verifiedAt(env, 'web', 1);
    let window = await sample(gw, 200);
    // Exact SWRR through one proxy: any run of 200 requests is within one request of 10%.
    expect(Math.abs(count(window, 'v2') - 20)).toBeLessThanOrEqual(1);
    await env.sluiceOk('promote', 'web');
    await verifiedAt(env, 'web', 3);
    window = await sample(gw, 200);
    expect(Math.abs(count(window, 'v2') - 100)).toBeLessThanOrEqual(1);
    // Up to here no pod went away: not one request failed.
    expect(background.replies.filter((r) => r.status !== 200)).toEqual([]);
    await env.sluiceOk('promote', 'web');
    await env.waitForPhase('web', 'Healthy');
    await background.stop();
    // Healthy switches the stable Service to v2; the proxies follow once the endpoints controller has
    // updated its Endpoints (EDS-like, as with a mesh), so all traffic is on v2 shortly after, not at once.
    await env.waitFor('all traffic on v2', async () => count(await sample(gw, 50), 'v2') === 50 || undefined);
    const runs = await env.analysisRuns('web');
    expect(runs.map((r) => r.phase)).not.toContain('Failed');
  });

  it('aborts from the proxies own histograms: every request failing, 20% failing, and 150 ms slower', async (ctx) => {
    const env = await start('proxy-abort', ctx);
    await deploy(env, 'api', STEPS);
    const gw = await gateway(env, 'gw-1', ['api']);
    const background = load(gw);
    const bad: [string, DemoContainerOptions][] = [
      ['ERROR_RATE=1', { tag: 'v2', errorRate: 1 }],
      ['ERROR_RATE=0.2', { tag: 'v3', errorRate: 0.2 }],
      ['LATENCY_MS=150', { tag: 'v4', latencyMs: 150 }],
    ];
    let previous = (await env.rollout('api')).status?.currentPodHash;
    for (const [what, app] of bad) {
      const from = background.replies.length;
      await update(env, 'api', app);
      const aborted = await env.waitForRollout(
        'api',
        `the new revision aborted by the judge (${what})`,
        (ro) =>
          ro.status?.currentPodHash !== previous &&
          ro.status?.abort === true &&
          ro.status.canary?.weights?.canary.weight === 0,
      );
      previous = aborted.status?.currentPodHash;
      expect(aborted.status?.message ?? '').toMatch(/judge/i);
      // Once the weight 0 is ACKed, the bad version gets nothing more.
      await env.waitForRollout(
        'api',
        'weight 0 verified',
        (ro) => ro.status?.canary?.weights?.verified === true,
      );
      const after = await sample(gw, 50);
      expect(count(after, app.tag)).toBe(0);
      const answeredByBad = count(background.replies.slice(from), app.tag);
      expect(
        answeredByBad,
        `${what}: ${aborted.status?.message}; ${JSON.stringify(await env.analysisRuns('api'))}`,
      ).toBeGreaterThan(0);
    }
    await background.stop();
    expect(count(background.replies, 'v1')).toBeGreaterThan(0);
  });

  it('holds a step while a proxy NACKs, naming it and its reason, and carries on when only ACKing proxies remain', async (ctx) => {
    const env = await start('proxy-nack', ctx);
    await deploy(env, 'shop', STEPS, false);
    // A second Rollout whose route has the same match (any host, "/"): a proxy serving both cannot apply it.
    await deploy(env, 'other', STEPS, false);
    await gateway(env, 'gw-1', ['shop']);
    // gw-2 refuses every snapshot: it never applies one.
    const gw2 = await gateway(env, 'gw-2', ['shop', 'other'], false);
    const v1 = (await env.rollout('shop')).status?.currentPodHash;
    await update(env, 'shop', { tag: 'v2' });
    // The stable Rollout waits on gw-2 too (its weight 0 is not verified either): look at the update's step.
    const held = await env.waitForRollout(
      'shop',
      'the update at step 0 with WeightVerified False naming gw-2',
      (ro) =>
        (ro.status?.currentPodHash !== v1 &&
          ro.status?.currentStepIndex === 0 &&
          ro.status?.conditions?.some(
            (c) =>
              c.type === 'WeightVerified' &&
              c.status === 'False' &&
              c.message.includes('proxy gw-2 rejected snapshot'),
          )) ??
        false,
    );
    expect(held.status?.currentStepIndex).toBe(0);
    expect(held.status?.canary?.weights?.verified).toBe(false);
    await env.waitFor(
      'a WeightNotVerified event naming gw-2',
      async () =>
        env.events('shop').some((ev) => ev.reason === 'WeightNotVerified' && ev.message.includes('gw-2')) ||
        undefined,
    );
    await gw2.close(100);
    const moved = await verifiedAt(env, 'shop', 1);
    expect(moved.status?.conditions?.find((c) => c.type === 'WeightVerified')?.status).toBe('True');
  });

  it('keeps serving the last snapshot while the controller is SIGKILLed, and continues from the same step', async (ctx) => {
    const env = await start('proxy-kill', ctx, 'subprocess');
    await deploy(env, 'cart', STEPS, false);
    const gw = await gateway(env, 'gw-1', ['cart']);
    await update(env, 'cart', { tag: 'v2' });
    await verifiedAt(env, 'cart', 1);
    await env.sluiceOk('promote', 'cart');
    await verifiedAt(env, 'cart', 3);
    await env.killController();
    const whileDown = await sample(gw, 200);
    expect(whileDown.filter((r) => r.status !== 200)).toEqual([]);
    expect(Math.abs(count(whileDown, 'v2') - 100)).toBeLessThanOrEqual(1);
    await env.startController('subprocess');
    const back = await verifiedAt(env, 'cart', 3);
    expect(back.status?.currentStepIndex).toBe(3);
    await env.sluiceOk('promote', 'cart');
    await env.waitForPhase('cart', 'Healthy');
    await env.waitFor('all traffic on v2', async () => {
      const replies = await sample(gw, 20);
      return count(replies, 'v2') === 20 || undefined;
    });
  });

  it('blue-green through the proxies: the preview header reaches the new version before promotion, everyone after', async (ctx) => {
    const env = await start('proxy-bluegreen', ctx);
    await env.apply([service('shop-active', 'shop'), service('shop-preview', 'shop')]);
    const manifest = {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Rollout',
      metadata: { name: 'shop' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'shop' } },
        template: {
          metadata: { labels: { app: 'shop' }, annotations: { 'sluice.test/ready-delay-ms': '200' } },
          spec: { containers: [demoContainer({ tag: 'v1' })] },
        },
        strategy: {
          blueGreen: {
            activeService: 'shop-active',
            previewService: 'shop-preview',
            autoPromotionEnabled: false,
            trafficRouting: { plugins: { 'sluice/proxy': {} } },
          },
        },
      },
    };
    await env.healthyRollout(manifest, 'shop');
    const gw = await gateway(env, 'gw-1', ['shop']);
    const previewGet = async (): Promise<string> => {
      const { host, port } = gw.dataAddress;
      const res = await request(`http://${host}:${port}/`, { headers: { 'x-sluice-preview': 'true' } });
      await res.body.dump();
      return String(res.headers['x-demo-version'] ?? '');
    };
    await update(env, 'shop', { tag: 'v2' });
    await env.waitForPhase('shop', 'Paused');
    await env.waitFor(
      'the preview header to reach v2',
      async () => (await previewGet()) === 'v2' || undefined,
    );
    expect(count(await sample(gw, 20), 'v1')).toBe(20);
    await env.sluiceOk('promote', 'shop');
    await env.waitForPhase('shop', 'Healthy');
    await env.waitFor('all traffic on v2', async () => count(await sample(gw, 20), 'v2') === 20 || undefined);
  });
});
