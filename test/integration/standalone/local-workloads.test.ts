// The local workloads (src/standalone/workloads/) with real servers and processes over the in-memory
// store: ReplicaSets get pods, sluice-demo pods answer HTTP on their own loopback address with their
// version, command pods run as processes told PORT, an image that cannot run here is reported, Endpoints
// follow readiness, and stop() leaves no server listening and no process running.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProxyRouterConfig } from '../../../src/api/proxy-router-config.ts';
import type { Endpoints, Pod, ReplicaSet, Service } from '../../../src/api/workloads.ts';
import {
  findLeftovers,
  type LocalWorkloads,
  localPort,
  POD_UID_ENV,
  startLocalWorkloads,
  tcpProbe,
  UNRUNNABLE_IMAGE_REASON,
  type WorkloadsLog,
} from '../../../src/standalone/workloads/index.ts';
import { createMemoryStore, type MemoryStore } from '../../../src/store/memory.ts';
import { readyEndpoints } from '../../../src/traffic/proxy/backends.ts';

const NS = 'shop';
const running: LocalWorkloads[] = [];
afterEach(async () => {
  for (const w of running.splice(0)) await w.stop();
});

interface Captured extends WorkloadsLog {
  readonly lines: string[];
}

function captureLog(): Captured {
  const lines: string[] = [];
  return { lines, info: (_f, m) => lines.push(m), warn: (_f, m) => lines.push(m) };
}

// Distinct addresses per file so parallel test files never meet on one.
let nextBlock = 40;
function start(
  store: MemoryStore,
  log: WorkloadsLog = captureLog(),
  addressMode?: 'loopback' | 'shared',
): LocalWorkloads {
  const w = startLocalWorkloads(store, {
    log,
    ...(addressMode !== undefined ? { addressMode } : {}),
    firstAddress: `127.0.${nextBlock++}.1`,
    killGraceMs: 1_000,
    restartBackoffMs: 100,
    resyncMs: 1_000,
  });
  running.push(w);
  return w;
}

async function waitFor<T>(what: string, fn: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = fn();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function replicaSet(
  name: string,
  replicas: number,
  container: Record<string, unknown>,
  extra = {},
): ReplicaSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, namespace: NS },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', ...container }], ...extra },
      },
    },
  };
}

function service(name: string, targetPort: number | string = 8080): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: NS },
    spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort }] },
  };
}

type PodStatus = {
  phase?: string;
  podIP?: string;
  reason?: string;
  message?: string;
  containerStatuses?: {
    ready: boolean;
    restartCount: number;
    state: Record<string, { reason?: string; exitCode?: number }>;
  }[];
};

function status(pod: Pod): PodStatus {
  return (pod.status ?? {}) as PodStatus;
}

