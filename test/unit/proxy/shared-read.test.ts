import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { copyRead, SCAVENGE_EVERY_BYTES } from '../../../proxy/read-copies.ts';
import { adoptWithSharedRead, sharedReadAvailable } from '../../../proxy/shared-read.ts';

let server: Server | null = null;
const clients: Socket[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  if (server !== null) {
    const s = server;
    server = null;
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

/** A paused-on-connect server whose sockets are adopted; resolves each adopted socket with its reads. */
async function adoptingServer(): Promise<{
  port: number;
  accepted: Promise<{ raw: Socket; socket: Socket; chunks: Buffer[] }>;
}> {
  let resolveAccepted!: (v: { raw: Socket; socket: Socket; chunks: Buffer[] }) => void;
  const accepted = new Promise<{ raw: Socket; socket: Socket; chunks: Buffer[] }>((r) => {
    resolveAccepted = r;
  });
  server = createServer({ pauseOnConnect: true }, (raw) => {
    expect(sharedReadAvailable(raw)).toBe(true);
    const chunks: Buffer[] = [];
    const socket = adoptWithSharedRead(raw, (chunk) => chunks.push(chunk));
    expect(socket).toBeDefined();
    resolveAccepted({ raw, socket: socket!, chunks });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { port: address.port, accepted };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
}

describe('client sockets reading into the shared buffer (proxy/shared-read.ts)', () => {
  it('adopts an accepted socket on this Node: reads arrive through the callback, each an intact copy', async () => {
    const { port, accepted } = await adoptingServer();
    const client = connect(port, '127.0.0.1');
    clients.push(client);
    const { socket, chunks } = await accepted;
    client.write('first read');
    await until(() => chunks.length === 1);
    client.write('second, longer read that overwrites the shared buffer');
    await until(() => Buffer.concat(chunks).length === 'first read'.length + 53);
    // the first chunk was not overwritten by the second read
    expect(chunks[0]!.toString()).toBe('first read');
    expect(Buffer.concat(chunks.slice(1)).toString()).toBe(
      'second, longer read that overwrites the shared buffer',
    );
    // it is a full socket: writes, end and close work
    socket.write('pong');
    const [reply] = (await once(client, 'data')) as [Buffer];
    expect(reply.toString()).toBe('pong');
  });

  it('pause stops reading at the kernel and resume delivers what waited', async () => {
    const { port, accepted } = await adoptingServer();
    const client = connect(port, '127.0.0.1');
    clients.push(client);
    const { socket, chunks } = await accepted;
    socket.pause();
    client.write('held while paused');
    await new Promise((r) => setTimeout(r, 50));
    expect(chunks).toHaveLength(0);
    socket.resume();
    await until(() => chunks.length > 0);
    expect(Buffer.concat(chunks).toString()).toBe('held while paused');
  });

  it('keeps the connection in the server count until the adopted socket closes, and sees the FIN', async () => {
    const { port, accepted } = await adoptingServer();
    const client = connect(port, '127.0.0.1');
    clients.push(client);
    const { socket } = await accepted;
    const count = (): Promise<number> =>
      new Promise((resolve, reject) => server!.getConnections((e, n) => (e ? reject(e) : resolve(n))));
    expect(await count()).toBe(1);
    const ended = once(socket, 'end');
    client.end();
    await ended;
    await once(socket, 'close');
    await until(() => (server as unknown as { _connections: number })._connections === 0);
    expect(await count()).toBe(0);
  });
});

describe('copyRead', () => {
  it('returns a copy of the bytes read that later reads into the same buffer do not change', () => {
    const shared = Buffer.from('abcdefgh');
    const small = copyRead(shared, 3);
    const large = copyRead(Buffer.alloc(SCAVENGE_EVERY_BYTES / 1024, 7), SCAVENGE_EVERY_BYTES / 1024);
    shared.fill(0);
    expect(small.toString()).toBe('abc');
    expect(large.every((b) => b === 7)).toBe(true);
    expect(large.length).toBe(SCAVENGE_EVERY_BYTES / 1024);
  });

  it('runs past its scavenge budget without failing (the collection is V8 gc, enabled at run time)', () => {
    const read = Buffer.alloc(65_536, 1);
    let total = 0;
    for (let i = 0; i <= SCAVENGE_EVERY_BYTES / read.length + 1; i++)
      total += copyRead(read, read.length).length;
    expect(total).toBeGreaterThan(SCAVENGE_EVERY_BYTES);
  });
});
