// The cluster side of bench/blast-radius.ts: manifests (Services, the Rollout routed by `sluice/proxy`,
// the sluice/judge and Prometheus AnalysisTemplates), the `sluice controller` subprocess with its control
// server, the in-process gateway proxy with its applied-snapshot timeline, and watches on the Rollout and
// its AnalysisRuns. Every watch event is stamped on arrival (epoch ms); a failing measurement also carries
// its own finishedAt (the controller writes milliseconds).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { type RunningProxy, startProxy } from '../../proxy/main.ts';
import { CONTROLLER_NODE_OPTIONS } from '../../src/cli/controller.ts';
import { demoContainer } from '../../test/cluster/demo-traffic.ts';
import type { KubeClient } from '../../test/cluster/kube-client.ts';
import { epochNowMs } from './blast-stats.ts';
import { type CollectionWatch, watchCollection } from './kube-watch.ts';
import { freePort, type ManagedProcess, spawnManaged } from './processes.ts';
import { REPO_ROOT } from './targets.ts';

export const ARGO_API = '/apis/argoproj.io/v1alpha1';
export const JUDGE_TEMPLATE = 'judge';
export const PROMETHEUS_TEMPLATE = 'http-error-rate';
const HASH_LABEL = 'rollouts-pod-template-hash';
const READY_DELAY_MS = 200;
const CONTROLLER_READY_MS = 30_000;

export interface JudgeSettings {
  alpha: number;
  intervalS: number;
  metrics: readonly Record<string, unknown>[];
}

export const JUDGE: JudgeSettings = {
  alpha: 0.05,
  intervalS: 10,
  metrics: [{ name: 'error-rate' }, { name: 'latency' }],
};

export interface PrometheusSettings {
  scrapeIntervalMs: number;
  intervalS: number;
  successCondition: string;
}

export const PROMETHEUS: PrometheusSettings = {
  scrapeIntervalMs: 5_000,
  intervalS: 10,
  successCondition: 'result[0] < 0.01',
};

/** The guides' error-rate query (test/fixtures/guides/http-kpi-analysis-template.yaml), on the canary revision. */
export function prometheusQuery(route: string, namespace: string): string {
  const sel = `app="${route}", namespace="${namespace}", revision="{{args.canary-hash}}"`;
  return `sum(rate(http_requests_total{status=~"5..", ${sel}}[2m])) / sum(rate(http_requests_total{${sel}}[2m]))`;
}

const TEMPLATE_ARGS = [{ name: 'canary-hash' }, { name: 'stable-hash' }];

export function judgeTemplate(route: string): Record<string, unknown> {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AnalysisTemplate',
    metadata: { name: JUDGE_TEMPLATE },
    spec: {
      args: TEMPLATE_ARGS,
      metrics: [
        {
          name: 'judge',
          interval: `${JUDGE.intervalS}s`,
          failureLimit: 0,
          provider: {
            plugin: {
              'sluice/judge': {
                route,
                canary: '{{args.canary-hash}}',
                baseline: '{{args.stable-hash}}',
                alpha: JUDGE.alpha,
                onNoData: 'Successful',
                metrics: JUDGE.metrics,
              },
            },
          },
        },
      ],
    },
  };
}

export function prometheusTemplate(
  route: string,
  namespace: string,
  address: string,
): Record<string, unknown> {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AnalysisTemplate',
    metadata: { name: PROMETHEUS_TEMPLATE },
    spec: {
      args: TEMPLATE_ARGS,
      metrics: [
        {
          name: 'error-rate',
          interval: `${PROMETHEUS.intervalS}s`,
          successCondition: PROMETHEUS.successCondition,
          failureLimit: 0,
          provider: { prometheus: { address, query: prometheusQuery(route, namespace) } },
        },
      ],
    },
  };
}

export function service(name: string, app: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name },
    spec: { selector: { app }, ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] },
  };
}

