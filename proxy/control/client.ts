// The proxy's side of the control stream (control.proto): dial, Hello, apply each pushed snapshot
// through the caller's onSnapshot and answer ACK/NACK, stream histogram reports in batches, and when
// the stream breaks, resubscribe with exponential backoff and full jitter. While disconnected the
// caller keeps serving its last applied config (this client simply does not call onSnapshot), and
// reports queue in a bounded backlog that drops the oldest first and counts what it dropped.
//
// Delivery of reports is at most once: a batch written into a stream that then breaks is lost.

import { hostname } from 'node:os';
import {
  type ChannelCredentials,
  type ChannelOptions,
  type ClientDuplexStream,
  credentials,
  status as grpcStatus,
  Metadata,
  type ServiceError,
} from '@grpc/grpc-js';
import type { RoutesConfig } from '../config.ts';
import { helloToWire, reportToWire, snapshotFromWire } from './convert.ts';
import { controlPlaneService, type WireControlMessage, type WireProxyMessage } from './proto.ts';
import type { HistogramReport } from './report.ts';

export const DEFAULT_REPORT_INTERVAL_MS = 1_000;
export const DEFAULT_MAX_BACKLOG_REPORTS = 10_000;
export const DEFAULT_MAX_REPORTS_PER_MESSAGE = 500;
export const DEFAULT_BACKOFF_INITIAL_MS = 100;
export const DEFAULT_BACKOFF_MAX_MS = 10_000;
const CLOSE_GRACE_MS = 1_000;
/** After an interval boundary, so the interval that just ended is finished when it is collected. */
const REPORT_ALIGN_GRACE_MS = 2;

export type SnapshotResult = { ok: true } | { ok: false; reason: string };

/** Structured logger; pino's Logger fits. */
export interface ControlLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ControlTlsOptions {
  /** PEM CA bundle that signed the server certificate; system roots when absent. */
  ca?: Buffer;
  /** PEM client certificate (mTLS); requires key. */
  cert?: Buffer;
  /** PEM private key of cert. */
  key?: Buffer;
  /** Expected server name when it differs from the target host (e.g. dialing an IP). */
  serverName?: string;
}

export interface ControlClientOptions {
  /** host:port of the control server. */
  target: string;
  /** Sent as `authorization: Bearer <token>` on the stream. */
  token?: string;
  /** TLS when present (mTLS with cert + key); plaintext only when absent. */
  tls?: ControlTlsOptions;
  proxyId: string;
  /** Software version announced in Hello. */
  proxyVersion?: string;
  /** The routes this proxy serves, announced in Hello: names, or names with a namespace. */
  routes: (string | { name: string; namespace?: string })[];
  /**
   * Serve every route the control plane publishes, including ones declared later (`routes` must then be
   * empty). Each Hello then lists the routes served now, given by this callback (from the last applied
   * snapshot), so a restarted control plane holds the first snapshot until they are published again.
   */
  allRoutes?: { servedNow(): { name: string; namespace?: string }[] };
  /**
   * Applies a pushed snapshot; its answer becomes the ACK or the NACK reason. A promise (a multi-worker
   * proxy applies in every worker first) is awaited; answers keep the order snapshots arrived in.
   */
  onSnapshot(version: number, config: RoutesConfig): SnapshotResult | Promise<SnapshotResult>;
  /**
   * Completed intervals not yet exported, e.g. () => store.drainReports(). Give this or `histograms`. A
   * promise (a multi-worker proxy collects from its workers) is awaited before the batch is sent.
   */
  drainReports?(): HistogramReport[] | Promise<HistogramReport[]>;
  /** Shorthand for drainReports: anything with drainReports(), e.g. the proxy's HistogramRecorder. */
  histograms?: { drainReports(): HistogramReport[] };
  reportIntervalMs?: number;
  maxBacklogReports?: number;
  maxReportsPerMessage?: number;
  backoff?: { initialMs?: number; maxMs?: number };
  logger?: ControlLogger;
  onConnectionChange?(connected: boolean): void;
  onReportsDropped?(count: number): void;
  /** 0..1; injected in tests to make the jitter deterministic. */
  random?: () => number;
}

/** How a proxy is told to subscribe (ProxyOptions.control): what the client options derive from. */
export interface ControlSubscription {
  readonly target: string;
  readonly token?: string;
  readonly tls?: ControlTlsOptions;
  readonly proxyId?: string;
  readonly routes?: readonly { name: string; namespace?: string }[];
  readonly allRoutes?: boolean;
  readonly reportIntervalMs?: number;
}

