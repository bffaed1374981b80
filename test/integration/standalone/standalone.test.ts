// `sluice standalone DIR` end to end (issue 11's acceptance tests): the real command as a subprocess on
// free loopback ports and tmp dirs, the real `sluice` verbs in process against the kubeconfig it writes,
// traffic counted through its embedded proxy. Every test stops what it started (afterEach kills any
// subprocess left and checks none is alive; demo pods are served inside the standalone process).

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runSluice } from '../../cluster/sluice-cli.ts';
import {
  countVersions,
  isAlive,
  killAll,
  runSluiceProcess,
  type Standalone,
  type StandalonePorts,
  standalonePorts,
  startStandalone,
  waitFor,
} from './standalone-fixture.ts';

const SERVICES = `apiVersion: v1
kind: Service
metadata:
  name: shop-stable
spec:
  selector:
    app: shop
  ports:
    - name: http
      port: 80
      targetPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: shop-canary
spec:
  selector:
    app: shop
  ports:
    - name: http
      port: 80
      targetPort: 8080
`;

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
  const { mkdir } = await import('node:fs/promises');
  await mkdir(manifests);
  await writeFile(join(manifests, 'services.yaml'), SERVICES);
});

afterEach(async () => {
  await killAll();
  for (const pid of pids.splice(0)) expect(isAlive(pid), `process ${pid} left running`).toBe(false);
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

    expect(await s.stop()).toBe(0);
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
