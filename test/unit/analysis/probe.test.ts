// Early verdicts: a sluice/judge metric is asked again whenever its run is reconciled between intervals
// (the controller reconciles on new proxy reports); the answer is recorded only when it is Failed, so a
// failing canary stops at once while counts and schedules stay Argo's. Other providers are never probed.
import { describe, expect, it } from 'vitest';
import type { MetricProvider, ProviderResult } from '../../../src/analysis/providers/provider.ts';
import { createProviderRegistry } from '../../../src/analysis/providers/registry.ts';
import { reconcileOnce } from '../../../src/analysis/runner.ts';
import type { AnalysisRun } from '../../../src/api/analysis-run.ts';
import { metric, runOf, virtualClock } from '../../fixtures/analysis/scripted.ts';

function scripted(type: string, answers: ProviderResult[]): MetricProvider & { calls: number } {
  const p = {
    type,
    calls: 0,
    run: async () => answers[Math.min(p.calls++, answers.length - 1)]!,
  };
  return p;
}

const inconclusive: ProviderResult = { phase: 'Inconclusive', value: 'score=0' };
const failed: ProviderResult = { phase: 'Failed', value: 'score=-1' };

async function step(run: AnalysisRun, provider: MetricProvider, clock: ReturnType<typeof virtualClock>) {
  const { output } = await reconcileOnce(run, { providers: createProviderRegistry([provider]), clock });
  return output;
}

describe('early verdicts (probes)', () => {
  const judgeMetric = metric('judge', {
    provider: { plugin: { 'sluice/judge': { route: 'checkout' } } },
    interval: '1m',
    failureLimit: 0,
    inconclusiveLimit: 100,
  });

  it('drops a probe that does not fail, records one that does, and fails the run at once', async () => {
    const clock = virtualClock();
    const judge = scripted('sluice/judge', [inconclusive, inconclusive, failed]);
    let out = await step(runOf([judgeMetric]), judge, clock);
    expect(out.run.status?.metricResults?.[0]?.measurements).toHaveLength(1);
    clock.advance(2_000);
    out = await step(out.run, judge, clock);
    expect(judge.calls).toBe(2);
    expect(out.run.status?.metricResults?.[0]?.measurements).toHaveLength(1);
    expect(out.run.status?.metricResults?.[0]?.count).toBe(1);
    clock.advance(2_000);
    out = await step(out.run, judge, clock);
    expect(judge.calls).toBe(3);
    const result = out.run.status?.metricResults?.[0];
    expect(result?.measurements.map((m) => m.phase)).toEqual(['Inconclusive', 'Failed']);
    expect(out.run.status?.phase).toBe('Failed');
  });

  it('never probes other providers, nor after an Error', async () => {
    const clock = virtualClock();
    const web = scripted('web', [{ phase: 'Successful', value: '1' }]);
    const m = metric('m', { interval: '1m' });
    let out = await step(runOf([m]), web, clock);
    clock.advance(5_000);
    out = await step(out.run, web, clock);
    expect(web.calls).toBe(1);
    const judge = scripted('sluice/judge', [{ phase: 'Error', message: 'no data' }, failed]);
    out = await step(runOf([judgeMetric]), judge, clock);
    clock.advance(2_000);
    out = await step(out.run, judge, clock);
    expect(judge.calls).toBe(1);
  });
});
