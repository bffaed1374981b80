// What moving the metrics onto prom-client costs (issue 12), measured against the hand-written exposition
// it replaced (taken from git at BASE_REF into a temp dir and run side by side in the same run):
//   - per request: the proxy's hot-path record() (plain array increments in both), and as a peer the
//     usual prom-client way, a labelled Counter.inc plus Histogram.observe per request;
//   - per scrape: rendering /metrics of the proxy (route x revision series) and of the controller
//     (Rollouts and AnalysisRuns in the cache), median over repeated renders;
//   - memory: RSS of a fresh controller-metrics process (500 Rollouts, 3 scrapes, after a GC), hand-written
//     vs prom-client (with its default Node metrics), interleaved child processes, medians.
// Prints markdown tables and writes bench/results/metrics.json.
//
//   node bench/metrics.ts [--quick]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Counter, Histogram, Registry } from 'prom-client';
import { fmt, fmtRatio, markdownTable } from './lib/table.ts';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The last commit with the hand-written exposition. */
const BASE_REF = '7099241';
const BASE_FILES = ['src/metrics/registry.ts', 'src/metrics/controller-metrics.ts', 'proxy/metrics.ts'];

const ROLLOUTS = 500;
const ANALYSIS_RUNS = 100;
const PROXY_SERIES = [40, 400];

interface Labels {
  app: string;
  namespace: string;
  role: string;
  revision: string;
}
interface ProxySeries {
  record(statusCode: number, method: string, latencyUs: number): void;
}
interface ProxyMetrics {
  series(labels: Labels): ProxySeries;
  render(): string | Promise<string>;
}
interface ProxyModule {
  PrometheusMetrics: new () => ProxyMetrics;
}
interface ControllerModule {
  createControllerMetrics(
    store: unknown,
    options: { version: string; defaultMetrics?: boolean },
  ): {
    rolloutReconcile: { observe(labels: Record<string, string>, v: number): void };
    expose(): string | Promise<string>;
  };
}

function seriesLabels(i: number): Labels {
  return {
    app: `app-${Math.floor(i / 2)}`,
    namespace: 'shop',
    role: i % 2 === 0 ? 'stable' : 'canary',
    revision: i % 2 === 0 ? '6f9c7d' : '84b2a1',
  };
}

/** A realistic mix per series: mostly GET 200, some 404/503, POST 200/201; latencies 0.5 ms to 2 s. */
function feedProxy(metrics: ProxyMetrics, seriesCount: number): void {
  const mix: [number, string][] = [
    [200, 'GET'],
    [200, 'GET'],
    [200, 'GET'],
    [404, 'GET'],
    [503, 'GET'],
    [200, 'POST'],
    [201, 'POST'],
  ];
  for (let i = 0; i < seriesCount; i++) {
    const series = metrics.series(seriesLabels(i));
    for (let r = 0; r < 400; r++) {
      const [status, method] = mix[r % mix.length]!;
      series.record(status, method, 500 + ((r * 7919) % 2_000_000));
    }
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function timeRenders(
  render: () => string | Promise<string>,
  runs: number,
): Promise<{ ms: number; bytes: number; samples: number }> {
  let text = await render();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    text = await render();
    times.push(performance.now() - t0);
  }
  const samples = text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
  return { ms: median(times), bytes: Buffer.byteLength(text), samples };
}

function recordNs(series: ProxySeries, calls: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) series.record(i % 50 === 0 ? 503 : 200, 'GET', 500 + (i % 100_000));
  return Number(process.hrtime.bigint() - t0) / calls;
}

function promClientPeerNs(calls: number): number {
  const registry = new Registry();
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'h',
    labelNames: ['app', 'namespace', 'role', 'revision', 'status', 'method'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'h',
    labelNames: ['app', 'namespace', 'role', 'revision'],
    buckets: [
      0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2,
      0.25, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 10,
    ],
    registers: [registry],
  });
  const labels = seriesLabels(0);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) {
    requests.inc({ ...labels, status: i % 50 === 0 ? '503' : '200', method: 'GET' });
    duration.observe(labels, (500 + (i % 100_000)) / 1e6);
  }
  return Number(process.hrtime.bigint() - t0) / calls;
}

