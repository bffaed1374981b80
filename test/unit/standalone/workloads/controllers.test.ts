// The local workload controllers without servers or processes: the ReplicaSet controller's pods and
// status over the in-memory store, the Endpoints it derives from pods, the pod plans, the address pool.
import { describe, expect, it } from 'vitest';
import type { Endpoints, Pod, ReplicaSet, Service } from '../../../../src/api/workloads.ts';
import {
  AddressPool,
  addressToIndex,
  indexToAddress,
} from '../../../../src/standalone/workloads/addresses.ts';
import { endpointSubsets, syncEndpoints } from '../../../../src/standalone/workloads/endpoints.ts';
import {
  CONFIG_ERROR_REASON,
  planLocalPod,
  UNRUNNABLE_IMAGE_REASON,
} from '../../../../src/standalone/workloads/plan.ts';
import { deletionOrder, syncReplicaSet } from '../../../../src/standalone/workloads/replica-sets.ts';
import { LOCAL_PORTS_ANNOTATION, localPort } from '../../../../src/standalone/workloads/runtime.ts';
import { createMemoryStore, type MemoryStore } from '../../../../src/store/memory.ts';

const NS = 'shop';

function replicaSet(replicas: number, extra: Partial<ReplicaSet['spec']> = {}): ReplicaSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: 'web-6d8f', namespace: NS },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web', 'rollouts-pod-template-hash': '6d8f' } },
      template: {
        metadata: { labels: { app: 'web', 'rollouts-pod-template-hash': '6d8f' }, annotations: { a: 'b' } },
        spec: { containers: [{ name: 'app', image: 'sluice-demo:v1', ports: [{ containerPort: 8080 }] }] },
      },
      ...extra,
    },
  };
}

function podsOf(store: MemoryStore): Pod[] {
  return store.list<Pod>('Pod', NS);
}

async function markReady(store: MemoryStore, pod: Pod, ip: string, since = new Date()): Promise<void> {
  await store.patchStatus('Pod', NS, pod.metadata.name, {
    status: {
      phase: 'Running',
      podIP: ip,
      conditions: [
        { type: 'Ready', status: 'True', lastTransitionTime: `${since.toISOString().slice(0, 19)}Z` },
      ],
    },
  });
}

