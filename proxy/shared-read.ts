// Client sockets of the plain data port read into one shared buffer (issue 15), as upstream sockets
// already do through net.connect's `onread`. Node reads every other socket into a fresh 64 KiB malloc'd
// buffer, shrinks it to the bytes read and wraps it in a Buffer that lives until the next garbage
// collection: per read a malloc, a realloc and an ArrayBuffer, and under uploads or a churn of aborted
// requests tens of MiB of dead buffers waiting for V8 (measured: 64 MiB of ArrayBuffers at the peak of
// 64 concurrent 1 MiB uploads) and a fragmented malloc heap after them (RSS held at +50 MiB).
//
// net.Server has no `onread` for the sockets it accepts, so the accepted socket (created paused, with
// pauseOnConnect) gives its handle to a new net.Socket that has one: Node's documented `onread` path,
// reached through the undocumented `handle` option and `_handle` field, which Node's own net.Server
// uses. The first socket keeps its place in the server's connection count (maxConnections, close())
// until the adopted one closes. `sharedReadAvailable` checks the shape once; a Node without it fails
// the proxy's unit test (test/unit/proxy/shared-read.test.ts) instead of silently reading the old way.
//
// The bytes handed to the callback are copied out (proxy/read-copies.ts): the caller may keep them (a
// partial head, a queued body chunk) after the callback returns, while the next read overwrites the
// shared buffer.

import { Socket } from 'node:net';
import { copyRead, SHARED_READ_BUFFER } from './read-copies.ts';

interface HandleHolder {
  _handle: { useUserBuffer?: unknown; readStart?: unknown } | null;
}

/** Whether this Node lets an accepted socket be adopted (net.Socket with `_handle` and useUserBuffer). */
export function sharedReadAvailable(raw: Socket): boolean {
  const handle = (raw as unknown as HandleHolder)._handle;
  return (
    handle !== null &&
    typeof handle === 'object' &&
    typeof handle.useUserBuffer === 'function' &&
    typeof handle.readStart === 'function'
  );
}

/**
 * Moves the handle of `raw` (accepted paused, not yet read) to a new socket that reads into the shared
 * buffer and calls onChunk with a copy of each read. `raw` stays, handle-less, until the new socket
 * closes, so the server's connection count holds it. Returns undefined when this Node cannot adopt.
 */
export function adoptWithSharedRead(raw: Socket, onChunk: (chunk: Buffer) => void): Socket | undefined {
  if (!sharedReadAvailable(raw)) return undefined;
  const holder = raw as unknown as HandleHolder;
  const handle = holder._handle;
  holder._handle = null;
  const socket = new Socket({
    handle,
    readable: true,
    writable: true,
    onread: {
      buffer: SHARED_READ_BUFFER,
      callback: (nread: number, buf: Uint8Array): boolean => {
        onChunk(copyRead(buf, nread));
        return true;
      },
    },
  } as unknown as ConstructorParameters<typeof Socket>[0]);
  socket.once('close', () => raw.destroy());
  return socket;
}
