// The metric providers every AnalysisRun of this controller can use (the `job` provider is added per run
// by the analysis reconciler): Prometheus, web, Graphite, InfluxDB, and Sluice's own `sluice/proxy` and `sluice/judge`, which
// read the controller's histogram store.
import { createGraphiteProvider } from '../analysis/providers/graphite.ts';
import { createInfluxdbProvider } from '../analysis/providers/influxdb.ts';
import { createJudgeProvider } from '../analysis/providers/judge.ts';
import { createPrometheusProvider } from '../analysis/providers/prometheus.ts';
import type { MetricProvider } from '../analysis/providers/provider.ts';
import { createSluiceProxyProvider } from '../analysis/providers/sluice.ts';
import { createWebProvider } from '../analysis/providers/web.ts';
import type { HistogramStore } from '../control/histogram-store.ts';

export function createAnalysisProviders(histograms: HistogramStore): MetricProvider[] {
  return [
    createPrometheusProvider(),
    createWebProvider(),
    createGraphiteProvider(),
    createInfluxdbProvider(),
    createSluiceProxyProvider(histograms),
    createJudgeProvider({ store: histograms }),
  ];
}
