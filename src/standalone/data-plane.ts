// The data plane of `sluice standalone --state FILE`: the Sluice proxy as its own process, beside the pods'
// processes (workloads/runtime.ts, durable), so that traffic goes on, with the last weights, while
// standalone is down; a standalone started again with the same state file adopts them instead of starting
// new ones. What it needs to find them again is kept in FILE.d/ (mode 0700): data-plane.json (mode 0600:
// the control port and token the proxy reconnects with, the proxy's pid and ports) and the processes' log
// files, followed into standalone's log.
//
// A graceful stop (SIGINT/SIGTERM) stops the data plane with standalone; only a killed standalone leaves it
// running. Without a state file nothing can be adopted, and the proxy runs inside standalone.

import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { writeFileAtomic } from './state.ts';
import { INSTANCE_ENV, tcpProbe } from './workloads/index.ts';
import {
  adoptProcess,
  environValue,
  findByEnv,
  isRunning,
  killPids,
  type LocalProcess,
  spawnProcess,
} from './workloads/processes.ts';

/** In the proxy process's environment: the standalone instance it serves. */
export const PROXY_INSTANCE_ENV = 'SLUICE_STANDALONE_PROXY';

const RECORD_VERSION = 1;
const PROXY_READY_TIMEOUT_MS = 15_000;
const PROXY_STOP_GRACE_MS = 5_000;

type Address = { host: string; port: number };

export interface DataPlaneRecord {
  readonly version: number;
  readonly control: { readonly port: number; readonly token: string };
  readonly proxy?: {
    readonly pid: number;
    readonly data: Address;
    readonly admin: Address;
    readonly reportIntervalMs?: number;
  };
}

/**
 * The instance a state file names: only one live standalone holds the file (its lock), so processes that
 * carry this id and that this run did not start are a killed predecessor's.
 */
export function standaloneInstanceId(stateFile: string): string {
  return createHash('sha256').update(resolve(stateFile)).digest('hex').slice(0, 16);
}

/** Every process of the data plane a standalone with this state file started (the proxy and the pods). */
export async function dataPlanePids(stateFile: string): Promise<number[]> {
  const id = standaloneInstanceId(stateFile);
  const [pods, proxies] = await Promise.all([findByEnv(INSTANCE_ENV), findByEnv(PROXY_INSTANCE_ENV)]);
  return [...(pods.get(id) ?? []), ...(proxies.get(id) ?? [])];
}

/** The folder beside the state file that holds the data plane's record and logs. */
export function dataPlaneDir(stateFile: string): string {
  return `${stateFile}.d`;
}

export interface DataPlaneFiles {
  readonly dir: string;
  readonly record: string;
  readonly logs: string;
}

/** Creates FILE.d/ and FILE.d/logs/ (mode 0700) if needed. */
export function dataPlaneFiles(stateFile: string): DataPlaneFiles {
  const dir = dataPlaneDir(stateFile);
  const logs = join(dir, 'logs');
  mkdirSync(logs, { recursive: true, mode: 0o700 });
  return { dir, record: join(dir, 'data-plane.json'), logs };
}

/** The record a previous run wrote, or undefined (none, or unreadable: then nothing is adopted). */
export function readDataPlaneRecord(file: string, log: Logger): DataPlaneRecord | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = JSON.parse(text) as DataPlaneRecord;
    if (
      parsed.version === RECORD_VERSION &&
      Number.isInteger(parsed.control?.port) &&
      typeof parsed.control?.token === 'string' &&
      /^[0-9a-f]{64}$/.test(parsed.control.token)
    )
      return parsed;
  } catch {
    // reported below
  }
  log.warn({ file }, 'data plane record unreadable: a proxy left by an earlier run is replaced, not adopted');
  return undefined;
}

export function writeDataPlaneRecord(file: string, record: DataPlaneRecord): Promise<void> {
  return writeFileAtomic(file, `${JSON.stringify(record, null, 2)}\n`);
}

export function newControlToken(): string {
  return randomBytes(32).toString('hex');
}

