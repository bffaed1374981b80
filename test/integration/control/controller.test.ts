// The control server inside the `sluice controller` process (src/controller/lifecycle.ts), against a
// scripted API server: bound while standby and refusing proxies, serving them once the replica leads,
// subscriptions checked against the Rollouts' sluice/proxy routes, ACKs and reports enqueueing the
// Rollouts and running AnalysisRuns behind them, streams closed at stop.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Controller } from '../../../src/controller/lifecycle.ts';
import {
  histogramReport,
  type RecordingClient,
  rawStream,
  route,
  startClient,
  TOKEN,
  until,
} from './harness.ts';

const LEASE_PATH = '/apis/coordination.k8s.io/v1/namespaces/default/leases/sluice-controller-lock';

function rollout(namespace: string, name: string, plugin: object | undefined) {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { namespace, name, uid: `${namespace}-${name}`, resourceVersion: '5' },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image: 'app:1' }] },
      },
      strategy: {
        canary: {
          stableService: `${name}-stable`,
          canaryService: `${name}-canary`,
          ...(plugin !== undefined ? { trafficRouting: { plugins: { 'sluice/proxy': plugin } } } : {}),
        },
      },
    },
  };
}

function analysisRun(namespace: string, name: string, phase: string) {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AnalysisRun',
    metadata: { namespace, name, uid: `${namespace}-${name}`, resourceVersion: '6' },
    spec: { metrics: [] },
    status: { phase },
  };
}

/** An API server with fixed lists, watches that stay open, and a Lease another replica holds until freed. */
class ScriptedApi {
  readonly server: Server;
  leaseFree = false;
  #lease: Record<string, unknown> | undefined;
  #version = 100;
  readonly #lists: Record<string, unknown[]>;

