// The metric providers every AnalysisRun of this controller can use (the `job` provider is added per run
// by the analysis reconciler): Prometheus, web, Graphite, InfluxDB, Datadog, New Relic, CloudWatch, Kayenta, and Sluice's own `sluice/proxy` and `sluice/judge`, which
// read the controller's histogram store.
import { createCloudWatchProvider } from '../analysis/providers/cloudwatch.ts';
import { createDatadogProvider } from '../analysis/providers/datadog.ts';
import { createGraphiteProvider } from '../analysis/providers/graphite.ts';
import { createInfluxdbProvider } from '../analysis/providers/influxdb.ts';
import { createJudgeProvider } from '../analysis/providers/judge.ts';
import { createKayentaProvider } from '../analysis/providers/kayenta.ts';
import { createNewRelicProvider } from '../analysis/providers/newrelic.ts';
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
    createDatadogProvider(),
    createNewRelicProvider(),
    createCloudWatchProvider(),
    createKayentaProvider(),
    createSluiceProxyProvider(histograms),
    createJudgeProvider({ store: histograms }),
  ];
}
