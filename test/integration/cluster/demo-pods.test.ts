// Real workloads on the test control plane: a pod whose image is `sluice-demo` runs the demo app on
// podIP:containerPort for its life (500s at ERROR_RATE, x-demo-version from the image tag, JSON naming the
// pod), becomes Ready only once it listens, is in its Service's Endpoints, and stops answering when it is
// deleted; other images get no server. What the simulator serves for a pod, the server set and the pod
// network claim are checked without the cluster too, and a restarted simulator serves the demo pods it finds.

import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterState, startCluster, stopCluster } from '../../cluster/control-plane.ts';
import { DemoPodServers, planDemoServers } from '../../cluster/demo-pods.ts';
import {
  connectError,
  demoContainer,
  demoGet,
  endpointAddresses,
  podAddresses,
  requireDemoPods,
} from '../../cluster/demo-traffic.ts';
import { KubeClient } from '../../cluster/kube-client.ts';
import { createTestNamespace, testClient, useNamespace } from '../../cluster/namespace.ts';
import { claimPodNetwork, type IpCommand, POD_CIDR } from '../../cluster/pod-network.ts';
import {
  CONTAINER_CONFIG_ERROR_REASON,
  DEMO_LISTEN_FAILED_REASON,
  planPod,
  READY_DELAY_KEY,
  simulatedStatus,
  startPodSimulator,
} from '../../cluster/pod-simulator.ts';
import { waitFor } from '../../cluster/wait.ts';

type Json = Record<string, unknown>;

function demoPod(containers: Json[], name = 'web-1'): Json {
  return { metadata: { name, namespace: 'n', uid: 'u-1' }, spec: { containers } };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === 'object' && address !== null ? address.port : 0;
}

