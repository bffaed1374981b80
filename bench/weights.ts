// Weight accuracy of the Sluice proxy (issue 2): two backends that name themselves in `x-backend`,
// one route between them.
//   1. Plain weights at 1%, 10%, 50%: a fresh proxy per weight (so its weighted round robin starts
//      at zero and nothing else ever went through it), N requests, canary count vs N x weight
//      (target: off by at most one request).
//   2. Sticky sessions at the same weights: K clients, each a fresh cookie jar; the first request
//      has no cookie, lands somewhere and gets a cookie (target: canary share within 1 percentage
//      point of the weight); a second request with the cookie must land on the same backend.
//   3. Abort: the routes file is rewritten with canary weight 0, and once /config on the admin port
//      shows the new version every sticky client's next request must land on stable (target: 100%).
// Each is run twice: with each side given as one `address`, then as `endpoints` (two pods per side,
// the side chosen by the weights and then a pod): the side choice must not depend on the form.
// Writes bench/results/weights.json and prints a table.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool, request } from 'undici';
import { cookieFromSetCookie } from './lib/cookies.ts';
import { installSignalHandlers, makeTempDir, stopAll, stopProcess } from './lib/processes.ts';
import { type MachineInfo, machineInfo, writeResult } from './lib/results.ts';
import { type BenchSettings, parseSettings, USAGE } from './lib/settings.ts';
import { fmt, markdownTable } from './lib/table.ts';
import {
  type Backend,
  type RunningTarget,
  sluiceRoutesYaml,
  startBackend,
  startSluice,
} from './lib/targets.ts';

export const CANARY_WEIGHTS_PCT = [1, 10, 50] as const;
const STICKY_COOKIE = 'sluice-bench';
const CONCURRENCY = 8;
const CONFIG_RELOAD_TIMEOUT_MS = 10_000;

/** How the routes file gives each side: one address, or two endpoints (pods). */
export type BackendForm = 'address' | 'endpoints';

export interface WeightRun {
  canaryWeightPct: number;
  /** Absent for the address form (the results before endpoints existed read the same). */
  form?: 'endpoints';
  requests: number;
  canary: number;
  stable: number;
  /** Responses from neither backend, non-2xx, or failed requests. */
  other: number;
  expectedCanary: number;
  /** |canary - expectedCanary|, in requests. */
  errorRequests: number;
  /** Largest |canary - n x weight| over every prefix n of the sequential run. */
  maxPrefixErrorRequests: number;
  pass: boolean;
}

export interface StickyRun {
  canaryWeightPct: number;
  form?: 'endpoints';
  clients: number;
  canaryClients: number;
  /** Clients whose first response carried no sticky cookie, or failed. */
  clientsWithoutCookie: number;
  canarySharePct: number;
  /** canarySharePct - weight, percentage points. */
  deviationPp: number;
  sharePass: boolean;
  /** Clients whose second request (with the cookie) reached the same backend as the first. */
  sameBackendOnReturnPct: number;
  /** Clients on stable on their first request after the abort (canary weight 0). */
  stableAfterAbortPct: number;
  abortPass: boolean;
  /** Time from rewriting the routes file to /config showing the new version. */
  reloadMs: number;
}

export interface WeightsBenchResult {
  benchmark: 'weights';
  machine: MachineInfo;
  settings: Pick<BenchSettings, 'quick' | 'weightRequests' | 'stickyClients'>;
  skipped: string | null;
  weights: WeightRun[];
  sticky: StickyRun[];
  tables: { weights: string; sticky: string };
}

/** Scores a plain-weight run: expected canary count is N x weight. */
/**
 * Scores a plain-weight run from the backend that answered each request, in order. The expected
 * canary count after n requests is n x weight; the bound must hold for every prefix, not only the
 * total (issue 2: "never differs ... by more than one request").
 */
export function scoreWeightRun(
  canaryWeightPct: number,
  answers: readonly ('canary' | 'stable' | 'other')[],
): WeightRun {
  const counts = { canary: 0, stable: 0, other: 0 };
  let maxPrefixErrorRequests = 0;
  answers.forEach((a, i) => {
    counts[a]++;
    const prefixError = Math.abs(counts.canary - ((i + 1) * canaryWeightPct) / 100);
    maxPrefixErrorRequests = Math.max(maxPrefixErrorRequests, prefixError);
  });
  const requests = answers.length;
  const expectedCanary = (requests * canaryWeightPct) / 100;
  const errorRequests = Math.abs(counts.canary - expectedCanary);
  return {
    canaryWeightPct,
    requests,
    ...counts,
    expectedCanary,
    errorRequests,
    maxPrefixErrorRequests,
    pass: counts.other === 0 && maxPrefixErrorRequests <= 1,
  };
}

