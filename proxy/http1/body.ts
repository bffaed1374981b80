// Incremental message-body framing (RFC 9112 section 6 and 7.1): by Content-Length, chunked, or
// until the connection closes. The reader hands payload bytes to a sink as slices of the input (no
// copies) and reports where the message ended, so the next message on a keep-alive connection starts
// at that offset. Chunk syntax is strict: hex sizes only, CRLF only, bounded extensions and trailers.
// Trailer fields are validated and dropped (they are not forwarded).

import { CR, FIELD_VALUE_CHAR, HEX_VALUE, LF } from './syntax.ts';

export const BODY_NONE = 0;
export const BODY_LENGTH = 1;
export const BODY_CHUNKED = 2;
export const BODY_UNTIL_CLOSE = 3;

const S_SIZE = 0;
const S_EXT = 1;
const S_SIZE_LF = 2;
const S_DATA = 3;
const S_DATA_CR = 4;
const S_DATA_LF = 5;
const S_TRAILER_START = 6;
const S_TRAILER = 7;
const S_TRAILER_LF = 8;
const S_END_LF = 9;
const S_SIZE_WS = 10;

const MAX_SIZE_DIGITS = 12; // 2^48 bytes: far beyond any body, still exact in a double
const MAX_EXTENSION_BYTES = 1024;
const MAX_TRAILER_BYTES = 8192;

export interface BodySink {
  onBodyData(chunk: Buffer): void;
}

export class BodyReader {
  mode = BODY_NONE;
  /** Bytes left in the body (length mode) or in the current chunk (chunked mode). */
  remaining = 0;
  done = true;
  error: string | null = null;
  /** Payload bytes delivered so far. */
  received = 0;
  private state = S_SIZE;
  private digits = 0;
  private sideBytes = 0;

  reset(mode: number, contentLength: number): void {
    this.mode = mode;
    this.received = 0;
    this.error = null;
    this.state = S_SIZE;
    this.digits = 0;
    this.sideBytes = 0;
    this.remaining = mode === BODY_LENGTH ? contentLength : 0;
    this.done = mode === BODY_NONE || (mode === BODY_LENGTH && contentLength === 0);
  }

  /**
   * Consumes buf[start, end). Returns the offset where this message's body ended (done becomes true),
   * `end` when all input was body, or -1 on a framing error (see `error`).
   */
  feed(buf: Buffer, start: number, end: number, sink: BodySink): number {
    if (this.done) return start;
    switch (this.mode) {
      case BODY_LENGTH: {
        const n = Math.min(this.remaining, end - start);
        if (n > 0) {
          this.remaining -= n;
          this.received += n;
          sink.onBodyData(start === 0 && n === buf.length ? buf : buf.subarray(start, start + n));
        }
        if (this.remaining === 0) this.done = true;
        return start + n;
      }
      case BODY_UNTIL_CLOSE:
        if (end > start) {
          this.received += end - start;
          sink.onBodyData(start === 0 && end === buf.length ? buf : buf.subarray(start, end));
        }
        return end;
      case BODY_CHUNKED:
        return this.feedChunked(buf, start, end, sink);
      default:
        this.done = true;
        return start;
    }
  }

  /** The connection closed: true when that legitimately ends the body. */
  endOfInput(): boolean {
    if (this.mode === BODY_UNTIL_CLOSE) this.done = true;
    return this.done;
  }

  private feedChunked(buf: Buffer, start: number, end: number, sink: BodySink): number {
    let i = start;
    while (i < end) {
      const c = buf[i]!;
      // Deliberately parallel cases: the RFC 9112 7.1 chunked grammar as a byte-at-a-time state machine,
      // one case per state (the CR/LF states differ only in their error text), with no call per byte.
      switch (this.state) {
        case S_SIZE: {
          const v = HEX_VALUE[c]!;
          if (v !== 255) {
            if (++this.digits > MAX_SIZE_DIGITS) return this.fail('chunk size too large');
            this.remaining = this.remaining * 16 + v;
            i++;
          } else if (this.digits === 0) {
            return this.fail('invalid chunk size');
          } else if (c === CR) {
            this.state = S_SIZE_LF;
            i++;
          } else if (c === 0x3b) {
            this.state = S_EXT;
            this.sideBytes = 0;
            i++;
          } else if (c === 0x20 || c === 0x09) {
            this.state = S_SIZE_WS;
            this.sideBytes = 0;
            i++;
          } else {
            return this.fail('invalid chunk size');
          }
          break;
        }
        case S_SIZE_WS:
          // BWS after the size may only lead to an extension (RFC 9112 7.1.1): "5 junk" and "5 " are
          // rejected, not read as 5, so no peer in front of us can frame them differently.
          if (c === 0x3b) this.state = S_EXT;
          else if ((c !== 0x20 && c !== 0x09) || ++this.sideBytes > MAX_EXTENSION_BYTES)
            return this.fail('invalid chunk size');
          i++;
          break;
        case S_EXT:
          if (c === CR) {
            this.state = S_SIZE_LF;
          } else if (FIELD_VALUE_CHAR[c] === 0 || ++this.sideBytes > MAX_EXTENSION_BYTES) {
            return this.fail('invalid or oversized chunk extension');
          }
          i++;
          break;
        case S_SIZE_LF:
          if (c !== LF) return this.fail('bare CR after chunk size');
          i++;
          if (this.remaining === 0) {
            this.state = S_TRAILER_START;
            this.sideBytes = 0;
          } else {
            this.state = S_DATA;
          }
          break;
        case S_DATA: {
          const n = Math.min(this.remaining, end - i);
          sink.onBodyData(buf.subarray(i, i + n));
          this.received += n;
          this.remaining -= n;
          i += n;
          if (this.remaining === 0) this.state = S_DATA_CR;
          break;
        }
        case S_DATA_CR:
          if (c !== CR) return this.fail('chunk data longer than its size');
          this.state = S_DATA_LF;
          i++;
          break;
        case S_DATA_LF:
          if (c !== LF) return this.fail('bare CR after chunk data');
          this.state = S_SIZE;
          this.digits = 0;
          i++;
          break;
        case S_TRAILER_START:
          if (c === CR) {
            this.state = S_END_LF;
            i++;
          } else {
            this.state = S_TRAILER;
          }
          break;
        case S_TRAILER:
          if (c === CR) {
            this.state = S_TRAILER_LF;
          } else if (FIELD_VALUE_CHAR[c] === 0 || ++this.sideBytes > MAX_TRAILER_BYTES) {
            return this.fail('invalid or oversized trailer');
          }
          i++;
          break;
        case S_TRAILER_LF:
          if (c !== LF) return this.fail('bare CR in trailer');
          this.state = S_TRAILER_START;
          i++;
          break;
        case S_END_LF:
          if (c !== LF) return this.fail('bare CR at end of chunked body');
          this.done = true;
          return i + 1;
      }
    }
    return i;
  }

  private fail(detail: string): number {
    this.error = detail;
    return -1;
  }
}

const CRLF = Buffer.from('\r\n', 'latin1');
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');

/** Chunked framing of one data chunk: size line, then the data, then CRLF (three writes, no copy). */
export function chunkHeader(length: number): string {
  return `${length.toString(16)}\r\n`;
}
export { CRLF, LAST_CHUNK };
