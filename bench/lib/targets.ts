// Starts the benchmark's processes: the shared backend and each target in front of it (direct,
// Sluice, nginx, HAProxy, node-http-proxy), each on 127.0.0.1 with a generated config in a temp dir.
// A target that cannot start is reported with a reason (and its log tail), never thrown.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { freePort, logTail, type ManagedProcess, spawnManaged, stopProcess, waitReady } from './processes.ts';
import { renderTemplate } from './template.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
/**
 * The Sluice CLI entry. Sluice is measured as it is published: the tsc build (`npm run build`) run by
 * plain node, which ensureSluiceBuilt() produces; BENCH_SLUICE_MAIN overrides it (for example
 * src/cli/main.ts, to measure the sources under Node's type stripping, about 17 MB more RSS).
 */
export const SLUICE_MAIN = process.env.BENCH_SLUICE_MAIN || join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
/**
 * Another Sluice build (its CLI entry, e.g. an older commit's dist/src/cli/main.js) measured as the
 * `sluice-baseline` target: a change's cost, before and after, in one interleaved run.
 */
export const SLUICE_BASELINE_MAIN = process.env.BENCH_SLUICE_BASELINE_MAIN ?? '';
let sluiceBuilt = false;

/** Builds dist/ once per run unless BENCH_SLUICE_MAIN points elsewhere. */
export function ensureSluiceBuilt(): void {
  if (process.env.BENCH_SLUICE_MAIN || sluiceBuilt) return;
  // `npm run build`: tsc, then the control-plane .proto the proxy loads at run time.
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT, stdio: 'inherit' });
  sluiceBuilt = true;
}
const READY_TIMEOUT_MS = 10_000;

/**
 * sluice-endpoints and sluice-endpoints-rr: the same proxy with its backend given as two endpoints (the
 * shared backend and a second one), least-outstanding (the default policy) and round robin: what the
 * second pick stage costs per request next to the single-address `sluice`.
 */
export const TARGET_NAMES = [
  'direct',
  'sluice',
  'sluice-baseline',
  'sluice-endpoints',
  'sluice-endpoints-rr',
  'sluice-workers',
  'nginx',
  'nginx-workers',
  'haproxy',
  'node-http-proxy',
] as const;
export type TargetName = (typeof TARGET_NAMES)[number];
/** A full run measures these; sluice-endpoints-rr and sluice-baseline when asked for (--targets). */
export const DEFAULT_TARGET_NAMES: readonly TargetName[] = TARGET_NAMES.filter(
  (n) => n !== 'sluice-endpoints-rr' && n !== 'sluice-baseline',
);
/**
 * sluice-workers and nginx-workers: Sluice (`--workers N`) and nginx (`worker_processes N`) with the same
 * number of worker processes (settings.workers, one per core by default), each compared to the other;
 * `sluice` and `nginx` are the one-worker figures.
 */
export const WORKER_TARGETS: readonly TargetName[] = ['sluice-workers', 'nginx-workers'];
/** The targets that need the second backend. */
export const ENDPOINT_TARGETS: readonly TargetName[] = ['sluice-endpoints', 'sluice-endpoints-rr'];

export interface RunningTarget {
  name: TargetName;
  /** URL the load is sent to. */
  url: string;
  /** Root of the process tree charged with CPU and RSS (the backend itself for "direct"). */
  pid: number;
  /** Processes to stop when done (none for "direct": the backend is shared). */
  owned: ManagedProcess[];
  /** Admin URL (Sluice only). */
  adminUrl?: string;
}

export type StartResult =
  | { ok: true; target: RunningTarget }
  | { ok: false; name: TargetName; reason: string };

export interface Backend {
  name: string;
  port: number;
  url: string;
  process: ManagedProcess;
}

function nodeArgs(script: string, args: string[]): string[] {
  return ['--disable-warning=ExperimentalWarning', script, ...args];
}