/**
 * The subscription part of the client options, for the single-process proxy and the workers' primary
 * alike: `servedNow` lists the routes of the config applied now (for an all-routes Hello).
 */
export function subscriptionOptions(
  c: ControlSubscription,
  servedNow: () => readonly { name: string; namespace?: string }[],
): Pick<
  ControlClientOptions,
  'target' | 'token' | 'tls' | 'proxyId' | 'routes' | 'allRoutes' | 'reportIntervalMs'
> {
  return {
    target: c.target,
    ...(c.token !== undefined ? { token: c.token } : {}),
    ...(c.tls !== undefined ? { tls: c.tls } : {}),
    proxyId: c.proxyId ?? `${hostname()}-${process.pid}`,
    routes: [...(c.routes ?? [])],
    ...(c.allRoutes === true
      ? {
          allRoutes: {
            servedNow: () =>
              servedNow().map((r) =>
                r.namespace === undefined || r.namespace === ''
                  ? { name: r.name }
                  : { name: r.name, namespace: r.namespace },
              ),
          },
        }
      : {}),
    ...(c.reportIntervalMs !== undefined ? { reportIntervalMs: c.reportIntervalMs } : {}),
  };
}

export interface ControlClient {
  /** Stops reconnecting, sends what is queued if connected, ends the stream. */
  close(): Promise<void>;
  /** True while a stream is established (the server's headers or a message arrived). */
  connected(): boolean;
  /** Reports dropped so far because the backlog was full. */
  droppedReports(): number;
  /** Reports waiting to be sent. */
  backlogSize(): number;
}

const NOOP_LOGGER: ControlLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** The delay before reconnect attempt n (0-based): exponential, capped, full jitter in [d/2, d]. */
export function backoffDelayMs(attempt: number, initialMs: number, maxMs: number, random: number): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (ceiling / 2) * random);
}

function buildCredentials(tls: ControlTlsOptions | undefined): ChannelCredentials {
  if (tls === undefined) return credentials.createInsecure();
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new Error('control: tls.cert and tls.key must be given together (mTLS)');
  }
  return credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null);
}

function validate(options: ControlClientOptions): void {
  if (!/^[^\s/]+:\d{1,5}$/.test(options.target)) {
    throw new Error(`control: target must be host:port, got "${options.target}"`);
  }
  if (options.proxyId === '') throw new Error('control: proxyId must not be empty');
  if (options.allRoutes !== undefined && options.routes.length > 0) {
    throw new Error('control: give routes or allRoutes, not both');
  }
  if ((options.drainReports === undefined) === (options.histograms === undefined)) {
    throw new Error('control: give exactly one of drainReports or histograms');
  }
  if (options.token !== undefined && !/^[\x21-\x7e]+$/.test(options.token)) {
    throw new Error('control: token must be printable ASCII without spaces');
  }
  for (const [field, value] of [
    ['reportIntervalMs', options.reportIntervalMs],
    ['maxBacklogReports', options.maxBacklogReports],
    ['maxReportsPerMessage', options.maxReportsPerMessage],
    ['backoff.initialMs', options.backoff?.initialMs],
    ['backoff.maxMs', options.backoff?.maxMs],
  ] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value <= 0)) {
      throw new Error(`control: ${field} must be a positive integer, got ${value}`);
    }
  }
}

type Call = ClientDuplexStream<WireProxyMessage, WireControlMessage>;
type SubscribeMethod = (metadata: Metadata) => Call;