export interface AppVersion {
  tag: string;
  errorRate?: number;
}

function analysis(templateName: string): Record<string, unknown> {
  return {
    templates: [{ templateName }],
    args: [
      { name: 'canary-hash', valueFrom: { podTemplateHashValue: 'Latest' } },
      { name: 'stable-hash', valueFrom: { podTemplateHashValue: 'Stable' } },
    ],
  };
}

export function rolloutManifest(name: string, replicas: number, app: AppVersion): Record<string, unknown> {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: {
          labels: { app: name },
          annotations: { 'sluice.test/ready-delay-ms': String(READY_DELAY_MS) },
        },
        spec: { containers: [demoContainer(app)] },
      },
      strategy: {
        canary: {
          stableService: `${name}-stable`,
          canaryService: `${name}-canary`,
          trafficRouting: { plugins: { 'sluice/proxy': {} } },
          analysis: analysis(JUDGE_TEMPLATE),
          steps: [{ setWeight: 5 }, { pause: {} }],
        },
      },
    },
  };
}

/** The merge patch of an update: a new image (a new revision) judged by `templateName`. */
export function updatePatch(app: AppVersion, templateName: string): Record<string, unknown> {
  return {
    spec: {
      template: { spec: { containers: [demoContainer(app)] } },
      strategy: { canary: { analysis: { templates: [{ templateName }] } } },
    },
  };
}

export interface RolloutView {
  phase: string;
  message: string;
  abort: boolean;
  currentPodHash: string;
  stableRS: string;
  generation: number;
  observedGeneration: string;
}

export interface MeasurementView {
  phase: string;
  finishedAtMs: number;
  value: string;
  message: string;
}

export interface RunVerdict {
  run: string;
  metric: string;
  /** The failing measurement's finishedAt (the controller's clock, ms). */
  finishedAtMs: number;
  /** When the watch event carrying it arrived here. */
  eventAtMs: number;
  value: string;
  message: string;
}

export interface RunView {
  name: string;
  hash: string;
  phase: string;
  /** First event time at which the run's phase was Failed or Error. */
  endedAtMs?: number;
  verdict?: RunVerdict;
  /** Measurement phases of every metric (latest view). */
  measurementPhases: Record<string, number>;
}