  constructor(lists: Record<string, unknown[]>) {
    this.#lists = lists;
    this.server = createServer((req, res) => void this.#handle(req, res));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const send = (code: number, body: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (url.pathname === LEASE_PATH || url.pathname === LEASE_PATH.replace(/\/sluice-controller-lock$/, '')) {
      if (req.method === 'GET') {
        if (this.#lease !== undefined) return send(200, this.#lease);
        if (this.leaseFree) return send(404, { kind: 'Status', reason: 'NotFound', code: 404 });
        return send(200, {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: 'sluice-controller-lock', namespace: 'default', resourceVersion: '1' },
          spec: { holderIdentity: 'other-replica', leaseDurationSeconds: 3600 },
        });
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      this.#lease = { ...body, metadata: { ...body.metadata, resourceVersion: String(++this.#version) } };
      return send(req.method === 'POST' ? 201 : 200, this.#lease);
    }
    if (req.method !== 'GET') return send(404, { kind: 'Status', reason: 'NotFound', code: 404 });
    if (url.searchParams.get('watch') !== null) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      return;
    }
    const plural = url.pathname.split('/').at(-1) ?? '';
    send(200, {
      kind: 'List',
      apiVersion: 'v1',
      metadata: { resourceVersion: '50' },
      items: this.#lists[plural] ?? [],
    });
  }
}

describe('control server in the controller process', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function start(): Promise<{ api: ScriptedApi; controller: Controller; target: string }> {
    const api = new ScriptedApi({
      rollouts: [
        rollout('shop', 'checkout-rollout', { route: 'checkout' }),
        rollout('other-team', 'web', {}),
        rollout('other-team', 'plain', undefined),
      ],
      analysisruns: [
        analysisRun('shop', 'canary-analysis', 'Running'),
        analysisRun('shop', 'done', 'Successful'),
      ],
    });
    await new Promise<void>((resolve) => api.server.listen(0, '127.0.0.1', resolve));
    const dir = mkdtempSync(join(tmpdir(), 'sluice-control-controller-'));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          {
            name: 'c',
            cluster: { server: `http://127.0.0.1:${(api.server.address() as AddressInfo).port}` },
          },
        ],
        users: [{ name: 'u', user: { token: 'api-token' } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    const controller = new Controller({
      kubeconfig,
      metricsPort: 0,
      healthzPort: 0,
      listenHost: '127.0.0.1',
      retryPeriodMs: 50,
      logger: pino({ level: 'silent' }),
      reconcileRollout: async () => ({}),
      analysisThreads: 1,
      control: { host: '127.0.0.1', port: 0, token: TOKEN },
    });
    cleanups.push(async () => {
      api.server.closeAllConnections();
      await new Promise<void>((resolve) => api.server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    });
    cleanups.push(async () => {
      await controller.stop();
    });
    await controller.start();
    return { api, controller, target: `127.0.0.1:${controller.controlPort}` };
  }

  function client(target: string, overrides: Parameters<typeof startClient>[1] = {}): RecordingClient {
    const c = startClient(target, overrides);
    cleanups.push(() => c.client.close());
    return c;
  }

  /** Frees the Lease and waits until a proxy subscribing to shop/checkout is served: leading, caches synced. */
  async function lead(api: ScriptedApi, controller: Controller, target: string): Promise<RecordingClient> {
    const c = client(target);
    api.leaseFree = true;
    await until(() => controller.control.deliveries('shop', 'checkout').length === 1, 'serving');
    return c;
  }

  it('binds while standby and refuses proxies, serves them once it leads, and closes their streams at stop', async () => {
    const { api, controller, target } = await start();
    expect(controller.controlPort).toBeGreaterThan(0);
    expect(controller.isLeader).toBe(false);
    const c = client(target);
    await until(
      () => c.logs.some((l) => l.fields.code === status.UNAVAILABLE && l.fields.details === 'not the leader'),
      'refused while standby',
    );
    api.leaseFree = true;
    await until(
      () => controller.control.deliveries('shop', 'checkout').length === 1,
      'subscribed once leading',
    );
    expect(c.snapshots).toEqual([]);
    const version = controller.routes.publish(route('checkout'));
    await until(() => controller.control.deliveries('shop', 'checkout')[0]!.ackedVersion === version, 'ACK');
    expect(c.snapshots.map((s) => s.version)).toEqual([version]);
    const metrics = await (await fetch(`http://127.0.0.1:${controller.metricsPort}/metrics`)).text();
    expect(metrics).toContain('sluice_control_connected_proxies 1');
    expect(metrics).toContain('sluice_control_acks_total 1');
    await controller.stop();
    await until(() => !c.client.connected(), 'stream closed at stop');
    expect(controller.control.deliveries('shop', 'checkout')).toEqual([]);
  });

  it('accepts subscriptions to the routes Rollouts declare through sluice/proxy, refuses others with NOT_FOUND', async () => {
    const { api, controller, target } = await start();
    await lead(api, controller, target);
    const cases: [string, { name: string; namespace?: string }, number][] = [
      ['declared in its namespace', { name: 'checkout', namespace: 'shop' }, status.OK],
      ['declared by name in any namespace', { name: 'web' }, status.OK],
      ['declared, but in another namespace', { name: 'checkout', namespace: 'other-team' }, status.NOT_FOUND],
      ['a Rollout without the proxy router', { name: 'plain' }, status.NOT_FOUND],
      ['no Rollout at all', { name: 'nothing' }, status.NOT_FOUND],
    ];
    for (const [what, served, code] of cases) {
      const r = rawStream(target);
      cleanups.push(async () => r.close());
      r.call.write({ hello: { proxy_id: `p-${what}`, routes: [served] } });
      if (code === status.OK) {
        await until(
          () => controller.control.deliveries(served.namespace ?? 'other-team', served.name).length > 0,
          what,
        );
      } else {
        expect((await r.status).code, what).toBe(code);
      }
    }
  });

  it('enqueues the Rollouts behind ACKed routes, and on reports the running AnalysisRuns of their namespaces', async () => {
    const { api, controller, target } = await start();
    // Serving comes after the first full enqueue of every Rollout and AnalysisRun.
    const c = await lead(api, controller, target);
    const rollouts = vi.spyOn(controller.rolloutQueue, 'add');
    const runs = vi.spyOn(controller.analysisQueue, 'add');
    controller.routes.publish(route('checkout'));
    await until(() => controller.control.deliveries('shop', 'checkout')[0]?.ackedVersion === 1, 'ACK');
    await until(() => rollouts.mock.calls.length > 0, 'Rollout enqueued');
    expect(rollouts.mock.calls.map(([key]) => key)).toEqual(['shop/checkout-rollout']);
    // The run's own reconciles (and their retries) go through add() too: count only what the report adds.
    runs.mockClear();
    c.queue.push(histogramReport({ route: 'checkout', namespace: 'shop' }));
    await until(() => runs.mock.calls.length > 0, 'AnalysisRun enqueued');
    // Retries of the run's reconcile go through add() too: which keys, not how often.
    expect(new Set(runs.mock.calls.map(([key]) => key))).toEqual(new Set(['shop/canary-analysis']));
  });
});
