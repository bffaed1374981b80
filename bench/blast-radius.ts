// Blast radius of a bad canary (issue 9). On the real test cluster: one `sluice controller` (subprocess,
// scoped to the bench namespace, serving the control API), one gateway Sluice proxy in this process
// subscribed to it, a Rollout of `sluice-demo` pods (2 replicas, stable/canary Services, routed by
// `sluice/proxy`, steps setWeight 5 then pause) with background analysis, and 1,000 req/s paced open loop
// through the gateway (a worker thread: bench/lib/open-loop.ts). Per trial the Rollout is updated to a new
// `sluice-demo:bad-N` with ERROR_RATE=1 and measured:
//  - blast radius: requests the bad version answered (x-demo-version) before the proxy serves weight 0;
//  - time to verdict: the canary's first request (send time) -> the failing measurement's finishedAt;
//  - abort latency: finishedAt -> the gateway applied a snapshot with canary weight 0 (its setSnapshot,
//    stamped in process); also from the AnalysisRun watch event's arrival here.
// Phases: judged by sluice/judge with the proxy's default 1 s report interval, the same with 250 ms
// reports, and the reference the guides' way: Prometheus scraping the gateway's /metrics every 5 s, the
// guides' error-rate query, interval 10s, failureLimit 0. Then false alarms: healthy canaries (ERROR_RATE 0)
// under the judge for a fixed window each. Between trials the Rollout is aborted (by the analysis, or by
// `sluice abort` after a healthy window); the next update starts a new canary.
// Last, no cluster: push to 100 proxies (bench/lib/push-fanout.ts).
// Prints the tables, writes bench/results/blast-radius.json. Cleans up: load worker, proxy, Prometheus,
// controller, namespace, temp dirs; the cluster is stopped only when this run started it.
//
//   node bench/blast-radius.ts [--quick] [--trials N] [--fast-trials N] [--prom-trials N]
//        [--false-alarm-trials N] [--false-alarm-window-s S] [--proxies N] [--changes N] [--rate N]
//        [--push-only]
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { DEFAULT_REPORT_INTERVAL_MS } from '../proxy/control/client.ts';
import { clusterAnswers, ensureCluster, stopCluster } from '../test/cluster/control-plane.ts';
import { demoPodsServing } from '../test/cluster/demo-traffic.ts';
import { KubeClient } from '../test/cluster/kube-client.ts';
import { kubectl } from '../test/cluster/kubectl.ts';
import { defaultStateDir, kubeconfigPath } from '../test/cluster/paths.ts';
import { runSluice } from '../test/cluster/sluice-cli.ts';
import { type PrometheusHandle, startPrometheus } from '../test/fixtures/prometheus.ts';
import {
  type AppVersion,
  ARGO_API,
  canaryWindow,
  type Gateway,
  JUDGE,
  JUDGE_TEMPLATE,
  judgeTemplate,
  PROMETHEUS,
  PROMETHEUS_TEMPLATE,
  prometheusQuery,
  prometheusTemplate,
  RolloutWatcher,
  reportLagMs,
  rolloutManifest,
  service,
  startControllerProcess,
  startGateway,
  updatePatch,
} from './lib/blast-rig.ts';
import { answeredBetween, distribution, epochNowMs, trialTraffic } from './lib/blast-stats.ts';
import {
  type BadTrial,
  type BlastPhase,
  binomialTail,
  blastTable,
  breakdownTable,
  type FalseAlarmResult,
  type FalseAlarmTrial,
  falseAlarmTable,
  lagTable,
  type PhaseSummary,
  pushTable,
  targetTable,
} from './lib/blast-tables.ts';
import { type LoadRecords, OpenLoopGenerator } from './lib/open-loop.ts';
import {
  freePort,
  installSignalHandlers,
  logTail,
  type ManagedProcess,
  makeTempDir,
  stopProcess,
} from './lib/processes.ts';
import { type PushResult, runPushFanout } from './lib/push-fanout.ts';
import { machineInfo, writeResult } from './lib/results.ts';
import type { TargetCheck } from './lib/summary.ts';
import { fmt } from './lib/table.ts';
import { REPO_ROOT } from './lib/targets.ts';

const ROLLOUT = 'shop';
const REPLICAS = 2;
const CANARY_WEIGHT_PCT = 5;
const WARMUP_MS = 1_000;
/**
 * A proxy cuts its histograms into intervals as long as its report interval, aligned to the clock, and
 * the judge decides on finished intervals, so where in its interval the canary's first request falls
 * matters (late: a verdict on few requests soon; early: a whole interval of traffic first). Trials run
 * back to back would start in the same phase every time (each starts a fixed chain of waits after the
 * last verdict, itself tied to an interval boundary); an extra wait of (n x golden ratio mod 1) x 1 s
 * before each update spreads the starts evenly over the second.
 */
