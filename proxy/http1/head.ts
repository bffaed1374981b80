// Strict RFC 9112 parsing of message heads (start line + field lines), for client requests and
// upstream responses. Input is the head as a latin1 string ending in CRLF CRLF; output is a typed
// head or a HeadError naming what was wrong. Strict means: reject what RFC 9112 says to reject and
// whatever enables smuggling: bare CR or LF, obs-fold, whitespace before the colon, invalid token or
// value characters, Content-Length together with Transfer-Encoding, differing Content-Length values,
// transfer codings other than a final "chunked", missing or duplicate Host.

import type { ErrorCode } from '../errors.ts';
import { CR, FIELD_VALUE_CHAR, HTAB, isToken, LF, SP, splitTokenList, TARGET_CHAR, TCHAR } from './syntax.ts';

export interface HeadError {
  readonly kind: 'error';
  readonly code: ErrorCode;
  readonly detail: string;
}

function fail(code: ErrorCode, detail: string): HeadError {
  return { kind: 'error', code, detail };
}

/** Field lines in order of appearance; names as sent and lower-cased. */
class Fields {
  rawNames: string[] = [];
  names: string[] = [];
  values: string[] = [];
  contentLength = -1;
  chunked = false;
  hasTransferEncoding = false;
  /** Lower-cased tokens of Connection (close, keep-alive, upgrade and any header names to strip). */
  connectionTokens: readonly string[] | null = null;
  upgrade: string | null = null;

  get(lowerName: string): string | undefined {
    const names = this.names;
    for (let i = 0; i < names.length; i++) if (names[i] === lowerName) return this.values[i];
    return undefined;
  }

  hasConnectionToken(token: string): boolean {
    return this.connectionTokens?.includes(token) === true;
  }
}

export class RequestHead extends Fields {
  readonly kind = 'request' as const;
  method = '';
  /** origin-form path and query ("/a?b"), or "*". */
  target = '';
  versionMinor = 1;
  host = '';
  expectContinue = false;
  /** Index of the cookie header, -1 when absent (several Cookie lines are joined). */
  cookie: string | undefined = undefined;
}

export class ResponseHead extends Fields {
  readonly kind = 'response' as const;
  versionMinor = 1;
  status = 0;
  reason = '';
}

const MAX_FIELDS = 100;
const MAX_CONTENT_LENGTH_DIGITS = 15;

/** Token characters of field names: 1 = tchar, 2 = upper-case letter (the name needs lower-casing). */
const NAME_CHAR = (() => {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = TCHAR[c]!;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = 2;
  return t;
})();

/** Lower-case forms of the mixed-case field names seen so far ("Content-Type"), bounded. */
const lowerNames = new Map<string, string>();
const MAX_LOWER_NAMES = 512;

function lowerName(raw: string): string {
  let lower = lowerNames.get(raw);
  if (lower === undefined) {
    lower = raw.toLowerCase();
    if (lowerNames.size < MAX_LOWER_NAMES) lowerNames.set(raw, lower);
  }
  return lower;
}

/**
 * Parses field lines from s[pos...]; s ends with the empty line. One pass per line: the name is
 * checked against tchar up to the colon (so whitespace before the colon fails), the value against
 * field-vchar up to CR, which must be followed by LF. Returns null or the error.
 */
