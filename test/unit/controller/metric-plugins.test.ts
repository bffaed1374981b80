// The controller's start-time plugin loading: --metric-plugin entries plus argo-rollouts-config's
// metricProviderPlugins read in the controller's namespace; bad entries stop the start with a message.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseMetricPluginFlag } from '../../../src/analysis/providers/plugin.ts';
import type { KubeObject } from '../../../src/api/meta.ts';
import { loadMetricPlugins } from '../../../src/controller/providers.ts';

let dir: string;
let module: string;
const savedNamespace = process.env.POD_NAMESPACE;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-plugins-'));
  module = join(dir, 'p.mjs');
  writeFileSync(
    module,
    'export const apiVersion = 1; export function run(r) { return { result: r.config.v } }',
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  if (savedNamespace === undefined) delete process.env.POD_NAMESPACE;
  else process.env.POD_NAMESPACE = savedNamespace;
});

const configMap = (plugins: string): KubeObject =>
  ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'argo-rollouts-config', namespace: 'sluice-system' },
    data: { metricProviderPlugins: plugins },
  }) as unknown as KubeObject;

describe('loadMetricPlugins', () => {
  it("reads argo-rollouts-config in $POD_NAMESPACE and serves its plugins beside the flags'", async () => {
    process.env.POD_NAMESPACE = 'sluice-system';
    const reads: string[] = [];
    const flag = parseMetricPluginFlag(`acme/flag=${module}`);
    if (!flag.ok) throw new Error(flag.error);
    const providers = await loadMetricPlugins(
      async (ns, name) => {
        reads.push(`${ns}/${name}`);
        return configMap(`- name: acme/cm\n  location: ${pathToFileURL(module).href}\n`);
      },
      [flag.value],
    );
    expect(reads).toEqual(['sluice-system/argo-rollouts-config']);
    expect(providers.map((p) => p.type)).toEqual(['acme/flag', 'acme/cm']);
    const result = await providers[1]!.run({
      metricName: 'm',
      provider: { plugin: { 'acme/cm': { v: 7 } } },
      nowMs: 0,
      signal: new AbortController().signal,
    });
    expect(result).toEqual({ result: 7, value: '7' });
    await Promise.all(providers.map((p) => p.close()));
  });

  it('uses argo-rollouts as the namespace without $POD_NAMESPACE, and no ConfigMap is no plugins', async () => {
    delete process.env.POD_NAMESPACE;
    const reads: string[] = [];
    expect(await loadMetricPlugins(async (ns, name) => void reads.push(`${ns}/${name}`), [])).toEqual([]);
    expect(reads).toEqual(['argo-rollouts/argo-rollouts-config']);
  });

  it('stops the start with SLUICE_USAGE and a message naming the entry', async () => {
    await expect(
      loadMetricPlugins(async () => configMap('- name: acme/x\n  location: https://example.com/x'), []),
    ).rejects.toMatchObject({
      code: 'SLUICE_USAGE',
      message: expect.stringContaining(
        'metricProviderPlugins[0] (acme/x): location https://example.com/x is not a local file',
      ),
    });
    await expect(
      loadMetricPlugins(async () => {
        throw new Error('configmaps "argo-rollouts-config" is forbidden');
      }, []),
    ).rejects.toMatchObject({ code: 'SLUICE_USAGE', message: expect.stringContaining('is forbidden') });
  });
});