describe('ReplicaSet controller', () => {
  it('creates spec.replicas pods from the template, owned by the ReplicaSet and named after it', async () => {
    const store = createMemoryStore();
    const rs = await store.create(replicaSet(3));
    await syncReplicaSet(store, NS, 'web-6d8f');
    const pods = podsOf(store);
    expect(pods).toHaveLength(3);
    for (const pod of pods) {
      expect(pod.metadata.name).toMatch(/^web-6d8f-[a-z0-9]{5}$/);
      expect(pod.metadata.labels).toEqual({ app: 'web', 'rollouts-pod-template-hash': '6d8f' });
      expect(pod.metadata.annotations).toEqual({ a: 'b' });
      expect(pod.metadata.ownerReferences).toEqual([
        expect.objectContaining({
          kind: 'ReplicaSet',
          name: 'web-6d8f',
          uid: rs.metadata.uid,
          controller: true,
        }),
      ]);
      expect(pod.spec).toEqual(rs.spec.template.spec);
    }
    const status = store.get<ReplicaSet>('ReplicaSet', NS, 'web-6d8f')?.status;
    expect(status).toEqual({
      replicas: 3,
      fullyLabeledReplicas: 3,
      readyReplicas: 0,
      availableReplicas: 0,
      observedGeneration: 1,
    });
    // A second pass changes nothing.
    await syncReplicaSet(store, NS, 'web-6d8f');
    expect(podsOf(store)).toHaveLength(3);
  });

  it('counts ready and available pods, and observes the generation', async () => {
    const store = createMemoryStore();
    await store.create(replicaSet(2));
    await syncReplicaSet(store, NS, 'web-6d8f');
    const [first] = podsOf(store);
    await markReady(store, first!, '127.0.0.2');
    await store.patch('ReplicaSet', NS, 'web-6d8f', { spec: { minReadySeconds: 0 } });
    await syncReplicaSet(store, NS, 'web-6d8f');
    const rs = store.get<ReplicaSet>('ReplicaSet', NS, 'web-6d8f')!;
    expect(rs.status).toMatchObject({ replicas: 2, readyReplicas: 1, availableReplicas: 1 });
    expect(rs.status?.observedGeneration).toBe(rs.metadata.generation);
  });

  it('scales down not-ready pods first, then the newest', async () => {
    const store = createMemoryStore();
    await store.create(replicaSet(4));
    await syncReplicaSet(store, NS, 'web-6d8f');
    const pods = podsOf(store);
    // Three ready (one long ago), one not ready.
    await markReady(store, pods[0]!, '127.0.0.2', new Date(Date.now() - 3_600_000));
    await markReady(store, pods[1]!, '127.0.0.3', new Date(Date.now() - 60_000));
    await markReady(store, pods[2]!, '127.0.0.4', new Date(Date.now() - 120_000));
    await store.patch('ReplicaSet', NS, 'web-6d8f', { spec: { replicas: 2 } });
    await syncReplicaSet(store, NS, 'web-6d8f');
    const left = podsOf(store).map((p) => p.metadata.name);
    expect(left.sort()).toEqual([pods[0]!.metadata.name, pods[2]!.metadata.name].sort());
    expect(store.get<ReplicaSet>('ReplicaSet', NS, 'web-6d8f')?.status).toMatchObject({
      replicas: 2,
      readyReplicas: 2,
    });
    await store.patch('ReplicaSet', NS, 'web-6d8f', { spec: { replicas: 0 } });
    await syncReplicaSet(store, NS, 'web-6d8f');
    expect(podsOf(store)).toEqual([]);
    expect(store.get<ReplicaSet>('ReplicaSet', NS, 'web-6d8f')?.status).toMatchObject({ replicas: 0 });
  });

  it('orders deletions: no status, pending, not ready, then ready newest first', () => {
    const pod = (name: string, phase?: string, readyAt?: number): Pod => ({
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: { name },
      ...(phase !== undefined
        ? {
            status: {
              phase,
              conditions:
                readyAt !== undefined
                  ? [{ type: 'Ready', status: 'True', lastTransitionTime: new Date(readyAt).toISOString() }]
                  : [],
            },
          }
        : {}),
    });
    const order = deletionOrder([
      pod('old-ready', 'Running', 1_000),
      pod('running-unready', 'Running'),
      pod('new-ready', 'Running', 9_000),
      pod('pending', 'Pending'),
      pod('fresh'),
    ]).map((p) => p.metadata.name);
    expect(order).toEqual(['fresh', 'pending', 'running-unready', 'new-ready', 'old-ready']);
  });

  it('makes a pod available only after minReadySeconds, and asks to be called again then', async () => {
    const store = createMemoryStore();
    await store.create(replicaSet(1, { minReadySeconds: 30 }));
    await syncReplicaSet(store, NS, 'web-6d8f');
    const [pod] = podsOf(store);
    const readyAt = Date.now() - 10_000;
    await markReady(store, pod!, '127.0.0.2', new Date(readyAt));
    const result = await syncReplicaSet(store, NS, 'web-6d8f');
    expect(store.get<ReplicaSet>('ReplicaSet', NS, 'web-6d8f')?.status).toMatchObject({
      readyReplicas: 1,
      availableReplicas: 0,
    });
    expect(result.requeueAfterMs).toBeGreaterThan(15_000);
    expect(result.requeueAfterMs).toBeLessThanOrEqual(21_100);
    await syncReplicaSet(store, NS, 'web-6d8f', () => readyAt + 31_000);
    expect(store.get<ReplicaSet>('ReplicaSet', NS, 'web-6d8f')?.status?.availableReplicas).toBe(1);
  });

  it('ignores a ReplicaSet that is gone, and pods it does not own', async () => {
    const store = createMemoryStore();
    await expect(syncReplicaSet(store, NS, 'missing')).resolves.toEqual({});
    await store.create<Pod>({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'stray',
        namespace: NS,
        labels: { app: 'web', 'rollouts-pod-template-hash': '6d8f' },
      },
      spec: {},
    });
    await store.create(replicaSet(1));
    await syncReplicaSet(store, NS, 'web-6d8f');
    expect(podsOf(store)).toHaveLength(2);
  });
});