function parseFields(s: string, pos: number, f: Fields, isRequest: boolean): HeadError | null {
  const end = s.length;
  let count = 0;
  for (;;) {
    if (pos >= end) return fail(badCode(isRequest), 'head ended without an empty line');
    let c = s.charCodeAt(pos);
    if (c === CR) {
      if (pos + 2 === end && s.charCodeAt(pos + 1) === LF) return null;
      return fail(badCode(isRequest), 'bare CR in head');
    }
    if (c === SP || c === HTAB) return fail(badCode(isRequest), 'obs-fold (line folding) is not accepted');
    let i = pos;
    let upper = false;
    for (;;) {
      const t = NAME_CHAR[c]!;
      if (t === 0 || i >= end) break;
      if (t === 2) upper = true;
      c = s.charCodeAt(++i);
    }
    if (i === pos || c !== 0x3a /* : */) {
      return fail(
        badCode(isRequest),
        i < end && c === CR ? 'field line without a colon' : 'invalid field name',
      );
    }
    const nameEnd = i;
    i++;
    c = s.charCodeAt(i);
    while (c === SP || c === HTAB) c = s.charCodeAt(++i);
    const vs = i;
    let ve = i;
    while (c !== CR) {
      if (i >= end || FIELD_VALUE_CHAR[c] === 0)
        return fail(badCode(isRequest), 'invalid character in field value');
      if (c !== SP && c !== HTAB) ve = i + 1;
      c = s.charCodeAt(++i);
    }
    if (s.charCodeAt(i + 1) !== LF) return fail(badCode(isRequest), 'bare CR in field line');
    if (++count > MAX_FIELDS) {
      return fail(
        isRequest ? 'SLUICE_HEADERS_TOO_LARGE' : 'SLUICE_UPSTREAM_BAD_RESPONSE',
        'too many field lines',
      );
    }
    const rawName = s.slice(pos, nameEnd);
    const name = upper ? lowerName(rawName) : rawName;
    const value = s.slice(vs, ve);
    f.rawNames.push(rawName);
    f.names.push(name);
    f.values.push(value);
    const n = name.length;
    if (n === 14 || n === 17 || n === 10 || n === 7) {
      const err = noteSpecial(f, name, value, isRequest);
      if (err !== null) return err;
    }
    pos = i + 2;
  }
}

function badCode(isRequest: boolean): ErrorCode {
  return isRequest ? 'SLUICE_BAD_REQUEST' : 'SLUICE_UPSTREAM_BAD_RESPONSE';
}

/** Parses a Content-Length value: digits, or a list of identical digit runs (RFC 9112 6.3); -1 if invalid. */
function parseContentLength(value: string): number {
  let result = -1;
  let n = 0;
  let digits = 0;
  let i = 0;
  const len = value.length;
  for (;;) {
    while (i < len && (value.charCodeAt(i) === SP || value.charCodeAt(i) === HTAB)) i++;
    const start = i;
    n = 0;
    while (i < len) {
      const d = value.charCodeAt(i) - 0x30;
      if (d < 0 || d > 9) break;
      n = n * 10 + d;
      i++;
    }
    digits = i - start;
    if (digits === 0 || digits > MAX_CONTENT_LENGTH_DIGITS) return -1;
    if (result !== -1 && result !== n) return -2;
    result = n;
    while (i < len && (value.charCodeAt(i) === SP || value.charCodeAt(i) === HTAB)) i++;
    if (i === len) return result;
    if (value.charCodeAt(i) !== 0x2c /* , */) return -1;
    i++;
  }
}

const KEEP_ALIVE_TOKENS: readonly string[] = Object.freeze(['keep-alive']);
const CLOSE_TOKENS: readonly string[] = Object.freeze(['close']);

function noteSpecial(f: Fields, name: string, value: string, isRequest: boolean): HeadError | null {
  switch (name) {
    case 'content-length': {
      const n = parseContentLength(value);
      if (n === -2 || (n >= 0 && f.contentLength !== -1 && f.contentLength !== n)) {
        return fail(badCode(isRequest), 'differing Content-Length');
      }
      if (n < 0) return fail(badCode(isRequest), 'invalid Content-Length');
      f.contentLength = n;
      return null;
    }
    case 'transfer-encoding': {
      f.hasTransferEncoding = true;
      const codings = splitTokenList(value);
      // Only the final coding may be "chunked"; a later line appends codings (RFC 9112 6.1).
      for (const coding of codings) {
        if (f.chunked) return fail(badCode(isRequest), 'transfer coding after chunked');
        if (coding === 'chunked') f.chunked = true;
        else if (isRequest) return fail('SLUICE_NOT_IMPLEMENTED', `unsupported transfer coding "${coding}"`);
        else f.chunked = false;
      }
      return null;
    }
    case 'connection': {
      // The two values almost every peer sends skip the split.
      const tokens =
        value === 'keep-alive' || value === 'Keep-Alive'
          ? KEEP_ALIVE_TOKENS
          : value === 'close' || value === 'Close'
            ? CLOSE_TOKENS
            : splitTokenList(value);
      f.connectionTokens = f.connectionTokens === null ? tokens : f.connectionTokens.concat(tokens);
      return null;
    }
    case 'upgrade':
      f.upgrade = value;
      return null;
    default:
      return null;
  }
}

