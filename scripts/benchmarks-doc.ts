// docs/benchmarks.md is generated from bench/results/*.json: one section per results file, headed by the
// date and machine its run recorded, with the tables the benchmark itself prints (rendered by the bench's
// own code where it exports it, so the page and the terminal never disagree). Numbers live only in the
// JSON; this file holds the words around them.
//
//   node scripts/benchmarks-doc.ts           writes docs/benchmarks.md
//   node scripts/benchmarks-doc.ts --check   exits 1, naming the file, when docs/benchmarks.md differs
//                                            from what it would write (run in `npm run check`)
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ExpressionRow, expressionTable } from '../bench/analysis.ts';
import type { JudgeBenchResult } from '../bench/judge.ts';
import {
  type BlastPhase,
  blastTable,
  breakdownTable,
  type FalseAlarmResult,
  falseAlarmTable,
  lagTable,
  pushTable,
  targetTable,
} from '../bench/lib/blast-tables.ts';
import {
  type CommandLatency,
  commandLatencyTable,
  type ReconcileLatency,
  type ResourceWindow,
  reconcileTable as renderReconcileTable,
  resourceTable as renderResourceTable,
} from '../bench/lib/controller-tables.ts';
import type { PushResult } from '../bench/lib/push-fanout.ts';
import type { TargetCheck, TargetSummary } from '../bench/lib/summary.ts';
import { fmt, fmtMiB, markdownTable } from '../bench/lib/table.ts';
import {
  type MemoryReading,
  type MemoryTargetCheck,
  memoryTable,
  targetsTable,
} from '../bench/proxy-memory.ts';
import { renderTables } from '../bench/proxy-throughput.ts';
import { renderWeightTables } from '../bench/weights.ts';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');
export const DOC_PATH = join(REPO_ROOT, 'docs', 'benchmarks.md');

type Json = Record<string, unknown>;

/** One results file, parsed. */
export interface ResultsFile {
  /** File name inside bench/results/, e.g. `proxy.json`. */
  readonly name: string;
  readonly value: Json;
}

/** Date and machine of a run: `machine` (bench/lib/results.ts) or, in analysis.json, the top level. */
export interface RunMachine {
  readonly date: string;
  readonly node: string;
  readonly nproc: number;
  readonly cpuModel: string;
  readonly kernel?: string;
}

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A field the renderer needs; the error names the file and the field path. */
function field<T>(file: string, obj: Json, path: string, check: (v: unknown) => boolean): T {
  let value: unknown = obj;
  for (const key of path.split('.')) value = isRecord(value) ? value[key] : undefined;
  if (!check(value)) throw new Error(`bench/results/${file}: ${path}: missing or of the wrong type`);
  return value as T;
}

const isString = (v: unknown): boolean => typeof v === 'string';
const isNumber = (v: unknown): boolean => typeof v === 'number';
const isArray = (v: unknown): boolean => Array.isArray(v);

export function machineOf(file: ResultsFile): RunMachine {
  const source = isRecord(file.value.machine) ? file.value.machine : file.value;
  const kernel = source.kernel;
  return {
    date: field<string>(file.name, source, 'date', isString),
    node: field<string>(file.name, source, 'node', isString),
    nproc: field<number>(file.name, source, 'nproc', isNumber),
    cpuModel: field<string>(file.name, source, 'cpuModel', isString),
    ...(typeof kernel === 'string' ? { kernel } : {}),
  };
}

/** `2026-11-22 02:03 UTC, 2 CPUs (Intel(R) Xeon(R) Processor), Node v24.21.0, Linux 6.18.44`. */
export function machineLine(m: RunMachine): string {
  const when = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(m.date);
  const date = when ? `${when[1]} ${when[2]} UTC` : m.date;
  const kernel = m.kernel === undefined ? '' : `, Linux ${m.kernel}`;
  return `Run: ${date}, ${m.nproc} CPUs (${m.cpuModel}), Node ${m.node}${kernel}.`;
}

function isQuick(file: ResultsFile): boolean {
  return isRecord(file.value.settings) && file.value.settings.quick === true;
}

function runHeader(file: ResultsFile): string {
  const quick = isQuick(file) ? ' A quick run (small counts): compare within the run only.' : '';
  return `${machineLine(machineOf(file))}${quick} Source: \`bench/results/${file.name}\`.`;
}

function passText(pass: boolean | undefined): string {
  if (pass === undefined) return 'n/a';
  return pass ? 'pass' : 'FAIL';
}

