// `sluice analysis run` checks graphite and influxdb blocks before running, naming the metric and the
// field; a field still holding {{args.x}} is not judged until the run substitutes it.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAnalysisCommand } from '../../../src/cli/analysis.ts';
import { virtualClock } from '../../fixtures/analysis/scripted.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-analysis-checks-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(provider: string): Promise<{ code: number; err: string }> {
  const path = join(dir, `t${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    path,
    `apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: { name: t }
spec:
  args: [{ name: addr, value: "http://127.0.0.1:9" }]
  metrics:
  - name: m
    provider:
${provider}`,
  );
  let err = '';
  const code = await runAnalysisCommand(['run', '-f', path, '--interval-scale', '0.001'], {
    stdout: { write: () => true },
    stderr: { write: (t: string) => (err += t) },
    terminateSignal: new AbortController().signal,
    clock: virtualClock(),
  });
  return { code, err };
}

describe('graphite and influxdb blocks are checked before the run', () => {
  it.each([
    [
      '      graphite: { address: ":::", query: "target=a" }',
      'metrics[0] (m): provider.graphite.address: Graphite address ::: is not a valid URL',
    ],
    ['      graphite: { address: "http://g" }', 'metrics[0] (m): provider.graphite.query: is required'],
    ['      influxdb: { profile: x }', 'metrics[0] (m): provider.influxdb.query: is required'],
    [
      '      influxdb: { query: "q", profile: [1] }',
      'metrics[0] (m): provider.influxdb.profile: must be a string',
    ],
  ])('%s', async (provider, message) => {
    expect(await cli(provider)).toEqual({ code: 2, err: `sluice analysis run: ${message}\n` });
  });

  it('leaves an address written as {{args.x}} to the run', async () => {
    const r = await cli('      graphite: { address: "{{args.addr}}", query: "target=a" }');
    expect(r.err).toBe('');
    expect(r.code).toBe(2); // the run's Error: nothing listens on port 9
  });
});
