// Scheduling and phase rules of Argo's analysis controller (reference section 4.3), driven through the
// runner with a virtual clock: no sleeps, exact times.

import { describe, expect, it } from 'vitest';
import { planReconcile } from '../../../src/analysis/plan.ts';
import type { MetricProvider } from '../../../src/analysis/providers/provider.ts';
import { createProviderRegistry } from '../../../src/analysis/providers/registry.ts';
import { runAnalysis } from '../../../src/analysis/runner.ts';
import type { AnalysisRun } from '../../../src/api/analysis-run.ts';
import {
  metric,
  runOf,
  runScripted,
  scriptedProvider,
  T0,
  virtualClock,
} from '../../fixtures/analysis/scripted.ts';

const ok = { result: 1 };
const bad = { result: 0 };
const err = { phase: 'Error' as const, message: 'connection refused' };
const cond = { successCondition: 'result == 1' };

function phases(run: AnalysisRun, name: string): string[] {
  return run.status!.metricResults!.find((r) => r.name === name)!.measurements.map((m) => m.phase);
}
function resultOf(run: AnalysisRun, name: string) {
  return run.status!.metricResults!.find((r) => r.name === name)!;
}

describe('measurement scheduling', () => {
  it('takes one measurement when neither count nor interval is set', async () => {
    const p = scriptedProvider({ m: [ok] });
    const run = await runScripted(runOf([metric('m', cond)]), p);
    expect(p.calls.get('m')).toEqual([0]);
    expect(run.status?.phase).toBe('Successful');
    expect(run.status?.startedAt).toBe(new Date(T0).toISOString());
    expect(run.status?.completedAt).toBe(new Date(T0).toISOString());
  });

  it('takes count measurements one interval apart', async () => {
    const p = scriptedProvider({ m: [ok] });
    const run = await runScripted(runOf([metric('m', { ...cond, count: 3, interval: '1m' })]), p);
    expect(p.calls.get('m')).toEqual([0, 60_000, 120_000]);
    expect(resultOf(run, 'm')).toMatchObject({ count: 3, successful: 3, phase: 'Successful' });
  });

  it('waits initialDelay after the run started before the first measurement', async () => {
    const p = scriptedProvider({ m: [ok] });
    await runScripted(runOf([metric('m', { ...cond, initialDelay: '30s', count: 2, interval: '10s' })]), p);
    expect(p.calls.get('m')).toEqual([30_000, 40_000]);
  });

  it('does not count errors toward count and retries 10 s after an error', async () => {
    const p = scriptedProvider({ m: [err, ok, err, ok] });
    const run = await runScripted(runOf([metric('m', { ...cond, count: 2, interval: '1m' })]), p);
    expect(p.calls.get('m')).toEqual([0, 10_000, 70_000, 80_000]);
    expect(resultOf(run, 'm')).toMatchObject({ count: 2, error: 2, successful: 2, consecutiveError: 0 });
    expect(run.status?.phase).toBe('Successful');
  });

  it('retries an error on the 10 s requeue even when the interval is shorter', async () => {
    const p = scriptedProvider({ m: [err, ok] });
    await runScripted(runOf([metric('m', { ...cond, count: 2, interval: '2s' })]), p);
    expect(p.calls.get('m')).toEqual([0, 10_000, 12_000]);
  });

  it('errors after consecutiveErrorLimit + 1 consecutive errors (default limit 4)', async () => {
    const p = scriptedProvider({ m: [err] });
    const run = await runScripted(runOf([metric('m', { ...cond, interval: '1m' })]), p);
    expect(p.calls.get('m')).toEqual([0, 10_000, 20_000, 30_000, 40_000]);
    expect(run.status?.phase).toBe('Error');
    expect(run.status?.message).toBe(
      'Metric "m" assessed Error due to consecutiveErrors (5) > consecutiveErrorLimit (4): "Error Message: connection refused"',
    );
    expect(run.status?.runSummary).toEqual({ count: 1, successful: 0, failed: 0, inconclusive: 0, error: 1 });
  });

  it('honours a custom consecutiveErrorLimit and resets it on any non-error', async () => {
    const p = scriptedProvider({ m: [err, err, ok, err, err, err] });
    const run = await runScripted(
      runOf([metric('m', { ...cond, interval: '1m', consecutiveErrorLimit: 2 })]),
      p,
    );
    expect(p.calls.get('m')!.length).toBe(6);
    expect(resultOf(run, 'm')).toMatchObject({ phase: 'Error', error: 5, consecutiveError: 3, count: 1 });
  });

  it('scales interval, initialDelay and the error retry with intervalScale', async () => {
    const p = scriptedProvider({ m: [ok, err, ok] });
    await runScripted(runOf([metric('m', { ...cond, initialDelay: '1m', count: 2, interval: '1m' })]), p, {
      intervalScale: 0.01,
    });
    expect(p.calls.get('m')).toEqual([600, 1_200, 1_300]);
  });
});

