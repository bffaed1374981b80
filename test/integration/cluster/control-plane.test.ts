// The test control plane behaves like a cluster for what the controller relies on: ReplicaSets create Pods
// that the pod-readiness simulator schedules and marks Ready, scale-down and garbage collection really
// remove Pods, Endpoints follow ready pods, Jobs run to completion, namespaces are finalized, and a revision
// can be told to crash-loop or fail its image pull.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../../cluster/kube-client.ts';
import { createTestNamespace, testClient, useNamespace } from '../../cluster/namespace.ts';
import { FAIL_KEY, READY_DELAY_KEY, SIMULATED_NODE_NAME } from '../../cluster/pod-simulator.ts';
import { waitFor } from '../../cluster/wait.ts';

type Json = Record<string, unknown>;

let client: KubeClient;
const ns = useNamespace('cluster', { perTest: true });

async function listPods(selector: string): Promise<Json[]> {
  const list = await client.get(
    `/api/v1/namespaces/${ns.name}/pods?labelSelector=${encodeURIComponent(selector)}`,
  );
  return list.items as Json[];
}

function isReady(pod: Json): boolean {
  const conditions = ((pod.status as Json | undefined)?.conditions as Json[] | undefined) ?? [];
  return conditions.some((c) => c.type === 'Ready' && c.status === 'True');
}

/** The waiting reason of a pod's first container (CrashLoopBackOff, ErrImagePull, ...), if waiting. */
function waitingReason(pod: Json): string | undefined {
  const statuses = ((pod.status as Json | undefined)?.containerStatuses as Json[] | undefined) ?? [];
  const state = statuses[0]?.state as Json | undefined;
  const waiting = state?.waiting as Json | undefined;
  return typeof waiting?.reason === 'string' ? waiting.reason : undefined;
}

function replicaSet(
  name: string,
  replicas: number,
  podAnnotations: Record<string, string> = {},
  image = 'example.com/app:v1',
): Json {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, annotations: podAnnotations },
        spec: { containers: [{ name: 'app', image }] },
      },
    },
  };
}

beforeAll(async () => {
  client = await testClient();
});

afterAll(async () => {
  await client?.close();
});

describe('the simulated node', () => {
  it('is registered and Ready', async () => {
    const node = await client.get(`/api/v1/nodes/${SIMULATED_NODE_NAME}`);
    const conditions = (node.status as Json).conditions as Json[];
    expect(conditions).toContainEqual(expect.objectContaining({ type: 'Ready', status: 'True' }));
  });
});

