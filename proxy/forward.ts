// One request's trip through the proxy: from a parsed request head to a finished response. An
// Exchange owns the upstream connection while it runs, re-frames the request body (Content-Length
// or chunked) towards the backend and the response body towards the client, applies backpressure in
// both directions, and ends in exactly one of: a relayed response, a catalogued error response
// (before any response byte was sent), or a destroyed client connection (after). It records the
// outcome once, in the route x revision series of the snapshot it started with.

import { clock } from './clock.ts';
import { ERRORS, type ErrorCode, errorResponse } from './errors.ts';
import {
  BODY_CHUNKED,
  BODY_LENGTH,
  BODY_NONE,
  BODY_UNTIL_CLOSE,
  BodyReader,
  type BodySink,
  CRLF,
  chunkHeader,
  LAST_CHUNK,
} from './http1/body.ts';
import {
  HEAD_BARE_LF,
  HEAD_INCOMPLETE,
  HEAD_TOO_LARGE,
  parseResponseHead,
  type RequestHead,
  type ResponseHead,
  scanHead,
} from './http1/head.ts';
import { buildResponseHead, buildUpstreamHead } from './http1/rewrite.ts';
import type { RouteTimeouts, SnapshotBackend } from './routing/snapshot-types.ts';
import type { PoolClient, UpstreamConnection, UpstreamOwner, UpstreamPool } from './upstream/pool.ts';

/** What an exchange needs from the client connection that owns it. */
export interface ExchangeHost {
  readonly clientIp: string;
  readonly secure: boolean;
  readonly trustForwarded: boolean;
  /** Writes to the client; false when the socket buffer is full (wait for resumeUpstream). */
  write(data: string | Buffer): boolean;
  cork(): void;
  uncork(): void;
  /** The exchange is over; keepAlive says whether the connection may carry another request. */
  exchangeDone(keepAlive: boolean): void;
  /** Tears the client connection down (a response that cannot be completed must not look complete). */
  destroy(): void;
  pauseClient(): void;
  resumeClient(): void;
  /** The upstream agreed to a protocol switch: from now on bytes flow raw both ways. */
  startTunnel(exchange: Exchange): void;
  upstreamError(code: ErrorCode): void;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
const MAX_RESPONSE_HEAD_BYTES = 65_536;
const MAX_BUFFERED_REQUEST_BYTES = 65_536;
/** A response head and a first body chunk up to this size go out in one write. */
const COALESCE_MAX_BYTES = 16_384;

const ST_CONNECTING = 0;
const ST_WAITING_HEAD = 1;
const ST_STREAMING = 2;
const ST_TUNNEL = 3;
const ST_DONE = 4;

export class Exchange implements PoolClient, UpstreamOwner, BodySink {
  readonly host: ExchangeHost;
  readonly head: RequestHead;
  readonly backend: SnapshotBackend<UpstreamPool>;
  /** The endpoint of `backend` picked for this request; a retry stays on it. */
  readonly pool: UpstreamPool;
  readonly timeouts: RouteTimeouts;
  readonly setCookie: string | null;
  readonly startMs: number;
  readonly upgrade: boolean;
  /** The request head as sent upstream (built once; reused on a retry). */
  private readonly upstreamHead: string;
  private readonly requestChunked: boolean;
  private readonly closeClient: boolean;
  conn: UpstreamConnection | null = null;
  state = ST_CONNECTING;
  deadlineMs: number;
  /** Request body bytes received before the upstream connection was ready. */
  private pendingBody: Buffer[] | null = null;
  private pendingBodyBytes = 0;
  requestBodyDone: boolean;
  private requestBodyStarted = false;
  private retried = false;
  private headBuf: Buffer | null = null;
  private response: ResponseHead | null = null;
  private readonly responseBody = new BodyReader();
  private chunkedOut = false;
  private responseStarted = false;
  private upstreamPaused = false;

