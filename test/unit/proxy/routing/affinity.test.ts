import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RoutesConfig } from '../../../../proxy/config.ts';
import { MAX_VERIFIED_CACHE_ENTRIES, verifyStickyCookie } from '../../../../proxy/routing/affinity.ts';
import { type CookieKeyRing, createKeyRing } from '../../../../proxy/routing/key-ring.ts';
import { pickBackend } from '../../../../proxy/routing/pick.ts';
import { buildSnapshot } from '../../../../proxy/routing/snapshot.ts';
import type { BackendPick, CompiledRoute } from '../../../../proxy/routing/snapshot-types.ts';
import { validateRoutesConfig } from '../../../../proxy/routing/validate.ts';

const T0_MS = Date.UTC(2026, 0, 1);
const OLD = { id: 'k2025', secret: Buffer.alloc(32, 1) };
const NEW = { id: 'k2026', secret: Buffer.alloc(32, 2) };
const RING = createKeyRing([OLD]);

/** Deterministic uniform [0, 1) (mulberry32). */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface RouteOptions {
  canaryWeight: number;
  canaryRevision?: string;
  keys?: CookieKeyRing;
  maxAgeSeconds?: number;
  seed?: number;
}

function stickyRoute(o: RouteOptions): CompiledRoute<string> {
  const input = {
    routes: [
      {
        name: 'checkout',
        stickySessions: { cookie: 'sluice-checkout', maxAgeSeconds: o.maxAgeSeconds ?? 3600 },
        headerRoutes: [{ name: 'beta', match: [{ header: 'x-beta', exact: 'true' }], backend: 'canary' }],
        backends: [
          {
            name: 'stable',
            revision: 'rev-stable',
            address: 'http://127.0.0.1:9001',
            weight: 100 - o.canaryWeight,
          },
          {
            name: 'canary',
            revision: o.canaryRevision ?? 'rev-canary',
            address: 'http://127.0.0.1:9002',
            weight: o.canaryWeight,
          },
        ],
      },
    ],
  };
  const v = validateRoutesConfig(input);
  if (!v.ok) throw new Error(JSON.stringify(v.errors));
  const config: RoutesConfig = v.config;
  const snap = buildSnapshot(config, 1, {
    upstreamFor: (a) => a,
    outstanding: () => 0,
    series: (labels) => ({ labels, record() {} }),
    keys: o.keys ?? RING,
    defaultTimeouts: { connectMs: 1000, responseHeadersMs: 1000, idleBodyMs: 1000 },
    random: seeded(o.seed ?? 1),
  });
  return snap.routes[0]!;
}

function cookieLookup(cookie: string | undefined, extra: Record<string, string> = {}) {
  return (name: string): string | undefined => (name === 'cookie' ? cookie : extra[name]);
}

function backendOf(p: BackendPick<string>): string {
  if (p.kind !== 'backend') throw new Error('no backend picked');
  return p.backend.name;
}

/** "name=value" part of a Set-Cookie. */
function cookieOf(p: BackendPick<string>): string {
  if (p.kind !== 'backend' || p.setCookie === null) throw new Error('expected a Set-Cookie');
  return p.setCookie.split(';')[0]!;
}

function newSessions(
  route: CompiledRoute<string>,
  n: number,
  nowMs = T0_MS,
): { cookie: string; side: string }[] {
  const out = [];
  for (let i = 0; i < n; i++) {
    const p = pickBackend(route, cookieLookup(undefined), false, nowMs);
    out.push({ cookie: cookieOf(p), side: backendOf(p) });
  }
  return out;
}

function bucketOf(cookie: string): number {
  return Number(cookie.split('=')[1]!.split('.')[3]);
}