describe('metric and run phase', () => {
  it('fails an unbounded metric when failed exceeds failureLimit, with Argo message', async () => {
    const p = scriptedProvider({ m: [ok, bad, bad, ok, bad] });
    const run = await runScripted(runOf([metric('m', { ...cond, interval: '1m', failureLimit: 2 })]), p);
    expect(phases(run, 'm')).toEqual(['Successful', 'Failed', 'Failed', 'Successful', 'Failed']);
    expect(run.status?.phase).toBe('Failed');
    expect(run.status?.message).toBe('Metric "m" assessed Failed due to failed (3) > failureLimit (2)');
  });

  it('Inconclusive when both conditions are false, over inconclusiveLimit', async () => {
    const p = scriptedProvider({ m: [{ result: 5 }] });
    const run = await runScripted(
      runOf([
        metric('m', {
          successCondition: 'result < 1',
          failureCondition: 'result > 10',
          interval: '1m',
          inconclusiveLimit: 1,
        }),
      ]),
      p,
    );
    expect(p.calls.get('m')!.length).toBe(2);
    expect(run.status?.phase).toBe('Inconclusive');
    expect(run.status?.message).toBe(
      'Metric "m" assessed Inconclusive due to inconclusive (2) > inconclusiveLimit (1)',
    );
  });

  it('failureLimit -1 with consecutiveSuccessLimit succeeds after enough successes in a row', async () => {
    const p = scriptedProvider({ m: [bad, ok, bad, bad, ok, ok] });
    const run = await runScripted(
      runOf([metric('m', { ...cond, interval: '1m', failureLimit: -1, consecutiveSuccessLimit: 2 })]),
      p,
    );
    expect(p.calls.get('m')!.length).toBe(6);
    expect(run.status?.phase).toBe('Successful');
  });

  it('count reached without consecutiveSuccessLimit being met is Inconclusive', async () => {
    const p = scriptedProvider({ m: [ok, bad, ok] });
    const run = await runScripted(
      runOf([
        metric('m', { ...cond, count: 3, interval: '1m', failureLimit: 1, consecutiveSuccessLimit: 2 }),
      ]),
      p,
    );
    expect(run.status?.phase).toBe('Inconclusive');
  });

  it('a failing metric terminates the others: no new measurements, unbounded ones resolve Successful', async () => {
    const p = scriptedProvider({ fast: [bad], slow: [ok] });
    const run = await runScripted(
      runOf([metric('slow', { ...cond, interval: '1m' }), metric('fast', { ...cond, initialDelay: '90s' })]),
      p,
    );
    expect(p.calls.get('slow')).toEqual([0, 60_000]);
    expect(p.calls.get('fast')).toEqual([90_000]);
    expect(resultOf(run, 'slow').phase).toBe('Successful');
    expect(run.status?.phase).toBe('Failed');
    expect(run.status?.completedAt).toBe(new Date(T0 + 90_000).toISOString());
  });

  it('the run verdict is the worst phase: Failed over Error over Inconclusive', async () => {
    const p = scriptedProvider({ e: [err], f: [bad], i: [{ result: 5 }] });
    const run = await runScripted(
      runOf([
        metric('e', { ...cond, consecutiveErrorLimit: 0 }),
        metric('i', { successCondition: 'result < 1', failureCondition: 'result > 10' }),
        metric('f', cond),
      ]),
      p,
    );
    expect(run.status?.metricResults?.map((r) => r.phase)).toEqual(['Error', 'Inconclusive', 'Failed']);
    expect(run.status?.phase).toBe('Failed');
    expect(run.status?.runSummary).toEqual({ count: 3, successful: 0, failed: 1, inconclusive: 1, error: 1 });
  });

  it('spec.terminate: unbounded metrics end Successful with "Run Terminated"', async () => {
    const terminate = new AbortController();
    const p = scriptedProvider({
      m: [
        ok,
        ok,
        (req) => {
          if (req.nowMs - T0 >= 120_000) terminate.abort();
          return ok;
        },
      ],
    });
    const run = await runScripted(runOf([metric('m', { ...cond, interval: '1m' })]), p, {
      terminateSignal: terminate.signal,
    });
    expect(p.calls.get('m')).toEqual([0, 60_000, 120_000]);
    expect(run.status?.phase).toBe('Successful');
    expect(run.status?.message).toBe('Run Terminated');
  });

  it('terminated before any measurement -> Successful', async () => {
    const p = scriptedProvider({ m: [ok] });
    const run = await runScripted(
      runOf([metric('m', { ...cond, initialDelay: '5m' })], { terminate: true }),
      p,
    );
    expect(p.calls.size).toBe(0);
    expect(run.status?.phase).toBe('Successful');
    expect(run.status?.message).toBe('Run Terminated');
  });

  it('durationMs stops metrics without a count and judges them; counted metrics finish normally', async () => {
    const p = scriptedProvider({ u: [ok], c: [ok] });
    const run = await runScripted(
      runOf([metric('u', { ...cond, interval: '1m' }), metric('c', { ...cond, count: 8, interval: '1m' })]),
      p,
      { durationMs: 150_000 },
    );
    expect(p.calls.get('u')).toEqual([0, 60_000, 120_000]);
    expect(p.calls.get('c')!.length).toBe(8);
    expect(run.status?.phase).toBe('Successful');
    expect(run.status?.message).toBeUndefined();
  });

  it('resumes a Running measurement at resumeAt and terminates it when the run stops', async () => {
    let resumed = 0;
    const provider: MetricProvider = {
      type: 'web',
      run: async (req) => ({ phase: 'Running', resumeAtMs: req.nowMs + 5_000 }),
      resume: async (req) => {
        resumed++;
        return resumed < 3 ? { phase: 'Running', resumeAtMs: req.nowMs + 5_000 } : { phase: 'Successful' };
      },
    };
    const clock = virtualClock();
    const run = await runAnalysis(runOf([metric('m')]), {
      providers: createProviderRegistry([provider]),
      clock,
    });
    expect(resumed).toBe(3);
    expect(clock.now() - T0).toBe(15_000);
    expect(run.status?.phase).toBe('Successful');
    expect(resultOf(run, 'm').measurements).toHaveLength(1);
  });
});

