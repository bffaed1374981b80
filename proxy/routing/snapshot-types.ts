// Shapes of an immutable, versioned route snapshot as the data path sees it. A request captures the
// snapshot current when it arrives and keeps it to the end; a config change builds a new snapshot and
// swaps one reference. Upstream handles are generic so routing/ does not depend on upstream/.

import type { EndpointPolicy } from '../config.ts';
import type { RequestSeries } from '../telemetry.ts';
import type { BucketRanges, VerifiedSticky } from './affinity.ts';
import type { EndpointSelector, SnapshotEndpoint } from './endpoint-picker.ts';
import type { CompiledHeaderRoute } from './header-match.ts';
import type { CookieKeyRing } from './key-ring.ts';
import type { MirrorSampler } from './mirror.ts';
import type { SwrrPicker } from './swrr.ts';

export interface SnapshotBackend<U> {
  readonly index: number;
  /** Role name (`role` label). */
  readonly name: string;
  readonly revision: string;
  /** How the config gave the upstreams: one `address`, or `endpoints` (the ready pods, maybe none). */
  readonly mode: 'address' | 'endpoints';
  /**
   * The upstreams, each with its handle (connection pool) resolved once per snapshot and shared across
   * snapshots: one for an address, one per pod for endpoints.
   */
  readonly endpoints: readonly SnapshotEndpoint<U>[];
  /** Chooses the endpoint of a request routed to this backend (fresh state per snapshot). */
  readonly picker: EndpointSelector<U>;
  readonly weightBp: number;
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

/** Sticky-session settings and state of one route (snapshot.ts builds it, pick.ts uses it). */
export interface CompiledSticky {
  readonly cookieName: string;
  readonly maxAgeSeconds: number;
  readonly ring: CookieKeyRing;
  /** Token of the non-first backends' revisions; a cookie drawn under another token re-draws. */
  readonly revisionToken: string;
  readonly ranges: BucketRanges;
  /** Places new sessions with the same exact weighting as plain requests (separate state). */
  readonly sessions: SwrrPicker;
  /** Uniform in [0, 1): draws the bucket inside the chosen backend's range. */
  readonly random: () => number;
  /** Cookie values already verified in this snapshot (affinity.ts StickyCheck.verified). */
  readonly verified: Map<string, VerifiedSticky>;
}

export interface CompiledMirror<U> {
  readonly backend: SnapshotBackend<U>;
  readonly sampler: MirrorSampler;
}

/** One route of a snapshot with its picker state (fresh per snapshot). */
export interface CompiledRoute<U> {
  /** `app` label. */
  readonly name: string;
  /** `namespace` label; "" when not configured. */
  readonly namespace: string;
  /** Lower-case host or "*". */
  readonly host: string;
  /** Normalised prefix (no trailing slash except "/"). */
  readonly pathPrefix: string;
  readonly backends: readonly SnapshotBackend<U>[];
  /** How each backend's picker chooses among its endpoints. */
  readonly endpointPolicy: EndpointPolicy;
  readonly timeouts: RouteTimeouts;
  readonly headerRoutes: readonly CompiledHeaderRoute[];
  readonly sticky: CompiledSticky | null;
  readonly mirror: CompiledMirror<U> | null;
  /** SWRR over the backends' weightBp for non-sticky requests. */
  readonly weights: SwrrPicker;
  /** Preallocated results per backend index, so a pick allocates nothing. */
  readonly picks: {
    readonly weight: readonly BackendPick<U>[];
    readonly header: readonly BackendPick<U>[];
    readonly sticky: readonly BackendPick<U>[];
  };
}

/** An immutable, versioned routing table. */
export interface RouteSnapshot<U> {
  readonly version: number;
  readonly routes: readonly CompiledRoute<U>[];
  /** Exact host beats "*"; longest pathPrefix wins (segment boundaries); null when nothing matches. */
  match(hostHeader: string | undefined, path: string): CompiledRoute<U> | null;
  /** JSON-ready description for the admin /config endpoint. */
  describe(): SnapshotDescription;
}

export interface SnapshotDescription {
  version: number;
  routes: RouteDescription[];
}

export interface RouteDescription {
  name: string;
  namespace: string;
  match: { host: string; pathPrefix: string };
  /** Policy of the endpoint pick (meaningful for backends in endpoints mode). */
  endpointPolicy: EndpointPolicy;
  /** `address` for a backend given one, `endpoints` (maybe empty) for one given the ready pods. */
  backends: {
    name: string;
    revision: string;
    address?: string;
    endpoints?: string[];
    weightPercent: number;
    weightBp: number;
  }[];
  stickySessions: {
    cookie: string;
    maxAgeSeconds: number;
    revisionToken: string;
    keyId: string;
    buckets: { backend: string; start: number; end: number }[];
  } | null;
  headerRoutes: { name: string; backend: string; match: { header: string; kind: string; value: string }[] }[];
  mirror: { backend: string; percent: number; percentBp: number } | null;
  timeouts: RouteTimeouts;
}
