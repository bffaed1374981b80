// The proxy-memory phase of `npm run bench` (issue 15): resident memory of `sluice proxy` as published
// (the tsc build, started the way the image starts it: `node dist/src/cli/main.js proxy ...`) idle, at
// 256 connections under load, after a hostile churn of 25,000 malformed, oversized and aborted requests,
// and again after a settle time (60 s; `--quick` and `--settle-ms` shorten it). RSS is read from
// /proc/<pid>/status of the process tree (so a proxy that re-execs itself or forks is charged for all of
// it), split into anonymous and file-backed pages; the V8 heap in use comes from the proxy's /metrics.
//
//   node bench/proxy-memory.ts [--quick] [--settle-ms N] [--churn N] [--churn-kinds malformed,upload,...]
//
// Run on a shared machine RSS is less noisy than CPU, but the load figures still depend on how fast the
// clients get through: the results record the machine's load average at the start.
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { runClosedLoop } from './lib/load.ts';
import { readTreeStats } from './lib/proc.ts';
import { installSignalHandlers, makeTempDir, stopAll, stopProcess } from './lib/processes.ts';
import { type MachineInfo, machineInfo, writeResult } from './lib/results.ts';
import { fmtMiB, markdownTable } from './lib/table.ts';
import { type Backend, SLUICE_MAIN, sluiceRoutesYaml, startBackend, startSluice } from './lib/targets.ts';

export interface MemorySettings {
  quick: boolean;
  /** Closed-loop connections of the load phase. */
  connections: number;
  /** Requests of the load phase. */
  loadAmount: number;
  /** Requests of the hostile churn. */
  churnRequests: number;
  /** Concurrent raw sockets of the churn. */
  churnConcurrency: number;
  /** Wait after the churn before the last reading. */
  settleMs: number;
  /** Only these kinds of churn request (all when empty), to find which one the memory follows. */
  churnKinds?: ChurnKind[];
}

export const FULL_MEMORY_SETTINGS: MemorySettings = {
  quick: false,
  connections: 256,
  loadAmount: 60_000,
  churnRequests: 25_000,
  churnConcurrency: 64,
  settleMs: 60_000,
};

export const QUICK_MEMORY_SETTINGS: MemorySettings = {
  ...FULL_MEMORY_SETTINGS,
  quick: true,
  loadAmount: 20_000,
  settleMs: 10_000,
};

/** Targets of issue 15, in MiB (the last one relative to idle). */
export const MEMORY_TARGETS = {
  idleMiB: 50,
  loadMiB: 64,
  churnMiB: 80,
  settledOverIdle: 0.1,
} as const;

export interface MemoryReading {
  phase: 'idle' | 'load' | 'churn' | 'settled';
  /** VmRSS summed over the tree; for `load` and `churn` the peak sampled during the phase. */
  rssBytes: number;
  /** RssAnon and RssFile of the tree at the end of the phase (heap, malloc, stacks vs. mapped code). */
  anonBytes: number;
  fileBytes: number;
  /** V8 heap in use (the proxy's nodejs_heap_used_bytes). */
  heapUsedBytes: number | undefined;
  note: string;
}

export interface MemoryTargetCheck {
  name: string;
  target: string;
  measured: string;
  met: boolean;
}

export interface ProxyMemoryResult {
  machine: MachineInfo;
  settings: MemorySettings;
  /** 1-minute load average when the phase started (the machine is often shared). */
  loadAverage1m: number;
  /** The entry run and the Node flags and environment the proxy process actually had. */
  entry: string;
  proxyExecArgv: string;
  proxyEnv: string;
  readings: MemoryReading[];
  churn: { sent: number; answered: number; byKind: Record<string, number> };
  targets: MemoryTargetCheck[];
  tables: { memory: string; targets: string };
}

interface StatusFields {
  rss: number;
  anon: number;
  file: number;
}

function statusFields(pid: number): StatusFields {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string): number =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') + kb('RssShmem') };
  } catch {
    return { rss: 0, anon: 0, file: 0 };
  }
}

/** VmRSS, RssAnon and RssFile+RssShmem summed over rootPid and its descendants. */
export function treeMemory(rootPid: number): StatusFields {
  const total = { rss: 0, anon: 0, file: 0 };
  for (const s of readTreeStats(rootPid)) {
    const f = statusFields(s.pid);
    total.rss += f.rss;
    total.anon += f.anon;
    total.file += f.file;
  }
  return total;
}