/** The `sluice` CLI entry beside this module (.ts in the sources, .js in the built package). */
function cliEntry(): string {
  const here = fileURLToPath(import.meta.url);
  return fileURLToPath(new URL(`../cli/main${extname(here)}`, import.meta.url));
}

export interface ProxyProcessOptions {
  readonly instanceId: string;
  readonly files: DataPlaneFiles;
  readonly previous: DataPlaneRecord['proxy'];
  readonly control: { readonly port: number; readonly token: string };
  readonly listen: Address;
  readonly admin: Address;
  readonly reportIntervalMs?: number;
  readonly log: Logger;
}

export interface ProxyProcess {
  readonly pid: number;
  readonly adopted: boolean;
  readonly dataAddress: Address;
  readonly adminAddress: Address;
  /** Resolves when the process ends without stop() having been called. */
  readonly died: Promise<void>;
  /** Ends with the proxy (SIGTERM, then SIGKILL after a grace period). */
  stop(): Promise<void>;
}

export interface SupervisedProxy {
  /** The process serving now (it changes when one that died is replaced). */
  current(): ProxyProcess;
  stop(): Promise<void>;
}

const RESTART_BACKOFF_MS = [500, 1_000, 2_000, 5_000, 10_000, 30_000];

/**
 * startProxyProcess, and a new proxy whenever one ends on its own (after a back-off that grows while they
 * keep dying within a minute), each told to `onStarted` (standalone records its pid).
 */
export async function superviseProxy(
  o: ProxyProcessOptions,
  onStarted: (proxy: ProxyProcess) => Promise<void>,
): Promise<SupervisedProxy> {
  let proxy = await startProxyProcess(o);
  await onStarted(proxy);
  let stopping = false;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  const watch = (p: ProxyProcess): void => {
    const startedAt = Date.now();
    void p.died.then(() => {
      if (stopping) return;
      failures = Date.now() - startedAt > 60_000 ? 0 : failures + 1;
      const delay = RESTART_BACKOFF_MS[Math.min(failures, RESTART_BACKOFF_MS.length - 1)]!;
      o.log.error({ pid: p.pid, restartInMs: delay }, 'the proxy process ended: starting a new one');
      const restart = async (): Promise<void> => {
        timer = undefined;
        if (stopping) return;
        try {
          proxy = await startProxyProcess({ ...o, previous: undefined });
          await onStarted(proxy);
          watch(proxy);
        } catch (error) {
          o.log.error({ err: String(error) }, 'the proxy could not be started again; retrying');
          timer = setTimeout(() => void restart(), RESTART_BACKOFF_MS.at(-1));
        }
      };
      timer = setTimeout(() => void restart(), delay);
    });
  };
  watch(proxy);
  return {
    current: () => proxy,
    stop: async () => {
      stopping = true;
      if (timer !== undefined) clearTimeout(timer);
      await proxy.stop();
    },
  };
}

function sameAddress(a: Address | undefined, b: Address): boolean {
  return a !== undefined && a.host === b.host && a.port === b.port;
}

/** Re-logs a line of the proxy's JSON log at its level; other lines as they are. */
function relay(log: Logger, line: string): void {
  if (line.trim() === '') return;
  try {
    const {
      level,
      msg,
      time: _time,
      pid: _pid,
      hostname: _host,
      name: _name,
      ...fields
    } = JSON.parse(line) as Record<string, unknown>;
    const text = typeof msg === 'string' ? msg : '';
    if (typeof level === 'number' && level >= 50) log.error(fields, text);
    else if (typeof level === 'number' && level >= 40) log.warn(fields, text);
    else if (typeof level === 'number' && level < 30) log.debug(fields, text);
    else log.info(fields, text);
  } catch {
    log.info(line);
  }
}

/**
 * The proxy of this instance: the one a killed standalone left running when it still serves the same
 * ports and reconnects to the same control port, else a new process (any other proxy of this instance is
 * killed first, so it frees its ports).
 */
