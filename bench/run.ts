// `npm run bench`: the proxy benchmark (direct, Sluice, nginx, HAProxy, node-http-proxy side by side),
// the weights benchmark, the proxy-memory phase (bench/proxy-memory.ts), then the blast-radius benchmark (a bad canary on the test cluster, and push to
// 100 proxies), with results in bench/results/{proxy,weights,blast-radius}.json and the tables in
// bench/results/summary.md (docs/benchmarks.md is generated from the JSON by scripts/benchmarks-doc.ts).
// `--only proxy|weights|memory|blast-radius` runs one. The blast-radius flags are taken out of argv here (the
// shared settings parser knows only the first two). A watchdog bounds the whole run; everything started
// is stopped on exit, error, SIGINT and SIGTERM.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BLAST_USAGE,
  type BlastResult,
  parseBlastSettings,
  printBlastResult,
  runBlastRadiusBenchmark,
  stopBlastRadius,
} from './blast-radius.ts';
import { installSignalHandlers, stopAll } from './lib/processes.ts';
import { RESULTS_DIR, writeResult } from './lib/results.ts';
import { parseSettings, USAGE } from './lib/settings.ts';
import {
  FULL_MEMORY_SETTINGS,
  type ProxyMemoryResult,
  printMemoryResult,
  QUICK_MEMORY_SETTINGS,
  runProxyMemoryBenchmark,
} from './proxy-memory.ts';
import { type ProxyBenchResult, printProxyResult, runProxyBenchmark } from './proxy-throughput.ts';
import { printWeightsResult, runWeightsBenchmark, type WeightsBenchResult } from './weights.ts';

const WATCHDOG_MS = { full: 10 * 60_000, quick: 4 * 60_000 };
/** Flags of bench/blast-radius.ts that take a value, and its one boolean flag. */
const BLAST_VALUE_FLAGS = new Set([
  '--trials',
  '--fast-trials',
  '--prom-trials',
  '--false-alarm-trials',
  '--false-alarm-window-s',
  '--proxies',
  '--changes',
]);
const BLAST_BOOLEAN_FLAGS = new Set(['--push-only']);

type Only = 'proxy' | 'weights' | 'memory' | 'blast-radius' | undefined;
/** Budget of the proxy-memory phase besides its settle time (start, load, churn). */
const MEMORY_PHASE_MS = 3 * 60_000;

/** Splits argv into the shared settings' flags and the blast-radius flags; `--only blast-radius` is taken out. */
function splitArgs(argv: readonly string[]): {
  shared: string[];
  blast: string[];
  onlyBlast: boolean;
} {
  const shared: string[] = [];
  const blast: string[] = [];
  let onlyBlast = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [name, inline] = arg.startsWith('--') ? (arg.split(/=(.*)/s, 2) as [string, string?]) : [arg];
    if (name === '--only') {
      const value = inline ?? argv[i + 1];
      if (value === 'blast-radius') {
        onlyBlast = true;
        if (inline === undefined) i++;
        continue;
      }
    }
    if (BLAST_BOOLEAN_FLAGS.has(name)) blast.push(arg);
    else if (BLAST_VALUE_FLAGS.has(name)) {
      blast.push(arg);
      if (inline === undefined && i + 1 < argv.length) blast.push(argv[++i]!);
    } else {
      shared.push(arg);
      if (name === '--quick') blast.push(arg);
    }
  }
  return { shared, blast, onlyBlast };
}

