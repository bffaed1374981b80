// The metric providers every AnalysisRun of this controller can use (the `job` provider is added per run
// by the analysis reconciler): Prometheus, web, Graphite, InfluxDB, Datadog, New Relic, CloudWatch, Kayenta, and Sluice's own `sluice/proxy` and `sluice/judge`, which
// read the controller's histogram store; metric plugins are added at start (loadMetricPlugins).
import { createCloudWatchProvider } from '../analysis/providers/cloudwatch.ts';
import { createDatadogProvider } from '../analysis/providers/datadog.ts';
import { createGraphiteProvider } from '../analysis/providers/graphite.ts';
import { createInfluxdbProvider } from '../analysis/providers/influxdb.ts';
import { createJudgeProvider } from '../analysis/providers/judge.ts';
import { createKayentaProvider } from '../analysis/providers/kayenta.ts';
import { createNewRelicProvider } from '../analysis/providers/newrelic.ts';
import {
  createPluginProvider,
  type MetricPluginEntry,
  mergeMetricPlugins,
  PLUGIN_CONFIGMAP_NAME,
  type PluginProvider,
  parseMetricPluginConfigMap,
} from '../analysis/providers/plugin.ts';
import { createPrometheusProvider } from '../analysis/providers/prometheus.ts';
import { type MetricProvider, providerSecretNamespace } from '../analysis/providers/provider.ts';
import { createSluiceProxyProvider } from '../analysis/providers/sluice.ts';
import { createWebProvider } from '../analysis/providers/web.ts';
import { errorText, SluiceError } from '../api/errors.ts';
import type { KubeObject } from '../api/meta.ts';
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

/**
 * The metric plugins of `--metric-plugin NAME=PATH` and of the `argo-rollouts-config` ConfigMap's
 * `metricProviderPlugins` in the controller's namespace ($POD_NAMESPACE, else argo-rollouts), checked
 * at start: a missing file, an http(s) location or a bad entry stops the controller with a message.
 */
export async function loadMetricPlugins(
  readConfigMap: (namespace: string, name: string) => Promise<KubeObject | undefined>,
  flags: readonly MetricPluginEntry[],
): Promise<PluginProvider[]> {
  const namespace = providerSecretNamespace();
  let configMap: (KubeObject & { data?: unknown }) | undefined;
  try {
    configMap = await readConfigMap(namespace, PLUGIN_CONFIGMAP_NAME);
  } catch (error) {
    throw new SluiceError(
      'SLUICE_USAGE',
      `ConfigMap ${namespace}/${PLUGIN_CONFIGMAP_NAME}: ${errorText(error)}`,
    );
  }
  const fromConfigMap = parseMetricPluginConfigMap(configMap?.data);
  if (!fromConfigMap.ok) throw new SluiceError('SLUICE_USAGE', fromConfigMap.error);
  const all = mergeMetricPlugins(flags, fromConfigMap.value);
  if (!all.ok) throw new SluiceError('SLUICE_USAGE', all.error);
  return all.value.map((entry) => createPluginProvider(entry));
}
