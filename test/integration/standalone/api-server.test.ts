// The standalone API server (src/standalone/api-server.ts) over a MemoryStore, driven by the real `sluice`
// verbs in process through the kubeconfig it writes (issue 11: "the same CLI works against it"): each
// verb's effect read back from the store, and the API server's own answers (401 without the token, 404
// and 409 Status bodies, discovery, selectors, watches resuming from a resourceVersion or expired).

import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { KubeObject } from '../../../src/api/meta.ts';
import type { Rollout } from '../../../src/api/rollout.ts';
import { type ApiServer, startApiServer } from '../../../src/standalone/api-server.ts';
import { kubeconfigFor, writeKubeconfig } from '../../../src/standalone/kubeconfig-out.ts';
import { MemoryStore } from '../../../src/store/memory.ts';
import { runSluice } from '../../cluster/sluice-cli.ts';
import { HASH, NS } from '../../fixtures/rollout-harness.ts';
import { webReplicaSet, webRollout } from '../../fixtures/rollout-objects.ts';

const TOKEN = 'test-token-0123456789';
const ROLLOUTS = `/apis/argoproj.io/v1alpha1/namespaces/${NS}/rollouts`;

let dir: string;
let kubeconfig: string;
let store: MemoryStore;
let server: ApiServer;

/** The Rollout `web` paused at its canary pause step (step 1 of 3), v2 canary over v1 stable. */
function pausedRollout(): Rollout {
  const ro = webRollout(
    { canary: { steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 60 }] } },
    { image: 'web:2' },
  );
  ro.status = {
    currentStepIndex: 1,
    currentPodHash: 'h2',
    stableRS: 'h1',
    controllerPause: true,
    pauseConditions: [{ reason: 'CanaryPauseStep', startTime: '2026-01-01T00:00:00Z' }],
    replicas: 3,
    updatedReplicas: 1,
    availableReplicas: 3,
    observedGeneration: '1',
  } as Rollout['status'];
  return ro;
}

function seed(): void {
  const ro = store.seed(pausedRollout());
  for (const [hash, revision, replicas] of [
    ['h1', 1, 2],
    ['h2', 2, 1],
  ] as const) {
    const rs = webReplicaSet(hash, {
      replicas,
      revision,
      template: {
        metadata: { labels: { app: 'web', [HASH]: hash } },
        spec: { containers: [{ name: 'web', image: `web:${revision}` }] },
      },
    });
    rs.metadata.namespace = NS;
    rs.metadata.ownerReferences![0]!.uid = ro.metadata.uid!;
    store.seed(rs);
  }
}

function imageOf(ro: Rollout): string | undefined {
  const spec = ro.spec.template?.spec as { containers?: { image?: string }[] } | undefined;
  return spec?.containers?.[0]?.image;
}

function rollout(): Rollout {
  return store.get<Rollout>('Rollout', NS, 'web')!;
}

function sluice(argv: string[], options: { signal?: AbortSignal; onOut?: (t: string) => void } = {}) {
  return runSluice(argv, { kubeconfig, namespace: NS, ...options });
}

async function http(
  method: string,
  path: string,
  options: { body?: unknown; token?: string | null; contentType?: string } = {},
): Promise<{ status: number; body: unknown; text: string }> {
  const headers: Record<string, string> = {};
  if (options.token !== null) headers.authorization = `Bearer ${options.token ?? TOKEN}`;
  if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  const res = await fetch(server.url + path, {
    method,
    headers,
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // plain text
  }
  return { status: res.status, body, text };
}

/** Opens a watch and collects its events until `stop()`. */
function openWatch(path: string): {
  events: { type: string; object: KubeObject }[];
  stop: () => void;
  ready: Promise<number>;
} {
  const events: { type: string; object: KubeObject }[] = [];
  const controller = new AbortController();
  const ready = (async () => {
    const res = await fetch(server.url + path, {
      headers: { authorization: `Bearer ${TOKEN}` },
      signal: controller.signal,
    });
    void (async () => {
      let buffer = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += Buffer.from(chunk).toString('utf8');
          let nl = buffer.indexOf('\n');
          while (nl >= 0) {
            events.push(JSON.parse(buffer.slice(0, nl)));
            buffer = buffer.slice(nl + 1);
            nl = buffer.indexOf('\n');
          }
        }
      } catch {
        // aborted
      }
    })();
    return res.status;
  })();
  return { events, stop: () => controller.abort(), ready };
}

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-api-server-'));
  kubeconfig = join(dir, 'kubeconfig');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  store = new MemoryStore();
  seed();
  server = await startApiServer(store, { token: TOKEN });
  await writeKubeconfig(kubeconfig, server.url, TOKEN);
});

