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

/**
 * What the proxy does with a field line, decided while scanning: most lines are copied to the other
 * side verbatim as byte ranges of the head (no per-field strings are built for them).
 */
// Deliberately parallel constants: one small integer per field kind, so the scanner switches on ints.
export const FIELD_OTHER = 0;
/** Hop-by-hop (RFC 9110 7.6.1) or framing: never forwarded; the proxy writes its own. */
export const FIELD_DROP = 1;
export const FIELD_HOST = 2;
export const FIELD_COOKIE = 3;
export const FIELD_EXPECT = 4;
export const FIELD_XFF = 5;
export const FIELD_XF_PROTO = 6;
export const FIELD_XF_HOST = 7;
/** Connection / Upgrade: dropped, except on a protocol switch. */
export const FIELD_CONNECTION = 8;
export const FIELD_UPGRADE = 9;
export const FIELD_CONTENT_LENGTH = 10;
export const FIELD_TRANSFER_ENCODING = 11;

const FIELD_KINDS = new Map<string, number>([
  ['host', FIELD_HOST],
  ['cookie', FIELD_COOKIE],
  ['expect', FIELD_EXPECT],
  ['x-forwarded-for', FIELD_XFF],
  ['x-forwarded-proto', FIELD_XF_PROTO],
  ['x-forwarded-host', FIELD_XF_HOST],
  ['connection', FIELD_CONNECTION],
  ['upgrade', FIELD_UPGRADE],
  ['content-length', FIELD_CONTENT_LENGTH],
  ['transfer-encoding', FIELD_TRANSFER_ENCODING],
  ['keep-alive', FIELD_DROP],
  ['proxy-connection', FIELD_DROP],
  ['te', FIELD_DROP],
  ['trailer', FIELD_DROP],
  ['proxy-authenticate', FIELD_DROP],
  ['proxy-authorization', FIELD_DROP],
]);

/** Special names by length, so classifying a name needs no string: compared in place, ASCII-folded. */
const SPECIAL_BY_LENGTH: (readonly [string, number][] | undefined)[] = (() => {
  const t: [string, number][][] = [];
  for (const [name, kind] of FIELD_KINDS) {
    const list = t[name.length] ?? [];
    list.push([name, kind]);
    t[name.length] = list;
  }
  return t;
})();

/** FIELD_* of the name s[start, end), compared case-insensitively without building a string. */
function classifyName(s: string, start: number, end: number): number {
  const candidates = SPECIAL_BY_LENGTH[end - start];
  if (candidates === undefined) return FIELD_OTHER;
  for (let j = 0; j < candidates.length; j++) {
    const [name, kind] = candidates[j]!;
    let k = 0;
    // tchar names fold safely with | 0x20: only letters change case, and the special names are letters and '-'
    while (k < name.length && (s.charCodeAt(start + k) | 0x20) === name.charCodeAt(k)) k++;
    if (k === name.length) return kind;
  }
  return FIELD_OTHER;
}

/**
 * Whether field line i is end-to-end (RFC 9110 7.6.1): not hop-by-hop, not framing (the proxy frames
 * each side itself) and not named in Connection. The one rule every forwarder here applies. Host is
 * always end-to-end: `Connection: close, Host` must not strip it (every upstream request carries one).
 */
export function isEndToEnd(f: Fields, i: number): boolean {
  const k = f.kinds[i];
  if (k === FIELD_HOST) return true;
  return (
    k !== FIELD_DROP &&
    k !== FIELD_CONNECTION &&
    k !== FIELD_UPGRADE &&
    k !== FIELD_CONTENT_LENGTH &&
    k !== FIELD_TRANSFER_ENCODING &&
    !(f.connectionNamesFields && f.listedInConnection(i))
  );
}

/** Connection tokens that name no field to strip. */
const CONNECTION_OPTIONS = new Set(['close', 'keep-alive', 'upgrade']);

/**
 * Field lines in order of appearance, kept as offsets into the head text `source`: per line, the
 * start of the name, the end of the name, and the value's start and end (OWS trimmed).
 */
