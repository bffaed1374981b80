// HMAC keys for sticky-session cookies. The first key signs; every key verifies, so a rotation is:
// add the new key second, roll out, move it first, roll out, drop the old one once its cookies have
// expired (Max-Age is bounded). Key ids travel in the cookie, so they are short and cookie-safe.
// A key file holds one `id:base64secret` per line; blank lines and `#` comments are ignored.

import { createSecretKey, type KeyObject, randomBytes } from 'node:crypto';

export interface CookieKey {
  readonly id: string;
  readonly key: KeyObject;
}

export interface CookieKeyRing {
  /** The key new cookies are signed with (the first one given). */
  readonly signing: CookieKey;
  /** Every key, signing key first. */
  readonly keys: readonly CookieKey[];
  /** The key with this id, or undefined. */
  get(id: string): CookieKey | undefined;
}

export const MIN_SECRET_BYTES = 16;
const KEY_ID_RE = /^[A-Za-z0-9_-]{1,32}$/;
const BASE64_RE = /^(?:[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+)$/;

export type KeyRingResult = { ok: true; ring: CookieKeyRing } | { ok: false; message: string };

function checkKeys(keys: readonly { id: string; secret: Buffer }[]): string | null {
  if (keys.length === 0) return 'at least one key is required';
  const seen = new Set<string>();
  for (const k of keys) {
    if (!KEY_ID_RE.test(k.id)) return `key id "${k.id}" must be 1-32 characters of A-Z a-z 0-9 _ -`;
    if (seen.has(k.id)) return `duplicate key id "${k.id}"`;
    seen.add(k.id);
    if (k.secret.length < MIN_SECRET_BYTES) {
      return `key "${k.id}" secret must be at least ${MIN_SECRET_BYTES} bytes (got ${k.secret.length})`;
    }
  }
  return null;
}

function ringOf(keys: readonly { id: string; secret: Buffer }[]): CookieKeyRing {
  const list: CookieKey[] = keys.map((k) => ({ id: k.id, key: createSecretKey(Buffer.from(k.secret)) }));
  const byId = new Map(list.map((k) => [k.id, k]));
  return { signing: list[0]!, keys: list, get: (id) => byId.get(id) };
}

/** Builds a ring from keys (first signs). Throws TypeError on invalid keys: a startup-time programming error. */
export function createKeyRing(keys: readonly { id: string; secret: Buffer }[]): CookieKeyRing {
  const problem = checkKeys(keys);
  if (problem !== null) throw new TypeError(`cookie key ring: ${problem}`);
  return ringOf(keys);
}

/** Parses a key file of `id:base64secret` lines; the message names the line on error. */
export function parseKeyRing(text: string): KeyRingResult {
  const keys: { id: string; secret: Buffer }[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon < 0) return { ok: false, message: `line ${i + 1}: expected "id:base64secret"` };
    const id = line.slice(0, colon).trim();
    const encoded = line.slice(colon + 1).trim();
    if (!KEY_ID_RE.test(id)) {
      return {
        ok: false,
        message: `line ${i + 1}: key id "${id}" must be 1-32 characters of A-Z a-z 0-9 _ -`,
      };
    }
    if (!BASE64_RE.test(encoded)) {
      return { ok: false, message: `line ${i + 1}: secret of key "${id}" is not base64` };
    }
    const secret = Buffer.from(
      encoded,
      encoded.includes('-') || encoded.includes('_') ? 'base64url' : 'base64',
    );
    keys.push({ id, secret });
    const problem = checkKeys(keys);
    if (problem !== null) return { ok: false, message: `line ${i + 1}: ${problem}` };
  }
  if (keys.length === 0) return { ok: false, message: 'no keys found (expected "id:base64secret" lines)' };
  return { ok: true, ring: ringOf(keys) };
}

/**
 * A single random 256-bit key, for a proxy started without a key file. Cookies then verify only in
 * this process and re-draw after a restart (buckets stay fair, stickiness across restarts is lost).
 */
export function randomKeyRing(): CookieKeyRing {
  return ringOf([{ id: `r${randomBytes(4).toString('hex')}`, secret: randomBytes(32) }]);
}
