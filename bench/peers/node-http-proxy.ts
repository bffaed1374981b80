// node-http-proxy peer: the `http-proxy` package behind node:http, forwarding with a keep-alive
// http.Agent (bounded sockets), in its own process so its CPU and RSS are measured alone.
//
//   node bench/peers/node-http-proxy.ts --listen 8080 --target http://127.0.0.1:9001
import { Agent, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

export const NODE_HTTP_PROXY_MAX_SOCKETS = 128;

interface HttpProxyServer {
  web(req: IncomingMessage, res: ServerResponse, options?: object, callback?: (err: Error) => void): void;
  on(event: 'error', listener: (err: Error, req: IncomingMessage, res: unknown) => void): void;
}
interface HttpProxyModule {
  createProxyServer(options: { target: string; agent: Agent; xfwd?: boolean }): HttpProxyServer;
}

function main(): void {
  const { values } = parseArgs({
    options: { listen: { type: 'string' }, target: { type: 'string' } },
  });
  const port = Number(values.listen);
  if (!Number.isInteger(port) || port <= 0 || port > 65_535) {
    process.stderr.write(`node-http-proxy: --listen must be a port, got ${String(values.listen)}\n`);
    process.exit(2);
  }
  if (!values.target?.startsWith('http://')) {
    process.stderr.write(`node-http-proxy: --target must be an http:// URL, got ${String(values.target)}\n`);
    process.exit(2);
  }
  const httpProxy = createRequire(import.meta.url)('http-proxy') as HttpProxyModule;
  const agent = new Agent({ keepAlive: true, maxSockets: NODE_HTTP_PROXY_MAX_SOCKETS });
  const proxy = httpProxy.createProxyServer({ target: values.target, agent, xfwd: true });
  proxy.on('error', (_err, _req, res) => {
    const response = res as ServerResponse;
    if (typeof response.writeHead !== 'function') return;
    if (!response.headersSent) response.writeHead(502, { 'content-length': '0' });
    response.end();
  });
  const server = createServer((req, res) => proxy.web(req, res));
  server.keepAliveTimeout = 65_000;
  server.listen(port, '127.0.0.1', () => process.stdout.write(`node-http-proxy listening on ${port}\n`));
  process.on('SIGTERM', () => process.exit(0));
}

if (import.meta.main) main();