describe('dryRun and measurementRetention', () => {
  it('dry-run metrics (unanchored regex) do not affect the verdict and are summarised apart', async () => {
    const p = scriptedProvider({ 'error-rate': [bad], latency: [ok] });
    const run = await runScripted(
      runOf([metric('error-rate', cond), metric('latency', cond)], { dryRun: [{ metricName: 'rate' }] }),
      p,
    );
    expect(run.status?.phase).toBe('Successful');
    expect(resultOf(run, 'error-rate')).toMatchObject({ phase: 'Failed', dryRun: true });
    expect(run.status?.dryRunSummary).toEqual({
      count: 1,
      successful: 0,
      failed: 1,
      inconclusive: 0,
      error: 0,
    });
    expect(run.status?.runSummary).toEqual({ count: 1, successful: 1, failed: 0, inconclusive: 0, error: 0 });
  });

  it('dryRun rules are Go regexps (RE2): (?i) and \\pL are understood', async () => {
    const p = scriptedProvider({ 'Error-Rate': [bad], latency: [ok] });
    const run = await runScripted(
      runOf([metric('Error-Rate', cond), metric('latency', cond)], {
        dryRun: [{ metricName: '(?i)^error-\\pL+$' }],
      }),
      p,
    );
    expect(run.status?.phase).toBe('Successful');
    expect(resultOf(run, 'Error-Rate')).toMatchObject({ phase: 'Failed', dryRun: true });
  });

  it('a dryRun rule that matches nothing puts the run in Error', async () => {
    const p = scriptedProvider({});
    const run = await runScripted(runOf([metric('m', cond)], { dryRun: [{ metricName: '^nope$' }] }), p);
    expect(run.status?.phase).toBe('Error');
    expect(run.status?.message).toBe(
      "Analysis spec invalid: dryRun[0]: Rule didn't match any metric name(s)",
    );
    expect(p.calls.size).toBe(0);
  });

  it('keeps the last 10 measurements by default and the configured limit per metric', async () => {
    const p = scriptedProvider({ a: [ok], b: [ok] });
    const run = await runScripted(
      runOf(
        [
          metric('a', { ...cond, count: 15, interval: '1s' }),
          metric('b', { ...cond, count: 15, interval: '1s' }),
        ],
        {
          measurementRetention: [{ metricName: '^b$', limit: 3 }],
        },
      ),
      p,
    );
    expect(resultOf(run, 'a').measurements).toHaveLength(10);
    expect(resultOf(run, 'b').measurements).toHaveLength(3);
    expect(resultOf(run, 'b').count).toBe(15);
    expect(resultOf(run, 'a').measurements[9]!.finishedAt).toBe(new Date(T0 + 14_000).toISOString());
  });
});

