// The dashboard server's endpoints on a real server on port 0, over a fixed object set (the watch cache
// is exercised against real API servers by test/e2e/dashboard.test.ts and
// test/integration/standalone/dashboard.test.ts): the JSON views, the event stream and its updates, the
// actions' patches (the CLI verbs' own), the CSRF token, --read-only, the Host check, the assets' ETags,
// and the proxy numbers computed from /metrics text.

import { afterEach, describe, expect, it } from 'vitest';
import type { Kind, KubeObject } from '../../../src/api/meta.ts';
import type { Rollout } from '../../../src/api/rollout.ts';
import {
  bucketQuantile,
  type ProxyStatsSource,
  parseExposition,
  routeStats,
  scrapeFromText,
} from '../../../src/cli/dashboard/proxy-stats.ts';
import { CSRF_HEADER, type Dashboard, startDashboard } from '../../../src/cli/dashboard/server.ts';
import type { Objects } from '../../../src/cli/dashboard/views.ts';
import type { ObjectSource } from '../../../src/cli/dashboard/watch-cache.ts';
import { type CliApi, CliApiError, type ObjectList, type PatchKind } from '../../../src/cli/kube.ts';

interface Sent {
  kind: Kind;
  namespace: string;
  name: string;
  body: unknown;
  patchKind: PatchKind;
  subresource?: string;
}

class FakeApi implements CliApi {
  readonly namespace = 'shop';
  readonly sent: Sent[] = [];
  readonly objects: () => Objects;
  constructor(objects: () => Objects) {
    this.objects = objects;
  }
  async get<T extends KubeObject>(kind: Kind, ns: string, name: string): Promise<T> {
    const ro = this.objects().rollouts.find((r) => r.metadata.name === name && r.metadata.namespace === ns);
    if (kind !== 'Rollout' || ro === undefined)
      throw new CliApiError(404, 'NotFound', `rollouts.argoproj.io "${name}" not found`);
    return structuredClone(ro) as unknown as T;
  }
  async list<T extends KubeObject>(kind: Kind): Promise<ObjectList<T>> {
    const items = kind === 'ReplicaSet' ? this.objects().replicaSets : [];
    return { items: items as unknown as T[], resourceVersion: '1' };
  }
  async patch<T extends KubeObject>(
    kind: Kind,
    namespace: string,
    name: string,
    body: unknown,
    patchKind: PatchKind,
    subresource?: 'status',
  ): Promise<T> {
    this.sent.push({ kind, namespace, name, body, patchKind, ...(subresource ? { subresource } : {}) });
    return this.get<T>(kind, namespace, name);
  }
  async update<T extends KubeObject>(_k: Kind, _n: string, _name: string, obj: T): Promise<T> {
    return obj;
  }
  async watch(): Promise<void> {}
  async close(): Promise<void> {}
}

class FixedSource implements ObjectSource {
  readonly #listeners = new Set<() => void>();
  current: Objects;
  constructor(current: Objects) {
    this.current = current;
  }
  objects(): Objects {
    return this.current;
  }
  subscribe(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }
  change(next: Objects): void {
    this.current = next;
    for (const fn of this.#listeners) fn();
  }
}

const UID = 'uid-web';
const owner = [
  { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name: 'web', uid: UID, controller: true },
];

function rollout(patch: { stepIndex?: number; abort?: boolean; proxy?: boolean } = {}): Rollout {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: {
      name: 'web',
      namespace: 'shop',
      uid: UID,
      generation: 2,
      creationTimestamp: '2026-01-01T00:00:00Z',
    },
    spec: {
      replicas: 4,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'app', image: 'web:v2' }] },
      },
      strategy: {
        canary: {
          stableService: 'web-stable',
          canaryService: 'web-canary',
          ...(patch.proxy ? { trafficRouting: { plugins: { 'sluice/proxy': { route: 'web-route' } } } } : {}),
          steps: [{ setWeight: 25 }, { pause: {} }, { analysis: { templates: [{ templateName: 'rate' }] } }],
        },
      },
    },
    status: {
      currentStepIndex: patch.stepIndex ?? 1,
      stableRS: 'aaa',
      currentPodHash: 'bbb',
      observedGeneration: '2',
      replicas: 5,
      readyReplicas: 5,
      availableReplicas: 5,
      updatedReplicas: 1,
      pauseConditions: [{ reason: 'CanaryPauseStep', startTime: '2026-01-01T00:01:00Z' }],
      controllerPause: true,
      ...(patch.abort ? { abort: true } : {}),
      canary: {
        weights: {
          canary: { weight: 25, podTemplateHash: 'bbb', serviceName: 'web-canary' },
          stable: { weight: 75, podTemplateHash: 'aaa', serviceName: 'web-stable' },
        },
      },
    },
  } as unknown as Rollout;
}

