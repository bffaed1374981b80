// Benchmark settings from flags and environment (flags win). `--quick` is for development on a shared
// machine: one round, small counts, a few seconds per target. The full defaults keep `npm run bench`
// under about 8 minutes on two cores.
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { DEFAULT_TARGET_NAMES, TARGET_NAMES, type TargetName } from './targets.ts';

export interface BenchSettings {
  quick: boolean;
  rounds: number;
  /** Closed-loop connections for requests/s, latency and CPU per request. */
  connections: number;
  /** Fixed request count of the CPU-per-request run. */
  amount: number;
  /** Connections of the RSS run. */
  rssConnections: number;
  /** Fixed request count of the RSS run. */
  rssAmount: number;
  /** Warm-up requests before each target's first measurement in a round. */
  warmupAmount: number;
  /** Fixed-rate run. */
  rateReqPerSec: number;
  rateDurationMs: number;
  rateConnections: number;
  targets: TargetName[];
  /** Worker processes of sluice-workers and nginx-workers (default: one per core). */
  workers: number;
  /** The results file the proxy benchmark writes in bench/results/. */
  resultsName: string;
  /** Weights benchmark: requests per weight, sticky clients per weight. */
  weightRequests: number;
  stickyClients: number;
  /** Proxy-memory phase: the wait after the hostile churn before the last reading. */
  memorySettleMs: number;
}

export const FULL_SETTINGS: BenchSettings = {
  quick: false,
  rounds: 3,
  connections: 64,
  amount: 40_000,
  rssConnections: 256,
  rssAmount: 15_000,
  warmupAmount: 5_000,
  rateReqPerSec: 2_000,
  rateDurationMs: 6_000,
  rateConnections: 64,
  targets: [...DEFAULT_TARGET_NAMES],
  workers: availableParallelism(),
  resultsName: 'proxy.json',
  weightRequests: 10_000,
  stickyClients: 10_000,
  memorySettleMs: 60_000,
};

export const QUICK_SETTINGS: BenchSettings = {
  ...FULL_SETTINGS,
  quick: true,
  rounds: 1,
  amount: 10_000,
  rssAmount: 4_000,
  warmupAmount: 1_000,
  rateDurationMs: 2_000,
  weightRequests: 2_000,
  stickyClients: 2_000,
  memorySettleMs: 10_000,
};

export type SettingsResult =
  | { ok: true; settings: BenchSettings; only?: 'proxy' | 'weights' | 'memory' }
  | { ok: false; error: string };

const INTEGER_FIELDS = {
  rounds: ['--rounds', 'BENCH_ROUNDS'],
  connections: ['--connections', 'BENCH_CONNECTIONS'],
  amount: ['--amount', 'BENCH_AMOUNT'],
  rssAmount: ['--rss-amount', 'BENCH_RSS_AMOUNT'],
  rateDurationMs: ['--rate-duration-ms', 'BENCH_RATE_DURATION_MS'],
  rateReqPerSec: ['--rate', 'BENCH_RATE'],
  weightRequests: ['--weight-requests', 'BENCH_WEIGHT_REQUESTS'],
  stickyClients: ['--sticky-clients', 'BENCH_STICKY_CLIENTS'],
  workers: ['--workers', 'BENCH_WORKERS'],
} as const satisfies Partial<Record<keyof BenchSettings, readonly [string, string]>>;

/** Parses argv (without node and script) and env into settings; errors name the flag or variable. */
export function parseSettings(argv: readonly string[], env: NodeJS.ProcessEnv): SettingsResult {
  let parsed: ReturnType<typeof parseFlags>;
  try {
    parsed = parseFlags(argv);
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  const { values } = parsed;
  const quick = values.quick === true || env.BENCH_QUICK === '1';
  const settings: BenchSettings = { ...(quick ? QUICK_SETTINGS : FULL_SETTINGS) };
  for (const [field, [flag, envName]] of Object.entries(INTEGER_FIELDS) as [
    keyof typeof INTEGER_FIELDS,
    readonly [string, string],
  ][]) {
    const fromFlag = values[flag.slice(2) as keyof typeof values];
    const raw = typeof fromFlag === 'string' ? fromFlag : env[envName];
    if (raw === undefined || raw === '') continue;
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0) {
      const source = typeof fromFlag === 'string' ? flag : envName;
      return { ok: false, error: `${source}: expected a positive integer, got "${raw}"` };
    }
    settings[field] = n;
  }
  const targetsRaw = values.targets ?? env.BENCH_TARGETS;
  if (targetsRaw) {
    const names = targetsRaw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const unknown = names.filter((n) => !(TARGET_NAMES as readonly string[]).includes(n));
    if (unknown.length > 0) {
      return {
        ok: false,
        error: `--targets: unknown ${unknown.join(', ')} (known: ${TARGET_NAMES.join(', ')})`,
      };
    }
    settings.targets = names as TargetName[];
  }
  const resultsName = values.results ?? env.BENCH_RESULTS;
  if (resultsName !== undefined && resultsName !== '') {
    if (!/^[a-z0-9-]+\.json$/.test(resultsName)) {
      return {
        ok: false,
        error: `--results: expected a file name like proxy-workers.json, got "${resultsName}"`,
      };
    }
    settings.resultsName = resultsName;
  }
  const only = values.only;
  if (only !== undefined && only !== 'proxy' && only !== 'weights' && only !== 'memory') {
    return { ok: false, error: `--only: expected "proxy", "weights" or "memory", got "${only}"` };
  }
  return only ? { ok: true, settings, only } : { ok: true, settings };
}

function parseFlags(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean' },
      rounds: { type: 'string' },
      connections: { type: 'string' },
      amount: { type: 'string' },
      'rss-amount': { type: 'string' },
      'rate-duration-ms': { type: 'string' },
      rate: { type: 'string' },
      workers: { type: 'string' },
      results: { type: 'string' },
      'weight-requests': { type: 'string' },
      'sticky-clients': { type: 'string' },
      'memory-settle-ms': { type: 'string' },
      targets: { type: 'string' },
      only: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
}

export const USAGE = `usage: node bench/run.ts [--quick] [--only proxy|weights] [--rounds N] [--targets a,b,...]
       [--connections N] [--amount N] [--rss-amount N] [--rate N] [--rate-duration-ms N]
       [--weight-requests N] [--sticky-clients N] [--workers N] [--results NAME.json]
env:   BENCH_QUICK=1 BENCH_ROUNDS BENCH_TARGETS BENCH_CONNECTIONS BENCH_AMOUNT BENCH_RSS_AMOUNT
       BENCH_RATE BENCH_RATE_DURATION_MS BENCH_WEIGHT_REQUESTS BENCH_STICKY_CLIENTS
       BENCH_WORKERS (workers of sluice-workers and nginx-workers, default one per core)
       BENCH_RESULTS (the proxy benchmark's results file, default proxy.json)
       BENCH_SLUICE_MAIN (Sluice CLI entry, default the tsc build dist/src/cli/main.js, built first)
       BENCH_SLUICE_BASELINE_MAIN (another build's CLI entry, measured as the sluice-baseline target)
       BENCH_RESULTS_DIR (where the JSON goes, default bench/results/)
targets: ${TARGET_NAMES.join(', ')}`;