describe('ReplicaSets and the pod-readiness simulator', () => {
  it('creates the pods of a ReplicaSet, schedules them with distinct IPs and marks them Running and Ready', async () => {
    await client.create(`/apis/apps/v1/namespaces/${ns.name}/replicasets`, replicaSet('web', 3));
    const rs = await waitFor(
      async () => {
        const got = await client.get(`/apis/apps/v1/namespaces/${ns.name}/replicasets/web`);
        return (got.status as Json).readyReplicas === 3 && (got.status as Json).availableReplicas === 3
          ? got
          : undefined;
      },
      { what: '3 ready replicas' },
    );
    expect((rs.status as Json).replicas).toBe(3);
    const pods = await listPods('app=web');
    expect(pods).toHaveLength(3);
    for (const pod of pods) {
      expect((pod.spec as Json).nodeName).toBe(SIMULATED_NODE_NAME);
      expect(pod.status).toMatchObject({
        phase: 'Running',
        hostIP: expect.any(String),
        podIP: expect.stringMatching(/^10\.244\./),
      });
      expect(((pod.status as Json).containerStatuses as Json[])[0]).toMatchObject({
        name: 'app',
        ready: true,
        restartCount: 0,
      });
      expect(isReady(pod)).toBe(true);
    }
    expect(new Set(pods.map((p) => (p.status as Json).podIP)).size).toBe(3);
  });

  it('removes pods completely when a ReplicaSet scales down (graceful deletes are forced, there is no kubelet)', async () => {
    await client.create(`/apis/apps/v1/namespaces/${ns.name}/replicasets`, replicaSet('shrink', 3));
    await waitFor(
      async () => ((await listPods('app=shrink')).filter(isReady).length === 3 ? true : undefined),
      { what: '3 ready' },
    );
    await client.mergePatch(`/apis/apps/v1/namespaces/${ns.name}/replicasets/shrink`, {
      spec: { replicas: 1 },
    });
    await waitFor(async () => ((await listPods('app=shrink')).length === 1 ? true : undefined), {
      what: '1 pod left',
    });
    const rs = await waitFor(
      async () => {
        const got = await client.get(`/apis/apps/v1/namespaces/${ns.name}/replicasets/shrink`);
        return (got.status as Json).replicas === 1 ? got : undefined;
      },
      { what: 'status replicas 1' },
    );
    expect((rs.status as Json).readyReplicas).toBe(1);
  });

  it('garbage-collects pods through their ownerReferences when the ReplicaSet is deleted', async () => {
    await client.create(`/apis/apps/v1/namespaces/${ns.name}/replicasets`, replicaSet('owned', 2));
    await waitFor(async () => ((await listPods('app=owned')).length === 2 ? true : undefined), {
      what: '2 pods',
    });
    await client.delete(`/apis/apps/v1/namespaces/${ns.name}/replicasets/owned`, {
      propagationPolicy: 'Background',
    });
    await waitFor(async () => ((await listPods('app=owned')).length === 0 ? true : undefined), {
      what: 'pods collected',
    });
  });

  it('keeps Endpoints of a Service in step with the ready pods it selects', async () => {
    await client.create(`/api/v1/namespaces/${ns.name}/services`, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'svc' },
      spec: { selector: { app: 'ep' }, ports: [{ port: 80, targetPort: 8080 }] },
    });
    await client.create(`/apis/apps/v1/namespaces/${ns.name}/replicasets`, replicaSet('ep', 2));
    const addresses = await waitFor(
      async () => {
        const ep = await client.get(`/api/v1/namespaces/${ns.name}/endpoints/svc`);
        const subsets = (ep.subsets as Json[] | undefined) ?? [];
        const ips = subsets.flatMap((s) => ((s.addresses as Json[] | undefined) ?? []).map((a) => a.ip));
        return ips.length === 2 ? ips : undefined;
      },
      { what: '2 endpoint addresses' },
    );
    const podIps = (await listPods('app=ep')).map((p) => (p.status as Json).podIP);
    expect([...addresses].sort()).toEqual([...podIps].sort());
  });

  it('waits the delay an annotation asks for before a pod is Ready', async () => {
    await client.create(
      `/apis/apps/v1/namespaces/${ns.name}/replicasets`,
      replicaSet('slow', 1, { [READY_DELAY_KEY]: '2500' }),
    );
    const pod = await waitFor(async () => (await listPods('app=slow')).find(isReady), {
      what: 'a ready pod',
    });
    const status = pod.status as Json;
    const ready = (status.conditions as Json[]).find((c) => c.type === 'Ready') as Json;
    const elapsedS =
      (Date.parse(String(ready.lastTransitionTime)) - Date.parse(String(status.startTime))) / 1000;
    // Timestamps are stored with second precision: a 2.5 s delay shows as 2 or 3 s.
    expect(elapsedS).toBeGreaterThanOrEqual(2);
  });

  it('crash-loops a revision whose pod template carries sluice.test/fail', async () => {
    await client.create(
      `/apis/apps/v1/namespaces/${ns.name}/replicasets`,
      replicaSet('crashy', 2, { [FAIL_KEY]: 'crash-loop' }),
    );
    const pods = await waitFor(
      async () => {
        const list = await listPods('app=crashy');
        const crashing = list.filter((p) => waitingReason(p) === 'CrashLoopBackOff');
        return crashing.length === 2 ? crashing : undefined;
      },
      { what: '2 crash-looping pods' },
    );
    for (const pod of pods) {
      expect((pod.status as Json).phase).toBe('Running');
      expect(isReady(pod)).toBe(false);
      expect(((pod.status as Json).containerStatuses as Json[])[0]).toMatchObject({
        restartCount: 3,
        lastState: { terminated: { exitCode: 1 } },
      });
    }
    const rs = await client.get(`/apis/apps/v1/namespaces/${ns.name}/replicasets/crashy`);
    expect((rs.status as Json).readyReplicas ?? 0).toBe(0);
  });

  it('fails the image pull of an image tagged :bad (pod stays Pending, ErrImagePull)', async () => {
    await client.create(
      `/apis/apps/v1/namespaces/${ns.name}/replicasets`,
      replicaSet('badimg', 1, {}, 'example.com/app:bad'),
    );
    const pod = await waitFor(
      async () => (await listPods('app=badimg')).find((p) => waitingReason(p) === 'ErrImagePull'),
      { what: 'ErrImagePull' },
    );
    expect((pod.status as Json).phase).toBe('Pending');
    expect(isReady(pod)).toBe(false);
  });
});

describe('Jobs (the analysis job provider)', () => {
  const job = (name: string, command: string[]): Json => ({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name },
    spec: {
      backoffLimit: 0,
      template: {
        spec: { restartPolicy: 'Never', containers: [{ name: 'check', image: 'busybox', command }] },
      },
    },
  });

  async function jobCondition(name: string): Promise<string> {
    return await waitFor(
      async () => {
        const got = await client.get(`/apis/batch/v1/namespaces/${ns.name}/jobs/${name}`);
        const conditions = ((got.status as Json).conditions as Json[] | undefined) ?? [];
        const done = conditions.find(
          (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
        );
        return done === undefined ? undefined : String(done.type);
      },
      { what: `job ${name} to finish` },
    );
  }

  it('completes a Job whose container exits 0 and fails one whose command ends in exit 1', async () => {
    await client.create(
      `/apis/batch/v1/namespaces/${ns.name}/jobs`,
      job('ok', ['sh', '-c', 'echo fine; exit 0']),
    );
    await client.create(`/apis/batch/v1/namespaces/${ns.name}/jobs`, job('bad', ['sh', '-c', 'exit 1']));
    expect(await jobCondition('ok')).toBe('Complete');
    expect(await jobCondition('bad')).toBe('Failed');
  });
});

describe('namespaces', () => {
  it('are finalized with their pods when deleted', async () => {
    const own = await createTestNamespace(client, 'finalize');
    await client.create(`/apis/apps/v1/namespaces/${own.name}/replicasets`, replicaSet('gone', 2));
    await waitFor(
      async () => {
        const list = await client.get(`/api/v1/namespaces/${own.name}/pods`);
        return (list.items as Json[]).length === 2 ? true : undefined;
      },
      { what: '2 pods' },
    );
    await own.delete({ wait: true });
    expect((await client.raw('GET', `/api/v1/namespaces/${own.name}`)).status).toBe(404);
  });
});