function replicaSet(hash: string, revision: number, image: string, replicas: number): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `web-${hash}`,
      namespace: 'shop',
      uid: `uid-${hash}`,
      labels: { app: 'web', 'rollouts-pod-template-hash': hash },
      annotations: { 'rollout.argoproj.io/revision': String(revision) },
      ownerReferences: owner,
      creationTimestamp: '2026-01-01T00:00:00Z',
    },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image }] } },
    },
    status: { replicas, availableReplicas: replicas, readyReplicas: replicas },
  } as unknown as KubeObject;
}

const analysisRun = {
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'AnalysisRun',
  metadata: {
    name: 'web-bbb-2-2',
    namespace: 'shop',
    uid: 'uid-run',
    annotations: { 'rollout.argoproj.io/revision': '2' },
    ownerReferences: owner,
  },
  spec: {
    metrics: [
      {
        name: 'success-rate',
        interval: '10s',
        count: 3,
        failureLimit: 1,
        successCondition: 'result[0] >= 0.95',
        provider: { prometheus: { query: 'x' } },
      },
    ],
  },
  status: {
    phase: 'Running',
    metricResults: [
      {
        name: 'success-rate',
        phase: 'Running',
        count: 1,
        successful: 1,
        failed: 0,
        inconclusive: 0,
        error: 0,
        consecutiveError: 0,
        measurements: [{ phase: 'Successful', value: '[0.99]', startedAt: '2026-01-01T00:02:00Z' }],
      },
    ],
  },
} as unknown as KubeObject;

function objects(ro: Rollout = rollout()): Objects {
  return {
    rollouts: [ro],
    replicaSets: [replicaSet('aaa', 1, 'web:v1', 4), replicaSet('bbb', 2, 'web:v2', 1)] as never,
    pods: [],
    analysisRuns: [analysisRun] as never,
  };
}

const TOKEN = 'test-token';
let dashboard: Dashboard | undefined;
afterEach(async () => {
  await dashboard?.close();
  dashboard = undefined;
});

async function start(
  o: { readOnly?: boolean; proxy?: ProxyStatsSource; host?: string } = {},
): Promise<{ base: string; source: FixedSource; api: FakeApi }> {
  const source = new FixedSource(objects());
  const api = new FakeApi(() => source.current);
  dashboard = await startDashboard({
    source,
    api,
    host: o.host ?? '127.0.0.1',
    port: 0,
    readOnly: o.readOnly ?? false,
    namespace: 'shop',
    csrfToken: TOKEN,
    nowMs: () => Date.parse('2026-02-03T04:05:06.789Z'),
    proxyIntervalMs: 50,
    ...(o.proxy ? { proxy: o.proxy } : {}),
  });
  return { base: `http://127.0.0.1:${dashboard.port}`, source, api };
}

function post(base: string, path: string, headers: Record<string, string> = { [CSRF_HEADER]: TOKEN }) {
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: '{}',
  });
}

/** Reads server-sent events until `n` have arrived. */
async function readEvents(res: Response, n: number): Promise<{ event: string; data: unknown }[]> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const events: { event: string; data: unknown }[] = [];
  while (events.length < n) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let i = buffer.indexOf('\n\n');
    while (i >= 0) {
      const block = buffer.slice(0, i);
      buffer = buffer.slice(i + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) });
      i = buffer.indexOf('\n\n');
    }
  }
  await reader.cancel();
  return events;
}