function service(extra: Partial<Service['spec']> = {}): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: NS },
    spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }], ...extra },
  };
}

function pod(
  name: string,
  ip: string | undefined,
  ready: boolean,
  annotations?: Record<string, string>,
): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, labels: { app: 'web' }, ...(annotations ? { annotations } : {}) },
    spec: {
      containers: [{ name: 'app', image: 'sluice-demo:v1', ports: [{ name: 'web', containerPort: 8080 }] }],
    },
    status: {
      phase: 'Running',
      ...(ip !== undefined ? { podIP: ip } : {}),
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    } as Pod['status'],
  };
}

describe('Endpoints controller', () => {
  it('lists ready pods in addresses and the others in notReadyAddresses, ports named after the Service', () => {
    const subsets = endpointSubsets(service(), [
      pod('b', '127.0.0.3', true),
      pod('a', '127.0.0.2', true),
      pod('c', '127.0.0.4', false),
      pod('no-ip', undefined, false),
    ]);
    expect(subsets).toEqual([
      {
        addresses: [
          { ip: '127.0.0.2', targetRef: { kind: 'Pod', name: 'a', namespace: NS } },
          { ip: '127.0.0.3', targetRef: { kind: 'Pod', name: 'b', namespace: NS } },
        ],
        notReadyAddresses: [{ ip: '127.0.0.4', targetRef: { kind: 'Pod', name: 'c', namespace: NS } }],
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
    ]);
  });

  it('resolves named target ports and local ports, grouping pods by port', () => {
    const subsets = endpointSubsets(service({ ports: [{ name: 'http', port: 80, targetPort: 'web' }] }), [
      pod('a', '127.0.0.1', true, { [LOCAL_PORTS_ANNOTATION]: '{"8080":41001}' }),
      pod('b', '127.0.0.1', true, { [LOCAL_PORTS_ANNOTATION]: '{"8080":41002}' }),
    ]);
    expect(subsets.map((s) => [s.ports?.[0]?.port, s.addresses?.map((a) => a.targetRef?.name)])).toEqual([
      [41001, ['a']],
      [41002, ['b']],
    ]);
    expect(localPort(pod('x', undefined, false), 9000)).toBe(9000);
    // A missing named port leaves the pod out; the Service port is the default target.
    expect(
      endpointSubsets(service({ ports: [{ port: 80, targetPort: 'nope' }] }), [pod('a', '1.2.3.4', true)]),
    ).toEqual([]);
    expect(
      endpointSubsets(service({ ports: [{ port: 8081 }] }), [pod('a', '1.2.3.4', true)])[0]?.ports,
    ).toEqual([{ port: 8081, protocol: 'TCP' }]);
  });

  it('writes, updates and deletes the Endpoints of a Service; leaves selector-less Services alone', async () => {
    const store = createMemoryStore();
    await store.create(service());
    await store.create(pod('a', undefined, false));
    await store.patchStatus('Pod', NS, 'a', { status: pod('a', '127.0.0.2', false).status });
    await syncEndpoints(store, NS, 'web');
    let ep = store.get<Endpoints>('Endpoints', NS, 'web');
    expect(ep?.subsets?.[0]?.notReadyAddresses?.map((a) => a.ip)).toEqual(['127.0.0.2']);
    expect(ep?.subsets?.[0]?.addresses).toBeUndefined();
    await store.patchStatus('Pod', NS, 'a', { status: pod('a', '127.0.0.2', true).status });
    await syncEndpoints(store, NS, 'web');
    ep = store.get<Endpoints>('Endpoints', NS, 'web');
    expect(ep?.subsets?.[0]?.addresses?.map((a) => a.ip)).toEqual(['127.0.0.2']);
    const version = ep?.metadata.resourceVersion;
    await syncEndpoints(store, NS, 'web');
    expect(store.get<Endpoints>('Endpoints', NS, 'web')?.metadata.resourceVersion).toBe(version);
    await store.delete('Service', NS, 'web');
    await syncEndpoints(store, NS, 'web');
    expect(store.get('Endpoints', NS, 'web')).toBeUndefined();

    await store.create(service({ selector: undefined }));
    await store.create<Endpoints>({
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'web', namespace: NS },
      subsets: [{ addresses: [{ ip: '10.0.0.1' }], ports: [{ port: 1 }] }],
    });
    await syncEndpoints(store, NS, 'web');
    expect(store.get<Endpoints>('Endpoints', NS, 'web')?.subsets?.[0]?.addresses).toEqual([
      { ip: '10.0.0.1' },
    ]);
  });
});

