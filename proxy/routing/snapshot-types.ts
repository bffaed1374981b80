// Shapes of an immutable, versioned route snapshot as the data path sees it. A request captures the
// snapshot current when it arrives and keeps it to the end; a config change builds a new snapshot and
// swaps one reference. Upstream handles are generic so routing/ does not depend on upstream/.

import type { RequestSeries } from '../telemetry.ts';

export interface SnapshotBackend<U> {
  readonly index: number;
  /** Role name (`role` label). */
  readonly name: string;
  readonly revision: string;
  /** Normalised origin, e.g. "http://127.0.0.1:9001". */
  readonly address: string;
  readonly weightBp: number;
  /** Connection pool for this address; resolved once per snapshot, shared across snapshots. */
  readonly upstream: U;
  readonly series: RequestSeries;
}

export interface RouteTimeouts {
  readonly connectMs: number;
  readonly responseHeadersMs: number;
  readonly idleBodyMs: number;
}

/** Looks a request header up by its lower-case name; undefined when absent. */
export type HeaderLookup = (lowerName: string) => string | undefined;

export type BackendPick<U> =
  | {
      readonly kind: 'backend';
      readonly backend: SnapshotBackend<U>;
      /** A complete Set-Cookie value to add to the response, or null. */
      readonly setCookie: string | null;
      readonly via: 'header' | 'sticky' | 'weight';
    }
  | { readonly kind: 'none' };