function parseVersion(s: string, at: number): number {
  // "HTTP/1.1" or "HTTP/1.0"; anything else is -1 (malformed) or -2 (another major version).
  if (s.charCodeAt(at) !== 0x48 || !s.startsWith('HTTP/', at)) return -1;
  const major = s.charCodeAt(at + 5);
  if (s.charCodeAt(at + 6) !== 0x2e) return -1;
  const minor = s.charCodeAt(at + 7) - 0x30;
  if (major < 0x30 || major > 0x39 || minor < 0 || minor > 9) return -1;
  if (major !== 0x31 || minor > 1) return -2;
  return minor;
}

/** Parses a request head. `s` is the latin1 text of the head including the final CRLF CRLF. */
export function parseRequestHead(s: string): RequestHead | HeadError {
  const sp1 = s.indexOf(' ');
  const lineEnd = s.indexOf('\r\n');
  if (sp1 <= 0 || lineEnd < 0 || sp1 > lineEnd) return fail('SLUICE_BAD_REQUEST', 'malformed request line');
  if (!isToken(s, 0, sp1)) return fail('SLUICE_BAD_REQUEST', 'invalid method');
  // CONNECT is refused in every target form, not only authority-form: an origin-form CONNECT would
  // otherwise be forwarded and could open a tunnel at a backend that honours it.
  if (sp1 === 7 && s.startsWith('CONNECT'))
    return fail('SLUICE_METHOD_NOT_ALLOWED', 'CONNECT is not supported');
  const sp2 = s.indexOf(' ', sp1 + 1);
  if (sp2 < 0 || sp2 > lineEnd || lineEnd - sp2 !== 9)
    return fail('SLUICE_BAD_REQUEST', 'malformed request line');
  for (let i = sp1 + 1; i < sp2; i++) {
    if (TARGET_CHAR[s.charCodeAt(i)] !== 1)
      return fail('SLUICE_BAD_REQUEST', 'invalid character in request target');
  }
  if (sp2 === sp1 + 1) return fail('SLUICE_BAD_REQUEST', 'empty request target');
  const minor = parseVersion(s, sp2 + 1);
  if (minor === -2) return fail('SLUICE_HTTP_VERSION', 'unsupported HTTP version');
  if (minor < 0) return fail('SLUICE_BAD_REQUEST', 'malformed HTTP version');

  const head = new RequestHead();
  head.method = s.slice(0, sp1);
  head.versionMinor = minor;
  let target = s.slice(sp1 + 1, sp2);
  let targetAuthority: string | null = null;
  const t0 = target.charCodeAt(0);
  if (t0 !== 0x2f) {
    if (target === '*' && head.method === 'OPTIONS') {
      // asterisk-form (RFC 9112 3.2.4)
    } else if (/^https?:\/\//i.test(target)) {
      // absolute-form (RFC 9112 3.2.2): forwarded in origin-form; its authority must agree with Host.
      const authStart = target.indexOf('//') + 2;
      // the authority ends at the path or, without a path, at the query (RFC 3986 3.2)
      let pathStart = authStart;
      while (pathStart < target.length) {
        const c = target.charCodeAt(pathStart);
        if (c === 0x2f || c === 0x3f) break;
        pathStart++;
      }
      targetAuthority = target.slice(authStart, pathStart).toLowerCase();
      target = pathStart === target.length ? '/' : target.slice(pathStart);
      if (target.charCodeAt(0) === 0x3f) target = `/${target}`;
    } else {
      return fail('SLUICE_BAD_REQUEST', 'request target must be in origin-form');
    }
  }
  head.target = target;

  const err = parseFields(s, lineEnd + 2, head, true);
  if (err !== null) return err;

  // Host: exactly one for HTTP/1.1 (RFC 9112 3.2); several are a smuggling vector.
  let hosts = 0;
  let cookie: string | undefined;
  const names = head.names;
  for (let i = 0; i < names.length; i++) {
    const n = names[i];
    if (n === 'host') {
      hosts++;
      head.host = head.values[i]!;
    } else if (n === 'cookie') {
      cookie = cookie === undefined ? head.values[i] : `${cookie}; ${head.values[i]}`;
    } else if (n === 'expect') {
      if (head.values[i]!.toLowerCase() === '100-continue') head.expectContinue = true;
      else return fail('SLUICE_EXPECTATION_FAILED', 'unsupported expectation');
    }
  }
  if (hosts > 1) return fail('SLUICE_BAD_REQUEST', 'more than one Host header');
  if (hosts === 0 && minor === 1) return fail('SLUICE_BAD_REQUEST', 'missing Host header');
  if (!validHost(head.host)) return fail('SLUICE_BAD_REQUEST', 'invalid Host header');
  if (targetAuthority !== null && targetAuthority !== head.host.toLowerCase()) {
    return fail('SLUICE_BAD_REQUEST', 'absolute-form target differs from Host');
  }
  head.cookie = cookie;
  if (head.hasTransferEncoding) {
    if (head.contentLength !== -1)
      return fail('SLUICE_BAD_REQUEST', 'both Content-Length and Transfer-Encoding');
    if (minor === 0) return fail('SLUICE_BAD_REQUEST', 'Transfer-Encoding in an HTTP/1.0 request');
    if (!head.chunked) return fail('SLUICE_BAD_REQUEST', 'final transfer coding is not chunked');
  }
  return head;
}

