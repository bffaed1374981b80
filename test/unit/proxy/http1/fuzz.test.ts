// Property tests of the HTTP/1.1 framer (fast-check): random bytes and random mutations of valid
// messages never make parseRequestHead, parseResponseHead or BodyReader throw, and a stream of valid
// messages split into arbitrary pieces frames exactly like the unsplit stream. The framing loop below
// follows the data server's (findHeadEnd, bare-LF check on an incomplete head, parse, body reader).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BODY_CHUNKED, BODY_LENGTH, BODY_NONE, BodyReader } from '../../../../proxy/http1/body.ts';
import { findHeadEnd, hasBareLf, parseRequestHead, parseResponseHead } from '../../../../proxy/http1/head.ts';

const RUNS = 1_500;

// --- generators of valid messages -------------------------------------------------------------------

const tokenChar = fc.constantFrom(
  ..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~".split(''),
);
const token = fc.string({ unit: tokenChar, minLength: 1, maxLength: 12 });
const valueChar = fc.constantFrom(...'abc XYZ 019 -_./:;=,"()\t\u00e9'.split(''));
const fieldValue = fc.string({ unit: valueChar, minLength: 0, maxLength: 20 }).map((v) => v.trim());
const pathChar = fc.constantFrom(...'abcxyz019-._~/?=&%'.split(''));
const path = fc.string({ unit: pathChar, maxLength: 20 }).map((p) => `/${p}`);
const reserved = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'expect',
  'connection',
  'upgrade',
  'cookie',
]);
const field = fc.tuple(token, fieldValue).filter(([n]) => !reserved.has(n.toLowerCase()));
const bodyBytes = fc.string({ unit: fc.constantFrom(...'ab\r\n0;x GET /'.split('')), maxLength: 60 });

interface ValidRequest {
  method: string;
  target: string;
  fields: [string, string][];
  body: string;
  framing: 'none' | 'length' | 'chunked';
  /** Chunk sizes used to frame a chunked body (they sum to body.length). */
  chunkSizes: number[];
  ext: boolean;
}

const validRequest: fc.Arbitrary<ValidRequest> = fc
  .record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'X-CUSTOM'),
    target: path,
    fields: fc.array(field, { maxLength: 6 }),
    body: bodyBytes,
    framing: fc.constantFrom('none', 'length', 'chunked'),
    cuts: fc.array(fc.nat({ max: 60 }), { maxLength: 4 }),
    ext: fc.boolean(),
  })
  .map(({ cuts, ...r }) => {
    const body = r.framing === 'none' ? '' : r.body;
    const points = [...new Set(cuts.filter((c) => c > 0 && c < body.length))].sort((a, b) => a - b);
    const chunkSizes: number[] = [];
    let prev = 0;
    for (const p of [...points, body.length]) {
      if (p > prev) chunkSizes.push(p - prev);
      prev = p;
    }
    return { ...r, body, chunkSizes };
  });

function serialize(r: ValidRequest): string {
  let s = `${r.method} ${r.target} HTTP/1.1\r\nHost: fuzz.test\r\n`;
  for (const [n, v] of r.fields) s += `${n}: ${v}\r\n`;
  if (r.framing === 'length') return `${s}Content-Length: ${r.body.length}\r\n\r\n${r.body}`;
  if (r.framing === 'none') return `${s}\r\n`;
  s += 'Transfer-Encoding: chunked\r\n\r\n';
  let pos = 0;
  for (const size of r.chunkSizes) {
    s += `${size.toString(16)}${r.ext ? ';e=1' : ''}\r\n${r.body.slice(pos, pos + size)}\r\n`;
    pos += size;
  }
  return `${s}0\r\n${r.ext ? 'X-Trailer: t\r\n' : ''}\r\n`;
}

// --- a framing loop over a stream of pieces, like the data server's --------------------------------

interface Framed {
  method: string;
  target: string;
  fields: string[];
  body: string;
}

type StreamResult = { messages: Framed[]; error: string | null };

function frameStream(pieces: Buffer[]): StreamResult {
  const messages: Framed[] = [];
  const reader = new BodyReader();
  let pending: Buffer | null = null;
  let current: Framed | null = null;
  const sink = {
    onBodyData: (c: Buffer): void => {
      if (current !== null) current.body += c.toString('latin1');
    },
  };
  for (const piece of pieces) {
    let buf: Buffer = pending === null ? piece : Buffer.concat([pending, piece]);
    pending = null;
    let offset = 0;
    while (offset < buf.length) {
      if (current === null) {
        const n = findHeadEnd(buf, offset);
        if (n === 0) {
          if (hasBareLf(buf, offset)) return { messages, error: 'bare LF' };
          pending = buf.subarray(offset);
          break;
        }
        const head = parseRequestHead(buf.toString('latin1', offset, offset + n));
        offset += n;
        if (head.kind === 'error') return { messages, error: head.code };
        current = {
          method: head.method,
          target: head.target,
          fields: head.names.map((name, i) => `${name}=${head.values[i]}`),
          body: '',
        };
        const mode = head.chunked ? BODY_CHUNKED : head.contentLength > 0 ? BODY_LENGTH : BODY_NONE;
        reader.reset(mode, head.contentLength);
      }
      const end = reader.feed(buf, offset, buf.length, sink);
      if (end < 0) return { messages, error: reader.error };
      offset = end;
      if (reader.done) {
        messages.push(current);
        current = null;
      }
    }
    buf = Buffer.alloc(0);
  }
  return { messages, error: current === null && pending === null ? null : 'incomplete' };
}

