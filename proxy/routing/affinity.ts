// Sticky sessions by bucket, not by backend (reference/proxy-peers-and-style.md 2.5). A session owns
// a bucket 0..9999 and the token of the canary revisions it was drawn under. Bucket ranges: the
// non-first backends take ranges from 0 upward in list order, the first (stable) backend takes the
// top, so with two backends "canary iff bucket < canaryWeightBp": raising the weight moves sessions
// only stable -> canary, and weight 0 sends everyone to stable on their next request.
//
// Cookie value (all base64url / decimal, so cookie-safe, no quoting):
//   v1.<kid>.<revisionToken>.<bucket>.<issuedAtSec>.<mac>
// mac = first 16 bytes (128 bits) of HMAC-SHA256(key[kid], cookieName NUL rest-of-value), base64url.
// Verification never throws: anything wrong is a reason, and the caller re-issues.

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { CookieKeyRing } from './key-ring.ts';

export const BUCKET_COUNT = 10_000;
/** Longer cookie values are rejected before any parsing or hashing. */
export const MAX_COOKIE_VALUE_LENGTH = 200;
/** A cookie issued further in the future than this (clock skew between proxies) is rejected. */
export const MAX_FUTURE_SKEW_SECONDS = 300;
const MAC_BYTES = 16;
const MAC_CHARS = 22;
const VERSION = 'v1';
const KID_RE = /^[A-Za-z0-9_-]{1,32}$/;
const REV_RE = /^[A-Za-z0-9_-]{1,43}$/;
const BUCKET_RE = /^(?:0|[1-9]\d{0,3})$/;
const ISSUED_RE = /^(?:0|[1-9]\d{0,11})$/;

/**
 * Stable, cookie-safe token for a set of canary revisions (the non-first backends, in order).
 * A new release changes it, so every session re-draws its bucket.
 */
export function revisionToken(canaryRevisions: readonly string[]): string {
  return createHash('sha256')
    .update(canaryRevisions.join('\n'))
    .digest()
    .subarray(0, 9)
    .toString('base64url');
}

/** Bucket ranges [start, end) per backend index; empty (start === end) for weight 0. */
export interface BucketRanges {
  readonly start: Int32Array;
  readonly end: Int32Array;
}

/** Ranges for basis-point weights summing to BUCKET_COUNT: backends 1.. from 0 upward, backend 0 on top. */
export function bucketRanges(weightsBp: readonly number[]): BucketRanges {
  const n = weightsBp.length;
  const start = new Int32Array(n);
  const end = new Int32Array(n);
  let at = 0;
  for (let i = 1; i < n; i++) {
    const w = Math.max(0, Math.trunc(weightsBp[i]!));
    start[i] = Math.min(at, BUCKET_COUNT);
    at += w;
    end[i] = Math.min(at, BUCKET_COUNT);
  }
  if (n > 0) {
    start[0] = Math.min(at, BUCKET_COUNT);
    end[0] = BUCKET_COUNT;
  }
  return { start, end };
}

/** Backend index owning a bucket: the first non-first backend whose range holds it, else the first. */
export function backendForBucket(ranges: BucketRanges, bucket: number): number {
  const { start, end } = ranges;
  for (let i = 1; i < start.length; i++) {
    if (bucket >= start[i]! && bucket < end[i]!) return i;
  }
  return 0;
}

function macOf(ring: CookieKeyRing, kid: string, cookieName: string, payload: string): string | null {
  const key = ring.get(kid);
  if (key === undefined) return null;
  return createHmac('sha256', key.key)
    .update(cookieName)
    .update('\0')
    .update(payload)
    .digest()
    .subarray(0, MAC_BYTES)
    .toString('base64url');
}

/** A signed cookie value for this bucket, with the ring's signing key. */
export function encodeStickyValue(
  ring: CookieKeyRing,
  cookieName: string,
  revToken: string,
  bucket: number,
  issuedAtSec: number,
): string {
  const kid = ring.signing.id;
  const payload = `${VERSION}.${kid}.${revToken}.${bucket}.${issuedAtSec}`;
  return `${payload}.${macOf(ring, kid, cookieName, payload)}`;
}

export type StickyRejection =
  | 'missing'
  | 'malformed'
  | 'too-long'
  | 'unknown-key'
  | 'bad-mac'
  | 'expired'
  | 'future'
  | 'revision';

export interface VerifiedSticky {
  readonly ok: true;
  readonly bucket: number;
  readonly issuedAtSec: number;
  readonly kid: string;
}

export type StickyVerdict = VerifiedSticky | { readonly ok: false; readonly reason: StickyRejection };

/** Bound of a verified-value cache; it is cleared when full (a burst of new sessions just re-verifies). */
export const MAX_VERIFIED_CACHE_ENTRIES = 10_000;

