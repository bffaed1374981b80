// Keep-alive pools of upstream sockets, one per upstream address (a backend's address, or each of its
// endpoints), kept outside route snapshots so a weight or endpoint change never tears connections down
// (Linkerd's BackendCache). A pool is referenced by every snapshot that names its address; when the
// last reference goes (a backend or a pod removed), it drains: idle sockets close at once, busy ones
// when their exchange ends, and then the pool is gone (nginx's refs/zombie).
// Connections are bounded per pool; beyond the bound, exchanges queue (bounded, with a deadline) and
// are shed with SLUICE_UPSTREAM_POOL_FULL. https:// backends get TLS sockets (certificate verified
// against the system CAs or PoolOptions.tlsCa, SNI set, ALPN http/1.1) carrying the same framer.

import { isIP, connect as netConnect, type Socket } from 'node:net';
import { rootCertificates, connect as tlsConnect } from 'node:tls';
import { clock, tick } from '../clock.ts';
import type { ErrorCode } from '../errors.ts';
import { copyRead, SHARED_READ_BUFFER } from '../read-copies.ts';

export interface PoolOptions {
  /** Open (busy + idle + connecting) sockets per backend. */
  maxConnections: number;
  /** Exchanges allowed to wait for a socket. */
  maxQueued: number;
  /** Idle sockets close after this long: below the backend's own idle timeout (Node's is 5 s). */
  idleTimeoutMs: number;
  /** A queued exchange gives up after this long. */
  queueTimeoutMs: number;
  /** Extra CA certificates (PEM) trusted for https:// backends, besides the system's. */
  tlsCa?: Buffer;
}

export const DEFAULT_POOL_OPTIONS: PoolOptions = {
  maxConnections: 256,
  maxQueued: 1024,
  idleTimeoutMs: 4_000,
  queueTimeoutMs: 5_000,
};

/** What the pool calls back on an exchange waiting for a connection. */
export interface PoolClient {
  onConnection(conn: UpstreamConnection): void;
  onConnectionError(code: ErrorCode, detail: string): void;
}

/** One upstream socket. Its data and close events go to whichever exchange currently owns it. */
export class UpstreamConnection {
  readonly socket: Socket;
  readonly pool: UpstreamPool;
  owner: UpstreamOwner | null = null;
  connected = false;
  /** True once it has carried a request: a reset on a reused socket may be the keep-alive race. */
  reused = false;
  closed = false;
  idleSinceMs = 0;
  connectDeadlineMs = 0;
  private waiter: PoolClient | null = null;
  /** Set once a WebSocket tunnel owns the socket: raw bytes go here. */
  tunnelData: ((chunk: Buffer) => void) | null = null;

  constructor(pool: UpstreamPool, waiter: PoolClient, nowMs: number, connectTimeoutMs: number) {
    this.pool = pool;
    this.waiter = waiter;
    this.connectDeadlineMs = nowMs + connectTimeoutMs;
    const onChunk = (chunk: Buffer): void => {
      tick();
      if (this.tunnelData !== null) this.tunnelData(chunk);
      else if (this.owner !== null) this.owner.onUpstreamData(chunk);
      else socket.destroy(); // bytes on an idle socket: the peer is confused; never reuse it
    };
    let socket: Socket;
    if (pool.tls) {
      socket = tlsConnect({
        host: pool.host,
        port: pool.port,
        servername: isIP(pool.host) === 0 ? pool.host : undefined,
        ALPNProtocols: ['http/1.1'],
        ca:
          pool.options.tlsCa === undefined ? undefined : [...rootCertificates, pool.options.tlsCa.toString()],
      });
      socket.setNoDelay(true);
      socket.on('data', onChunk);
    } else {
      // onread hands each read to us directly, skipping the Readable stream machinery (the data
      // path's hottest overhead after the syscalls). The bytes are copied out of the shared read
      // buffer (read-copies.ts), since they may be queued on the client socket after this returns.
      socket = netConnect({
        host: pool.host,
        port: pool.port,
        noDelay: true,
        onread: {
          buffer: SHARED_READ_BUFFER,
          callback: (nread: number, buf: Uint8Array): boolean => {
            onChunk(copyRead(buf, nread));
            return true;
          },
        },
      });
    }
    this.socket = socket;
    socket.on(pool.tls ? 'secureConnect' : 'connect', () => {
      tick();
      this.connected = true;
      const w = this.waiter;
      this.waiter = null;
      if (w !== null) w.onConnection(this);
      else pool.release(this, true);
    });
    socket.on('end', () => {
      if (this.owner !== null) this.owner.onUpstreamEnd();
      socket.destroy();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (!this.connected) this.failConnect('SLUICE_UPSTREAM_CONNECT_FAILED', err.code ?? err.message);
      else if (this.owner !== null) this.owner.onUpstreamError(err.code ?? err.message);
    });
    socket.on('close', () => {
      this.closed = true;
      if (!this.connected) this.failConnect('SLUICE_UPSTREAM_CONNECT_FAILED', 'closed while connecting');
      else if (this.owner !== null) this.owner.onUpstreamEnd();
      pool.forget(this);
    });
    socket.on('drain', () => {
      if (this.owner !== null) this.owner.onUpstreamDrain();
    });
  }