/** reg-name, IPv4 or [IPv6], optional port: no userinfo, no path, no whitespace. */
function validHost(h: string): boolean {
  for (let i = 0; i < h.length; i++) {
    const c = h.charCodeAt(i);
    const ok =
      (c >= 0x61 && c <= 0x7a) ||
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x30 && c <= 0x39) ||
      c === 0x2e ||
      c === 0x2d ||
      c === 0x3a ||
      c === 0x5b ||
      c === 0x5d ||
      c === 0x5f;
    if (!ok) return false;
  }
  return true;
}

/** Parses an upstream response head. `s` is the latin1 text including the final CRLF CRLF. */
export function parseResponseHead(s: string): ResponseHead | HeadError {
  const lineEnd = s.indexOf('\r\n');
  if (lineEnd < 12) return fail('SLUICE_UPSTREAM_BAD_RESPONSE', 'malformed status line');
  const minor = parseVersion(s, 0);
  if (minor < 0) return fail('SLUICE_UPSTREAM_BAD_RESPONSE', 'malformed status line version');
  if (s.charCodeAt(8) !== SP) return fail('SLUICE_UPSTREAM_BAD_RESPONSE', 'malformed status line');
  const d0 = s.charCodeAt(9) - 0x30;
  const d1 = s.charCodeAt(10) - 0x30;
  const d2 = s.charCodeAt(11) - 0x30;
  if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) {
    return fail('SLUICE_UPSTREAM_BAD_RESPONSE', 'invalid status code');
  }
  const head = new ResponseHead();
  head.versionMinor = minor;
  head.status = d0 * 100 + d1 * 10 + d2;
  if (lineEnd > 12) {
    if (s.charCodeAt(12) !== SP) return fail('SLUICE_UPSTREAM_BAD_RESPONSE', 'malformed status line');
    for (let i = 13; i < lineEnd; i++) {
      if (FIELD_VALUE_CHAR[s.charCodeAt(i)] === 0) {
        return fail('SLUICE_UPSTREAM_BAD_RESPONSE', 'invalid character in reason phrase');
      }
    }
    head.reason = s.slice(13, lineEnd);
  }
  const err = parseFields(s, lineEnd + 2, head, false);
  if (err !== null) return err;
  if (head.hasTransferEncoding && head.contentLength !== -1) {
    return fail('SLUICE_UPSTREAM_BAD_RESPONSE', 'both Content-Length and Transfer-Encoding');
  }
  return head;
}

/** Length of the head in buf[from..] including CRLF CRLF, 0 when incomplete, -1 on a bare LF. */
export function findHeadEnd(buf: Buffer, from: number): number {
  const i = buf.indexOf('\r\n\r\n', from, 'latin1');
  if (i >= 0) return i + 4 - from;
  return 0;
}

/** True when buf[from..] contains an LF that is not preceded by CR (RFC 9112 2.2: reject). */
export function hasBareLf(buf: Buffer, from: number): boolean {
  let i = buf.indexOf(LF, from);
  while (i >= 0) {
    if (i === from || buf[i - 1] !== CR) return true;
    i = buf.indexOf(LF, i + 1);
  }
  return false;
}