export interface StickyCheck {
  readonly ring: CookieKeyRing;
  readonly cookieName: string;
  readonly revisionToken: string;
  readonly maxAgeSeconds: number;
  /**
   * Values whose MAC and revision already verified under this ring, name and token (so one per
   * snapshot): a returning session costs a Map lookup instead of an HMAC. Only signed values enter,
   * so a client cannot fill it with forgeries; lifetimes are still checked on every request.
   */
  readonly verified?: Map<string, VerifiedSticky>;
}

function checkLifetime(v: VerifiedSticky, maxAgeSeconds: number, nowSec: number): StickyVerdict {
  if (v.issuedAtSec > nowSec + MAX_FUTURE_SKEW_SECONDS) return { ok: false, reason: 'future' };
  if (nowSec >= v.issuedAtSec + maxAgeSeconds) return { ok: false, reason: 'expired' };
  return v;
}

/** Verifies one cookie value. Never throws. */
export function verifyStickyValue(check: StickyCheck, value: string, nowSec: number): StickyVerdict {
  if (value.length > MAX_COOKIE_VALUE_LENGTH) return { ok: false, reason: 'too-long' };
  const cache = check.verified;
  const cached = cache?.get(value);
  if (cached !== undefined) return checkLifetime(cached, check.maxAgeSeconds, nowSec);
  const parts = value.split('.');
  if (parts.length !== 6 || parts[0] !== VERSION) return { ok: false, reason: 'malformed' };
  const [, kid, rev, bucketText, issuedText, mac] = parts as [string, string, string, string, string, string];
  if (
    !KID_RE.test(kid) ||
    !REV_RE.test(rev) ||
    !BUCKET_RE.test(bucketText) ||
    !ISSUED_RE.test(issuedText) ||
    mac.length !== MAC_CHARS
  ) {
    return { ok: false, reason: 'malformed' };
  }
  const expected = macOf(check.ring, kid, check.cookieName, value.slice(0, value.length - MAC_CHARS - 1));
  if (expected === null) return { ok: false, reason: 'unknown-key' };
  // Compare the encoded strings: base64url decoding ignores the last character's low bits, so a
  // byte comparison would accept several spellings of one MAC.
  if (!timingSafeEqual(Buffer.from(mac, 'latin1'), Buffer.from(expected, 'latin1'))) {
    return { ok: false, reason: 'bad-mac' };
  }
  const bucket = Number(bucketText);
  if (bucket >= BUCKET_COUNT) return { ok: false, reason: 'malformed' };
  if (rev !== check.revisionToken) return { ok: false, reason: 'revision' };
  const verified: VerifiedSticky = Object.freeze({ ok: true, bucket, issuedAtSec: Number(issuedText), kid });
  if (cache !== undefined) {
    if (cache.size >= MAX_VERIFIED_CACHE_ENTRIES) cache.clear();
    cache.set(value, verified);
  }
  return checkLifetime(verified, check.maxAgeSeconds, nowSec);
}

const MISSING: StickyVerdict = { ok: false, reason: 'missing' };

function isOws(ch: number): boolean {
  return ch === 0x20 || ch === 0x09;
}

/**
 * Finds `name` in a Cookie header (RFC 6265 section 5.4: "name=value" pairs separated by ";") and
 * verifies it. With several cookies of that name (browsers send the most specific path first) the
 * first that verifies wins; otherwise the last rejection is reported.
 */
export function verifyStickyCookie(
  check: StickyCheck,
  cookieHeader: string | undefined,
  nowSec: number,
): StickyVerdict {
  if (cookieHeader === undefined || cookieHeader.length === 0) return MISSING;
  const name = check.cookieName;
  let verdict: StickyVerdict = MISSING;
  let pos = 0;
  const len = cookieHeader.length;
  while (pos < len) {
    let semi = cookieHeader.indexOf(';', pos);
    if (semi < 0) semi = len;
    let s = pos;
    while (s < semi && isOws(cookieHeader.charCodeAt(s))) s++;
    if (
      cookieHeader.startsWith(name, s) &&
      s + name.length < semi &&
      cookieHeader.charCodeAt(s + name.length) === 0x3d /* = */
    ) {
      let vs = s + name.length + 1;
      let ve = semi;
      while (ve > vs && isOws(cookieHeader.charCodeAt(ve - 1))) ve--;
      // RFC 6265 allows a DQUOTE-wrapped value.
      if (ve - vs >= 2 && cookieHeader.charCodeAt(vs) === 0x22 && cookieHeader.charCodeAt(ve - 1) === 0x22) {
        vs++;
        ve--;
      }
      verdict =
        ve - vs > MAX_COOKIE_VALUE_LENGTH
          ? { ok: false, reason: 'too-long' }
          : verifyStickyValue(check, cookieHeader.slice(vs, ve), nowSec);
      if (verdict.ok) return verdict;
    }
    pos = semi + 1;
  }
  return verdict;
}

/** The Set-Cookie header value for a sticky session. */
export function formatStickySetCookie(
  name: string,
  value: string,
  maxAgeSeconds: number,
  secure: boolean,
): string {
  const base = `${name}=${value}; Path=/; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Lax`;
  return secure ? `${base}; Secure` : base;
}