  constructor(
    host: ExchangeHost,
    head: RequestHead,
    backend: SnapshotBackend<UpstreamPool>,
    pool: UpstreamPool,
    timeouts: RouteTimeouts,
    setCookie: string | null,
    startMs: number,
    requestHasBody: boolean,
    upgrade: boolean,
  ) {
    this.host = host;
    this.head = head;
    this.backend = backend;
    this.pool = pool;
    pool.inFlight++;
    this.timeouts = timeouts;
    this.setCookie = setCookie;
    this.startMs = startMs;
    this.upgrade = upgrade;
    this.requestBodyDone = !requestHasBody;
    this.requestChunked = head.chunked;
    // HTTP/1.0 closes after one response unless the client asked for keep-alive (RFC 9112 9.3, C.2.2).
    this.closeClient =
      head.versionMinor === 0 ? !head.hasConnectionToken('keep-alive') : head.hasConnectionToken('close');
    this.upstreamHead = buildUpstreamHead(head, host, upgrade, pool.authority);
    this.deadlineMs = startMs + timeouts.connectMs;
  }

  start(): void {
    this.pool.acquire(this, this.startMs, this.timeouts.connectMs);
  }

  // --- PoolClient -------------------------------------------------------------------------------

  onConnection(conn: UpstreamConnection): void {
    if (this.state === ST_DONE) {
      conn.pool.release(conn, true);
      return;
    }
    this.conn = conn;
    conn.owner = this;
    this.state = ST_WAITING_HEAD;
    this.deadlineMs = clock.nowMs + this.timeouts.responseHeadersMs;
    const socket = conn.socket;
    const pending = this.pendingBody;
    if (pending === null) {
      if (this.requestBodyDone && this.requestChunked)
        socket.write(`${this.upstreamHead}0\r\n\r\n`, 'latin1');
      else socket.write(this.upstreamHead, 'latin1');
      return;
    }
    this.pendingBody = null;
    this.pendingBodyBytes = 0;
    socket.cork();
    socket.write(this.upstreamHead, 'latin1');
    for (const chunk of pending) this.writeRequestChunk(chunk);
    if (this.requestBodyDone && this.requestChunked) socket.write(LAST_CHUNK);
    socket.uncork();
    this.host.resumeClient();
  }

  onConnectionError(code: ErrorCode, _detail: string): void {
    if (this.state === ST_DONE) return;
    this.fail(code);
  }

  // --- request body (from the client connection) -------------------------------------------------

  onRequestBody(chunk: Buffer): void {
    if (this.state === ST_DONE) return;
    this.requestBodyStarted = true;
    const conn = this.conn;
    if (conn === null) {
      if (this.pendingBody === null) this.pendingBody = [chunk];
      else this.pendingBody.push(chunk);
      this.pendingBodyBytes += chunk.length;
      if (this.pendingBodyBytes > MAX_BUFFERED_REQUEST_BYTES) this.host.pauseClient();
      return;
    }
    if (!this.writeRequestChunk(chunk)) this.host.pauseClient();
  }

  onRequestBodyEnd(): void {
    this.requestBodyDone = true;
    if (this.state === ST_DONE) return;
    // The response-headers budget counts from the end of the request: a long upload is bounded by
    // the client connection's body timeout instead.
    if (this.state === ST_WAITING_HEAD) this.deadlineMs = clock.nowMs + this.timeouts.responseHeadersMs;
    if (this.conn !== null && this.requestChunked && this.pendingBody === null)
      this.conn.socket.write(LAST_CHUNK);
    if (this.state === ST_STREAMING && this.responseBody.done) this.finish();
  }

  private writeRequestChunk(chunk: Buffer): boolean {
    const socket = this.conn!.socket;
    if (!this.requestChunked) return socket.write(chunk);
    socket.write(chunkHeader(chunk.length), 'latin1');
    socket.write(chunk);
    return socket.write(CRLF);
  }

  // --- UpstreamOwner ------------------------------------------------------------------------------

  onUpstreamData(buf: Buffer): void {
    if (this.state === ST_STREAMING) {
      this.deadlineMs = clock.nowMs + this.timeouts.idleBodyMs;
      this.feedResponseBody(buf, 0);
      return;
    }
    if (this.state === ST_WAITING_HEAD) this.onResponseHeadBytes(buf);
  }