export async function startBackend(dir: string, name = 'backend'): Promise<Backend> {
  const port = await freePort();
  const p = spawnManaged({
    name: `backend-${name}`,
    command: process.execPath,
    args: nodeArgs(join(REPO_ROOT, 'bench', 'backend.ts'), ['--port', String(port), '--name', name]),
    logDir: dir,
  });
  const url = `http://127.0.0.1:${port}/`;
  const ready = await waitReady(p, url, READY_TIMEOUT_MS);
  if (!ready.ok) {
    await stopProcess(p);
    throw new Error(`backend ${name} did not start: ${ready.reason}\n${logTail(p)}`);
  }
  return { name, port, url, process: p };
}

async function started(
  name: TargetName,
  p: ManagedProcess,
  url: string,
  extra: Partial<RunningTarget> = {},
): Promise<StartResult> {
  const ready = await waitReady(p, url, READY_TIMEOUT_MS);
  if (!ready.ok) {
    const tail = logTail(p);
    await stopProcess(p);
    return { ok: false, name, reason: `${ready.reason}\n--- log tail ---\n${tail}` };
  }
  return { ok: true, target: { name, url, pid: p.pid, owned: [p], ...extra } };
}

export interface SluiceRoutesOptions {
  routeName: string;
  /** `url`: one address; `urls`: the backend's endpoints. */
  backends: ({ name: string; weight: number } & ({ url: string } | { urls: string[] }))[];
  stickyCookie?: string;
  endpointPolicy?: 'least-outstanding' | 'round-robin';
}

/** The routes file (issue 2 format) for the benchmark: one catch-all route. */
export function sluiceRoutesYaml(options: SluiceRoutesOptions): string {
  const origin = (url: string): string => url.replace(/\/$/, '');
  const route: Record<string, unknown> = {
    name: options.routeName,
    match: { pathPrefix: '/' },
    backends: options.backends.map((b) => ({
      name: b.name,
      revision: `rev-${b.name}`,
      ...('url' in b ? { address: origin(b.url) } : { endpoints: b.urls.map(origin) }),
      weight: b.weight,
    })),
  };
  if (options.stickyCookie) route.stickySessions = { cookie: options.stickyCookie, maxAgeSeconds: 3600 };
  if (options.endpointPolicy) route.endpointPolicy = options.endpointPolicy;
  return stringify({ routes: [route] });
}

/**
 * Starts `sluice proxy` on a routes file. probe "data" waits for a 200 through the data port;
 * "admin" waits for the admin /ready and a listening data port, sending nothing through the routes
 * (the weights benchmark counts every request the proxy ever picked).
 */
export async function startSluice(
  dir: string,
  routesPath: string,
  probe: 'data' | 'admin' = 'data',
  name: TargetName = 'sluice',
  /** `--workers`; 1 (one process, as measured before workers existed) unless a target asks for more. */
  workers = 1,
): Promise<StartResult> {
  let main = SLUICE_MAIN;
  if (name === 'sluice-baseline') {
    if (SLUICE_BASELINE_MAIN === '') {
      return { ok: false, name, reason: 'BENCH_SLUICE_BASELINE_MAIN is not set (the build to compare with)' };
    }
    main = SLUICE_BASELINE_MAIN;
  } else {
    ensureSluiceBuilt();
  }
  if (!existsSync(main)) {
    return {
      ok: false,
      name,
      reason: `${main} does not exist yet (the proxy is not written)`,
    };
  }
  const port = await freePort();
  const adminPort = await freePort();
  const p = spawnManaged({
    name,
    command: process.execPath,
    args: nodeArgs(main, [
      'proxy',
      '--config',
      routesPath,
      '--listen',
      `127.0.0.1:${port}`,
      '--admin',
      `127.0.0.1:${adminPort}`,
      // An older build (sluice-baseline) has no --workers and runs one process.
      ...(name === 'sluice-baseline' ? [] : ['--workers', String(workers)]),
    ]),
    cwd: REPO_ROOT,
    logDir: dir,
  });
  const url = `http://127.0.0.1:${port}/`;
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  if (probe === 'data') return started(name, p, url, { adminUrl });
  const adminReady = await waitReady(p, `${adminUrl}/ready`, READY_TIMEOUT_MS);
  const dataReady = adminReady.ok ? await waitReady(p, url, READY_TIMEOUT_MS, true) : adminReady;
  if (!dataReady.ok) {
    const tail = logTail(p);
    await stopProcess(p);
    return { ok: false, name, reason: `${dataReady.reason}\n--- log tail ---\n${tail}` };
  }
  return { ok: true, target: { name, url, pid: p.pid, owned: [p], adminUrl } };
}