// ---- one renderer per results file -------------------------------------------------------------------

function renderProxy(file: ResultsFile): string[] {
  const v = file.value;
  const settings = field<Parameters<typeof renderTables>[1]>(file.name, v, 'settings', isRecord);
  const summary = field<TargetSummary[]>(file.name, v, 'summary', isArray);
  const checks = field<TargetCheck[]>(file.name, v, 'sluiceTargets', isArray);
  const skipped = field<{ name: string; reason: string }[]>(file.name, v, 'skipped', isArray);
  const peers = [
    field<string>(file.name, v, 'machine.nginx', isString),
    field<string>(file.name, v, 'machine.haproxy', isString),
  ];
  const tables = renderTables(summary, settings);
  const workers = file.name === 'proxy-workers.json';
  return [
    workers ? '## Proxy on all cores: 1 and N workers' : '## Proxy throughput, latency and memory',
    runHeader(file),
    ...(workers
      ? [
          `\`sluice-workers\` is \`sluice proxy --workers ${fmt(Number(settings.workers))}\` and \`nginx-workers\` ` +
            `nginx with \`worker_processes ${fmt(Number(settings.workers))}\`; their "vs nginx" ratios are to ` +
            "`nginx-workers`, the other rows' to `nginx` (one worker). CPU is of the whole process tree (primary " +
            'and workers). The load generator runs on the same cores, so N workers compete with it.',
        ]
      : []),
    ...loadNote(v.loadAverage),
    `Peers: ${peers.join('; ')}. ${settings.targets.join(', ')} in front of one shared backend, ` +
      `${settings.rounds} interleaved round(s), medians across rounds (\`bench/proxy-throughput.ts\`).`,
    `### ${settings.connections} connections, CPU per request over ${fmt(settings.amount)} requests`,
    tables.throughput,
    `### Fixed rate: ${fmt(settings.rateReqPerSec)} req/s for ${fmt(settings.rateDurationMs / 1000)} s`,
    tables.rate,
    '### Sluice against its targets',
    markdownTable(
      [
        { header: 'target', cell: (c: TargetCheck) => c.name },
        { header: 'bound', cell: (c) => c.target },
        { header: 'measured', cell: (c) => c.measured },
        { header: 'result', cell: (c) => passText(c.pass) },
      ],
      checks,
    ),
    ...skipped.map((s) => `Skipped ${s.name}: ${s.reason.split('\n')[0]}`),
  ];
}

/** The run's load average, when the results file recorded it (runs since the workers benchmark). */
function loadNote(value: unknown): string[] {
  if (!isRecord(value) || typeof value.start !== 'number' || typeof value.end !== 'number') return [];
  return [
    `Load average (1 min) ${value.start.toFixed(1)} when the run started and ${value.end.toFixed(1)} when it ` +
      'ended: other work shared the cores, so the figures are rough; compare within the run only.',
  ];
}

