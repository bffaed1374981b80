// One client connection of the data port: frames requests with the strict HTTP/1.1 core, routes each
// on the snapshot current when its head arrived, and hands it to an Exchange. Owns the client side of
// every limit: head size and head deadline (slowloris), idle keep-alive, body timeouts and size,
// pipelining (one response at a time, the next request parsed only once the previous answer is
// flushed), and WebSocket tunnels. Deadlines are checked by the server's sweep through check().

import type { Socket } from 'node:net';
import { clock, tick } from './clock.ts';
import { ERRORS, type ErrorCode, errorResponse } from './errors.ts';
import { Exchange, type ExchangeHost } from './forward.ts';
import { BODY_CHUNKED, BODY_LENGTH, BODY_NONE, BodyReader, type BodySink } from './http1/body.ts';
import {
  HEAD_BARE_LF,
  HEAD_INCOMPLETE,
  HEAD_TOO_LARGE,
  parseRequestHead,
  type RequestHead,
  scanHead,
} from './http1/head.ts';
import type { MirrorSender } from './mirror-sender.ts';
import { mirrorTarget, pickBackend } from './routing/pick.ts';
import type { RouteSnapshot } from './routing/snapshot-types.ts';
import { type DataServerOptions, methodAllowed } from './server-options.ts';
import type { Telemetry } from './telemetry.ts';
import type { UpstreamPool } from './upstream/pool.ts';

/** What a connection needs from the server that accepted it. */
export interface ConnectionHost {
  readonly options: DataServerOptions;
  readonly telemetry: Telemetry;
  readonly mirror: MirrorSender | null;
  readonly secure: boolean;
  readonly snapshot: RouteSnapshot<UpstreamPool> | null;
  readonly shuttingDown: boolean;
  /** Open WebSocket tunnels (count and set), for the cap and for closing them on abort. */
  tunnels: number;
  readonly tunnelSet: Set<ClientConnection>;
  forget(conn: ClientConnection): void;
}

const C_HEAD = 0;
const C_BODY = 1;
const C_WAIT = 2;
const C_TUNNEL = 3;
const C_CLOSED = 4;

export class ClientConnection implements ExchangeHost, BodySink {
  readonly socket: Socket;
  readonly server: ConnectionHost;
  readonly clientIp: string;
  readonly secure: boolean;
  readonly trustForwarded: boolean;
  state = C_HEAD;
  exchange: Exchange | null = null;
  private pending: Buffer | null = null;
  private readonly body = new BodyReader();
  deadlineMs: number;
  /** Kind of deadline: what to answer when it passes. */
  private waitingForHead = false;
  private paused = false;
  /** Pipelined requests wait until the client has read enough of the earlier responses. */
  private drainWait = false;
  private closeAfter = false;
  /** Looks headers of the current request up; one closure per connection, not per request. */
  private readonly lookup: (name: string) => string | undefined;

  /**
   * readsByCallback: the socket reads through `onread` (proxy/shared-read.ts), whose callback calls
   * onData; otherwise (TLS) its 'data' events do.
   */
  constructor(socket: Socket, server: ConnectionHost, readsByCallback = false) {
    this.socket = socket;
    this.server = server;
    const ip = socket.remoteAddress ?? '';
    this.clientIp = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
    this.secure = server.secure;
    this.trustForwarded = server.options.trustForwarded;
    this.deadlineMs = clock.nowMs + server.options.keepAliveTimeoutMs;
    this.lookup = (name) => {
      const ex = this.exchange;
      const head = ex === null ? this.currentHead : ex.head;
      if (head === null) return undefined;
      return name === 'cookie' ? head.cookie : head.get(name);
    };
    socket.setNoDelay(true);
    if (!readsByCallback) socket.on('data', (buf: Buffer) => this.onData(buf));
    socket.on('drain', () => {
      const ex = this.exchange;
      if (ex !== null) ex.onClientDrain();
      else if (this.drainWait) this.afterDrain();
    });
    socket.on('end', () => this.onEnd());
    socket.on('error', () => this.onClose());
    socket.on('close', () => this.onClose());
  }