type WriteResult = { ok: true; path: string } | { ok: false; error: string };

function writeTemplate(
  templateName: string,
  dir: string,
  values: Record<string, string | number>,
): WriteResult {
  const template = readFileSync(join(REPO_ROOT, 'bench', 'peers', templateName), 'utf8');
  const rendered = renderTemplate(template, values);
  if (!rendered.ok) return { ok: false, error: `bench/peers/${templateName}: ${rendered.error}` };
  const path = join(dir, templateName);
  writeFileSync(path, rendered.text);
  return { ok: true, path };
}

export async function startNginx(
  dir: string,
  backend: Backend,
  workers = 1,
  name: TargetName = 'nginx',
): Promise<StartResult> {
  const port = await freePort();
  // As root, nginx would drop its worker to "nobody", which cannot enter the 0700 temp dir.
  const userDirective = process.getuid?.() === 0 ? `user ${userInfo().username};` : '';
  // Its own prefix directory per target: nginx keeps its pid file and temp paths there.
  const prefix = name === 'nginx' ? dir : join(dir, name);
  if (prefix !== dir) mkdirSync(prefix, { recursive: true });
  const conf = writeTemplate('nginx.conf', prefix, {
    dir: prefix,
    workers,
    userDirective,
    listenPort: port,
    backendPort: backend.port,
  });
  if (!conf.ok) return { ok: false, name, reason: conf.error };
  const p = spawnManaged({
    name,
    command: 'nginx',
    args: ['-p', prefix, '-e', join(prefix, 'error.log'), '-c', conf.path, '-g', 'daemon off;'],
    logDir: dir,
  });
  return started(name, p, `http://127.0.0.1:${port}/`);
}

export async function startHaproxy(dir: string, backend: Backend): Promise<StartResult> {
  const port = await freePort();
  const cfg = writeTemplate('haproxy.cfg', dir, { listenPort: port, backendPort: backend.port });
  if (!cfg.ok) return { ok: false, name: 'haproxy', reason: cfg.error };
  const p = spawnManaged({ name: 'haproxy', command: 'haproxy', args: ['-db', '-f', cfg.path], logDir: dir });
  return started('haproxy', p, `http://127.0.0.1:${port}/`);
}

export async function startNodeHttpProxy(dir: string, backend: Backend): Promise<StartResult> {
  const port = await freePort();
  const p = spawnManaged({
    name: 'node-http-proxy',
    command: process.execPath,
    args: nodeArgs(join(REPO_ROOT, 'bench', 'peers', 'node-http-proxy.ts'), [
      '--listen',
      String(port),
      '--target',
      backend.url.replace(/\/$/, ''),
    ]),
    logDir: dir,
  });
  return started('node-http-proxy', p, `http://127.0.0.1:${port}/`);
}

export function directTarget(backend: Backend): RunningTarget {
  return { name: 'direct', url: backend.url, pid: backend.process.pid, owned: [] };
}

/** First line of `<command> -v` (nginx prints it on stderr), or a note that it is missing. */
export function toolVersion(command: string): string {
  const result = spawnSync(command, ['-v'], { encoding: 'utf8', timeout: 5_000 });
  if (result.error) return `${command}: not installed`;
  const line = `${result.stdout}\n${result.stderr}`.split('\n').find((l) => l.trim() !== '');
  return line?.trim() ?? `${command}: no version output`;
}