async function seededStore() {
  const { createMemoryStore } = await import('../src/store/memory.ts');
  const store = createMemoryStore();
  for (let i = 0; i < ROLLOUTS; i++) {
    store.seed({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Rollout',
      metadata: { name: `web-${i}`, namespace: `team-${i % 20}` },
      spec: { replicas: 3, strategy: { canary: { trafficRouting: { nginx: { stableIngress: 'web' } } } } },
      status: {
        replicas: 3,
        availableReplicas: 3,
        updatedReplicas: 3,
        phase: 'Healthy',
        conditions: [{ type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }],
      },
    } as never);
  }
  for (let i = 0; i < ANALYSIS_RUNS; i++) {
    store.seed({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'AnalysisRun',
      metadata: { name: `web-${i}-run`, namespace: `team-${i % 20}` },
      spec: {
        metrics: [
          { name: 'success-rate', provider: { prometheus: { query: 'x' } } },
          { name: 'latency', provider: { prometheus: { query: 'y' } } },
        ],
      },
      status: { phase: 'Successful', metricResults: [{ name: 'success-rate', phase: 'Successful' }] },
    } as never);
  }
  return store;
}

async function controllerMetrics(mod: ControllerModule, defaultMetrics = true) {
  const metrics = mod.createControllerMetrics(await seededStore(), { version: 'bench', defaultMetrics });
  for (let i = 0; i < ROLLOUTS; i++)
    metrics.rolloutReconcile.observe({ namespace: `team-${i % 20}`, name: `web-${i}` }, 0.02);
  return metrics;
}

type RssVariant = 'none' | 'base' | 'current-no-defaults' | 'current';

/** Child mode: one controller-metrics process; prints its RSS after 3 scrapes and a GC. */
async function rssChild(which: RssVariant, baseDir: string): Promise<void> {
  let keep: unknown;
  if (which !== 'none') {
    const mod = (await import(
      pathToFileURL(join(which === 'base' ? baseDir : REPO_ROOT, 'src/metrics/controller-metrics.ts')).href
    )) as ControllerModule;
    const metrics = await controllerMetrics(mod, which !== 'current-no-defaults');
    for (let i = 0; i < 3; i++) await metrics.expose();
    keep = metrics;
  } else {
    keep = await seededStore();
  }
  await new Promise((r) => setTimeout(r, 200));
  (globalThis as { gc?: () => void }).gc?.();
  process.stdout.write(
    `${JSON.stringify({ rss: process.memoryUsage.rss(), heap: process.memoryUsage().heapUsed, kept: keep !== undefined })}\n`,
  );
}

