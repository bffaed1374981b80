// The primary of `sluice proxy --workers N` (N > 1): forks N workers (worker.ts) that share the data
// port through node:cluster (the primary accepts and hands connections round robin), and is the one
// proxy the outside sees:
// - one admin port: /metrics merges the workers' expositions and its own (merge.ts); /config is the
//   snapshot the workers last applied; /ready once every worker serves a config;
// - one config source: the routes file is loaded and watched here, or the control stream is held here
//   (one Hello, one ACK per snapshot, sent only when every worker applied it; one report per series x
//   interval, the workers' histograms added before sending), so nothing is counted twice;
// - one cookie key ring: given, or drawn here once, and sent to every worker over IPC (never argv/env);
// - a worker that exits unexpectedly is forked again with the same index and the current config;
// - close() tells every worker to drain and waits for them.
// `--workers 1` does not come here: startProxy in main.ts runs in-process as before.

import cluster, { type Worker } from 'node:cluster';
import pino, { type Logger } from 'pino';
import { startAdminServer } from '../admin.ts';
import type { RoutesConfig } from '../config.ts';
import { loadRoutesFile, type RoutesFileWatch, watchRoutesFile } from '../config-file.ts';
import type { HistogramReport } from '../control/report.ts';
import type { ProxyOptions } from '../main.ts';
import { PrometheusMetrics } from '../metrics.ts';
import { randomKeyRing } from '../routing/key-ring.ts';
import { formatConfigErrors, validateRoutesConfig } from '../routing/validate.ts';
import { type DataServerOptions, DEFAULT_DATA_SERVER_OPTIONS } from '../server.ts';
import { countersOnly, mergeExpositions, mergeReports } from './merge.ts';
import { isWorkerMessage, type PrimaryMessage, type WireCookieKey, type WorkerMessage } from './protocol.ts';

/** How long the primary waits for a worker's answer to a scrape or a report drain. */
const WORKER_ANSWER_TIMEOUT_MS = 2_000;
/** Restarts of one worker slot closer together than this are delayed (a crash loop must not spin). */
const RESTART_BACKOFF_MS = 1_000;
/** Beyond the drain deadline, how long a worker gets to exit before it is killed. */
const EXIT_GRACE_MS = 2_000;

export interface WorkersOptions extends ProxyOptions {
  /** Number of worker processes, at least 2. */
  workers: number;
}

export interface RunningProxyWorkers {
  readonly dataAddress: { host: string; port: number };
  readonly adminAddress: { host: string; port: number };
  /** Process ids of the live workers, by worker index. */
  workerPids(): number[];
  /** Times a worker was forked again after it exited. */
  readonly restarts: number;
  /** Workers whose data port is listening now. */
  workersUp(): number;
  close(drainMs?: number): Promise<void>;
}

interface Slot {
  readonly index: number;
  worker: Worker;
  listening: Promise<{ host: string; port: number }>;
  lastStartMs: number;
  /** Init sent: the worker has the keys and the config current then, and answers requests. */
  initialized: boolean;
  /** Its data port is listening. */
  up: boolean;
  /** Its exposition at the last scrape. */
  lastMetrics: string | undefined;
}

type Pending = { resolve(message: WorkerMessage | null): void; timer: NodeJS.Timeout };

const LEVEL_NAMES: Readonly<Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'>> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

/** Writes a worker's pino line through the primary's logger, tagged with the worker's index. */
function relayLog(log: Logger, worker: number, line: string): void {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return;
  }
  const { level, msg, time: _time, ...fields } = record;
  const name = LEVEL_NAMES[typeof level === 'number' ? level : 30] ?? 'info';
  log[name]({ worker, ...fields }, typeof msg === 'string' ? msg : '');
}