const GOLDEN_RATIO_FRACTION = 0.618_033_988_75;
/** Load keeps running this long after weight 0, so answers in flight are counted. */
const TAIL_MS = 500;
const POOL_CONNECTIONS = 64;
const REQUEST_TIMEOUT_MS = 10_000;
const JUDGE_TRIAL_TIMEOUT_MS = 30_000;
const PROMETHEUS_TRIAL_TIMEOUT_MS = 90_000;
const RESET_TIMEOUT_MS = 30_000;
const CLEANUP_RESERVE_MS = 60_000;
const FAST_REPORT_INTERVAL_MS = 250;

const TARGET_BLAST_P50 = 50;
const TARGET_ABORT_P99_MS = 250;
const TARGET_PUSH_P99_MS = 100;

export interface BlastSettings {
  quick: boolean;
  ratePerSec: number;
  trials: number;
  fastTrials: number;
  promTrials: number;
  falseAlarmTrials: number;
  falseAlarmWindowS: number;
  proxies: number;
  changes: number;
  pushOnly: boolean;
  budgetMs: number;
}

export const BLAST_USAGE = `usage: node bench/blast-radius.ts [--quick] [--trials N] [--fast-trials N] [--prom-trials N]
       [--false-alarm-trials N] [--false-alarm-window-s S] [--proxies N] [--changes N] [--rate N] [--push-only]`;

export function parseBlastSettings(argv: readonly string[], quickDefault = false): BlastSettings {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean' },
      trials: { type: 'string' },
      'fast-trials': { type: 'string' },
      'prom-trials': { type: 'string' },
      'false-alarm-trials': { type: 'string' },
      'false-alarm-window-s': { type: 'string' },
      proxies: { type: 'string' },
      changes: { type: 'string' },
      rate: { type: 'string' },
      'push-only': { type: 'boolean' },
    },
    strict: true,
  });
  const quick = values.quick === true || quickDefault;
  const int = (flag: string, raw: string | undefined, fallback: number, min = 1): number => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min)
      throw new Error(`--${flag}: expected an integer >= ${min}, got "${raw}"`);
    return n;
  };
  return {
    quick,
    ratePerSec: int('rate', values.rate, 1_000),
    trials: int('trials', values.trials, quick ? 4 : 20),
    fastTrials: int('fast-trials', values['fast-trials'], quick ? 2 : 10, 0),
    promTrials: int('prom-trials', values['prom-trials'], quick ? 2 : 5, 0),
    falseAlarmTrials: int('false-alarm-trials', values['false-alarm-trials'], quick ? 1 : 5, 0),
    falseAlarmWindowS: int('false-alarm-window-s', values['false-alarm-window-s'], 30),
    proxies: int('proxies', values.proxies, 100),
    changes: int('changes', values.changes, quick ? 50 : 200),
    pushOnly: values['push-only'] === true,
    budgetMs: quick ? 7 * 60_000 : 16 * 60_000,
  };
}

export interface BlastResult {
  machine: ReturnType<typeof machineInfo>;
  settings: BlastSettings;
  /** os.loadavg() at the start and at the end of the run: the machine is shared. */
  loadAverage: { start: number[]; end: number[] };
  cluster: { used: boolean; reused?: boolean; skipped?: string };
  setup: Record<string, unknown>;
  phases: BlastPhase[];
  falseAlarms: FalseAlarmResult | undefined;
  push: PushResult | undefined;
  targets: TargetCheck[];
  tables: {
    blast?: string;
    breakdown?: string;
    lags?: string;
    falseAlarms?: string;
    push?: string;
    targets: string;
  };
  notes: string[];
  totalSeconds: number;
}

function intervalText(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

function log(line: string): void {
  process.stderr.write(`[bench:blast-radius] ${line}\n`);
}

function summarizePhase(trials: readonly BadTrial[]): PhaseSummary {
  const done = trials.filter((t) => t.failure === undefined);
  const d = (pick: (t: BadTrial) => number) => distribution(done.map(pick));
  return {
    blastRadius: d((t) => t.blastRadius),
    answeredAfterVerdict: d((t) => t.answeredAfterVerdict),
    timeToVerdictMs: d((t) => t.timeToVerdictMs),
    abortLatencyMs: d((t) => t.abortLatencyMs),
    abortLatencyFromEventMs: d((t) => t.abortLatencyFromEventMs),
    verdictEventLagMs: d((t) => t.verdictEventLagMs),
    exposureMs: d((t) => t.exposureMs),
    updateToCanaryMs: d((t) => t.updateToCanaryMs),
  };
}

/** Everything the cluster phases share. */
interface Rig {
  client: KubeClient;
  kubeconfig: string;
  namespace: string;
  watcher: RolloutWatcher;
  gateway: Gateway;
  load: OpenLoopGenerator;
  settings: BlastSettings;
  remainingMs: () => number;
  nextTrial: () => number;
  /** Replaces the gateway with a new one (closing the old), and makes it rig.gateway. */
  newGateway: (proxyId: string, reportIntervalMs: number | undefined, phaseMs?: number) => Promise<Gateway>;
}

/** How many gateways a judge phase spreads its trials over, started at evenly spaced report phases. */
const GATEWAYS_PER_JUDGE_PHASE = 4;

async function waitUntil(check: () => boolean, timeoutMs: number, stepMs = 5): Promise<boolean> {
  const until = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > until) return false;
    await sleep(stepMs);
  }
  return true;
}