function summaryMarkdown(
  proxy: ProxyBenchResult | undefined,
  weights: WeightsBenchResult | undefined,
  blast: BlastResult | undefined,
  memory?: ProxyMemoryResult,
): string {
  const parts: string[] = [];
  const machine = proxy?.machine ?? weights?.machine ?? blast?.machine;
  if (machine) {
    parts.push(
      `Measured ${machine.date.slice(0, 10)} on ${machine.nproc} CPUs (${machine.cpuModel}), Node ${machine.node}, ` +
        `${machine.nginx}, ${machine.haproxy}${proxy?.settings.quick || weights?.settings.quick ? ' (quick run)' : ''}.`,
    );
  }
  if (proxy) {
    const s = proxy.settings;
    parts.push(
      `### Throughput: ${s.connections} connections, CPU per request over ${s.amount.toLocaleString('en-US')} requests, median of ${s.rounds} interleaved rounds`,
      proxy.tables.throughput,
      `### Fixed rate: ${s.rateReqPerSec.toLocaleString('en-US')} req/s for ${s.rateDurationMs / 1000} s`,
      proxy.tables.rate,
    );
    for (const skip of proxy.skipped) parts.push(`Skipped ${skip.name}: ${skip.reason.split('\n')[0]}`);
  }
  if (weights) {
    parts.push(
      '### Weight accuracy',
      weights.tables.weights,
      '### Sticky sessions and abort',
      weights.tables.sticky,
    );
    if (weights.skipped) parts.push(`Skipped: ${weights.skipped.split('\n')[0]}`);
  }
  if (memory) {
    parts.push(
      `### Proxy memory (load average ${memory.loadAverage1m.toFixed(1)} at the start)`,
      memory.tables.memory,
      memory.tables.targets,
    );
  }
  if (blast) {
    const t = blast.tables;
    parts.push(
      `### Blast radius of a bad canary (${blast.settings.ratePerSec.toLocaleString('en-US')} req/s, one gateway proxy)`,
    );
    if (blast.cluster.skipped) parts.push(`Cluster phases skipped: ${blast.cluster.skipped}`);
    if (t.blast)
      parts.push(
        t.blast,
        t.breakdown ?? '',
        'The judge per gateway, with its measured report lag:',
        t.lags ?? '',
      );
    if (t.falseAlarms) parts.push('### False alarms (healthy canaries under the judge)', t.falseAlarms);
    if (t.push) parts.push(`### Push to ${blast.push?.proxies} proxies`, t.push);
    parts.push('### Blast-radius targets', t.targets);
  }
  return `${parts.join('\n\n')}\n`;
}

async function main(): Promise<void> {
  installSignalHandlers();
  const args = splitArgs(process.argv.slice(2));
  const parsed = parseSettings(args.shared, process.env);
  if (!parsed.ok) {
    process.stderr.write(
      `${parsed.error}\n${USAGE}\n  or:  --only blast-radius, and ${BLAST_USAGE.replace(/^usage: /, '')}\n`,
    );
    process.exit(2);
  }
  const { settings } = parsed;
  const only: Only = args.onlyBlast ? 'blast-radius' : parsed.only;
  let blastSettings: ReturnType<typeof parseBlastSettings> | undefined;
  try {
    blastSettings =
      only === undefined || only === 'blast-radius'
        ? parseBlastSettings(args.blast, settings.quick)
        : undefined;
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${BLAST_USAGE}\n`);
    process.exit(2);
  }
  const runMemory = only === undefined || only === 'memory';
  const watchdogMs =
    (only === 'blast-radius' ? 0 : settings.quick ? WATCHDOG_MS.quick : WATCHDOG_MS.full) +
    (runMemory ? MEMORY_PHASE_MS + settings.memorySettleMs : 0) +
    (blastSettings?.budgetMs ?? 0);
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench: still running after ${watchdogMs / 1000} s, stopping everything\n`);
    void Promise.all([stopBlastRadius(), stopAll()]).finally(() => process.exit(1));
  }, watchdogMs);
  watchdog.unref();
  let proxy: ProxyBenchResult | undefined;
  let weights: WeightsBenchResult | undefined;
  let memory: ProxyMemoryResult | undefined;
  let blast: BlastResult | undefined;
  try {
    if (only === undefined || only === 'proxy') {
      proxy = await runProxyBenchmark(settings);
      printProxyResult(proxy);
      process.stdout.write(`\nwrote ${writeResult(settings.resultsName, proxy)}\n\n`);
    }
    if (only === undefined || only === 'weights') {
      weights = await runWeightsBenchmark(settings);
      printWeightsResult(weights);
      process.stdout.write(`\nwrote ${writeResult('weights.json', weights)}\n\n`);
    }
    if (runMemory) {
      memory = await runProxyMemoryBenchmark({
        ...(settings.quick ? QUICK_MEMORY_SETTINGS : FULL_MEMORY_SETTINGS),
        settleMs: settings.memorySettleMs,
      });
      printMemoryResult(memory);
      process.stdout.write(`\nwrote ${writeResult('proxy-memory.json', memory)}\n\n`);
    }
    if (blastSettings !== undefined) {
      blast = await runBlastRadiusBenchmark(blastSettings);
      printBlastResult(blast);
      process.stdout.write(`\nwrote ${writeResult('blast-radius.json', blast)}\n`);
    }
    const summaryPath = join(RESULTS_DIR, 'summary.md');
    writeFileSync(summaryPath, summaryMarkdown(proxy, weights, blast, memory));
    process.stdout.write(`wrote ${summaryPath}\n`);
  } finally {
    clearTimeout(watchdog);
    await stopAll();
  }
}

await main();