describe('sluice dashboard server', () => {
  it('lists Rollouts with phase, strategy, step, weights and images', async () => {
    const { base } = await start();
    const res = await fetch(`${base}/api/rollouts`);
    expect(res.status).toBe(200);
    const rows = (await res.json()) as Record<string, unknown>[];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      namespace: 'shop',
      name: 'web',
      status: 'Paused',
      strategy: 'Canary',
      step: '1/3',
      setWeight: '25',
      actualWeight: '20', // no traffic routing: the canary's share of available pods (1 of 5), as Argo shows it
      paused: true,
      aborted: false,
    });
    expect(rows[0]!.images).toEqual([
      { image: 'web:v1', tags: ['stable'] },
      { image: 'web:v2', tags: ['canary'] },
    ]);
  });

  it("answers a Rollout's page: steps, revisions with ReplicaSets and each metric's measurements and conditions", async () => {
    const { base } = await start();
    const page = (await (await fetch(`${base}/api/rollouts/shop/web`)).json()) as Record<string, never>;
    expect(page.steps).toEqual([
      { index: 0, text: 'setWeight 25', state: 'done' },
      { index: 1, text: 'pause (until promoted)', state: 'current' },
      { index: 2, text: 'analysis: rate', state: 'pending' },
    ]);
    expect(page.weights).toEqual({ canary: 25, stable: 75, verified: undefined });
    expect(page.hashes).toEqual({ aaa: 1, bbb: 2 });
    const revisions = page.revisions as {
      revision: number;
      replicaSets: { name: string }[];
      analysisRuns: never[];
    }[];
    expect(revisions.map((r) => [r.revision, r.replicaSets.map((s) => s.name)])).toEqual([
      [2, ['web-bbb']],
      [1, ['web-aaa']],
    ]);
    expect(revisions[0]!.analysisRuns[0]).toMatchObject({
      name: 'web-bbb-2-2',
      status: 'Running',
      metrics: [
        {
          name: 'success-rate',
          successCondition: 'result[0] >= 0.95',
          failureLimit: '1',
          count: '3',
          provider: 'prometheus',
          measurements: [{ phase: 'Successful', value: '[0.99]' }],
        },
      ],
    });
    expect((await fetch(`${base}/api/rollouts/shop/nope`)).status).toBe(404);
  });

  it('pushes the list, then a new one when the watched objects change (server-sent events)', async () => {
    const { base, source } = await start();
    const res = await fetch(`${base}/api/stream?namespace=shop`);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = readEvents(res, 2);
    await new Promise((r) => setTimeout(r, 50));
    source.change(objects(rollout({ abort: true })));
    const [first, second] = await events;
    expect(first).toMatchObject({ event: 'list', data: [{ name: 'web', aborted: false }] });
    expect(second).toMatchObject({ event: 'list', data: [{ name: 'web', aborted: true }] });
  });

  it("pushes a Rollout's page and the proxy's per-revision numbers for a proxy-routed Rollout", async () => {
    const asked: string[] = [];
    const proxy: ProxyStatsSource = {
      async stats(namespace, route) {
        asked.push(`${namespace}/${route}`);
        return { namespace, route, windowMs: 10_000, revisions: [] };
      },
    };
    const { base, source } = await start({ proxy });
    source.change(objects(rollout({ proxy: true })));
    const res = await fetch(`${base}/api/stream?namespace=shop&rollout=web`);
    const [page, stats] = await readEvents(res, 2);
    expect(page).toMatchObject({
      event: 'rollout',
      data: { proxyRoute: { namespace: 'shop', name: 'web-route' } },
    });
    expect(stats).toMatchObject({ event: 'proxy', data: { route: 'web-route', windowMs: 10_000 } });
    expect(asked[0]).toBe('shop/web-route');
  });

  it("runs each action with the CLI verbs' patches", async () => {
    const { base, api } = await start();
    const cases: [string, Partial<Sent>[]][] = [
      ['abort', [{ body: { status: { abort: true } }, subresource: 'status', patchKind: 'merge' }]],
      ['retry', [{ body: { status: { abort: false } }, subresource: 'status', patchKind: 'merge' }]],
      ['promote', [{ body: { status: { pauseConditions: null } }, subresource: 'status' }]],
      ['promote-full', [{ body: { status: { promoteFull: true } }, subresource: 'status' }]],
      ['restart', [{ body: { spec: { restartAt: '2026-02-03T04:05:06Z' } }, patchKind: 'merge' }]],
      [
        'undo',
        [{ patchKind: 'json', body: [{ op: 'replace', path: '/spec/template', value: expect.anything() }] }],
      ],
    ];
    for (const [action, expected] of cases) {
      api.sent.length = 0;
      const res = await post(base, `/api/rollouts/shop/web/actions/${action}`);
      expect(res.status, `${action}: ${JSON.stringify(await res.clone().json())}`).toBe(200);
      expect(api.sent, action).toMatchObject(
        expected.map((e) => ({ kind: 'Rollout', namespace: 'shop', name: 'web', ...e })),
      );
    }
    const undo = api.sent[0]!.body as { value: { spec: { containers: { image: string }[] } } }[];
    expect(undo[0]!.value.spec.containers[0]!.image).toBe('web:v1');
  });

  it('refuses actions without the CSRF token, from another origin, for a missing Rollout, or unknown', async () => {
    const { base, api } = await start();
    expect((await post(base, '/api/rollouts/shop/web/actions/abort', {})).status).toBe(403);
    expect(
      (await post(base, '/api/rollouts/shop/web/actions/abort', { [CSRF_HEADER]: 'wrong' })).status,
    ).toBe(403);
    expect(
      (
        await post(base, '/api/rollouts/shop/web/actions/abort', {
          [CSRF_HEADER]: TOKEN,
          origin: 'http://evil.example',
        })
      ).status,
    ).toBe(403);
    expect((await post(base, '/api/rollouts/shop/gone/actions/abort')).status).toBe(404);
    expect((await post(base, '/api/rollouts/shop/web/actions/delete')).status).toBe(404);
    expect(api.sent.filter((s) => s.name === 'web')).toEqual([]);
    const session = (await (await fetch(`${base}/api/session`)).json()) as {
      csrfToken: string;
      actions: string[];
    };
    expect(session.csrfToken).toBe(TOKEN);
    expect(session.actions).toEqual(['promote', 'promote-full', 'abort', 'retry', 'restart', 'undo']);
  });

  it('in read-only mode offers no actions and refuses them with 403', async () => {
    const { base, api } = await start({ readOnly: true });
    const session = (await (await fetch(`${base}/api/session`)).json()) as {
      readOnly: boolean;
      actions: string[];
    };
    expect(session).toMatchObject({ readOnly: true, actions: [] });
    const res = await post(base, '/api/rollouts/shop/web/actions/promote');
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toMatch(/read-only/);
    expect(api.sent).toEqual([]);
  });

  it('refuses a request whose Host is not a loopback name (DNS rebinding)', async () => {
    const { base } = await start();
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${base}/api/rollouts`, { headers: { host: 'evil.example:3100' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(403);
  });

  it('serves its assets with a CSP, an ETag and 304 on revalidation', async () => {
    const { base } = await start();
    for (const path of ['/', '/assets/app.js', '/assets/app.css']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(200);
      const etag = res.headers.get('etag')!;
      expect(etag).toMatch(/^"[\w-]+"$/);
      expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect((await res.arrayBuffer()).byteLength, path).toBeLessThan(40_000);
      const again = await fetch(`${base}${path}`, { headers: { 'if-none-match': etag } });
      expect(again.status, path).toBe(304);
    }
    const html = await (await fetch(`${base}/`)).text();
    expect(html).not.toMatch(/<script>|https?:\/\//);
  });
});

const METRICS = (n: number) => `# TYPE http_requests_total counter
http_requests_total{app="web-route",namespace="shop",role="stable",revision="aaa",status="200",method="GET"} ${100 * n}
http_requests_total{app="web-route",namespace="shop",role="canary",revision="bbb",status="200",method="GET"} ${8 * n}
http_requests_total{app="web-route",namespace="shop",role="canary",revision="bbb",status="503",method="GET"} ${2 * n}
http_requests_total{app="other",namespace="shop",role="stable",revision="ccc",status="200",method="GET"} 5
http_request_duration_seconds_bucket{app="web-route",namespace="shop",role="canary",revision="bbb",le="0.01"} ${5 * n}
http_request_duration_seconds_bucket{app="web-route",namespace="shop",role="canary",revision="bbb",le="0.1"} ${10 * n}
http_request_duration_seconds_bucket{app="web-route",namespace="shop",role="canary",revision="bbb",le="+Inf"} ${10 * n}
`;

describe('proxy numbers from /metrics', () => {
  it('parses the exposition, labels unescaped', () => {
    const samples = parseExposition('x{a="q\\"uote"} 3\n# HELP x\ny 1\n', new Set(['x']));
    expect(samples).toEqual([{ name: 'x', labels: { a: 'q"uote' }, value: 3 }]);
  });

  it.each([
    [0.5, 0.01],
    [0.75, 0.055],
    [0.99, 0.0982],
  ])('interpolates the %s quantile within its bucket as histogram_quantile does', (q, want) => {
    const buckets = new Map([
      [0.01, 5],
      [0.1, 10],
      [Number.POSITIVE_INFINITY, 10],
    ]);
    expect(bucketQuantile(q, buckets)).toBeCloseTo(want, 4);
  });

  it('turns two scrapes into per-revision request rates, success rates and latency', () => {
    const older = scrapeFromText(METRICS(1), 0);
    const newer = scrapeFromText(METRICS(3), 10_000);
    const stats = routeStats(newer, older, 'shop', 'web-route');
    expect(stats.windowMs).toBe(10_000);
    expect(stats.revisions).toEqual([
      {
        revision: 'bbb',
        role: 'canary',
        requests: 20,
        requestsPerSecond: 2,
        successRate: 0.8,
        p50Ms: 10,
        p95Ms: 91,
        p99Ms: 98.2,
      },
      {
        revision: 'aaa',
        role: 'stable',
        requests: 200,
        requestsPerSecond: 20,
        successRate: 1,
        p50Ms: undefined,
        p95Ms: undefined,
        p99Ms: undefined,
      },
    ]);
  });
});
