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
  /** Which request methods are forwarded; others get 405 SLUICE_METHOD_REFUSED. */
  methods: MethodPolicy;
}

/**
 * The methods a proxy forwards (`--allow-methods`): every method but the refused ones by default, or
 * exactly a listed set. TRACE and TRACK are refused by default: a backend that echoes TRACE hands the
 * request's cookies and credentials to a cross-site script (cross-site tracing); nginx answers them 405.
 */
export interface MethodPolicy {
  /** The allowed methods when listed (then the 405 carries them in Allow), else undefined. */
  readonly allow?: ReadonlySet<string>;
  /** Refused when no list is given. */
  readonly refuse: ReadonlySet<string>;
}

export const DEFAULT_REFUSED_METHODS: ReadonlySet<string> = new Set(['TRACE', 'TRACK']);

export const DEFAULT_METHOD_POLICY: MethodPolicy = { refuse: DEFAULT_REFUSED_METHODS };

/** Whether `policy` forwards `method` (methods are case-sensitive, RFC 9110 9.1). */
export function methodAllowed(policy: MethodPolicy, method: string): boolean {
  return policy.allow !== undefined ? policy.allow.has(method) : !policy.refuse.has(method);
}

/** `--allow-methods`: a comma-separated list of methods, or "*" for every method (TRACE included). */
export function parseMethodPolicy(text: string): MethodPolicy | string {
  const trimmed = text.trim();
  if (trimmed === '*') return { refuse: new Set() };
  const methods = trimmed.split(',').map((m) => m.trim());
  for (const m of methods) {
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(m)) return `not a method token: "${m}"`;
    if (m === 'CONNECT') return 'CONNECT is never forwarded (the proxy opens no tunnels)';
  }
  return { allow: new Set(methods), refuse: new Set() };
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
  methods: DEFAULT_METHOD_POLICY,
};