  onUpstreamEnd(): void {
    const conn = this.conn;
    if (conn === null || this.state === ST_DONE) return;
    if (this.state === ST_STREAMING) {
      if (this.responseBody.endOfInput()) {
        this.finish();
        return;
      }
      this.abortMidResponse('SLUICE_UPSTREAM_RESET_MID_BODY');
      return;
    }
    if (this.state === ST_WAITING_HEAD) this.resetBeforeResponse();
  }

  onUpstreamError(_detail: string): void {
    if (this.state === ST_STREAMING) this.abortMidResponse('SLUICE_UPSTREAM_RESET_MID_BODY');
    else if (this.state === ST_WAITING_HEAD) this.resetBeforeResponse();
  }

  onUpstreamDrain(): void {
    if (this.state !== ST_DONE) this.host.resumeClient();
  }

  /** Called by the client connection when its socket drains. */
  onClientDrain(): void {
    if (this.upstreamPaused && this.conn !== null) {
      this.upstreamPaused = false;
      this.conn.socket.resume();
    }
  }

  private resetBeforeResponse(): void {
    const conn = this.conn!;
    // A reused keep-alive socket closed by the backend just as we wrote: retry once on a new
    // connection when that cannot duplicate a side effect (idempotent, no body bytes consumed).
    if (
      conn.reused &&
      !this.retried &&
      !this.requestBodyStarted &&
      IDEMPOTENT.has(this.head.method) &&
      this.headBuf === null
    ) {
      this.retried = true;
      conn.owner = null;
      conn.pool.release(conn, false);
      this.conn = null;
      this.state = ST_CONNECTING;
      const now = clock.nowMs;
      this.deadlineMs = now + this.timeouts.connectMs;
      // on a fresh socket: the other idle ones may be just as stale (e.g. the backend restarted)
      this.pool.acquire(this, now, this.timeouts.connectMs, true);
      return;
    }
    this.fail('SLUICE_UPSTREAM_RESET');
  }

  private onResponseHeadBytes(chunk: Buffer): void {
    let buf = chunk;
    if (this.headBuf !== null) buf = Buffer.concat([this.headBuf, chunk]);
    let offset = 0;
    for (;;) {
      const n = scanHead(buf, offset, MAX_RESPONSE_HEAD_BYTES);
      if (n === HEAD_TOO_LARGE || n === HEAD_BARE_LF) {
        this.fail(
          n === HEAD_TOO_LARGE ? 'SLUICE_UPSTREAM_HEADERS_TOO_LARGE' : 'SLUICE_UPSTREAM_BAD_RESPONSE',
        );
        return;
      }
      if (n === HEAD_INCOMPLETE) {
        this.headBuf = offset === 0 ? buf : buf.subarray(offset);
        return;
      }
      const parsed = parseResponseHead(buf.toString('latin1', offset, offset + n));
      offset += n;
      if (parsed.kind === 'error') {
        this.fail(parsed.code);
        return;
      }
      if (parsed.status === 101 && this.upgrade) {
        this.headBuf = null;
        this.response = parsed;
        this.startTunnel(parsed, buf.subarray(offset));
        return;
      }
      if (parsed.status >= 100 && parsed.status < 200) continue; // interim responses are not relayed
      this.headBuf = null;
      this.response = parsed;
      this.startResponse(parsed);
      if (this.state === ST_STREAMING && offset < buf.length) this.feedResponseBody(buf, offset);
      else if (this.state === ST_STREAMING && this.responseBody.done) this.finish();
      this.flushHead();
      return;
    }
  }