function rec(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function list(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.map(rec) : [];
}

/** Watches the Rollout and the namespace's AnalysisRuns; the latest views, and verdicts as they arrive. */
export class RolloutWatcher {
  rollout: RolloutView | undefined;
  readonly runs = new Map<string, RunView>();
  readonly #watches: CollectionWatch[] = [];

  constructor(client: KubeClient, namespace: string, name: string) {
    this.#watches.push(
      watchCollection(client, `${ARGO_API}/namespaces/${namespace}/rollouts`, (type, obj) => {
        const meta = rec(obj.metadata);
        if (meta.name !== name || type === 'DELETED') return;
        const s = rec(obj.status);
        this.rollout = {
          phase: String(s.phase ?? ''),
          message: String(s.message ?? ''),
          abort: s.abort === true,
          currentPodHash: String(s.currentPodHash ?? ''),
          stableRS: String(s.stableRS ?? ''),
          generation: Number(meta.generation ?? 0),
          observedGeneration: String(s.observedGeneration ?? ''),
        };
      }),
      watchCollection(client, `${ARGO_API}/namespaces/${namespace}/analysisruns`, (type, obj, atMs) => {
        if (type === 'DELETED') return;
        this.#onRun(obj, performance.timeOrigin + atMs);
      }),
    );
  }

  get listed(): Promise<void> {
    return Promise.all(this.#watches.map((w) => w.listed)).then(() => undefined);
  }

  get errors(): string[] {
    return this.#watches.flatMap((w) => w.errors);
  }

  /** The AnalysisRun of a revision (the newest when there are several). */
  runOf(hash: string): RunView | undefined {
    let found: RunView | undefined;
    for (const run of this.runs.values()) if (run.hash === hash) found = run;
    return found;
  }

  #onRun(obj: Record<string, unknown>, atMs: number): void {
    const meta = rec(obj.metadata);
    const name = String(meta.name);
    const status = rec(obj.status);
    const view: RunView = this.runs.get(name) ?? {
      name,
      hash: String(rec(meta.labels)[HASH_LABEL] ?? ''),
      phase: '',
      measurementPhases: {},
    };
    view.phase = String(status.phase ?? '');
    if ((view.phase === 'Failed' || view.phase === 'Error') && view.endedAtMs === undefined)
      view.endedAtMs = atMs;
    const phases: Record<string, number> = {};
    let failing: RunVerdict | undefined;
    for (const metric of list(status.metricResults)) {
      for (const m of list(metric.measurements)) {
        const phase = String(m.phase ?? '');
        phases[phase] = (phases[phase] ?? 0) + 1;
        if (phase !== 'Failed') continue;
        const finishedAtMs = Date.parse(String(m.finishedAt ?? ''));
        if (failing === undefined || finishedAtMs < failing.finishedAtMs)
          failing = {
            run: name,
            metric: String(metric.name ?? ''),
            finishedAtMs,
            eventAtMs: atMs,
            value: String(m.value ?? ''),
            message: String(m.message ?? ''),
          };
      }
    }
    view.measurementPhases = phases;
    if (view.verdict === undefined && failing !== undefined) view.verdict = failing;
    this.runs.set(name, view);
  }

  async stop(): Promise<void> {
    for (const w of this.#watches.splice(0)) await w.stop();
  }
}

export interface SnapshotPoint {
  atMs: number;
  version: number;
  canaryRevision: string;
  canaryWeightBp: number;
  canaryEndpoints: number;
}

export interface Gateway {
  proxy: RunningProxy;
  proxyId: string;
  reportIntervalMs: number;
  /** Every snapshot the proxy applied, in order, stamped when applied. */
  readonly snapshots: SnapshotPoint[];
  /** When its control client collected completed intervals for a report (the last 100). */
  readonly reportTicksMs: number[];
  url: string;
  adminTarget: string;
}

/**
 * How long after one of its intervals ends a proxy collects it for a report (the proxy cuts histograms
 * into intervals as long as its report interval, aligned to the clock: proxy/histograms.ts). A report
 * timer with the proxy's own phase made this anywhere in [0, report interval); reports aligned to the
 * boundaries make it a few ms. The median over the ticks seen.
 */
export function reportLagMs(ticksMs: readonly number[], reportIntervalMs: number): number {
  const lags = ticksMs.map((t) => (((t % 1000) + 1000) % 1000) % reportIntervalMs).sort((a, b) => a - b);
  return lags.length ? lags[Math.floor(lags.length / 2)]! : Number.NaN;
}

/**
 * A gateway proxy in this process, subscribed to one route, recording each snapshot it applies and each
 * report tick. With `phaseMs`, it starts that many ms after a whole second (which set its report lag while
 * the report timer ran with the proxy's own phase).
 */
export async function startGateway(options: {
  controlPort: number;
  token: string;
  proxyId: string;
  route: string;
  namespace: string;
  reportIntervalMs: number | undefined;
  defaultReportIntervalMs: number;
  phaseMs?: number;
}): Promise<Gateway> {
  if (options.phaseMs !== undefined) {
    const now = epochNowMs();
    await sleep((options.phaseMs - (now % 1000) + 1000) % 1000);
  }
  const proxy = await startProxy({
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    control: {
      target: `127.0.0.1:${options.controlPort}`,
      token: options.token,
      proxyId: options.proxyId,
      routes: [{ name: options.route, namespace: options.namespace }],
      ...(options.reportIntervalMs === undefined ? {} : { reportIntervalMs: options.reportIntervalMs }),
    },
    logger: pino({ level: 'silent' }),
  });
  const snapshots: SnapshotPoint[] = [];
  const reportTicksMs: number[] = [];
  // The control client calls histograms.drainReports() on every report tick.
  const histograms = proxy.telemetry.histograms;
  const drainReports = histograms.drainReports.bind(histograms);
  histograms.drainReports = (nowMs?: number) => {
    reportTicksMs.push(epochNowMs());
    if (reportTicksMs.length > 100) reportTicksMs.shift();
    return drainReports(nowMs);
  };
  const server = proxy.server;
  const setSnapshot = server.setSnapshot.bind(server);
  // Stamped right after the swap: from here on every new request is routed by this snapshot.
  server.setSnapshot = (snapshot) => {
    setSnapshot(snapshot);
    const atMs = epochNowMs();
    const route = snapshot.routes.find((r) => r.name === options.route);
    const canary = route?.backends.find((b) => b.name === 'canary');
    snapshots.push({
      atMs,
      version: snapshot.version,
      canaryRevision: canary?.revision ?? '',
      canaryWeightBp: canary?.weightBp ?? 0,
      canaryEndpoints: canary?.endpoints.length ?? 0,
    });
  };
  const { host, port } = proxy.dataAddress;
  return {
    proxy,
    proxyId: options.proxyId,
    reportIntervalMs: options.reportIntervalMs ?? options.defaultReportIntervalMs,
    snapshots,
    reportTicksMs,
    url: `http://${host}:${port}/`,
    adminTarget: `${proxy.adminAddress.host}:${proxy.adminAddress.port}`,
  };
}

/** When the proxy first routed weight to `hash` (from snapshot index `from` on), and when it stopped. */
export function canaryWindow(
  snapshots: readonly SnapshotPoint[],
  hash: string,
  from: number,
): { onAtMs?: number; offAtMs?: number; offVersion?: number } {
  let onAtMs: number | undefined;
  for (let i = from; i < snapshots.length; i++) {
    const s = snapshots[i]!;
    const serving = s.canaryRevision === hash && s.canaryWeightBp > 0;
    if (onAtMs === undefined) {
      if (serving) onAtMs = s.atMs;
    } else if (!serving) return { onAtMs, offAtMs: s.atMs, offVersion: s.version };
  }
  return onAtMs === undefined ? {} : { onAtMs };
}

/** `sluice controller` (from source) scoped to the namespace, serving the control API; resolves once synced. */
export async function startControllerProcess(options: {
  kubeconfig: string;
  namespace: string;
  controlPort: number;
  tokenFile: string;
  logDir: string;
}): Promise<ManagedProcess> {
  const healthzPort = await freePort();
  const metricsPort = await freePort();
  const controller = spawnManaged({
    name: 'controller',
    command: process.execPath,
    args: [
      '--disable-warning=ExperimentalWarning',
      ...CONTROLLER_NODE_OPTIONS.split(' '),
      join(REPO_ROOT, 'src', 'cli', 'main.ts'),
      'controller',
      '--kubeconfig',
      options.kubeconfig,
      '--namespace',
      options.namespace,
      '--leader-elect=false',
      '--listen-host',
      '127.0.0.1',
      '--metrics-port',
      String(metricsPort),
      '--healthz-port',
      String(healthzPort),
      '--control-listen',
      `127.0.0.1:${options.controlPort}`,
      '--control-token-file',
      options.tokenFile,
      '--loglevel',
      'info',
    ],
    cwd: REPO_ROOT,
    logDir: options.logDir,
  });
  const deadline = Date.now() + CONTROLLER_READY_MS;
  while (Date.now() < deadline) {
    if (controller.hasExited()) break;
    let text = '';
    try {
      text = readFileSync(controller.logPath, 'utf8');
    } catch {}
    if (text.includes('caches synced')) return controller;
    await sleep(50);
  }
  throw new Error(`the controller did not sync its caches within ${CONTROLLER_READY_MS / 1000} s`);
}
