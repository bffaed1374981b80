// The side-by-side proxy benchmark of issue 2: the backend direct, Sluice, nginx, HAProxy and
// node-http-proxy in front of one shared backend (and Sluice with that backend given as two endpoints,
// the shared one and a second, to price the endpoint pick), measured in interleaved rounds (A B C D E, then
// again) so drift on a shared machine hits every target alike; medians across rounds.
//
// Per target and round: a warm-up, then a closed-loop run of a FIXED request count at `connections`
// (requests/s, p50/p99, errors, CPU time of the target's process tree from /proc around the count,
// peak RSS sampled every 200 ms), then a run at `rssConnections` for peak RSS. A second phase sends
// a fixed rate (default 2,000 req/s) for a fixed duration: p99 and the p99 added over direct.
// Writes bench/results/proxy.json and prints markdown tables with ratios to nginx.
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { type LoadResult, runClosedLoop, runPaced } from './lib/load.ts';
import { clockTicksPerSecond, cpuUsPerRequest, readTreeCpuTicks, startRssSampler } from './lib/proc.ts';
import { installSignalHandlers, makeTempDir, stopAll, stopProcess } from './lib/processes.ts';
import { type MachineInfo, machineInfo, writeResult } from './lib/results.ts';
import { type BenchSettings, parseSettings, USAGE } from './lib/settings.ts';
import {
  checkTargets,
  type RateRound,
  summarize,
  type TargetCheck,
  type TargetRounds,
  type TargetSummary,
  type ThroughputRound,
} from './lib/summary.ts';
import { fmt, fmtMiB, fmtMsFromUs, fmtRatio, markdownTable } from './lib/table.ts';
import {
  type Backend,
  directTarget,
  ENDPOINT_TARGETS,
  type RunningTarget,
  type StartResult,
  sluiceRoutesYaml,
  startBackend,
  startHaproxy,
  startNginx,
  startNodeHttpProxy,
  startSluice,
  type TargetName,
} from './lib/targets.ts';

export interface ProxyBenchResult {
  benchmark: 'proxy';
  machine: MachineInfo;
  settings: BenchSettings;
  skipped: { name: TargetName; reason: string }[];
  summary: TargetSummary[];
  sluiceTargets: TargetCheck[] | null;
  rounds: TargetRounds[];
  tables: { throughput: string; rate: string };
  /** The machine's 1-minute load average when the run started and ended: how busy the cores were. */
  loadAverage?: { start: number; end: number };
}

const RATE_WARMUP_MS = 1_000;

function log(message: string): void {
  process.stdout.write(`${message}\n`);
}

async function startTarget(
  name: TargetName,
  dir: string,
  backend: Backend,
  second: Backend | null,
  workers: number,
): Promise<StartResult> {
  switch (name) {
    case 'direct':
      return { ok: true, target: directTarget(backend) };
    case 'sluice':
    case 'sluice-baseline':
    case 'sluice-workers': {
      const routesPath = join(dir, 'routes.yaml');
      writeFileSync(
        routesPath,
        sluiceRoutesYaml({
          routeName: 'bench',
          backends: [{ name: 'stable', url: backend.url, weight: 100 }],
        }),
      );
      return startSluice(dir, routesPath, 'data', name, name === 'sluice-workers' ? workers : 1);
    }
    case 'sluice-endpoints':
    case 'sluice-endpoints-rr': {
      // The same route with its backend given as two pods: the shared backend and a second one.
      const routesPath = join(dir, `${name}.yaml`);
      writeFileSync(
        routesPath,
        sluiceRoutesYaml({
          routeName: 'bench',
          backends: [{ name: 'stable', urls: [backend.url, second!.url], weight: 100 }],
          endpointPolicy: name === 'sluice-endpoints' ? 'least-outstanding' : 'round-robin',
        }),
      );
      return startSluice(dir, routesPath, 'data', name);
    }
    case 'nginx':
      return startNginx(dir, backend);
    case 'nginx-workers':
      return startNginx(dir, backend, workers, name);
    case 'haproxy':
      return startHaproxy(dir, backend);
    case 'node-http-proxy':
      return startNodeHttpProxy(dir, backend);
  }
}

function maxDurationMs(amount: number): number {
  // Generous: a target slower than 300 req/s is broken, not slow.
  return 10_000 + Math.ceil((amount / 300) * 1000);
}

function alive(target: RunningTarget): boolean {
  return target.owned.every((p) => !p.hasExited());
}

