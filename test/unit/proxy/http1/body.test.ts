// BodyReader, the incremental body framer: Content-Length, chunked and until-close bodies deliver
// exactly their payload, report where the message ended (the next pipelined message starts there),
// and every chunk-syntax violation is a framing error rather than a guess.

import { describe, expect, it } from 'vitest';
import {
  BODY_CHUNKED,
  BODY_LENGTH,
  BODY_NONE,
  BODY_UNTIL_CLOSE,
  BodyReader,
  chunkHeader,
} from '../../../../proxy/http1/body.ts';

interface Fed {
  end: number;
  payload: string;
  reader: BodyReader;
}

function feedAll(mode: number, contentLength: number, input: string, from = 0): Fed {
  const reader = new BodyReader();
  reader.reset(mode, contentLength);
  const buf = Buffer.from(input, 'latin1');
  const parts: Buffer[] = [];
  const end = reader.feed(buf, from, buf.length, { onBodyData: (c) => parts.push(Buffer.from(c)) });
  return { end, payload: Buffer.concat(parts).toString('latin1'), reader };
}

describe('Content-Length bodies', () => {
  it('delivers exactly Content-Length bytes and stops where the next message starts', () => {
    const { end, payload, reader } = feedAll(BODY_LENGTH, 5, 'helloGET / HTTP/1.1\r\n');
    expect(payload).toBe('hello');
    expect(end).toBe(5);
    expect(reader.done).toBe(true);
    expect(reader.received).toBe(5);
  });

  it('stays open until the last byte arrives across several feeds', () => {
    const reader = new BodyReader();
    reader.reset(BODY_LENGTH, 6);
    const parts: string[] = [];
    const sink = { onBodyData: (c: Buffer) => parts.push(c.toString('latin1')) };
    expect(reader.feed(Buffer.from('abc'), 0, 3, sink)).toBe(3);
    expect(reader.done).toBe(false);
    expect(reader.remaining).toBe(3);
    expect(reader.feed(Buffer.from('defXYZ'), 0, 6, sink)).toBe(3);
    expect(reader.done).toBe(true);
    expect(parts.join('')).toBe('abcdef');
  });

  it('is done at once for Content-Length 0 and for no body', () => {
    const zero = new BodyReader();
    zero.reset(BODY_LENGTH, 0);
    expect(zero.done).toBe(true);
    const none = new BodyReader();
    none.reset(BODY_NONE, -1);
    expect(none.done).toBe(true);
    expect(none.feed(Buffer.from('abc'), 1, 3, { onBodyData: () => {} })).toBe(1);
  });

  it('hands the input buffer itself to the sink when the whole buffer is body (no copy)', () => {
    const reader = new BodyReader();
    reader.reset(BODY_LENGTH, 10);
    const buf = Buffer.from('abcd');
    let seen: Buffer | null = null;
    reader.feed(buf, 0, 4, { onBodyData: (c) => (seen = c) });
    expect(seen).toBe(buf);
  });

  it('reports a premature close as not a legitimate end', () => {
    const { reader } = feedAll(BODY_LENGTH, 10, 'abc');
    expect(reader.endOfInput()).toBe(false);
  });
});

describe('until-close bodies', () => {
  it('takes every byte and ends only at end of input', () => {
    const { end, payload, reader } = feedAll(BODY_UNTIL_CLOSE, -1, 'all of it\r\n0\r\n\r\n');
    expect(payload).toBe('all of it\r\n0\r\n\r\n');
    expect(end).toBe(16);
    expect(reader.done).toBe(false);
    expect(reader.endOfInput()).toBe(true);
    expect(reader.done).toBe(true);
  });
});

