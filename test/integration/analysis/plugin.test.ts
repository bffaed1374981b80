// Metric provider plugins: Node modules in worker threads. The documented example plugin
// (docs/examples/metric-plugin/http-json.mjs) through `sluice analysis run --metric-plugin` and
// `--plugin-config`; plugins that throw, crash asynchronously, hang, answer nonsense or speak another
// apiVersion give Error measurements and leave the process running; configuration errors are refused
// with messages naming the entry.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPluginProvider,
  mergeMetricPlugins,
  parseMetricPluginConfigMap,
  parseMetricPluginFlag,
} from '../../../src/analysis/providers/plugin.ts';

const CLI = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));
const EXAMPLE = fileURLToPath(new URL('../../../docs/examples/metric-plugin/http-json.mjs', import.meta.url));

let dir: string;
let server: Server;
let statsUrl: string;
let errorRate = 0.002;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-plugin-test-'));
  server = createServer((_req, res) => {
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ errorRate, requests: 1000 }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  statsUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/stats`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

function plugin(name: string, source: string): string {
  const path = join(dir, `${name}.mjs`);
  writeFileSync(path, source);
  return path;
}

async function measureWith(source: string, config: unknown = {}, timeoutMs = 10_000, times = 1) {
  const path = plugin(`p${Math.random().toString(36).slice(2)}`, source);
  const entry = parseMetricPluginFlag(`test/plugin=${path}`);
  if (!entry.ok) throw new Error(entry.error);
  const provider = createPluginProvider(entry.value, { timeoutMs });
  const results = [];
  try {
    for (let i = 0; i < times; i++) {
      results.push(
        await provider.run({
          metricName: 'm',
          provider: { plugin: { 'test/plugin': config } },
          nowMs: 0,
          signal: new AbortController().signal,
        }),
      );
    }
  } finally {
    await provider.close();
  }
  return results;
}

describe('a metric plugin runs contained in its worker', () => {
  it('passes the config and returns the result', async () => {
    const [r] = await measureWith(
      'export const apiVersion = 1; export function run(req) { return { result: req.config.x * 2, metadata: { m: req.metricName } } }',
      { x: 21 },
    );
    expect(r).toEqual({ result: 42, value: '42', metadata: { m: 'm' } });
  });

  it.each([
    [
      'throws',
      'export function run() { throw new Error("bad query") }',
      'plugin test/plugin: run: bad query',
    ],
    [
      'rejects',
      'export async function run() { throw new TypeError("nope") }',
      'plugin test/plugin: run: nope',
    ],
    [
      'throws later, outside any call (an uncaught exception)',
      'export function run() { setTimeout(() => { throw new Error("boom") }, 1); return new Promise(() => {}) }',
      'plugin test/plugin: run: crashed: boom',
    ],
    [
      'never answers (a busy loop)',
      'export function run() { for (;;) {} }',
      'plugin test/plugin: run: did not answer within 1000 ms',
    ],
    [
      'allocates without bound',
      'export function run() { const keep = []; for (;;) keep.push(new Array(1e5).fill(Math.random())) }',
      'plugin test/plugin: run: crashed: Worker terminated due to reaching memory limit: JS heap out of memory',
    ],
    [
      'answers nonsense',
      'export function run() { return { phase: "Great" } }',
      'plugin test/plugin: run: returned an invalid result: phase "Great" is not one of Running, Successful, Failed, Inconclusive, Error',
    ],
    [
      'answers nothing',
      'export function run() {}',
      'plugin test/plugin: run: returned an invalid result: expected an object such as { result: 0.99 }',
    ],
  ])(
    'a plugin that %s gives an Error measurement, twice (a fresh worker each time)',
    async (_what, body, message) => {
      // Only the busy loop waits out the timeout; a loaded machine may take a while to start a worker.
      const timeoutMs = message.includes('did not answer') ? 1_000 : 10_000;
      const results = await measureWith(`export const apiVersion = 1; ${body}`, {}, timeoutMs, 2);
      expect(results).toEqual([
        { phase: 'Error', message },
        { phase: 'Error', message },
      ]);
    },
    30_000,
  );

  it('refuses a module of another apiVersion, or without run()', async () => {
    expect(
      await measureWith('export const apiVersion = 2; export function run() { return { result: 1 } }'),
    ).toEqual([
      {
        phase: 'Error',
        message:
          'plugin test/plugin: run: cannot load: apiVersion 2 is not supported (export apiVersion = 1)',
      },
    ]);
    expect(await measureWith('export const apiVersion = 1;')).toEqual([
      {
        phase: 'Error',
        message: 'plugin test/plugin: run: cannot load: the module exports no run() function',
      },
    ]);
  });
});

describe('plugin configuration', () => {
  it('reads Argo ConfigMap entries with file:// locations, args and sha256', () => {
    const path = plugin('cm', 'export const apiVersion = 1; export function run() { return { result: 1 } }');
    const sha256 = createHash('sha256').update(readFileSync(path)).digest('hex');
    const data = {
      metricProviderPlugins: `- name: "acme/cm"\n  location: "${pathToFileURL(path).href}"\n  sha256: "${sha256}"\n  args: ["--timeout-ms", "100"]\n`,
    };
    expect(parseMetricPluginConfigMap(data)).toEqual({
      ok: true,
      value: [
        {
          name: 'acme/cm',
          path,
          args: ['--timeout-ms', '100'],
          sha256,
          source: 'ConfigMap argo-rollouts-config metricProviderPlugins[0] (acme/cm)',
        },
      ],
    });
    expect(parseMetricPluginConfigMap({})).toEqual({ ok: true, value: [] });
  });

  it.each([
    [
      'an http location (no downloads)',
      '- name: acme/x\n  location: https://github.com/acme/x/releases/download/v1/plugin',
      "ConfigMap argo-rollouts-config metricProviderPlugins[0] (acme/x): location https://github.com/acme/x/releases/download/v1/plugin is not a local file: Sluice does not download plugins; put the module on the controller's filesystem (an image layer or a volume) and use file://PATH",
    ],
    [
      'a missing file',
      '- name: acme/x\n  location: file:///nonexistent/plugin.mjs',
      'ConfigMap argo-rollouts-config metricProviderPlugins[0] (acme/x): plugin acme/x not found at /nonexistent/plugin.mjs',
    ],
    [
      'no location',
      '- name: acme/x',
      'ConfigMap argo-rollouts-config metricProviderPlugins[0].location: is required (file://PATH of the plugin module)',
    ],
    [
      'a built-in name',
      '- name: sluice/judge\n  location: file:///x.mjs',
      'ConfigMap argo-rollouts-config metricProviderPlugins[0] (sluice/judge): sluice/judge is a built-in provider and cannot be a plugin',
    ],
    [
      'not a list',
      'name: acme/x',
      'ConfigMap argo-rollouts-config metricProviderPlugins: must be a list of {name, location}',
    ],
  ])('refuses %s', (_what, yaml, error) => {
    expect(parseMetricPluginConfigMap({ metricProviderPlugins: yaml })).toEqual({ ok: false, error });
  });

  it('refuses a sha256 mismatch, a bad flag and a name given twice', () => {
    const path = plugin('sha', 'export const apiVersion = 1;');
    const bad = parseMetricPluginConfigMap({
      metricProviderPlugins: `- name: acme/sha\n  location: ${pathToFileURL(path).href}\n  sha256: "${'0'.repeat(64)}"`,
    });
    expect(bad.ok ? '' : bad.error).toMatch(/sha256 of .*sha\.mjs is [0-9a-f]{64}, the entry expects 0{64}$/);
    expect(parseMetricPluginFlag('acme/x')).toEqual({
      ok: false,
      error: '--metric-plugin "acme/x": expected NAME=PATH',
    });
    const a = parseMetricPluginFlag(`acme/sha=${path}`);
    const b = parseMetricPluginConfigMap({
      metricProviderPlugins: `- name: acme/sha\n  location: ${pathToFileURL(path).href}`,
    });
    if (!a.ok || !b.ok) throw new Error('setup');
    expect(mergeMetricPlugins([a.value], b.value)).toEqual({
      ok: false,
      error:
        'ConfigMap argo-rollouts-config metricProviderPlugins[0] (acme/sha): plugin acme/sha is also given by --metric-plugin acme/sha',
    });
  });
});

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'analysis', 'run', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('the documented example plugin through sluice analysis run', () => {
  const template = (url: string) => `apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: { name: checkout-errors }
spec:
  metrics:
  - name: error-rate
    successCondition: result < 0.01
    provider:
      plugin:
        example/http-json:
          url: ${url}
          field: errorRate
`;

  it('measures with --metric-plugin: Successful (0), then Failed (1) when the error rate rises', async () => {
    const file = join(dir, 'template.yaml');
    writeFileSync(file, template(statsUrl));
    errorRate = 0.002;
    const ok = await runCli(['-f', file, '--metric-plugin', `example/http-json=${EXAMPLE}`]);
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toMatch(/error-rate #1 {2}Successful {2}value=0\.002/);
    expect(ok.code).toBe(0);
    errorRate = 0.3;
    const failed = await runCli(['-f', file, '--metric-plugin', `example/http-json=${EXAMPLE}`]);
    expect(failed.stdout).toMatch(/error-rate #1 {2}Failed {2}value=0\.3/);
    expect(failed.code).toBe(1);
  }, 40_000);

  it('measures with --plugin-config (Argo ConfigMap), and names a plugin that is not configured', async () => {
    const file = join(dir, 'template2.yaml');
    writeFileSync(file, template(statsUrl));
    const configMap = join(dir, 'argo-rollouts-config.yaml');
    writeFileSync(
      configMap,
      `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: argo-rollouts-config }\ndata:\n  metricProviderPlugins: |-\n    - name: "example/http-json"\n      location: "${pathToFileURL(EXAMPLE).href}"\n      args: ["--timeout-ms", "2000"]\n`,
    );
    errorRate = 0.001;
    const ok = await runCli(['-f', file, '--plugin-config', configMap]);
    expect(ok.stdout).toMatch(/error-rate #1 {2}Successful {2}value=0\.001/);
    expect(ok.code).toBe(0);
    const missing = await runCli(['-f', file]);
    expect(missing.stderr).toBe(
      'sluice analysis run: metrics[0] (error-rate): plugin example/http-json not configured in configmap (pass --metric-plugin example/http-json=PATH or --plugin-config FILE)\n',
    );
    expect(missing.code).toBe(2);
    const http = await runCli(['-f', file, '--metric-plugin', 'example/http-json=https://example.com/p.mjs']);
    expect(http.stderr).toContain('is not a local file: Sluice does not download plugins');
    expect(http.code).toBe(2);
  }, 40_000);
});
