// `sluice standalone DIR` end to end (issue 11's acceptance tests): the real command as a subprocess on
// free loopback ports and tmp dirs, the real `sluice` verbs in process against the kubeconfig it writes,
// traffic counted through its proxy. Every test stops what it started: afterEach kills any subprocess left
// and the data plane (proxy and pod processes, which outlive a killed standalone) of its state file, and
// checks none is alive.

import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AnalysisRun } from '../../../src/api/analysis-run.ts';
import type { KubeObject } from '../../../src/api/meta.ts';
import type { Pod } from '../../../src/api/workloads.ts';
import {
  dataPlanePids,
  PROXY_INSTANCE_ENV,
  standaloneInstanceId,
} from '../../../src/standalone/data-plane.ts';
import { findByEnv } from '../../../src/standalone/workloads/processes.ts';
import { runSluice } from '../../cluster/sluice-cli.ts';
import {
  countVersions,
  isAlive,
  killAll,
  runSluiceProcess,
  SHOP_SERVICES,
  type Standalone,
  type StandalonePorts,
  sleep,
  standalonePorts,
  startStandalone,
  waitFor,
} from './standalone-fixture.ts';

/** The example's canary (examples/standalone/rollout.yaml) with indefinite pauses and extra steps. */
function rolloutYaml(o: { replicas?: number; steps?: string } = {}): string {
  return `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: shop
spec:
  replicas: ${o.replicas ?? 2}
  selector:
    matchLabels:
      app: shop
  template:
    metadata:
      labels:
        app: shop
    spec:
      containers:
        - name: app
          image: sluice-demo:v1
          ports:
            - containerPort: 8080
  strategy:
    canary:
      canaryService: shop-canary
      stableService: shop-stable
      steps:
${
  o.steps ??
  `        - setWeight: 20
        - pause: {}
        - setWeight: 50
        - pause: {}`
}
`;
}

let dir: string;
let manifests: string;
let state: string;
let kubeconfig: string;
let ports: StandalonePorts;
const pids: number[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-standalone-'));
  manifests = join(dir, 'manifests');
  state = join(dir, 'state.json');
  kubeconfig = join(dir, 'kubeconfig');
  ports = await standalonePorts();
  await mkdir(manifests);
  await writeFile(join(manifests, 'services.yaml'), SHOP_SERVICES);
});

afterEach(async () => {
  await killAll();
  const dataPlane = await dataPlanePids(state);
  for (const pid of dataPlane) process.kill(pid, 'SIGKILL');
  for (const pid of pids.splice(0)) expect(isAlive(pid), `process ${pid} left running`).toBe(false);
  expect(dataPlane, 'data plane processes left running').toEqual([]);
  await rm(dir, { recursive: true, force: true });
});

async function start(): Promise<Standalone> {
  const s = await startStandalone({ dir: manifests, state, kubeconfig, ports });
  pids.push(s.process.pid);
  return s;
}

function sluice(argv: string[]) {
  return runSluice(argv, { kubeconfig, namespace: 'default' });
}

async function expectVerb(argv: string[]): Promise<void> {
  const run = await sluice(argv);
  expect(run.code, `sluice ${argv.join(' ')}: ${run.out}${run.err}`).toBe(0);
}

/** Waits until the Rollout's status matches (step index and phase), returns it. */
async function waitForStatus(s: Standalone, step: number | undefined, phase: string, timeoutMs = 15_000) {
  return waitFor(
    `Rollout shop at step ${step} ${phase}`,
    async () => {
      const ro = await s.rollout();
      return ro.status?.currentStepIndex === step && ro.status?.phase === phase ? ro : undefined;
    },
    timeoutMs,
  );
}

