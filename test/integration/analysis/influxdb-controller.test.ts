// The controller's binding for influxdb and plugins: an AnalysisRun in an app namespace, reconciled by
// the AnalysisRun reconciler over a store; the influxdb profile Secret is read in the controller's
// namespace (as Argo reads it), its token stored nowhere; a plugin metric measures through its worker.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInfluxdbProvider } from '../../../src/analysis/providers/influxdb.ts';
import { createPluginProvider, parseMetricPluginFlag } from '../../../src/analysis/providers/plugin.ts';
import { reconcileAnalysisRun } from '../../../src/analysis/reconcile.ts';
import type { AnalysisRun } from '../../../src/api/analysis-run.ts';
import { createMemoryStore } from '../../../src/store/memory.ts';

const TOKEN = 'influx-token-123';
const CSV = `#datatype,string,long,double\n#group,false,false,false\n#default,_result,,\n,result,table,_value\n,,0,0.004\n`;
const b64 = (s: string) => Buffer.from(s).toString('base64');
let server: Server;
let address: string;
let dir: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    if (req.headers.authorization !== `Token ${TOKEN}`) {
      res
        .writeHead(401, { 'content-type': 'application/json' })
        .end('{"code":"unauthorized","message":"unauthorized access"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/csv' }).end(CSV);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), 'sluice-plugin-ctl-'));
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

function run(): AnalysisRun {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AnalysisRun',
    metadata: { name: 'web-1', namespace: 'shop' },
    spec: {
      metrics: [
        {
          name: 'influx',
          successCondition: 'result[0] < 0.01',
          provider: { influxdb: { query: 'from(bucket: "b")' } },
        },
        { name: 'plug', successCondition: 'result == 3', provider: { plugin: { 'acme/three': { n: 3 } } } },
      ],
    },
  } as AnalysisRun;
}

async function influxSecret(store: ReturnType<typeof createMemoryStore>, namespace: string): Promise<void> {
  await store.create({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'influxdb', namespace },
    data: { authToken: b64(TOKEN), address: b64(address), org: b64('my-org') },
  } as never);
}

describe('influxdb and plugins in the controller', () => {
  it("reads the influxdb Secret in the controller's namespace; the plugin measures; the run completes", async () => {
    const path = join(dir, 'three.mjs');
    writeFileSync(
      path,
      'export const apiVersion = 1; export function run(r) { return { result: r.config.n } }',
    );
    const entry = parseMetricPluginFlag(`acme/three=${path}`);
    if (!entry.ok) throw new Error(entry.error);
    const providers = [
      createInfluxdbProvider({ secretNamespace: 'sluice-system' }),
      createPluginProvider(entry.value),
    ];
    try {
      const store = createMemoryStore();
      await influxSecret(store, 'sluice-system');
      await store.create(run() as never);
      await reconcileAnalysisRun(
        { store, providers, now: () => Date.parse('2025-01-01T00:00:00Z') },
        'shop',
        'web-1',
      );
      const stored = store.get('AnalysisRun', 'shop', 'web-1') as unknown as AnalysisRun;
      expect(stored.status?.metricResults?.map((r) => [r.name, r.measurements?.[0]?.value])).toEqual([
        ['influx', '[0.004]'],
        ['plug', '3'],
      ]);
      expect(stored.status?.phase).toBe('Successful');
      expect(JSON.stringify(stored)).not.toContain(TOKEN);
    } finally {
      await Promise.all(providers.map((p) => p.close()));
    }
  });

  it("does not read the Secret in the run's namespace", async () => {
    const provider = createInfluxdbProvider({ secretNamespace: 'sluice-system' });
    try {
      const store = createMemoryStore();
      await influxSecret(store, 'shop');
      const only = run();
      await store.create({ ...only, spec: { metrics: [only.spec.metrics[0]!] } } as never);
      await reconcileAnalysisRun({ store, providers: [provider], now: () => 0 }, 'shop', 'web-1');
      const stored = store.get('AnalysisRun', 'shop', 'web-1') as unknown as AnalysisRun;
      expect(stored.status?.metricResults?.[0]?.measurements?.[0]).toMatchObject({
        phase: 'Error',
        message: 'secret "influxdb" not found',
      });
    } finally {
      await provider.close();
    }
  });
});