function workerEntry(): string {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./worker-entry${ext}`, import.meta.url).pathname;
}

export async function startProxyWorkers(options: WorkersOptions): Promise<RunningProxyWorkers> {
  if (!cluster.isPrimary) throw new Error('proxy workers: startProxyWorkers runs in the primary only');
  if (!Number.isInteger(options.workers) || options.workers < 2) {
    throw new Error(`proxy workers: workers must be an integer >= 2, got ${options.workers}`);
  }
  const log: Logger = options.logger ?? pino({ name: 'sluice-proxy' });
  const count = options.workers;
  const keyRing = options.cookieKeys ?? randomKeyRing();
  const keys: WireCookieKey[] = keyRing.keys.map((k) => ({ id: k.id, secret: k.key.export() }));
  const data: DataServerOptions = {
    ...DEFAULT_DATA_SERVER_OPTIONS,
    ...options.data,
    host: options.listen.host,
    port: options.listen.port,
  };
  // The primary's own registry: the control stream's state and dropped reports, and its process.
  const ownMetrics = new PrometheusMetrics();

  let current: { version: number; routes: RoutesConfig } | undefined;
  let describe: unknown = null;
  let closing = false;
  let restarts = 0;
  /** The counters of workers that exited, as of their last scrape. */
  let retiredCounters = '';
  let nextId = 1;
  const pending = new Map<number, Pending>();
  const slots: Slot[] = [];
  /** Per slot, the last config version it acknowledged. */
  const appliedVersion: number[] = new Array(count).fill(0);

  cluster.setupPrimary({
    exec: workerEntry(),
    args: [],
    // The worker runs the proxy's code only: no inspector, no test runner loaders.
    execArgv: process.execArgv.filter((a) => !a.startsWith('--inspect')),
    serialization: 'advanced',
    silent: false,
  });

  const request = (slot: Slot, build: (id: number) => PrimaryMessage): Promise<WorkerMessage | null> => {
    const id = nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        resolve(null);
      }, WORKER_ANSWER_TIMEOUT_MS);
      pending.set(id, { resolve, timer });
      const unanswered = (): void => {
        clearTimeout(timer);
        pending.delete(id);
        resolve(null);
      };
      try {
        // With a callback a closed channel (a worker that just died) is reported here; without one
        // Node emits it as an 'error' event on the worker, which nothing handles.
        slot.worker.send(build(id), undefined, undefined, (err: Error | null) => {
          if (err) unanswered();
        });
      } catch {
        unanswered();
      }
    });
  };

  const fork = (index: number): Slot => {
    const worker = cluster.fork({ SLUICE_PROXY_WORKER: String(index) });
    let onListening!: (a: { host: string; port: number }) => void;
    let onFailed!: (e: Error) => void;
    const listening = new Promise<{ host: string; port: number }>((resolve, reject) => {
      onListening = resolve;
      onFailed = reject;
    });
    listening.catch(() => undefined);
    const slot: Slot = {
      index,
      worker,
      listening,
      lastStartMs: Date.now(),
      initialized: false,
      up: false,
      lastMetrics: undefined,
    };
    // A send to a worker that just died fails with ERR_IPC_CHANNEL_CLOSED as an 'error' event; its
    // 'exit' (below) is what handles the death.
    worker.on('error', () => undefined);
    worker.on('online', () => {
      slot.initialized = true;
      worker.send({
        t: 'init',
        index,
        count,
        keys,
        data,
        ...(options.upstreamCa === undefined ? {} : { upstreamCa: options.upstreamCa }),
        ...(options.control?.reportIntervalMs === undefined
          ? {}
          : { intervalMs: options.control.reportIntervalMs }),
        ...(current === undefined ? {} : { config: current }),
        logLevel: log.level,
      } satisfies PrimaryMessage);
      if (current !== undefined) appliedVersion[index] = current.version;
    });
    worker.on('message', (message: unknown) => {
      if (!isWorkerMessage(message)) return;
      if (message.t === 'listening') {
        if (message.describe !== null) describe = message.describe;
        slot.up = true;
        onListening({ host: message.host, port: message.port });
      } else if (message.t === 'failed') onFailed(new Error(`worker ${index}: ${message.message}`));
      else if (message.t === 'log') relayLog(log, index, message.line);
      else {
        const waiting = pending.get(message.id);
        if (waiting !== undefined) {
          pending.delete(message.id);
          clearTimeout(waiting.timer);
          waiting.resolve(message);
        }
      }
    });
    worker.on('exit', (code, signal) => {
      onFailed(new Error(`worker ${index} exited (${signal ?? code}) before listening`));
      if (closing || slots[index]?.worker !== worker) return;
      // What it had counted stays in /metrics: the merged counters must not go down.
      if (slot.lastMetrics !== undefined) {
        retiredCounters = mergeExpositions([retiredCounters, countersOnly(slot.lastMetrics)]);
      }
      log.error(
        { worker: index, workerPid: worker.process.pid, code, signal },
        'proxy worker exited; restarting it',
      );
      const wait = Math.max(0, slot.lastStartMs + RESTART_BACKOFF_MS - Date.now());
      setTimeout(() => {
        if (closing) return;
        restarts++;
        slots[index] = fork(index);
      }, wait).unref();
    });
    return slot;
  };

  /** Sends a validated config to every worker; resolves once each answered (or was replaced meanwhile). */
  const broadcast = async (routes: RoutesConfig, version: number): Promise<boolean> => {
    current = { version, routes };
    const answers = await Promise.all(
      slots.map(async (slot) => {
        // Not yet started (a restart in progress): its init will carry `current`, this config.
        if (!slot.initialized) return true;
        const answer = await request(slot, (id) => ({ t: 'apply', id, version, routes }));
        if (answer?.t === 'applied') {
          appliedVersion[slot.index] = version;
          describe = answer.describe;
          return true;
        }
        // A worker replaced while this was in flight was forked with `current`: it serves this version.
        return slots[slot.index] !== slot;
      }),
    );
    const ok = answers.every(Boolean);
    if (ok) ownMetrics.configApplied(version);
    if (ok) log.info({ version, routes: routes.routes.length, workers: count }, 'routes applied');
    return ok;
  };

  const validate = (input: unknown): { ok: true; routes: RoutesConfig } | { ok: false; reason: string } => {
    const checked = validateRoutesConfig(input);
    if (!checked.ok) {
      ownMetrics.configRejected();
      return { ok: false, reason: formatConfigErrors(checked.errors) };
    }
    return { ok: true, routes: checked.config };
  };

  let watch: RoutesFileWatch | null = null;
  if (options.configPath !== undefined) {
    const loaded = await loadRoutesFile(options.configPath);
    if (!loaded.ok) throw new Error(loaded.message);
    current = { version: 1, routes: loaded.config };
  }

  for (let i = 0; i < count; i++) slots.push(fork(i));
  let dataAddress: { host: string; port: number };
  try {
    const addresses = await Promise.all(slots.map((s) => s.listening));
    dataAddress = addresses[0]!;
  } catch (error) {
    closing = true;
    for (const slot of slots) slot.worker.kill();
    throw error;
  }
  // The file's first config went out with init.
  if (current !== undefined) {
    ownMetrics.configApplied(current.version);
    log.info(
      { version: current.version, routes: current.routes.routes.length, workers: count },
      'routes applied',
    );
  }

  if (options.configPath !== undefined) {
    watch = watchRoutesFile(options.configPath, {
      onConfig: (config, version) => void broadcast(config, version),
      onInvalid: (message) => {
        ownMetrics.configRejected();
        log.error({ error: message }, 'routes file rejected; still serving the last good config');
      },
    });
  }

  const allWorkers = <T>(build: (id: number) => PrimaryMessage, pick: (m: WorkerMessage) => T | undefined) =>
    Promise.all(
      slots.map(async (slot) => {
        if (!slot.initialized || slot.worker.isDead()) return undefined;
        const answer = await request(slot, build);
        return answer === null ? undefined : pick(answer);
      }),
    );

  const admin = await startAdminServer({
    host: options.admin.host,
    port: options.admin.port,
    metrics: {
      render: async () => {
        const texts = await Promise.all(
          slots.map(async (slot) => {
            if (!slot.initialized || slot.worker.isDead()) return '';
            const answer = await request(slot, (id) => ({ t: 'metrics', id }));
            if (answer?.t !== 'metrics') return '';
            slot.lastMetrics = answer.text;
            return answer.text;
          }),
        );
        return mergeExpositions([retiredCounters, ...texts, await ownMetrics.render()]);
      },
    },
    describeConfig: () => describe,
    ready: () => !closing && current !== undefined && appliedVersion.every((v) => v > 0),
  });

  let control: { close(): Promise<void> } | null = null;
  if (options.control !== undefined) {
    const c = options.control;
    const { startControlClient, subscriptionOptions } = await import('../control/client.ts');
    control = startControlClient({
      ...subscriptionOptions(c, () => current?.routes.routes ?? []),
      onSnapshot: async (version: number, config: unknown) => {
        const checked = validate(config);
        if (!checked.ok) {
          log.error({ version, reason: checked.reason }, 'snapshot rejected (NACK)');
          return checked;
        }
        return (await broadcast(checked.routes, version))
          ? { ok: true as const }
          : { ok: false as const, reason: 'not every proxy worker applied the snapshot in time' };
      },
      drainReports: async (): Promise<HistogramReport[]> => {
        const lists = await allWorkers(
          (id) => ({ t: 'drain-reports', id }),
          (m) => (m.t === 'reports' ? m.reports : undefined),
        );
        return mergeReports(lists.filter((l): l is HistogramReport[] => l !== undefined));
      },
      logger: log,
      onConnectionChange: (connected: boolean) => ownMetrics.controlConnected(connected),
      onReportsDropped: (n: number) => ownMetrics.reportsDropped(n),
    });
  }

  log.info({ data: dataAddress, admin: admin.address, workers: count }, 'proxy listening');
  let closed: Promise<void> | null = null;
  return {
    dataAddress,
    adminAddress: { host: options.admin.host, port: admin.port },
    workerPids: () => slots.map((s) => s.worker.process.pid ?? 0),
    workersUp: () => slots.filter((s) => s.up && !s.worker.isDead()).length,
    get restarts() {
      return restarts;
    },
    close(drainMs = 10_000) {
      closed ??= (async () => {
        watch?.close();
        // Reports still in the workers go out before the stream ends (close() collects once more).
        await control?.close();
        closing = true;
        await Promise.all(
          slots.map(
            (slot) =>
              new Promise<void>((resolve) => {
                const worker = slot.worker;
                if (worker.isDead()) return resolve();
                const kill = setTimeout(() => worker.kill('SIGKILL'), drainMs + EXIT_GRACE_MS);
                worker.once('exit', () => {
                  clearTimeout(kill);
                  resolve();
                });
                try {
                  worker.send({ t: 'shutdown', drainMs } satisfies PrimaryMessage);
                } catch {
                  worker.kill('SIGKILL');
                }
              }),
          ),
        );
        for (const waiting of pending.values()) clearTimeout(waiting.timer);
        await admin.close();
      })();
      return closed;
    },
  };
}