describe('what the simulator serves for a pod', () => {
  it('serves nothing for a pod without a sluice-demo container', () => {
    expect(planDemoServers(demoPod([{ name: 'app', image: 'nginx:1' }]))).toEqual({ kind: 'none' });
    expect(planDemoServers(demoPod([{ name: 'app', image: 'sluice-demo-other:v1' }]))).toEqual({
      kind: 'none',
    });
  });

  it('serves a demo container on 8080 when it declares no ports, named after the pod and versioned by the tag', () => {
    expect(
      planDemoServers(demoPod([{ name: 'app', image: 'registry.example.com:5000/team/sluice-demo:v3' }])),
    ).toEqual({
      kind: 'serve',
      servers: [
        {
          container: 'app',
          port: 8080,
          config: { name: 'web-1', version: 'v3', errorRate: 0, latencyMs: 0, latencyJitterMs: 0 },
        },
      ],
    });
  });

  it('serves every declared TCP port once, skips UDP ports and sidecars of other images', () => {
    const plan = planDemoServers(
      demoPod([
        {
          name: 'app',
          image: 'sluice-demo:v1',
          ports: [
            { containerPort: 8080 },
            { containerPort: 9090, protocol: 'TCP' },
            { containerPort: 8080, name: 'again' },
            { containerPort: 5353, protocol: 'UDP' },
          ],
        },
        { name: 'sidecar', image: 'envoy:1', ports: [{ containerPort: 15001 }] },
      ]),
    );
    expect(plan.kind === 'serve' && plan.servers.map((s) => `${s.container}:${s.port}`)).toEqual([
      'app:8080',
      'app:9090',
    ]);
  });

  it('reads ERROR_RATE, LATENCY_MS and LATENCY_JITTER_MS from env values (the last entry wins)', () => {
    const plan = planDemoServers(
      demoPod([
        {
          name: 'app',
          image: 'sluice-demo:v2',
          env: [
            { name: 'ERROR_RATE', value: '0.1' },
            { name: 'LATENCY_MS', value: '25' },
            { name: 'LATENCY_JITTER_MS', value: '5' },
            { name: 'ERROR_RATE', value: '0.5' },
            { name: 'OTHER', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          ],
        },
      ]),
    );
    expect(plan.kind === 'serve' && plan.servers[0]?.config).toMatchObject({
      errorRate: 0.5,
      latencyMs: 25,
      latencyJitterMs: 5,
    });
  });

  const invalid: { name: string; container: Json; message: RegExp }[] = [
    {
      name: 'a setting from valueFrom',
      container: { env: [{ name: 'ERROR_RATE', valueFrom: { configMapKeyRef: { name: 'c', key: 'k' } } }] },
      message: /env ERROR_RATE uses valueFrom/,
    },
    {
      name: 'envFrom',
      container: { envFrom: [{ configMapRef: { name: 'c' } }] },
      message: /envFrom is not resolved/,
    },
    {
      name: 'an ERROR_RATE above 1',
      container: { env: [{ name: 'ERROR_RATE', value: '1.5' }] },
      message: /ERROR_RATE: must be between 0 and 1, got 1.5/,
    },
    {
      name: 'a LATENCY_MS that is not a number',
      container: { env: [{ name: 'LATENCY_MS', value: 'slow' }] },
      message: /LATENCY_MS: must be a number, got "slow"/,
    },
  ];
  for (const row of invalid) {
    it(`rejects ${row.name} naming the container and the variable, and the pod never becomes Ready`, () => {
      const pod = demoPod([{ name: 'app', image: 'sluice-demo:v1', ...row.container }]);
      const plan = planDemoServers(pod);
      expect(plan).toMatchObject({ kind: 'invalid', container: 'app' });
      expect(plan.kind === 'invalid' && plan.message).toMatch(/^container "app" \(sluice-demo:v1\): /);
      expect(plan.kind === 'invalid' && plan.message).toMatch(row.message);
      const podPlan = planPod(pod);
      expect(podPlan.outcome).toMatchObject({
        kind: 'container-error',
        phase: 'Pending',
        reason: CONTAINER_CONFIG_ERROR_REASON,
      });
      expect(podPlan.demoServers).toEqual([]);
    });
  }

  it('starts no server for a demo pod that crash-loops or fails its pull, and serves one that never gets ready', () => {
    expect(planPod(demoPod([{ name: 'app', image: 'sluice-demo:crash' }])).demoServers).toEqual([]);
    expect(planPod(demoPod([{ name: 'app', image: 'sluice-demo:bad' }])).demoServers).toEqual([]);
    const unready = planPod(demoPod([{ name: 'app', image: 'sluice-demo:unready' }]));
    expect(unready.outcome.kind).toBe('never-ready');
    expect(unready.demoServers).toHaveLength(1);
  });

  it('reports a container error as an unready pod with the reason and message on the Ready condition', () => {
    const pod = demoPod([
      { name: 'app', image: 'sluice-demo:v1' },
      { name: 'sidecar', image: 'envoy:1' },
    ]);
    const status = simulatedStatus(
      pod,
      {
        kind: 'container-error',
        phase: 'Running',
        container: 'app',
        reason: DEMO_LISTEN_FAILED_REASON,
        message: 'boom',
      },
      '10.244.0.9',
      '2026-01-01T00:00:05.000Z',
      '2026-01-01T00:00:00.000Z',
    );
    expect(status.phase).toBe('Running');
    expect(status.conditions).toContainEqual(
      expect.objectContaining({
        type: 'Ready',
        status: 'False',
        reason: DEMO_LISTEN_FAILED_REASON,
        message: 'boom',
      }),
    );
    expect(status.containerStatuses).toEqual([
      expect.objectContaining({
        name: 'app',
        ready: false,
        state: { waiting: { reason: DEMO_LISTEN_FAILED_REASON, message: 'boom' } },
      }),
      expect.objectContaining({ name: 'sidecar', ready: false, state: { running: expect.any(Object) } }),
    ]);
  });
});

describe('the demo servers of the simulated pods', () => {
  const config = { name: 'p', version: 'v1', errorRate: 0, latencyMs: 0, latencyJitterMs: 0 };
  let servers: DemoPodServers;
  let blocker: Server | undefined;

  beforeAll(() => {
    servers = new DemoPodServers();
  });
  afterAll(async () => {
    await servers.stopAll();
    await new Promise((resolve) => (blocker ? blocker.close(resolve) : resolve(undefined)));
  });

  it('listens on every port of a pod until the pod is stopped, then refuses connections', async () => {
    const [a, b] = [await freePort(), await freePort()];
    const plans = [
      { container: 'app', port: a, config },
      { container: 'app', port: b, config: { ...config, version: 'v2' } },
    ];
    expect(await servers.start('uid-1', '127.0.0.1', plans)).toEqual({ kind: 'listening' });
    expect(await servers.start('uid-1', '127.0.0.1', plans)).toEqual({ kind: 'listening' });
    expect((await demoGet('127.0.0.1', a)).version).toBe('v1');
    expect((await demoGet('127.0.0.1', b)).version).toBe('v2');
    await servers.stop('uid-1');
    expect(servers.has('uid-1')).toBe(false);
    expect(await connectError('127.0.0.1', a)).toBe('ECONNREFUSED');
    expect(await connectError('127.0.0.1', b)).toBe('ECONNREFUSED');
  });

  it('starts all of a pod or none: a port in use closes the ones already listening and names the address', async () => {
    const free = await freePort();
    const taken = await freePort();
    const occupied = createServer();
    blocker = occupied;
    await new Promise<void>((resolve) => occupied.listen(taken, '127.0.0.1', resolve));
    const result = await servers.start('uid-2', '127.0.0.1', [
      { container: 'app', port: free, config },
      { container: 'second', port: taken, config },
    ]);
    expect(result).toMatchObject({ kind: 'failed', container: 'second' });
    expect(result.kind === 'failed' && result.message).toMatch(
      new RegExp(`sluice-demo container "second" could not listen on 127\\.0\\.0\\.1:${taken}: .*EADDRINUSE`),
    );
    expect(servers.has('uid-2')).toBe(false);
    expect(await connectError('127.0.0.1', free)).toBe('ECONNREFUSED');
  });

  it('stops every server at stopAll, including pods whose start is in progress', async () => {
    const port = await freePort();
    const started = servers.start('uid-3', '127.0.0.1', [{ container: 'app', port, config }]);
    await servers.stopAll();
    expect(['listening', 'cancelled']).toContain((await started).kind);
    expect(await connectError('127.0.0.1', port)).toBe('ECONNREFUSED');
  });
});

describe('the pod network claim', () => {
  /** A scripted `ip`: answers `route get` with getOutput, records every call, fails `route add` with addError. */
  function fakeIp(getOutput: string, addError?: string): { ip: IpCommand; calls: string[] } {
    const calls: string[] = [];
    const ip: IpCommand = async (args) => {
      calls.push(args.join(' '));
      if (args[1] === 'add' && addError !== undefined)
        throw Object.assign(new Error('Command failed'), { stderr: addError });
      return args[1] === 'get' ? getOutput : '';
    };
    return { ip, calls };
  }
  const bindable = async () => undefined;
  const remote = '10.244.0.1 via 192.0.2.1 dev eth0 src 192.0.2.2 uid 0\n    cache\n';
  const local = 'local 10.244.0.1 dev lo table local src 127.0.0.1 uid 0\n    cache <local>\n';

  it('adds the local route when the range is not local, and removes it at release (once)', async () => {
    const { ip, calls } = fakeIp(remote);
    const network = await claimPodNetwork({ ip, bindError: bindable });
    expect(network).toMatchObject({ served: true, addedRoute: true });
    await network.release();
    await network.release();
    expect(calls).toEqual([
      'route get 10.244.0.1',
      `route add local ${POD_CIDR} dev lo`,
      `route del local ${POD_CIDR} dev lo`,
    ]);
  });

  it('uses a route that is already there without taking it away at release', async () => {
    const { ip, calls } = fakeIp(local);
    const network = await claimPodNetwork({ ip, bindError: bindable });
    expect(network).toMatchObject({ served: true, addedRoute: false });
    await network.release();
    expect(calls).toEqual(['route get 10.244.0.1']);
  });

  it('treats a route another simulator added a moment ago as present, not ours', async () => {
    const { ip, calls } = fakeIp(remote, 'RTNETLINK answers: File exists');
    const network = await claimPodNetwork({ ip, bindError: bindable });
    expect(network).toMatchObject({ served: true, addedRoute: false });
    await network.release();
    expect(calls).not.toContain(`route del local ${POD_CIDR} dev lo`);
  });

  it('does not serve demo pods, saying why, without permission, without `ip`, or when the address cannot be bound', async () => {
    const denied = await claimPodNetwork({
      ip: fakeIp(remote, 'RTNETLINK answers: Operation not permitted').ip,
    });
    expect(denied).toMatchObject({ served: false });
    expect(denied.served === false && denied.reason).toMatch(
      /needs root or CAP_NET_ADMIN.*Operation not permitted/,
    );

    const missing = await claimPodNetwork({
      ip: async () => {
        throw Object.assign(new Error('spawn ip ENOENT'), { code: 'ENOENT' });
      },
    });
    expect(missing.served === false && missing.reason).toMatch(
      /`ip` command \(Debian package iproute2\) is not installed/,
    );

    const { ip, calls } = fakeIp(remote);
    const unbindable = await claimPodNetwork({ ip, bindError: async () => 'EADDRNOTAVAIL' });
    expect(unbindable.served === false && unbindable.reason).toMatch(/cannot be bound: EADDRNOTAVAIL/);
    // The route it added for nothing is taken away again.
    expect(calls.at(-1)).toBe(`route del local ${POD_CIDR} dev lo`);
  });
});

describe('sluice-demo pods on the test cluster', () => {
  let client: KubeClient;
  const ns = useNamespace('demo-pods', { perTest: true });

  beforeAll(async () => {
    client = await testClient();
  });
  afterAll(async () => {
    await client?.close();
  });

  function replicaSet(name: string, replicas: number, containers: Json[]): Json {
    return {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name },
      spec: {
        replicas,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name }, annotations: { [READY_DELAY_KEY]: '200' } },
          spec: { containers },
        },
      },
    };
  }

  function barePod(name: string, containers: Json[]): Json {
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, labels: { app: name }, annotations: { [READY_DELAY_KEY]: '200' } },
      spec: { containers },
    };
  }

  async function readyPods(selector: string, count: number) {
    return await waitFor(
      async () => {
        const pods = (await podAddresses(client, ns.name, selector)).filter((p) => p.ready && !p.deleting);
        return pods.length === count ? pods : undefined;
      },
      {
        what: `${count} ready pods ${selector}`,
        describe: async () => JSON.stringify(await podAddresses(client, ns.name, selector)),
      },
    );
  }

  async function readyCondition(name: string): Promise<Json | undefined> {
    const pod = await client.get(`/api/v1/namespaces/${ns.name}/pods/${name}`);
    const conditions = ((pod.status as Json | undefined)?.conditions as Json[] | undefined) ?? [];
    return conditions.find((c) => c.type === 'Ready');
  }

  it('answers every request with 500 at ERROR_RATE=1, versioned by the image tag, and its Service lists the pods', async (ctx) => {
    await requireDemoPods(ctx, client);
    await client.create(`/api/v1/namespaces/${ns.name}/services`, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'failing' },
      spec: { selector: { app: 'failing' }, ports: [{ port: 80, targetPort: 8080 }] },
    });
    await client.create(
      `/apis/apps/v1/namespaces/${ns.name}/replicasets`,
      replicaSet('failing', 2, [demoContainer({ tag: 'v3', errorRate: 1 })]),
    );
    const pods = await readyPods('app=failing', 2);
    for (const pod of pods) {
      const reply = await demoGet(pod.ip!);
      expect(reply.status).toBe(500);
      expect(reply.version).toBe('v3');
      expect(reply.body).toMatchObject({
        pod: pod.name,
        version: 'v3',
        error: 'injected failure (ERROR_RATE)',
      });
    }
    const ips = pods.map((p) => p.ip!).sort();
    expect(ips[0]).not.toBe(ips[1]);
    await waitFor(
      async () => JSON.stringify(await endpointAddresses(client, ns.name, 'failing')) === JSON.stringify(ips),
      { what: `Endpoints failing = ${ips.join(', ')}` },
    );
  });

  it('answers 200 with JSON naming the pod at ERROR_RATE=0, on every declared port, after LATENCY_MS', async (ctx) => {
    await requireDemoPods(ctx, client);
    await client.create(
      `/api/v1/namespaces/${ns.name}/pods`,
      barePod('healthy', [demoContainer({ tag: 'v4', errorRate: 0, latencyMs: 300, ports: [8080, 9090] })]),
    );
    const [pod] = await readyPods('app=healthy', 1);
    for (const port of [8080, 9090]) {
      const startedMs = Date.now();
      const reply = await demoGet(pod!.ip!, port, '/orders');
      // LATENCY_MS is a floor, not a speed: the answer cannot come before it.
      expect(Date.now() - startedMs).toBeGreaterThanOrEqual(250);
      expect(reply).toEqual({
        status: 200,
        version: 'v4',
        body: { pod: 'healthy', version: 'v4', path: '/orders' },
      });
    }
  });

  it('stops the server when the pod is deleted (connections are refused)', async (ctx) => {
    await requireDemoPods(ctx, client);
    await client.create(
      `/api/v1/namespaces/${ns.name}/pods`,
      barePod('doomed', [demoContainer({ tag: 'v1' })]),
    );
    const [pod] = await readyPods('app=doomed', 1);
    expect((await demoGet(pod!.ip!)).status).toBe(200);
    await client.delete(`/api/v1/namespaces/${ns.name}/pods/doomed`);
    await waitFor(async () => (await connectError(pod!.ip!)) === 'ECONNREFUSED', {
      what: `connection refused on ${pod!.ip}:8080 after the pod was deleted`,
    });
    await waitFor(async () => (await podAddresses(client, ns.name, 'app=doomed')).length === 0, {
      what: 'pod doomed gone',
    });
  });

  it('runs no server for a pod of another image', async (ctx) => {
    await requireDemoPods(ctx, client);
    await client.create(
      `/api/v1/namespaces/${ns.name}/pods`,
      barePod('plain', [{ name: 'app', image: 'nginx:1', ports: [{ containerPort: 8080 }] }]),
    );
    const [pod] = await readyPods('app=plain', 1);
    expect(await connectError(pod!.ip!)).toBe('ECONNREFUSED');
  });

  it('never makes a pod Ready whose demo server cannot listen, and says why on the Ready condition', async (ctx) => {
    await requireDemoPods(ctx, client);
    // Two demo containers on one port: the second cannot bind the pod IP's 8080.
    await client.create(
      `/api/v1/namespaces/${ns.name}/pods`,
      barePod('clash', [
        demoContainer({ tag: 'v1', name: 'one' }),
        demoContainer({ tag: 'v1', name: 'two' }),
      ]),
    );
    const ready = await waitFor(
      async () => {
        const condition = await readyCondition('clash');
        return condition?.reason === DEMO_LISTEN_FAILED_REASON ? condition : undefined;
      },
      { what: `pod clash Ready=False with reason ${DEMO_LISTEN_FAILED_REASON}` },
    );
    expect(ready.status).toBe('False');
    expect(String(ready.message)).toMatch(
      /sluice-demo container "two" could not listen on 10\.244\.\d+\.\d+:8080: .*EADDRINUSE/,
    );
    const [pod] = await podAddresses(client, ns.name, 'app=clash');
    expect(pod?.ready).toBe(false);
    // All or none: the first container's server was closed too.
    expect(await connectError(pod!.ip!)).toBe('ECONNREFUSED');
  });

  it('never makes a pod Ready whose demo settings come from valueFrom, and says why', async (ctx) => {
    await requireDemoPods(ctx, client);
    await client.create(
      `/api/v1/namespaces/${ns.name}/pods`,
      barePod('from-config', [
        {
          name: 'app',
          image: 'sluice-demo:v1',
          env: [{ name: 'ERROR_RATE', valueFrom: { configMapKeyRef: { name: 'settings', key: 'rate' } } }],
        },
      ]),
    );
    const ready = await waitFor(
      async () => {
        const condition = await readyCondition('from-config');
        return condition?.reason === CONTAINER_CONFIG_ERROR_REASON ? condition : undefined;
      },
      { what: `pod from-config Ready=False with reason ${CONTAINER_CONFIG_ERROR_REASON}` },
    );
    expect(String(ready.message)).toMatch(/env ERROR_RATE uses valueFrom/);
  });
});