function renderProxyMemory(file: ResultsFile): string[] {
  const v = file.value;
  const readings = field<MemoryReading[]>(file.name, v, 'readings', isArray);
  const targets = field<MemoryTargetCheck[]>(file.name, v, 'targets', isArray);
  const load = field<number>(file.name, v, 'loadAverage1m', isNumber);
  const flags = field<string>(file.name, v, 'proxyExecArgv', isString);
  const env = field<string>(file.name, v, 'proxyEnv', isString);
  const churn = field<{ byKind: Record<string, number> }>(file.name, v, 'churn', isRecord);
  return [
    '## Proxy memory under load and hostile churn',
    runHeader(file),
    `Load average (1 min) ${load.toFixed(1)} when the phase started: other work shared the cores. RSS is ` +
      'less sensitive to that than CPU, but the load and churn peaks depend on how fast the clients got through. ' +
      '`sluice proxy` as published (the tsc build, `node dist/src/cli/main.js proxy`), one process, in front of ' +
      'the shared backend (`bench/proxy-memory.ts`). RSS is VmRSS; anon is RssAnon (V8 heap, malloc, stacks), ' +
      'file is RssFile+RssShmem (mostly the pages of the node binary in use); the V8 heap in use is the ' +
      "proxy's `nodejs_heap_used_bytes`.",
    `The proxy process ran with Node flags \`${flags || 'none'}\` and ${env ? `\`${env}\`` : 'no malloc variables'}. ` +
      `The churn: ${Object.entries(churn.byKind)
        .map(([kind, n]) => `${fmt(n)} ${kind}`)
        .join(', ')}.`,
    memoryTable(readings),
    targetsTable(targets),
  ];
}

function renderWeights(file: ResultsFile): string[] {
  const v = file.value;
  type WeightsArgs = Parameters<typeof renderWeightTables>;
  const weights = field<WeightsArgs[0]>(file.name, v, 'weights', isArray);
  const sticky = field<WeightsArgs[1]>(file.name, v, 'sticky', isArray);
  const tables = renderWeightTables(weights, sticky);
  const skipped = typeof v.skipped === 'string' ? [`Skipped: ${v.skipped.split('\n')[0]}`] : [];
  return [
    '## Weight accuracy and sticky sessions',
    runHeader(file),
    'Sluice from a routes file with one route between `stable` and `canary` (`bench/weights.ts`). ' +
      'Weight accuracy: sequential requests on one connection, so arrival order is pick order; the target ' +
      'is an error of at most one request at every prefix. Sticky sessions: each client has its own cookie ' +
      'jar; then the canary weight is set to 0 in the routes file (abort) and every client sends once more.',
    '### Weight accuracy',
    tables.weights,
    '### Sticky sessions and abort',
    tables.sticky,
    ...skipped,
  ];
}

function judgeLines(file: string, judge: Json): string[] {
  const samples = field<number>(file, judge, 'samplesPerRevision', isNumber);
  const medianMs = field<number>(file, judge, 'judgeMedianMs', isNumber);
  const targetMs = field<number>(file, judge, 'targetMs', isNumber);
  const table = field<JudgeBenchResult['table']>(file, judge, 'table', isString);
  return [
    `\`sluice/judge\` on 2 x ${fmt(samples)} requests: median ${fmt(medianMs, 1)} ms (target < ${fmt(targetMs)} ms). ` +
      'The peer is the fixed-sample test Kayenta runs, a Mann-Whitney U, hand-written on the raw samples.',
    table,
  ];
}

