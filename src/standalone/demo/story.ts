// `sluice demo`: the story of progressive delivery on one machine. Standalone (the real reconcilers,
// local workloads, the embedded proxy) runs in-process over manifests written to a temp dir; built-in
// load goes through the proxy; v2 (healthy) goes through 10 -> 25 -> 50 -> 100 with a sluice/judge
// analysis after each step and is promoted; v3 (errors or latency) is caught by the judge and aborted
// automatically. What users saw is measured by the load generator; the summary says it per release.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pino, { type Logger } from 'pino';
import type { AnalysisRun } from '../../api/analysis-run.ts';
import type { KubeObject } from '../../api/meta.ts';
import type { Rollout } from '../../api/rollout.ts';
import type { ReplicaSet } from '../../api/workloads.ts';
import { demoImageVersion } from '../../demo/app.ts';
import { type Standalone, startStandalone } from '../standalone.ts';
import { type Load, quantile, startLoad } from './load.ts';
import {
  DEMO_COOKIE,
  DEMO_NAMESPACE,
  DEMO_ROLLOUT,
  DEMO_WEIGHTS,
  demoContainer,
  writeDemoManifests,
} from './manifests.ts';
import type { DemoRelease, DemoSummary } from './summary.ts';
import type { DemoState } from './view.ts';

export type DemoScenario = 'errors' | 'latency';

export interface DemoOptions {
  readonly scenario: DemoScenario;
  /** Divides the analysis interval and the waits between releases (1: real time). */
  readonly timeScale: number;
  readonly ratePerSec: number;
  readonly reportIntervalMs: number;
  /** v3's misbehaviour: ERROR_RATE for "errors", LATENCY_MS for "latency". */
  readonly errorRate: number;
  readonly latencyMs: number;
  /** The proxy's data port (default: any free port on 127.0.0.1). */
  readonly proxyListen?: { host: string; port: number };
  /** Where the manifests and the kubeconfig go (default: a new temp dir, removed at the end unless kept). */
  readonly dir?: string;
  readonly log?: Logger;
  /** Called on every change of the state (the view draws from it). */
  readonly onState?: (state: DemoState) => void;
  /** Called once standalone is up, before the story starts (`sluice demo --dashboard` starts the dashboard). */
  readonly onStarted?: (standalone: Standalone, kubeconfig: string) => Promise<void>;
  /** Called with each notable event, as one line. */
  readonly onEvent?: (line: string) => void;
  /** Stops the story early (Ctrl-C): everything started is stopped and runDemoStory rejects. */
  readonly signal?: AbortSignal;
}

export interface DemoResult {
  readonly summary: DemoSummary;
  readonly dir: string;
  readonly kubeconfig: string;
  /** Still running: the caller stops it (and removes `dir` if it wants). */
  readonly standalone: Standalone;
}

const HASH_LABEL = 'rollouts-pod-template-hash';

/** The demo's version of each revision (pod template hash), from the ReplicaSets' images. */
function versionsByHash(s: Standalone): Map<string, string> {
  const map = new Map<string, string>();
  for (const rs of s.store.list<ReplicaSet>('ReplicaSet', DEMO_NAMESPACE)) {
    const hash = rs.metadata.labels?.[HASH_LABEL];
    const containers = (rs.spec.template?.spec as { containers?: { image?: string }[] } | undefined)
      ?.containers;
    const image = containers?.[0]?.image;
    if (hash !== undefined && image !== undefined) map.set(hash, demoImageVersion(image));
  }
  return map;
}

function rollout(s: Standalone): Rollout | undefined {
  return s.store.get<Rollout>('Rollout', DEMO_NAMESPACE, DEMO_ROLLOUT);
}

function hashOf(s: Standalone, version: string): string | undefined {
  for (const [hash, v] of versionsByHash(s)) if (v === version) return hash;
  return undefined;
}

async function waitFor<T>(
  what: string,
  timeoutMs: number,
  fn: () => T | undefined,
  tick: () => void,
  signal?: AbortSignal,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal?.throwIfAborted();
    tick();
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline)
      throw new Error(`sluice demo: ${what} did not happen within ${timeoutMs / 1000} s`);
    await sleep(100, undefined, { signal });
  }
}