/** Share of clients on canary and its deviation from the weight in percentage points. */
export function scoreStickyShare(
  canaryWeightPct: number,
  clients: number,
  canaryClients: number,
): { canarySharePct: number; deviationPp: number; sharePass: boolean } {
  const canarySharePct = clients === 0 ? Number.NaN : (canaryClients * 100) / clients;
  const deviationPp = canarySharePct - canaryWeightPct;
  return { canarySharePct, deviationPp, sharePass: Math.abs(deviationPp) <= 1 };
}

interface Answer {
  backend: string | undefined;
  cookie: string | undefined;
}

async function ask(pool: Pool, cookie: string | undefined): Promise<Answer> {
  try {
    const res = await pool.request({
      path: '/',
      method: 'GET',
      headers: cookie === undefined ? {} : { cookie: `${STICKY_COOKIE}=${cookie}` },
    });
    await res.body.dump();
    const backend = res.headers['x-backend'];
    const ok = res.statusCode >= 200 && res.statusCode < 300;
    return {
      backend: ok && typeof backend === 'string' ? backend : undefined,
      cookie: cookieFromSetCookie(res.headers['set-cookie'], STICKY_COOKIE),
    };
  } catch {
    return { backend: undefined, cookie: undefined };
  }
}

/** Runs fn(i) for i in [0, count) with at most `concurrency` in flight. */
async function forEachConcurrent(count: number, concurrency: number, fn: (i: number) => Promise<void>) {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/** One side of the route: its backend processes (the first alone in the address form). */
interface Side {
  name: 'stable' | 'canary';
  backends: Backend[];
}

interface Sides {
  stable: Side;
  canary: Side;
  form: BackendForm;
}

/** The side a response came from, by the backend that named itself in x-backend. */
function sideOf(sides: Sides, backend: string | undefined): 'canary' | 'stable' | 'other' {
  for (const side of [sides.stable, sides.canary]) {
    if (side.backends.some((b) => b.name === backend)) return side.name;
  }
  return 'other';
}

function writeRoutes(path: string, sides: Sides, canaryWeightPct: number, sticky: boolean) {
  const upstreams = (side: Side) =>
    sides.form === 'address' ? { url: side.backends[0]!.url } : { urls: side.backends.map((b) => b.url) };
  const yaml = sluiceRoutesYaml({
    routeName: 'weights',
    backends: [
      { name: 'stable', ...upstreams(sides.stable), weight: 100 - canaryWeightPct },
      { name: 'canary', ...upstreams(sides.canary), weight: canaryWeightPct },
    ],
    ...(sticky ? { stickyCookie: STICKY_COOKIE } : {}),
  });
  // Write-then-rename so the watcher never reads a half-written file.
  writeFileSync(`${path}.tmp`, yaml);
  renameSync(`${path}.tmp`, path);
}

async function configVersion(adminUrl: string): Promise<number | string | undefined> {
  try {
    const res = await request(`${adminUrl}/config`);
    const body = (await res.body.json()) as { version?: unknown } | null;
    const v = body?.version;
    return typeof v === 'number' || typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

async function withSluice<T>(
  dir: string,
  routesPath: string,
  fn: (target: RunningTarget) => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; reason: string }> {
  const started = await startSluice(dir, routesPath, 'admin');
  if (!started.ok) return { ok: false, reason: started.reason };
  try {
    return { ok: true, value: await fn(started.target) };
  } finally {
    for (const p of started.target.owned) await stopProcess(p);
  }
}

async function measureWeight(
  dir: string,
  sides: Sides,
  weightPct: number,
  requests: number,
): Promise<WeightRun | string> {
  const routesPath = join(dir, `routes-weight-${weightPct}-${sides.form}.yaml`);
  writeRoutes(routesPath, sides, weightPct, false);
  const run = await withSluice(dir, routesPath, async (target) => {
    // Sequential on one keep-alive connection: arrival order is pick order, so prefixes are exact.
    const pool = new Pool(new URL(target.url).origin, { connections: 1 });
    const answers: ('canary' | 'stable' | 'other')[] = [];
    try {
      for (let i = 0; i < requests; i++) {
        const { backend } = await ask(pool, undefined);
        answers.push(sideOf(sides, backend));
      }
    } finally {
      await pool.destroy();
    }
    const scored = scoreWeightRun(weightPct, answers);
    return sides.form === 'endpoints' ? { ...scored, form: 'endpoints' as const } : scored;
  });
  return run.ok ? run.value : run.reason;
}

async function measureSticky(
  dir: string,
  sides: Sides,
  weightPct: number,
  clients: number,
): Promise<StickyRun | string> {
  const routesPath = join(dir, `routes-sticky-${weightPct}-${sides.form}.yaml`);
  writeRoutes(routesPath, sides, weightPct, true);
  const run = await withSluice(dir, routesPath, async (target): Promise<StickyRun | string> => {
    const pool = new Pool(new URL(target.url).origin, { connections: CONCURRENCY });
    try {
      const first: Answer[] = new Array(clients);
      await forEachConcurrent(clients, CONCURRENCY, async (i) => {
        first[i] = await ask(pool, undefined);
      });
      const canaryClients = first.filter((a) => sideOf(sides, a.backend) === 'canary').length;
      const clientsWithoutCookie = first.filter(
        (a) => a.cookie === undefined || a.backend === undefined,
      ).length;
      let same = 0;
      await forEachConcurrent(clients, CONCURRENCY, async (i) => {
        const again = await ask(pool, first[i]!.cookie);
        // the same side: a pod of it may differ from the first request's in the endpoints form
        const side = sideOf(sides, again.backend);
        if (side !== 'other' && side === sideOf(sides, first[i]!.backend)) same++;
      });
      // Abort: canary weight 0, then every client's next request.
      const versionBefore = await configVersion(target.adminUrl!);
      const rewrittenAt = Date.now();
      writeRoutes(routesPath, sides, 0, true);
      let versionAfter = versionBefore;
      while (versionAfter === versionBefore && Date.now() - rewrittenAt < CONFIG_RELOAD_TIMEOUT_MS) {
        await sleep(20);
        versionAfter = await configVersion(target.adminUrl!);
      }
      const reloadMs = Date.now() - rewrittenAt;
      if (versionAfter === versionBefore) {
        return `canary weight 0 not applied within ${CONFIG_RELOAD_TIMEOUT_MS} ms (/config version stayed ${String(versionBefore)})`;
      }
      let stableAfter = 0;
      await forEachConcurrent(clients, CONCURRENCY, async (i) => {
        const after = await ask(pool, first[i]!.cookie);
        if (sideOf(sides, after.backend) === 'stable') stableAfter++;
      });
      const stableAfterAbortPct = (stableAfter * 100) / clients;
      const share = scoreStickyShare(weightPct, clients, canaryClients);
      return {
        canaryWeightPct: weightPct,
        ...(sides.form === 'endpoints' ? { form: 'endpoints' as const } : {}),
        clients,
        canaryClients,
        clientsWithoutCookie,
        ...share,
        sharePass: share.sharePass && clientsWithoutCookie === 0,
        sameBackendOnReturnPct: (same * 100) / clients,
        stableAfterAbortPct,
        abortPass: stableAfter === clients,
        reloadMs,
      };
    } finally {
      await pool.destroy();
    }
  });
  return run.ok ? run.value : run.reason;
}

function passText(pass: boolean): string {
  return pass ? 'pass' : 'FAIL';
}

function weightLabel(run: { canaryWeightPct: number; form?: 'endpoints' }): string {
  return `${run.canaryWeightPct}%${run.form === 'endpoints' ? ' (endpoints)' : ''}`;
}

export function renderWeightTables(weights: readonly WeightRun[], sticky: readonly StickyRun[]) {
  return {
    weights: markdownTable(
      [
        { header: 'canary weight', cell: (w: WeightRun) => weightLabel(w) },
        { header: 'requests', align: 'right', cell: (w) => fmt(w.requests) },
        { header: 'canary', align: 'right', cell: (w) => fmt(w.canary) },
        { header: 'expected', align: 'right', cell: (w) => fmt(w.expectedCanary, 2) },
        { header: 'error (requests)', align: 'right', cell: (w) => fmt(w.errorRequests, 2) },
        { header: 'max error, any prefix', align: 'right', cell: (w) => fmt(w.maxPrefixErrorRequests, 2) },
        { header: 'failed', align: 'right', cell: (w) => fmt(w.other) },
        { header: 'target <= 1', cell: (w) => passText(w.pass) },
      ],
      weights,
    ),
    sticky: markdownTable(
      [
        { header: 'canary weight', cell: (s: StickyRun) => weightLabel(s) },
        { header: 'clients', align: 'right', cell: (s) => fmt(s.clients) },
        { header: 'on canary', align: 'right', cell: (s) => fmt(s.canaryClients) },
        { header: 'share %', align: 'right', cell: (s) => fmt(s.canarySharePct, 2) },
        { header: 'deviation pp', align: 'right', cell: (s) => fmt(s.deviationPp, 2) },
        { header: 'within 1 pp', cell: (s) => passText(s.sharePass) },
        { header: 'same backend on return %', align: 'right', cell: (s) => fmt(s.sameBackendOnReturnPct, 2) },
        { header: 'on stable after abort %', align: 'right', cell: (s) => fmt(s.stableAfterAbortPct, 2) },
        { header: 'abort 100%', cell: (s) => passText(s.abortPass) },
        { header: 'reload ms', align: 'right', cell: (s) => fmt(s.reloadMs) },
      ],
      sticky,
    ),
  };
}

function log(message: string): void {
  process.stdout.write(`${message}\n`);
}

export async function runWeightsBenchmark(settings: BenchSettings): Promise<WeightsBenchResult> {
  const machine = machineInfo();
  const result: WeightsBenchResult = {
    benchmark: 'weights',
    machine,
    settings: {
      quick: settings.quick,
      weightRequests: settings.weightRequests,
      stickyClients: settings.stickyClients,
    },
    skipped: null,
    weights: [],
    sticky: [],
    tables: { weights: '', sticky: '' },
  };
  log(
    `# Weights benchmark (${settings.quick ? 'quick' : 'full'}): ${settings.weightRequests} requests per weight, ` +
      `${settings.stickyClients} sticky clients per weight`,
  );
  const dir = makeTempDir('weights');
  const backends = [
    await startBackend(dir, 'stable'),
    await startBackend(dir, 'stable-2'),
    await startBackend(dir, 'canary'),
    await startBackend(dir, 'canary-2'),
  ];
  const [stable1, stable2, canary1, canary2] = backends as [Backend, Backend, Backend, Backend];
  const forms: Sides[] = (['address', 'endpoints'] as const).map((form) => ({
    form,
    stable: { name: 'stable', backends: [stable1, stable2] },
    canary: { name: 'canary', backends: [canary1, canary2] },
  }));
  try {
    for (const sides of forms) {
      for (const w of result.skipped === null ? CANARY_WEIGHTS_PCT : []) {
        const r = await measureWeight(dir, sides, w, settings.weightRequests);
        if (typeof r === 'string') {
          result.skipped = r;
          break;
        }
        result.weights.push(r);
        log(
          `weight ${weightLabel(r)}: canary ${r.canary}/${r.requests} (expected ${r.expectedCanary}), ${passText(r.pass)}`,
        );
      }
    }
    for (const sides of forms) {
      for (const w of result.skipped === null ? CANARY_WEIGHTS_PCT : []) {
        const r = await measureSticky(dir, sides, w, settings.stickyClients);
        if (typeof r === 'string') {
          result.skipped = r;
          break;
        }
        result.sticky.push(r);
        log(
          `sticky ${weightLabel(r)}: ${r.canaryClients}/${r.clients} clients on canary (${fmt(r.canarySharePct, 2)}%), ` +
            `${fmt(r.stableAfterAbortPct, 2)}% on stable after abort`,
        );
      }
    }
  } finally {
    for (const b of backends) await stopProcess(b.process);
  }
  result.tables = renderWeightTables(result.weights, result.sticky);
  return result;
}

export function printWeightsResult(result: WeightsBenchResult): void {
  if (result.skipped !== null) log(`\nSKIPPED (Sluice): ${result.skipped}`);
  log('\n## Weight accuracy (fresh proxy per weight)\n');
  log(result.tables.weights);
  log('\n## Sticky sessions and abort\n');
  log(result.tables.sticky);
}

async function main(): Promise<void> {
  installSignalHandlers();
  const parsed = parseSettings(process.argv.slice(2), process.env);
  if (!parsed.ok) {
    process.stderr.write(`${parsed.error}\n${USAGE}\n`);
    process.exit(2);
  }
  try {
    const result = await runWeightsBenchmark(parsed.settings);
    printWeightsResult(result);
    log(`\nwrote ${writeResult('weights.json', result)}`);
  } finally {
    await stopAll();
  }
}

if (import.meta.main) await main();
