// The control server over TLS and mTLS, with the proxy's real client and certificates made by openssl.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ControlClientOptions } from '../../../proxy/control/client.ts';
import { generatePki, hasOpenssl, type Pki } from '../../fixtures/pki.ts';
import {
  type Harness,
  type RecordingClient,
  route,
  sleep,
  startClient,
  startHarness,
  until,
} from './harness.ts';

const opensslMissing = !hasOpenssl();
if (opensslMissing) console.warn('control tls.test.ts skipped: the openssl CLI is not installed');

describe.skipIf(opensslMissing)('control server over TLS', () => {
  let dir: string;
  let pki: Pki;
  const harnesses: Harness[] = [];
  const clients: RecordingClient[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-control-server-tls-'));
    pki = generatePki(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.client.close()));
    await Promise.all(harnesses.splice(0).map((h) => h.server.close()));
  });

  async function harness(mtls: boolean): Promise<Harness> {
    const h = await startHarness({
      tls: { cert: pki.serverCert, key: pki.serverKey, ...(mtls ? { clientCa: pki.ca } : {}) },
    });
    harnesses.push(h);
    h.routes.publish(route('checkout'));
    return h;
  }
  function client(h: Harness, proxyId: string, tls: ControlClientOptions['tls']): RecordingClient {
    const c = startClient(h.target, {
      proxyId,
      tls: tls === undefined ? undefined : { serverName: 'localhost', ...tls },
    });
    clients.push(c);
    return c;
  }

  it('serves a proxy that trusts its CA, and no plaintext or untrusting proxy', async () => {
    const h = await harness(false);
    const trusting = client(h, 'trusting', { ca: pki.ca });
    const plaintext = client(h, 'plaintext', undefined);
    const untrusting = client(h, 'untrusting', { ca: pki.otherCa });
    await until(() => trusting.snapshots.length === 1, 'snapshot over TLS');
    await until(() => h.acks.length === 1, 'ACK over TLS');
    await sleep(300);
    expect(plaintext.client.connected()).toBe(false);
    expect(untrusting.client.connected()).toBe(false);
    expect(h.server.proxies().map((p) => p.proxyId)).toEqual(['trusting']);
  });

  it('with a client CA, serves only proxies presenting a certificate it signed (mTLS)', async () => {
    const h = await harness(true);
    const member = client(h, 'member', { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey });
    const anonymous = client(h, 'anonymous', { ca: pki.ca });
    const stranger = client(h, 'stranger', { ca: pki.ca, cert: pki.strangerCert, key: pki.strangerKey });
    await until(() => member.snapshots.length === 1, 'snapshot over mTLS');
    await sleep(300);
    expect(anonymous.client.connected()).toBe(false);
    expect(stranger.client.connected()).toBe(false);
    expect(h.server.proxies().map((p) => p.proxyId)).toEqual(['member']);
  });
});
