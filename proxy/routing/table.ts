// Route matching: host first, then the longest path prefix. Hosts compare case-insensitively with
// the port and a trailing dot removed; IPv6 literals keep their brackets ("[::1]"; no
// canonicalisation of other spellings). Routes for the exact host are tried first, then "*" routes.
// Prefixes match on segment boundaries: "/api" matches "/api", "/api/x" and "/api?q" but not
// "/apix"; "/" matches every request target (including "*" and absolute forms). Lists are sorted by
// prefix length, longest first, when the table is built, so match() is a Map lookup plus a scan.

export interface TableEntry<R> {
  /** Lower-case host or "*". */
  readonly host: string;
  /** Normalised prefix: starts with "/", no trailing slash except the root. */
  readonly pathPrefix: string;
  readonly value: R;
}

/** Host header to the matching key: lower-case, no port, no trailing dot; "" when absent. */
export function normaliseHost(hostHeader: string | undefined): string {
  if (hostHeader === undefined) return '';
  let end: number;
  if (hostHeader.charCodeAt(0) === 0x5b /* [ */) {
    const close = hostHeader.indexOf(']');
    end = close < 0 ? hostHeader.length : close + 1;
  } else {
    const colon = hostHeader.indexOf(':');
    end = colon < 0 ? hostHeader.length : colon;
  }
  if (end > 0 && hostHeader.charCodeAt(end - 1) === 0x2e /* . */) end--;
  const host = end === hostHeader.length ? hostHeader : hostHeader.slice(0, end);
  return host.toLowerCase();
}

/** Segment-boundary prefix test (see the file comment). */
export function prefixMatches(prefix: string, path: string): boolean {
  if (prefix.length === 1) return true;
  if (!path.startsWith(prefix)) return false;
  if (path.length === prefix.length) return true;
  const next = path.charCodeAt(prefix.length);
  return next === 0x2f /* / */ || next === 0x3f /* ? */;
}

function byLengthDesc<R>(a: TableEntry<R>, b: TableEntry<R>): number {
  return b.pathPrefix.length - a.pathPrefix.length;
}

function firstMatch<R>(list: readonly TableEntry<R>[], path: string): R | null {
  for (let i = 0; i < list.length; i++) {
    const e = list[i]!;
    if (prefixMatches(e.pathPrefix, path)) return e.value;
  }
  return null;
}

export class RouteTable<R> {
  readonly #byHost = new Map<string, TableEntry<R>[]>();
  readonly #anyHost: TableEntry<R>[] = [];

  constructor(entries: readonly TableEntry<R>[]) {
    for (const e of entries) {
      if (e.host === '*') {
        this.#anyHost.push(e);
      } else {
        let list = this.#byHost.get(e.host);
        if (list === undefined) {
          list = [];
          this.#byHost.set(e.host, list);
        }
        list.push(e);
      }
    }
    this.#anyHost.sort(byLengthDesc);
    for (const list of this.#byHost.values()) list.sort(byLengthDesc);
  }

  match(hostHeader: string | undefined, path: string): R | null {
    if (this.#byHost.size > 0) {
      const list = this.#byHost.get(normaliseHost(hostHeader));
      if (list !== undefined) {
        const hit = firstMatch(list, path);
        if (hit !== null) return hit;
      }
    }
    return firstMatch(this.#anyHost, path);
  }
}