describe('a restarted pod simulator', () => {
  // Its own control plane (as test/integration/cluster/lifecycle.test.ts does), so the shared cluster's
  // simulator is left alone; port 18080 keeps its pods clear of demo pods the shared cluster may still have
  // on the same IPs.
  const PORT = 18_080;
  let parent: string;
  let state: ClusterState | undefined;
  let client: KubeClient | undefined;
  let simulator: ReturnType<typeof startPodSimulator> | undefined;
  let simulatorClient: KubeClient | undefined;

  beforeAll(async () => {
    parent = await mkdtemp(join(tmpdir(), 'sluice-demo-restart-'));
  });
  afterAll(async () => {
    await simulator?.stop();
    await simulatorClient?.close();
    await client?.close();
    await stopCluster(join(parent, 'cluster'), () => undefined);
    await rm(parent, { recursive: true, force: true });
  });

  it('serves the settled running demo pods it finds again, on their IPs, and gives new pods other IPs', async (ctx) => {
    const shared = await testClient();
    try {
      await requireDemoPods(ctx, shared);
    } finally {
      await shared.close();
    }
    const stateDir = join(parent, 'cluster');
    state = await startCluster({
      stateDir,
      log: () => undefined,
      simulatorEnv: { SLUICE_SIM_READY_DELAY_MS: '200' },
    });
    client = await KubeClient.fromKubeconfig(state.kubeconfig);
    const ns = await createTestNamespace(client, 'demo-restart');
    const pods = `/api/v1/namespaces/${ns.name}/pods`;
    const pod = (name: string) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name },
      spec: { containers: [demoContainer({ tag: 'v7', ports: [PORT] })] },
    });
    const readyIp = (name: string) =>
      waitFor(
        async () => {
          const found = (await podAddresses(client!, ns.name)).find((p) => p.name === name);
          return found?.ready ? found.ip : undefined;
        },
        { what: `pod ${name} ready` },
      );
    await client.create(pods, pod('before'));
    const ip = await readyIp('before');
    expect((await demoGet(ip, PORT)).body).toMatchObject({ pod: 'before', version: 'v7' });

    // SIGTERM: the simulator process stops, and its servers with it.
    const processInfo = state.processes.find((p) => p.name === 'pod-simulator')!;
    process.kill(processInfo.pid, 'SIGTERM');
    await waitFor(async () => (await connectError(ip, PORT)) === 'ECONNREFUSED', {
      what: `${ip}:${PORT} refused once the simulator stopped`,
    });
    // A new simulator on the same cluster (in this process).
    simulatorClient = await KubeClient.fromKubeconfig(state.kubeconfig);
    simulator = startPodSimulator(simulatorClient, { defaultDelayMs: 200, log: () => undefined });
    await simulator.ready;
    await waitFor(async () => (await demoGet(ip, PORT)).status === 200, {
      what: `pod before served again on ${ip}:${PORT}`,
    });
    await client.create(pods, pod('after'));
    const otherIp = await readyIp('after');
    expect(otherIp).not.toBe(ip);
    expect((await demoGet(otherIp, PORT)).body).toMatchObject({ pod: 'after' });

    await simulator.stop();
    simulator = undefined;
    expect(await connectError(ip, PORT)).toBe('ECONNREFUSED');
    expect(await connectError(otherIp, PORT)).toBe('ECONNREFUSED');
  });
});
