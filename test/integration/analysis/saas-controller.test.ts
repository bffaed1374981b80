// The controller's binding: an AnalysisRun in an app namespace reads the Datadog and New Relic Secrets
// from the controller's namespace ($POD_NAMESPACE), as Argo reads them, through the store.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatadogProvider } from '../../../src/analysis/providers/datadog.ts';
import { createNewRelicProvider } from '../../../src/analysis/providers/newrelic.ts';
import { reconcileAnalysisRun } from '../../../src/analysis/reconcile.ts';
import type { AnalysisRun } from '../../../src/api/analysis-run.ts';
import { createMemoryStore } from '../../../src/store/memory.ts';
import { type FakeApi, json, startFakeApi } from '../../fixtures/analysis/saas-server.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');
let api: FakeApi;
beforeAll(async () => {
  api = await startFakeApi();
  api.handle((req, res) =>
    req.url.startsWith('/api/v1/query')
      ? json(res, 200, { series: [{ pointlist: [[1, 0.004]] }] })
      : json(res, 200, { data: { actor: { account: { nrql: { results: [{ successRate: 0.99 }] } } } } }),
  );
});
afterAll(async () => {
  await api.close();
});

function run(): AnalysisRun {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AnalysisRun',
    metadata: { name: 'web-1', namespace: 'shop' },
    spec: {
      metrics: [
        { name: 'dd', successCondition: 'result < 0.01', provider: { datadog: { query: 'avg:errors{*}' } } },
        {
          name: 'nr',
          successCondition: 'result.successRate > 0.95',
          provider: { newRelic: { query: 'SELECT 1' } },
        },
      ],
    },
  } as AnalysisRun;
}

async function secrets(store: ReturnType<typeof createMemoryStore>, namespace: string): Promise<void> {
  await store.create({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'datadog', namespace },
    data: { 'api-key': b64('dd-api-key-123'), 'app-key': b64('dd-app-key-456'), address: b64(api.base) },
  } as never);
  await store.create({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'newrelic', namespace },
    data: {
      'personal-api-key': b64('NRAK-789'),
      'account-id': b64('42'),
      'base-url-nerdgraph': b64(`${api.base}/graphql`),
    },
  } as never);
}

describe('SaaS providers in the controller', () => {
  const env = { POD_NAMESPACE: 'sluice-system' };
  const providers = [createDatadogProvider({ env }), createNewRelicProvider({ env })];
  afterAll(async () => {
    await Promise.all(providers.map((p) => p.close()));
  });

  it("reads the Secrets in the controller's namespace and completes the run", async () => {
    const store = createMemoryStore();
    await secrets(store, 'sluice-system');
    await store.create(run() as never);
    await reconcileAnalysisRun(
      { store, providers, now: () => Date.parse('2025-01-01T00:00:00Z') },
      'shop',
      'web-1',
    );
    const stored = store.get('AnalysisRun', 'shop', 'web-1') as unknown as AnalysisRun;
    expect(stored.status?.phase).toBe('Successful');
    expect(stored.status?.metricResults?.map((r) => r.measurements?.[0]?.value)).toEqual([
      '0.004',
      '{"successRate":0.99}',
    ]);
    const text = JSON.stringify(stored);
    for (const key of ['dd-api-key-123', 'dd-app-key-456', 'NRAK-789']) expect(text).not.toContain(key);
  });

  it("does not read Secrets in the run's namespace (Argo reads the controller's)", async () => {
    const store = createMemoryStore();
    await secrets(store, 'shop');
    await store.create(run() as never);
    await reconcileAnalysisRun(
      { store, providers, now: () => Date.parse('2025-01-01T00:00:00Z') },
      'shop',
      'web-1',
    );
    const stored = store.get('AnalysisRun', 'shop', 'web-1') as unknown as AnalysisRun;
    expect(stored.status?.metricResults?.map((r) => r.measurements?.[0]?.phase)).toEqual(['Error', 'Error']);
    expect(stored.status?.metricResults?.[0]?.measurements?.[0]?.message).toBe(
      'failed to find the credentials for datadog metrics provider',
    );
  });
});
