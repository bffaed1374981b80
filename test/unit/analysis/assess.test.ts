import { describe, expect, it } from 'vitest';
import {
  assessLimits,
  assessMetricStatus,
  assessRunStatus,
  emptyResult,
  isWorse,
} from '../../../src/analysis/assess.ts';
import type { MetricResult, MetricSettings } from '../../../src/api/analysis-run.ts';

const settings = (s: Partial<MetricSettings> = {}): MetricSettings => ({
  name: 'm',
  failureLimit: 0,
  inconclusiveLimit: 0,
  consecutiveErrorLimit: 4,
  consecutiveSuccessLimit: 0,
  ...s,
});

const done = { phase: 'Successful' as const, finishedAt: '2025-01-01T00:00:00.000Z' };
const result = (r: Partial<MetricResult> = {}): MetricResult => ({
  ...emptyResult('m', false),
  measurements: [done],
  ...r,
});

describe('metric phase (assessMetricStatus)', () => {
  const table: Array<[string, MetricSettings, MetricResult, boolean, string]> = [
    ['no measurements -> Pending', settings(), result({ measurements: [] }), false, 'Pending'],
    [
      'no measurements while terminating -> Successful',
      settings(),
      result({ measurements: [] }),
      true,
      'Successful',
    ],
    [
      'last measurement in flight -> Running',
      settings(),
      result({ measurements: [{ phase: 'Running' }], failed: 9 }),
      false,
      'Running',
    ],
    [
      'failed > failureLimit -> Failed',
      settings({ failureLimit: 2 }),
      result({ failed: 3, count: 3 }),
      false,
      'Failed',
    ],
    [
      'failed == failureLimit, unbounded -> Running',
      settings({ failureLimit: 2 }),
      result({ failed: 2, count: 2 }),
      false,
      'Running',
    ],
    [
      'failureLimit -1 never fails',
      settings({ failureLimit: -1, consecutiveSuccessLimit: 2 }),
      result({ failed: 50, count: 50 }),
      false,
      'Running',
    ],
    [
      'inconclusive > inconclusiveLimit -> Inconclusive',
      settings(),
      result({ inconclusive: 1, count: 1 }),
      false,
      'Inconclusive',
    ],
    [
      'consecutiveError 5 > default limit 4 -> Error',
      settings(),
      result({ consecutiveError: 5, error: 5 }),
      false,
      'Error',
    ],
    [
      'consecutiveError 4 == limit 4 -> still Running',
      settings(),
      result({ consecutiveError: 4, error: 4 }),
      false,
      'Running',
    ],
    [
      'Inconclusive beats Failed when both trip',
      settings(),
      result({ failed: 1, inconclusive: 1, count: 2 }),
      false,
      'Inconclusive',
    ],
    [
      'Error beats Inconclusive and Failed',
      settings(),
      result({ failed: 1, inconclusive: 1, consecutiveError: 5, count: 2 }),
      false,
      'Error',
    ],
    [
      'consecutiveSuccess reaches limit -> Successful',
      settings({ consecutiveSuccessLimit: 3 }),
      result({ consecutiveSuccess: 3, count: 3 }),
      false,
      'Successful',
    ],
    [
      'count reached -> Successful',
      settings({ effectiveCount: 3 }),
      result({ count: 3, successful: 3 }),
      false,
      'Successful',
    ],
    [
      'count reached with consecutiveSuccessLimit and failureLimit >= 0 -> Inconclusive',
      settings({ effectiveCount: 4, failureLimit: 1, consecutiveSuccessLimit: 3 }),
      result({ count: 4, consecutiveSuccess: 2, failed: 1 }),
      false,
      'Inconclusive',
    ],
    [
      'count reached with consecutiveSuccessLimit and failureLimit -1 -> Failed',
      settings({ effectiveCount: 4, failureLimit: -1, consecutiveSuccessLimit: 3 }),
      result({ count: 4, consecutiveSuccess: 2, failed: 2 }),
      false,
      'Failed',
    ],
    [
      'errors do not reach count',
      settings({ effectiveCount: 2 }),
      result({ count: 1, error: 3, consecutiveError: 0 }),
      false,
      'Running',
    ],
    ['unbounded -> Running', settings({ intervalMs: 1000 }), result({ count: 100 }), false, 'Running'],
    [
      'unbounded while terminating -> Successful',
      settings({ intervalMs: 1000 }),
      result({ count: 100 }),
      true,
      'Successful',
    ],
  ];
  it.each(table)('%s', (_n, s, r, terminating, phase) => {
    expect(assessMetricStatus(s, r, terminating).phase).toBe(phase);
  });

  it('formats the limit messages as Argo does', () => {
    expect(
      assessLimits(settings({ failureLimit: 2 }), { failed: 3, inconclusive: 0, consecutiveError: 0 })
        .message,
    ).toBe('failed (3) > failureLimit (2)');
    expect(assessLimits(settings(), { failed: 0, inconclusive: 1, consecutiveError: 0 }).message).toBe(
      'inconclusive (1) > inconclusiveLimit (0)',
    );
    expect(assessLimits(settings(), { failed: 0, inconclusive: 0, consecutiveError: 5 }).message).toBe(
      'consecutiveErrors (5) > consecutiveErrorLimit (4)',
    );
  });
});

