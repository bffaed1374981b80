// The strict RFC 9112 head parser, directly: every malformed request and response of the shared tables
// is rejected with its catalogued code, and valid heads parse into the fields the data path relies on.

import { describe, expect, it } from 'vitest';
import { BODY_CHUNKED, BodyReader } from '../../../../proxy/http1/body.ts';
import {
  findHeadEnd,
  type HeadError,
  hasBareLf,
  parseRequestHead,
  parseResponseHead,
  type RequestHead,
  type ResponseHead,
} from '../../../../proxy/http1/head.ts';
import { MALFORMED_REQUESTS, MALFORMED_RESPONSES } from '../../../fixtures/raw-peers.ts';

/** Frames the head the way the data server does: up to CRLF CRLF, or a bare LF before it. */
function frameRequest(raw: string): RequestHead | HeadError {
  const buf = Buffer.from(raw, 'latin1');
  const n = findHeadEnd(buf, 0);
  if (n === 0) {
    if (hasBareLf(buf, 0)) return { kind: 'error', code: 'SLUICE_BAD_REQUEST', detail: 'bare LF' };
    throw new Error('incomplete head in a test row');
  }
  return parseRequestHead(buf.toString('latin1', 0, n));
}

function frameResponse(raw: string): ResponseHead | HeadError {
  const buf = Buffer.from(raw, 'latin1');
  const n = findHeadEnd(buf, 0);
  if (n === 0) {
    if (hasBareLf(buf, 0)) return { kind: 'error', code: 'SLUICE_UPSTREAM_BAD_RESPONSE', detail: 'bare LF' };
    throw new Error('incomplete head in a test row');
  }
  return parseResponseHead(buf.toString('latin1', 0, n));
}

function request(raw: string): RequestHead {
  const head = parseRequestHead(raw);
  if (head.kind === 'error') throw new Error(`expected a valid head, got ${head.code}: ${head.detail}`);
  return head;
}

function response(raw: string): ResponseHead {
  const head = parseResponseHead(raw);
  if (head.kind === 'error') throw new Error(`expected a valid head, got ${head.code}: ${head.detail}`);
  return head;
}

describe('parseRequestHead rejects every malformed request head of the table', () => {
  const rows = MALFORMED_REQUESTS.filter((r) => r.level === 'head');
  it.each(rows.map((r) => [r.name, r] as const))('%s', (_name, row) => {
    const parsed = frameRequest(row.raw);
    expect(parsed.kind).toBe('error');
    if (parsed.kind === 'error') expect(parsed.code).toBe(row.code);
  });
});

describe('heads of malformed chunked bodies are valid: the body framer must catch them', () => {
  const rows = MALFORMED_REQUESTS.filter((r) => r.level === 'body');
  it.each(rows.map((r) => [r.name, r] as const))('%s', (_name, row) => {
    const buf = Buffer.from(row.raw, 'latin1');
    const n = findHeadEnd(buf, 0);
    const head = request(buf.toString('latin1', 0, n));
    expect(head.chunked).toBe(true);
    const reader = new BodyReader();
    reader.reset(BODY_CHUNKED, -1);
    const delivered: Buffer[] = [];
    const end = reader.feed(buf, n, buf.length, { onBodyData: (c) => delivered.push(Buffer.from(c)) });
    expect(end).toBe(-1);
    expect(reader.error).not.toBeNull();
    expect(Buffer.concat(delivered).toString('latin1')).not.toContain('/smuggled');
  });
});

describe('parseResponseHead rejects every malformed response head of the table', () => {
  it.each(MALFORMED_RESPONSES.map((r) => [r.name, r] as const))('%s', (_name, row) => {
    const parsed = frameResponse(row.raw);
    expect(parsed.kind).toBe('error');
    if (parsed.kind === 'error') expect(parsed.code).toBe(row.code);
  });
});

