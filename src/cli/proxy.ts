// `sluice proxy`: runs the data plane from a routes file (--config) or subscribed to a control
// plane (--control). Flags are parsed once here into ProxyOptions; errors name the flag.

import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { type ProxyOptions, startProxy } from '../../proxy/main.ts';
import { parseKeyRing } from '../../proxy/routing/key-ring.ts';
import { parseMethodPolicy } from '../../proxy/server-options.ts';
import { parseDuration } from '../api/duration.ts';
import { examplesHelp, parseArgsOptions } from './command-table.ts';
import { UsageError } from './flags.ts';
import { createLogger, type LogSettings, logSettings } from './logging.ts';
import { untilStopSignal } from './signals.ts';

export const PROXY_USAGE = `usage: sluice proxy (--config routes.yaml | --control HOST:PORT) [options]

  --config FILE          routes file; watched, invalid changes are rejected and the last good config kept
  --control HOST:PORT    subscribe to a control plane instead of reading a file
  --token-file FILE      bearer token for the control plane (or env SLUICE_CONTROL_TOKEN)
  --control-ca FILE      CA bundle to verify the control plane (enables TLS)
  --control-cert FILE    client certificate for mTLS (with --control-key)
  --control-key FILE     client key for mTLS
  --proxy-id ID          identity told to the control plane (default: hostname-pid)
  --route [NAMESPACE/]NAME
                         a route this proxy serves (repeatable; told to the control plane)
  --all-routes           serve every route the control plane publishes, also ones declared later
  --report-interval DURATION
                         histogram interval sent to the control plane after it ends, e.g.
                         250ms, 1s (default 1s, at least 250ms)
  --listen HOST:PORT     data port (default 127.0.0.1:8080)
  --admin HOST:PORT      admin port: /metrics /healthz /ready /config (default 127.0.0.1:9901)
  --tls-cert FILE        serve the data port over TLS (with --tls-key)
  --tls-key FILE
  --upstream-ca FILE     extra CA certificates (PEM) to verify https:// backends
  --cookie-keys FILE     sticky-session signing keys, one "id:base64secret" per line, first signs
                         (or env SLUICE_COOKIE_KEYS); without it a random key is used per process
  --max-connections N    client connection cap (default 10000)
  --max-body-bytes N     largest request body (default unlimited)
  --allow-methods LIST   methods forwarded, comma-separated, or * for all (default: all but TRACE
                         and TRACK, which get 405)
  --trust-forwarded      keep the client's X-Forwarded-Proto/-Host (behind a trusted load balancer)
  --drain-timeout SEC    graceful shutdown deadline on SIGTERM (default 10)
  --workers N            worker processes sharing the data port, one admin port and one control
                         stream (default: one per core; 1 runs in this process)
  --log-format text|json log format (default text on a terminal, json otherwise)
  --loglevel LEVEL       trace, debug, info, warn, error, fatal, silent (default info)
  -h, --help             this text
${examplesHelp('proxy')}`;

export function hostPort(flag: string, value: string): { host: string; port: number } {
  const i = value.lastIndexOf(':');
  const port = Number(value.slice(i + 1));
  const host = value.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new UsageError(`--${flag}: expected HOST:PORT, got "${value}"`);
  }
  return { host, port };
}

function positiveInt(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new UsageError(`--${flag}: expected a positive integer, got "${value}"`);
  return n;
}

/** `--route NAME` or `--route NAMESPACE/NAME`: the route as told to the control plane in Hello. */
export function parseServedRoute(value: string): { name: string; namespace?: string } {
  const parts = value.split('/');
  if (parts.length > 2 || parts.some((p) => p.trim() === '')) {
    throw new UsageError(`--route: expected NAME or NAMESPACE/NAME, got "${value}"`);
  }
  return parts.length === 2 ? { namespace: parts[0]!, name: parts[1]! } : { name: parts[0]! };
}

export const MIN_REPORT_INTERVAL_MS = 250;

/** `--report-interval`: a Go duration of whole milliseconds, at least MIN_REPORT_INTERVAL_MS. */
export function parseReportInterval(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const d = parseDuration(value);
  if (!d.ok) throw new UsageError(`--report-interval: ${d.error} (e.g. 250ms, 1s)`);
  if (!Number.isInteger(d.ms) || d.ms < MIN_REPORT_INTERVAL_MS) {
    const least = `${MIN_REPORT_INTERVAL_MS}ms`;
    throw new UsageError(
      `--report-interval: must be a whole number of milliseconds of at least ${least}, got "${value}"`,
    );
  }
  return d.ms;
}

function readFlagFile(flag: string, path: string | undefined): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UsageError(`--${flag}: cannot read ${path}: ${(err as Error).message}`);
  }
}

