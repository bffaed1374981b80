// The judge's cost on 2 x N requests (default N = 100,000; target: under 50 ms per judgment), with
// a hand-written JS peer: the fixed-sample Mann-Whitney test Kayenta runs, on the raw values
// (sort + rank). The judgment reads the histogram store (per-second HDR intervals, as the proxies
// report them), pairs strata, runs both e-processes and the bucketed Mann-Whitney for the report.
// bench/analysis.ts runs it as its judge section; it also runs on its own:
//   node bench/judge.ts [--samples 100000] [--reps 20]
// Writes bench/results/judge.json and prints a table.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build, encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import { judgeFromStore, parseJudgeConfig } from '../src/analysis/providers/judge.ts';
import { createPrng, normal, type Prng } from '../src/analysis/stats/prng.ts';
import { HistogramStore } from '../src/control/histogram-store.ts';
import { machineInfo, writeResult } from './lib/results.ts';
import { fmt, fmtRatio, markdownTable } from './lib/table.ts';

const INTERVALS = 100;

function latencyUs(rng: Prng, medianUs: number): number {
  return Math.max(1, Math.round(medianUs * Math.exp(0.5 * normal(rng))));
}

/** The peer: Mann-Whitney U with average ranks for ties on raw samples, as a hand-written JS test. */
function mannWhitneyRaw(x: Float64Array, y: Float64Array): number {
  const n1 = x.length;
  const pooled = new Float64Array(n1 + y.length);
  pooled.set(x);
  pooled.set(y, n1);
  const order = Uint32Array.from(pooled.keys()).sort((a, b) => (pooled[a] as number) - (pooled[b] as number));
  let rankSum = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && pooled[order[j + 1] as number] === pooled[order[i] as number]) j++;
    const rank = (i + j + 2) / 2;
    for (let k = i; k <= j; k++) if ((order[k] as number) < n1) rankSum += rank;
    i = j + 1;
  }
  return rankSum - (n1 * (n1 + 1)) / 2;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

export interface JudgeBenchResult {
  readonly table: string;
  readonly samplesPerRevision: number;
  readonly intervals: number;
  readonly reps: number;
  readonly verdict: string;
  readonly rows: readonly { name: string; ms: number }[];
  readonly judgeMedianMs: number;
  readonly targetMs: number;
}

/** The judge on 2 x `samples` requests, `reps` times, against the raw-sample Mann-Whitney peer. */
export function runJudgeBenchmark(samples: number, reps: number): JudgeBenchResult {
  const perInterval = Math.ceil(samples / INTERVALS);
  const rng = createPrng(42);
  const store = new HistogramStore({ nowMs: () => INTERVALS * 1000 });
  const raw = {
    canary: new Float64Array(perInterval * INTERVALS),
    stable: new Float64Array(perInterval * INTERVALS),
  };
  for (let t = 1; t <= INTERVALS; t++) {
    for (const [role, medianUs] of [
      ['stable', 50_000],
      ['canary', 55_000],
    ] as const) {
      const h = build();
      let errors = 0;
      for (let i = 0; i < perInterval; i++) {
        const v = latencyUs(rng, medianUs);
        h.recordValue(v);
        raw[role][(t - 1) * perInterval + i] = v;
        if (rng.next() < 0.01) errors++;
      }
      store.ingest({
        proxyId: 'p1',
        route: 'checkout',
        namespace: 'shop',
        role,
        revision: role === 'stable' ? 's1' : 'c1',
        startMs: (t - 1) * 1000,
        endMs: t * 1000,
        histogram: encodeIntoCompressedBase64(h),
        count1xx: 0,
        count2xx: perInterval - errors,
        count3xx: 0,
        count4xx: 0,
        count5xx: errors,
        requests: perInterval,
        errors,
      });
    }
  }
  const config = parseJudgeConfig({
    plugin: { 'sluice/judge': { route: 'checkout', metrics: [{ name: 'error-rate' }, { name: 'latency' }] } },
  });
  if (!config.ok) throw new Error(config.message);
  const judgeMs: number[] = [];
  const peerMs: number[] = [];
  let verdict = '';
  for (let r = 0; r < reps; r++) {
    let t0 = performance.now();
    const result = judgeFromStore(store, config.value, 0, { nowMs: INTERVALS * 1000 });
    judgeMs.push(performance.now() - t0);
    verdict = result.value ?? '';
    t0 = performance.now();
    mannWhitneyRaw(raw.canary, raw.stable);
    peerMs.push(performance.now() - t0);
  }
  const rows = [
    { name: 'sluice/judge (store read, 2 e-processes, bucketed Mann-Whitney)', ms: median(judgeMs) },
    { name: 'peer: hand-written Mann-Whitney on raw samples (sort + rank)', ms: median(peerMs) },
  ];
  const judgeMedian = median(judgeMs);
  const table = markdownTable(
    [
      { header: 'what', cell: (row: (typeof rows)[number]) => row.name },
      { header: 'median ms', align: 'right', cell: (row: (typeof rows)[number]) => fmt(row.ms, 2) },
      { header: 'vs judge', cell: (row: (typeof rows)[number]) => fmtRatio(row.ms / judgeMedian) },
    ],
    rows,
  );
  return {
    table,
    samplesPerRevision: perInterval * INTERVALS,
    intervals: INTERVALS,
    reps,
    verdict,
    rows,
    judgeMedianMs: judgeMedian,
    targetMs: 50,
  };
}

function main(): void {
  const { values } = parseArgs({
    options: { samples: { type: 'string', default: '100000' }, reps: { type: 'string', default: '20' } },
  });
  const result = runJudgeBenchmark(Number(values.samples), Number(values.reps));
  console.log(
    `judge on 2 x ${result.samplesPerRevision} requests in ${result.intervals} intervals; verdict: ${result.verdict}`,
  );
  console.log(result.table);
  const path = writeResult('judge.json', { machine: machineInfo(), ...result });
  console.log(`wrote ${path}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