async function measureThroughput(target: RunningTarget, settings: BenchSettings, round: number) {
  await runClosedLoop({
    url: target.url,
    connections: settings.connections,
    amount: settings.warmupAmount,
    maxDurationMs: maxDurationMs(settings.warmupAmount),
  });
  const sampler = startRssSampler(target.pid);
  const ticksBefore = readTreeCpuTicks(target.pid);
  const main = await runClosedLoop({
    url: target.url,
    connections: settings.connections,
    amount: settings.amount,
    maxDurationMs: maxDurationMs(settings.amount),
  });
  const ticksAfter = readTreeCpuTicks(target.pid);
  const peakRssBytes = sampler.stop();
  const highSampler = startRssSampler(target.pid);
  const high = await runClosedLoop({
    url: target.url,
    connections: settings.rssConnections,
    amount: settings.rssAmount,
    maxDurationMs: maxDurationMs(settings.rssAmount),
  });
  const peakRssBytesHighConnections = highSampler.stop();
  const cpuTicks = ticksAfter - ticksBefore;
  const result: ThroughputRound = {
    round,
    requestsPerSec: main.requestsPerSec,
    p50Us: main.p50Us,
    p99Us: main.p99Us,
    errors: main.errors,
    responses: main.responses,
    cpuTicks,
    cpuUsPerRequest: cpuUsPerRequest(cpuTicks, main.responses, clockTicksPerSecond()),
    peakRssBytes,
    peakRssBytesHighConnections,
    errorsHighConnections: high.errors,
  };
  return result;
}

async function measureRate(
  target: RunningTarget,
  settings: BenchSettings,
  round: number,
): Promise<RateRound> {
  const ticksBefore = readTreeCpuTicks(target.pid);
  const r: LoadResult = await runPaced({
    url: target.url,
    ratePerSec: settings.rateReqPerSec,
    durationMs: settings.rateDurationMs,
    warmupMs: RATE_WARMUP_MS,
    connections: settings.rateConnections,
  });
  const ticks = readTreeCpuTicks(target.pid) - ticksBefore;
  return {
    round,
    requestsPerSec: r.requestsPerSec,
    p50Us: r.p50Us,
    p99Us: r.p99Us,
    errors: r.errors,
    responses: r.responses,
    // The CPU window includes the warm-up requests.
    cpuUsPerRequest: cpuUsPerRequest(
      ticks,
      r.responses + Math.round((settings.rateReqPerSec * RATE_WARMUP_MS) / 1000),
      clockTicksPerSecond(),
    ),
  };
}

export function renderTables(
  summary: readonly TargetSummary[],
  settings: BenchSettings,
): ProxyBenchResult['tables'] {
  const throughput = markdownTable(
    [
      { header: 'target', cell: (s: TargetSummary) => s.name },
      { header: 'req/s', align: 'right', cell: (s) => fmt(s.requestsPerSec) },
      { header: 'p50 ms', align: 'right', cell: (s) => fmtMsFromUs(s.p50Us) },
      { header: 'p99 ms', align: 'right', cell: (s) => fmtMsFromUs(s.p99Us) },
      { header: 'errors', align: 'right', cell: (s) => fmt(s.errors) },
      { header: 'CPU µs/req', align: 'right', cell: (s) => fmt(s.cpuUsPerRequest, 1) },
      { header: 'CPU vs nginx', align: 'right', cell: (s) => fmtRatio(s.cpuVsNginx) },
      { header: 'p99 vs nginx', align: 'right', cell: (s) => fmtRatio(s.p99VsNginx) },
      { header: `RSS MiB @${settings.connections}`, align: 'right', cell: (s) => fmtMiB(s.peakRssBytes) },
      {
        header: `RSS MiB @${settings.rssConnections}`,
        align: 'right',
        cell: (s) => fmtMiB(s.peakRssBytesHighConnections),
      },
    ],
    summary,
  );
  const rate = markdownTable(
    [
      { header: 'target', cell: (s: TargetSummary) => s.name },
      { header: 'p50 ms', align: 'right', cell: (s) => fmtMsFromUs(s.rateP50Us) },
      { header: 'p99 ms', align: 'right', cell: (s) => fmtMsFromUs(s.rateP99Us) },
      { header: 'p99 added over direct ms', align: 'right', cell: (s) => fmtMsFromUs(s.rateP99AddedUs) },
      { header: 'p99 minus nginx ms', align: 'right', cell: (s) => fmtMsFromUs(s.rateP99MinusNginxUs) },
      { header: 'p99 vs nginx', align: 'right', cell: (s) => fmtRatio(s.rateP99VsNginx) },
      { header: 'CPU µs/req', align: 'right', cell: (s) => fmt(s.rateCpuUsPerRequest, 1) },
    ],
    summary,
  );
  return { throughput, rate };
}