export function parseProxyArgs(
  argv: string[],
  env: NodeJS.ProcessEnv,
  isTTY = process.stdout.isTTY === true,
  cores = availableParallelism(),
): { options: ProxyOptions; drainMs: number; workers: number; log: LogSettings } {
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: parseArgsOptions('proxy'),
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const str = (k: string): string | undefined => values[k] as string | undefined;
  if ((str('config') === undefined) === (str('control') === undefined)) {
    throw new UsageError('exactly one of --config and --control is required');
  }
  const options: ProxyOptions = {
    listen: hostPort('listen', str('listen')!),
    admin: hostPort('admin', str('admin')!),
    configPath: str('config'),
    data: {},
  };
  const l = options.listen;
  const a = options.admin;
  if (l.port !== 0 && l.port === a.port && l.host === a.host) {
    throw new UsageError('--admin: must differ from --listen (metrics never share the data port)');
  }
  const control = str('control');
  if (control !== undefined) {
    hostPort('control', control);
    const tokenFile = readFlagFile('token-file', str('token-file'));
    const ca = readFlagFile('control-ca', str('control-ca'));
    const cert = readFlagFile('control-cert', str('control-cert'));
    const key = readFlagFile('control-key', str('control-key'));
    if ((cert === undefined) !== (key === undefined))
      throw new UsageError('--control-cert and --control-key go together');
    options.control = {
      target: control,
      token: tokenFile?.toString('utf8').trim() ?? env.SLUICE_CONTROL_TOKEN,
      tls: ca !== undefined || cert !== undefined ? { ca, cert, key } : undefined,
      proxyId: str('proxy-id'),
      routes: ((values.route as string[] | undefined) ?? []).map(parseServedRoute),
      ...(values['all-routes'] === true ? { allRoutes: true } : {}),
      reportIntervalMs: parseReportInterval(str('report-interval')),
    };
  } else {
    const flag = ['route', 'all-routes', 'report-interval'].find((f) => values[f] !== undefined);
    if (flag !== undefined) throw new UsageError(`--${flag}: only with --control`);
  }
  if (values['all-routes'] === true && values.route !== undefined)
    throw new UsageError('--all-routes: not with --route (it serves every route, also ones declared later)');
  const tlsCert = readFlagFile('tls-cert', str('tls-cert'));
  const tlsKey = readFlagFile('tls-key', str('tls-key'));
  if ((tlsCert === undefined) !== (tlsKey === undefined))
    throw new UsageError('--tls-cert and --tls-key go together');
  if (tlsCert !== undefined && tlsKey !== undefined) options.data!.tls = { cert: tlsCert, key: tlsKey };
  const keysText =
    str('cookie-keys') !== undefined
      ? readFlagFile('cookie-keys', str('cookie-keys'))!.toString()
      : env.SLUICE_COOKIE_KEYS;
  if (keysText !== undefined) {
    const ring = parseKeyRing(keysText);
    if (!ring.ok) throw new UsageError(`--cookie-keys: ${ring.message}`);
    options.cookieKeys = ring.ring;
  }
  const upstreamCa = readFlagFile('upstream-ca', str('upstream-ca'));
  if (upstreamCa !== undefined) options.upstreamCa = upstreamCa;
  const maxConnections = positiveInt('max-connections', str('max-connections'));
  if (maxConnections !== undefined) options.data!.maxConnections = maxConnections;
  const allowMethods = str('allow-methods');
  if (allowMethods !== undefined) {
    const policy = parseMethodPolicy(allowMethods);
    if (typeof policy === 'string') throw new UsageError(`--allow-methods: ${policy}`);
    options.data!.methods = policy;
  }
  const maxBody = positiveInt('max-body-bytes', str('max-body-bytes'));
  if (maxBody !== undefined) options.data!.maxBodyBytes = maxBody;
  if (values['trust-forwarded'] === true) options.data!.trustForwarded = true;
  const drainSec = positiveInt('drain-timeout', str('drain-timeout')) ?? 10;
  const workers = positiveInt('workers', str('workers')) ?? cores;
  return { options, drainMs: drainSec * 1000, workers, log: logSettings(values, isTTY, env) };
}

export async function runProxyCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(PROXY_USAGE);
    return 0;
  }
  let parsed: ReturnType<typeof parseProxyArgs>;
  try {
    parsed = parseProxyArgs(argv, process.env);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`sluice proxy: ${err.message}\n\n${PROXY_USAGE}`);
      return 2;
    }
    throw err;
  }
  let proxy: { close(drainMs?: number): Promise<void> };
  try {
    const logger = createLogger(parsed.log, { name: 'sluice-proxy' });
    if (parsed.workers > 1) {
      // Loaded only when used: one worker runs in this process without the cluster machinery.
      const { startProxyWorkers } = await import('../../proxy/workers/supervisor.ts');
      proxy = await startProxyWorkers({ ...parsed.options, logger, workers: parsed.workers });
    } else {
      proxy = await startProxy({ ...parsed.options, logger });
    }
  } catch (err) {
    process.stderr.write(`sluice proxy: ${(err as Error).message}\n`);
    return 1;
  }
  await untilStopSignal();
  await proxy.close(parsed.drainMs).catch(() => undefined);
  return 0;
}
