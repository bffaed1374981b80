// The messages between the primary of a multi-worker proxy and its workers, over the cluster's IPC
// channel (a private socket pair; `advanced` serialization, so Buffers and Sets arrive as such). The
// cookie secrets travel only here: never in argv or the environment (readable in /proc), never logged.
// Every request the primary sends carries an id its answer echoes.

import type { RoutesConfig } from '../config.ts';
import type { HistogramReport } from '../control/report.ts';
import type { DataServerOptions } from '../server-options.ts';

/** A cookie key as sent to a worker: the raw secret, rebuilt into a KeyObject there. */
export interface WireCookieKey {
  readonly id: string;
  readonly secret: Buffer;
}

export interface WorkerInit {
  readonly t: 'init';
  /** 0-based; sets the phase of the worker's weight cycles. */
  readonly index: number;
  readonly count: number;
  readonly keys: readonly WireCookieKey[];
  readonly data: DataServerOptions;
  readonly upstreamCa?: Buffer;
  /** HDR interval length (the report interval when subscribed). */
  readonly intervalMs?: number;
  /** The config being served, when there is one yet. */
  readonly config?: { readonly version: number; readonly routes: RoutesConfig };
  readonly logLevel: string;
}

export type PrimaryMessage =
  | WorkerInit
  | { readonly t: 'apply'; readonly id: number; readonly version: number; readonly routes: RoutesConfig }
  | { readonly t: 'metrics'; readonly id: number }
  | { readonly t: 'drain-reports'; readonly id: number }
  | { readonly t: 'shutdown'; readonly drainMs: number };

export type WorkerMessage =
  | { readonly t: 'listening'; readonly host: string; readonly port: number; readonly describe: unknown }
  | { readonly t: 'applied'; readonly id: number; readonly version: number; readonly describe: unknown }
  | { readonly t: 'metrics'; readonly id: number; readonly text: string }
  | { readonly t: 'reports'; readonly id: number; readonly reports: HistogramReport[] }
  | { readonly t: 'failed'; readonly message: string }
  /** One pino JSON line: the primary logs it through its own logger (one format, one stream). */
  | { readonly t: 'log'; readonly line: string };

export function isWorkerMessage(value: unknown): value is WorkerMessage {
  return typeof value === 'object' && value !== null && typeof (value as { t?: unknown }).t === 'string';
}

export function isPrimaryMessage(value: unknown): value is PrimaryMessage {
  return typeof value === 'object' && value !== null && typeof (value as { t?: unknown }).t === 'string';
}
