// `sluice standalone` with an AnalysisTemplate that names Prometheus: a real Prometheus (Debian's) scrapes
// the standalone proxy's admin port, the step analysis queries it for the canary's error rate, and a v2
// failing every request is aborted on that measurement. Stops everything it started.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AnalysisRun } from '../../../src/api/analysis-run.ts';
import { dataPlanePids } from '../../../src/standalone/data-plane.ts';
import {
  type PrometheusHandle,
  prometheusUnavailableReason,
  startPrometheus,
} from '../../fixtures/prometheus.ts';
import {
  isAlive,
  killAll,
  type Standalone,
  type StandalonePorts,
  standalonePorts,
  startStandalone,
  waitFor,
} from './standalone-fixture.ts';

const skip = prometheusUnavailableReason();

function manifests(prometheusUrl: string, version: string, errorRate: number): string {
  return `apiVersion: v1
kind: Service
metadata: { name: shop-stable }
spec:
  selector: { app: shop }
  ports: [{ port: 80, targetPort: 8080 }]
---
apiVersion: v1
kind: Service
metadata: { name: shop-canary }
spec:
  selector: { app: shop }
  ports: [{ port: 80, targetPort: 8080 }]
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: { name: error-rate }
spec:
  metrics:
    - name: error-rate
      # Enough canary samples first: rate() of a series with one sample is empty, 0/0 is NaN.
      initialDelay: 4s
      interval: 2s
      count: 4
      failureLimit: 0
      successCondition: result[0] < 0.1
      provider:
        prometheus:
          address: ${prometheusUrl}
          query: |
            sum(rate(http_requests_total{app="shop",role="canary",status=~"5.."}[10s]))
            / sum(rate(http_requests_total{app="shop",role="canary"}[10s]))
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: { name: shop }
spec:
  replicas: 2
  selector: { matchLabels: { app: shop } }
  template:
    metadata: { labels: { app: shop } }
    spec:
      containers:
        - name: app
          image: sluice-demo:${version}
          env: [{ name: ERROR_RATE, value: "${errorRate}" }]
          ports: [{ containerPort: 8080 }]
  strategy:
    canary:
      canaryService: shop-canary
      stableService: shop-stable
      steps:
        - setWeight: 50
        - analysis: { templates: [{ templateName: error-rate }] }
        - pause: {}
`;
}

describe.skipIf(skip !== undefined)('sluice standalone with a Prometheus AnalysisTemplate', () => {
  let dir: string;
  let prometheus: PrometheusHandle | undefined;
  let ports: StandalonePorts;
  const pids: number[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-standalone-prom-'));
    await mkdir(join(dir, 'manifests'));
    ports = await standalonePorts();
  });

  afterEach(async () => {
    await killAll();
    for (const pid of await dataPlanePids(join(dir, 'state.json'))) process.kill(pid, 'SIGKILL');
    await prometheus?.stop();
    prometheus = undefined;
    for (const pid of pids.splice(0)) expect(isAlive(pid)).toBe(false);
    await rm(dir, { recursive: true, force: true });
  });

  it('aborts a canary failing every request on the error rate Prometheus measured at the proxy', async () => {
    prometheus = await startPrometheus({ targets: [`127.0.0.1:${ports.admin}`], scrapeIntervalMs: 500 });
    const file = join(dir, 'manifests', 'shop.yaml');
    await writeFile(file, manifests(prometheus.url, 'v1', 0));
    const s: Standalone = await startStandalone({
      dir: join(dir, 'manifests'),
      state: join(dir, 'state.json'),
      kubeconfig: join(dir, 'kubeconfig'),
      ports,
    });
    pids.push(s.process.pid);
    await waitFor('shop Healthy', async () =>
      (await s.rollout()).status?.phase === 'Healthy' ? true : undefined,
    );
    await prometheus.waitForTargetsUp(10_000);
    // Traffic through the proxy for the whole test: what Prometheus sees of the canary.
    let stop = false;
    const load = (async () => {
      while (!stop) {
        const res = await fetch(`${s.proxyUrl}/`).catch(() => undefined);
        await res?.body?.cancel();
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    try {
      await writeFile(file, manifests(prometheus.url, 'v2', 1));
      const run = await waitFor(
        'the step analysis to fail',
        async () => {
          const runs = await s.list<AnalysisRun>('argoproj.io/v1alpha1', 'analysisruns');
          return runs.find((r) => r.status?.phase === 'Failed');
        },
        45_000,
      );
      const measurements = run.status?.metricResults?.[0]?.measurements ?? [];
      const failed = measurements.filter((m) => m.phase === 'Failed');
      expect(failed.length).toBeGreaterThanOrEqual(1);
      // Every v2 request fails and only v2 pods take canary traffic, even while the canary Service's
      // Endpoints still list v1 pods after the selector switch (the router leaves them out): exactly 1.
      expect(Number(JSON.parse(failed[0]!.value ?? '[]')[0])).toBeCloseTo(1, 5);
      const ro = await waitFor('shop aborted', async () => {
        const r = await s.rollout();
        return r.status?.abort === true && r.status.phase === 'Degraded' ? r : undefined;
      });
      expect(ro.status?.currentStepIndex).toBe(0);
    } finally {
      stop = true;
      await load;
    }
    expect(await s.stop()).toBe(0);
  }, 90_000);
});