export async function startProxyProcess(o: ProxyProcessOptions): Promise<ProxyProcess> {
  const log = o.log;
  const logFile = join(o.files.logs, 'proxy.log');
  const p = o.previous;
  if (
    p !== undefined &&
    sameAddress(p.data, o.listen) &&
    sameAddress(p.admin, o.admin) &&
    p.reportIntervalMs === o.reportIntervalMs
  ) {
    // Ours when /proc says so, or (no /proc) on trust; running, and answering on its admin port.
    const carries = await environValue(p.pid, PROXY_INSTANCE_ENV);
    const ours = carries === o.instanceId || carries === undefined;
    if (ours && (await isRunning(p.pid)) && (await tcpProbe(o.admin.host, o.admin.port, 1_000))) {
      const proc = adoptProcess(p.pid, logFile, (line) => relay(log, line));
      log.info(
        { pid: p.pid, data: o.listen, admin: o.admin },
        'adopted the proxy left running by the previous run: traffic went on with its last routes',
      );
      return handle(proc, o, log);
    }
  }
  const strays = (await findByEnv(PROXY_INSTANCE_ENV)).get(o.instanceId) ?? [];
  if (
    p !== undefined &&
    !strays.includes(p.pid) &&
    (await environValue(p.pid, PROXY_INSTANCE_ENV)) === undefined
  ) {
    // No /proc to tell whose it is: a recorded proxy still answering on its admin port is ours.
    if ((await isRunning(p.pid)) && (await tcpProbe(p.admin.host, p.admin.port, 1_000))) strays.push(p.pid);
  }
  if (strays.length > 0) {
    log.warn({ pids: strays }, 'replacing the proxy left by the previous run (its ports or options changed)');
    await killPids(strays);
  }
  const argv = [
    process.execPath,
    cliEntry(),
    'proxy',
    '--control',
    `127.0.0.1:${o.control.port}`,
    '--all-routes',
    // One process: a single machine's traffic needs no more, and adoption tracks one pid.
    '--workers',
    '1',
    '--proxy-id',
    `standalone-${basename(o.files.dir)}`,
    '--listen',
    `${o.listen.host}:${o.listen.port}`,
    '--admin',
    `${o.admin.host}:${o.admin.port}`,
    ...(o.reportIntervalMs !== undefined ? ['--report-interval', `${o.reportIntervalMs}ms`] : []),
  ];
  const env = { ...process.env, SLUICE_CONTROL_TOKEN: o.control.token, [PROXY_INSTANCE_ENV]: o.instanceId };
  const tail: string[] = [];
  const proc = spawnProcess(argv, {
    env,
    logFile,
    onLine: (_stream, line) => {
      tail.push(line);
      if (tail.length > 20) tail.shift();
      relay(log, line);
    },
  });
  let exited = false;
  void proc.exited.then(() => {
    exited = true;
  });
  const deadline = Date.now() + PROXY_READY_TIMEOUT_MS;
  while (!(await tcpProbe(o.admin.host, o.admin.port, 500))) {
    if (exited || Date.now() > deadline) {
      proc.kill('SIGKILL');
      await proc.exited;
      // The last lines it wrote say why (a port in use, a bad flag).
      await new Promise((resolve) => setTimeout(resolve, 250));
      const why = tail
        .filter((l) => l.trim() !== '')
        .slice(-3)
        .join(' | ');
      throw new Error(
        `the proxy did not start (data ${o.listen.host}:${o.listen.port}, admin ${o.admin.host}:${o.admin.port})${why ? `: ${why}` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  log.info({ pid: proc.pid, data: o.listen, admin: o.admin }, 'proxy started as its own process');
  return handle(proc, o, log);
}

function handle(proc: LocalProcess, o: ProxyProcessOptions, log: Logger): ProxyProcess {
  let stopped: Promise<void> | undefined;
  // Resolves only for an end nobody asked for (stop() was not called).
  const died = proc.exited.then((status) => {
    if (stopped !== undefined) return new Promise<void>(() => {});
    log.error({ pid: proc.pid, ...status }, 'the proxy process ended');
    return undefined;
  });
  return {
    pid: proc.pid,
    adopted: proc.adopted,
    dataAddress: o.listen,
    adminAddress: o.admin,
    died,
    stop: () => {
      stopped ??= (async () => {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), PROXY_STOP_GRACE_MS);
        await proc.exited;
        clearTimeout(timer);
      })();
      return stopped;
    },
  };
}