class Fields {
  source = '';
  /** Offset of the first field line (just after the start line's CRLF). */
  fieldsStart = 0;
  readonly offsets: number[] = [];
  /** FIELD_* per line. */
  readonly kinds: number[] = [];
  contentLength = -1;
  chunked = false;
  hasTransferEncoding = false;
  /** Lower-cased tokens of Connection (close, keep-alive, upgrade and any header names to strip). */
  connectionTokens: readonly string[] | null = null;
  /** Connection names a field to strip (beyond close / keep-alive / upgrade). */
  connectionNamesFields = false;
  upgrade: string | null = null;

  get count(): number {
    return this.kinds.length;
  }

  rawName(i: number): string {
    return this.source.slice(this.offsets[4 * i]!, this.offsets[4 * i + 1]!);
  }

  name(i: number): string {
    return lowerName(this.rawName(i));
  }

  value(i: number): string {
    return this.source.slice(this.offsets[4 * i + 2]!, this.offsets[4 * i + 3]!);
  }

  /** Start of line i, and the start of the line after it (CRLF included). */
  lineStart(i: number): number {
    return this.offsets[4 * i]!;
  }

  lineEnd(i: number): number {
    return i + 1 < this.kinds.length ? this.offsets[4 * (i + 1)]! : this.source.length - 2;
  }

  /** Field names as sent (built on demand; the data path uses offsets). */
  get rawNames(): string[] {
    return this.kinds.map((_, i) => this.rawName(i));
  }

  get names(): string[] {
    return this.kinds.map((_, i) => this.name(i));
  }

  get values(): string[] {
    return this.kinds.map((_, i) => this.value(i));
  }

  /** The first value of a field by lower-case name. */
  get(lowerName: string): string | undefined {
    const n = lowerName.length;
    const o = this.offsets;
    const s = this.source;
    for (let i = 0; i < this.kinds.length; i++) {
      const start = o[4 * i]!;
      if (o[4 * i + 1]! - start !== n) continue;
      let same = true;
      for (let k = 0; k < n; k++) {
        let c = s.charCodeAt(start + k);
        if (c >= 0x41 && c <= 0x5a) c += 0x20;
        if (c !== lowerName.charCodeAt(k)) {
          same = false;
          break;
        }
      }
      if (same) return this.value(i);
    }
    return undefined;
  }

  hasConnectionToken(token: string): boolean {
    return this.connectionTokens?.includes(token) === true;
  }

  /** Whether field i is named by Connection (and so must not be forwarded). */
  listedInConnection(i: number): boolean {
    return this.connectionNamesFields && this.connectionTokens!.includes(this.name(i));
  }
}

export class RequestHead extends Fields {
  readonly kind = 'request' as const;
  method = '';
  /** origin-form path and query ("/a?b"), or "*". */
  target = '';
  /** The target was rewritten (absolute-form): the request line must be rebuilt. */
  targetRewritten = false;
  versionMinor = 1;
  host = '';
  expectContinue = false;
  /** All Cookie lines joined with "; ", or undefined. */
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
  const offsets = f.offsets;
  const kinds = f.kinds;
  f.source = s;
  f.fieldsStart = pos;
  for (;;) {
    if (pos >= end) return fail(badCode(isRequest), 'head ended without an empty line');
    let c = s.charCodeAt(pos);
    if (c === CR) {
      if (pos + 2 === end && s.charCodeAt(pos + 1) === LF) return null;
      return fail(badCode(isRequest), 'bare CR in head');
    }
    if (c === SP || c === HTAB) return fail(badCode(isRequest), 'obs-fold (line folding) is not accepted');
    let i = pos;
    while (i < end && TCHAR[c] === 1) c = s.charCodeAt(++i);
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
    if (kinds.length >= MAX_FIELDS) {
      return fail(
        isRequest ? 'SLUICE_HEADERS_TOO_LARGE' : 'SLUICE_UPSTREAM_BAD_RESPONSE',
        'too many field lines',
      );
    }
    const kind = classifyName(s, pos, nameEnd);
    if (kind >= FIELD_CONNECTION) {
      const err = noteFraming(f, kind, s.slice(vs, ve), isRequest);
      if (err !== null) return err;
    }
    offsets.push(pos, nameEnd, vs, ve);
    kinds.push(kind);
    pos = i + 2;
  }
}