  failConnect(code: ErrorCode, detail: string): void {
    const w = this.waiter;
    this.waiter = null;
    if (!this.socket.destroyed) this.socket.destroy();
    if (w !== null) w.onConnectionError(code, detail);
  }

  /** Drops the waiter (its exchange went away); the socket, once connected, goes to the idle set. */
  abandonWaiter(): void {
    this.waiter = null;
  }
}

/** The exchange currently using a connection. */
export interface UpstreamOwner {
  onUpstreamData(buf: Buffer): void;
  onUpstreamEnd(): void;
  onUpstreamError(detail: string): void;
  onUpstreamDrain(): void;
}

interface Waiting {
  client: PoolClient;
  deadlineMs: number;
}

export class UpstreamPool {
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** host:port as a Host field value ([v6]:port), for requests that came without one. */
  readonly authority: string;
  readonly tls: boolean;
  readonly options: PoolOptions;
  private readonly idle: UpstreamConnection[] = [];
  private readonly all = new Set<UpstreamConnection>();
  private readonly queue: Waiting[] = [];
  private queueHead = 0;
  refs = 0;
  draining = false;
  /**
   * Exchanges using this upstream, from their start (queued or connecting included) to their end, for
   * the least-outstanding endpoint policy. Kept by the exchanges (forward.ts), across snapshots.
   */
  inFlight = 0;
  private onDrained: (() => void) | null = null;

  constructor(address: string, host: string, port: number, options: PoolOptions, tls = false) {
    this.address = address;
    this.host = host;
    this.port = port;
    this.authority = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    this.tls = tls;
    this.options = options;
  }

  get openConnections(): number {
    return this.all.size;
  }

  get idleConnections(): number {
    return this.idle.length;
  }

  /**
   * Gives `client` a connection now (idle one), later (new or queued), or an error. `fresh` skips
   * idle sockets (a retry after a keep-alive race must not land on another stale one).
   */
  acquire(client: PoolClient, nowMs: number, connectTimeoutMs: number, fresh = false): void {
    const idle = this.idle;
    while (!fresh && idle.length > 0) {
      const conn = idle.pop()!;
      if (conn.closed || conn.socket.destroyed) continue;
      conn.reused = true;
      client.onConnection(conn);
      return;
    }
    if (this.all.size < this.options.maxConnections) {
      this.all.add(new UpstreamConnection(this, client, nowMs, connectTimeoutMs));
      return;
    }
    if (this.queue.length - this.queueHead >= this.options.maxQueued) {
      client.onConnectionError('SLUICE_UPSTREAM_POOL_FULL', 'queue full');
      return;
    }
    this.queue.push({ client, deadlineMs: nowMs + this.options.queueTimeoutMs });
  }

  /** Removes a waiting client (its exchange was aborted). */
  cancel(client: PoolClient): void {
    for (let i = this.queueHead; i < this.queue.length; i++) {
      const w = this.queue[i]!;
      if (w.client === client) {
        this.queue.splice(i, 1);
        return;
      }
    }
  }