/** The view's state, read from the store and the load generator. */
function snapshot(
  s: Standalone,
  load: Load | undefined,
  base: Pick<DemoState, 'stage' | 'release' | 'startedAt'>,
): DemoState {
  const ro = rollout(s);
  const versions = versionsByHash(s);
  const steps = ro?.spec.strategy.canary?.steps ?? [];
  const weights = ro?.status?.canary?.weights;
  const desired: { version: string; weight: number }[] = [];
  if (weights !== undefined) {
    const stableV = versions.get(weights.stable.podTemplateHash ?? '') ?? '?';
    const canaryV = versions.get(weights.canary.podTemplateHash ?? '') ?? '?';
    desired.push({ version: stableV, weight: weights.stable.weight });
    if (canaryV !== stableV) desired.push({ version: canaryV, weight: weights.canary.weight });
  } else {
    const stable = versions.get(ro?.status?.stableRS ?? '');
    if (stable !== undefined) desired.push({ version: stable, weight: 100 });
  }
  const runs = s.store
    .list<KubeObject>('AnalysisRun', DEMO_NAMESPACE)
    .map((r) => r as unknown as AnalysisRun & KubeObject)
    .sort(
      (a, b) =>
        (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') ||
        (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''),
    );
  const run = runs.at(-1);
  const measurements = (run?.status?.metricResults ?? []).flatMap((m) =>
    m.measurements.map((x) => ({
      metric: m.name,
      phase: x.phase,
      value: x.value ?? '',
      message: x.message ?? '',
      at: x.finishedAt ?? x.startedAt ?? '',
    })),
  );
  return {
    ...base,
    phase: ro?.status?.phase ?? 'Pending',
    message: ro?.status?.message ?? '',
    aborted: ro?.status?.abort === true,
    stepIndex: ro?.status?.currentStepIndex ?? 0,
    stepCount: steps.length,
    desired,
    traffic: load?.window(2_000) ?? [],
    analysis:
      run === undefined
        ? undefined
        : {
            name: run.metadata.name ?? '',
            phase: run.status?.phase ?? 'Pending',
            runs: runs.length,
            measurements: measurements.slice(-4),
          },
  };
}

export async function runDemoStory(o: DemoOptions): Promise<DemoResult> {
  const startedAt = Date.now();
  const scale = o.timeScale > 0 ? o.timeScale : 1;
  const ownDir = o.dir === undefined;
  const dir = o.dir ?? (await mkdtemp(join(tmpdir(), 'sluice-demo-')));
  const kubeconfig = join(dir, 'kubeconfig');
  const manifestsDir = join(dir, 'manifests');
  const event = (line: string): void => o.onEvent?.(line);
  const intervalMs = Math.max(500, Math.round(5_000 / scale));
  await writeDemoManifests(manifestsDir, { analysisIntervalMs: intervalMs, analysisCount: 3 });
  event(`manifests written to ${manifestsDir}`);

  const log = o.log ?? pino({ level: 'silent' });
  let standalone: Standalone;
  try {
    standalone = await startStandalone({
      dir: manifestsDir,
      proxyListen: o.proxyListen ?? { host: '127.0.0.1', port: 0 },
      adminListen: { host: '127.0.0.1', port: 0 },
      apiListen: { host: '127.0.0.1', port: 0 },
      kubeconfigOut: kubeconfig,
      reportIntervalMs: o.reportIntervalMs,
      log,
    });
  } catch (error) {
    if (ownDir) await rm(dir, { recursive: true, force: true });
    throw error;
  }
  try {
    await o.onStarted?.(standalone, kubeconfig);
  } catch (error) {
    await standalone.stop();
    if (ownDir) await rm(dir, { recursive: true, force: true });
    throw error;
  }
  let load: Load | undefined;
  let base: Pick<DemoState, 'stage' | 'release' | 'startedAt'> = {
    stage: 'starting v1',
    release: 'v1',
    startedAt,
  };
  const tick = (): void => o.onState?.(snapshot(standalone, load, base));
  const ticker = setInterval(tick, 250);
  try {
    event(
      `standalone up: proxy on http://${standalone.proxyAddress.host}:${standalone.proxyAddress.port}, API ${standalone.apiUrl}`,
    );
    await waitFor(
      'v1 becoming Healthy',
      60_000,
      () => {
        const ro = rollout(standalone);
        return ro?.status?.phase === 'Healthy' && (ro.status.availableReplicas ?? 0) >= 4 ? true : undefined;
      },
      tick,
      o.signal,
    );
    event('v1 is stable: 4 replicas, all traffic');
    load = startLoad({
      host: standalone.proxyAddress.host,
      port: standalone.proxyAddress.port,
      ratePerSec: o.ratePerSec,
      clients: 8,
      cookieName: DEMO_COOKIE,
    });
    base = { ...base, stage: 'v1 stable, under load' };
    event(
      `load started: ${o.ratePerSec} req/s through the proxy, half the clients sticky (cookie ${DEMO_COOKIE})`,
    );
    await sleep(Math.round(3_000 / scale), undefined, { signal: o.signal });

    const releases: DemoRelease[] = [];
    const timeoutMs = Math.max(60_000, Math.round(150_000 / scale));

    // v2: healthy, through every step, promoted.
    base = {
      ...base,
      stage: `v2 canary: ${DEMO_WEIGHTS.join(' -> ')} -> 100, judged after each step`,
      release: 'v2',
    };
    await setImage(standalone, 'v2', {});
    event('set image sluice-demo:v2 (healthy)');
    const v2 = await waitFor(
      'v2 promoted or aborted',
      timeoutMs,
      () => outcomeOf(standalone, 'v2'),
      tick,
      o.signal,
    );
    event(`v2 ${v2}`);
    if (v2 === 'aborted') await waitBackOnStable(load, 'v2', scale);
    releases.push(release('v2', v2, load));
    await sleep(Math.round(3_000 / scale), undefined, { signal: o.signal });

    // v3: bad, caught by the judge, aborted.
    const env: Record<string, string> =
      o.scenario === 'errors' ? { ERROR_RATE: String(o.errorRate) } : { LATENCY_MS: String(o.latencyMs) };
    base = {
      ...base,
      stage: `v3 canary (${o.scenario === 'errors' ? `ERROR_RATE=${o.errorRate}` : `LATENCY_MS=${o.latencyMs}`}): the judge should catch it`,
      release: 'v3',
    };
    await setImage(standalone, 'v3', env);
    event(
      `set image sluice-demo:v3 (${Object.entries(env)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')})`,
    );
    const v3 = await waitFor(
      'v3 promoted or aborted',
      timeoutMs,
      () => outcomeOf(standalone, 'v3'),
      tick,
      o.signal,
    );
    event(
      v3 === 'aborted'
        ? `v3 aborted by the analysis: ${rollout(standalone)?.status?.message ?? ''}`
        : 'v3 promoted (the judge did not catch it)',
    );
    if (v3 === 'aborted') await waitBackOnStable(load, 'v3', scale);
    releases.push(release('v3', v3, load));
    base = { ...base, stage: 'done' };
    tick();
    await load.stop();
    load = undefined;
    return {
      summary: { releases, durationS: Math.round((Date.now() - startedAt) / 100) / 10, scenario: o.scenario },
      dir,
      kubeconfig,
      standalone,
    };
  } catch (error) {
    await load?.stop();
    await standalone.stop();
    if (ownDir) await rm(dir, { recursive: true, force: true });
    throw error;
  } finally {
    clearInterval(ticker);
  }
}

/** Waits until the version has answered nothing for a while (all traffic back on stable). */
async function waitBackOnStable(load: Load, version: string, scale: number): Promise<void> {
  const quietMs = Math.max(500, Math.round(1_500 / scale));
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const last = load.totals.get(version)?.lastAnsweredAt ?? 0;
    if (Date.now() - last >= quietMs) return;
    await sleep(100);
  }
}

