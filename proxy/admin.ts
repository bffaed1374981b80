// The admin server: Prometheus metrics, liveness, readiness and the config being served, on its own
// listener. It is never the data port: metrics and config must not be reachable through the routes
// the proxy serves to clients.
//   GET /metrics  text exposition (version 0.0.4)
//   GET /healthz  200 while the process is up
//   GET /ready    200 once ready() says so, 503 before
//   GET /config   JSON of describeConfig()

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PROMETHEUS_CONTENT_TYPE } from './metrics.ts';

export interface MetricsSource {
  /** The exposition text; prom-client renders asynchronously. */
  render(): string | Promise<string>;
}

export interface AdminServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  metrics: MetricsSource;
  describeConfig: () => unknown;
  ready: () => boolean;
}

export interface AdminServer {
  /** host:port actually bound. */
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65_535) {
    throw new Error(`admin: port must be an integer 0..65535, got ${options.port}`);
  }
  const server = createServer((request, response) => handle(options, request, response));
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return {
    address: `${host}:${bound.port}`,
    port: bound.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function handle(options: AdminServerOptions, request: IncomingMessage, response: ServerResponse): void {
  const path = (request.url ?? '/').split('?', 1)[0];
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    send(request, response, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { allow: 'GET, HEAD' });
    return;
  }
  switch (path) {
    case '/metrics': {
      Promise.resolve()
        .then(() => options.metrics.render())
        .then(
          (body) => send(request, response, 200, PROMETHEUS_CONTENT_TYPE, body),
          (error: unknown) =>
            send(request, response, 500, 'text/plain; charset=utf-8', `metrics failed: ${String(error)}\n`),
        );
      return;
    }
    case '/healthz':
      send(request, response, 200, 'text/plain; charset=utf-8', 'ok\n');
      return;
    case '/ready': {
      const ready = safeReady(options.ready);
      send(
        request,
        response,
        ready ? 200 : 503,
        'text/plain; charset=utf-8',
        ready ? 'ready\n' : 'not ready\n',
      );
      return;
    }
    case '/config': {
      let body: string;
      try {
        body = `${JSON.stringify(options.describeConfig() ?? null, null, 2)}\n`;
      } catch (error) {
        send(request, response, 500, 'text/plain; charset=utf-8', `config failed: ${String(error)}\n`);
        return;
      }
      send(request, response, 200, 'application/json; charset=utf-8', body);
      return;
    }
    default:
      send(request, response, 404, 'text/plain; charset=utf-8', 'not found\n');
  }
}

function safeReady(ready: () => boolean): boolean {
  try {
    return ready() === true;
  } catch {
    return false;
  }
}

function send(
  request: IncomingMessage,
  response: ServerResponse,
  status: number,
  contentType: string,
  body: string,
  extraHeaders: Record<string, string> = {},
): void {
  const bytes = Buffer.from(body, 'utf8');
  response.writeHead(status, {
    'content-type': contentType,
    'content-length': bytes.length,
    'cache-control': 'no-store',
    ...extraHeaders,
  });
  response.end(request.method === 'HEAD' ? undefined : bytes);
}
