// https:// backends: the proxy speaks TLS to them with certificate verification (system CAs plus
// --upstream-ca), and an unverifiable backend is a catalogued 502, never a plaintext fallback.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningProxy, startProxy } from '../../../proxy/main.ts';

let dir: string;
let backend: Server;
let port: number;
let ca: Buffer;

async function proxyWith(upstreamCa: Buffer | undefined): Promise<RunningProxy> {
  const file = join(dir, `routes-${upstreamCa ? 'ca' : 'noca'}.yaml`);
  writeFileSync(
    file,
    `routes:\n  - name: secure\n    backends:\n      - { name: stable, revision: "r1", address: "https://127.0.0.1:${port}", weight: 100 }\n`,
  );
  return startProxy({
    configPath: file,
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    upstreamCa,
    logger: pino({ level: 'silent' }),
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-tls-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  ca = readFileSync(join(dir, 'cert.pem'));
  backend = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: ca }, (req, res) => {
    res.setHeader('x-proto', String(req.headers['x-forwarded-proto']));
    res.end(`tls ${req.url}`);
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  port = (backend.address() as { port: number }).port;
});

afterAll(async () => {
  backend.closeAllConnections();
  await new Promise((r) => backend.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('https backends', () => {
  it('forwards over verified TLS when the CA is trusted, reusing the connection', async () => {
    const proxy = await proxyWith(ca);
    try {
      for (let i = 0; i < 3; i++) {
        const res = await request(`http://127.0.0.1:${proxy.dataAddress.port}/x${i}`);
        expect(res.statusCode).toBe(200);
        expect(await res.body.text()).toBe(`tls /x${i}`);
      }
      expect(proxy.server.pools.stats()[0]?.open).toBe(1);
    } finally {
      await proxy.close(500);
    }
  });

  it('answers 502 SLUICE_UPSTREAM_CONNECT_FAILED when the certificate cannot be verified', async () => {
    const proxy = await proxyWith(undefined);
    try {
      const res = await request(`http://127.0.0.1:${proxy.dataAddress.port}/`);
      expect(res.statusCode).toBe(502);
      expect(res.headers['x-sluice-error']).toBe('SLUICE_UPSTREAM_CONNECT_FAILED');
      await res.body.dump();
    } finally {
      await proxy.close(500);
    }
  });
});
