// The controller's control server (proxy/control/control.proto, service ControlPlane): one Subscribe
// stream per proxy. It authenticates the stream (bearer token, constant-time; TLS or mTLS when
// configured), takes the proxy's Hello, pushes complete route snapshots built from the RouteTable, tracks
// every proxy's sent / ACKed / NACKed versions (the DeliveryView the proxy router verifies weights
// against) and feeds the proxies' histogram reports into the HistogramStore.
//
// Invariants:
// - A proxy gets a snapshot only once every route it subscribes to has been published at least once by
//   this process: a restarted controller never pushes a snapshot missing a route the proxy serves (the
//   proxy keeps serving its last one meanwhile).
// - A RouteTable change is pushed to every covering proxy synchronously from the table's listener (the
//   abort path counts on no delay). Under backpressure only the latest snapshot is written on drain:
//   snapshots are complete, intermediate ones are worth nothing.
// - One stream per proxy_id: a newer stream replaces the older, which is closed.
// - Only a serving (leading) controller accepts streams; standby refuses with UNAVAILABLE, which the
//   proxy's client retries with backoff.

import {
  Metadata,
  Server,
  ServerCredentials,
  type ServerDuplexStream,
  status,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { bearerTokenVerifier, type TokenCheck } from './auth.ts';
import type { IngestResult } from './histogram-store.ts';
import type { ControlRoute, DeliveryView, RouteDelivery, RouteTable } from './route-table.ts';
import { routeKey } from './route-table.ts';
import {
  ackFromWire,
  controlPlaneDefinition,
  type Hello,
  helloFromWire,
  nackFromWire,
  reportFieldToWire,
  reportFromWire,
  type ServedRoute,
  snapshotToWire,
  type WireControlMessage,
  type WireHistogramReport,
  type WireProxyMessage,
} from './wire.ts';

/** gRPC's default, set explicitly: a larger message fails with RESOURCE_EXHAUSTED before it is parsed. */
export const DEFAULT_MAX_RECEIVE_MESSAGE_BYTES = 4 * 1024 * 1024;
/** Reports per message; the proxy's client sends at most 500 by default. */
export const DEFAULT_MAX_REPORT_BATCH = 5_000;
export const DEFAULT_HELLO_TIMEOUT_MS = 10_000;
/** Server keepalive pings: a proxy that vanished without closing its stream leaves the deliveries. */
export const DEFAULT_KEEPALIVE_TIME_MS = 30_000;
export const DEFAULT_KEEPALIVE_TIMEOUT_MS = 10_000;
/** Unanswered snapshots remembered per proxy for ACK latency (older ones are forgotten). */
const MAX_IN_FLIGHT = 64;
const SHUTDOWN_GRACE_MS = 1_000;

/** Structured logger; pino's Logger fits. */
export interface ControlServerLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export type ReportRejectReason = 'malformed' | 'invalid' | 'unsubscribed_route' | 'batch_too_large';

/** Where the server's counters go; src/metrics/control-metrics.ts implements it for Prometheus. */
export interface ControlServerMetrics {
  connectedProxies(count: number): void;
  snapshotVersion(version: number): void;
  snapshotSent(): void;
  /** An ACK; latency from sending that snapshot, when this stream sent it and still remembers when. */
  ack(latencySeconds: number | undefined): void;
  nack(): void;
  unauthenticated(): void;
  unknownRouteSubscription(): void;
  reportIngested(result: 'stored' | 'duplicate' | 'stale'): void;
  reportRejected(reason: ReportRejectReason): void;
}

export interface RouteRef {
  readonly namespace: string;
  readonly name: string;
}

export interface ControlServerOptions {
  readonly routes: RouteTable;
  /** The HistogramStore (or anything with its ingest). */
  readonly histograms: { ingest(input: unknown): IngestResult };
  /** Every stream must carry `authorization: Bearer <token>`. */
  readonly token: string;
  /** TLS with this certificate; with clientCa, proxies must present a certificate it signed (mTLS). */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer; readonly clientCa?: Buffer };
  readonly host?: string;
  /** 0 (default) picks a free port. */
  readonly port?: number;
  readonly logger?: ControlServerLogger;
  readonly metrics?: ControlServerMetrics;
  /** Whether any Rollout declares this route (in `namespace`, or in any namespace when undefined). */
  routeKnown(namespace: string | undefined, name: string): boolean;
  /**
   * The namespaces whose Rollouts declare route `name`: a name-only subscription gets its first snapshot
   * once the route is published in each of them. Without it, once in one namespace.
   */
  routeNamespaces?(name: string): readonly string[];
  /** A proxy ACKed `version`, which carried `routes`. */
  onAck?(proxyId: string, version: number, routes: readonly RouteRef[]): void;
  /** A proxy NACKed `version`, which carried `routes`. */
  onNack?(proxyId: string, version: number, reason: string, routes: readonly RouteRef[]): void;
  /** Reports were stored for these routes (distinct). */
  onReports?(routes: readonly RouteRef[]): void;
  /** Accept streams from the start (default true); the controller starts not serving until it leads. */
  readonly serving?: boolean;
  readonly maxReceiveMessageBytes?: number;
  readonly maxReportBatch?: number;
  readonly helloTimeoutMs?: number;
  readonly keepaliveTimeMs?: number;
  /** Monotonic milliseconds, for ACK latency (default performance.now). */
  readonly nowMs?: () => number;
}