/** `a || b` inside a table cell would split the cell: escape the pipes of code spans (GitHub renders `\|`). */
export function escapePipesInCode(table: string): string {
  return table.replace(/`[^`\n]*`/g, (span) => span.replace(/(?<!\\)\|/g, '\\|'));
}

function renderAnalysis(file: ResultsFile): string[] {
  const v = file.value;
  const rows = field<ExpressionRow[]>(file.name, v, 'expressions', isArray);
  const judge = field<Json>(file.name, v, 'judge', isRecord);
  return [
    '## Analysis: condition language and judge',
    runHeader(file),
    'Evaluations per second of representative `successCondition`s (`bench/analysis.ts`); the peer is the ' +
      'same condition hand-written in JavaScript, so "peer / compiled" says how many times slower than ' +
      'hand-written JS the interpreter is.',
    '### Condition language',
    escapePipesInCode(expressionTable(rows)),
    '### Judge',
    ...judgeLines(file.name, judge),
  ];
}

function renderJudge(file: ResultsFile): string[] {
  return ['## Judge (run on its own)', runHeader(file), ...judgeLines(file.name, file.value)];
}

/** How the controller reached the API server (settings.auth; runs before it existed used --kubeconfig). */
function startedAs(v: Json): string {
  const auth = isRecord(v.settings) ? v.settings.auth : undefined;
  if (auth === 'in-cluster') return 'started as the Deployment runs it (in-cluster service account)';
  if (auth === 'kubeconfig') return 'started with `--kubeconfig` (so `@kubernetes/client-node` loaded)';
  return 'started as the Deployment runs it';
}

// The three tables bench/controller.ts prints (same columns), rebuilt from its JSON.
function renderController(file: ResultsFile): string[] {
  const v = file.value;
  const rollouts = field<number>(file.name, v, 'settings.rollouts', isNumber);
  const sample = field<number>(file.name, v, 'settings.sample', isNumber);
  const idle = field<Record<string, ResourceWindow>>(file.name, v, 'resources.idle', isRecord);
  const steady = field<Record<string, ResourceWindow>>(file.name, v, 'resources.steady', isRecord);
  const rssAfter = field<number>(file.name, v, 'resources.controllerRssAfterUpdatesBytes', isNumber);
  const heap = field<number>(file.name, v, 'resources.controllerHeapUsedSteadyBytes', isNumber);
  const reconcile = field<Record<string, ReconcileLatency>>(file.name, v, 'reconcile', isRecord);
  const writes = field<Record<string, ReconcileLatency>>(file.name, v, 'apiWriteLatency', isRecord);
  const waits = field<Record<string, number>>(file.name, v, 'rateLimitWaitS', isRecord);
  const requests = field<Json>(file.name, v, 'apiRequests', isRecord);
  const byVerb = field<Record<string, Record<string, number>>>(
    file.name,
    v,
    'apiRequests.byVerbAndKind',
    isRecord,
  );
  const setImage = field<Record<string, CommandLatency>>(
    file.name,
    v,
    'setImageToFirstCanaryPodMs',
    isRecord,
  );
  const promote = field<Record<string, CommandLatency>>(file.name, v, 'promoteToNextStepMs', isRecord);
  const targets = field<Record<string, boolean>>(file.name, v, 'targets', isRecord);
  const healthy = field<number>(file.name, v, 'allHealthySecondsAfterFirstCreate', isNumber);
  const allHealthy = v.allHealthy === true;

  const resourceRows = Object.keys(steady).flatMap((name) => [
    ...(idle[name] ? [{ name, phase: 'idle (0 Rollouts)', w: idle[name] }] : []),
    { name, phase: `steady (${rollouts} Healthy)`, w: steady[name]! },
  ]);
  const resourceTable = renderResourceTable(resourceRows);
  const reconcileRows = [
    ...Object.entries(reconcile).map(([phase, r]) => ({ what: `reconciles: ${phase}`, r })),
    ...Object.entries(writes).map(([phase, r]) => ({ what: `API writes: ${phase}`, r })),
  ];
  const reconcileTable = renderReconcileTable(reconcileRows, 'during');
  const latencyTable = commandLatencyTable(setImage, promote);
  const requestText = (phase: string): string =>
    Object.entries(byVerb[phase] ?? {})
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${fmt(n)}`)
      .join(', ') || 'none';
  const yesNo = (b: boolean | undefined): string => (b === undefined ? 'n/a' : b ? 'yes' : 'no');
  return [
    '## Controller at scale',
    runHeader(file),
    `${fmt(rollouts)} canary Rollouts (1 replica each) created in the test cluster, one controller scoped to ` +
      `their namespace, ${startedAs(v)} (\`bench/controller.ts\`). All Healthy ` +
      `${fmt(healthy, 1)} s after the first create${allHealthy ? '' : ' (timed out)'}. API requests while ` +
      `converging: ${fmt(requests.convergence as number)} (${requestText('convergence')}); in the steady ` +
      `window: ${fmt(requests.steadyWindow as number)}; during the updates (set image and promote on ` +
      `${fmt(sample)} Rollouts): ${requestText('updates')}. Reconcile errors: ` +
      `${fmt(requests.reconcileErrors as number)}.`,
    '### Resources',
    `No Argo Rollouts controller runs beside it, so the reference points are the same cluster's ` +
      `kube-apiserver and etcd in the same windows. Controller RSS after the updates: ${fmtMiB(rssAfter)} ` +
      `MiB; V8 heap in use at the end of the steady window: ${fmtMiB(heap)} MiB.`,
    resourceTable,
    '### Reconcile and API write latency',
    'From the controller\'s histograms (PromQL-style interpolation; "≤" is the bucket bound). Seconds ' +
      `waited for the client rate limit (\`--qps\`): ${Object.entries(waits)
        .map(([phase, s]) => `${phase} ${fmt(s, 1)}`)
        .join(', ')}.`,
    reconcileTable,
    '### User-visible latency',
    latencyTable,
    `Targets recorded by the run: steady RSS under 150 MiB: ${yesNo(targets.rssUnder150MiB)}; reconcile p99 ` +
      `bucket bound (steady touches and updates) at most 50 ms: ${yesNo(targets.reconcileP99Under50ms)}.`,
  ];
}