/** The Node flags and NODE_OPTIONS/MALLOC_* of each process of the tree, read from /proc. */
function treeFlags(rootPid: number): { execArgv: string; env: string } {
  const argv: string[] = [];
  const env: string[] = [];
  for (const s of readTreeStats(rootPid)) {
    try {
      const args = readFileSync(`/proc/${s.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      argv.push(args.filter((a) => a.startsWith('--') && args.indexOf(a) < args.indexOf('proxy')).join(' '));
      const vars = readFileSync(`/proc/${s.pid}/environ`, 'utf8').split('\0');
      env.push(vars.filter((v) => /^(NODE_OPTIONS|MALLOC_|GLIBC_TUNABLES)/.test(v)).join(' '));
    } catch {
      // exited between listing and reading
    }
  }
  return { execArgv: argv.join(' | '), env: env.join(' | ') };
}

async function heapUsedBytes(adminUrl: string): Promise<number | undefined> {
  try {
    const res = await request(`${adminUrl}/metrics`, { reset: true, headersTimeout: 5_000 });
    const text = await res.body.text();
    const match = /^nodejs_heap_used_bytes (\S+)$/m.exec(text);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Peak of the tree's RSS sampled every intervalMs until stop(). */
function peakSampler(pid: number, intervalMs = 100): { stop: () => number } {
  let peak = treeMemory(pid).rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, treeMemory(pid).rss);
  }, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(peak, treeMemory(pid).rss);
    },
  };
}

// ---- the hostile churn -------------------------------------------------------------------------

type ChurnKind =
  | 'malformed'
  | 'oversized-head'
  | 'upload'
  | 'aborted-head'
  | 'aborted-body'
  | 'unread'
  | 'valid';

/** Requests the proxy must refuse (each a smuggling or framing error of RFC 9112). */
const MALFORMED: readonly string[] = [
  'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello',
  'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
  'GET / HTTP/1.1\nHost: a\n\n',
  'GET / HTTP/1.1\r\nHost: a\r\nX-Fold: a\r\n  b\r\n\r\n',
  'GET / HTTP/1.1\r\nHost : a\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
  'GET / HTTP/1.1\r\n\r\n',
  'GET / HTTP/9.9\r\nHost: a\r\n\r\n',
  'GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n',
];

const OVERSIZED_HEAD = `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'x'.repeat(20 * 1024)}\r\n\r\n`;
const VALID = 'GET / HTTP/1.1\r\nHost: a\r\n\r\n';
const UPLOAD_BYTES = 1024 * 1024;
const UPLOAD_CHUNK = Buffer.alloc(64 * 1024, 0x61);
const OP_TIMEOUT_MS = 10_000;

/** The kind of the i-th churn request: mostly malformed and aborted, some oversized, 1 in 100 an upload. */
export function churnKind(i: number): ChurnKind {
  if (i % 100 === 99) return 'upload';
  const kinds: ChurnKind[] = [
    'malformed',
    'malformed',
    'oversized-head',
    'aborted-head',
    'aborted-body',
    'unread',
    'valid',
  ];
  return kinds[i % kinds.length]!;
}

/** One churn request on its own connection; resolves with whether the proxy answered anything. */
function churnOne(port: number, i: number, kind: ChurnKind): Promise<boolean> {
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1');
    let answered = false;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(answered);
    };
    const timer = setTimeout(finish, OP_TIMEOUT_MS);
    socket.on('error', finish);
    socket.on('close', finish);
    socket.on('data', () => {
      answered = true;
      // A response is all the churn waits for; closing at once also aborts keep-alive connections.
      finish();
    });
    socket.on('connect', () => {
      switch (kind) {
        case 'malformed':
          socket.write(MALFORMED[i % MALFORMED.length]!);
          break;
        case 'oversized-head':
          socket.write(OVERSIZED_HEAD);
          break;
        case 'valid':
          socket.write(VALID);
          break;
        case 'unread':
          // Sent, then gone before the response: the proxy's write meets a closed socket.
          socket.write(VALID, () => finish());
          break;
        case 'aborted-head':
          socket.write(`GET /${'a'.repeat(i % 4000)} HTTP/1.1\r\nHost: a\r\nX-Partial: `, () => finish());
          break;
        case 'aborted-body':
          socket.write(`POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${UPLOAD_BYTES}\r\n\r\n`);
          socket.write(UPLOAD_CHUNK, () => finish());
          break;
        case 'upload': {
          socket.write(`POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${UPLOAD_BYTES}\r\n\r\n`);
          let sent = 0;
          const pump = (): void => {
            while (sent < UPLOAD_BYTES && !done) {
              sent += UPLOAD_CHUNK.length;
              if (!socket.write(UPLOAD_CHUNK)) {
                socket.once('drain', pump);
                return;
              }
            }
          };
          pump();
          break;
        }
      }
    });
  });
}

async function runChurn(
  port: number,
  total: number,
  concurrency: number,
  only: readonly ChurnKind[] = [],
): Promise<{ sent: number; answered: number; byKind: Record<string, number> }> {
  let next = 0;
  let answered = 0;
  const byKind: Record<string, number> = {};
  const worker = async (): Promise<void> => {
    while (next < total) {
      const i = next++;
      const kind = only.length > 0 ? only[i % only.length]! : churnKind(i);
      byKind[kind] = (byKind[kind] ?? 0) + 1;
      if (await churnOne(port, i, kind)) answered++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { sent: total, answered, byKind };
}

// ---- the phase ---------------------------------------------------------------------------------

export function memoryTable(readings: readonly MemoryReading[]): string {
  return markdownTable(
    [
      { header: 'phase', cell: (r: MemoryReading) => r.phase },
      { header: 'RSS MiB', align: 'right', cell: (r) => fmtMiB(r.rssBytes) },
      { header: 'anon MiB', align: 'right', cell: (r) => fmtMiB(r.anonBytes) },
      { header: 'file MiB', align: 'right', cell: (r) => fmtMiB(r.fileBytes) },
      { header: 'V8 heap used MiB', align: 'right', cell: (r) => fmtMiB(r.heapUsedBytes) },
      { header: 'when', cell: (r) => r.note },
    ],
    readings,
  );
}

export function targetsTable(targets: readonly MemoryTargetCheck[]): string {
  return markdownTable(
    [
      { header: 'target', cell: (t: MemoryTargetCheck) => t.name },
      { header: 'wanted', cell: (t) => t.target },
      { header: 'measured', align: 'right', cell: (t) => t.measured },
      { header: 'met', cell: (t) => (t.met ? 'yes' : 'no') },
    ],
    targets,
  );
}

export function checkMemoryTargets(readings: readonly MemoryReading[]): MemoryTargetCheck[] {
  const mib = (phase: MemoryReading['phase']): number =>
    (readings.find((r) => r.phase === phase)?.rssBytes ?? Number.NaN) / 1024 / 1024;
  const idle = mib('idle');
  const settledOver = mib('settled') / idle - 1;
  return [
    {
      name: 'idle',
      target: `< ${MEMORY_TARGETS.idleMiB} MiB`,
      measured: idle.toFixed(1),
      met: idle < MEMORY_TARGETS.idleMiB,
    },
    {
      name: 'load (peak)',
      target: `< ${MEMORY_TARGETS.loadMiB} MiB`,
      measured: mib('load').toFixed(1),
      met: mib('load') < MEMORY_TARGETS.loadMiB,
    },
    {
      name: 'churn (peak)',
      target: `< ${MEMORY_TARGETS.churnMiB} MiB`,
      measured: mib('churn').toFixed(1),
      met: mib('churn') < MEMORY_TARGETS.churnMiB,
    },
    {
      name: 'settled vs idle',
      target: `within ${MEMORY_TARGETS.settledOverIdle * 100}%`,
      measured: `${settledOver >= 0 ? '+' : ''}${(settledOver * 100).toFixed(1)}%`,
      met: Math.abs(settledOver) <= MEMORY_TARGETS.settledOverIdle,
    },
  ];
}

export async function runProxyMemoryBenchmark(settings: MemorySettings): Promise<ProxyMemoryResult> {
  const loadAverage1m = loadavg()[0]!;
  const dir = makeTempDir('memory');
  const backend: Backend = await startBackend(dir, 'memory');
  const routesPath = join(dir, 'routes.yaml');
  writeFileSync(
    routesPath,
    sluiceRoutesYaml({ routeName: 'bench', backends: [{ name: 'stable', weight: 100, url: backend.url }] }),
  );
  const started = await startSluice(dir, routesPath, 'admin');
  if (!started.ok) throw new Error(`sluice did not start: ${started.reason}`);
  const target = started.target;
  const adminUrl = target.adminUrl!;
  const port = Number(new URL(target.url).port);
  const readings: MemoryReading[] = [];
  const read = async (
    phase: MemoryReading['phase'],
    rssBytes: number | undefined,
    note: string,
  ): Promise<void> => {
    const m = treeMemory(target.pid);
    readings.push({
      phase,
      rssBytes: rssBytes ?? m.rss,
      anonBytes: m.anon,
      fileBytes: m.file,
      heapUsedBytes: await heapUsedBytes(adminUrl),
      note,
    });
  };
  try {
    const flags = treeFlags(target.pid);
    // Idle: started, config applied, nothing routed yet; two seconds for start-up garbage to go.
    await sleep(2_000);
    await read('idle', undefined, 'ready, 2 s after start');

    const loadPeak = peakSampler(target.pid);
    const load = await runClosedLoop({
      url: target.url,
      connections: settings.connections,
      amount: settings.loadAmount,
      maxDurationMs: 120_000,
    });
    await read(
      'load',
      loadPeak.stop(),
      `peak during ${settings.loadAmount.toLocaleString('en-US')} requests over ${settings.connections} connections (${Math.round(load.requestsPerSec).toLocaleString('en-US')} req/s, ${load.errors} errors)`,
    );

    const churnPeak = peakSampler(target.pid);
    const churn = await runChurn(
      port,
      settings.churnRequests,
      settings.churnConcurrency,
      settings.churnKinds,
    );
    await read(
      'churn',
      churnPeak.stop(),
      `peak during ${settings.churnRequests.toLocaleString('en-US')} malformed, oversized and aborted requests (${settings.churnConcurrency} at a time)`,
    );

    await sleep(settings.settleMs);
    await read('settled', undefined, `${settings.settleMs / 1000} s after the churn, no traffic`);

    const targets = checkMemoryTargets(readings);
    return {
      machine: machineInfo(),
      settings,
      loadAverage1m,
      entry: process.env.BENCH_SLUICE_MAIN || SLUICE_MAIN,
      proxyExecArgv: flags.execArgv,
      proxyEnv: flags.env,
      readings,
      churn,
      targets,
      tables: { memory: memoryTable(readings), targets: targetsTable(targets) },
    };
  } finally {
    for (const p of target.owned) await stopProcess(p);
    await stopProcess(backend.process);
  }
}

export function printMemoryResult(result: ProxyMemoryResult): void {
  process.stdout.write(
    `\n## Proxy memory (${result.entry}; flags: ${result.proxyExecArgv || 'none'}; env: ${result.proxyEnv || 'none'}; load average ${result.loadAverage1m.toFixed(2)})\n\n` +
      `${result.tables.memory}\n\n${result.tables.targets}\n`,
  );
}

export function parseMemorySettings(argv: readonly string[], quick: boolean): MemorySettings {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean' },
      'settle-ms': { type: 'string' },
      churn: { type: 'string' },
      'churn-kinds': { type: 'string' },
    },
    strict: false,
    allowPositionals: true,
  });
  const settings = { ...(quick || values.quick === true ? QUICK_MEMORY_SETTINGS : FULL_MEMORY_SETTINGS) };
  const int = (flag: string, raw: unknown): number | undefined => {
    if (typeof raw !== 'string') return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0)
      throw new Error(`--${flag}: expected a non-negative integer, got "${raw}"`);
    return n;
  };
  settings.settleMs = int('settle-ms', values['settle-ms']) ?? settings.settleMs;
  settings.churnRequests = int('churn', values.churn) ?? settings.churnRequests;
  const kinds = values['churn-kinds'];
  if (typeof kinds === 'string') settings.churnKinds = kinds.split(',') as ChurnKind[];
  return settings;
}

if (import.meta.main) {
  installSignalHandlers();
  try {
    const result = await runProxyMemoryBenchmark(parseMemorySettings(process.argv.slice(2), false));
    printMemoryResult(result);
    process.stdout.write(`\nwrote ${writeResult('proxy-memory.json', result)}\n`);
  } finally {
    await stopAll();
  }
}