/** One connected proxy as the server tracks it. */
export interface ProxyStatus extends RouteDelivery {
  readonly version: string;
  readonly routes: readonly ServedRoute[];
  /** Subscribed to every route (control.proto Hello.all_routes). */
  readonly allRoutes: boolean;
  /** Send -> ACK of its latest ACKed snapshot, when known. */
  readonly lastAckLatencyMs?: number;
}

type Call = ServerDuplexStream<WireProxyMessage, WireControlMessage>;

interface SentSnapshot {
  readonly version: number;
  readonly atMs: number;
  readonly routes: readonly RouteRef[];
}

interface Session {
  readonly call: Call;
  readonly peer: string;
  hello: Hello | undefined;
  sentVersion: number;
  ackedVersion: number;
  lastAckLatencyMs: number | undefined;
  nack: { version: number; reason: string } | undefined;
  inFlight: SentSnapshot[];
  /** The last write returned false: the next snapshot waits for 'drain'. */
  blocked: boolean;
  /** A snapshot is due once drained. */
  due: boolean;
  ended: boolean;
  helloTimer: NodeJS.Timeout | undefined;
}

const NOOP_LOGGER: ControlServerLogger = { debug() {}, info() {}, warn() {}, error() {} };

function covers(hello: Hello, namespace: string, name: string): boolean {
  return (
    hello.allRoutes ||
    hello.routes.some((r) => r.name === name && (r.namespace === undefined || r.namespace === namespace))
  );
}

function describeRoute(r: ServedRoute): string {
  return r.namespace === undefined ? `${r.name} (any namespace)` : `${r.namespace}/${r.name}`;
}

export class ControlServer implements DeliveryView {
  readonly #options: ControlServerOptions;
  readonly #routes: RouteTable;
  readonly #log: ControlServerLogger;
  readonly #metrics: ControlServerMetrics | undefined;
  readonly #verify: (authorization: string | undefined) => TokenCheck;
  readonly #nowMs: () => number;
  readonly #server: Server;
  /** Every open stream, greeted or not. */
  readonly #streams = new Set<Session>();
  /** Greeted streams by proxy_id. */
  readonly #proxies = new Map<string, Session>();
  /** Routes published at least once by this process (namespace/name), and their names. */
  readonly #published = new Set<string>();
  readonly #publishedNames = new Set<string>();
  readonly #unsubscribe: () => void;
  #serving: boolean;
  #port: number | undefined;
  #closed = false;

