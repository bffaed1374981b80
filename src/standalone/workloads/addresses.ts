// Pod addresses on this machine. On Linux the whole 127.0.0.0/8 block is loopback, so every pod gets its
// own address (127.0.0.2, 127.0.0.3, ...) and can listen on its declared containerPort, as in a cluster.
// Where binding 127.0.0.x (x != 1) fails (macOS without aliases, some sandboxes), every pod shares
// 127.0.0.1 and gets its own free port instead ("shared" mode); the Endpoints then name those ports.

import { createServer } from 'node:net';

export type AddressMode = 'loopback' | 'shared';

export const SHARED_ADDRESS = '127.0.0.1';
const FIRST_INDEX = 2;
/** 127.0.0.2 .. 127.255.255.254 */
const LAST_INDEX = 0xffffff - 1;

function listenOnce(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : port;
      server.close(() => resolve(bound));
    });
  });
}

/** Whether this machine lets a process listen on 127.0.0.x addresses other than 127.0.0.1. */
export async function detectAddressMode(): Promise<AddressMode> {
  try {
    await listenOnce('127.0.0.2', 0);
    return 'loopback';
  } catch {
    return 'shared';
  }
}

/**
 * A port free on every interface now (a process told PORT may listen on all of them): `preferred` (the
 * port a pod had before a restart) when it is, else any.
 */
export async function freePort(preferred?: number): Promise<number> {
  const on = (port: number) => listenOnce('::', port).catch(() => listenOnce('0.0.0.0', port));
  if (preferred !== undefined && preferred > 0) {
    try {
      return await on(preferred);
    } catch {
      // taken: any other
    }
  }
  return on(0);
}

/** Whether host:port can be listened on now. */
export async function portFree(host: string, port: number): Promise<boolean> {
  try {
    await listenOnce(host, port);
    return true;
  } catch {
    return false;
  }
}

export function indexToAddress(index: number): string {
  return `127.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}`;
}

export function addressToIndex(ip: string): number | undefined {
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (m === null) return undefined;
  const [a, b, c] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (a > 255 || b > 255 || c > 255) return undefined;
  const index = (a << 16) | (b << 8) | c;
  return index >= FIRST_INDEX && index <= LAST_INDEX ? index : undefined;
}

/**
 * Hands out pod addresses: distinct loopback addresses in "loopback" mode (round robin from `first`, so a
 * freed address is not reused at once while a proxy may still hold connections to it), 127.0.0.1 for
 * every pod in "shared" mode.
 */
export class AddressPool {
  readonly mode: AddressMode;
  readonly #inUse = new Set<string>();
  #cursor: number;

  constructor(mode: AddressMode, first = '127.0.0.2') {
    this.mode = mode;
    this.#cursor = addressToIndex(first) ?? FIRST_INDEX;
  }

  /** An address for a pod: `preferred` (its previous podIP, after a restart) when it is free. */
  acquire(preferred?: string): string {
    if (this.mode === 'shared') return SHARED_ADDRESS;
    if (preferred !== undefined && addressToIndex(preferred) !== undefined && !this.#inUse.has(preferred)) {
      this.#inUse.add(preferred);
      return preferred;
    }
    for (;;) {
      const index = this.#cursor;
      this.#cursor = index >= LAST_INDEX ? FIRST_INDEX : index + 1;
      if ((index & 255) === 0 || (index & 255) === 255) continue;
      const ip = indexToAddress(index);
      if (this.#inUse.has(ip)) continue;
      this.#inUse.add(ip);
      return ip;
    }
  }

  release(ip: string): void {
    if (this.mode === 'loopback') this.#inUse.delete(ip);
  }
}