export async function runProxyBenchmark(settings: BenchSettings): Promise<ProxyBenchResult> {
  const machine = machineInfo();
  const loadAtStart = loadavg()[0]!;
  log(`# Proxy benchmark (${settings.quick ? 'quick' : 'full'})`);
  log(
    `node ${machine.node}, ${machine.nproc} CPUs (${machine.cpuModel}), ${machine.nginx}, ${machine.haproxy}; ` +
      `${settings.rounds} round(s), ${settings.amount} requests at ${settings.connections} connections, ` +
      `RSS at ${settings.rssConnections}, ${settings.rateReqPerSec} req/s for ${settings.rateDurationMs} ms`,
  );
  const dir = makeTempDir('proxy');
  const backend = await startBackend(dir);
  // A second backend only when a target spreads over two endpoints; other runs are as before.
  const second = settings.targets.some((t) => ENDPOINT_TARGETS.includes(t))
    ? await startBackend(dir, 'backend-2')
    : null;
  const running: RunningTarget[] = [];
  const skipped: ProxyBenchResult['skipped'] = [];
  const rounds = new Map<TargetName, TargetRounds>();
  try {
    for (const name of settings.targets) {
      const started = await startTarget(name, dir, backend, second, settings.workers);
      if (started.ok) {
        running.push(started.target);
        rounds.set(name, { name, throughput: [], rate: [] });
        log(`started ${name} at ${started.target.url} (pid ${started.target.pid})`);
      } else {
        skipped.push({ name, reason: started.reason });
        log(`SKIPPED ${name}: ${started.reason}`);
      }
    }
    const measurable = (t: RunningTarget): boolean => {
      if (alive(t)) return true;
      if (!skipped.some((s) => s.name === t.name)) {
        skipped.push({ name: t.name, reason: 'process exited during the benchmark' });
        log(`${t.name} exited during the benchmark; no further rounds`);
      }
      return false;
    };
    for (let round = 1; round <= settings.rounds; round++) {
      for (const target of running) {
        if (!measurable(target)) continue;
        const r = await measureThroughput(target, settings, round);
        rounds.get(target.name)!.throughput.push(r);
        log(
          `round ${round} ${target.name}: ${fmt(r.requestsPerSec)} req/s, p99 ${fmtMsFromUs(r.p99Us)} ms, ` +
            `${fmt(r.cpuUsPerRequest, 1)} µs CPU/req, RSS ${fmtMiB(r.peakRssBytes)}/${fmtMiB(r.peakRssBytesHighConnections)} MiB, ` +
            `errors ${r.errors + r.errorsHighConnections}`,
        );
      }
    }
    for (let round = 1; round <= settings.rounds; round++) {
      for (const target of running) {
        if (!measurable(target)) continue;
        const r = await measureRate(target, settings, round);
        rounds.get(target.name)!.rate.push(r);
        log(
          `rate round ${round} ${target.name}: ${fmt(r.requestsPerSec)} req/s, p50 ${fmtMsFromUs(r.p50Us)} ms, ` +
            `p99 ${fmtMsFromUs(r.p99Us)} ms, errors ${r.errors}`,
        );
      }
    }
  } finally {
    for (const t of running) for (const p of t.owned) await stopProcess(p);
    await stopProcess(backend.process);
    if (second !== null) await stopProcess(second.process);
  }
  const allRounds = [...rounds.values()].filter((r) => r.throughput.length > 0);
  const summary = summarize(allRounds);
  const sluice = summary.find((s) => s.name === 'sluice');
  const tables = renderTables(summary, settings);
  return {
    benchmark: 'proxy',
    machine,
    settings,
    skipped,
    summary,
    sluiceTargets: sluice ? checkTargets(sluice) : null,
    rounds: allRounds,
    tables,
    loadAverage: { start: loadAtStart, end: loadavg()[0]! },
  };
}

export function printProxyResult(result: ProxyBenchResult): void {
  log('');
  log(
    `## Throughput: ${result.settings.connections} connections, CPU over ${result.settings.amount} requests (median of ${result.settings.rounds})`,
  );
  log('');
  log(result.tables.throughput);
  log('');
  log(`## Fixed rate: ${result.settings.rateReqPerSec} req/s for ${result.settings.rateDurationMs / 1000} s`);
  log('');
  log(result.tables.rate);
  for (const s of result.skipped) log(`\nskipped ${s.name}: ${s.reason.split('\n')[0]}`);
  if (result.sluiceTargets) {
    log('\n## Sluice against the issue-2 targets\n');
    log(
      markdownTable(
        [
          { header: 'target', cell: (c: TargetCheck) => c.name },
          { header: 'goal', cell: (c) => c.target },
          { header: 'measured', align: 'right', cell: (c) => c.measured },
          { header: 'result', cell: (c) => (c.pass === undefined ? 'n/a' : c.pass ? 'pass' : 'FAIL') },
        ],
        result.sluiceTargets,
      ),
    );
  }
}

async function main(): Promise<void> {
  installSignalHandlers();
  const parsed = parseSettings(process.argv.slice(2), process.env);
  if (!parsed.ok) {
    process.stderr.write(`${parsed.error}\n${USAGE}\n`);
    process.exit(2);
  }
  try {
    const result = await runProxyBenchmark(parsed.settings);
    printProxyResult(result);
    log(`\nwrote ${writeResult(parsed.settings.resultsName, result)}`);
  } finally {
    await stopAll();
  }
}

if (import.meta.main) await main();