/** Waits until 100 requests through the proxy answer exactly `v2` times v2 (the rest v1). */
async function waitForSplit(s: Standalone, v2: number): Promise<Record<string, number>> {
  let last: Record<string, number> = {};
  try {
    return await waitFor(
      `${v2}/100 requests on v2`,
      async () => {
        last = await countVersions(s.proxyUrl, 100);
        return (last.v2 ?? 0) === v2 && (last.v1 ?? 0) === 100 - v2 ? last : undefined;
      },
      10_000,
      200,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; last counts ${JSON.stringify(last)}`);
  }
}

describe('sluice standalone: the CLI verbs against it', () => {
  it('set image pauses at step 1 with 20% on v2; promote, abort, retry', async () => {
    await writeFile(join(manifests, 'rollout.yaml'), rolloutYaml());
    const s = await start();
    await waitForStatus(s, 4, 'Healthy');
    expect(await countVersions(s.proxyUrl, 20)).toEqual({ v1: 20 });

    await expectVerb(['set', 'image', 'shop', 'app=sluice-demo:v2']);
    await waitForStatus(s, 1, 'Paused');
    // The proxy's weights are exact (smooth weighted round robin): 20 of every 100 sequential requests.
    await waitForSplit(s, 20);

    await expectVerb(['promote', 'shop']);
    await waitForStatus(s, 3, 'Paused');
    await waitForSplit(s, 50);

    await expectVerb(['abort', 'shop']);
    await waitForStatus(s, 0, 'Degraded');
    await waitForSplit(s, 0);

    await expectVerb(['retry', 'rollout', 'shop']);
    await waitForStatus(s, 1, 'Paused');
    await waitForSplit(s, 20);

    // SIGTERM: exits 0 and nothing it served answers any more (the proxy, the pods of both versions).
    const endpoints = await s.list<{
      subsets?: { addresses?: { ip: string }[]; ports?: { port: number }[] }[];
    }>('', 'endpoints');
    const podUrls = endpoints.flatMap((e) =>
      (e.subsets ?? []).flatMap((sub) =>
        (sub.addresses ?? []).flatMap((a) => (sub.ports ?? []).map((p) => `http://${a.ip}:${p.port}/`)),
      ),
    );
    expect(podUrls.length).toBeGreaterThanOrEqual(3);
    for (const url of podUrls) expect((await fetch(url)).headers.get('x-demo-version')).toMatch(/^v[12]$/);
    expect(await s.stop()).toBe(0);
    for (const url of [`${s.proxyUrl}/`, ...podUrls])
      await expect(fetch(url), `${url} still answers`).rejects.toThrow();
  });
});

describe('sluice standalone: help', () => {
  it('sluice standalone --help prints the usage and exits 0', async () => {
    const p = runSluiceProcess(['standalone', '--help']);
    pids.push(p.pid);
    const code = await Promise.race([p.exited, new Promise((r) => setTimeout(() => r('timeout'), 15_000))]);
    expect(code).toBe(0);
    expect(p.stdout()).toMatch(/^usage: sluice standalone DIR/);
    expect(p.stdout()).toContain('--kubeconfig-out');
  });

  it('sluice demo --help exits 0 (it used to hang)', async () => {
    const p = runSluiceProcess(['demo', '--help']);
    pids.push(p.pid);
    const code = await Promise.race([p.exited, new Promise((r) => setTimeout(() => r('timeout'), 15_000))]);
    expect(code, p.output()).toBe(0);
    expect(p.output()).toMatch(/usage/i);
  });
});

/** The state file is written within 100 ms of a store change (debounced): a kill after this loses nothing. */
const STATE_WRITTEN_MS = 500;

const ANALYSIS_TEMPLATE = (url: string) => `apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: ok
spec:
  metrics:
    - name: ok
      interval: 1s
      count: 6
      successCondition: result == 1
      provider:
        web:
          url: ${url}
          jsonPath: "{$.ok}"
`;

function rsNames(items: KubeObject[]): string[] {
  return items.map((rs) => rs.metadata.name).sort();
}

