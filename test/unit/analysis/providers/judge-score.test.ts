// The judge's scoring (Kayenta's, with onNoData): metrics without data are left out of the score, the
// NoData rule decides only when nothing was found, and a regression found is a verdict at once, even on
// the first stratum, where the latency test has no stable threshold yet (found by bench/blast-radius.ts:
// the first second of a failing canary could never fail, which held verdicts back by a second).
import { describe, expect, it } from 'vitest';
import { parseJudgeConfig, scoreOf } from '../../../../src/analysis/providers/judge.ts';

function config(onNoData: string) {
  const parsed = parseJudgeConfig({
    plugin: {
      'sluice/judge': { route: 'r', onNoData, metrics: [{ name: 'error-rate' }, { name: 'latency' }] },
    },
  });
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.value;
}

describe('judge scoring', () => {
  it('fails on a regression while the other metric has no data, whatever onNoData says', () => {
    for (const onNoData of ['Successful', 'Inconclusive']) {
      const verdict = scoreOf(
        [
          { name: 'error-rate', classification: 'High' },
          { name: 'latency-p95', classification: 'NoData' },
        ],
        config(onNoData),
      );
      expect(verdict).toEqual({ score: 0, phase: 'Failed', reason: 'regression detected: error-rate High' });
    }
  });

  it('maps "nothing found, half the metrics without data" by onNoData', () => {
    const metrics = [
      { name: 'error-rate', classification: 'Pass' as const },
      { name: 'latency-p95', classification: 'NoData' as const },
    ];
    expect(scoreOf(metrics, config('Successful')).phase).toBe('Successful');
    expect(scoreOf(metrics, config('Inconclusive'))).toMatchObject({
      phase: 'Inconclusive',
      reason: 'no data for 1 of 2 metrics',
    });
  });

  it('passes when every metric with data passes and most have data', () => {
    const verdict = scoreOf(
      [
        { name: 'error-rate', classification: 'Pass' },
        { name: 'latency-p95', classification: 'Pass' },
      ],
      config('Inconclusive'),
    );
    expect(verdict).toEqual({ score: 100, phase: 'Successful', reason: 'no regression detected' });
  });
});