describe('parseRequestHead accepts valid heads', () => {
  it('parses method, origin-form target, version, Host and fields in order', () => {
    const h = request(
      'GET /a/b?c=d HTTP/1.1\r\nHost: shop.example.com:8080\r\nX-Thing:  spaced value \t\r\n\r\n',
    );
    expect(h.method).toBe('GET');
    expect(h.target).toBe('/a/b?c=d');
    expect(h.versionMinor).toBe(1);
    expect(h.host).toBe('shop.example.com:8080');
    expect(h.rawNames).toEqual(['Host', 'X-Thing']);
    expect(h.get('x-thing')).toBe('spaced value');
    expect(h.contentLength).toBe(-1);
    expect(h.chunked).toBe(false);
  });

  it('accepts HTTP/1.0 without Host', () => {
    const h = request('GET / HTTP/1.0\r\n\r\n');
    expect(h.versionMinor).toBe(0);
    expect(h.host).toBe('');
  });

  it('accepts a list of identical Content-Length values (RFC 9112 6.3)', () => {
    expect(
      request('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n')
        .contentLength,
    ).toBe(5);
  });

  it('reads Transfer-Encoding case-insensitively and over several lines ending in chunked', () => {
    expect(request('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n').chunked).toBe(true);
  });

  it('turns an absolute-form target whose authority matches Host into origin-form', () => {
    expect(request('GET http://H.test/x?y HTTP/1.1\r\nHost: h.test\r\n\r\n').target).toBe('/x?y');
    expect(request('GET http://h.test HTTP/1.1\r\nHost: h.test\r\n\r\n').target).toBe('/');
  });

  it('keeps the query of an absolute-form target without a path', () => {
    expect(request('GET http://h.test?q=1 HTTP/1.1\r\nHost: h.test\r\n\r\n').target).toBe('/?q=1');
  });

  it('accepts OPTIONS * (asterisk-form)', () => {
    expect(request('OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n').target).toBe('*');
  });

  it('accepts every tchar in a method and a field name', () => {
    const h = request("M!#$%&'*+-.^_`|~9 / HTTP/1.1\r\nHost: h\r\nX!#$%&'*+-.^_`|~: v\r\n\r\n");
    expect(h.method).toBe("M!#$%&'*+-.^_`|~9");
    expect(h.get("x!#$%&'*+-.^_`|~")).toBe('v');
  });

  it('accepts obs-text (bytes 0x80-0xff) and HTAB inside a value', () => {
    expect(request('GET / HTTP/1.1\r\nHost: h\r\nX-A: caf\u00e9\tb\r\n\r\n').get('x-a')).toBe('caf\u00e9\tb');
  });

  it('notes Expect: 100-continue in any case', () => {
    expect(
      request('PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n')
        .expectContinue,
    ).toBe(true);
  });

  it('joins several Cookie lines and collects Connection tokens', () => {
    const h = request(
      'GET / HTTP/1.1\r\nHost: h\r\nCookie: a=1\r\nConnection: keep-alive, X-Secret\r\nCookie: b=2\r\n\r\n',
    );
    expect(h.cookie).toBe('a=1; b=2');
    expect(h.hasConnectionToken('x-secret')).toBe(true);
    expect(h.hasConnectionToken('close')).toBe(false);
  });

  it('accepts exactly 100 field lines', () => {
    const fields = 'X-F: v\r\n'.repeat(99);
    expect(request(`GET / HTTP/1.1\r\nHost: h\r\n${fields}\r\n`).names.length).toBe(100);
  });

  it('accepts IPv6 and port in Host', () => {
    expect(request('GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n').host).toBe('[::1]:8080');
  });
});

describe('parseResponseHead accepts valid heads', () => {
  it('parses status, reason and framing fields', () => {
    const h = response('HTTP/1.1 404 Not Found\r\nContent-Length: 12\r\nX-A: b\r\n\r\n');
    expect(h.status).toBe(404);
    expect(h.reason).toBe('Not Found');
    expect(h.contentLength).toBe(12);
  });

  it('accepts an empty reason phrase, with or without the space', () => {
    expect(response('HTTP/1.1 200 \r\n\r\n').status).toBe(200);
    expect(response('HTTP/1.1 204\r\n\r\n').status).toBe(204);
  });

  it('accepts HTTP/1.0 and notes keep-alive', () => {
    const h = response('HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n');
    expect(h.versionMinor).toBe(0);
    expect(h.hasConnectionToken('keep-alive')).toBe(true);
  });

  it('accepts interim 1xx and the full 100..599 range', () => {
    expect(response('HTTP/1.1 100 Continue\r\n\r\n').status).toBe(100);
    expect(response('HTTP/1.1 599 X\r\n\r\n').status).toBe(599);
  });

  it('accepts chunked and a non-chunked coding (read until close)', () => {
    expect(response('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n').chunked).toBe(true);
    const gz = response('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n');
    expect(gz.chunked).toBe(false);
    expect(gz.hasTransferEncoding).toBe(true);
  });
});

describe('findHeadEnd and hasBareLf', () => {
  it('finds the end of the head from an offset, and 0 while incomplete', () => {
    const buf = Buffer.from('xxGET / HTTP/1.1\r\nHost: h\r\n\r\nbody', 'latin1');
    expect(findHeadEnd(buf, 2)).toBe(buf.length - 2 - 4);
    expect(findHeadEnd(Buffer.from('GET / HTTP/1.1\r\nHost: h\r\n', 'latin1'), 0)).toBe(0);
  });

  it('flags an LF without CR, including at the very start, but not CRLF', () => {
    expect(hasBareLf(Buffer.from('GET / HTTP/1.1\r\nHost: h\r\n', 'latin1'), 0)).toBe(false);
    expect(hasBareLf(Buffer.from('GET / HTTP/1.1\nHost', 'latin1'), 0)).toBe(true);
    expect(hasBareLf(Buffer.from('\r\nGET\n', 'latin1'), 2)).toBe(true);
    expect(hasBareLf(Buffer.from('a\r\nGET', 'latin1'), 3)).toBe(false);
  });
});