describe('pod plans', () => {
  const podWith = (containers: unknown[], restartPolicy?: string): Pod => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-abcde', namespace: NS },
    spec: { containers, ...(restartPolicy ? { restartPolicy } : {}) },
  });

  it('serves sluice-demo images with their tag and env, runs commands, refuses other images by name', () => {
    expect(
      planLocalPod(
        podWith([
          {
            name: 'app',
            image: 'ghcr.io/x/sluice-demo:v3',
            env: [{ name: 'ERROR_RATE', value: '0.2' }],
          },
        ]),
      ),
    ).toEqual({
      kind: 'run',
      restartPolicy: 'Always',
      containers: [
        {
          kind: 'demo',
          name: 'app',
          image: 'ghcr.io/x/sluice-demo:v3',
          ports: [8080],
          config: { name: 'web-abcde', version: 'v3', errorRate: 0.2, latencyMs: 0, latencyJitterMs: 0 },
        },
      ],
    });
    expect(
      planLocalPod(
        podWith(
          [
            {
              name: 'mine',
              image: 'node:24',
              command: ['node', 'server.js'],
              args: ['--fast'],
              env: [{ name: 'A', value: '1' }],
              ports: [{ containerPort: 3000 }],
              workingDir: '/tmp',
            },
          ],
          'Never',
        ),
      ),
    ).toEqual({
      kind: 'run',
      restartPolicy: 'Never',
      containers: [
        {
          kind: 'process',
          name: 'mine',
          image: 'node:24',
          argv: ['node', 'server.js', '--fast'],
          env: { A: '1' },
          ports: [3000],
          workingDir: '/tmp',
        },
      ],
    });
    const refused = planLocalPod(podWith([{ name: 'app', image: 'nginx:1.27' }]));
    expect(refused).toMatchObject({ kind: 'fail', reason: UNRUNNABLE_IMAGE_REASON, image: 'nginx:1.27' });
    expect(refused.kind === 'fail' && refused.message).toBe(
      'image "nginx:1.27" of container "app" cannot run locally: use a sluice-demo image or a command',
    );
  });

  it('reports settings it cannot read as a config error naming the variable', () => {
    const bad = planLocalPod(
      podWith([{ name: 'app', image: 'sluice-demo:v1', env: [{ name: 'ERROR_RATE', value: '2' }] }]),
    );
    expect(bad).toMatchObject({ kind: 'fail', reason: CONFIG_ERROR_REASON });
    expect(bad.kind === 'fail' && bad.message).toContain('ERROR_RATE');
    const valueFrom = planLocalPod(
      podWith([
        { name: 'app', image: 'x', command: ['sh'], env: [{ name: 'S', valueFrom: { secretKeyRef: {} } }] },
      ]),
    );
    expect(valueFrom.kind === 'fail' && valueFrom.message).toContain('env S uses valueFrom');
  });
});

describe('address pool', () => {
  it('hands out distinct loopback addresses, skipping .0 and .255, and reuses a free preferred one', () => {
    const pool = new AddressPool('loopback', '127.0.0.254');
    expect(pool.acquire()).toBe('127.0.0.254');
    expect(pool.acquire()).toBe('127.0.1.1');
    expect(pool.acquire('127.0.0.254')).not.toBe('127.0.0.254');
    expect(pool.acquire('127.0.9.9')).toBe('127.0.9.9');
    pool.release('127.0.9.9');
    expect(pool.acquire('127.0.9.9')).toBe('127.0.9.9');
    expect(addressToIndex(indexToAddress(70_000))).toBe(70_000);
    expect(addressToIndex('10.0.0.1')).toBeUndefined();
    const shared = new AddressPool('shared');
    expect([shared.acquire(), shared.acquire()]).toEqual(['127.0.0.1', '127.0.0.1']);
  });
});