async function update(rig: Rig, app: AppVersion, template: string): Promise<void> {
  await rig.client.mergePatch(
    `${ARGO_API}/namespaces/${rig.namespace}/rollouts/${ROLLOUT}`,
    updatePatch(app, template),
  );
}

/** The new revision's hash, once the controller has seen the update. */
async function newHash(rig: Rig, previous: string, timeoutMs: number): Promise<string | undefined> {
  const ok = await waitUntil(() => {
    const h = rig.watcher.rollout?.currentPodHash;
    return h !== undefined && h !== '' && h !== previous;
  }, timeoutMs);
  return ok ? rig.watcher.rollout!.currentPodHash : undefined;
}

/** Aborted and back on stable: ready for the next update. */
async function waitAborted(rig: Rig, hash: string): Promise<boolean> {
  return waitUntil(
    () => {
      const ro = rig.watcher.rollout;
      return ro !== undefined && ro.currentPodHash === hash && ro.abort && ro.phase === 'Degraded';
    },
    RESET_TIMEOUT_MS,
    20,
  );
}

function loadRun(rig: Rig, maxDurationMs: number) {
  return {
    url: rig.gateway.url,
    ratePerSec: rig.settings.ratePerSec,
    maxRequests: Math.ceil((rig.settings.ratePerSec * maxDurationMs) / 1000),
    maxDurationMs,
    connections: POOL_CONNECTIONS,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
  };
}

function startJitterMs(n: number): number {
  return Math.round(((n * GOLDEN_RATIO_FRACTION) % 1) * 1000);
}

function failedTrial(
  n: number,
  tag: string,
  hash: string,
  gateway: string,
  failure: string,
  records?: LoadRecords,
): BadTrial {
  return {
    n,
    tag,
    hash,
    gateway,
    startJitterMs: startJitterMs(n),
    firstCanaryPhaseMs: Number.NaN,
    requests: records?.count ?? 0,
    blastRadius: records ? trialTraffic(records, tag).byVersion : Number.NaN,
    answeredAfterVerdict: Number.NaN,
    otherFailures: records ? trialTraffic(records, tag).otherFailures : 0,
    updateToCanaryMs: Number.NaN,
    timeToVerdictMs: Number.NaN,
    abortLatencyMs: Number.NaN,
    abortLatencyFromEventMs: Number.NaN,
    verdictEventLagMs: Number.NaN,
    lastBadSendAfterVerdictMs: Number.NaN,
    exposureMs: Number.NaN,
    verdictMetric: '',
    verdictMessage: '',
    failure,
  };
}