describe('sluice standalone: SIGKILL and restart with the same state file', () => {
  let web: Server | undefined;
  afterEach(async () => {
    web?.closeAllConnections();
    await new Promise((resolve) => (web === undefined ? resolve(undefined) : web.close(resolve)));
    web = undefined;
  });

  it('resumes a pause, a running step analysis (same run, no second one) and an abort', async () => {
    // The analysis' metric: a local server the test controls, answering {"ok":1}.
    let measured = 0;
    web = createServer((_req, res) => {
      measured++;
      res.setHeader('content-type', 'application/json');
      res.end('{"ok":1}');
    });
    await new Promise<void>((resolve) => web!.listen(0, '127.0.0.1', resolve));
    const webPort = (web.address() as { port: number }).port;
    await writeFile(join(manifests, 'analysis.yaml'), ANALYSIS_TEMPLATE(`http://127.0.0.1:${webPort}/`));
    await writeFile(
      join(manifests, 'rollout.yaml'),
      rolloutYaml({
        steps: `        - setWeight: 20
        - pause: {}
        - analysis:
            templates:
              - templateName: ok
        - setWeight: 50
        - pause: {}`,
      }),
    );
    let s = await start();
    await waitForStatus(s, 5, 'Healthy');
    await expectVerb(['set', 'image', 'shop', 'app=sluice-demo:v2']);
    await waitForStatus(s, 1, 'Paused');
    await waitForSplit(s, 20);
    const replicaSets = rsNames(await s.list('apps/v1', 'replicasets'));
    expect(replicaSets).toHaveLength(2);
    const before = await s.rollout();

    // 1. SIGKILL during the pause: the proxy and the pods outlive it, traffic goes on with the same weights.
    await sleep(STATE_WRITTEN_MS);
    const dataPlane = (await dataPlanePids(state)).sort();
    expect(dataPlane).toHaveLength(4); // the proxy, 2 pods of v1, 1 of v2
    await s.kill();
    expect(await countVersions(s.proxyUrl, 100)).toEqual({ v1: 80, v2: 20 });
    s = await start();
    // Adopted, not replaced: the same processes, and the proxy never stopped serving.
    await s.process.waitForOutput(/adopted the proxy left running/);
    expect((await dataPlanePids(state)).sort()).toEqual(dataPlane);
    const after = await waitForStatus(s, 1, 'Paused');
    expect(after.status?.currentPodHash).toBe(before.status?.currentPodHash);
    expect(after.status?.stableRS).toBe(before.status?.stableRS);
    expect(after.status?.pauseConditions?.map((c) => c.reason)).toEqual(
      before.status?.pauseConditions?.map((c) => c.reason),
    );
    expect(rsNames(await s.list('apps/v1', 'replicasets'))).toEqual(replicaSets);
    await waitForSplit(s, 20);

    // 2. SIGKILL while the step analysis runs: after the restart the same run continues, no second one.
    await expectVerb(['promote', 'shop']);
    const running = await waitFor('a running AnalysisRun with a measurement', async () => {
      const runs = await s.list<AnalysisRun>('argoproj.io/v1alpha1', 'analysisruns');
      const run = runs[0];
      const n = run?.status?.metricResults?.[0]?.measurements?.length ?? 0;
      return runs.length === 1 && run?.status?.phase === 'Running' && n >= 1 ? run : undefined;
    });
    const ro = await s.rollout();
    expect(ro.status?.currentStepIndex).toBe(2);
    await sleep(STATE_WRITTEN_MS);
    await s.kill();
    expect(await countVersions(s.proxyUrl, 100)).toEqual({ v1: 80, v2: 20 });
    const measuredAtKill = measured;
    s = await start();
    const restored = await s.list<AnalysisRun>('argoproj.io/v1alpha1', 'analysisruns');
    expect(restored.map((r) => r.metadata.name)).toEqual([running.metadata.name]);
    expect(restored[0]!.metadata.uid).toBe(running.metadata.uid);
    expect((await s.rollout()).status?.currentStepIndex).toBe(2);
    const done = await waitFor(
      'the AnalysisRun to finish',
      async () => {
        const runs = await s.list<AnalysisRun>('argoproj.io/v1alpha1', 'analysisruns');
        return runs.every((r) => r.status?.phase === 'Successful') ? runs : undefined;
      },
      20_000,
    );
    expect(done.map((r) => r.metadata.name)).toEqual([running.metadata.name]);
    expect(done[0]!.metadata.uid).toBe(running.metadata.uid);
    // The run went on measuring after the restart, and measured `count` times in all.
    expect(measured).toBeGreaterThan(measuredAtKill);
    expect(done[0]!.status?.metricResults?.[0]?.measurements?.length).toBe(6);
    await waitForStatus(s, 4, 'Paused');
    await waitForSplit(s, 50);

    // 3. SIGKILL after an abort: still aborted after the restart, all traffic on v1.
    await expectVerb(['abort', 'shop']);
    await waitForStatus(s, 0, 'Degraded');
    await waitForSplit(s, 0);
    await sleep(STATE_WRITTEN_MS);
    await s.kill();
    expect(await countVersions(s.proxyUrl, 100)).toEqual({ v1: 100 });
    s = await start();
    const aborted = await waitForStatus(s, 0, 'Degraded');
    expect(aborted.status?.abort).toBe(true);
    await waitForSplit(s, 0);
    expect((await s.list('argoproj.io/v1alpha1', 'analysisruns')).map((r) => r.metadata.name)).toEqual([
      running.metadata.name,
    ]);
    expect(await s.stop()).toBe(0);
  }, 60_000);
});

const CART_YAML = `apiVersion: v1
kind: Service
metadata:
  name: cart-stable
spec:
  selector:
    app: cart
  ports:
    - port: 80
      targetPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: cart-canary
spec:
  selector:
    app: cart
  ports:
    - port: 80
      targetPort: 8080
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: cart
spec:
  replicas: 1
  selector:
    matchLabels:
      app: cart
  template:
    metadata:
      labels:
        app: cart
    spec:
      containers:
        - name: app
          image: sluice-demo:v7
          ports:
            - containerPort: 8080
  strategy:
    canary:
      canaryService: cart-canary
      stableService: cart-stable
      trafficRouting:
        plugins:
          sluice/proxy:
            hosts: [cart.local]
      steps:
        - setWeight: 50
        - pause: {}
`;

