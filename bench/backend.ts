// The shared benchmark backend: a raw `net` server answering every request with a fixed 13-byte body
// and keep-alive, so the backend's own cost stays small and identical for every target. It names
// itself in an `x-backend` header (the weights benchmark counts by it). Requests are framed just
// enough for benchmark traffic: head up to CRLFCRLF, Content-Length bodies skipped, chunked
// request bodies answered with 400 and a close (no target sends them in these benchmarks).
//
//   node bench/backend.ts --port 9001 [--host 127.0.0.1] [--name stable]
import { createServer, type Socket } from 'node:net';
import { parseArgs } from 'node:util';

export const BACKEND_BODY = 'Hello, world!';
const MAX_HEAD_BYTES = 16 * 1024;

export function backendResponse(name: string, keepAliveHeader: boolean): Buffer {
  return Buffer.from(
    'HTTP/1.1 200 OK\r\n' +
      'Content-Type: text/plain\r\n' +
      `Content-Length: ${Buffer.byteLength(BACKEND_BODY)}\r\n` +
      `X-Backend: ${name}\r\n` +
      (keepAliveHeader ? 'Connection: keep-alive\r\n' : '') +
      `\r\n${BACKEND_BODY}`,
    'latin1',
  );
}

export interface RequestHead {
  /** Bytes of the head including the final CRLFCRLF. */
  headBytes: number;
  contentLength: number;
  chunked: boolean;
  /** The connection must be closed after answering (HTTP/1.0 without keep-alive, or Connection: close). */
  close: boolean;
  /** HTTP/1.0 client asking for keep-alive: it needs the header echoed. */
  http10KeepAlive: boolean;
}

/** Parses one request head at the start of buf; undefined while incomplete. */
export function parseRequestHead(buf: Buffer): RequestHead | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const lines = buf.toString('latin1', 0, end).split('\r\n');
  const http10 = lines[0]?.endsWith('HTTP/1.0') ?? false;
  let contentLength = 0;
  let chunked = false;
  let connection = '';
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line
      .slice(colon + 1)
      .trim()
      .toLowerCase();
    if (name === 'content-length') contentLength = Number(value) || 0;
    else if (name === 'transfer-encoding') chunked = value.includes('chunked');
    else if (name === 'connection') connection = value;
  }
  const keepAlive = http10 ? connection.includes('keep-alive') : !connection.includes('close');
  return {
    headBytes: end + 4,
    contentLength,
    chunked,
    close: !keepAlive,
    http10KeepAlive: http10 && keepAlive,
  };
}

function serve(socket: Socket, name: string): void {
  const okKeepAlive = backendResponse(name, false);
  const okKeepAlive10 = backendResponse(name, true);
  let pending: Buffer = Buffer.alloc(0);
  let skipBytes = 0;
  socket.setNoDelay(true);
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    if (skipBytes > 0) {
      const n = Math.min(skipBytes, chunk.length);
      skipBytes -= n;
      chunk = chunk.subarray(n);
      if (chunk.length === 0) return;
    }
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    const out: Buffer[] = [];
    let close = false;
    while (pending.length > 0 && !close) {
      const head = parseRequestHead(pending);
      if (!head) {
        if (pending.length > MAX_HEAD_BYTES) close = true;
        break;
      }
      if (head.chunked) {
        out.push(Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'));
        close = true;
        break;
      }
      out.push(head.http10KeepAlive ? okKeepAlive10 : okKeepAlive);
      close = head.close;
      const consumed = head.headBytes + head.contentLength;
      if (consumed > pending.length) {
        skipBytes = consumed - pending.length;
        pending = Buffer.alloc(0);
      } else {
        pending = pending.subarray(consumed);
      }
    }
    if (out.length === 1) socket.write(out[0]!);
    else if (out.length > 1) socket.write(Buffer.concat(out));
    if (close) socket.end();
  });
}

function main(): void {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      name: { type: 'string', default: 'backend' },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    process.stderr.write(`backend: --port must be an integer 0..65535, got ${String(values.port)}\n`);
    process.exit(2);
  }
  const name = values.name;
  if (!/^[\w.-]+$/.test(name)) {
    process.stderr.write(`backend: --name must be a token ([A-Za-z0-9_.-]), got ${name}\n`);
    process.exit(2);
  }
  const server = createServer((socket) => serve(socket, name));
  server.listen(port, values.host, () => {
    const address = server.address();
    process.stdout.write(
      `backend ${name} listening on ${typeof address === 'object' ? address?.port : ''}\n`,
    );
  });
  process.on('SIGTERM', () => process.exit(0));
}

if (import.meta.main) main();
