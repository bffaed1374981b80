// KubeStore.evict against a scripted API server on port 0: POST pods/NAME/eviction with policy/v1, the
// fall-back to policy/v1beta1 a Kubernetes < 1.22 server needs (its real 400 answer, remembered), a
// PodDisruptionBudget's 429 as TooManyRequests, and a missing pod as NotFound.
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeStore } from '../../../src/kube/kube-store.ts';
import { StoreError } from '../../../src/store/object-store.ts';
import { scriptedApiClient } from '../../fixtures/scripted-api.ts';

interface Seen {
  path: string;
  apiVersion: string;
}
type Answer = (seen: Seen) => [number, unknown];

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function fakeApi(answer: Answer): Promise<{ store: KubeStore; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const s = { path: `${req.method} ${req.url}`, apiVersion: JSON.parse(body || '{}').apiVersion };
      seen.push(s);
      const [status, out] = answer(s);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(out));
    });
  });
  const client = await scriptedApiClient(server, 't', cleanups);
  return { store: new KubeStore(client, { kinds: [] }), seen };
}

const SUCCESS = { kind: 'Status', apiVersion: 'v1', status: 'Success', code: 201 };
/** What kube-apiserver 1.20 answers to a policy/v1 Eviction. */
const V1_NOT_SERVED = {
  kind: 'Status',
  apiVersion: 'v1',
  status: 'Failure',
  message:
    'Eviction in version "v1" cannot be handled as a Eviction: no kind "Eviction" is registered for version "policy/v1" in scheme "k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30"',
  reason: 'BadRequest',
  code: 400,
};

async function failure(p: Promise<unknown>): Promise<StoreError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof StoreError) return err;
    throw err;
  }
  throw new Error('expected a StoreError');
}

describe('KubeStore.evict', () => {
  it('posts a policy/v1 Eviction to the pod’s eviction subresource', async () => {
    const { store, seen } = await fakeApi(() => [201, SUCCESS]);
    await store.evict('ns', 'web-1');
    expect(seen).toEqual([
      { path: 'POST /api/v1/namespaces/ns/pods/web-1/eviction', apiVersion: 'policy/v1' },
    ]);
  });

  it('falls back to policy/v1beta1 on a server without policy/v1 Eviction, and remembers it', async () => {
    const { store, seen } = await fakeApi((s) =>
      s.apiVersion === 'policy/v1' ? [400, V1_NOT_SERVED] : [201, SUCCESS],
    );
    await store.evict('ns', 'a');
    await store.evict('ns', 'b');
    expect(seen.map((s) => `${s.path} ${s.apiVersion}`)).toEqual([
      'POST /api/v1/namespaces/ns/pods/a/eviction policy/v1',
      'POST /api/v1/namespaces/ns/pods/a/eviction policy/v1beta1',
      'POST /api/v1/namespaces/ns/pods/b/eviction policy/v1beta1',
    ]);
  });

  it('reports a PodDisruptionBudget refusal as TooManyRequests (429)', async () => {
    const { store } = await fakeApi(() => [
      429,
      {
        kind: 'Status',
        status: 'Failure',
        message: "Cannot evict pod as it would violate the pod's disruption budget.",
        reason: 'TooManyRequests',
        details: { causes: [{ reason: 'DisruptionBudget' }] },
        code: 429,
      },
    ]);
    const err = await failure(store.evict('ns', 'a'));
    expect(err.reason).toBe('TooManyRequests');
    expect(err.status).toBe(429);
    expect(err.message).toContain('disruption budget');
  });

  it('a missing pod is NotFound and does not switch the Eviction version', async () => {
    const { store, seen } = await fakeApi(() => [
      404,
      {
        kind: 'Status',
        status: 'Failure',
        reason: 'NotFound',
        details: { name: 'a', kind: 'pods' },
        code: 404,
      },
    ]);
    const err = await failure(store.evict('ns', 'a'));
    expect(err.reason).toBe('NotFound');
    expect(seen.map((s) => s.apiVersion)).toEqual(['policy/v1']);
  });
});