/** The x-demo-version of a GET through the proxy with this Host header. */
function versionFor(proxyUrl: string, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${proxyUrl}/`, { headers: { host } }, (res) => {
      res.resume();
      resolve(String(res.headers['x-demo-version'] ?? `status ${res.statusCode}`));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('sluice standalone: a Rollout added while it runs', () => {
  it('is served by the proxy without a restart (it subscribes to every route)', async () => {
    await writeFile(join(manifests, 'rollout.yaml'), rolloutYaml());
    const s = await start();
    await waitForStatus(s, 4, 'Healthy');
    expect(await versionFor(s.proxyUrl, 'cart.local')).toBe('v1'); // shop matches any host
    await writeFile(join(manifests, 'cart.yaml'), CART_YAML);
    await waitFor('cart Healthy', async () =>
      (await s.rollout('cart')).status?.phase === 'Healthy' ? true : undefined,
    );
    await waitFor('cart.local served by cart', async () =>
      (await versionFor(s.proxyUrl, 'cart.local')) === 'v7' ? true : undefined,
    );
    expect(await versionFor(s.proxyUrl, 'shop.local')).toBe('v1');
    expect(await s.stop()).toBe(0);
  });
});

describe('sluice standalone: a proxy process that dies', () => {
  it('is replaced by a new one, which serves the same routes', async () => {
    await writeFile(join(manifests, 'rollout.yaml'), rolloutYaml());
    const s = await start();
    await waitForStatus(s, 4, 'Healthy');
    const id = standaloneInstanceId(state);
    const [proxyPid] = (await findByEnv(PROXY_INSTANCE_ENV)).get(id) ?? [];
    expect(proxyPid).toBeDefined();
    process.kill(proxyPid!, 'SIGKILL');
    await s.process.waitForOutput(/the proxy process ended: starting a new one/);
    const replaced = await waitFor('a new proxy process', async () => {
      const [pid] = (await findByEnv(PROXY_INSTANCE_ENV)).get(id) ?? [];
      return pid !== undefined && pid !== proxyPid ? pid : undefined;
    });
    expect(replaced).not.toBe(proxyPid);
    await waitFor('all traffic served again', async () => {
      const counts = await countVersions(s.proxyUrl, 20).catch(() => ({}));
      return (counts as Record<string, number>).v1 === 20 ? true : undefined;
    });
    expect(await s.stop()).toBe(0);
  });
});

describe('sluice standalone: bad input', () => {
  it('reports an invalid manifest by file and field while the valid Rollout runs; applies an edit', async () => {
    await writeFile(join(manifests, 'rollout.yaml'), rolloutYaml());
    await writeFile(
      join(manifests, 'bad.yaml'),
      rolloutYaml({ steps: '        - setWeight: 500\n        - pause: {}' }).replace(
        'name: shop',
        'name: bad',
      ),
    );
    const s = await start();
    await waitForStatus(s, 4, 'Healthy');
    const problem = await s.process.waitForOutput(/bad\.yaml[^\n]*setWeight[^\n]*/);
    expect(problem[0]).toMatch(/steps\[0\]\.setWeight/);
    expect(await s.get('/apis/argoproj.io/v1alpha1/namespaces/default/rollouts/bad')).toBeUndefined();
    expect(await countVersions(s.proxyUrl, 10)).toEqual({ v1: 10 });

    // An edit of a manifest in DIR is applied (the folder is watched): replicas 2 -> 3.
    await writeFile(join(manifests, 'rollout.yaml'), rolloutYaml({ replicas: 3 }));
    await waitFor('3 available replicas of shop', async () => {
      const ro = await s.rollout();
      return ro.spec.replicas === 3 && ro.status?.availableReplicas === 3 ? ro : undefined;
    });
    const replicaSets = await s.list<KubeObject & { spec: { replicas?: number } }>('apps/v1', 'replicasets');
    expect(replicaSets.map((rs) => rs.spec.replicas)).toEqual([3]);
    expect(await s.stop()).toBe(0);
  });

  it('refuses a truncated state file: exits non-zero naming it, and leaves it as it was', async () => {
    await writeFile(join(manifests, 'rollout.yaml'), rolloutYaml());
    const s = await start();
    await waitForStatus(s, 4, 'Healthy');
    expect(await s.stop()).toBe(0);
    const full = await readFile(state);
    const truncated = full.subarray(0, Math.floor(full.length / 2));
    await writeFile(state, truncated);

    const p = runSluiceProcess([
      'standalone',
      manifests,
      '--state',
      state,
      '--kubeconfig-out',
      kubeconfig,
      '--listen',
      `127.0.0.1:${ports.listen}`,
      '--admin',
      `127.0.0.1:${ports.admin}`,
    ]);
    pids.push(p.pid);
    const code = await Promise.race([p.exited, new Promise((r) => setTimeout(() => r('timeout'), 15_000))]);
    expect(code, p.output()).not.toBe(0);
    expect(code, p.output()).not.toBe('timeout');
    expect(p.stderr()).toContain(`state file ${state}`);
    expect(p.output()).not.toMatch(/proxy on/);
    expect(Buffer.compare(await readFile(state), truncated)).toBe(0);
  });
});

/** A Rollout whose pods are local processes (a command): each writes a file named by its pid in `pids`. */
function processRolloutYaml(pidsDir: string): string {
  const script = `require('fs').writeFileSync(process.env.PIDS + '/' + process.pid, '');
require('http').createServer((q, r) => r.end('cmd')).listen(Number(process.env.PORT))`;
  return `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: cmd
spec:
  replicas: 2
  selector:
    matchLabels:
      app: cmd
  template:
    metadata:
      labels:
        app: cmd
    spec:
      containers:
        - name: app
          image: local/cmd:1
          command: [${JSON.stringify(process.execPath)}, "-e", ${JSON.stringify(script)}]
          env:
            - name: PIDS
              value: ${JSON.stringify(pidsDir)}
          ports:
            - containerPort: 8080
  strategy:
    canary:
      steps:
        - setWeight: 50
        - pause: {}
`;
}

describe('sluice standalone: no process left', () => {
  let pidsDir: string | undefined;
  afterEach(async () => {
    // Whatever happened, no pod process outlives the test.
    if (pidsDir === undefined) return;
    for (const f of await readdir(pidsDir).catch(() => [] as string[])) {
      const pid = Number(f);
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    }
    pidsDir = undefined;
  });

  async function startCmd(pidsDir: string) {
    await writeFile(join(manifests, 'cmd.yaml'), processRolloutYaml(pidsDir));
    const s = await start();
    await waitFor('2 available pods of cmd', async () => {
      const ro = await s.rollout('cmd');
      return ro.status?.availableReplicas === 2 ? ro : undefined;
    });
    return s;
  }
  const livePids = async (): Promise<number[]> =>
    (await readdir(pidsDir!)).map(Number).filter((pid) => isAlive(pid));

  it('pods run as processes: SIGTERM leaves none', async () => {
    pidsDir = join(dir, 'pids');
    await mkdir(pidsDir);
    const s = await startCmd(pidsDir);
    await waitFor('2 pod processes', async () => ((await livePids()).length === 2 ? true : undefined));
    expect(await s.stop()).toBe(0);
    expect(await livePids()).toEqual([]);
  });

  // Pods are kept in the state file and their processes outlive a killed standalone: the next one adopts
  // the ones still running, restarts a container whose process died meanwhile, and kills a stray process
  // of the instance that belongs to no pod.
  it('pods run as processes: a restart after SIGKILL adopts the running ones and restarts a dead one', async () => {
    pidsDir = join(dir, 'pids');
    await mkdir(pidsDir);
    let s = await startCmd(pidsDir);
    const first = await waitFor('2 pod processes', async () => {
      const live = await livePids();
      return live.length === 2 ? live : undefined;
    });
    await sleep(STATE_WRITTEN_MS);
    await s.kill();
    expect((await livePids()).sort()).toEqual([...first].sort());
    // While it is down one pod's process dies.
    const [dead, kept] = first as [number, number];
    process.kill(dead, 'SIGKILL');
    await waitFor('the killed pod process gone', async () => (isAlive(dead) ? undefined : true));
    s = await startCmd(pidsDir);
    const pods = await waitFor('one pod adopted, the other restarted and ready', async () => {
      const list = await s.list<Pod>('', 'pods');
      const statuses = list.map(
        (p) =>
          (p.status as { containerStatuses?: { restartCount: number; ready: boolean }[] })
            .containerStatuses?.[0],
      );
      return statuses.length === 2 &&
        statuses.every((c) => c?.ready) &&
        statuses.some((c) => c?.restartCount === 1)
        ? list
        : undefined;
    });
    expect(pods).toHaveLength(2);
    const live = await livePids();
    expect(live).toContain(kept);
    expect(live).not.toContain(dead);
    expect(live).toHaveLength(2);
    expect(await s.stop()).toBe(0);
    expect(await livePids()).toEqual([]);
  });
});
