// The one interface every metric provider sits behind (Argo's metric/provider.go). A provider never
// throws into the engine: every failure becomes a result with phase Error and a message. Providers
// return the raw result; the engine evaluates successCondition / failureCondition on it, unless the
// provider decides the phase itself (judge, job) and the metric has no conditions.

export type MeasurementPhase = 'Running' | 'Successful' | 'Failed' | 'Inconclusive' | 'Error';

export interface ProviderRequest {
  readonly metricName: string;
  /** The metric's `provider` block after `{{args.x}}` substitution, e.g. `{ prometheus: {...} }`. */
  readonly provider: Readonly<Record<string, unknown>>;
  /** Injected clock, ms since epoch. */
  readonly nowMs: number;
  /** Aborted when the run is terminated or the engine shuts down. */
  readonly signal: AbortSignal;
  readonly runName?: string;
  readonly runNamespace?: string;
  /** Secret values resolved for this run; providers redact them from every message they return. */
  readonly secrets?: readonly string[];
  /**
   * Reads one key of a Secret (the runner's resolver: the kube store in the controller, `--secret` in
   * the CLI). Providers configured by a Secret (influxdb, datadog, ...) read it through this, in the
   * controller's namespace as Argo does (see providerSecretNamespace), and redact what they read.
   */
  readonly resolveSecret?: (ref: {
    readonly namespace?: string;
    readonly name: string;
    readonly key: string;
  }) => Promise<{ ok: true; value: string } | { ok: false; error: string }>;
}

/** Argo's defaults.Namespace(): where provider Secrets are read ($POD_NAMESPACE, else argo-rollouts). */
export function providerSecretNamespace(
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  const ns = env.POD_NAMESPACE;
  return ns !== undefined && ns !== '' ? ns : 'argo-rollouts';
}

export interface ProviderResult {
  /**
   * Set when the provider decides the phase itself: 'Error' for any failure (network, timeout, HTTP
   * error, bad query), 'Running' for asynchronous measurements, or a verdict (judge, job). Unset means
   * "evaluate the metric's conditions on `result`".
   */
  readonly phase?: MeasurementPhase;
  /** The value bound to `result` in conditions (number, number[], object, string, ...). */
  readonly result?: unknown;
  /** Measurement.value as Argo stores it, e.g. "0.99" or "[0.99,0.5]". */
  readonly value?: string;
  readonly message?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  /** For Running measurements: when the engine should call resume(). */
  readonly resumeAtMs?: number;
}

export interface MetricProvider {
  /** Provider key as it appears in the metric, e.g. "prometheus", "web", "sluice/proxy", "sluice/judge". */
  readonly type: string;
  run(request: ProviderRequest): Promise<ProviderResult>;
  /** Continues a Running measurement. */
  resume?(request: ProviderRequest, previous: ProviderResult): Promise<ProviderResult>;
  /** Stops a Running measurement (terminate / abort). */
  terminate?(request: ProviderRequest, previous: ProviderResult): Promise<ProviderResult>;
  /**
   * Metric-level metadata stored once on the MetricResult (Argo's GetMetadata), e.g.
   * `{ ResolvedPrometheusQuery: "..." }`. Must not throw.
   */
  metricMetadata?(request: ProviderRequest): Readonly<Record<string, string>> | undefined;
}