describe('invalid specs become a run in phase Error, never an exception', () => {
  const cases: Array<[string, AnalysisRun, RegExp]> = [
    ['duplicate metric names', runOf([metric('m'), metric('m')]), /metrics\[1\]\.name: duplicate name 'm'/],
    [
      'count > 1 without interval',
      runOf([metric('m', { count: 3 })]),
      /metrics\[0\]\.interval: must be specified when count > 1/,
    ],
    [
      'count < failureLimit',
      runOf([metric('m', { count: 1, failureLimit: 2 })]),
      /metrics\[0\]\.count: must be >= failureLimit/,
    ],
    [
      'failureLimit -1 without consecutiveSuccessLimit',
      runOf([metric('m', { failureLimit: -1 })]),
      /metrics\[0\]\.failureLimit/,
    ],
    [
      'bad interval',
      runOf([metric('m', { interval: '5 minutes' })]),
      /metrics\[0\]\.interval: invalid duration/,
    ],
    ['no provider', runOf([{ name: 'm', provider: {} }]), /metrics\[0\]\.provider: no provider specified/],
    ['two providers', runOf([{ name: 'm', provider: { web: {}, prometheus: {} } }]), /multiple providers/],
    [
      'count from an arg that is not a number',
      runOf([metric('m', { count: '{{args.n}}', interval: '1m' })], { args: [{ name: 'n', value: 'many' }] }),
      /metrics\[0\]\.count: "many" is not an integer/,
    ],
    [
      'arg without a value (fieldRef not resolved at creation)',
      runOf([metric('m')], {
        args: [{ name: 'x', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
      }),
      /Unable to resolve metric arguments: argument "x" was not supplied/,
    ],
    [
      'reference to an undeclared arg',
      runOf([metric('m', { successCondition: 'result == {{ args.missing }}' })]),
      /failed to resolve \{\{args\.missing\}\}/,
    ],
    ['no metrics', runOf([]), /no metrics specified/],
  ];
  it.each(cases)('%s', async (_n, run, message) => {
    const out = await runScripted(run, scriptedProvider({}));
    expect(out.status?.phase).toBe('Error');
    expect(out.status?.message).toMatch(message);
  });

  it('counts limits filled from args as numbers', async () => {
    const p = scriptedProvider({ m: [bad] });
    const run = await runScripted(
      runOf([metric('m', { ...cond, interval: '1m', failureLimit: '{{args.limit}}' })], {
        args: [{ name: 'limit', value: '2' }],
      }),
      p,
    );
    expect(p.calls.get('m')!.length).toBe(3);
    expect(run.status?.phase).toBe('Failed');
  });
});

describe('providers never break the engine', () => {
  it('a provider that throws gives an Error measurement', async () => {
    const provider: MetricProvider = {
      type: 'web',
      run: async () => {
        throw new Error('kaboom');
      },
    };
    const run = await runAnalysis(runOf([metric('m', { consecutiveErrorLimit: 0 })]), {
      providers: createProviderRegistry([provider]),
      clock: virtualClock(),
    });
    expect(run.status?.phase).toBe('Error');
    expect(resultOf(run, 'm').measurements[0]!.message).toBe('provider web failed: kaboom');
  });

  it('a metric whose plugin is not configured gets Error measurements in Argo words', async () => {
    const run = await runScripted(
      runOf([{ name: 'm', provider: { plugin: { 'acme/x': {} } }, consecutiveErrorLimit: 0 }]),
      scriptedProvider({}),
    );
    expect(resultOf(run, 'm').measurements[0]!.message).toBe('plugin acme/x not configured in configmap');
  });
});

describe('secrets', () => {
  it('redacts secret arg values from measurement, metric and run messages', async () => {
    const secret = 's3cr3t-token';
    const p = scriptedProvider({
      m: [(req) => ({ phase: 'Error', message: `401 for token ${JSON.stringify(req.provider)}` })],
    });
    const run = await runScripted(
      runOf(
        [
          metric('m', {
            consecutiveErrorLimit: 0,
            provider: {
              web: {
                url: 'http://127.0.0.1:1/',
                headers: [{ key: 'Authorization', value: 'Bearer {{args.token}}' }],
              },
            },
          }),
        ],
        { args: [{ name: 'token', valueFrom: { secretKeyRef: { name: 'creds', key: 'token' } } }] },
      ),
      p,
      {
        resolveSecret: async (ref) =>
          ref.name === 'creds' && ref.key === 'token'
            ? { ok: true, value: secret }
            : { ok: false, error: 'nope' },
      },
    );
    expect(run.status?.phase).toBe('Error');
    const text = JSON.stringify(run.status);
    expect(text).not.toContain(secret);
    expect(text).toContain('Bearer *****');
  });

  it('a secret that cannot be read is an Error run naming the arg', async () => {
    const run = await runScripted(
      runOf([metric('m')], {
        args: [{ name: 'token', valueFrom: { secretKeyRef: { name: 'creds', key: 'token' } } }],
      }),
      scriptedProvider({}),
      { resolveSecret: async () => ({ ok: false, error: 'secret "creds" not found' }) },
    );
    expect(run.status?.phase).toBe('Error');
    expect(run.status?.message).toBe(
      'Unable to resolve metric arguments: args.token: secret "creds" not found',
    );
  });
});

describe('planReconcile (pure)', () => {
  it('leaves a completed run alone', () => {
    const run: AnalysisRun = { ...runOf([metric('m')]), status: { phase: 'Successful' } };
    expect(
      planReconcile(run, { nowMs: T0, args: { ok: true, value: { values: {}, secrets: [] } } }).kind,
    ).toBe('complete');
  });
});

describe('logging', () => {
  it('logs measurements, transitions and the verdict without secret values', async () => {
    const lines: string[] = [];
    const logger = {
      info: (f: Record<string, unknown>, m: string) => lines.push(`${m} ${JSON.stringify(f)}`),
      warn: (f: Record<string, unknown>, m: string) => lines.push(`${m} ${JSON.stringify(f)}`),
    };
    const p = scriptedProvider({
      m: [(req) => ({ phase: 'Error', message: `denied ${String(JSON.stringify(req.provider))}` })],
    });
    await runScripted(
      runOf(
        [
          metric('m', {
            consecutiveErrorLimit: 0,
            provider: { web: { url: 'http://127.0.0.1:1/?k={{args.k}}' } },
          }),
        ],
        {
          args: [{ name: 'k', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }],
        },
      ),
      p,
      { logger, resolveSecret: async () => ({ ok: true, value: 'topsecret' }) },
    );
    expect(lines.some((l) => l.startsWith('Measurement had error'))).toBe(true);
    expect(lines.some((l) => l.startsWith('Analysis Completed. Result: Error'))).toBe(true);
    expect(lines.join('\n')).not.toContain('topsecret');
  });
});

describe('provider verdicts', () => {
  it("a provider's own phase stands when the metric has no conditions; conditions override it otherwise", async () => {
    const p = scriptedProvider({
      verdict: [{ phase: 'Failed', result: 3 }],
      conditioned: [{ phase: 'Failed', result: 3 }],
    });
    const run = await runScripted(
      runOf([metric('verdict'), metric('conditioned', { successCondition: 'result == 3' })], {
        dryRun: [{ metricName: 'verdict' }],
      }),
      p,
    );
    expect(resultOf(run, 'verdict').measurements[0]!.phase).toBe('Failed');
    expect(resultOf(run, 'conditioned').measurements[0]!.phase).toBe('Successful');
    expect(resultOf(run, 'conditioned').measurements[0]!.value).toBe('3');
  });

  it('terminating a Running measurement marks it "Metric Terminated"', async () => {
    const terminate = new AbortController();
    const provider: MetricProvider = {
      type: 'web',
      run: async (req) => {
        terminate.abort();
        return { phase: 'Running', resumeAtMs: req.nowMs + 60_000 };
      },
      terminate: async () => ({ phase: 'Successful' }),
    };
    const run = await runAnalysis(runOf([metric('m')]), {
      providers: createProviderRegistry([provider]),
      clock: virtualClock(),
      terminateSignal: terminate.signal,
    });
    expect(resultOf(run, 'm').measurements[0]).toMatchObject({
      phase: 'Successful',
      message: 'Metric Terminated',
    });
    expect(run.status?.phase).toBe('Successful');
    expect(run.status?.message).toBe('Run Terminated');
  });
});