afterEach(async () => {
  await server.close();
});

describe('kubeconfig-out', () => {
  it('writes a kubeconfig with the server and token, mode 0600', async () => {
    const mode = (await stat(kubeconfig)).mode & 0o777;
    expect(mode).toBe(0o600);
    const doc = parseYaml(await readFile(kubeconfig, 'utf8'));
    expect(doc['current-context']).toBe('sluice-standalone');
    expect(doc.clusters[0].cluster.server).toBe(server.url);
    expect(doc.users[0].user.token).toBe(TOKEN);
  });

  it('puts the namespace in the context when given', () => {
    const doc = parseYaml(kubeconfigFor('http://127.0.0.1:1', 't', { name: 'x', namespace: 'shop' }));
    expect(doc.contexts[0]).toEqual({ name: 'x', context: { cluster: 'x', user: 'x', namespace: 'shop' } });
  });
});

describe('the sluice verbs against the standalone API server', () => {
  it('get rollout shows the paused rollout with its revisions', async () => {
    const run = await sluice(['get', 'rollout', 'web']);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(run.out).toContain('web');
    expect(run.out).toContain('Paused');
    expect(run.out).toContain('web-h2');
  });

  it('get rollout --watch redraws after a change in the store', async () => {
    const controller = new AbortController();
    let out = '';
    const running = sluice(['get', 'rollout', 'web', '--watch'], {
      signal: controller.signal,
      onOut: (t) => {
        out += t;
      },
    });
    await until(() => out.includes('Paused'));
    await store.patchStatus('Rollout', NS, 'web', {
      status: { pauseConditions: null, controllerPause: null },
    });
    await until(() => out.includes('Progressing'));
    controller.abort();
    const run = await running;
    expect(run.code).toBe(0);
  });

  it('list rollouts lists it', async () => {
    const run = await sluice(['list', 'rollouts']);
    expect(run.code).toBe(0);
    expect(run.out).toContain('web');
  });

  it('promote clears the pause conditions through the status subresource', async () => {
    const run = await sluice(['promote', 'web']);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(run.out).toBe("rollout 'web' promoted\n");
    expect(rollout().status?.pauseConditions).toBeUndefined();
    expect(store.writes.get('patchStatus Rollout')).toBe(1);
  });

  it('promote --full sets promoteFull', async () => {
    const run = await sluice(['promote', 'web', '--full']);
    expect(run.code).toBe(0);
    expect(rollout().status?.promoteFull).toBe(true);
  });

  it('abort then retry set and clear status.abort', async () => {
    let run = await sluice(['abort', 'web']);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(run.out).toBe("rollout 'web' aborted\n");
    expect(rollout().status?.abort).toBe(true);
    run = await sluice(['retry', 'rollout', 'web']);
    expect(run.code).toBe(0);
    expect(run.out).toBe("rollout 'web' retried\n");
    expect(rollout().status?.abort).toBe(false);
  });

  it('set image updates the template through PUT', async () => {
    const generation = rollout().metadata.generation!;
    const run = await sluice(['set', 'image', 'web', 'web=web:3']);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(run.out).toBe('rollout "web" image updated\n');
    expect(imageOf(rollout())).toBe('web:3');
    expect(rollout().metadata.generation).toBe(generation + 1);
    // The status was not touched by the main resource's update.
    expect(rollout().status?.pauseConditions).toHaveLength(1);
  });

  it('pause sets spec.paused', async () => {
    const run = await sluice(['pause', 'web']);
    expect(run.code).toBe(0);
    expect(run.out).toBe("rollout 'web' paused\n");
    expect(rollout().spec.paused).toBe(true);
  });

  it('undo goes back to the previous revision with a JSON patch', async () => {
    const run = await sluice(['undo', 'web']);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(imageOf(rollout())).toBe('web:1');
    expect(store.writes.get('patch Rollout')).toBe(1);
  });

  it('status times out while paused', async () => {
    const run = await sluice(['status', 'web', '--timeout', '300ms']);
    expect(run.code).toBe(1);
    expect(run.out).toBe('Paused - CanaryPauseStep\n');
    expect(run.err).toBe('Error: Rollout status watch exceeded timeout\n');
  });

  it('status follows the watch until Healthy', async () => {
    let out = '';
    const running = sluice(['status', 'web', '--timeout', '10s'], {
      onOut: (t) => {
        out += t;
      },
    });
    await until(() => out.includes('Paused'));
    await store.patchStatus('Rollout', NS, 'web', {
      status: {
        pauseConditions: null,
        controllerPause: null,
        currentPodHash: 'h2',
        stableRS: 'h2',
        updatedReplicas: 2,
        availableReplicas: 2,
        replicas: 2,
      },
    });
    const run = await running;
    expect(run.code).toBe(0);
    expect(run.out).toBe('Paused - CanaryPauseStep\nHealthy\n');
  });

  it('an unknown rollout is reported with the API server message', async () => {
    const run = await sluice(['promote', 'nope']);
    expect(run.code).toBe(1);
    expect(run.err).toBe('Error: rollouts.argoproj.io "nope" not found\n');
  });

  it('a wrong token is refused', async () => {
    await writeKubeconfig(kubeconfig, server.url, 'wrong');
    const run = await sluice(['promote', 'web']);
    expect(run.code).toBe(1);
    expect(run.err).toBe('Error: Unauthorized\n');
    expect(rollout().status?.pauseConditions).toHaveLength(1);
  });
});