function readyPods(store: MemoryStore, app: string): Pod[] {
  return store
    .list<Pod>('Pod', NS, { app })
    .filter((p) => (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'));
}

const ROUTER: ProxyRouterConfig = { route: 'web' } as ProxyRouterConfig;

const HTTP_SERVER = [
  'node',
  '-e',
  "const http=require('node:http');http.createServer((q,s)=>s.end('hello from '+process.env.PORT+' '+process.env.GREETING)).listen(Number(process.env.PORT),()=>console.log('listening on',process.env.PORT))",
];

describe('local workloads', () => {
  it('runs sluice-demo pods on their own addresses, answering with their version; Endpoints follow', async () => {
    const store = createMemoryStore();
    const w = start(store);
    expect(await w.addressMode).toBe('loopback');
    await store.create(service('web'));
    await store.create(
      replicaSet('web', 2, { image: 'sluice-demo:v2', env: [{ name: 'LATENCY_MS', value: '0' }] }),
    );
    const pods = await waitFor('two ready pods', () =>
      readyPods(store, 'web').length === 2 ? readyPods(store, 'web') : undefined,
    );
    const ips = pods.map((p) => status(p).podIP!);
    expect(new Set(ips).size).toBe(2);
    for (const ip of ips) expect(ip).toMatch(/^127\.0\.\d+\.\d+$/);
    for (const pod of pods) {
      const res = await request(`http://${status(pod).podIP}:8080/hello`);
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-demo-version']).toBe('v2');
      expect(await res.body.json()).toEqual({ pod: pod.metadata.name, version: 'v2', path: '/hello' });
      expect(status(pod).containerStatuses?.[0]).toMatchObject({ ready: true, restartCount: 0 });
    }
    await waitFor(
      'RS status',
      () => store.get<ReplicaSet>('ReplicaSet', NS, 'web')?.status?.availableReplicas === 2,
    );
    expect(store.get<ReplicaSet>('ReplicaSet', NS, 'web')?.status).toMatchObject({
      replicas: 2,
      readyReplicas: 2,
      fullyLabeledReplicas: 2,
      observedGeneration: 1,
    });
    const both = await waitFor('two endpoints', () => {
      const r = readyEndpoints(store, NS, 'web', ROUTER);
      return r.ok && r.endpoints.length === 2 ? r.endpoints : undefined;
    });
    expect(both.sort()).toEqual(ips.map((ip) => `http://${ip}:8080`).sort());

    // Scale down: one pod goes, its server closes, the Endpoints drop it.
    await store.patch('ReplicaSet', NS, 'web', { spec: { replicas: 1 } });
    await waitFor('one pod', () => store.list('Pod', NS, { app: 'web' }).length === 1);
    const [kept] = store.list<Pod>('Pod', NS, { app: 'web' });
    const gone = ips.find((ip) => ip !== status(kept!).podIP)!;
    await waitFor('one endpoint', () => {
      const r = readyEndpoints(store, NS, 'web', ROUTER);
      return r.ok && r.endpoints.length === 1;
    });
    expect(await tcpProbe(gone, 8080, 500)).toBe(false);
    await waitFor(
      'RS status 1',
      () => store.get<ReplicaSet>('ReplicaSet', NS, 'web')?.status?.replicas === 1,
    );

    // Scale up again.
    await store.patch('ReplicaSet', NS, 'web', { spec: { replicas: 3 } });
    await waitFor('three ready pods', () => readyPods(store, 'web').length === 3);
    await waitFor('three endpoints', () => {
      const r = readyEndpoints(store, NS, 'web', ROUTER);
      return r.ok && r.endpoints.length === 3;
    });

    await w.stop();
    for (const pod of store.list<Pod>('Pod', NS))
      expect(await tcpProbe(status(pod).podIP!, 8080, 500)).toBe(false);
  });

  it('runs a command container as a process told PORT, ready once it listens, its output in the log', async () => {
    const store = createMemoryStore();
    const log = captureLog();
    const w = start(store, log);
    await store.create(service('mine', 'http'));
    await store.create(
      replicaSet('mine', 2, {
        image: 'my-app:dev',
        command: HTTP_SERVER.slice(0, 2),
        args: HTTP_SERVER.slice(2),
        env: [{ name: 'GREETING', value: 'hi' }],
        ports: [{ name: 'http', containerPort: 3000 }],
      }),
    );
    const pods = await waitFor('two ready command pods', () =>
      readyPods(store, 'mine').length === 2 ? readyPods(store, 'mine') : undefined,
    );
    const ports = pods.map((p) => localPort(p, 3000));
    expect(new Set(ports).size).toBe(2);
    for (const pod of pods) {
      const port = localPort(pod, 3000);
      const res = await request(`http://${status(pod).podIP}:${port}/`);
      expect(await res.body.text()).toBe(`hello from ${port} hi`);
    }
    await waitFor('output in the log', () =>
      log.lines.some((l) => /\[shop\/mine-\w{5}\/app\] listening on \d+/.test(l)),
    );
    const endpoints = await waitFor('endpoints', () => {
      const r = readyEndpoints(store, NS, 'mine', ROUTER);
      return r.ok && r.endpoints.length === 2 ? r.endpoints : undefined;
    });
    expect(endpoints.sort()).toEqual(
      pods.map((p) => `http://${status(p).podIP}:${localPort(p, 3000)}`).sort(),
    );
    const pids = pods.map((p) => Number(/local:\/\/(\d+)/.exec(JSON.stringify(p.status))?.[1]));
    for (const pid of pids) expect(pid).toBeGreaterThan(0);
    await w.stop();
    for (const pid of pids) expect(alive(pid)).toBe(false);
  });

  it('reports an image that cannot run locally on the pod, and keeps it out of the Endpoints', async () => {
    const store = createMemoryStore();
    start(store);
    await store.create(service('nginx', 80));
    await store.create(replicaSet('nginx', 1, { image: 'nginx:1.27' }));
    const pod = await waitFor('failed pod', () =>
      store.list<Pod>('Pod', NS, { app: 'nginx' }).find((p) => p.status?.phase === 'Failed'),
    );
    expect(status(pod)).toMatchObject({
      phase: 'Failed',
      reason: UNRUNNABLE_IMAGE_REASON,
      message:
        'image "nginx:1.27" of container "app" cannot run locally: use a sluice-demo image or a command',
    });
    await waitFor('endpoints written', () => store.get('Endpoints', NS, 'nginx'));
    expect(store.get<Endpoints>('Endpoints', NS, 'nginx')?.subsets).toEqual([]);
    // The ReplicaSet keeps it (a replacement would fail the same way).
    await new Promise((r) => setTimeout(r, 200));
    expect(store.list('Pod', NS, { app: 'nginx' })).toHaveLength(1);
  });

  it('restarts a crashing process with back-off, never ready; a run-to-completion pod succeeds', async () => {
    const store = createMemoryStore();
    start(store);
    await store.create(replicaSet('crash', 1, { image: 'x', command: ['node', '-e', 'process.exit(3)'] }));
    const crashing = await waitFor('restarts', () =>
      store
        .list<Pod>('Pod', NS, { app: 'crash' })
        .find((p) => (status(p).containerStatuses?.[0]?.restartCount ?? 0) >= 2),
    );
    expect(status(crashing).phase).toBe('Running');
    expect(readyPods(store, 'crash')).toEqual([]);
    expect(JSON.stringify(status(crashing).containerStatuses)).toContain('"exitCode":3');

    await store.create(replicaSet('missing', 1, { image: 'x', command: ['no-such-binary-here'] }));
    const missing = await waitFor('missing binary reported', () =>
      store
        .list<Pod>('Pod', NS, { app: 'missing' })
        .find((p) => status(p).message?.includes('could not start "no-such-binary-here"')),
    );
    expect(status(missing).containerStatuses?.[0]?.state.waiting?.reason).toBe('CrashLoopBackOff');
    expect(status(missing).message).toContain('ENOENT');

    await store.create(
      replicaSet(
        'job',
        1,
        { image: 'x', command: ['node', '-e', 'console.log("done")'] },
        { restartPolicy: 'Never' },
      ),
    );
    await waitFor('succeeded', () =>
      store.list<Pod>('Pod', NS, { app: 'job' }).find((p) => p.status?.phase === 'Succeeded'),
    );
    await store.create(
      replicaSet(
        'bad-job',
        1,
        { image: 'x', command: ['node', '-e', 'process.exit(4)'] },
        { restartPolicy: 'Never' },
      ),
    );
    await waitFor('failed', () =>
      store.list<Pod>('Pod', NS, { app: 'bad-job' }).find((p) => p.status?.phase === 'Failed'),
    );
  });

  it('kills a pod process and its children when the pod is deleted, and everything at stop()', async () => {
    const store = createMemoryStore();
    const log = captureLog();
    const w = start(store, log);
    const server = HTTP_SERVER[2]!.replaceAll('"', '\\"');
    await store.create(
      replicaSet('tree', 2, {
        image: 'x',
        command: ['sh', '-c', `sleep 300 & echo CHILD $!; exec node -e "${server}"`],
      }),
    );
    await waitFor('two ready', () => readyPods(store, 'tree').length === 2);
    const children = await waitFor('two children', () => {
      const found = log.lines.flatMap((l) => /\] CHILD (\d+)/.exec(l)?.[1] ?? []).map(Number);
      return found.length === 2 ? found : undefined;
    });
    for (const pid of children) expect(alive(pid)).toBe(true);
    const [first] = store.list<Pod>('Pod', NS, { app: 'tree' });
    await store.delete('Pod', NS, first!.metadata.name);
    // The ReplicaSet replaces it; the deleted pod's process group is gone.
    await waitFor(
      'replacement ready',
      () =>
        readyPods(store, 'tree').length === 2 && log.lines.filter((l) => l.includes('CHILD')).length === 3,
    );
    await waitFor('one child killed', () => children.filter((pid) => alive(pid)).length === 1);
    await w.stop();
    const all = log.lines.flatMap((l) => /\] CHILD (\d+)/.exec(l)?.[1] ?? []).map(Number);
    for (const pid of all) expect({ pid, alive: alive(pid) }).toEqual({ pid, alive: false });
  });

  it('shares 127.0.0.1 with a port per pod when told to, the Endpoints naming those ports', async () => {
    const store = createMemoryStore();
    const w = start(store, captureLog(), 'shared');
    expect(await w.addressMode).toBe('shared');
    await store.create(service('web'));
    await store.create(replicaSet('web', 2, { image: 'sluice-demo:v7' }));
    const pods = await waitFor('two ready pods', () =>
      readyPods(store, 'web').length === 2 ? readyPods(store, 'web') : undefined,
    );
    const ports = pods.map((p) => localPort(p, 8080));
    expect(new Set(ports).size).toBe(2);
    for (const pod of pods) {
      expect(status(pod).podIP).toBe('127.0.0.1');
      const res = await request(`http://127.0.0.1:${localPort(pod, 8080)}/`);
      expect(res.headers['x-demo-version']).toBe('v7');
      await res.body.dump();
    }
    const endpoints = await waitFor('endpoints', () => {
      const r = readyEndpoints(store, NS, 'web', ROUTER);
      return r.ok && r.endpoints.length === 2 ? r.endpoints : undefined;
    });
    expect(endpoints.sort()).toEqual(ports.map((p) => `http://127.0.0.1:${p}`).sort());
  });

  it('started again over the same store, runs the same pods on the same addresses and ports', async () => {
    const store = createMemoryStore();
    const first = start(store);
    await store.create(replicaSet('web', 2, { image: 'sluice-demo:v2' }));
    await store.create(replicaSet('mine', 1, { image: 'my-app', command: HTTP_SERVER }));
    await waitFor(
      'ready',
      () => readyPods(store, 'web').length === 2 && readyPods(store, 'mine').length === 1,
    );
    const before = store
      .list<Pod>('Pod', NS)
      .map((p) => `${p.metadata.name} ${status(p).podIP}:${localPort(p, 8080)}`)
      .sort();
    await first.stop();
    start(store);
    for (const line of before) {
      const [host, port] = line.split(' ')[1]!.split(':');
      let answers = false;
      for (let i = 0; i < 200 && !answers; i++) {
        answers = await tcpProbe(host!, Number(port), 200);
        if (!answers) await new Promise((r) => setTimeout(r, 25));
      }
      expect({ line, answers }).toEqual({ line, answers: true });
    }
    await waitFor(
      'ready again',
      () => readyPods(store, 'web').length === 2 && readyPods(store, 'mine').length === 1,
    );
    const after = store
      .list<Pod>('Pod', NS)
      .map((p) => `${p.metadata.name} ${status(p).podIP}:${localPort(p, 8080)}`)
      .sort();
    expect(after).toEqual(before);
  });

  it('kills the processes a killed earlier run left behind for a pod before running it again', async () => {
    const store = createMemoryStore();
    const pod = await store.create<Pod>({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'left', namespace: NS, labels: { app: 'left' } },
      spec: { containers: [{ name: 'app', image: 'x', command: HTTP_SERVER }] },
    });
    const leftover = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {
      env: { ...process.env, [POD_UID_ENV]: pod.metadata.uid },
      stdio: 'ignore',
      detached: true,
    });
    const exited = new Promise((r) => leftover.once('exit', r));
    expect((await findLeftovers()).get(pod.metadata.uid!)).toEqual([leftover.pid]);
    const log = captureLog();
    start(store, log);
    await exited;
    await waitFor('ready', () => readyPods(store, 'left').length === 1);
    expect(log.lines).toContain('killing 1 process(es) of pod left left by an earlier run');
  });
});

/** Whether a process runs (a zombie, killed but not yet reaped by its new parent, does not). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}