  constructor(options: ControlServerOptions) {
    this.#options = options;
    this.#routes = options.routes;
    this.#log = options.logger ?? NOOP_LOGGER;
    this.#metrics = options.metrics;
    this.#verify = bearerTokenVerifier(options.token);
    this.#nowMs = options.nowMs ?? (() => performance.now());
    this.#serving = options.serving ?? true;
    for (const p of this.#routes.all()) this.#markPublished(p.route);
    this.#metrics?.snapshotVersion(this.#routes.version);
    this.#metrics?.connectedProxies(0);
    this.#unsubscribe = this.#routes.onChange((namespace, name) => this.#onRouteChange(namespace, name));
    this.#server = new Server({
      'grpc.max_receive_message_length': options.maxReceiveMessageBytes ?? DEFAULT_MAX_RECEIVE_MESSAGE_BYTES,
      'grpc.keepalive_time_ms': options.keepaliveTimeMs ?? DEFAULT_KEEPALIVE_TIME_MS,
      'grpc.keepalive_timeout_ms': DEFAULT_KEEPALIVE_TIMEOUT_MS,
    });
    const implementation: UntypedServiceImplementation = { Subscribe: (call: Call) => this.#subscribe(call) };
    this.#server.addService(controlPlaneDefinition(), implementation);
  }

