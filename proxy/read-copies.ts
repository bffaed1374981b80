// Bytes read into a shared read buffer (client sockets: proxy/shared-read.ts; upstream sockets:
// proxy/upstream/pool.ts) are copied out before the next read overwrites them. Small reads land in
// Node's 8 KiB Buffer pool; a large one is its own allocation, freed only when V8 collects its Buffer.
// A proxy forwarding bodies allocates almost nothing else on the V8 heap, so collections come late: V8
// starts one on its own only after 64 MiB of external memory (measured: 64 MiB of dead ArrayBuffers at
// the peak of 64 concurrent 1 MiB uploads, then a malloc heap too fragmented to shrink). Every
// SCAVENGE_EVERY_BYTES of large copies this runs one scavenge, which frees the copies already written
// (they died young); a 2 MiB young generation takes well under a millisecond to scavenge, against the
// 8 MiB of forwarding that earns one (16 MiB measured a 10% higher peak RSS under 64 uploads).

import { v8Gc } from './idle-gc.ts';

/**
 * The one read buffer of every socket that reads through `onread` in this process: a read is copied out
 * before its callback returns, and callbacks never nest, so one buffer serves them all.
 */
export const SHARED_READ_BUFFER = Buffer.allocUnsafe(65_536);

/** Reads up to this size are copied into Node's Buffer pool (Buffer.poolSize >>> 1), not counted. */
const POOLED_COPY_MAX_BYTES = 4_096;
export const SCAVENGE_EVERY_BYTES = 8 * 1024 * 1024;

let largeCopiedBytes = 0;

/** A copy of buf[0, nread) that the caller owns. */
export function copyRead(buf: Uint8Array, nread: number): Buffer {
  const chunk = Buffer.allocUnsafe(nread);
  chunk.set(nread === buf.length ? buf : buf.subarray(0, nread));
  if (nread > POOLED_COPY_MAX_BYTES) {
    largeCopiedBytes += nread;
    if (largeCopiedBytes >= SCAVENGE_EVERY_BYTES) {
      largeCopiedBytes = 0;
      v8Gc()({ type: 'minor' });
    }
  }
  return chunk;
}
