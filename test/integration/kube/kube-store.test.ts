// KubeStore against the real test control plane (kube-apiserver 1.20 + etcd + controller-manager).
// Needs SLUICE_TEST_KUBECONFIG (the cluster's vitest global setup sets it; or `npm run cluster:up` and
// export SLUICE_TEST_KUBECONFIG=$PWD/.cluster/kubeconfig); skipped with that message otherwise.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/api/meta.ts';
import type { KubeClient } from '../../../src/kube/client.ts';
import { KubeStore } from '../../../src/kube/kube-store.ts';
import { StoreError, type WatchEventType } from '../../../src/store/object-store.ts';
import { controllerClient, useNamespace } from '../../cluster/namespace.ts';
import { waitFor } from '../../cluster/wait.ts';

const KUBECONFIG = process.env.SLUICE_TEST_KUBECONFIG;
const SKIP_REASON =
  'needs SLUICE_TEST_KUBECONFIG (run `npm run cluster:up`, then export SLUICE_TEST_KUBECONFIG=$PWD/.cluster/kubeconfig)';
if (!KUBECONFIG) console.warn(`kube-store integration tests skipped: ${SKIP_REASON}`);

function service(name: string, namespace: string): KubeObject & { spec: unknown } {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, labels: { app: name } },
    spec: { ports: [{ port: 80, targetPort: 8080 }], selector: { app: name } },
  };
}

interface Rollout extends KubeObject {
  spec: { replicas?: number; selector?: unknown; template?: unknown; strategy?: unknown };
  status?: { phase?: string; message?: string };
}