// The tables bench/blast-radius.ts prints (bench/lib/blast-tables.ts), rebuilt from its JSON.
function renderBlastRadius(file: ResultsFile): string[] {
  const v = file.value;
  const rate = field<number>(file.name, v, 'settings.ratePerSec', isNumber);
  const phases = field<BlastPhase[]>(file.name, v, 'phases', isArray);
  const targets = field<TargetCheck[]>(file.name, v, 'targets', isArray);
  const loadStart = field<number[]>(file.name, v, 'loadAverage.start', isArray);
  const loadEnd = field<number[]>(file.name, v, 'loadAverage.end', isArray);
  const skipped =
    isRecord(v.cluster) && typeof v.cluster.skipped === 'string' ? v.cluster.skipped : undefined;
  const alarms = isRecord(v.falseAlarms) ? (v.falseAlarms as unknown as FalseAlarmResult) : undefined;
  const push = isRecord(v.push) ? (v.push as unknown as PushResult) : undefined;
  const notes = Array.isArray(v.notes) ? v.notes.filter((n): n is string => typeof n === 'string') : [];
  const loads = (l: number[]): string => l.map((x) => fmt(x, 2)).join(' ');
  const judge = phases.find((p) => p.analysis === 'sluice/judge');
  const prometheus = phases.find((p) => p.analysis === 'prometheus');
  return [
    '## Blast radius of a bad canary',
    runHeader(file),
    `On the test cluster (\`bench/blast-radius.ts\`): a \`sluice controller\` scoped to the bench namespace, ` +
      'one gateway Sluice proxy subscribed to it, a Rollout of 2 `sluice-demo` pods routed by `sluice/proxy` ' +
      '(steps: setWeight 5, pause) with background analysis, and ' +
      `${fmt(rate)} req/s paced open loop through the gateway. Each trial updates the Rollout to a new ` +
      '`sluice-demo:bad-N` answering every request 500. **Blast radius**: requests the bad version answered ' +
      "(by `x-demo-version`). **Time to verdict**: the canary's first request (send time) to the failing " +
      "measurement's `finishedAt`. **Abort latency**: that `finishedAt` to the gateway applying a snapshot with " +
      'canary weight 0 (stamped in process). **Exposure**: first canary request to weight 0. Percentiles are ' +
      `nearest rank (p99 of 20 trials is the largest). Load average (1, 5, 15 min): ${loads(loadStart)} at ` +
      `the start, ${loads(loadEnd)} at the end; the machine's two cores also run the API server, etcd, the ` +
      'pod simulator, the controller and the load generator.',
    ...(skipped ? [`Cluster phases skipped: ${skipped}.`] : []),
    ...(phases.length
      ? [
          '### Bad canary',
          `The judge: \`sluice/judge\` on error-rate and latency (stable's p95), alpha 0.05, interval 10s, ` +
            'failureLimit 0, canary and baseline from `podTemplateHashValue` Latest and Stable; it also answers ' +
            "between ticks when proxy reports arrive (early verdicts). The reference, the guides' way: " +
            "Prometheus scraping the gateway's `/metrics` every 5 s, the guides' error-rate query " +
            '(`test/fixtures/guides/http-kpi-analysis-template.yaml`) on the canary revision, `result[0] < 0.01`, ' +
            'interval 10s, failureLimit 0' +
            (prometheus && judge && prometheus.trialsPlanned < judge.trialsPlanned
              ? `, with fewer trials (${prometheus.trialsPlanned}: each takes about 15 s).`
              : '.'),
          blastTable(phases),
          'Where the time goes. "Other failed requests" are requests that failed without the bad version ' +
            'answering them (503, refused, timeout) over all trials of the row.',
          breakdownTable(phases),
          'The judge per gateway. A proxy cuts its histograms into intervals as long as its report ' +
            'interval, aligned to the clock, and the judge decides on finished intervals; the report lag is ' +
            'how long after an interval ends the gateway collected it for a report (from its report ticks), ' +
            'which adds to every verdict. Each judge phase spreads its trials over 4 gateways started at ' +
            'evenly spaced phases, and each trial waits (n x golden ratio mod 1) x 1 s more before its ' +
            'update, so canary starts fall evenly over the interval.',
          lagTable(phases),
        ]
      : []),
    ...(alarms
      ? [
          '### False alarms',
          `Healthy canaries (\`sluice-demo:good-N\`, identical to stable) under the same judge for ${fmt(alarms.windowS)} s ` +
            'each from the moment the gateway routes to them, then aborted by hand. The last column is the ' +
            'probability of seeing at least as many aborts if each trial aborted with probability alpha: with ' +
            'this few trials only a rate far above alpha would show.',
          falseAlarmTable(alarms),
        ]
      : []),
    ...(push
      ? [
          `### Push to ${fmt(push.proxies)} proxies`,
          "No cluster: the controller's `ControlServer` with a `RouteTable` in one thread and " +
            `${fmt(push.proxies)} real control clients (\`proxy/control/client.ts\`, each validating the snapshot ` +
            `before its ACK) in a worker thread, all on one route. ${fmt(push.changes)} weight changes (5% and 0 ` +
            `alternately) after ${fmt(push.warmupChanges)} unmeasured ones, each published once all proxies ACKed ` +
            `the previous, ${fmt(push.gapMs)} ms apart; measured from just before \`publish()\`.`,
          pushTable(push),
        ]
      : []),
    '### Against the targets',
    targetTable(targets),
    ...notes.map((n) => `Note: ${n}`),
  ];
}