  private startResponse(res: ResponseHead): void {
    const head = this.head;
    const status = res.status;
    let mode: number;
    if (head.method === 'HEAD' || status === 204 || status === 304) mode = BODY_NONE;
    else if (res.chunked) mode = BODY_CHUNKED;
    else if (res.hasTransferEncoding) mode = BODY_UNTIL_CLOSE;
    else if (res.contentLength >= 0) mode = BODY_LENGTH;
    else mode = BODY_UNTIL_CLOSE;
    this.responseBody.reset(mode, res.contentLength);

    let framing = '';
    let close = this.closeClient;
    // HEAD and 304 keep the Content-Length they announce; a 204 must not carry one (RFC 9110 8.6).
    if (mode === BODY_LENGTH || (mode === BODY_NONE && res.contentLength >= 0 && status !== 204)) {
      framing = `content-length: ${res.contentLength}\r\n`;
    } else if (mode === BODY_CHUNKED || mode === BODY_UNTIL_CLOSE) {
      if (head.versionMinor === 1) {
        framing = 'transfer-encoding: chunked\r\n';
        this.chunkedOut = true;
      } else {
        close = true; // an HTTP/1.0 client reads the body until the connection closes
      }
    }
    if (close) framing += 'connection: close\r\n';
    // An HTTP/1.0 client keeps the connection only when the response says so.
    else if (head.versionMinor === 0) framing += 'connection: keep-alive\r\n';
    if (this.setCookie !== null) {
      framing += `set-cookie: ${this.setCookie}\r\n`;
      // a shared cache must not hand one user's affinity cookie to another
      if (res.get('cache-control') === undefined) framing += 'cache-control: private\r\n';
    }
    this.state = ST_STREAMING;
    this.deadlineMs = clock.nowMs + this.timeouts.idleBodyMs;
    this.responseStarted = true;
    // Written together with the first body bytes when they are already here: one syscall, not two.
    this.pendingHead = buildResponseHead(res, framing);
  }

  private pendingHead: string | null = null;

  private flushHead(): void {
    const h = this.pendingHead;
    if (h !== null) {
      this.pendingHead = null;
      this.host.write(h);
    }
  }

  private feedResponseBody(buf: Buffer, offset: number): void {
    const reader = this.responseBody;
    const end = reader.feed(buf, offset, buf.length, this);
    if (end < 0) {
      this.abortMidResponse('SLUICE_UPSTREAM_BAD_RESPONSE');
      return;
    }
    if (reader.done) {
      if (end < buf.length) this.extraUpstreamBytes = true;
      this.finish();
    }
  }

  private extraUpstreamBytes = false;

  /** BodySink for the response body. */
  onBodyData(chunk: Buffer): void {
    const host = this.host;
    let ok: boolean;
    const head = this.pendingHead;
    if (head !== null && !this.chunkedOut && chunk.length <= COALESCE_MAX_BYTES) {
      this.pendingHead = null;
      const out = Buffer.allocUnsafe(head.length + chunk.length);
      out.write(head, 0, 'latin1');
      chunk.copy(out, head.length);
      ok = host.write(out);
    } else if (this.chunkedOut) {
      this.flushHead();
      host.cork();
      host.write(chunkHeader(chunk.length));
      host.write(chunk);
      ok = host.write(CRLF);
      host.uncork();
    } else {
      this.flushHead();
      ok = host.write(chunk);
    }
    if (!ok && !this.upstreamPaused && this.conn !== null) {
      this.upstreamPaused = true;
      this.conn.socket.pause();
    }
  }

  private startTunnel(res: ResponseHead, rest: Buffer): void {
    this.state = ST_TUNNEL;
    this.responseStarted = true;
    this.host.write(buildResponseHead(res, ''));
    if (rest.length > 0) this.host.write(rest);
    this.host.startTunnel(this);
  }

  /** In a tunnel: bytes from the client go straight to the backend. */
  tunnelWrite(buf: Buffer): boolean {
    return this.conn?.socket.write(buf) === true;
  }

  // --- endings ----------------------------------------------------------------------------------

