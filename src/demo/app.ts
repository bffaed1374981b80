// The demo application: a small HTTP server that stands in for a user's service in the demo, in
// `sluice standalone` and in the test cluster's pods (image `sluice-demo:<tag>`). Every response is JSON
// naming the pod and the version (the image tag) and carries `x-demo-version: <tag>`, so a client can
// count which revision answered. It can be told to misbehave the way a bad release does: fail a share of
// requests with 500 (ERROR_RATE, 0..1) and answer late (LATENCY_MS plus up to LATENCY_JITTER_MS).

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SluiceError } from '../api/errors.ts';

export const DEMO_VERSION_HEADER = 'x-demo-version';

export interface DemoAppConfig {
  /** Reported in every response: the pod's name (or any label). */
  readonly name: string;
  /** Reported in the body and the x-demo-version header: the image tag. */
  readonly version: string;
  /** Share of requests answered 500, 0..1. */
  readonly errorRate: number;
  /** Added to every response. */
  readonly latencyMs: number;
  /** Up to this much more, uniformly. */
  readonly latencyJitterMs: number;
}

export interface DemoAppDeps {
  /** Uniform in [0, 1); injected so tests decide which requests fail. */
  readonly random?: () => number;
  /** Waits `ms` before answering; injected so tests see the latency asked for without timing it. */
  readonly delay?: (ms: number) => Promise<void>;
}

export interface DemoApp {
  readonly server: Server;
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

function invalid(field: string, message: string): SluiceError {
  return new SluiceError('SLUICE_INVALID_SPEC', `${field}: ${message}`);
}

function parseNumber(field: string, text: string | undefined, fallback: number, max: number): number {
  if (text === undefined || text.trim() === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value)) throw invalid(field, `must be a number, got "${text}"`);
  if (value < 0 || value > max) throw invalid(field, `must be between 0 and ${max}, got ${value}`);
  return value;
}

/**
 * The misbehaviour settings from a container's environment (ERROR_RATE, LATENCY_MS, LATENCY_JITTER_MS),
 * the way the test cluster's pods and `sluice demo-app` read them. A bad value is an error naming the
 * variable, never a silent default.
 */
export function demoSettingsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): Pick<DemoAppConfig, 'errorRate' | 'latencyMs' | 'latencyJitterMs'> {
  return {
    errorRate: parseNumber('ERROR_RATE', env.ERROR_RATE, 0, 1),
    latencyMs: parseNumber('LATENCY_MS', env.LATENCY_MS, 0, 600_000),
    latencyJitterMs: parseNumber('LATENCY_JITTER_MS', env.LATENCY_JITTER_MS, 0, 600_000),
  };
}

/** The version a pod of `image` reports: its tag (`sluice-demo:v2` -> `v2`), or `latest` without one. */
export function demoImageVersion(image: string): string {
  const afterSlash = image.slice(image.lastIndexOf('/') + 1);
  const withoutDigest = afterSlash.split('@')[0] ?? afterSlash;
  const colon = withoutDigest.indexOf(':');
  return colon < 0 ? 'latest' : withoutDigest.slice(colon + 1);
}

/** Whether a container image is the demo app (`sluice-demo`, any registry, any tag). */
export function isDemoImage(image: string): boolean {
  const afterSlash = image.slice(image.lastIndexOf('/') + 1);
  return /^sluice-demo(?:[:@]|$)/.test(afterSlash);
}

function validate(config: DemoAppConfig): void {
  if (!(config.errorRate >= 0 && config.errorRate <= 1))
    throw invalid('errorRate', 'must be between 0 and 1');
  if (!(config.latencyMs >= 0)) throw invalid('latencyMs', 'must be >= 0');
  if (!(config.latencyJitterMs >= 0)) throw invalid('latencyJitterMs', 'must be >= 0');
  if (config.version === '') throw invalid('version', 'must not be empty');
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref?.());

/** The request handler, separate from the server so it can be mounted or tested alone. */
export function demoHandler(
  config: DemoAppConfig,
  deps: DemoAppDeps = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  validate(config);
  const random = deps.random ?? Math.random;
  const delay = deps.delay ?? sleep;
  return (req, res) => {
    // The body is not needed; drain it so keep-alive connections stay usable.
    req.resume();
    const waitMs = config.latencyMs + (config.latencyJitterMs > 0 ? random() * config.latencyJitterMs : 0);
    const fail = config.errorRate > 0 && random() < config.errorRate;
    const answer = () => {
      if (res.destroyed) return;
      const status = fail ? 500 : 200;
      const body = `${JSON.stringify({
        pod: config.name,
        version: config.version,
        path: req.url ?? '/',
        ...(fail ? { error: 'injected failure (ERROR_RATE)' } : {}),
      })}\n`;
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        [DEMO_VERSION_HEADER]: config.version,
      });
      res.end(body);
    };
    if (waitMs > 0) void delay(waitMs).then(answer);
    else answer();
  };
}

/** Starts the demo app on host:port (port 0 picks a free one). */
export async function startDemoApp(
  config: DemoAppConfig,
  listen: { readonly host: string; readonly port: number },
  deps: DemoAppDeps = {},
): Promise<DemoApp> {
  const server = createServer(demoHandler(config, deps));
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return {
    server,
    host: listen.host,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
