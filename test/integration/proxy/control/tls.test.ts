// TLS and mTLS on the control stream, with a CA and certificates generated here by the openssl CLI.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type ControlClient,
  type ControlClientOptions,
  startControlClient,
} from '../../../../proxy/control/client.ts';
import { startTestControlServer, type TestControlServer } from '../../../fixtures/control-server.ts';

const TOKEN = 'tls-token';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

interface Pki {
  ca: Buffer;
  serverCert: Buffer;
  serverKey: Buffer;
  clientCert: Buffer;
  clientKey: Buffer;
  otherCa: Buffer;
  strangerCert: Buffer;
  strangerKey: Buffer;
}

function generatePki(dir: string): Pki {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ca = (name: string) => {
    run(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
    );
  };
  const leaf = (name: string, issuer: string, ext: string) => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    run(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    );
    run(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${issuer}.crt`,
      '-CAkey',
      `${issuer}.key`,
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    );
  };
  ca('test-ca');
  ca('other-ca');
  leaf('server', 'test-ca', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'test-ca', 'extendedKeyUsage=clientAuth\n');
  leaf('stranger', 'other-ca', 'extendedKeyUsage=clientAuth\n');
  const read = (file: string) => readFileSync(join(dir, file));
  return {
    ca: read('test-ca.crt'),
    serverCert: read('server.crt'),
    serverKey: read('server.key'),
    clientCert: read('client.crt'),
    clientKey: read('client.key'),
    otherCa: read('other-ca.crt'),
    strangerCert: read('stranger.crt'),
    strangerKey: read('stranger.key'),
  };
}

const opensslMissing = !hasOpenssl();
if (opensslMissing) console.warn('control-tls.test.ts skipped: the openssl CLI is not installed');

describe.skipIf(opensslMissing)('control stream over TLS', () => {
  let dir: string;
  let pki: Pki;
  const servers: TestControlServer[] = [];
  const clients: ControlClient[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-control-tls-'));
    pki = generatePki(dir);
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  function client(target: string, tls: ControlClientOptions['tls']): ControlClient {
    const c = startControlClient({
      target,
      token: TOKEN,
      // The certificate names localhost; dialing the IP with serverName also checks the override.
      tls: tls === undefined ? undefined : { serverName: 'localhost', ...tls },
      proxyId: 'tls-proxy',
      routes: [{ name: 'checkout' }],
      onSnapshot: () => ({ ok: true }),
      drainReports: () => [],
      backoff: { initialMs: 50, maxMs: 200 },
    });
    clients.push(c);
    return c;
  }

  it('subscribes over TLS when the client trusts the server CA', async () => {
    const s = await startTestControlServer({
      token: TOKEN,
      tls: { cert: pki.serverCert, key: pki.serverKey },
    });
    servers.push(s);
    const c = client(s.target, { ca: pki.ca });
    s.push(1, { routes: [] });
    await s.waitFor('ack', (e) => e.version === 1);
    expect(c.connected()).toBe(true);
    const subscribed = await s.waitFor('subscribed');
    expect(subscribed.clientCertificate).toBe(false);
  });

  it('does not subscribe when the server certificate is signed by a CA the client does not trust', async () => {
    const s = await startTestControlServer({
      token: TOKEN,
      tls: { cert: pki.serverCert, key: pki.serverKey },
    });
    servers.push(s);
    const c = client(s.target, { ca: pki.otherCa });
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(c.connected()).toBe(false);
    expect(s.events.filter((e) => e.kind === 'hello')).toEqual([]);
  });

  it('does not subscribe in plaintext to a TLS server', async () => {
    const s = await startTestControlServer({
      token: TOKEN,
      tls: { cert: pki.serverCert, key: pki.serverKey },
    });
    servers.push(s);
    const c = client(s.target, undefined);
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(c.connected()).toBe(false);
    expect(s.events.filter((e) => e.kind === 'hello')).toEqual([]);
  });

  describe('mTLS', () => {
    async function mtlsServer(): Promise<TestControlServer> {
      const s = await startTestControlServer({
        token: TOKEN,
        tls: { cert: pki.serverCert, key: pki.serverKey, clientCa: pki.ca },
      });
      servers.push(s);
      return s;
    }

    it('subscribes with a client certificate signed by the CA the server requires', async () => {
      const s = await mtlsServer();
      const c = client(s.target, { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey });
      s.push(5, { routes: [] });
      await s.waitFor('ack', (e) => e.version === 5);
      expect(c.connected()).toBe(true);
      expect((await s.waitFor('subscribed')).clientCertificate).toBe(true);
    });

    it('is refused without a client certificate, and with one from another CA', async () => {
      const s = await mtlsServer();
      const anonymous = client(s.target, { ca: pki.ca });
      const stranger = client(s.target, { ca: pki.ca, cert: pki.strangerCert, key: pki.strangerKey });
      await new Promise((resolve) => setTimeout(resolve, 800));
      expect(anonymous.connected()).toBe(false);
      expect(stranger.connected()).toBe(false);
      expect(s.events.filter((e) => e.kind === 'hello' || e.kind === 'subscribed')).toEqual([]);
    });
  });
});