function badCode(isRequest: boolean): ErrorCode {
  return isRequest ? 'SLUICE_BAD_REQUEST' : 'SLUICE_UPSTREAM_BAD_RESPONSE';
}

/** Parses a Content-Length value: digits, or a list of identical digit runs (RFC 9112 6.3); -1 if invalid, -2 if they differ. */
function parseContentLength(value: string): number {
  let result = -1;
  let i = 0;
  const len = value.length;
  for (;;) {
    while (i < len && (value.charCodeAt(i) === SP || value.charCodeAt(i) === HTAB)) i++;
    const start = i;
    let n = 0;
    while (i < len) {
      const d = value.charCodeAt(i) - 0x30;
      if (d < 0 || d > 9) break;
      n = n * 10 + d;
      i++;
    }
    const digits = i - start;
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

function noteFraming(f: Fields, kind: number, value: string, isRequest: boolean): HeadError | null {
  switch (kind) {
    case FIELD_CONTENT_LENGTH: {
      const n = parseContentLength(value);
      if (n === -2 || (n >= 0 && f.contentLength !== -1 && f.contentLength !== n)) {
        return fail(badCode(isRequest), 'differing Content-Length');
      }
      if (n < 0) return fail(badCode(isRequest), 'invalid Content-Length');
      f.contentLength = n;
      return null;
    }
    case FIELD_TRANSFER_ENCODING: {
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
    case FIELD_CONNECTION: {
      // The two values almost every peer sends skip the split.
      const tokens =
        value === 'keep-alive' || value === 'Keep-Alive'
          ? KEEP_ALIVE_TOKENS
          : value === 'close' || value === 'Close'
            ? CLOSE_TOKENS
            : splitTokenList(value);
      f.connectionTokens = f.connectionTokens === null ? tokens : f.connectionTokens.concat(tokens);
      for (const t of tokens) if (!CONNECTION_OPTIONS.has(t)) f.connectionNamesFields = true;
      return null;
    }
    case FIELD_UPGRADE:
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
      head.targetRewritten = true;
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
  const kinds = head.kinds;
  for (let i = 0; i < kinds.length; i++) {
    const k = kinds[i];
    if (k === FIELD_HOST) {
      hosts++;
      head.host = head.value(i);
    } else if (k === FIELD_COOKIE) {
      cookie = cookie === undefined ? head.value(i) : `${cookie}; ${head.value(i)}`;
    } else if (k === FIELD_EXPECT) {
      if (head.value(i).toLowerCase() === '100-continue') head.expectContinue = true;
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
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

export function findHeadEnd(buf: Buffer, from: number): number {
  const i = buf.indexOf(HEAD_END, from);
  if (i >= 0) return i + 4 - from;
  return 0;
}

export const HEAD_INCOMPLETE = 0;
export const HEAD_TOO_LARGE = -1;
export const HEAD_BARE_LF = -2;

/**
 * Where the head starting at buf[from] stands, for the client and the upstream side alike: its length
 * when complete and within maxBytes; HEAD_INCOMPLETE while more bytes may complete it; HEAD_TOO_LARGE
 * past maxBytes; HEAD_BARE_LF when it has a bare LF and so can never end in CRLF CRLF (RFC 9112 2.2:
 * reject it now instead of waiting for the headers deadline).
 */
export function scanHead(buf: Buffer, from: number, maxBytes: number): number {
  const n = findHeadEnd(buf, from);
  if (n === 0) {
    if (buf.length - from > maxBytes) return HEAD_TOO_LARGE;
    return hasBareLf(buf, from) ? HEAD_BARE_LF : HEAD_INCOMPLETE;
  }
  return n > maxBytes ? HEAD_TOO_LARGE : n;
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