  private currentHead: RequestHead | null = null;

  /** One read of the client socket; the chunk is ours to keep. */
  onData(chunk: Buffer): void {
    tick();
    if (this.state === C_TUNNEL) {
      const ex = this.exchange!;
      if (!ex.tunnelWrite(chunk)) this.pauseClient();
      return;
    }
    let buf = chunk;
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    this.process(buf, 0);
  }

  private process(buf: Buffer, start: number): void {
    let offset = start;
    while (offset < buf.length && this.state !== C_CLOSED) {
      if (this.state === C_HEAD) {
        if (this.socket.writableNeedDrain) {
          // A client that pipelines requests without reading the responses must not make us queue
          // responses without bound: take the next request once the send buffer has drained.
          this.pending = offset === 0 ? buf : buf.subarray(offset);
          this.pauseClient();
          this.drainWait = true;
          return;
        }
        const n = scanHead(buf, offset, this.server.options.maxHeadBytes);
        if (n === HEAD_TOO_LARGE || n === HEAD_BARE_LF) {
          this.reject(n === HEAD_TOO_LARGE ? 'SLUICE_HEADERS_TOO_LARGE' : 'SLUICE_BAD_REQUEST');
          return;
        }
        if (n === HEAD_INCOMPLETE) {
          this.pending = offset === 0 ? buf : buf.subarray(offset);
          if (!this.waitingForHead) {
            this.waitingForHead = true;
            this.deadlineMs = clock.nowMs + this.server.options.headersTimeoutMs;
          }
          return;
        }
        const parsed = parseRequestHead(buf.toString('latin1', offset, offset + n));
        offset += n;
        this.waitingForHead = false;
        if (parsed.kind === 'error') {
          this.reject(parsed.code);
          return;
        }
        this.startRequest(parsed);
      } else if (this.state === C_BODY) {
        const end = this.body.feed(buf, offset, buf.length, this);
        if (end < 0) {
          this.failBody('SLUICE_BAD_REQUEST');
          return;
        }
        // A chunked body has no length up front: count it as it streams (Content-Length was checked).
        const max = this.server.options.maxBodyBytes;
        if (max > 0 && this.body.received > max) {
          this.failBody('SLUICE_PAYLOAD_TOO_LARGE');
          return;
        }
        offset = end;
        if (this.body.done) {
          this.state = C_WAIT;
          const ex = this.exchange;
          if (ex !== null) ex.onRequestBodyEnd();
        } else {
          this.deadlineMs = clock.nowMs + this.server.options.bodyTimeoutMs;
        }
      } else if (this.state === C_WAIT) {
        // Pipelined bytes while the response is pending: keep them and stop reading until it ends.
        this.pending = offset === 0 ? buf : buf.subarray(offset);
        this.pauseClient();
        return;
      } else {
        return;
      }
    }
  }