  /** An exchange is done with `conn`; reusable when the response was fully read and framing is intact. */
  release(conn: UpstreamConnection, reusable: boolean): void {
    conn.owner = null;
    if (!reusable || conn.closed || this.draining) {
      conn.socket.destroy();
      return;
    }
    const next = this.nextWaiter();
    if (next !== null) {
      conn.reused = true;
      next.onConnection(conn);
      return;
    }
    conn.idleSinceMs = clock.nowMs;
    this.idle.push(conn);
  }

  /** A socket closed: drop it, and let a queued exchange open a replacement. */
  forget(conn: UpstreamConnection): void {
    if (!this.all.delete(conn)) return;
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    if (this.draining) {
      if (this.all.size === 0 && this.onDrained !== null) this.onDrained();
      return;
    }
    const next = this.nextWaiter();
    if (next !== null) this.all.add(new UpstreamConnection(this, next, clock.nowMs, 5_000));
  }

  private nextWaiter(): PoolClient | null {
    if (this.queueHead >= this.queue.length) return null;
    const w = this.queue[this.queueHead]!;
    this.queue[this.queueHead] = undefined as unknown as Waiting;
    this.queueHead++;
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    return w.client;
  }

  /** Periodic housekeeping: idle expiry, queue deadlines, connect deadlines. */
  sweep(nowMs: number): void {
    const idle = this.idle;
    for (let i = idle.length - 1; i >= 0; i--) {
      const c = idle[i]!;
      if (nowMs - c.idleSinceMs > this.options.idleTimeoutMs) {
        idle.splice(i, 1);
        c.socket.destroy();
      }
    }
    while (this.queueHead < this.queue.length && this.queue[this.queueHead]!.deadlineMs <= nowMs) {
      const w = this.queue[this.queueHead]!;
      this.queueHead++;
      w.client.onConnectionError('SLUICE_UPSTREAM_POOL_FULL', 'timed out waiting for a connection');
    }
    for (const c of this.all) {
      if (!c.connected && c.connectDeadlineMs <= nowMs)
        c.failConnect('SLUICE_UPSTREAM_CONNECT_TIMEOUT', 'connect timeout');
    }
  }

  /** Closes idle sockets now and busy ones as their exchanges end; resolves when all are closed. */
  drain(): Promise<void> {
    this.draining = true;
    for (const c of this.idle) c.socket.destroy();
    this.idle.length = 0;
    while (this.queueHead < this.queue.length) {
      const w = this.queue[this.queueHead++]!;
      w.client.onConnectionError('SLUICE_UPSTREAM_POOL_FULL', 'backend removed');
    }
    if (this.all.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.onDrained = resolve;
    });
  }

  destroyAll(): void {
    for (const c of this.all) c.socket.destroy();
  }
}

/** Pools by address, shared across snapshots and reference-counted by them. */
export class PoolRegistry {
  private readonly pools = new Map<string, UpstreamPool>();
  readonly options: PoolOptions;

  constructor(options: PoolOptions = DEFAULT_POOL_OPTIONS) {
    this.options = options;
  }

  /** The pool for a normalised "http://host:port" address, created on first use. */
  get(address: string): UpstreamPool {
    let pool = this.pools.get(address);
    if (pool === undefined || pool.draining) {
      const url = new URL(address);
      const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
      const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
      pool = new UpstreamPool(address, host, port, this.options, url.protocol === 'https:');
      this.pools.set(address, pool);
    }
    return pool;
  }

  /** Sets the reference counts to the addresses used by the current snapshot; drains the rest. */
  retain(addresses: Iterable<string>): Promise<void>[] {
    const keep = new Set(addresses);
    const drains: Promise<void>[] = [];
    for (const [address, pool] of this.pools) {
      pool.refs = keep.has(address) ? 1 : 0;
      if (pool.refs === 0) {
        this.pools.delete(address);
        drains.push(pool.drain());
      }
    }
    return drains;
  }

  sweep(nowMs: number): void {
    for (const pool of this.pools.values()) pool.sweep(nowMs);
  }

  stats(): { address: string; open: number; idle: number }[] {
    return [...this.pools.values()].map((p) => ({
      address: p.address,
      open: p.openConnections,
      idle: p.idleConnections,
    }));
  }

  closeAll(): void {
    for (const pool of this.pools.values()) {
      pool.draining = true;
      pool.destroyAll();
    }
    this.pools.clear();
  }
}