/** One bad revision: update, wait for the verdict and the proxy's weight 0, stop the load, wait for the abort. */
async function badTrial(rig: Rig, template: string, timeoutMs: number): Promise<BadTrial> {
  const n = rig.nextTrial();
  const tag = `bad-${n}`;
  const previous = rig.watcher.rollout?.currentPodHash ?? '';
  const from = rig.gateway.snapshots.length;
  const jitterMs = startJitterMs(n);
  const { done } = await rig.load.start(loadRun(rig, WARMUP_MS + jitterMs + timeoutMs + TAIL_MS + 5_000));
  let hash = '';
  let failure: string | undefined;
  let updatedAtMs = Number.NaN;
  try {
    await sleep(WARMUP_MS + jitterMs);
    updatedAtMs = epochNowMs();
    await update(rig, { tag, errorRate: 1 }, template);
    hash = (await newHash(rig, previous, 10_000)) ?? '';
    if (hash === '') failure = 'the controller did not pick up the update within 10 s';
    else {
      const ended = await waitUntil(
        () =>
          rig.watcher.runOf(hash)?.verdict !== undefined &&
          canaryWindow(rig.gateway.snapshots, hash, from).offAtMs !== undefined,
        Math.min(timeoutMs, rig.remainingMs()),
        2,
      );
      if (!ended) {
        const run = rig.watcher.runOf(hash);
        failure = `no verdict and weight 0 within ${timeoutMs / 1000} s (run ${run?.name ?? 'none'} ${run?.phase ?? ''}, measurements ${JSON.stringify(run?.measurementPhases ?? {})}, window ${JSON.stringify(canaryWindow(rig.gateway.snapshots, hash, from))})`;
      }
      await sleep(TAIL_MS);
    }
  } finally {
    rig.load.stop();
  }
  const records = await done;
  if (hash !== '' && !(await waitAborted(rig, hash)))
    failure ??= `not aborted within ${RESET_TIMEOUT_MS / 1000} s (${JSON.stringify(rig.watcher.rollout)})`;
  if (failure !== undefined) {
    log(
      `trial ${tag}: ${failure}; answers per version ${JSON.stringify(trialTraffic(records, tag).perVersion)}`,
    );
    return failedTrial(n, tag, hash, rig.gateway.proxyId, failure, records);
  }
  const traffic = trialTraffic(records, tag);
  const verdict = rig.watcher.runOf(hash)!.verdict!;
  const window = canaryWindow(rig.gateway.snapshots, hash, from);
  const trial: BadTrial = {
    n,
    tag,
    hash,
    gateway: rig.gateway.proxyId,
    startJitterMs: jitterMs,
    firstCanaryPhaseMs: traffic.firstSendMs % 1000,
    requests: records.count,
    blastRadius: traffic.byVersion,
    answeredAfterVerdict: answeredBetween(records, tag, verdict.finishedAtMs, Number.POSITIVE_INFINITY),
    otherFailures: traffic.otherFailures,
    updateToCanaryMs: window.onAtMs! - updatedAtMs,
    timeToVerdictMs: verdict.finishedAtMs - traffic.firstSendMs,
    abortLatencyMs: window.offAtMs! - verdict.finishedAtMs,
    abortLatencyFromEventMs: window.offAtMs! - verdict.eventAtMs,
    verdictEventLagMs: verdict.eventAtMs - verdict.finishedAtMs,
    lastBadSendAfterVerdictMs: traffic.lastSendMs - verdict.finishedAtMs,
    exposureMs: window.offAtMs! - traffic.firstSendMs,
    verdictMetric: verdict.metric,
    verdictMessage: verdict.message.slice(0, 300),
  };
  log(
    `trial ${tag}: blast radius ${trial.blastRadius}, verdict ${fmt(trial.timeToVerdictMs)} ms after the first canary request, weight 0 ${fmt(trial.abortLatencyMs, 1)} ms after it (${fmt(trial.abortLatencyFromEventMs, 1)} ms after its watch event)`,
  );
  return trial;
}

async function badPhase(
  rig: Rig,
  name: string,
  label: string,
  analysis: BlastPhase['analysis'],
  template: string,
  trials: number,
  timeoutMs: number,
  /** For the judge: spread the trials over new gateways with this report interval at evenly spaced phases. */
  rotate?: { reportIntervalMs: number | undefined; periodMs: number },
): Promise<BlastPhase> {
  const startLoad = loadavg()[0]!;
  const out: BadTrial[] = [];
  const gateways: { gateway: Gateway; startPhaseMs?: number; trials: number[] }[] = [];
  const groups = rotate ? Math.max(1, Math.min(GATEWAYS_PER_JUDGE_PHASE, trials)) : 1;
  log(`${label}: ${trials} trials${rotate ? ` over ${groups} gateways` : ''}`);
  for (let i = 0; i < trials; i++) {
    if (rig.remainingMs() < timeoutMs + RESET_TIMEOUT_MS) {
      log(`${label}: out of time after ${i} trials`);
      break;
    }
    const group = Math.floor((i * groups) / trials);
    if (gateways.length <= group) {
      if (rotate) {
        const startPhaseMs = Math.round((group * rotate.periodMs) / groups);
        await rig.newGateway(`gw-${name}-${group + 1}`, rotate.reportIntervalMs, startPhaseMs);
        gateways.push({ gateway: rig.gateway, startPhaseMs, trials: [] });
      } else gateways.push({ gateway: rig.gateway, trials: [] });
    }
    const trial = await badTrial(rig, template, timeoutMs);
    gateways[group]!.trials.push(trial.n);
    out.push(trial);
  }
  return {
    name,
    label,
    analysis,
    reportIntervalMs: rig.gateway.reportIntervalMs,
    trialsPlanned: trials,
    trials: out,
    gateways: gateways.map((g) => ({
      proxyId: g.gateway.proxyId,
      reportIntervalMs: g.gateway.reportIntervalMs,
      ...(g.startPhaseMs === undefined ? {} : { startPhaseMs: g.startPhaseMs }),
      reportLagMs: reportLagMs(g.gateway.reportTicksMs, g.gateway.reportIntervalMs),
      trials: g.trials,
    })),
    summary: summarizePhase(out),
    failedTrials: out.filter((t) => t.failure !== undefined).length,
    loadAverage: [startLoad, loadavg()[0]!],
  };
}

