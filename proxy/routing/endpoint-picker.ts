// Choosing a pod once the weights have chosen a side: the second stage of a pick (the first, SWRR over
// the backends, sticky buckets and header routes, is pick.ts; it never sees endpoints). One picker per
// backend per snapshot. A backend given as one `address` is a list of one and costs one length check.
//
// round-robin: the endpoints in turn, from a random start (so proxies that receive the same snapshot at
// the same moment do not all send their first request to the same pod; Envoy does the same).
// least-outstanding: the endpoint with the fewest requests in flight through this proxy (counted by
// the upstream handle, so across snapshots and routes); ties go round robin, so with equal load it is
// exactly round robin. O(endpoints) per pick. docs/proxy.md has the measurement behind the default.
// pick() allocates nothing.

import type { EndpointPolicy } from '../config.ts';

export const DEFAULT_ENDPOINT_POLICY: EndpointPolicy = 'least-outstanding';

/** One pod (or the single address) of a backend, with its upstream handle; frozen, one per snapshot. */
export interface SnapshotEndpoint<U> {
  /** Normalised origin, e.g. "http://10.0.0.7:8080". */
  readonly address: string;
  readonly upstream: U;
}

/** Requests in flight on an upstream handle; least-outstanding needs it, round-robin does not. */
export type OutstandingOf<U> = (upstream: U) => number;

/** What the data path sees of a picker (covariant in U, like the rest of a snapshot's shapes). */
export interface EndpointSelector<U> {
  /** The endpoint for the next request, or null when the backend has no ready endpoint. */
  pick(): SnapshotEndpoint<U> | null;
}

export class EndpointPicker<U> implements EndpointSelector<U> {
  readonly endpoints: readonly SnapshotEndpoint<U>[];
  readonly policy: EndpointPolicy;
  readonly #outstanding: OutstandingOf<U> | null;
  #next: number;

  /**
   * `start` (0..1) places the round-robin cursor; `outstanding` is required for least-outstanding and
   * ignored otherwise.
   */
  constructor(
    endpoints: readonly SnapshotEndpoint<U>[],
    policy: EndpointPolicy,
    outstanding: OutstandingOf<U> | null,
    start: number,
  ) {
    this.endpoints = endpoints;
    this.policy = policy;
    this.#outstanding = policy === 'least-outstanding' ? outstanding : null;
    if (policy === 'least-outstanding' && outstanding === null) {
      throw new Error('least-outstanding needs the in-flight count of each endpoint');
    }
    const n = endpoints.length;
    this.#next = n === 0 ? 0 : Math.min(n - 1, Math.max(0, Math.floor(start * n)));
  }

  /** The endpoint for the next request, or null when the backend has no ready endpoint. */
  pick(): SnapshotEndpoint<U> | null {
    const endpoints = this.endpoints;
    const n = endpoints.length;
    if (n === 1) return endpoints[0]!;
    if (n === 0) return null;
    const first = this.#next;
    const outstanding = this.#outstanding;
    let chosen = first;
    if (outstanding !== null) {
      let least = outstanding(endpoints[first]!.upstream);
      for (let k = 1; k < n && least > 0; k++) {
        let i = first + k;
        if (i >= n) i -= n;
        const load = outstanding(endpoints[i]!.upstream);
        if (load < least) {
          least = load;
          chosen = i;
        }
      }
    }
    this.#next = chosen + 1 === n ? 0 : chosen + 1;
    return endpoints[chosen]!;
  }
}
