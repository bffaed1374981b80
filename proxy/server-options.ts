// Options of the data port, with their defaults (timeouts per RFC-sane values, never undici's 300 s).

import type { RouteTimeouts } from './routing/snapshot-types.ts';

export interface DataServerOptions {
  host: string;
  port: number;
  tls?: { cert: Buffer; key: Buffer };
  maxConnections: number;
  maxHeadBytes: number;
  /** From the first byte of a request head to its end (slowloris). */
  headersTimeoutMs: number;
  /** Idle time allowed between requests on a keep-alive connection. */
  keepAliveTimeoutMs: number;
  /** Idle time allowed while receiving a request body. */
  bodyTimeoutMs: number;
  /** Largest request body accepted; 0 = unlimited. */
  maxBodyBytes: number;
  maxTunnels: number;
  /** Keep X-Forwarded-Proto/-Host from the client (behind a trusted load balancer). */
  trustForwarded: boolean;
  defaultTimeouts: RouteTimeouts;
}

export const DEFAULT_ROUTE_TIMEOUTS: RouteTimeouts = {
  connectMs: 5_000,
  responseHeadersMs: 30_000,
  idleBodyMs: 30_000,
};

export const DEFAULT_DATA_SERVER_OPTIONS: Omit<DataServerOptions, 'host' | 'port'> = {
  maxConnections: 10_000,
  maxHeadBytes: 16_384,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 60_000,
  bodyTimeoutMs: 30_000,
  maxBodyBytes: 0,
  maxTunnels: 1_000,
  trustForwarded: false,
  defaultTimeouts: DEFAULT_ROUTE_TIMEOUTS,
};