/** A healthy canary under the judge for the window; aborted by hand afterwards unless the judge did. */
async function falseAlarmTrial(rig: Rig, windowMs: number): Promise<FalseAlarmTrial> {
  const n = rig.nextTrial();
  const tag = `good-${n}`;
  const previous = rig.watcher.rollout?.currentPodHash ?? '';
  const from = rig.gateway.snapshots.length;
  const { done } = await rig.load.start(loadRun(rig, WARMUP_MS + 20_000 + windowMs + 5_000));
  let hash = '';
  let failure: string | undefined;
  let onAtMs = Number.NaN;
  try {
    await sleep(WARMUP_MS);
    await update(rig, { tag }, JUDGE_TEMPLATE);
    hash = (await newHash(rig, previous, 10_000)) ?? '';
    if (hash === '') failure = 'the controller did not pick up the update within 10 s';
    else if (
      !(await waitUntil(() => canaryWindow(rig.gateway.snapshots, hash, from).onAtMs !== undefined, 20_000))
    )
      failure = 'the canary was not routed within 20 s';
    else {
      onAtMs = canaryWindow(rig.gateway.snapshots, hash, from).onAtMs!;
      await waitUntil(
        () => rig.watcher.runOf(hash)?.verdict !== undefined || epochNowMs() >= onAtMs + windowMs,
        windowMs + 1_000,
        20,
      );
    }
  } finally {
    rig.load.stop();
  }
  const records = await done;
  const run = hash === '' ? undefined : rig.watcher.runOf(hash);
  const verdict = run?.verdict;
  if (hash !== '' && verdict === undefined) {
    const aborted = await runSluice(['abort', ROLLOUT], {
      kubeconfig: rig.kubeconfig,
      namespace: rig.namespace,
    });
    if (aborted.code !== 0) failure ??= `sluice abort exited ${aborted.code}: ${aborted.err}`;
  }
  if (hash !== '' && !(await waitAborted(rig, hash)))
    failure ??= `not aborted within ${RESET_TIMEOUT_MS / 1000} s`;
  const trial: FalseAlarmTrial = {
    n,
    tag,
    hash,
    canaryRequests: Number.isNaN(onAtMs) ? 0 : answeredBetween(records, tag, onAtMs, onAtMs + windowMs),
    aborted: verdict !== undefined,
    ...(verdict
      ? {
          abortedAfterMs: verdict.finishedAtMs - onAtMs,
          verdictMetric: verdict.metric,
          verdictMessage: verdict.message.slice(0, 300),
        }
      : {}),
    measurementPhases: run?.measurementPhases ?? {},
    ...(failure ? { failure } : {}),
  };
  log(
    `false-alarm trial ${tag}: ${trial.aborted ? `ABORTED after ${fmt(trial.abortedAfterMs)} ms (${trial.verdictMessage})` : 'not aborted'}, ${trial.canaryRequests} canary requests${failure ? `; ${failure}` : ''}`,
  );
  return trial;
}

async function falseAlarms(rig: Rig): Promise<FalseAlarmResult> {
  const windowMs = rig.settings.falseAlarmWindowS * 1000;
  const trials: FalseAlarmTrial[] = [];
  log(
    `false alarms: ${rig.settings.falseAlarmTrials} healthy canaries, ${rig.settings.falseAlarmWindowS} s each`,
  );
  for (let i = 0; i < rig.settings.falseAlarmTrials; i++) {
    if (rig.remainingMs() < windowMs + 30_000 + RESET_TIMEOUT_MS) {
      log(`false alarms: out of time after ${i} trials`);
      break;
    }
    trials.push(await falseAlarmTrial(rig, windowMs));
  }
  const completed = trials.filter((t) => t.failure === undefined || t.aborted);
  const aborted = completed.filter((t) => t.aborted).length;
  return {
    windowS: rig.settings.falseAlarmWindowS,
    alpha: JUDGE.alpha,
    trials,
    completed: completed.length,
    aborted,
    tailProbability: binomialTail(aborted, completed.length, JUDGE.alpha),
  };
}

function targetChecks(
  phases: readonly BlastPhase[],
  alarms: FalseAlarmResult | undefined,
  push: PushResult | undefined,
): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const p of phases.filter((p) => p.analysis === 'sluice/judge')) {
    const s = p.summary;
    checks.push({
      name: `blast radius p50, ${p.label}`,
      target: `≤ ${TARGET_BLAST_P50} requests`,
      measured: s.blastRadius.count
        ? `${fmt(s.blastRadius.p50)} requests (${s.blastRadius.count} trials)`
        : 'no trial',
      pass: s.blastRadius.count ? s.blastRadius.p50 <= TARGET_BLAST_P50 : undefined,
    });
    checks.push({
      name: `abort latency p99, ${p.label}`,
      target: `≤ ${TARGET_ABORT_P99_MS} ms`,
      measured: s.abortLatencyMs.count ? `${fmt(s.abortLatencyMs.p99, 1)} ms` : 'no trial',
      pass: s.abortLatencyMs.count ? s.abortLatencyMs.p99 <= TARGET_ABORT_P99_MS : undefined,
    });
  }
  if (alarms !== undefined)
    checks.push({
      name: 'false alarms (healthy canaries aborted)',
      target: `≤ alpha = ${JUDGE.alpha}`,
      measured: `${alarms.aborted}/${alarms.completed} (${alarms.completed ? fmt((100 * alarms.aborted) / alarms.completed, 1) : '—'}%)`,
      pass: alarms.completed ? alarms.aborted / alarms.completed <= JUDGE.alpha : undefined,
    });
  if (push !== undefined)
    checks.push({
      name: `push to ${push.proxies} proxies, publish → all ACKed p99`,
      target: `≤ ${TARGET_PUSH_P99_MS} ms`,
      measured: `${fmt(push.allAckedMs.p99, 1)} ms over ${push.completed} changes`,
      pass: push.completed === push.changes ? push.allAckedMs.p99 <= TARGET_PUSH_P99_MS : false,
    });
  return checks;
}