describe('sticky sessions', () => {
  it('issues a signed, HttpOnly, SameSite=Lax cookie with bounded Max-Age, Secure behind TLS', () => {
    const route = stickyRoute({ canaryWeight: 10, maxAgeSeconds: 600 });
    const plain = pickBackend(route, cookieLookup(undefined), false, T0_MS);
    const tls = pickBackend(route, cookieLookup(undefined), true, T0_MS);
    expect(plain.kind === 'backend' && plain.setCookie).toMatch(
      /^sluice-checkout=v1\.k2025\.[A-Za-z0-9_-]+\.\d{1,4}\.\d+\.[A-Za-z0-9_-]{22}; Path=\/; Max-Age=600; HttpOnly; SameSite=Lax$/,
    );
    expect(tls.kind === 'backend' && tls.setCookie).toMatch(/; HttpOnly; SameSite=Lax; Secure$/);
  });

  it('keeps a session on its backend without re-setting the cookie', () => {
    const route = stickyRoute({ canaryWeight: 50 });
    for (const s of newSessions(route, 200)) {
      const again = pickBackend(route, cookieLookup(s.cookie), false, T0_MS + 60_000);
      expect(backendOf(again)).toBe(s.side);
      expect(again.kind === 'backend' && again.setCookie).toBeNull();
      expect(again.kind === 'backend' && again.via).toBe('sticky');
    }
  });

  it('places 10,000 new sessions with the exact weight', () => {
    for (const weight of [1, 10, 33.33, 50]) {
      const route = stickyRoute({ canaryWeight: weight });
      const sessions = newSessions(route, 10_000);
      const canary = sessions.filter((s) => s.side === 'canary').length;
      expect(Math.abs(canary - weight * 100)).toBeLessThanOrEqual(1);
      // Each bucket lies inside its side's range, so the session stays there.
      for (const s of sessions) expect(bucketOf(s.cookie) < weight * 100).toBe(s.side === 'canary');
    }
  });

  it('only moves sessions from stable to canary as the weight rises, and keeps the share within 1 point', () => {
    const sessions = newSessions(stickyRoute({ canaryWeight: 5 }), 10_000);
    let previous = sessions.map((s) => s.side);
    for (const weight of [5, 10, 25, 50, 75, 100]) {
      const route = stickyRoute({ canaryWeight: weight });
      const sides = sessions.map((s) => {
        const p = pickBackend(route, cookieLookup(s.cookie), false, T0_MS + 1000);
        expect(p.kind === 'backend' && p.setCookie).toBeNull(); // same revision: no re-draw
        return backendOf(p);
      });
      sides.forEach((side, i) => {
        if (previous[i] === 'canary') expect(side).toBe('canary');
      });
      const share = (100 * sides.filter((s) => s === 'canary').length) / sides.length;
      expect(Math.abs(share - weight)).toBeLessThanOrEqual(1);
      previous = sides;
    }
  });

  it('sends every session to stable on its next request when the canary weight drops to 0 (abort)', () => {
    const sessions = newSessions(stickyRoute({ canaryWeight: 50 }), 1_000);
    expect(sessions.some((s) => s.side === 'canary')).toBe(true);
    const aborted = stickyRoute({ canaryWeight: 0 });
    for (const s of sessions)
      expect(backendOf(pickBackend(aborted, cookieLookup(s.cookie), false, T0_MS))).toBe('stable');
    for (const s of newSessions(aborted, 100)) expect(s.side).toBe('stable');
  });

  it('re-draws every session when a new canary revision is released', () => {
    const sessions = newSessions(stickyRoute({ canaryWeight: 20 }), 500);
    const release = stickyRoute({ canaryWeight: 20, canaryRevision: 'rev-next' });
    const redrawn = sessions.map((s) => pickBackend(release, cookieLookup(s.cookie), false, T0_MS));
    for (const p of redrawn) expect(p.kind === 'backend' && p.setCookie).not.toBeNull();
    expect(redrawn.filter((p) => backendOf(p) === 'canary').length).toBe(100);
  });

  describe('a cookie that cannot be trusted is replaced, never an error', () => {
    const route = stickyRoute({ canaryWeight: 10 });
    const good = cookieOf(pickBackend(route, cookieLookup(undefined), false, T0_MS));
    const [name, value] = good.split('=') as [string, string];
    const fields = value.split('.');
    const withField = (i: number, f: (s: string) => string) =>
      `${name}=${fields.map((x, j) => (j === i ? f(x) : x)).join('.')}`;
    const flip = (s: string, at = 0) => s.slice(0, at) + (s[at] === 'A' ? 'B' : 'A') + s.slice(at + 1);

    it.each<[string, string, string]>([
      ['flipped MAC character', withField(5, (m) => flip(m)), 'bad-mac'],
      ['flipped last MAC character', withField(5, (m) => flip(m, m.length - 1)), 'bad-mac'],
      ['changed bucket', withField(3, (b) => String((Number(b) + 1) % 10_000)), 'bad-mac'],
      ['bucket out of range', withField(3, () => '10000'), 'malformed'],
      ['changed revision token', withField(2, (r) => flip(r)), 'bad-mac'],
      ['changed issuedAt', withField(4, (t) => String(Number(t) + 1)), 'bad-mac'],
      ['unknown key id', withField(1, () => 'nokey'), 'unknown-key'],
      ['wrong version', withField(0, () => 'v2'), 'malformed'],
      ['garbage', `${name}=%%%garbage`, 'malformed'],
      ['empty value', `${name}=`, 'malformed'],
      ['very long value', `${name}=${'A'.repeat(100_000)}`, 'too-long'],
      ['no cookie of that name', 'other=1; sluice-checkoutx=2', 'missing'],
    ])('%s', (_name, cookieHeader, reason) => {
      const verdict = verifyStickyCookie(route.sticky!, cookieHeader, Math.floor(T0_MS / 1000));
      expect(verdict).toEqual({ ok: false, reason });
      const p = pickBackend(route, cookieLookup(cookieHeader), false, T0_MS);
      expect(p.kind).toBe('backend');
      expect(p.kind === 'backend' && p.setCookie).toMatch(/^sluice-checkout=v1\./);
    });

    it('accepts the untampered cookie, quoted or surrounded by others', () => {
      const now = Math.floor(T0_MS / 1000);
      expect(verifyStickyCookie(route.sticky!, good, now).ok).toBe(true);
      expect(verifyStickyCookie(route.sticky!, `a=1;  ${name}="${value}" ; b=2`, now).ok).toBe(true);
    });

    it('uses the first valid one of duplicate cookies', () => {
      const bad = withField(5, (m) => flip(m));
      const p = pickBackend(route, cookieLookup(`${bad}; ${good}`), false, T0_MS);
      expect(p.kind === 'backend' && p.setCookie).toBeNull();
      const twoBad = pickBackend(route, cookieLookup(`${bad}; ${bad}`), false, T0_MS);
      expect(twoBad.kind === 'backend' && twoBad.setCookie).not.toBeNull();
    });

    it('rejects an expired cookie and one issued in the future', () => {
      const issuedSec = Math.floor(T0_MS / 1000);
      expect(verifyStickyCookie(route.sticky!, good, issuedSec + 3600)).toEqual({
        ok: false,
        reason: 'expired',
      });
      expect(verifyStickyCookie(route.sticky!, good, issuedSec - 3600)).toEqual({
        ok: false,
        reason: 'future',
      });
      const p = pickBackend(route, cookieLookup(good), false, T0_MS + 3_600_000);
      expect(p.kind === 'backend' && p.setCookie).not.toBeNull();
    });

    it('never throws on arbitrary Cookie headers', () => {
      fc.assert(
        fc.property(fc.string({ maxLength: 400 }), fc.string({ maxLength: 60 }), (junk, tail) => {
          for (const header of [
            junk,
            `${name}=${junk}`,
            `${good.slice(0, 40)}${tail}`,
            `${name}=v1.${junk}.${tail}`,
          ]) {
            const p = pickBackend(route, cookieLookup(header), true, T0_MS);
            if (p.kind !== 'backend') return false;
          }
          return true;
        }),
        { seed: 11, numRuns: 300 },
      );
    });
  });

  it('refreshes a cookie with the same bucket when less than a quarter of its lifetime remains', () => {
    const route = stickyRoute({ canaryWeight: 30, maxAgeSeconds: 1000 });
    const first = pickBackend(route, cookieLookup(undefined), false, T0_MS);
    const cookie = cookieOf(first);
    const early = pickBackend(route, cookieLookup(cookie), false, T0_MS + 700_000);
    expect(early.kind === 'backend' && early.setCookie).toBeNull();
    const late = pickBackend(route, cookieLookup(cookie), false, T0_MS + 800_000);
    const refreshed = cookieOf(late);
    expect(bucketOf(refreshed)).toBe(bucketOf(cookie));
    expect(backendOf(late)).toBe(backendOf(first));
    // The refreshed cookie is valid for another full lifetime.
    const afterOriginalExpiry = pickBackend(route, cookieLookup(refreshed), false, T0_MS + 1_500_000);
    expect(afterOriginalExpiry.kind === 'backend' && afterOriginalExpiry.setCookie).toBeNull();
  });

  it('verifies cookies of a rotated-out signing key and re-signs them with the new key, same bucket', () => {
    const before = stickyRoute({ canaryWeight: 40, keys: createKeyRing([OLD]) });
    const sessions = newSessions(before, 50);
    const rotated = stickyRoute({ canaryWeight: 40, keys: createKeyRing([NEW, OLD]) });
    for (const s of sessions) {
      const p = pickBackend(rotated, cookieLookup(s.cookie), false, T0_MS + 1000);
      expect(backendOf(p)).toBe(s.side);
      const resigned = cookieOf(p);
      expect(resigned).toContain('.k2026.');
      expect(bucketOf(resigned)).toBe(bucketOf(s.cookie));
    }
    const dropped = stickyRoute({ canaryWeight: 40, keys: createKeyRing([NEW]) });
    const verdict = verifyStickyCookie(dropped.sticky!, sessions[0]!.cookie, Math.floor(T0_MS / 1000));
    expect(verdict).toEqual({ ok: false, reason: 'unknown-key' });
  });

  it('does not accept a cookie signed for another cookie name', () => {
    const route = stickyRoute({ canaryWeight: 40 });
    const value = cookieOf(pickBackend(route, cookieLookup(undefined), false, T0_MS)).split('=')[1]!;
    const other = { ...route.sticky!, cookieName: 'other', verified: new Map() };
    expect(verifyStickyCookie(other, `other=${value}`, Math.floor(T0_MS / 1000))).toEqual({
      ok: false,
      reason: 'bad-mac',
    });
  });

  it('remembers verified cookies per snapshot, boundedly, and still expires them', () => {
    const route = stickyRoute({ canaryWeight: 50, maxAgeSeconds: 100 });
    const sessions = newSessions(route, 300);
    for (const s of sessions) pickBackend(route, cookieLookup(s.cookie), false, T0_MS);
    // Sessions drawn in the same second with the same bucket share one value.
    expect(route.sticky!.verified.size).toBe(new Set(sessions.map((s) => s.cookie)).size);
    const late = pickBackend(route, cookieLookup(sessions[0]!.cookie), false, T0_MS + 100_000);
    expect(late.kind === 'backend' && late.setCookie).not.toBeNull();
    for (let i = 0; i < MAX_VERIFIED_CACHE_ENTRIES; i++)
      route.sticky!.verified.set(`filler${i}`, { ok: true, bucket: 0, issuedAtSec: 0, kid: 'x' });
    const fresh = newSessions(route, 1, T0_MS + 5_000)[0]!.cookie;
    pickBackend(route, cookieLookup(fresh), false, T0_MS + 5_000);
    expect(route.sticky!.verified.size).toBeLessThanOrEqual(MAX_VERIFIED_CACHE_ENTRIES);
    expect(route.sticky!.verified.has(fresh.split('=')[1]!)).toBe(true);
  });

  it('lets header routes take precedence over sticky cookies', () => {
    const route = stickyRoute({ canaryWeight: 0 });
    const p = pickBackend(route, cookieLookup(undefined, { 'x-beta': 'true' }), false, T0_MS);
    expect(p).toMatchObject({ kind: 'backend', via: 'header', setCookie: null, backend: { name: 'canary' } });
  });
});
