// The per-request decision: header routes first (first match wins), then sticky buckets when the
// route has stickySessions, else smooth weighted round robin. Plain weighted and header picks return
// preallocated results and allocate nothing; only a new or refreshed sticky cookie allocates.
//
// Sticky cookie refresh: a valid cookie is re-issued with the same bucket (so the session does not
// move) when it was signed with a key other than the current signing key (rotation) or when less
// than a quarter of its Max-Age remains (active sessions keep their side; idle ones expire and
// re-draw). Every cookie still carries a bounded Max-Age.

import {
  backendForBucket,
  encodeStickyValue,
  formatStickySetCookie,
  verifyStickyCookie,
} from './affinity.ts';
import { headerRouteMatches } from './header-match.ts';
import type {
  BackendPick,
  CompiledRoute,
  CompiledSticky,
  HeaderLookup,
  SnapshotBackend,
} from './snapshot-types.ts';

const NONE: BackendPick<never> = Object.freeze({ kind: 'none' });

function stickyPick<U>(
  route: CompiledRoute<U>,
  sticky: CompiledSticky,
  cookieHeader: string | undefined,
  secure: boolean,
  nowMs: number,
): BackendPick<U> {
  const nowSec = Math.floor(nowMs / 1000);
  const verdict = verifyStickyCookie(sticky, cookieHeader, nowSec);
  if (verdict.ok) {
    const index = backendForBucket(sticky.ranges, verdict.bucket);
    const remainingSec = verdict.issuedAtSec + sticky.maxAgeSeconds - nowSec;
    if (verdict.kid === sticky.ring.signing.id && remainingSec * 4 >= sticky.maxAgeSeconds) {
      return route.picks.sticky[index]!;
    }
    return {
      kind: 'backend',
      backend: route.backends[index]!,
      setCookie: formatStickySetCookie(
        sticky.cookieName,
        encodeStickyValue(sticky.ring, sticky.cookieName, sticky.revisionToken, verdict.bucket, nowSec),
        sticky.maxAgeSeconds,
        secure,
      ),
      via: 'sticky',
    };
  }
  // New session (or one we cannot trust): place it exactly by weight, then draw its bucket inside
  // the chosen backend's range so later requests land there until the weights move its range.
  const index = sticky.sessions.pick();
  if (index < 0) return NONE;
  const start = sticky.ranges.start[index]!;
  const width = sticky.ranges.end[index]! - start;
  const bucket = start + Math.min(width - 1, Math.max(0, Math.floor(sticky.random() * width)));
  return {
    kind: 'backend',
    backend: route.backends[index]!,
    setCookie: formatStickySetCookie(
      sticky.cookieName,
      encodeStickyValue(sticky.ring, sticky.cookieName, sticky.revisionToken, bucket, nowSec),
      sticky.maxAgeSeconds,
      secure,
    ),
    via: 'sticky',
  };
}

/**
 * Chooses the backend for one request. `header` looks request headers up by lower-case name (the
 * raw Cookie header via header('cookie')); `secure` adds the Secure attribute to a new cookie;
 * `nowMs` is the injected clock. Never throws.
 */
export function pickBackend<U>(
  route: CompiledRoute<U>,
  header: HeaderLookup,
  secure: boolean,
  nowMs: number,
): BackendPick<U> {
  const headerRoutes = route.headerRoutes;
  for (let i = 0; i < headerRoutes.length; i++) {
    const hr = headerRoutes[i]!;
    if (headerRouteMatches(hr, header)) return route.picks.header[hr.backendIndex]!;
  }
  if (route.sticky !== null) return stickyPick(route, route.sticky, header('cookie'), secure, nowMs);
  const index = route.weights.pick();
  return index < 0 ? NONE : route.picks.weight[index]!;
}

/** The backend this request should be copied to, or null: exactly `percent` of calls over time. */
export function mirrorTarget<U>(route: CompiledRoute<U>): SnapshotBackend<U> | null {
  const mirror = route.mirror;
  if (mirror === null) return null;
  return mirror.sampler.take() ? mirror.backend : null;
}