/** Teardowns of what is running now, for a watchdog that must stop everything (stopBlastRadius). */
const teardowns = new Set<() => Promise<void>>();

/** Stops whatever a running blast-radius benchmark started: controller, proxy, Prometheus, namespace. */
export async function stopBlastRadius(): Promise<void> {
  await Promise.all([...teardowns].map((t) => t().catch(() => undefined)));
}

interface ClusterOutcome {
  phases: BlastPhase[];
  falseAlarms: FalseAlarmResult | undefined;
  cluster: BlastResult['cluster'];
  setup: Record<string, unknown>;
}

async function runClusterPhases(
  settings: BlastSettings,
  remainingMs: () => number,
  notes: string[],
): Promise<ClusterOutcome> {
  const stateDir = defaultStateDir();
  let startedCluster = false;
  let kubeconfig = kubeconfigPath(stateDir);
  if (!existsSync(kubeconfig) || !(await clusterAnswers(stateDir))) {
    log('no running test cluster; starting one (stopped again at the end)');
    const ensured = await ensureCluster({ stateDir });
    startedCluster = ensured.started;
    kubeconfig = ensured.state.kubeconfig;
  } else log(`reusing the running test cluster (${kubeconfig})`);
  const client = await KubeClient.fromKubeconfig(kubeconfig);
  const namespace = `bench-blast-${randomBytes(4).toString('hex')}`;
  const dir = makeTempDir('blast');
  let controller: ManagedProcess | undefined;
  let watcher: RolloutWatcher | undefined;
  let gateway: Gateway | undefined;
  let prometheus: PrometheusHandle | undefined;
  const load = new OpenLoopGenerator();
  let namespaceCreated = false;
  let tornDown: Promise<void> | undefined;
  const teardown = (): Promise<void> => {
    tornDown ??= (async () => {
      await load.close();
      if (prometheus) await prometheus.stop();
      if (gateway) await gateway.proxy.close(100);
      if (watcher) await watcher.stop();
      if (controller) {
        if (controller.hasExited()) log(`the controller exited early:\n${logTail(controller)}`);
        await stopProcess(controller, 12_000);
      }
      if (namespaceCreated) {
        await client
          .delete(`/api/v1/namespaces/${namespace}`, { propagationPolicy: 'Background' })
          .catch((e) => {
            log(`deleting namespace ${namespace} failed: ${String(e)}`);
          });
        const deleteStarted = performance.now();
        while ((await client.raw('GET', `/api/v1/namespaces/${namespace}`)).status !== 404) {
          if (performance.now() - deleteStarted > 50_000) {
            log(`namespace ${namespace} still terminating after 50 s; the namespace controller finishes it`);
            break;
          }
          await sleep(500);
        }
      }
      await client.close();
      if (startedCluster) await stopCluster(stateDir);
    })();
    return tornDown;
  };
  teardowns.add(teardown);
  try {
    const serving = await demoPodsServing(client);
    if (!serving.served) {
      const reason = `sluice-demo pods are not served on this host: ${serving.reason}`;
      log(`skipping the cluster phases: ${reason}`);
      return { phases: [], falseAlarms: undefined, cluster: { used: false, skipped: reason }, setup: {} };
    }
    await client.create('/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: namespace, labels: { 'sluice.test/namespace': 'true' } },
    });
    namespaceCreated = true;
    const applied = await kubectl(kubeconfig, ['apply', '-f', join(REPO_ROOT, 'crds')], {
      timeoutMs: 60_000,
    });
    if (applied.code !== 0) throw new Error(`kubectl apply -f crds: ${applied.stderr}`);
    const token = randomBytes(24).toString('hex');
    const tokenFile = join(dir, 'control-token');
    writeFileSync(tokenFile, token);
    const controlPort = await freePort();
    controller = await startControllerProcess({ kubeconfig, namespace, controlPort, tokenFile, logDir: dir });
    log(`namespace ${namespace}; controller pid ${controller.pid}, control server 127.0.0.1:${controlPort}`);
    watcher = new RolloutWatcher(client, namespace, ROLLOUT);
    await watcher.listed;
    const apply = async (manifest: Record<string, unknown>): Promise<void> => {
      const r = await kubectl(kubeconfig, ['apply', '-n', namespace, '-f', '-'], {
        input: JSON.stringify(manifest),
      });
      if (r.code !== 0) throw new Error(`kubectl apply: ${r.stderr}`);
    };
    await apply(service(`${ROLLOUT}-stable`, ROLLOUT));
    await apply(service(`${ROLLOUT}-canary`, ROLLOUT));
    await apply(judgeTemplate(ROLLOUT));
    await apply(rolloutManifest(ROLLOUT, REPLICAS, { tag: 'v1' }));
    if (!(await waitUntil(() => watcher!.rollout?.phase === 'Healthy', 60_000, 50)))
      throw new Error(`the Rollout did not become Healthy within 60 s: ${JSON.stringify(watcher.rollout)}`);

    const startGw = async (
      proxyId: string,
      reportIntervalMs: number | undefined,
      phaseMs?: number,
    ): Promise<Gateway> => {
      const gw = await startGateway({
        controlPort,
        token,
        proxyId,
        route: ROLLOUT,
        namespace,
        reportIntervalMs,
        defaultReportIntervalMs: DEFAULT_REPORT_INTERVAL_MS,
        ...(phaseMs === undefined ? {} : { phaseMs }),
      });
      if (!(await waitUntil(() => gw.snapshots.length > 0, 20_000, 20)))
        throw new Error(`gateway ${proxyId} applied no snapshot within 20 s`);
      log(`gateway ${proxyId} ${gw.url} (report interval ${gw.reportIntervalMs} ms)`);
      return gw;
    };
    gateway = await startGw('gw-setup', undefined);
    let trialCounter = 0;
    const rig: Rig = {
      client,
      kubeconfig,
      namespace,
      watcher,
      gateway,
      load,
      settings,
      remainingMs,
      nextTrial: () => ++trialCounter,
      newGateway: async (proxyId, reportIntervalMs, phaseMs) => {
        await gateway?.proxy.close(100);
        gateway = undefined;
        gateway = await startGw(proxyId, reportIntervalMs, phaseMs);
        rig.gateway = gateway;
        return gateway;
      },
    };
    const phases: BlastPhase[] = [];
    phases.push(
      await badPhase(
        rig,
        'judge',
        `sluice/judge, ${intervalText(DEFAULT_REPORT_INTERVAL_MS)} reports (default)`,
        'sluice/judge',
        JUDGE_TEMPLATE,
        settings.trials,
        JUDGE_TRIAL_TIMEOUT_MS,
        { reportIntervalMs: undefined, periodMs: DEFAULT_REPORT_INTERVAL_MS },
      ),
    );

    let promUrl: string | undefined;
    if (settings.promTrials > 0) {
      prometheus = await startPrometheus({
        targets: [rig.gateway.adminTarget],
        scrapeIntervalMs: PROMETHEUS.scrapeIntervalMs,
      });
      await prometheus.waitForTargetsUp(20_000);
      promUrl = prometheus.url;
      await apply(prometheusTemplate(ROLLOUT, namespace, prometheus.url));
      phases.push(
        await badPhase(
          rig,
          'prometheus',
          `Prometheus (guides' error-rate query, ${PROMETHEUS.scrapeIntervalMs / 1000} s scrape, interval ${PROMETHEUS.intervalS}s)`,
          'prometheus',
          PROMETHEUS_TEMPLATE,
          settings.promTrials,
          PROMETHEUS_TRIAL_TIMEOUT_MS,
        ),
      );
      await prometheus.stop();
      prometheus = undefined;
    }

    const alarms = settings.falseAlarmTrials > 0 ? await falseAlarms(rig) : undefined;

    if (settings.fastTrials > 0) {
      if (remainingMs() < 2 * (JUDGE_TRIAL_TIMEOUT_MS + RESET_TIMEOUT_MS))
        notes.push('no time left for the 250 ms report phase');
      else
        phases.push(
          await badPhase(
            rig,
            'judge-250ms',
            `sluice/judge, ${intervalText(FAST_REPORT_INTERVAL_MS)} reports`,
            'sluice/judge',
            JUDGE_TEMPLATE,
            settings.fastTrials,
            JUDGE_TRIAL_TIMEOUT_MS,
            { reportIntervalMs: FAST_REPORT_INTERVAL_MS, periodMs: FAST_REPORT_INTERVAL_MS },
          ),
        );
    }
    for (const e of watcher.errors) notes.push(`watch error (re-listed): ${e}`);
    return {
      phases,
      falseAlarms: alarms,
      cluster: { used: true, reused: !startedCluster },
      setup: {
        rollout: {
          replicas: REPLICAS,
          image: 'sluice-demo:v1',
          steps: [{ setWeight: CANARY_WEIGHT_PCT }, { pause: {} }],
        },
        bad: 'sluice-demo:bad-N with ERROR_RATE=1, a new tag (new revision) per trial',
        healthy: 'sluice-demo:good-N, no ERROR_RATE',
        controller: 'sluice controller subprocess from src/cli/main.ts, --namespace, --control-listen',
        gateway: 'one in-process Sluice proxy (proxy/main.ts startProxy) subscribed to the route',
        load: `${settings.ratePerSec} req/s paced open loop (undici Pool, up to ${POOL_CONNECTIONS} connections) in a worker thread, ${WARMUP_MS} ms of stable traffic before each update`,
        judge: { ...JUDGE, failureLimit: 0, onNoData: 'Successful', background: true },
        prometheus: {
          ...PROMETHEUS,
          failureLimit: 0,
          query: prometheusQuery(ROLLOUT, '<namespace>'),
          ...(promUrl ? {} : { skipped: true }),
        },
      },
    };
  } finally {
    await teardown();
    teardowns.delete(teardown);
  }
}