/** A results file no renderer knows: its run header and whatever tables it stored. */
function renderOther(file: ResultsFile): string[] {
  const v = file.value;
  const stored = [
    ...(typeof v.table === 'string' ? [v.table] : []),
    ...(isRecord(v.tables) ? Object.values(v.tables).filter((t): t is string => typeof t === 'string') : []),
  ];
  return [
    `## ${file.name}`,
    runHeader(file),
    ...(stored.length > 0
      ? stored
      : ['This file stores no table and scripts/benchmarks-doc.ts has no renderer for it yet.']),
  ];
}

const RENDERERS: Readonly<Record<string, (file: ResultsFile) => string[]>> = {
  'proxy.json': renderProxy,
  'proxy-workers.json': renderProxy,
  'proxy-memory.json': renderProxyMemory,
  'weights.json': renderWeights,
  'analysis.json': renderAnalysis,
  'judge.json': renderJudge,
  'controller.json': renderController,
  'blast-radius.json': renderBlastRadius,
};

const HEADER = [
  '# Benchmarks',
  '<!-- GENERATED by `node scripts/benchmarks-doc.ts` from bench/results/*.json. Do not edit: run a ' +
    'benchmark, then the script; `npm run check` fails when this page and the JSON disagree. -->',
  'Each section is one results file in [`bench/results/`](../bench/results/), with the date and machine ' +
    'its run recorded. Figures move with the machine and with whatever else shares its cores: compare ' +
    'within one run (the ratios to peers are measured in the same run), not across sections or machines. ' +
    'How each benchmark measures, its flags and its peers: [`bench/README.md`](../bench/README.md).',
  '```sh\n' +
    'npm run bench                  # proxy, weights and blast radius (needs: apt-get install -y nginx haproxy)\n' +
    'node bench/blast-radius.ts     # a bad canary on the test cluster; push to 100 proxies\n' +
    'node bench/analysis.ts         # condition language and judge\n' +
    'node bench/controller.ts       # 500 Rollouts on the test cluster\n' +
    'node scripts/benchmarks-doc.ts # then regenerate this page\n' +
    '```',
];

/** Known files first in a fixed order, then any others by name. */
function order(files: readonly ResultsFile[]): ResultsFile[] {
  const known = Object.keys(RENDERERS);
  const rank = (name: string): number => {
    const i = known.indexOf(name);
    return i === -1 ? known.length : i;
  };
  return [...files].sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
}

export function renderBenchmarksDoc(files: readonly ResultsFile[]): string {
  const sections = order(files).map((file) => (RENDERERS[file.name] ?? renderOther)(file).join('\n\n'));
  const none = files.length === 0 ? ['No results yet: bench/results/ holds no JSON file.'] : [];
  return `${[...HEADER, ...none, ...sections].join('\n\n')}\n`;
}

export function readResults(dir = RESULTS_DIR): ResultsFile[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => {
      const value: unknown = JSON.parse(readFileSync(join(dir, name), 'utf8'));
      if (!isRecord(value)) throw new Error(`bench/results/${name}: expected a JSON object`);
      return { name, value };
    });
}

/** Writes the page, or with `check` compares it; returns the exit code and what to print. */
export function run(
  args: readonly string[],
  paths = { results: RESULTS_DIR, doc: DOC_PATH },
): { code: number; message: string } {
  const expected = renderBenchmarksDoc(readResults(paths.results));
  const docName = relative(REPO_ROOT, paths.doc) || paths.doc;
  if (args.includes('--check')) {
    let actual: string | undefined;
    try {
      actual = readFileSync(paths.doc, 'utf8');
    } catch {
      actual = undefined;
    }
    if (actual === expected) return { code: 0, message: '' };
    return {
      code: 1,
      message: `${docName} is ${actual === undefined ? 'missing' : 'out of date with bench/results/*.json'}: run \`node scripts/benchmarks-doc.ts\` and commit it\n`,
    };
  }
  writeFileSync(paths.doc, expected);
  return { code: 0, message: `wrote ${docName}\n` };
}

if (import.meta.main) {
  const { code, message } = run(process.argv.slice(2));
  (code === 0 ? process.stdout : process.stderr).write(message);
  process.exitCode = code;
}
