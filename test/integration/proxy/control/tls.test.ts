// TLS and mTLS on the control stream, with a CA and certificates made by the openssl CLI (test/fixtures/pki.ts).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type ControlClient,
  type ControlClientOptions,
  startControlClient,
} from '../../../../proxy/control/client.ts';
import { startTestControlServer, type TestControlServer } from '../../../fixtures/control-server.ts';
import { generatePki, hasOpenssl, type Pki } from '../../../fixtures/pki.ts';

const TOKEN = 'tls-token';

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
