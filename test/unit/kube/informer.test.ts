// The informer's list/watch protocol against a scripted API server on port 0: the real server cannot be
// made to drop a watch or answer 410 Gone on demand, so these faults are produced here.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/api/meta.ts';
import type { KubeClient } from '../../../src/kube/client.ts';
import { Informer } from '../../../src/kube/informer.ts';
import { scriptedApiClient } from '../../fixtures/scripted-api.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function fakeApi(handler: Handler): Promise<{ client: KubeClient; requests: string[] }> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(`${req.method} ${url.pathname}${url.search}`);
    handler(req, res, url);
  });
  const client = await scriptedApiClient(server, 'secret-token', cleanups);
  return { client, requests };
}

function svc(name: string, rv: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'ns', resourceVersion: rv } };
}

async function until(fn: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('informer list/watch', () => {
  it('lists (filling kind on items, dropping managedFields), watches from the list version, and re-watches from the last event after the watch ends', async () => {
    let watches = 0;
    const { client, requests } = await fakeApi((req, res, url) => {
      expect(req.headers.authorization).toBe('Bearer secret-token');
      if (url.searchParams.get('watch') !== '1') {
        res.end(
          JSON.stringify({
            kind: 'ServiceList',
            metadata: { resourceVersion: '10' },
            items: [
              {
                metadata: {
                  name: 'a',
                  namespace: 'ns',
                  resourceVersion: '9',
                  managedFields: [{ manager: 'kubectl' }],
                },
              },
            ],
          }),
        );
        return;
      }
      watches += 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      if (watches === 1) {
        res.write(`${JSON.stringify({ type: 'ADDED', object: svc('b', '11') })}\n`);
        res.write(
          `${JSON.stringify({ type: 'BOOKMARK', object: { kind: 'Service', metadata: { resourceVersion: '15' } } })}\n`,
        );
        res.end(); // the server ends the watch (timeoutSeconds)
      } else {
        res.write(`${JSON.stringify({ type: 'MODIFIED', object: svc('a', '16') })}\n`);
      }
    });
    const informer = new Informer(client, 'Service', 'ns');
    const events: string[] = [];
    const metadataKeys: string[][] = [];
    informer.on((type, obj) => {
      events.push(`${type} ${obj.metadata.name} ${obj.kind}`);
      metadataKeys.push(Object.keys(obj.metadata));
    });
    expect(await informer.start()).toBe(true);
    await until(() => events.length >= 3, 'three events');
    await informer.stop();
    expect(events).toEqual(['ADDED a Service', 'ADDED b Service', 'MODIFIED a Service']);
    expect(informer.get('ns', 'a')?.metadata.resourceVersion).toBe('16');
    expect(metadataKeys[0]).toEqual(['name', 'namespace', 'resourceVersion']);
    const watchRequests = requests.filter((r) => r.includes('watch=1'));
    expect(watchRequests[0]).toContain('resourceVersion=10');
    expect(watchRequests[1]).toContain('resourceVersion=15');
    expect(requests[0]).toBe('GET /api/v1/namespaces/ns/services?limit=500');
  });

  it('relists after 410 Gone and reports objects that vanished meanwhile as deleted', async () => {
    let lists = 0;
    const { client } = await fakeApi((_req, res, url) => {
      if (url.searchParams.get('watch') !== '1') {
        lists += 1;
        const items = lists === 1 ? [svc('a', '1'), svc('b', '2')] : [svc('b', '7')];
        res.end(JSON.stringify({ metadata: { resourceVersion: String(lists * 10) }, items }));
        return;
      }
      res.writeHead(200);
      if (lists === 1)
        res.end(
          `${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, message: 'too old resource version' } })}\n`,
        );
    });
    const informer = new Informer(client, 'Service', 'ns');
    const events: string[] = [];
    informer.on((type, obj) => events.push(`${type} ${obj.metadata.name}`));
    await informer.start();
    await until(() => lists >= 2 && events.length >= 4, 'relist');
    await informer.stop();
    expect(events).toEqual(['ADDED a', 'ADDED b', 'DELETED a', 'MODIFIED b']);
    expect(informer.get('ns', 'a')).toBeUndefined();
  });

  it('pages through a list with continue tokens', async () => {
    const { client, requests } = await fakeApi((_req, res, url) => {
      if (url.searchParams.get('watch') === '1') {
        res.writeHead(200);
        return;
      }
      if (!url.searchParams.get('continue'))
        res.end(
          JSON.stringify({ metadata: { continue: 'page2', resourceVersion: '5' }, items: [svc('a', '1')] }),
        );
      else res.end(JSON.stringify({ metadata: { resourceVersion: '5' }, items: [svc('b', '2')] }));
    });
    const informer = new Informer(client, 'Service', undefined);
    await informer.start();
    expect([...informer.list()].map((o) => o.metadata.name).sort()).toEqual(['a', 'b']);
    expect(requests[1]).toBe('GET /api/v1/services?limit=500&continue=page2');
    await informer.stop();
  });

  it('keeps a newer copy written by this process over an older watch event, and freezes cached objects', async () => {
    const { client } = await fakeApi((_req, res, url) => {
      if (url.searchParams.get('watch') === '1') {
        res.writeHead(200);
        setTimeout(() => res.write(`${JSON.stringify({ type: 'MODIFIED', object: svc('a', '3') })}\n`), 50);
        return;
      }
      res.end(JSON.stringify({ metadata: { resourceVersion: '2' }, items: [svc('a', '2')] }));
    });
    const informer = new Informer(client, 'Service', 'ns');
    const seen: string[] = [];
    informer.on((type, obj) => seen.push(`${type} ${obj.metadata.resourceVersion}`));
    await informer.start();
    informer.observe(svc('a', '4'));
    await until(() => seen.length >= 2, 'watch event');
    await informer.stop();
    expect(informer.get('ns', 'a')?.metadata.resourceVersion).toBe('4');
    expect(seen).toEqual(['ADDED 2', 'MODIFIED 3']);
    expect(Object.isFrozen(informer.get('ns', 'a')?.metadata)).toBe(true);
  });

  it('retries a failing list with backoff instead of giving up', async () => {
    let lists = 0;
    const { client } = await fakeApi((_req, res, url) => {
      if (url.searchParams.get('watch') === '1') {
        res.writeHead(200);
        return;
      }
      lists += 1;
      if (lists === 1) {
        res.writeHead(500).end(JSON.stringify({ kind: 'Status', message: 'etcd unavailable' }));
        return;
      }
      res.end(JSON.stringify({ metadata: { resourceVersion: '1' }, items: [svc('a', '1')] }));
    });
    const informer = new Informer(client, 'Service', 'ns');
    expect(await informer.start()).toBe(true);
    expect(lists).toBe(2);
    expect(informer.synced).toBe(true);
    await informer.stop();
  });
});