  private finish(): void {
    if (this.state === ST_DONE) return;
    if (!this.requestBodyDone) {
      // The backend answered before the request body was complete: relay the answer, then close
      // both sides, because neither connection's framing can be trusted for another message.
      this.complete(this.response!.status, false, false);
      return;
    }
    const res = this.response!;
    const upstreamKeepAlive =
      !this.extraUpstreamBytes &&
      this.responseBody.mode !== BODY_UNTIL_CLOSE &&
      !res.hasConnectionToken('close') &&
      (res.versionMinor === 1 || res.hasConnectionToken('keep-alive'));
    this.flushHead();
    if (this.chunkedOut) this.host.write(LAST_CHUNK);
    this.complete(
      res.status,
      upstreamKeepAlive,
      !this.closeClient && !(this.responseBody.mode === BODY_UNTIL_CLOSE && !this.chunkedOut),
    );
  }

  private complete(status: number, upstreamReusable: boolean, clientKeepAlive: boolean): void {
    this.settle();
    const conn = this.conn;
    this.conn = null;
    if (conn !== null) {
      if (this.upstreamPaused) conn.socket.resume();
      conn.pool.release(conn, upstreamReusable);
    }
    this.recordOutcome(status);
    this.host.exchangeDone(clientKeepAlive);
  }

  /** The one transition to ST_DONE: the endpoint's in-flight count drops with it. */
  private settle(): void {
    this.state = ST_DONE;
    this.pool.inFlight--;
  }

  /** The exchange's status and latency (µs, from the request start) in the backend's series. */
  private recordOutcome(status: number): void {
    this.backend.series.record(status, this.head.method, Math.round((clock.nowMs - this.startMs) * 1000));
  }

  /**
   * Ends this exchange's hold on the upstream after a failure: its connection goes back to the pool as
   * not reusable, or, not connected yet, it leaves the connect queue.
   */
  private dropUpstream(): void {
    const conn = this.conn;
    this.conn = null;
    if (conn !== null) {
      conn.owner = null;
      conn.pool.release(conn, false);
    } else {
      this.pool.cancel(this);
    }
  }

  /** Fails before any response byte was sent: a catalogued error response. */
  fail(code: ErrorCode): void {
    if (this.state === ST_DONE) return;
    if (this.responseStarted) {
      this.abortMidResponse(code);
      return;
    }
    this.host.upstreamError(code);
    const keepAlive = this.requestBodyDone && !this.closeClient;
    this.host.write(errorResponse(code, keepAlive));
    this.settle();
    this.dropUpstream();
    this.recordOutcome(ERRORS[code].status);
    this.host.exchangeDone(keepAlive);
  }

  /** Fails after the response started: the client connection is destroyed, never ended cleanly. */
  private abortMidResponse(code: ErrorCode): void {
    if (this.state === ST_DONE) return;
    this.host.upstreamError(code);
    this.settle();
    // The response started, so the exchange holds a connection (dropUpstream's queue branch is a no-op).
    this.dropUpstream();
    this.recordOutcome(ERRORS[code].status);
    this.host.destroy();
  }

  /** The client went away: stop work upstream; nothing is recorded as a backend outcome. */
  abort(): void {
    if (this.state === ST_DONE) return;
    this.settle();
    this.dropUpstream();
  }

  /** Deadline check from the periodic sweep. */
  checkDeadline(nowMs: number): void {
    if (nowMs < this.deadlineMs) return;
    switch (this.state) {
      case ST_CONNECTING:
        // the pool's own connect/queue deadlines normally fire first
        this.fail('SLUICE_UPSTREAM_CONNECT_TIMEOUT');
        break;
      case ST_WAITING_HEAD:
        if (this.requestBodyDone) this.fail('SLUICE_UPSTREAM_HEADERS_TIMEOUT');
        break;
      case ST_STREAMING:
        if (this.upstreamPaused) this.abortMidResponse('SLUICE_CLIENT_WRITE_STALL');
        else this.abortMidResponse('SLUICE_UPSTREAM_BODY_TIMEOUT');
        break;
      default:
        break;
    }
  }

  get isTunnel(): boolean {
    return this.state === ST_TUNNEL;
  }

  get done(): boolean {
    return this.state === ST_DONE;
  }
}
