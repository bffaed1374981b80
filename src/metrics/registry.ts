// The controller's metrics plumbing on prom-client: one Registry per controller process; counters and
// histograms updated by the controller are prom-client's own; series computed from the informer cache at
// each scrape (Argo's rollout_info & co.) are prom-client metrics whose collect() rebuilds them, so a
// deleted object's series disappears with it. A collect() that throws leaves its family empty for that
// scrape instead of failing the whole /metrics response (Prometheus would otherwise lose every series).

import { Counter, Gauge, Histogram, Registry as PromRegistry } from 'prom-client';

export { Counter, Gauge, Histogram };

export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  readonly labels: Labels;
  readonly value: number;
}

export class Registry extends PromRegistry {
  /** Text exposition format 0.0.4. */
  expose(): Promise<string> {
    return this.metrics();
  }
}

export function counter(registry: Registry, name: string, help: string, labelNames: readonly string[]) {
  return new Counter({ name, help, labelNames, registers: [registry] });
}

export function histogram(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly string[],
  buckets: readonly number[],
) {
  return new Histogram({ name, help, labelNames, buckets: [...buckets], registers: [registry] });
}

/**
 * Empties `metric` and puts `collect()`'s samples into it (nothing on a throw). reset() leaves a label-less
 * metric at 0; an empty collection means no sample, as before.
 */
function refill(
  metric: Gauge | Counter,
  labelNames: readonly string[],
  collect: () => Iterable<Sample>,
  put: (s: Sample) => void,
): void {
  const empty = (): void => {
    metric.reset();
    if (labelNames.length === 0) metric.remove({});
  };
  empty();
  try {
    for (const s of collect()) put(s);
  } catch {
    empty();
  }
}

/** A gauge whose samples are computed at scrape time. */
export function collectedGauge(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly string[],
  collect: () => Iterable<Sample>,
): Gauge {
  return new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      refill(this, labelNames, collect, (s) => this.set(s.labels, s.value));
    },
  });
}

/** A counter whose (monotonic) totals are read at scrape time from counts kept elsewhere. */
export function collectedCounter(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly string[],
  collect: () => Iterable<Sample>,
): Counter {
  return new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      refill(this, labelNames, collect, (s) => this.inc(s.labels, s.value));
    },
  });
}

function labelKey(names: readonly string[], labels: Labels): string {
  return names.map((n) => labels[n] ?? '').join('\u0000');
}

/**
 * A counter kept as plain numbers, read synchronously (`get`), exposed through a prom-client counter
 * evaluated at scrape time. For callers that read their own counts back (the control server's tests).
 */
export class Tally {
  readonly name: string;
  readonly labelNames: readonly string[];
  readonly #values = new Map<string, { labels: Labels; value: number }>();

  constructor(registry: Registry, name: string, help: string, labelNames: readonly string[]) {
    this.name = name;
    this.labelNames = labelNames;
    const values = this.#values;
    collectedCounter(registry, name, help, labelNames, function* () {
      for (const e of values.values()) yield e;
    });
  }

  inc(labels: Labels, by = 1): void {
    for (const n of this.labelNames) {
      if (typeof labels[n] !== 'string') throw new Error(`${this.name}: label "${n}" is required`);
    }
    const key = labelKey(this.labelNames, labels);
    const entry = this.#values.get(key);
    if (entry === undefined) this.#values.set(key, { labels: { ...labels }, value: by });
    else entry.value += by;
  }

  get(labels: Labels): number {
    return this.#values.get(labelKey(this.labelNames, labels))?.value ?? 0;
  }
}