function extractBase(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-metrics-base-'));
  for (const file of BASE_FILES) {
    const text = execFileSync('git', ['show', `${BASE_REF}:${file}`], { cwd: REPO_ROOT, encoding: 'utf8' });
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  return dir;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--rss-child') return rssChild(args[1] as RssVariant, args[2]!);
  const quick = args.includes('--quick');
  const baseDir = extractBase();
  try {
    const base = {
      proxy: (await import(pathToFileURL(join(baseDir, 'proxy/metrics.ts')).href)) as ProxyModule,
      controller: (await import(
        pathToFileURL(join(baseDir, 'src/metrics/controller-metrics.ts')).href
      )) as ControllerModule,
    };
    const current = {
      proxy: (await import('../proxy/metrics.ts')) as unknown as ProxyModule,
      controller: (await import('../src/metrics/controller-metrics.ts')) as unknown as ControllerModule,
    };
    const runs = quick ? 20 : 100;
    const calls = quick ? 500_000 : 3_000_000;

    // Per request, interleaved rounds: base, current, peer.
    const perRequest = { base: [] as number[], current: [] as number[], peer: [] as number[] };
    for (let round = 0; round < 5; round++) {
      perRequest.base.push(recordNs(new base.proxy.PrometheusMetrics().series(seriesLabels(0)), calls));
      perRequest.current.push(recordNs(new current.proxy.PrometheusMetrics().series(seriesLabels(0)), calls));
      perRequest.peer.push(promClientPeerNs(calls / 5));
    }
    const hot = {
      baseNs: median(perRequest.base),
      currentNs: median(perRequest.current),
      promClientLabelledNs: median(perRequest.peer),
    };

    const scrapes: {
      target: string;
      series: string;
      samples: number;
      baseMs: number;
      currentMs: number;
      bytes: number;
    }[] = [];
    for (const n of PROXY_SERIES) {
      const b = new base.proxy.PrometheusMetrics();
      const c = new current.proxy.PrometheusMetrics();
      feedProxy(b, n);
      feedProxy(c, n);
      const rb = await timeRenders(() => b.render(), runs);
      const rc = await timeRenders(() => c.render(), runs);
      scrapes.push({
        target: 'proxy',
        series: `${n} route x revision`,
        samples: rc.samples,
        baseMs: rb.ms,
        currentMs: rc.ms,
        bytes: rc.bytes,
      });
    }
    {
      const b = await controllerMetrics(base.controller);
      const c = await controllerMetrics(current.controller);
      const rb = await timeRenders(() => b.expose(), Math.ceil(runs / 4));
      const rc = await timeRenders(() => c.expose(), Math.ceil(runs / 4));
      scrapes.push({
        target: 'controller',
        series: `${ROLLOUTS} Rollouts, ${ANALYSIS_RUNS} AnalysisRuns`,
        samples: rc.samples,
        baseMs: rb.ms,
        currentMs: rc.ms,
        bytes: rc.bytes,
      });
    }

    const rss: Record<RssVariant, number[]> = { none: [], base: [], 'current-no-defaults': [], current: [] };
    for (let round = 0; round < (quick ? 2 : 5); round++) {
      for (const which of ['none', 'base', 'current-no-defaults', 'current'] as const) {
        const child = spawnSync(
          process.execPath,
          [
            '--expose-gc',
            '--max-semi-space-size=2',
            fileURLToPath(import.meta.url),
            '--rss-child',
            which,
            baseDir,
          ],
          { encoding: 'utf8', cwd: REPO_ROOT },
        );
        if (child.status !== 0) throw new Error(`rss child ${which} failed: ${child.stderr}`);
        rss[which].push((JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { rss: number }).rss);
      }
    }
    const memory = {
      noneRss: median(rss.none),
      baseRss: median(rss.base),
      currentNoDefaultsRss: median(rss['current-no-defaults']),
      currentRss: median(rss.current),
    };

    const hotTable = markdownTable(
      [
        { header: 'per request', cell: (r: { name: string; ns: number }) => r.name },
        { header: 'ns/request', align: 'right', cell: (r) => fmt(r.ns, 1) },
        { header: 'vs hand-written', align: 'right', cell: (r) => fmtRatio(r.ns / hot.baseNs) },
      ],
      [
        { name: 'hand-written record() (before)', ns: hot.baseNs },
        { name: 'record(), exposed by prom-client collectors (now)', ns: hot.currentNs },
        { name: 'peer: prom-client labelled Counter.inc + Histogram.observe', ns: hot.promClientLabelledNs },
      ],
    );
    const scrapeTable = markdownTable(
      [
        { header: '/metrics of', cell: (r: (typeof scrapes)[number]) => `${r.target}: ${r.series}` },
        { header: 'samples', align: 'right', cell: (r) => fmt(r.samples) },
        { header: 'KiB', align: 'right', cell: (r) => fmt(r.bytes / 1024) },
        { header: 'hand-written ms', align: 'right', cell: (r) => fmt(r.baseMs, 2) },
        { header: 'prom-client ms', align: 'right', cell: (r) => fmt(r.currentMs, 2) },
        { header: 'ratio', align: 'right', cell: (r) => fmtRatio(r.currentMs / r.baseMs) },
      ],
      scrapes,
    );
    const mib = (b: number) => fmt(b / 1024 / 1024, 1);
    const memoryTable = markdownTable(
      [
        {
          header: 'controller-metrics process (500 Rollouts)',
          cell: (r: { name: string; rss: number }) => r.name,
        },
        { header: 'RSS MiB', align: 'right', cell: (r) => mib(r.rss) },
        {
          header: 'vs hand-written MiB',
          align: 'right',
          cell: (r) => (r.rss === memory.baseRss ? '—' : mib(r.rss - memory.baseRss)),
        },
      ],
      [
        { name: 'store only, no metrics', rss: memory.noneRss },
        { name: 'hand-written registry (before)', rss: memory.baseRss },
        { name: 'prom-client registry, no default metrics', rss: memory.currentNoDefaultsRss },
        { name: 'prom-client registry + default Node metrics (now)', rss: memory.currentRss },
      ],
    );
    process.stdout.write(`${hotTable}\n\n${scrapeTable}\n\n${memoryTable}\n`);
    const { machineInfo, writeResult } = await import('./lib/results.ts');
    const path = writeResult('metrics.json', {
      benchmark: 'metrics',
      machine: machineInfo(),
      settings: { quick, baseRef: BASE_REF, renders: runs, recordCalls: calls },
      perRequest: hot,
      scrapes,
      memory,
      tables: { perRequest: hotTable, scrape: scrapeTable, memory: memoryTable },
    });
    process.stdout.write(`wrote ${path}\n`);
  } finally {
    rmSync(baseDir, { recursive: true, force: true });
  }
}

await main();