  /** Binds host:port; resolves with the bound port. */
  async listen(): Promise<number> {
    const o = this.#options;
    const credentials =
      o.tls === undefined
        ? ServerCredentials.createInsecure()
        : ServerCredentials.createSsl(
            o.tls.clientCa ?? null,
            [{ private_key: o.tls.key, cert_chain: o.tls.cert }],
            o.tls.clientCa !== undefined,
          );
    const host = o.host ?? '0.0.0.0';
    const address = `${host.includes(':') ? `[${host}]` : host}:${o.port ?? 0}`;
    this.#port = await new Promise<number>((resolve, reject) => {
      this.#server.bindAsync(address, credentials, (error, port) => (error ? reject(error) : resolve(port)));
    });
    this.#log.info(
      { address, port: this.#port, tls: o.tls === undefined ? 'off' : o.tls.clientCa ? 'mtls' : 'tls' },
      'control: listening',
    );
    return this.#port;
  }

  get port(): number | undefined {
    return this.#port;
  }

  get serving(): boolean {
    return this.#serving;
  }

  /** Leader gating: not serving refuses new streams and closes the open ones, both with UNAVAILABLE. */
  setServing(serving: boolean): void {
    if (this.#serving === serving || this.#closed) return;
    this.#serving = serving;
    this.#log.info({ serving }, serving ? 'control: serving proxies' : 'control: not serving proxies');
    if (!serving) for (const s of [...this.#streams]) this.#end(s, status.UNAVAILABLE, 'not the leader');
  }

  deliveries(namespace: string, name: string): RouteDelivery[] {
    const out: RouteDelivery[] = [];
    for (const s of this.#proxies.values()) {
      if (covers(s.hello!, namespace, name)) out.push(delivery(s));
    }
    return out;
  }

  /** Every connected (greeted) proxy. */
  proxies(): ProxyStatus[] {
    return [...this.#proxies.values()].map((s) => ({
      ...delivery(s),
      version: s.hello!.version,
      routes: s.hello!.routes,
      allRoutes: s.hello!.allRoutes,
      ...(s.lastAckLatencyMs !== undefined ? { lastAckLatencyMs: s.lastAckLatencyMs } : {}),
    }));
  }

  /** Ends every stream with UNAVAILABLE and stops the server; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    for (const s of [...this.#streams]) this.#end(s, status.UNAVAILABLE, 'controller shutting down');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#server.forceShutdown();
        resolve();
      }, SHUTDOWN_GRACE_MS);
      this.#server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #subscribe(call: Call): void {
    const peer = call.getPeer();
    if (this.#closed) {
      call.emit('error', { code: status.UNAVAILABLE, details: 'controller shutting down' });
      return;
    }
    const presented = call.metadata.get('authorization')[0];
    const check = this.#verify(typeof presented === 'string' ? presented : undefined);
    if (check !== 'ok') {
      // Never the token itself: only whether one came.
      this.#log.warn(
        { peer, authorization: check },
        'control: stream refused: missing or invalid bearer token',
      );
      this.#metrics?.unauthenticated();
      call.emit('error', { code: status.UNAUTHENTICATED, details: 'missing or invalid bearer token' });
      return;
    }
    if (!this.#serving) {
      this.#log.debug({ peer }, 'control: stream refused: not the leader');
      call.emit('error', { code: status.UNAVAILABLE, details: 'not the leader' });
      return;
    }
    const session: Session = {
      call,
      peer,
      hello: undefined,
      sentVersion: 0,
      ackedVersion: 0,
      lastAckLatencyMs: undefined,
      nack: undefined,
      inFlight: [],
      blocked: false,
      due: false,
      ended: false,
      helloTimer: undefined,
    };
    this.#streams.add(session);
    const helloTimeoutMs = this.#options.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS;
    session.helloTimer = setTimeout(
      () => this.#end(session, status.INVALID_ARGUMENT, `hello: not received within ${helloTimeoutMs} ms`),
      helloTimeoutMs,
    );
    session.helloTimer.unref();
    call.on('data', (message: WireProxyMessage) => {
      // A throwing hook (routeKnown, onAck, ...) must cost this stream, never the process.
      try {
        this.#onMessage(session, message);
      } catch (error) {
        this.#log.error(
          { proxyId: session.hello?.proxyId, peer, err: String(error) },
          'control: stream failed',
        );
        this.#end(session, status.INTERNAL, 'internal error');
      }
    });
    call.on('end', () => {
      // The proxy half-closed (its client's close()): finish with OK.
      const open = !session.ended;
      this.#retire(session);
      if (open) call.end();
    });
    call.on('cancelled', () => this.#retire(session));
    call.on('error', () => this.#retire(session));
    call.on('close', () => this.#retire(session));
  }

  #onMessage(session: Session, message: WireProxyMessage): void {
    if (session.ended) return;
    if (message.hello !== undefined) this.#onHello(session, message.hello);
    else if (session.hello === undefined) {
      this.#end(session, status.INVALID_ARGUMENT, 'hello: must be the first message of the stream');
    } else if (message.ack !== undefined) this.#onAck(session, message.ack);
    else if (message.nack !== undefined) this.#onNack(session, message.nack);
    else if (message.reports !== undefined) this.#onReports(session, message.reports.reports ?? []);
  }

  #onHello(session: Session, wire: NonNullable<WireProxyMessage['hello']>): void {
    if (session.hello !== undefined) {
      this.#end(session, status.INVALID_ARGUMENT, 'hello: sent twice on one stream');
      return;
    }
    const parsed = helloFromWire(wire);
    if (!parsed.ok) {
      this.#log.warn({ peer: session.peer, field: parsed.field }, 'control: bad hello');
      this.#end(session, status.INVALID_ARGUMENT, `${parsed.field}: ${parsed.message}`);
      return;
    }
    let hello = parsed.value;
    if (hello.allRoutes) {
      // The routes it serves now only hold back its first snapshot; one no Rollout declares any more
      // (deleted while the proxy was away) is dropped from that wait, not refused.
      const known = hello.routes.filter((r) => this.#options.routeKnown(r.namespace, r.name));
      hello = { ...hello, routes: known };
    }
    for (const [i, route] of hello.routes.entries()) {
      if (this.#options.routeKnown(route.namespace, route.name)) continue;
      const what = describeRoute(route);
      this.#log.warn(
        { proxyId: hello.proxyId, peer: session.peer, route: what },
        'control: subscription names a route no Rollout declares',
      );
      this.#metrics?.unknownRouteSubscription();
      this.#end(session, status.NOT_FOUND, `hello.routes[${i}]: no Rollout declares route ${what}`);
      return;
    }
    clearTimeout(session.helloTimer);
    session.helloTimer = undefined;
    const previous = this.#proxies.get(hello.proxyId);
    if (previous !== undefined) {
      this.#log.info(
        { proxyId: hello.proxyId, peer: session.peer, previousPeer: previous.peer },
        'control: newer stream replaces the previous one of this proxy',
      );
      this.#end(previous, status.ABORTED, 'replaced by a newer stream with the same proxy_id');
    }
    session.hello = hello;
    this.#proxies.set(hello.proxyId, session);
    this.#metrics?.connectedProxies(this.#proxies.size);
    // Headers once accepted: the proxy counts itself subscribed when they arrive (control.proto).
    session.call.sendMetadata(new Metadata());
    this.#log.info(
      {
        proxyId: hello.proxyId,
        peer: session.peer,
        proxyVersion: hello.version,
        routes: hello.allRoutes ? 'all' : hello.routes.map(describeRoute),
      },
      'control: proxy subscribed',
    );
    this.#send(session);
  }

  #onAck(session: Session, wire: NonNullable<WireProxyMessage['ack']>): void {
    const parsed = ackFromWire(wire);
    if (!parsed.ok) {
      this.#end(session, status.INVALID_ARGUMENT, `${parsed.field}: ${parsed.message}`);
      return;
    }
    const version = parsed.value;
    const proxyId = session.hello!.proxyId;
    const sent = this.#answered(session, version);
    if (sent === undefined && version > session.sentVersion) {
      this.#log.warn(
        { proxyId, version, sentVersion: session.sentVersion },
        'control: ACK of a version never sent',
      );
      return;
    }
    if (version > session.ackedVersion) session.ackedVersion = version;
    const latencyMs = sent === undefined ? undefined : this.#nowMs() - sent.atMs;
    if (latencyMs !== undefined) session.lastAckLatencyMs = latencyMs;
    this.#metrics?.ack(latencyMs === undefined ? undefined : latencyMs / 1000);
    this.#log.debug({ proxyId, version, latencyMs }, 'control: ACK');
    this.#options.onAck?.(proxyId, version, sent?.routes ?? this.#coveredRefs(session.hello!));
  }

  #onNack(session: Session, wire: NonNullable<WireProxyMessage['nack']>): void {
    const parsed = nackFromWire(wire);
    if (!parsed.ok) {
      this.#end(session, status.INVALID_ARGUMENT, `${parsed.field}: ${parsed.message}`);
      return;
    }
    const { version, reason } = parsed.value;
    const proxyId = session.hello!.proxyId;
    const sent = this.#answered(session, version);
    session.nack = { version, reason };
    this.#metrics?.nack();
    this.#log.warn(
      { proxyId, peer: session.peer, version, reason },
      'control: proxy rejected a snapshot (NACK)',
    );
    this.#options.onNack?.(proxyId, version, reason, sent?.routes ?? this.#coveredRefs(session.hello!));
  }

  /** The snapshot `version` answered: it and everything older stop being in flight. */
  #answered(session: Session, version: number): SentSnapshot | undefined {
    const sent = session.inFlight.find((s) => s.version === version);
    session.inFlight = session.inFlight.filter((s) => s.version > version);
    return sent;
  }

  #onReports(session: Session, reports: readonly WireHistogramReport[]): void {
    const hello = session.hello!;
    const max = this.#options.maxReportBatch ?? DEFAULT_MAX_REPORT_BATCH;
    if (reports.length > max) {
      this.#rejectReports(
        session,
        'batch_too_large',
        `reports: ${reports.length} reports exceed the limit of ${max}`,
      );
      return;
    }
    const stored = new Map<string, RouteRef>();
    let failure: { reason: ReportRejectReason; details: string } | undefined;
    for (const [i, wire] of reports.entries()) {
      const path = `reports[${i}]`;
      const parsed = reportFromWire(wire, path);
      if (!parsed.ok) {
        failure = { reason: 'malformed', details: `${parsed.field}: ${parsed.message}` };
        break;
      }
      const report = parsed.value;
      if (!covers(hello, report.namespace, report.route)) {
        failure = {
          reason: 'unsubscribed_route',
          details: `${path}.route: ${report.namespace}/${report.route} is not a route this proxy subscribed to`,
        };
        break;
      }
      const result = this.#options.histograms.ingest({ ...report, proxyId: hello.proxyId });
      if (!result.ok) {
        failure = {
          reason: 'invalid',
          details: `${reportFieldToWire(result.error.field, path)}: ${result.error.message}`,
        };
        break;
      }
      const outcome = result.stored ? 'stored' : (result.reason ?? 'duplicate');
      this.#metrics?.reportIngested(outcome);
      if (result.stored) {
        const ref = { namespace: report.namespace, name: report.route };
        stored.set(routeKey(ref.namespace, ref.name), ref);
      }
    }
    // What was stored before a bad report stays; the hooks hear of it either way.
    if (stored.size > 0) this.#options.onReports?.([...stored.values()]);
    if (failure !== undefined) this.#rejectReports(session, failure.reason, failure.details);
  }

  #rejectReports(session: Session, reason: ReportRejectReason, details: string): void {
    this.#metrics?.reportRejected(reason);
    this.#log.warn(
      { proxyId: session.hello?.proxyId, peer: session.peer, reason, details },
      'control: histogram report rejected; closing the stream',
    );
    this.#end(session, status.INVALID_ARGUMENT, details);
  }

  #onRouteChange(namespace: string, name: string): void {
    const published = this.#routes.get(namespace, name);
    if (published !== undefined) this.#markPublished(published.route);
    this.#metrics?.snapshotVersion(this.#routes.version);
    for (const s of [...this.#proxies.values()]) {
      if (!covers(s.hello!, namespace, name)) continue;
      // The listener runs inside the publisher's call: one broken stream must not fail the publish.
      try {
        this.#send(s);
      } catch (error) {
        this.#log.error({ proxyId: s.hello!.proxyId, err: String(error) }, 'control: push failed');
        this.#end(s, status.INTERNAL, 'internal error');
      }
    }
  }

  #markPublished(route: ControlRoute): void {
    this.#published.add(routeKey(route.namespace, route.name));
    this.#publishedNames.add(route.name);
  }

  /** Every subscribed route has been published at least once by this process. */
  #ready(hello: Hello): boolean {
    return hello.routes.every((r) => {
      if (r.namespace !== undefined) return this.#published.has(routeKey(r.namespace, r.name));
      if (!this.#publishedNames.has(r.name)) return false;
      const namespaces = this.#options.routeNamespaces?.(r.name) ?? [];
      return namespaces.every((ns) => this.#published.has(routeKey(ns, r.name)));
    });
  }

  /** The published routes a subscription covers, each once. */
  #covered(hello: Hello): ControlRoute[] {
    if (hello.allRoutes) return this.#routes.all().map((p) => p.route);
    const out = new Map<string, ControlRoute>();
    for (const r of hello.routes) {
      for (const p of this.#routes.find(r.name, r.namespace))
        out.set(routeKey(p.route.namespace, p.route.name), p.route);
    }
    return [...out.values()];
  }

  #coveredRefs(hello: Hello): RouteRef[] {
    return this.#covered(hello).map((r) => ({ namespace: r.namespace, name: r.name }));
  }

  /** Writes the current snapshot for this proxy, when it may have one (see the invariants above). */
  #send(session: Session): void {
    if (session.ended || session.hello === undefined || !this.#ready(session.hello)) return;
    if (session.blocked) {
      session.due = true;
      return;
    }
    const routes = this.#covered(session.hello);
    const version = this.#routes.version;
    const writable = session.call.write(snapshotToWire(version, routes));
    session.sentVersion = version;
    session.inFlight.push({
      version,
      atMs: this.#nowMs(),
      routes: routes.map((r) => ({ namespace: r.namespace, name: r.name })),
    });
    if (session.inFlight.length > MAX_IN_FLIGHT) session.inFlight.shift();
    this.#metrics?.snapshotSent();
    if (!writable) {
      session.blocked = true;
      session.call.once('drain', () => {
        session.blocked = false;
        if (!session.due) return;
        session.due = false;
        this.#send(session);
      });
    }
  }

  /** Ends a stream with a status (once) and forgets it. */
  #end(session: Session, code: status, details: string): void {
    if (!session.ended) {
      session.ended = true;
      const call = session.call;
      if (!call.cancelled && !call.destroyed) call.emit('error', { code, details });
    }
    this.#retire(session);
  }

  #retire(session: Session): void {
    session.ended = true;
    clearTimeout(session.helloTimer);
    session.helloTimer = undefined;
    this.#streams.delete(session);
    const id = session.hello?.proxyId;
    if (id !== undefined && this.#proxies.get(id) === session) {
      this.#proxies.delete(id);
      this.#metrics?.connectedProxies(this.#proxies.size);
      this.#log.info({ proxyId: id, peer: session.peer }, 'control: proxy stream closed');
    }
  }
}

function delivery(s: Session): RouteDelivery {
  const base = {
    proxyId: s.hello!.proxyId,
    peer: s.peer,
    sentVersion: s.sentVersion,
    ackedVersion: s.ackedVersion,
  };
  return s.nack !== undefined && s.nack.version > s.ackedVersion ? { ...base, nack: { ...s.nack } } : base;
}