  private startRequest(head: RequestHead): void {
    const server = this.server;
    const startMs = clock.nowMs;
    let mode = BODY_NONE;
    if (head.chunked) mode = BODY_CHUNKED;
    else if (head.contentLength > 0) mode = BODY_LENGTH;
    const max = server.options.maxBodyBytes;
    if (max > 0 && head.contentLength > max) {
      this.reject('SLUICE_PAYLOAD_TOO_LARGE');
      return;
    }
    this.body.reset(mode, head.contentLength);
    const hasBody = mode !== BODY_NONE;
    this.state = hasBody ? C_BODY : C_WAIT;
    this.deadlineMs = startMs + server.options.bodyTimeoutMs;
    if (server.shuttingDown) this.closeAfter = true;

    const methods = server.options.methods;
    if (!methodAllowed(methods, head.method)) {
      const allow = methods.allow === undefined ? '' : `allow: ${[...methods.allow].join(', ')}\r\n`;
      this.localError('SLUICE_METHOD_REFUSED', hasBody, `${head.method} (--allow-methods)`, allow);
      return;
    }
    const snapshot = server.snapshot;
    const route = snapshot === null ? null : snapshot.match(head.host, head.target);
    if (route === null) {
      this.localError('SLUICE_NO_ROUTE', hasBody);
      return;
    }
    this.currentHead = head;
    const pick = pickBackend(
      route,
      this.lookup,
      // behind a trusted TLS-terminating balancer the cookie is Secure too
      this.secure || (this.trustForwarded && head.get('x-forwarded-proto') === 'https'),
      Date.now(),
    );
    this.currentHead = null;
    if (pick.kind === 'none') {
      this.localError('SLUICE_NO_BACKEND', hasBody);
      return;
    }
    const backend = pick.backend;
    const endpoint = backend.picker.pick();
    if (endpoint === null) {
      // The side has weight but no ready pod: the controller decides weights, the proxy does not
      // fail over. The 503 counts in that side's series, where analysis sees it.
      this.localError(
        'SLUICE_NO_BACKEND',
        hasBody,
        `no ready endpoint for backend ${backend.name} of route ${route.name}`,
      );
      backend.series.record(
        ERRORS.SLUICE_NO_BACKEND.status,
        head.method,
        Math.round((clock.nowMs - startMs) * 1000),
      );
      return;
    }

    const upgrade =
      head.upgrade !== null &&
      head.hasConnectionToken('upgrade') &&
      head.upgrade.toLowerCase() === 'websocket';
    if (upgrade && server.tunnels >= server.options.maxTunnels) {
      this.localError('SLUICE_TOO_MANY_TUNNELS', true);
      return;
    }
    if (head.expectContinue && hasBody) this.socket.write('HTTP/1.1 100 Continue\r\n\r\n');
    const ex = new Exchange(
      this,
      head,
      backend,
      endpoint.upstream,
      route.timeouts,
      pick.setCookie,
      startMs,
      hasBody,
      upgrade,
    );
    this.exchange = ex;
    const mirror = server.mirror === null ? null : mirrorTarget(route);
    const copyTo = mirror === null ? null : mirror.picker.pick();
    if (copyTo !== null) server.mirror!.send(copyTo.address, head, this.clientIp, hasBody);
    ex.start();
  }

  /** BodySink: request body bytes from the framer. */
  onBodyData(chunk: Buffer): void {
    const ex = this.exchange;
    if (ex !== null) ex.onRequestBody(chunk);
  }

  /**
   * The request body can't be accepted: answer with `code` and close (or destroy, when the response
   * already started). The answer is ended, not cut by a destroy that could turn into a reset.
   */
  private failBody(code: ErrorCode): void {
    const ex = this.exchange;
    if (ex !== null) ex.fail(code);
    else this.reject(code);
    if (this.state !== C_CLOSED) this.destroy();
  }

  /** An error answered by the proxy itself, with the request's framing still known. */
  private localError(code: ErrorCode, hasBody: boolean, detail = '', extraHeaders = ''): void {
    this.server.telemetry.upstreamError(code);
    const keepAlive = !hasBody && !this.closeAfter;
    this.socket.write(errorResponse(code, keepAlive, extraHeaders, detail));
    if (keepAlive) {
      this.state = C_HEAD;
      this.deadlineMs = clock.nowMs + this.server.options.keepAliveTimeoutMs;
    } else {
      this.endGracefully();
    }
  }

  /** A malformed or unacceptable request: answer and close, the framing can't be trusted. */
  private reject(code: ErrorCode): void {
    this.server.telemetry.upstreamError(code);
    this.pending = null;
    if (this.exchange === null) this.socket.write(errorResponse(code, false));
    this.endGracefully();
  }

  private endGracefully(): void {
    this.state = C_CLOSED;
    this.socket.end();
    // Read on (and drop what comes) to see the client's FIN: a socket paused for pipelined bytes no
    // longer reads at all (shared-read sockets stop at the kernel), and would wait for the deadline.
    this.pending = null;
    this.resumeClient();
    // a peer that never reads its answer must not hold the socket open
    this.deadlineMs = clock.nowMs + 5_000;
  }

  // --- ExchangeHost --------------------------------------------------------------------------------