export async function runBlastRadiusBenchmark(settings: BlastSettings): Promise<BlastResult> {
  const runStarted = performance.now();
  const deadline = runStarted + settings.budgetMs;
  const remainingMs = (): number => deadline - CLEANUP_RESERVE_MS - performance.now();
  const notes: string[] = [];
  const loadStart = loadavg();
  const cluster: ClusterOutcome = settings.pushOnly
    ? { phases: [], falseAlarms: undefined, cluster: { used: false, skipped: '--push-only' }, setup: {} }
    : await runClusterPhases(settings, remainingMs, notes);
  log(`push: ${settings.proxies} proxies, ${settings.changes} weight changes`);
  const push = await runPushFanout({
    proxies: settings.proxies,
    changes: settings.changes,
    gapMs: 20,
    warmupChanges: 10,
    timeoutMs: 5_000,
    log,
  });
  const targets = targetChecks(cluster.phases, cluster.falseAlarms, push);
  return {
    machine: machineInfo(),
    settings,
    loadAverage: { start: loadStart, end: loadavg() },
    cluster: cluster.cluster,
    setup: cluster.setup,
    phases: cluster.phases,
    falseAlarms: cluster.falseAlarms,
    push,
    targets,
    tables: {
      ...(cluster.phases.length
        ? {
            blast: blastTable(cluster.phases),
            breakdown: breakdownTable(cluster.phases),
            lags: lagTable(cluster.phases),
          }
        : {}),
      ...(cluster.falseAlarms ? { falseAlarms: falseAlarmTable(cluster.falseAlarms) } : {}),
      push: pushTable(push),
      targets: targetTable(targets),
    },
    notes,
    totalSeconds: (performance.now() - runStarted) / 1000,
  };
}