export function startControlClient(options: ControlClientOptions): ControlClient {
  validate(options);
  const logger = options.logger ?? NOOP_LOGGER;
  const random = options.random ?? Math.random;
  const reportIntervalMs = options.reportIntervalMs ?? DEFAULT_REPORT_INTERVAL_MS;
  const maxBacklog = options.maxBacklogReports ?? DEFAULT_MAX_BACKLOG_REPORTS;
  const maxPerMessage = options.maxReportsPerMessage ?? DEFAULT_MAX_REPORTS_PER_MESSAGE;
  const backoffInitialMs = options.backoff?.initialMs ?? DEFAULT_BACKOFF_INITIAL_MS;
  const backoffMaxMs = options.backoff?.maxMs ?? DEFAULT_BACKOFF_MAX_MS;
  const channelCredentials = buildCredentials(options.tls);
  const channelOptions: ChannelOptions = {
    'grpc.keepalive_time_ms': 20_000,
    'grpc.keepalive_timeout_ms': 10_000,
    // Our own loop owns reconnection; a fresh channel per attempt must not inherit a shared
    // subchannel's backoff (grpc-js' default pool would delay a restarted server by up to 120 s).
    'grpc.use_local_subchannel_pool': 1,
    'grpc.initial_reconnect_backoff_ms': backoffInitialMs,
    'grpc.max_reconnect_backoff_ms': backoffMaxMs,
  };
  if (options.tls?.serverName !== undefined) {
    channelOptions['grpc.ssl_target_name_override'] = options.tls.serverName;
    channelOptions['grpc.default_authority'] = options.tls.serverName;
  }
  const Service = controlPlaneService();
  const histograms = options.histograms;
  const drainReports = options.drainReports ?? (() => histograms?.drainReports() ?? []);
  const servedRoutes = options.routes.map((r) => (typeof r === 'string' ? { name: r } : r));

  let closed = false;
  let isConnected = false;
  let attempt = 0;
  let dropped = 0;
  let waitingForDrain = false;
  let backlog: HistogramReport[] = [];
  let current: { client: InstanceType<typeof Service>; call: Call } | undefined;
  let reconnectTimer: NodeJS.Timeout | undefined;

  const setConnected = (value: boolean): void => {
    if (isConnected === value) return;
    isConnected = value;
    options.onConnectionChange?.(value);
  };

  const enqueue = (reports: HistogramReport[]): void => {
    if (reports.length === 0) return;
    backlog.push(...reports);
    const excess = backlog.length - maxBacklog;
    if (excess > 0) {
      backlog = backlog.slice(excess);
      dropped += excess;
      options.onReportsDropped?.(excess);
      logger.warn(
        { dropped: excess, backlog: backlog.length },
        'control: report backlog full, dropped oldest',
      );
    }
  };

  const flush = (): void => {
    const session = current;
    if (session === undefined || !isConnected || waitingForDrain) return;
    while (backlog.length > 0) {
      const batch = backlog.splice(0, maxPerMessage);
      const writable = session.call.write({ reports: { reports: batch.map(reportToWire) } });
      if (!writable) {
        waitingForDrain = true;
        session.call.once('drain', () => {
          waitingForDrain = false;
          if (current === session) flush();
        });
        return;
      }
    }
  };

  const collect = async (): Promise<void> => {
    try {
      const drained = drainReports();
      enqueue(Array.isArray(drained) ? drained : await drained);
    } catch (error) {
      logger.error({ err: error }, 'control: drainReports failed');
    }
    flush();
  };

  const answer = (call: Call, message: WireProxyMessage): void => {
    call.write(message);
  };

  const handleMessage = (call: Call, message: WireControlMessage): void => {
    setConnected(true);
    attempt = 0;
    const snapshot = message.snapshot;
    if (snapshot === undefined) {
      logger.debug({ message: message.message }, 'control: ignoring message of unknown kind');
      return;
    }
    const parsed = snapshotFromWire(snapshot);
    if (!parsed.ok) {
      logger.warn(
        { version: parsed.version, reason: parsed.reason },
        'control: snapshot rejected (malformed)',
      );
      answer(call, { nack: { version: parsed.version, reason: parsed.reason } });
      return;
    }
    const threw = (error: unknown): SnapshotResult => ({
      ok: false,
      reason: `onSnapshot threw: ${error instanceof Error ? error.message : String(error)}`,
    });
    let started: Promise<SnapshotResult> | undefined;
    if (snapshotsInFlight === 0) {
      let result: SnapshotResult | Promise<SnapshotResult>;
      try {
        result = options.onSnapshot(parsed.version, parsed.config);
      } catch (error) {
        result = threw(error);
      }
      if (!(result instanceof Promise)) {
        answerResult(call, parsed.version, result);
        return;
      }
      started = result;
    }
    // Asynchronous: answered in arrival order, a later snapshot applied only after the earlier one.
    snapshotsInFlight++;
    const previous = answered;
    answered = (async () => {
      await previous;
      let settled: SnapshotResult;
      try {
        settled = await (started ?? options.onSnapshot(parsed.version, parsed.config));
      } catch (error) {
        settled = threw(error);
      }
      snapshotsInFlight--;
      if (current?.call === call) answerResult(call, parsed.version, settled);
    })();
  };

  let snapshotsInFlight = 0;
  let answered: Promise<void> = Promise.resolve();
  const answerResult = (call: Call, version: number, result: SnapshotResult): void => {
    const parsed = { version };
    if (result.ok) {
      logger.info({ version: parsed.version }, 'control: snapshot applied');
      answer(call, { ack: { version: parsed.version } });
    } else {
      logger.warn({ version: parsed.version, reason: result.reason }, 'control: snapshot rejected');
      answer(call, { nack: { version: parsed.version, reason: result.reason } });
    }
  };

  const scheduleReconnect = (): void => {
    if (closed || reconnectTimer !== undefined) return;
    const delayMs = backoffDelayMs(attempt, backoffInitialMs, backoffMaxMs, random());
    attempt++;
    logger.debug({ delayMs, attempt }, 'control: resubscribing after backoff');
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      subscribe();
    }, delayMs);
  };

  const subscribe = (): void => {
    if (closed) return;
    const client = new Service(options.target, channelCredentials, channelOptions);
    const metadata = new Metadata();
    if (options.token !== undefined) metadata.set('authorization', `Bearer ${options.token}`);
    const call = (client.Subscribe as SubscribeMethod).call(client, metadata);
    const session = { client, call };
    current = session;
    waitingForDrain = false;
    let ended = false;
    const end = (code: number, details: string): void => {
      if (ended) return;
      ended = true;
      if (current === session) {
        current = undefined;
        setConnected(false);
      }
      client.close();
      if (closed) return;
      const fields = { code, details, target: options.target };
      if (code === grpcStatus.UNAUTHENTICATED || code === grpcStatus.PERMISSION_DENIED) {
        logger.error(fields, 'control: stream refused (check the token)');
      } else {
        logger.warn(fields, 'control: stream ended');
      }
      scheduleReconnect();
    };
    call.on('metadata', () => {
      if (current !== session) return;
      setConnected(true);
      attempt = 0;
      logger.info({ target: options.target }, 'control: subscribed');
      flush();
    });
    call.on('data', (message: WireControlMessage) => {
      if (current === session) handleMessage(call, message);
    });
    call.on('error', (error: ServiceError) =>
      end(error.code ?? grpcStatus.UNKNOWN, error.details ?? error.message),
    );
    call.on('status', (s: { code: number; details: string }) => end(s.code, s.details));
    call.write({
      hello: helloToWire({
        proxyId: options.proxyId,
        version: options.proxyVersion ?? '',
        ...(options.allRoutes !== undefined
          ? { allRoutes: true, routes: options.allRoutes.servedNow() }
          : { routes: servedRoutes }),
      }),
    });
  };

  // Reports go out just after each interval boundary of the clock (intervals are aligned to their length
  // on the epoch): a timer started at some phase would hold every finished interval back by that phase,
  // up to a whole interval, and the controller's verdicts with it.
  let reportTimer: ReturnType<typeof setTimeout> | undefined;
  const scheduleReport = (): void => {
    const wait = reportIntervalMs - (Date.now() % reportIntervalMs) + REPORT_ALIGN_GRACE_MS;
    reportTimer = setTimeout(() => {
      void collect();
      if (!closed) scheduleReport();
    }, wait);
    reportTimer.unref();
  };
  scheduleReport();
  subscribe();

  return {
    connected: () => isConnected,
    droppedReports: () => dropped,
    backlogSize: () => backlog.length,
    async close(): Promise<void> {
      if (closed) return;
      await collect();
      closed = true;
      clearTimeout(reportTimer);
      if (reconnectTimer !== undefined) clearTimeout(reconnectTimer);
      reconnectTimer = undefined;
      const session = current;
      current = undefined;
      setConnected(false);
      if (session === undefined) return;
      const finished = new Promise<void>((resolve) => {
        session.call.once('status', () => resolve());
        session.call.once('error', () => resolve());
      });
      session.call.end();
      const timer = new Promise<'timeout'>((resolve) =>
        setTimeout(() => resolve('timeout'), CLOSE_GRACE_MS).unref(),
      );
      if ((await Promise.race([finished, timer])) === 'timeout') session.call.cancel();
      session.client.close();
    },
  };
}
