// `sluice demo-proxy` (the proxy on its own; `sluice demo` is the whole story): two small backends,
// "stable" and "canary", and the proxy in front of them on the example routes file. Edit the routes
// file while it runs and the proxy applies the change (or rejects it, naming the line).

import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startProxy } from '../../proxy/main.ts';
import { examplesHelp, parseArgsOptions } from './command-table.ts';
import { createLogger, type LogSettings, logSettings } from './logging.ts';
import { packageFile } from './package-root.ts';
import { untilStopSignal } from './signals.ts';

function backend(name: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const body = `${JSON.stringify({ backend: name, path: req.url })}\n`;
    res.writeHead(200, {
      'content-type': 'application/json',
      'x-backend': name,
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

export const DEMO_PROXY_USAGE = `usage: sluice demo-proxy [ROUTES_FILE]

Starts two demo backends ("stable" on 127.0.0.1:9001, "canary" on 127.0.0.1:9002) and the Sluice proxy in
front of them on 127.0.0.1:8080 (admin 127.0.0.1:9901), routed by ROUTES_FILE (default
deploy/examples/routes.yaml, shipped with the package), which is watched: edit the weights and they apply
without a restart. Ctrl-C stops everything.

  --log-format text|json  the proxy's log format (default text on a terminal, json otherwise)
  --loglevel LEVEL        trace, debug, info, warn, error, fatal, silent (default info)
  -h, --help              this text
${examplesHelp('demo-proxy')}`;

export async function runDemoProxy(argv: string[]): Promise<number> {
  let positionals: string[];
  let log: LogSettings;
  try {
    const parsed = parseArgs({
      args: argv,
      options: parseArgsOptions('demo-proxy'),
      allowPositionals: true,
      strict: true,
    });
    if (parsed.values.help === true) {
      process.stdout.write(DEMO_PROXY_USAGE);
      return 0;
    }
    if (parsed.positionals.length > 1)
      throw new Error(`one ROUTES_FILE at most, got ${parsed.positionals.length}`);
    positionals = parsed.positionals;
    log = logSettings(parsed.values, process.stdout.isTTY === true);
  } catch (error) {
    process.stderr.write(`sluice demo-proxy: ${(error as Error).message}\n\n${DEMO_PROXY_USAGE}`);
    return 2;
  }
  const configPath = positionals[0] ?? fileURLToPath(packageFile('deploy/examples/routes.yaml'));
  const backends = [await backend('stable', 9001), await backend('canary', 9002)];
  const proxy = await startProxy({
    configPath,
    listen: { host: '127.0.0.1', port: 8080 },
    admin: { host: '127.0.0.1', port: 9901 },
    logger: createLogger(log, { name: 'sluice-proxy' }),
  });
  process.stdout.write(
    `\nSluice proxy demo: proxy on http://127.0.0.1:8080 (routes from ${configPath}), admin on http://127.0.0.1:9901\n` +
      `  curl -s -H 'host: shop.example.com' http://127.0.0.1:8080/       # stable or canary by weight\n` +
      `  curl -s -H 'host: shop.example.com' -H 'x-beta: true' http://127.0.0.1:8080/   # header route\n` +
      `  curl -s http://127.0.0.1:9901/config | head; curl -s http://127.0.0.1:9901/metrics | grep http_requests_total\n` +
      `Edit the weights in ${configPath} and they apply without a restart. Ctrl-C stops everything.\n\n`,
  );
  await untilStopSignal();
  await proxy.close(5_000);
  for (const b of backends) b.close();
  return 0;
}