export function printBlastResult(result: BlastResult): void {
  const t = result.tables;
  const parts = [
    `Blast radius of a bad canary (${result.settings.quick ? 'quick' : 'full'} run), ${fmt(result.settings.ratePerSec)} req/s open loop through one gateway proxy; load average ${result.loadAverage.start.map((l) => l.toFixed(2)).join(' ')} at the start, ${result.loadAverage.end.map((l) => l.toFixed(2)).join(' ')} at the end.`,
    ...(result.cluster.skipped ? [`Cluster phases skipped: ${result.cluster.skipped}`] : []),
    ...(t.blast
      ? [
          '',
          t.blast,
          '',
          t.breakdown ?? '',
          '',
          'The judge per gateway, with its measured report lag:',
          '',
          t.lags ?? '',
        ]
      : []),
    ...(t.falseAlarms ? ['', 'False alarms (healthy canaries under the judge):', '', t.falseAlarms] : []),
    ...(t.push ? ['', `Push to ${result.push?.proxies} proxies (no cluster):`, '', t.push] : []),
    '',
    t.targets,
    ...result.notes.map((n) => `Note: ${n}`),
  ];
  process.stdout.write(`${parts.join('\n')}\n`);
}

async function main(): Promise<number> {
  let settings: BlastSettings;
  try {
    settings = parseBlastSettings(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${BLAST_USAGE}\n`);
    return 2;
  }
  installSignalHandlers();
  const watchdog = setTimeout(() => {
    log(`run budget of ${settings.budgetMs / 1000} s exceeded; stopping`);
    void stopBlastRadius().finally(() => process.exit(3));
  }, settings.budgetMs);
  watchdog.unref();
  try {
    const result = await runBlastRadiusBenchmark(settings);
    printBlastResult(result);
    log(`wrote ${writeResult('blast-radius.json', result)}`);
    return result.phases.some((p) => p.failedTrials > 0) ? 1 : 0;
  } finally {
    clearTimeout(watchdog);
  }
}

if (import.meta.main) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(
        `bench/blast-radius: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}