function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out.filter((b) => b.length > 0);
}

// --- mutations -----------------------------------------------------------------------------------

const INTERESTING = [0x00, 0x09, 0x0a, 0x0d, 0x20, 0x2c, 0x3a, 0x3b, 0x7f, 0x80, 0xff, 0x30, 0x66];
const mutation = fc.record({
  kind: fc.constantFrom('flip', 'insert', 'delete', 'duplicate'),
  at: fc.nat(),
  byte: fc.oneof(fc.constantFrom(...INTERESTING), fc.integer({ min: 0, max: 255 })),
});

function mutate(input: Buffer, mutations: { kind: string; at: number; byte: number }[]): Buffer {
  let b = Buffer.from(input);
  for (const m of mutations) {
    const at = b.length === 0 ? 0 : m.at % b.length;
    if (m.kind === 'flip' && b.length > 0) b[at] = m.byte;
    else if (m.kind === 'insert')
      b = Buffer.concat([b.subarray(0, at), Buffer.from([m.byte]), b.subarray(at)]);
    else if (m.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
    else b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + 8), b.subarray(at)]);
  }
  return b;
}

const VALID_RESPONSE = Buffer.from(
  'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n',
  'latin1',
);

describe('the framer never throws', () => {
  it('parseRequestHead on arbitrary latin1 text', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const s = Buffer.from(bytes).toString('latin1');
        const r = parseRequestHead(s);
        expect(['request', 'error']).toContain(r.kind);
        const r2 = parseRequestHead(`GET / HTTP/1.1\r\n${s}\r\n\r\n`);
        expect(['request', 'error']).toContain(r2.kind);
      }),
      { numRuns: RUNS },
    );
  });

  it('parseResponseHead on arbitrary latin1 text', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const s = Buffer.from(bytes).toString('latin1');
        expect(['response', 'error']).toContain(parseResponseHead(s).kind);
        expect(['response', 'error']).toContain(parseResponseHead(`HTTP/1.1 200 OK\r\n${s}\r\n\r\n`).kind);
      }),
      { numRuns: RUNS },
    );
  });

  it('the request framing loop on mutated valid streams, in arbitrary pieces', () => {
    fc.assert(
      fc.property(
        fc.array(validRequest, { minLength: 1, maxLength: 3 }),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (requests, mutations, cuts) => {
          const stream = mutate(Buffer.from(requests.map(serialize).join(''), 'latin1'), mutations);
          const result = frameStream(splitAt(stream, cuts));
          expect(result.messages.length).toBeLessThanOrEqual(requests.length + 8);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('parseResponseHead and a chunked BodyReader on mutated valid responses', () => {
    fc.assert(
      fc.property(
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (mutations, cuts) => {
          const bytes = mutate(VALID_RESPONSE, mutations);
          const n = findHeadEnd(bytes, 0);
          if (n > 0) parseResponseHead(bytes.toString('latin1', 0, n));
          else hasBareLf(bytes, 0);
          const reader = new BodyReader();
          reader.reset(BODY_CHUNKED, -1);
          let delivered = 0;
          for (const piece of splitAt(bytes.subarray(n), cuts)) {
            const end = reader.feed(piece, 0, piece.length, { onBodyData: (c) => (delivered += c.length) });
            if (end < 0) {
              expect(reader.error).not.toBeNull();
              break;
            }
            expect(end).toBeGreaterThanOrEqual(0);
            expect(end).toBeLessThanOrEqual(piece.length);
            if (reader.done) break;
          }
          expect(delivered).toBe(reader.received);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('BodyReader in every mode on random bytes fed in random pieces', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.constantFrom(BODY_LENGTH, BODY_CHUNKED),
        fc.nat({ max: 400 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (bytes, mode, length, cuts) => {
          const reader = new BodyReader();
          reader.reset(mode, length);
          for (const piece of splitAt(Buffer.from(bytes), cuts)) {
            const end = reader.feed(piece, 0, piece.length, { onBodyData: () => {} });
            if (end < 0 || reader.done) break;
            expect(end).toBe(piece.length);
          }
          if (mode === BODY_LENGTH) expect(reader.received).toBe(Math.min(length, bytes.length));
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('a valid stream frames identically however it is split', () => {
  it('pipelined valid requests: the same heads, bodies and end in any pieces', () => {
    fc.assert(
      fc.property(
        fc.array(validRequest, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (requests, cuts) => {
          const stream = Buffer.from(requests.map(serialize).join(''), 'latin1');
          const whole = frameStream([stream]);
          expect(whole.error).toBeNull();
          expect(whole.messages.map((m) => m.body)).toEqual(requests.map((r) => r.body));
          expect(whole.messages.map((m) => m.target)).toEqual(requests.map((r) => r.target));
          const split = frameStream(splitAt(stream, cuts));
          expect(split).toEqual(whole);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('byte by byte', () => {
    fc.assert(
      fc.property(fc.array(validRequest, { minLength: 1, maxLength: 2 }), (requests) => {
        const stream = Buffer.from(requests.map(serialize).join(''), 'latin1');
        const bytes: Buffer[] = [];
        for (let i = 0; i < stream.length; i++) bytes.push(stream.subarray(i, i + 1));
        expect(frameStream(bytes)).toEqual(frameStream([stream]));
      }),
      { numRuns: 300 },
    );
  });
});
