import { build, encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import {
  createJudgeProvider,
  type JudgeOutcome,
  parseJudgeConfig,
} from '../../../../src/analysis/providers/judge.ts';
import type { ProviderRequest } from '../../../../src/analysis/providers/provider.ts';
import { createSluiceProxyProvider, parseDurationMs } from '../../../../src/analysis/providers/sluice.ts';
import { HistogramStore } from '../../../../src/control/histogram-store.ts';

function feed(
  store: HistogramStore,
  args: {
    endMs: number;
    role: string;
    revision: string;
    latenciesUs: number[];
    errors: number;
    proxyId?: string;
  },
): void {
  const h = build();
  for (const v of args.latenciesUs) h.recordValue(v);
  const requests = args.latenciesUs.length;
  const result = store.ingest({
    proxyId: args.proxyId ?? 'p1',
    route: 'checkout',
    namespace: 'shop',
    role: args.role,
    revision: args.revision,
    startMs: args.endMs - 1000,
    endMs: args.endMs,
    histogram: encodeIntoCompressedBase64(h),
    count1xx: 0,
    count2xx: requests - args.errors,
    count3xx: 0,
    count4xx: 0,
    count5xx: args.errors,
    requests,
    errors: args.errors,
  });
  expect(result.ok).toBe(true);
}

function request(provider: Record<string, unknown>, nowMs: number, metricName = 'm'): ProviderRequest {
  return {
    metricName,
    provider,
    nowMs,
    signal: new AbortController().signal,
    runName: 'run-1',
    runNamespace: 'shop',
  };
}

describe('sluice/proxy provider', () => {
  it('parses Go-style durations', () => {
    expect(parseDurationMs('2m')).toBe(120_000);
    expect(parseDurationMs('1h30m')).toBe(5_400_000);
    expect(parseDurationMs('1.5s')).toBe(1500);
    expect(parseDurationMs('2 minutes')).toBeUndefined();
  });

  it('returns latency in ms, rates as fractions and counts, over the window, for the canary role', async () => {
    const store = new HistogramStore({ nowMs: () => 200_000 });
    feed(store, {
      endMs: 100_000,
      role: 'canary',
      revision: 'c1',
      latenciesUs: [10_000, 20_000, 30_000, 40_000],
      errors: 1,
    });
    feed(store, { endMs: 10_000, role: 'canary', revision: 'c1', latenciesUs: [900_000], errors: 1 });
    const provider = createSluiceProxyProvider(store);
    const cfg = (metric: string, extra: Record<string, unknown> = {}) => ({
      plugin: { 'sluice/proxy': { route: 'checkout', revision: 'canary', metric, window: '2m', ...extra } },
    });
    const latency = await provider.run(request(cfg('latency', { quantile: '0.5' }), 200_000));
    expect(latency.phase).toBeUndefined();
    expect(latency.result).toBeCloseTo(20, 1);
    expect(latency.metadata).toMatchObject({
      window: '2m',
      requests: '4',
      revision: 'c1',
      namespace: 'shop',
    });
    expect((await provider.run(request(cfg('error-rate'), 200_000))).result).toBe(0.25);
    expect((await provider.run(request(cfg('success-rate'), 200_000))).result).toBe(0.75);
    expect((await provider.run(request(cfg('request-rate'), 200_000))).result).toBeCloseTo(4 / 120, 12);
    expect((await provider.run(request(cfg('requests'), 200_000))).value).toBe('4');
  });

  it('gives NaN (not an Error) when the window has no requests, as a Prometheus ratio does', async () => {
    const store = new HistogramStore({ nowMs: () => 1_000_000 });
    const provider = createSluiceProxyProvider(store);
    const r = await provider.run(
      request({ plugin: { 'sluice/proxy': { route: 'checkout', metric: 'error-rate' } } }, 1_000_000),
    );
    expect(r.phase).toBeUndefined();
    expect(Number.isNaN(r.result)).toBe(true);
    expect(r.value).toBe('NaN');
    expect(r.message).toMatch(/no requests/);
    const count = await provider.run(
      request({ plugin: { 'sluice/proxy': { route: 'checkout', metric: 'requests' } } }, 1_000_000),
    );
    expect(count.result).toBe(0);
  });

  it('returns an Error measurement naming the field for a bad config', async () => {
    const provider = createSluiceProxyProvider(new HistogramStore());
    const bad = [
      [{ plugin: { 'sluice/proxy': { metric: 'latency' } } }, 'provider.plugin.sluice/proxy.route'],
      [{ plugin: { 'sluice/proxy': { route: 'x', metric: 'p99' } } }, 'provider.plugin.sluice/proxy.metric'],
      [
        { plugin: { 'sluice/proxy': { route: 'x', metric: 'latency', quantile: 2 } } },
        'provider.plugin.sluice/proxy.quantile',
      ],
      [
        { plugin: { 'sluice/proxy': { route: 'x', metric: 'latency', window: '2 min' } } },
        'provider.plugin.sluice/proxy.window',
      ],
      [{ plugin: {} }, 'provider.plugin.sluice/proxy'],
    ] as const;
    for (const [cfg, field] of bad) {
      const r = await provider.run(request(cfg, 0));
      expect(r.phase).toBe('Error');
      expect(r.message).toContain(field);
    }
  });

  it('redacts a JSON-escaped secret and overlapping secrets longest-first from its messages', async () => {
    const provider = createSluiceProxyProvider(new HistogramStore({ nowMs: () => 1_000_000 }));
    const secrets = ['abc', 'abcdef', 'pa"ss'];
    const r = await provider.run({
      ...request({ plugin: { 'sluice/proxy': { route: 'abcdef-pa\\"ss', metric: 'requests' } } }, 1_000_000),
      secrets,
    });
    expect(r.message).toMatch(/no requests for route \*{5}-\*{5} /);
    for (const leaked of ['abc', 'def', 'pa', 'ss']) expect(r.message).not.toContain(leaked);
  });
});

describe('sluice/judge provider', () => {
  const judgeCfg = {
    plugin: {
      'sluice/judge': {
        route: 'checkout',
        alpha: 0.05,
        metrics: [{ name: 'error-rate' }, { name: 'latency', quantile: 0.95 }],
      },
    },
  };

  it('validates its config with errors naming the field', () => {
    const bad = parseJudgeConfig({
      plugin: { 'sluice/judge': { route: 'checkout', metrics: [{ name: 'cpu' }] } },
    });
    expect(!bad.ok && bad.field).toBe('provider.plugin.sluice/judge.metrics[0].name');
    const alpha = parseJudgeConfig({ plugin: { 'sluice/judge': { route: 'checkout', alpha: 5 } } });
    expect(!alpha.ok && alpha.field).toBe('provider.plugin.sluice/judge.alpha');
    const ok = parseJudgeConfig(judgeCfg);
    expect(ok.ok && ok.value.metrics.map((m) => m.label)).toEqual(['error-rate', 'latency-p95']);
  });

  it('passes identical revisions and fails a canary that errors on every request, checked every second', async () => {
    const store = new HistogramStore({ nowMs: () => 0 });
    const provider = createJudgeProvider({ store });
    const stableLatencies = Array.from({ length: 19 }, (_, i) => 10_000 + i * 1000);
    // Both revisions healthy for 30 s, then the canary (1 request in 20) fails every request.
    let firstFailureAt: number | undefined;
    let canaryFailures = 0;
    let last: JudgeOutcome | undefined;
    for (let second = 1; second <= 60; second++) {
      const endMs = second * 1000;
      const broken = second > 30;
      feed(store, {
        endMs,
        role: 'stable',
        revision: 's1',
        latenciesUs: stableLatencies,
        errors: second % 10 === 0 ? 1 : 0,
      });
      feed(store, { endMs, role: 'canary', revision: 'c1', latenciesUs: [15_000], errors: broken ? 1 : 0 });
      if (broken) canaryFailures += 1;
      const r = await provider.run(request(judgeCfg, endMs));
      last = r.result as JudgeOutcome;
      if (second === 30) expect(r.phase).toBe('Successful');
      if (r.phase === 'Failed' && firstFailureAt === undefined) firstFailureAt = canaryFailures;
    }
    expect(firstFailureAt).toBeDefined();
    expect(firstFailureAt).toBeLessThanOrEqual(4);
    expect(last?.metrics[0]?.classification).toBe('High');
    expect(last?.metrics[1]?.classification).toBe('Pass');
    expect(last?.score).toBe(50);
    // Deterministic: the same store, config and start give the same answer.
    const again = await createJudgeProvider({ store }).run(
      request({ plugin: { 'sluice/judge': { ...judgeCfg.plugin['sluice/judge'], since: 0 } } }, 60_000),
    );
    expect((again.result as JudgeOutcome).eValues).toEqual(last?.eValues);
  });

  it('is Inconclusive with no data rather than failing', async () => {
    const provider = createJudgeProvider({ store: new HistogramStore({ nowMs: () => 0 }) });
    const r = await provider.run(request(judgeCfg, 1000));
    expect(r.phase).toBe('Inconclusive');
    expect((r.result as JudgeOutcome).metrics.map((m) => m.classification)).toEqual(['NoData', 'NoData']);
  });
});