describe('the API server', () => {
  it('answers 401 Status without the bearer token', async () => {
    const res = await http('GET', `${ROLLOUTS}/web`, { token: null });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ kind: 'Status', code: 401, reason: 'Unauthorized' });
  });

  it('answers 404 Status naming the object', async () => {
    const res = await http('GET', `${ROLLOUTS}/nope`);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'rollouts.argoproj.io "nope" not found',
      reason: 'NotFound',
      details: { name: 'nope', group: 'argoproj.io', kind: 'rollouts' },
      code: 404,
    });
  });

  it('answers a plain 404 for unknown groups, a Status for unknown resources of a served one', async () => {
    const group = await http('GET', '/apis/networking.istio.io/v1beta1');
    expect(group.status).toBe(404);
    expect(group.text).toBe('404 page not found\n');
    const resource = await http('GET', '/apis/argoproj.io/v1alpha1/namespaces/x/widgets');
    expect(resource.status).toBe(404);
    expect(resource.body).toMatchObject({ message: 'the server could not find the requested resource' });
  });

  it('answers 409 Conflict on a stale update', async () => {
    const stale = structuredClone(rollout()) as Rollout;
    await store.patch('Rollout', NS, 'web', { metadata: { labels: { touched: 'yes' } } });
    const res = await http('PUT', `${ROLLOUTS}/web`, { body: stale });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({
      kind: 'Status',
      code: 409,
      reason: 'Conflict',
      message: expect.stringContaining('Operation cannot be fulfilled on rollouts.argoproj.io "web"'),
    });
  });

  it('creates, lists with selectors, patches and deletes', async () => {
    const created = await http('POST', `${ROLLOUTS}`, {
      body: { ...webRollout({ canary: {} }), metadata: { name: 'api', labels: { tier: 'back' } } },
    });
    expect(created.status).toBe(201);
    expect((created.body as KubeObject).metadata.namespace).toBe(NS);
    const again = await http('POST', `${ROLLOUTS}`, {
      body: { ...webRollout({ canary: {} }), metadata: { name: 'api' } },
    });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ reason: 'AlreadyExists' });

    const names = async (query: string): Promise<string[]> => {
      const res = await http('GET', `${ROLLOUTS}?${query}`);
      expect(res.status).toBe(200);
      return (res.body as { items: KubeObject[] }).items.map((i) => i.metadata.name);
    };
    expect(await names('')).toEqual(['api', 'web']);
    expect(await names('labelSelector=tier%3Dback')).toEqual(['api']);
    expect(await names('labelSelector=tier%20notin%20(back)')).toEqual(['web']);
    expect(await names('labelSelector=!tier')).toEqual(['web']);
    expect(await names('fieldSelector=metadata.name%3Dweb')).toEqual(['web']);
    const all = await http('GET', '/apis/argoproj.io/v1alpha1/rollouts');
    expect((all.body as { metadata: { resourceVersion: string } }).metadata.resourceVersion).toMatch(/^\d+$/);
    expect((all.body as { items: unknown[] }).items).toHaveLength(2);
    const badField = await http('GET', `${ROLLOUTS}?fieldSelector=spec.replicas%3D1`);
    expect(badField.status).toBe(400);

    const strategic = await http('PATCH', `${ROLLOUTS}/api`, {
      body: { spec: { template: { spec: { containers: [{ name: 'web', image: 'web:9' }] } } } },
      contentType: 'application/strategic-merge-patch+json',
    });
    expect(strategic.status).toBe(200);
    expect(imageOf(store.get<Rollout>('Rollout', NS, 'api')!)).toBe('web:9');
    const json = await http('PATCH', `${ROLLOUTS}/api`, {
      body: [{ op: 'replace', path: '/spec/replicas', value: 5 }],
      contentType: 'application/json-patch+json',
    });
    expect(json.status).toBe(200);
    expect(store.get<Rollout>('Rollout', NS, 'api')!.spec.replicas).toBe(5);
    const unsupported = await http('PATCH', `${ROLLOUTS}/api`, {
      body: {},
      contentType: 'application/apply-patch+yaml',
    });
    expect(unsupported.status).toBe(415);

    const deleted = await http('DELETE', `${ROLLOUTS}/api`);
    expect(deleted.status).toBe(200);
    expect(store.get('Rollout', NS, 'api')).toBeUndefined();
  });

  it('writes status through PUT and JSON patch of /status, and ignores status on the main resource', async () => {
    const current = rollout();
    const put = await http('PUT', `${ROLLOUTS}/web/status`, {
      body: { ...current, status: { phase: 'Paused', currentStepIndex: 2 } },
    });
    expect(put.status).toBe(200);
    expect(rollout().status).toEqual({ phase: 'Paused', currentStepIndex: 2 });
    const json = await http('PATCH', `${ROLLOUTS}/web/status`, {
      body: [{ op: 'remove', path: '/status/phase' }],
      contentType: 'application/json-patch+json',
    });
    expect(json.status).toBe(200);
    expect(rollout().status).toEqual({ currentStepIndex: 2 });
    const main = await http('PATCH', `${ROLLOUTS}/web`, {
      body: { status: { currentStepIndex: 0 } },
      contentType: 'application/merge-patch+json',
    });
    expect(main.status).toBe(200);
    expect(rollout().status).toEqual({ currentStepIndex: 2 });
    const stale = await http('PUT', `${ROLLOUTS}/web/status`, {
      body: { ...current, status: {} },
    });
    expect(stale.status).toBe(409);
  });

  it('serves discovery for the kinds it serves', async () => {
    const api = await http('GET', '/api');
    expect(api.body).toMatchObject({ kind: 'APIVersions', versions: ['v1'] });
    const apis = (await http('GET', '/apis')).body as { groups: { name: string }[] };
    expect(apis.groups.map((g) => g.name)).toContain('argoproj.io');
    const argo = (await http('GET', '/apis/argoproj.io/v1alpha1')).body as {
      resources: { name: string; namespaced: boolean; kind: string }[];
    };
    expect(argo.resources).toContainEqual(
      expect.objectContaining({ name: 'rollouts', kind: 'Rollout', namespaced: true }),
    );
    expect(argo.resources.map((r) => r.name)).toContain('rollouts/status');
    expect(argo.resources).toContainEqual(
      expect.objectContaining({ name: 'clusteranalysistemplates', namespaced: false }),
    );
    const core = (await http('GET', '/api/v1')).body as { resources: { name: string }[] };
    expect(core.resources.map((r) => r.name)).toContain('services');
  });

  it('streams MODIFIED to a watch after a store write', async () => {
    const listed = (await http('GET', ROLLOUTS)).body as { metadata: { resourceVersion: string } };
    const watch = openWatch(`${ROLLOUTS}?watch=1&resourceVersion=${listed.metadata.resourceVersion}`);
    expect(await watch.ready).toBe(200);
    await store.patch('Rollout', NS, 'web', { spec: { paused: true } });
    await until(() => watch.events.length > 0);
    expect(watch.events[0]!.type).toBe('MODIFIED');
    expect((watch.events[0]!.object as Rollout).spec.paused).toBe(true);
    await store.delete('Rollout', NS, 'web');
    await until(() => watch.events.length > 1);
    expect(watch.events[1]!.type).toBe('DELETED');
    expect(Number(watch.events[1]!.object.metadata.resourceVersion)).toBeGreaterThanOrEqual(
      Number(watch.events[0]!.object.metadata.resourceVersion),
    );
    watch.stop();
  });

  it('replays the events after the given resourceVersion, and starts with ADDED without one', async () => {
    const before = rollout().metadata.resourceVersion!;
    await store.patch('Rollout', NS, 'web', { metadata: { labels: { a: '1' } } });
    await store.patch('Rollout', NS, 'web', { metadata: { labels: { a: '2' } } });
    const resumed = openWatch(`${ROLLOUTS}?watch=1&resourceVersion=${before}`);
    await resumed.ready;
    await until(() => resumed.events.length === 2);
    expect(resumed.events.map((e) => [e.type, e.object.metadata.labels?.a])).toEqual([
      ['MODIFIED', '1'],
      ['MODIFIED', '2'],
    ]);
    resumed.stop();
    const fresh = openWatch(`${ROLLOUTS}?watch=true&fieldSelector=metadata.name%3Dweb`);
    await fresh.ready;
    await until(() => fresh.events.length === 1);
    expect(fresh.events[0]!.type).toBe('ADDED');
    fresh.stop();
  });

  it('sends DELETED to a label-selected watch when the labels stop matching', async () => {
    await store.patch('Rollout', NS, 'web', { metadata: { labels: { tier: 'front' } } });
    const watch = openWatch(`${ROLLOUTS}?watch=1&labelSelector=tier%3Dfront`);
    await watch.ready;
    await until(() => watch.events.length === 1);
    await store.patch('Rollout', NS, 'web', { metadata: { labels: { tier: 'back' } } });
    await until(() => watch.events.length === 2);
    await store.patch('Rollout', NS, 'web', { metadata: { labels: { tier: 'front' } } });
    await until(() => watch.events.length === 3);
    expect(watch.events.map((e) => e.type)).toEqual(['ADDED', 'DELETED', 'MODIFIED']);
    watch.stop();
  });

  it('ends a watch from a version dropped from its history with 410 Expired', async () => {
    await server.close();
    server = await startApiServer(store, { token: TOKEN, historySize: 2 });
    const before = rollout().metadata.resourceVersion!;
    for (let i = 0; i < 4; i++)
      await store.patch('Rollout', NS, 'web', { metadata: { labels: { n: String(i) } } });
    const watch = openWatch(`${ROLLOUTS}?watch=1&resourceVersion=${before}`);
    await watch.ready;
    await until(() => watch.events.length === 1);
    expect(watch.events[0]).toMatchObject({ type: 'ERROR', object: { code: 410, reason: 'Expired' } });
  });

  it('refuses an empty token at start', async () => {
    await expect(startApiServer(store, { token: '' })).rejects.toThrow(/token/);
  });
});