describe('run phase (assessRunStatus)', () => {
  it('orders phases Successful < Running < Pending < Inconclusive < Error < Failed', () => {
    const order = ['Successful', 'Running', 'Pending', 'Inconclusive', 'Error', 'Failed'] as const;
    for (let i = 0; i < order.length; i++) {
      for (let j = 0; j < order.length; j++) {
        expect(isWorse(order[i]!, order[j]!)).toBe(j > i);
      }
    }
  });

  const input = (name: string, s: Partial<MetricSettings> = {}, dryRun = false) => ({
    settings: settings({ name, effectiveCount: 1, ...s }),
    dryRun,
    terminating: false,
  });

  it('stays Running until every metric is complete', () => {
    const a = assessRunStatus(
      [input('a'), input('b', { intervalMs: 1000, effectiveCount: undefined })],
      [
        { ...result({ count: 1, successful: 1 }), name: 'a' },
        { ...result({ count: 1, successful: 1 }), name: 'b' },
      ],
      false,
      false,
    );
    expect(a.phase).toBe('Running');
    expect(a.metricResults.map((r) => r.phase)).toEqual(['Successful', 'Running']);
  });

  it('is the worst completed phase and names the metric and limit in the message', () => {
    const a = assessRunStatus(
      [input('a'), input('b'), input('c')],
      [
        { ...result({ count: 1, successful: 1 }), name: 'a' },
        {
          ...result({ count: 1, inconclusive: 1, measurements: [{ ...done, phase: 'Inconclusive' }] }),
          name: 'b',
        },
        {
          ...result({ count: 1, failed: 1, measurements: [{ ...done, phase: 'Failed', message: 'boom' }] }),
          name: 'c',
        },
      ],
      false,
      false,
    );
    expect(a.phase).toBe('Failed');
    expect(a.message).toBe(
      'Metric "c" assessed Failed due to failed (1) > failureLimit (0): "Error Message: boom"',
    );
    expect(a.runSummary).toEqual({ count: 3, successful: 1, failed: 1, inconclusive: 1, error: 0 });
  });

  it('ignores dry-run metrics in the verdict and counts them in dryRunSummary', () => {
    const a = assessRunStatus(
      [input('a'), input('b', {}, true)],
      [
        { ...result({ count: 1, successful: 1 }), name: 'a' },
        {
          ...result({ count: 1, failed: 1, measurements: [{ ...done, phase: 'Failed' }] }),
          name: 'b',
          dryRun: true,
        },
      ],
      false,
      false,
    );
    expect(a.phase).toBe('Successful');
    expect(a.dryRunSummary).toEqual({ count: 1, successful: 0, failed: 1, inconclusive: 0, error: 0 });
    expect(a.runSummary).toEqual({ count: 1, successful: 1, failed: 0, inconclusive: 0, error: 0 });
    expect(a.metricResults[1]!.message).toBe('Metric assessed Failed due to failed (1) > failureLimit (0)');
  });

  it('terminated with nothing measured -> Successful with "Run Terminated"', () => {
    const a = assessRunStatus([input('a', { initialDelayMs: 60_000 })], [], true, true);
    expect(a.phase).toBe('Successful');
    expect(a.message).toBe('Run Terminated');
  });
});