describe('chunked bodies', () => {
  it('de-chunks data and ends after the last chunk, at the next message', () => {
    const input = '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nNEXT';
    const { end, payload, reader } = feedAll(BODY_CHUNKED, -1, input);
    expect(payload).toBe('hello world');
    expect(end).toBe(input.length - 4);
    expect(reader.done).toBe(true);
    expect(reader.received).toBe(11);
  });

  it('accepts upper- and lower-case hex sizes and leading zeros', () => {
    const data = 'x'.repeat(0x1a);
    expect(feedAll(BODY_CHUNKED, -1, `1A\r\n${data}\r\n0\r\n\r\n`).payload).toBe(data);
    expect(feedAll(BODY_CHUNKED, -1, `001a\r\n${data}\r\n000\r\n\r\n`).payload).toBe(data);
  });

  it('accepts chunk extensions (with BWS before the semicolon) and ignores them', () => {
    const { payload, reader } = feedAll(
      BODY_CHUNKED,
      -1,
      '5;name=value\r\nhello\r\n3 ;q="a b"\r\nabc\r\n0;last\r\n\r\n',
    );
    expect(payload).toBe('helloabc');
    expect(reader.done).toBe(true);
  });

  it('validates and drops trailer fields', () => {
    const input = '3\r\nabc\r\n0\r\nX-Checksum: 1\r\nX-Other: 2\r\n\r\nN';
    const { payload, end, reader } = feedAll(BODY_CHUNKED, -1, input);
    expect(payload).toBe('abc');
    expect(reader.done).toBe(true);
    expect(end).toBe(input.length - 1);
  });

  it('is not a legitimate end when the connection closes mid-chunk', () => {
    const { reader } = feedAll(BODY_CHUNKED, -1, '5\r\nhel');
    expect(reader.done).toBe(false);
    expect(reader.endOfInput()).toBe(false);
  });

  it('counts extension bytes and rejects more than 1 KiB of them', () => {
    expect(feedAll(BODY_CHUNKED, -1, `1;${'e'.repeat(1_000)}\r\na\r\n0\r\n\r\n`).reader.done).toBe(true);
    expect(feedAll(BODY_CHUNKED, -1, `1;${'e'.repeat(1_100)}\r\na\r\n0\r\n\r\n`).end).toBe(-1);
  });

  it('rejects more than 8 KiB of trailers', () => {
    expect(feedAll(BODY_CHUNKED, -1, `0\r\nX-T: ${'t'.repeat(9_000)}\r\n\r\n`).end).toBe(-1);
  });

  it('accepts a 12-digit size but not a 13-digit one', () => {
    const twelve = feedAll(BODY_CHUNKED, -1, '000000000001\r\na\r\n0\r\n\r\n');
    expect(twelve.payload).toBe('a');
    expect(feedAll(BODY_CHUNKED, -1, '0000000000001\r\na\r\n0\r\n\r\n').end).toBe(-1);
  });

  const bad: [string, string][] = [
    ['negative size', '-1\r\na\r\n0\r\n\r\n'],
    ['missing size', '\r\na\r\n0\r\n\r\n'],
    ['0x prefix', '0x1\r\na\r\n0\r\n\r\n'],
    ['trailing junk after the size', '1 junk\r\na\r\n0\r\n\r\n'],
    ['trailing whitespace after the size', '1 \r\na\r\n0\r\n\r\n'],
    ['letter after the size', '1z\r\na\r\n0\r\n\r\n'],
    ['leading whitespace', ' 1\r\na\r\n0\r\n\r\n'],
    ['plus sign', '+1\r\na\r\n0\r\n\r\n'],
    ['data longer than the size', '1\r\nab\r\n0\r\n\r\n'],
    ['data shorter than the size', '3\r\na\r\n0\r\n\r\n'],
    ['bare LF after the size', '1\na\r\n0\r\n\r\n'],
    ['bare CR after the size', '1\ra\r\n0\r\n\r\n'],
    ['bare LF after the data', '1\r\na\n0\r\n\r\n'],
    ['bare CR after the data', '1\r\na\r0\r\n\r\n'],
    ['LF in an extension', '1;a\nb\r\na\r\n0\r\n\r\n'],
    ['NUL in an extension', '1;a\u0000\r\na\r\n0\r\n\r\n'],
    ['bare LF ending the body', '0\r\n\n'],
    ['bare CR ending the body', '0\r\n\rX'],
    ['bare LF ending a trailer', '0\r\nX: a\n\r\n'],
    ['control char in a trailer', '0\r\nX: a\u0001\r\n\r\n'],
  ];
  it.each(bad)('rejects %s', (_name, input) => {
    const { end, reader } = feedAll(BODY_CHUNKED, -1, input);
    expect(end).toBe(-1);
    expect(reader.error).toMatch(/./);
    expect(reader.done).toBe(false);
  });

  it('resets cleanly for the next message on a keep-alive connection', () => {
    const reader = new BodyReader();
    reader.reset(BODY_CHUNKED, -1);
    const sink = { onBodyData: () => {} };
    expect(reader.feed(Buffer.from('zz'), 0, 2, sink)).toBe(-1);
    reader.reset(BODY_CHUNKED, -1);
    expect(reader.error).toBeNull();
    const buf = Buffer.from('2\r\nok\r\n0\r\n\r\n');
    expect(reader.feed(buf, 0, buf.length, sink)).toBe(buf.length);
    expect(reader.done).toBe(true);
  });
});

describe('chunkHeader', () => {
  it('writes the size in lower-case hex followed by CRLF', () => {
    expect(chunkHeader(255)).toBe('ff\r\n');
    expect(chunkHeader(1)).toBe('1\r\n');
  });
});
