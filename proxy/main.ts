// Assembles a running proxy: telemetry, upstream pools, the data server, the admin server, and the
// source of routes (a watched file, or a control-plane subscription). Owns the lifecycle: the first
// valid config makes it ready; later configs swap atomically; SIGTERM drains and exits.

import pino, { type Logger } from 'pino';
import { startAdminServer } from './admin.ts';
import type { RoutesConfig } from './config.ts';
import { loadRoutesFile, type RoutesFileWatch, watchRoutesFile } from './config-file.ts';
import { startIdleGc } from './idle-gc.ts';
import { MirrorSender } from './mirror-sender.ts';
import { type CookieKeyRing, randomKeyRing } from './routing/key-ring.ts';
import { buildSnapshot } from './routing/snapshot.ts';
import { formatConfigErrors, validateRoutesConfig } from './routing/validate.ts';
import { DataServer, type DataServerOptions, DEFAULT_DATA_SERVER_OPTIONS } from './server.ts';
import { createTelemetry, type ProxyTelemetry } from './telemetry.ts';
import { DEFAULT_POOL_OPTIONS, PoolRegistry } from './upstream/pool.ts';

export interface ProxyOptions {
  listen: { host: string; port: number };
  admin: { host: string; port: number };
  /** Routes file to load and watch; exclusive with `control`. */
  configPath?: string;
  control?: {
    target: string;
    token?: string;
    tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
    proxyId?: string;
    /** The routes this proxy serves, told to the control plane in Hello. */
    routes?: { name: string; namespace?: string }[];
    /** Serve every route the control plane publishes, also ones declared later (instead of `routes`). */
    allRoutes?: boolean;
    /** How often completed histogram intervals are sent (the control client's default when absent). */
    reportIntervalMs?: number;
  };
  cookieKeys?: CookieKeyRing;
  /** CA certificates (PEM) trusted for https:// backends besides the system's. */
  upstreamCa?: Buffer;
  data?: Partial<Omit<DataServerOptions, 'host' | 'port'>>;
  logger?: Logger;
}

export interface RunningProxy {
  readonly dataAddress: { host: string; port: number };
  readonly adminAddress: { host: string; port: number };
  readonly telemetry: ProxyTelemetry;
  readonly server: DataServer;
  /** Validates and applies a config; returns the error text when it is rejected. */
  apply(config: unknown, version: number): { ok: true } | { ok: false; reason: string };
  close(drainMs?: number): Promise<void>;
}

export async function startProxy(options: ProxyOptions): Promise<RunningProxy> {
  const log = options.logger ?? pino({ name: 'sluice-proxy' });
  // Subscribed to a controller, the histogram intervals are as long as the report interval: a faster
  // report interval then means finer, sooner evidence (the judge's strata are the intervals).
  const reportIntervalMs = options.control?.reportIntervalMs;
  const telemetry = createTelemetry(reportIntervalMs === undefined ? {} : { intervalMs: reportIntervalMs });
  const pools = new PoolRegistry(
    options.upstreamCa === undefined
      ? DEFAULT_POOL_OPTIONS
      : { ...DEFAULT_POOL_OPTIONS, tlsCa: options.upstreamCa },
  );
  const keys = options.cookieKeys ?? randomKeyRing();
  const dataOptions: DataServerOptions = {
    ...DEFAULT_DATA_SERVER_OPTIONS,
    ...options.data,
    host: options.listen.host,
    port: options.listen.port,
  };
  const mirror = new MirrorSender();
  const server = new DataServer(dataOptions, telemetry, pools, mirror);

  const apply = (input: unknown, version: number): { ok: true } | { ok: false; reason: string } => {
    const checked = validateRoutesConfig(input);
    if (!checked.ok) {
      telemetry.configRejected();
      return { ok: false, reason: formatConfigErrors(checked.errors) };
    }
    applyValid(checked.config, version);
    return { ok: true };
  };
  const applyValid = (config: RoutesConfig, version: number): void => {
    const snapshot = buildSnapshot(config, version, {
      upstreamFor: (address) => pools.get(address),
      outstanding: (pool) => pool.inFlight,
      series: (labels) => telemetry.series(labels),
      keys,
      defaultTimeouts: dataOptions.defaultTimeouts,
    });
    server.setSnapshot(snapshot);
    log.info({ version, routes: config.routes.length }, 'routes applied');
  };

  let watch: RoutesFileWatch | null = null;
  if (options.configPath !== undefined) {
    const loaded = await loadRoutesFile(options.configPath);
    if (!loaded.ok) throw new Error(loaded.message);
    applyValid(loaded.config, 1);
    watch = watchRoutesFile(options.configPath, {
      onConfig: (config, version) => applyValid(config, version),
      onInvalid: (message) => {
        telemetry.configRejected();
        log.error({ error: message }, 'routes file rejected; still serving the last good config');
      },
    });
  }

  const dataAddress = await server.listen();
  const admin = await startAdminServer({
    host: options.admin.host,
    port: options.admin.port,
    metrics: telemetry.metrics,
    describeConfig: () => server.snapshot?.describe() ?? null,
    ready: () => server.snapshot !== null && !server.shuttingDown,
  });

  let control: { close(): Promise<void> } | null = null;
  if (options.control !== undefined) {
    const c = options.control;
    // Loaded only when used: a file-driven proxy never pays for gRPC's memory.
    const { startControlClient, subscriptionOptions } = await import('./control/client.ts');
    control = startControlClient({
      ...subscriptionOptions(c, () => server.snapshot?.routes ?? []),
      onSnapshot: (version: number, config: unknown) => {
        const result = apply(config, version);
        if (!result.ok) log.error({ version, reason: result.reason }, 'snapshot rejected (NACK)');
        return result;
      },
      histograms: telemetry.histograms,
      logger: log,
      onConnectionChange: (connected: boolean) => telemetry.metrics.controlConnected(connected),
      onReportsDropped: (n: number) => telemetry.metrics.reportsDropped(n),
    });
  }

  log.info({ data: dataAddress, admin: admin.address }, 'proxy listening');
  const stopIdleGc = startIdleGc();
  let closing: Promise<void> | null = null;
  return {
    dataAddress,
    adminAddress: { host: options.admin.host, port: admin.port },
    telemetry,
    server,
    apply,
    close(drainMs = 10_000) {
      closing ??= (async () => {
        stopIdleGc();
        watch?.close();
        await control?.close();
        await server.shutdown(drainMs);
        await admin.close();
        await mirror.close();
      })();
      return closing;
    },
  };
}
