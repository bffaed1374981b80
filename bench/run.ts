// `npm run bench`: the proxy benchmark (direct, Sluice, nginx, HAProxy, node-http-proxy side by side)
// and then the weights benchmark, with results in bench/results/{proxy,weights}.json and the tables in
// bench/results/summary.md (docs/benchmarks.md is generated from the JSON by scripts/benchmarks-doc.ts).
// A watchdog bounds the whole run; everything started is stopped on exit, error, SIGINT and SIGTERM.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { installSignalHandlers, stopAll } from './lib/processes.ts';
import { RESULTS_DIR, writeResult } from './lib/results.ts';
import { parseSettings, USAGE } from './lib/settings.ts';
import { type ProxyBenchResult, printProxyResult, runProxyBenchmark } from './proxy-throughput.ts';
import { printWeightsResult, runWeightsBenchmark, type WeightsBenchResult } from './weights.ts';

const WATCHDOG_MS = { full: 10 * 60_000, quick: 4 * 60_000 };

function summaryMarkdown(
  proxy: ProxyBenchResult | undefined,
  weights: WeightsBenchResult | undefined,
): string {
  const parts: string[] = [];
  const machine = proxy?.machine ?? weights?.machine;
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
  return `${parts.join('\n\n')}\n`;
}

async function main(): Promise<void> {
  installSignalHandlers();
  const parsed = parseSettings(process.argv.slice(2), process.env);
  if (!parsed.ok) {
    process.stderr.write(`${parsed.error}\n${USAGE}\n`);
    process.exit(2);
  }
  const { settings, only } = parsed;
  const watchdogMs = settings.quick ? WATCHDOG_MS.quick : WATCHDOG_MS.full;
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench: still running after ${watchdogMs / 1000} s, stopping everything\n`);
    void stopAll().finally(() => process.exit(1));
  }, watchdogMs);
  watchdog.unref();
  let proxy: ProxyBenchResult | undefined;
  let weights: WeightsBenchResult | undefined;
  try {
    if (only !== 'weights') {
      proxy = await runProxyBenchmark(settings);
      printProxyResult(proxy);
      process.stdout.write(`\nwrote ${writeResult('proxy.json', proxy)}\n\n`);
    }
    if (only !== 'proxy') {
      weights = await runWeightsBenchmark(settings);
      printWeightsResult(weights);
      process.stdout.write(`\nwrote ${writeResult('weights.json', weights)}\n`);
    }
    const summaryPath = join(RESULTS_DIR, 'summary.md');
    writeFileSync(summaryPath, summaryMarkdown(proxy, weights));
    process.stdout.write(`wrote ${summaryPath}\n`);
  } finally {
    clearTimeout(watchdog);
    await stopAll();
  }
}

await main();
