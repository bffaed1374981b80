// What the control server tests share: a ControlServer on a free port with a fresh RouteTable, a real
// HistogramStore and the Prometheus metrics, logs captured; the proxy's real control client; a raw
// Subscribe stream for what the real client never sends; a report with a real HDR histogram.

import { type ClientDuplexStream, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { build, encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import type { RoutesConfig } from '../../../proxy/config.ts';
import {
  type ControlClient,
  type ControlClientOptions,
  startControlClient,
} from '../../../proxy/control/client.ts';
import { controlPlaneService, type WireProxyMessage } from '../../../proxy/control/proto.ts';
import type { HistogramReport } from '../../../proxy/control/report.ts';
import { HistogramStore } from '../../../src/control/histogram-store.ts';
import { type ControlRoute, RouteTable } from '../../../src/control/route-table.ts';
import { ControlServer, type ControlServerOptions, type RouteRef } from '../../../src/control/server.ts';
import { type ControlMetrics, createControlMetrics } from '../../../src/metrics/control-metrics.ts';
import { Registry } from '../../../src/metrics/registry.ts';

export const TOKEN = 'control-test-token';

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
  msg: string;
}

export function captureLogger(lines: LogLine[]) {
  const at =
    (level: LogLine['level']) =>
    (fields: object, msg = ''): void => {
      lines.push({ level, fields: fields as Record<string, unknown>, msg });
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export interface Harness {
  server: ControlServer;
  port: number;
  target: string;
  routes: RouteTable;
  histograms: HistogramStore;
  metrics: ControlMetrics;
  registry: Registry;
  logs: LogLine[];
  acks: { proxyId: string; version: number; routes: readonly RouteRef[] }[];
  reported: (readonly RouteRef[])[];
}

/** Declares every route unless `known` says otherwise. */
export async function startHarness(
  overrides: Partial<ControlServerOptions> & { routes?: RouteTable } = {},
): Promise<Harness> {
  const routes = overrides.routes ?? new RouteTable();
  const histograms = new HistogramStore();
  const registry = new Registry();
  const metrics = createControlMetrics(registry);
  const logs: LogLine[] = [];
  const acks: Harness['acks'] = [];
  const reported: Harness['reported'] = [];
  const server = new ControlServer({
    routes,
    histograms,
    token: TOKEN,
    host: '127.0.0.1',
    logger: captureLogger(logs),
    metrics,
    routeKnown: () => true,
    onAck: (proxyId, version, r) => acks.push({ proxyId, version, routes: r }),
    onReports: (r) => reported.push(r),
    ...overrides,
  });
  const port = await server.listen();
  return {
    server,
    port,
    target: `127.0.0.1:${port}`,
    routes,
    histograms,
    metrics,
    registry,
    logs,
    acks,
    reported,
  };
}

export interface RecordingClient {
  client: ControlClient;
  snapshots: { version: number; config: RoutesConfig }[];
  logs: LogLine[];
  /** Reports the next report tick sends. */
  queue: HistogramReport[];
}

export function startClient(target: string, overrides: Partial<ControlClientOptions> = {}): RecordingClient {
  const snapshots: RecordingClient['snapshots'] = [];
  const logs: LogLine[] = [];
  const queue: HistogramReport[] = [];
  const client = startControlClient({
    target,
    token: TOKEN,
    proxyId: 'proxy-a',
    proxyVersion: '0.1.0',
    routes: [{ name: 'checkout', namespace: 'shop' }],
    onSnapshot: (version, config) => {
      snapshots.push({ version, config });
      return { ok: true };
    },
    drainReports: () => queue.splice(0),
    reportIntervalMs: 20,
    backoff: { initialMs: 20, maxMs: 100 },
    logger: captureLogger(logs),
    ...overrides,
  });
  return { client, snapshots, logs, queue };
}

export function route(name: string, namespace = 'shop', overrides: Partial<ControlRoute> = {}): ControlRoute {
  return {
    namespace,
    name,
    match: {},
    backends: [
      { name: 'stable', revision: 'rev-stable', address: 'http://127.0.0.1:9', weight: 90 },
      { name: 'canary', revision: 'rev-canary', address: 'http://127.0.0.1:10', weight: 10 },
    ],
    ...overrides,
  };
}

export function withCanaryWeight(r: ControlRoute, canaryPercent: number): ControlRoute {
  return {
    ...r,
    backends: [
      { ...r.backends[0]!, weight: 100 - canaryPercent },
      { ...r.backends[1]!, weight: canaryPercent },
    ],
  };
}

/** A valid report for one finished 1 s interval of the last minute. */
export function histogramReport(overrides: Partial<HistogramReport> = {}): HistogramReport {
  const h = build();
  for (const us of [800, 1_200, 2_500, 40_000]) h.recordValue(us);
  const endMs = Math.floor(Date.now() / 1000) * 1000 - 1000;
  return {
    route: 'checkout',
    namespace: 'shop',
    role: 'canary',
    revision: 'rev-canary',
    startMs: endMs - 1000,
    endMs,
    histogram: encodeIntoCompressedBase64(h),
    count1xx: 0,
    count2xx: 3,
    count3xx: 0,
    count4xx: 0,
    count5xx: 1,
    requests: 4,
    errors: 1,
    ...overrides,
  };
}

export async function until(condition: () => boolean, what = 'condition', timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface RawStream {
  call: ClientDuplexStream<WireProxyMessage, unknown>;
  /** Messages received. */
  messages: unknown[];
  /** Resolves with the stream's final status. */
  status: Promise<{ code: number; details: string }>;
  close(): void;
}

/** A Subscribe stream written by hand (for what the real client never sends). */
export function rawStream(target: string, token: string | undefined = TOKEN): RawStream {
  const Service = controlPlaneService();
  const client = new Service(target, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  const metadata = new Metadata();
  if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
  const call = (client.Subscribe as (m: Metadata) => ClientDuplexStream<WireProxyMessage, unknown>).call(
    client,
    metadata,
  );
  const messages: unknown[] = [];
  call.on('data', (m: unknown) => messages.push(m));
  const status = new Promise<{ code: number; details: string }>((resolve) => {
    call.on('status', (s: { code: number; details: string }) =>
      resolve({ code: s.code, details: s.details }),
    );
    call.on('error', (e: ServiceError) => resolve({ code: e.code, details: e.details }));
  });
  void status.then(() => client.close());
  return {
    call,
    messages,
    status,
    close: () => {
      call.cancel();
      client.close();
    },
  };
}
