// The data port: accepts client connections (plain or TLS) up to the connection cap, swaps routing
// snapshots (requests in flight keep theirs; pools of removed backends and endpoints drain; tunnels
// to aborted backends and removed endpoints close), checks every deadline with one coarse sweep
// instead of a timer per request, and shuts down gracefully: stop accepting, drain in-flight
// exchanges up to a deadline, then close.

import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { ClientConnection, type ConnectionHost } from './client-connection.ts';
import { tick } from './clock.ts';
import type { MirrorSender } from './mirror-sender.ts';
import type { RouteSnapshot } from './routing/snapshot-types.ts';
import type { DataServerOptions } from './server-options.ts';
import { adoptWithSharedRead } from './shared-read.ts';
import type { Telemetry } from './telemetry.ts';
import type { PoolRegistry, UpstreamPool } from './upstream/pool.ts';

export {
  type DataServerOptions,
  DEFAULT_DATA_SERVER_OPTIONS,
  DEFAULT_ROUTE_TIMEOUTS,
} from './server-options.ts';

const SWEEP_INTERVAL_MS = 250;

export class DataServer implements ConnectionHost {
  readonly options: DataServerOptions;
  readonly telemetry: Telemetry;
  readonly pools: PoolRegistry;
  readonly secure: boolean;
  readonly mirror: MirrorSender | null;
  snapshot: RouteSnapshot<UpstreamPool> | null = null;
  shuttingDown = false;
  tunnels = 0;
  readonly tunnelSet = new Set<ClientConnection>();
  private readonly connections = new Set<ClientConnection>();
  private readonly server: Server;
  private sweepTimer: NodeJS.Timeout | null = null;

  constructor(
    options: DataServerOptions,
    telemetry: Telemetry,
    pools: PoolRegistry,
    mirror: MirrorSender | null,
  ) {
    this.options = options;
    this.telemetry = telemetry;
    this.pools = pools;
    this.mirror = mirror;
    this.secure = options.tls !== undefined;
    const accept = (socket: Socket, readsByCallback: boolean): ClientConnection => {
      this.telemetry.connectionOpened();
      const conn = new ClientConnection(socket, this, readsByCallback);
      this.connections.add(conn);
      return conn;
    };
    // Plain sockets read into one shared buffer (proxy/shared-read.ts); TLS sockets decrypt into
    // their own buffers, so they keep 'data' events.
    const onPlainConnection = (raw: Socket): void => {
      let conn: ClientConnection | null = null;
      const socket = adoptWithSharedRead(raw, (chunk) => conn?.onData(chunk));
      if (socket === undefined) {
        raw.resume();
        accept(raw, false);
      } else {
        conn = accept(socket, true);
      }
    };
    this.server =
      options.tls !== undefined
        ? createTlsServer({ cert: options.tls.cert, key: options.tls.key }, (socket) => accept(socket, false))
        : createNetServer({ pauseOnConnect: true }, onPlainConnection);
    this.server.maxConnections = options.maxConnections;
  }

  forget(conn: ClientConnection): void {
    if (this.connections.delete(conn)) this.telemetry.connectionClosed();
  }

  get openConnections(): number {
    return this.connections.size;
  }

  /**
   * Swaps the routing snapshot (requests in flight keep theirs) and drains the pools of addresses and
   * endpoints no longer named: their in-flight requests finish, idle sockets close, nothing new goes
   * there (a new request can only pick from the new snapshot).
   */
  setSnapshot(snapshot: RouteSnapshot<UpstreamPool>): void {
    this.snapshot = snapshot;
    const live = new Set<string>();
    const taking = new Set<string>();
    for (const route of snapshot.routes) {
      for (const b of route.backends) {
        for (const e of b.endpoints) {
          live.add(e.address);
          if (b.weightBp > 0) taking.add(e.address);
        }
      }
    }
    this.pools.retain(live);
    // WebSocket tunnels outlive requests, so the ones to an upstream that no longer takes traffic
    // (its backend aborted to weight 0, or removed; its pod no longer a ready endpoint) close here.
    for (const conn of this.tunnelSet) {
      const address = conn.tunnelEndpointAddress();
      if (address !== null && !taking.has(address)) conn.destroy();
    }
    this.telemetry.configApplied(snapshot.version);
  }

  listen(): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host: this.options.host, port: this.options.port, backlog: 511 }, () => {
        this.server.off('error', reject);
        const addr = this.server.address();
        if (addr === null || typeof addr === 'string') return reject(new Error('no listen address'));
        this.sweepTimer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
        this.sweepTimer.unref();
        resolve({ host: addr.address, port: addr.port });
      });
    });
  }

  private sweep(): void {
    const now = tick();
    for (const conn of this.connections) conn.check(now);
    this.pools.sweep(now);
  }

  /**
   * Graceful shutdown: stop accepting, let in-flight exchanges finish (their connections close
   * afterwards), and destroy whatever is left at the deadline.
   */
  async shutdown(deadlineMs: number): Promise<void> {
    this.shuttingDown = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const conn of this.connections) conn.closeWhenIdle();
    const until = Date.now() + deadlineMs;
    while (this.connections.size > 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 25));
    }
    for (const conn of this.connections) conn.destroy();
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    this.pools.closeAll();
    await closed;
  }
}