  write(data: string | Buffer): boolean {
    return typeof data === 'string' ? this.socket.write(data, 'latin1') : this.socket.write(data);
  }

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  exchangeDone(keepAlive: boolean): void {
    this.exchange = null;
    if (!keepAlive || this.closeAfter || this.server.shuttingDown || this.state === C_BODY) {
      this.endGracefully();
      return;
    }
    this.state = C_HEAD;
    this.deadlineMs = clock.nowMs + this.server.options.keepAliveTimeoutMs;
    this.resumeClient();
    const pending = this.pending;
    if (pending !== null) {
      this.pending = null;
      this.process(pending, 0);
    }
  }

  private afterDrain(): void {
    this.drainWait = false;
    if (this.state !== C_HEAD) return;
    this.resumeClient();
    const pending = this.pending;
    if (pending !== null) {
      this.pending = null;
      this.process(pending, 0);
    }
  }

  destroy(): void {
    this.state = C_CLOSED;
    this.socket.destroy();
  }

  pauseClient(): void {
    if (!this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  resumeClient(): void {
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  startTunnel(exchange: Exchange): void {
    this.state = C_TUNNEL;
    this.server.tunnels++;
    this.server.tunnelSet.add(this);
    this.deadlineMs = Number.POSITIVE_INFINITY;
    const pending = this.pending;
    this.pending = null;
    if (pending !== null && !exchange.tunnelWrite(pending)) this.pauseClient();
    const up = exchange.conn!.socket;
    // Raw relay with backpressure both ways; the exchange keeps the upstream socket as owner.
    up.removeAllListeners('drain');
    up.removeAllListeners('end');
    exchange.conn!.tunnelData = (b: Buffer) => {
      if (!this.socket.write(b)) up.pause();
    };
    this.socket.on('drain', () => up.resume());
    up.on('drain', () => this.resumeClient());
    up.on('end', () => this.socket.end());
    up.on('close', () => this.socket.destroy());
    this.socket.on('close', () => up.destroy());
  }

  upstreamError(code: ErrorCode): void {
    this.server.telemetry.upstreamError(code);
  }

  // --- lifecycle -------------------------------------------------------------------------------

  private onEnd(): void {
    // Half-close from the client: finish the current exchange, then close.
    if (this.state === C_TUNNEL) return;
    if (this.exchange === null || this.state === C_BODY) {
      if (this.state === C_BODY && this.exchange !== null) this.exchange.abort();
      this.destroy();
      return;
    }
    this.closeAfter = true;
  }

  private closed = false;

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.state = C_CLOSED;
    const ex = this.exchange;
    this.exchange = null;
    if (ex !== null) {
      if (ex.isTunnel) this.server.tunnels--;
      ex.abort();
    }
    this.server.tunnelSet.delete(this);
    this.server.forget(this);
  }

  /** Sweep: deadlines of the connection and of its exchange. */
  check(nowMs: number): void {
    const ex = this.exchange;
    if (ex !== null && this.state !== C_TUNNEL) {
      ex.checkDeadline(nowMs);
      if (this.state === C_BODY && nowMs >= this.deadlineMs) this.failBody('SLUICE_REQUEST_TIMEOUT');
      return;
    }
    if (nowMs < this.deadlineMs) return;
    if (this.state === C_HEAD && this.waitingForHead) {
      this.reject('SLUICE_REQUEST_TIMEOUT');
    } else if (this.state === C_CLOSED) {
      this.socket.destroy();
    } else if (this.state === C_HEAD) {
      this.destroy(); // idle keep-alive connection
    }
  }

  /** Shutdown: close now when idle; otherwise after the current response. */
  closeWhenIdle(): void {
    this.closeAfter = true;
    if (this.exchange === null && this.state === C_HEAD && !this.waitingForHead) this.destroy();
  }

  /** The endpoint this connection's WebSocket tunnel runs to, or null when it is not a tunnel. */
  tunnelEndpointAddress(): string | null {
    const ex = this.exchange;
    return ex !== null && this.state === C_TUNNEL ? ex.pool.address : null;
  }
}