describe.skipIf(!KUBECONFIG)(`KubeStore on a real API server`, () => {
  let client: KubeClient;
  let other: KubeClient;
  let store: KubeStore;
  // The CRDs are for the Rollout status-subresource test.
  const ns = useNamespace('kube-store', { crds: true });
  let namespace: string;

  beforeAll(async () => {
    namespace = ns.name;
    client = await controllerClient();
    other = await controllerClient();
    // A Service that exists before the informers start must be in the first list.
    const pre = await other.request('POST', `/api/v1/namespaces/${namespace}/services`, {
      body: service('before', namespace),
    });
    expect(pre.status).toBe(201);
    store = new KubeStore(client, { namespace, kinds: ['Service', 'ReplicaSet', 'Rollout', 'Pod'] });
    expect(await store.start()).toBe(true);
  });

  afterAll(async () => {
    await store?.stop();
    await client?.close();
    await other?.close();
  });

  it('fills the cache from the first list and follows changes made by other clients', async () => {
    expect(store.get('Service', namespace, 'before')?.kind).toBe('Service');
    const seen: string[] = [];
    const stop = store.watch('Service', (type: WatchEventType, obj) => {
      if (obj.metadata.name === 'outside') seen.push(type);
    });
    await other.request('POST', `/api/v1/namespaces/${namespace}/services`, {
      body: service('outside', namespace),
    });
    await waitFor(() => store.get('Service', namespace, 'outside'), { what: 'watch ADDED' });
    await other.request('PATCH', `/api/v1/namespaces/${namespace}/services/outside`, {
      body: { metadata: { labels: { tier: 'web' } } },
      contentType: 'application/merge-patch+json',
    });
    await waitFor(() => store.get('Service', namespace, 'outside')?.metadata.labels?.tier, {
      what: 'watch MODIFIED',
    });
    await other.request('DELETE', `/api/v1/namespaces/${namespace}/services/outside`);
    await waitFor(() => store.get('Service', namespace, 'outside') === undefined || undefined, {
      what: 'watch DELETED',
    });
    stop();
    expect(seen).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    expect(store.list('Service', namespace, { app: 'before' }).map((s) => s.metadata.name)).toEqual([
      'before',
    ]);
  });

  it('sees its own create at once and reports a stale update as Conflict', async () => {
    const created = await store.create(service('mine', namespace));
    expect(store.get('Service', namespace, 'mine')?.metadata.resourceVersion).toBe(
      created.metadata.resourceVersion,
    );
    const updated = await store.update({
      ...structuredClone(created),
      metadata: { ...structuredClone(created.metadata), labels: { app: 'mine', v: '2' } },
    });
    expect(updated.metadata.labels?.v).toBe('2');
    try {
      await store.update({
        ...structuredClone(created),
        metadata: { ...structuredClone(created.metadata), labels: { v: '3' } },
      });
      expect.unreachable('stale update accepted');
    } catch (error) {
      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).reason).toBe('Conflict');
      expect((error as StoreError).status).toBe(409);
    }
    try {
      await store.create(service('mine', namespace));
      expect.unreachable('duplicate create accepted');
    } catch (error) {
      expect((error as StoreError).reason).toBe('AlreadyExists');
    }
    await store.delete('Service', namespace, 'mine');
    expect(store.get('Service', namespace, 'mine')).toBeUndefined();
    try {
      await store.delete('Service', namespace, 'mine');
      expect.unreachable('delete of a missing object accepted');
    } catch (error) {
      expect((error as StoreError).reason).toBe('NotFound');
    }
  });

  it('applies merge, JSON and strategic merge patches', async () => {
    await store.create({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: 'rs', namespace },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: 'rs' } },
        template: {
          metadata: { labels: { app: 'rs' } },
          spec: {
            containers: [
              { name: 'app', image: 'app:1' },
              { name: 'side', image: 'side:1' },
            ],
          },
        },
      },
    } as KubeObject);
    type RS = KubeObject & {
      spec: { replicas: number; template: { spec: { containers: { name: string; image: string }[] } } };
    };
    const strategic = await store.patch<RS>(
      'ReplicaSet',
      namespace,
      'rs',
      { spec: { template: { spec: { containers: [{ name: 'app', image: 'app:2' }] } } } },
      'strategic',
    );
    expect(strategic.spec.template.spec.containers.map((c) => c.image)).toEqual(['app:2', 'side:1']);
    const json = await store.patch<RS>(
      'ReplicaSet',
      namespace,
      'rs',
      [
        { op: 'replace', path: '/spec/replicas', value: 0 },
        { op: 'add', path: '/metadata/labels', value: { x: 'y' } },
      ],
      'json',
    );
    expect(json.metadata.labels).toEqual({ x: 'y' });
    try {
      await store.patch(
        'ReplicaSet',
        namespace,
        'rs',
        [{ op: 'test', path: '/spec/replicas', value: 7 }],
        'json',
      );
      expect.unreachable('failed test op accepted');
    } catch (error) {
      expect(error).toBeInstanceOf(StoreError);
    }
    const merged = await store.patch<RS>('ReplicaSet', namespace, 'rs', {
      metadata: { labels: { x: null, z: 'w' } },
    });
    expect(merged.metadata.labels).toEqual({ z: 'w' });
    expect(store.get<RS>('ReplicaSet', namespace, 'rs')?.metadata.labels).toEqual({ z: 'w' });
  });

  it('writes Rollout status only through the status subresource, and bumps generation only for spec', async () => {
    const rollout: Rollout = {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Rollout',
      metadata: { name: 'ro', namespace },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'ro' } },
        template: {
          metadata: { labels: { app: 'ro' } },
          spec: { containers: [{ name: 'app', image: 'app:1' }] },
        },
        strategy: { canary: { steps: [{ setWeight: 20 }] } },
      },
    };
    const created = await store.create(rollout);
    expect(created.metadata.generation).toBe(1);
    const withStatus = await store.patchStatus<Rollout>('Rollout', namespace, 'ro', {
      status: { phase: 'Paused', message: 'x' },
    });
    expect(withStatus.status?.phase).toBe('Paused');
    expect(withStatus.metadata.generation).toBe(1);
    const ignored = await store.patch<Rollout>('Rollout', namespace, 'ro', {
      status: { phase: 'Healthy' },
      spec: { replicas: 2 },
    });
    expect(ignored.status?.phase).toBe('Paused');
    expect(ignored.spec.replicas).toBe(2);
    expect(ignored.metadata.generation).toBe(2);
    const cleared = await store.patchStatus<Rollout>('Rollout', namespace, 'ro', {
      status: { message: null },
    });
    expect(cleared.status).toEqual({ phase: 'Paused' });
    await waitFor(
      () => (store.get<Rollout>('Rollout', namespace, 'ro')?.metadata.generation === 2 ? true : undefined),
      { what: 'cache catches up' },
    );
    // Objects in the cache are frozen: reconcilers must copy before changing.
    const cached = store.get<Rollout>('Rollout', namespace, 'ro')!;
    expect(() => {
      cached.spec.replicas = 5;
    }).toThrow(TypeError);
  });

  it('reads Secrets only on demand, never from the cache', async () => {
    await other.request('POST', `/api/v1/namespaces/${namespace}/secrets`, {
      body: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'token', namespace },
        stringData: { key: 'v' },
      },
    });
    expect(store.get('Secret', namespace, 'token')).toBeUndefined();
    expect(store.list('Secret', namespace)).toEqual([]);
    const secret = await store.read<KubeObject & { data: Record<string, string> }>(
      'Secret',
      namespace,
      'token',
    );
    expect(Buffer.from(secret!.data.key!, 'base64').toString()).toBe('v');
    expect(await store.read('Secret', namespace, 'absent')).toBeUndefined();
  });

  it('records Events, aggregating repeats into one Event with a count', async () => {
    const ro = store.get<Rollout>('Rollout', namespace, 'ro')!;
    store.recordEvent(ro, 'Normal', 'RolloutUpdated', 'Rollout updated to revision 2');
    store.recordEvent(ro, 'Normal', 'RolloutUpdated', 'Rollout updated to revision 2');
    store.recordEvent(ro, 'Warning', 'RolloutAborted', 'Rollout aborted update to revision 2');
    await waitFor(
      async () => {
        const res = await client.request('GET', `/api/v1/namespaces/${namespace}/events`);
        const items = (
          res.body as {
            items: { reason: string; count: number; involvedObject: { name: string; kind: string } }[];
          }
        ).items;
        const updated = items.find((e) => e.reason === 'RolloutUpdated');
        const aborted = items.find((e) => e.reason === 'RolloutAborted');
        return updated?.count === 2 && aborted?.count === 1 && updated.involvedObject.kind === 'Rollout'
          ? true
          : undefined;
      },
      { what: 'events written' },
    );
  });
});