function release(version: string, outcome: 'promoted' | 'aborted', load: Load): DemoRelease {
  const t = load.totals.get(version);
  return {
    version,
    outcome,
    requests: t?.requests ?? 0,
    failed: t?.failed ?? 0,
    abortMs: outcome === 'aborted' && t !== undefined ? t.lastAnsweredAt - t.firstSentAt : null,
    p99Ms:
      t === undefined
        ? null
        : quantile(
            [...t.latencies].sort((a, b) => a - b),
            0.99,
          ),
  };
}

async function setImage(s: Standalone, tag: string, env: Record<string, string>): Promise<void> {
  await s.store.patch<Rollout>('Rollout', DEMO_NAMESPACE, DEMO_ROLLOUT, {
    spec: { template: { spec: { containers: [demoContainer(tag, env)] } } },
  });
}

/** Whether `version`'s release ended: aborted, or promoted (stable and Healthy); undefined while it runs. */
function outcomeOf(standalone: Standalone, version: string): 'aborted' | 'promoted' | undefined {
  const ro = rollout(standalone);
  const hash = hashOf(standalone, version);
  if (ro === undefined || hash === undefined || ro.status?.currentPodHash !== hash) return undefined;
  if (ro.status.abort === true) return 'aborted';
  if (ro.status.stableRS === hash && ro.status.phase === 'Healthy') return 'promoted';
  return undefined;
}
