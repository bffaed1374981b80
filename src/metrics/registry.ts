// A small Prometheus registry: counters, gauges and histograms with labels, plus collectors that produce
// samples at scrape time (Argo computes rollout_info & co. from the informer cache on each scrape), and
// the text exposition format 0.0.4. One registry per controller process.

export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  readonly labels: Labels;
  readonly value: number;
}

export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  samples(): Iterable<{ suffix: string; labels: Labels; value: number }>;
}

function labelKey(names: readonly string[], labels: Labels): string {
  return names.map((n) => labels[n] ?? '').join('\u0000');
}

export function escapeLabelValue(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('"', '\\"');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

function checkLabels(metric: string, names: readonly string[], labels: Labels): void {
  for (const n of names) {
    if (typeof labels[n] !== 'string') throw new Error(`${metric}: label "${n}" is required`);
  }
}

export class Counter implements MetricFamily {
  readonly type = 'counter' as const;
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly #values = new Map<string, { labels: Labels; value: number }>();

  constructor(name: string, help: string, labelNames: readonly string[]) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }

  inc(labels: Labels, by = 1): void {
    checkLabels(this.name, this.labelNames, labels);
    const key = labelKey(this.labelNames, labels);
    const entry = this.#values.get(key);
    if (entry === undefined) this.#values.set(key, { labels: { ...labels }, value: by });
    else entry.value += by;
  }

  get(labels: Labels): number {
    return this.#values.get(labelKey(this.labelNames, labels))?.value ?? 0;
  }

  /** Drops the series of one object (e.g. a deleted Rollout). */
  remove(match: Labels): void {
    for (const [k, e] of this.#values) {
      if (Object.entries(match).every(([n, v]) => e.labels[n] === v)) this.#values.delete(k);
    }
  }

  *samples() {
    for (const e of this.#values.values()) yield { suffix: '', labels: e.labels, value: e.value };
  }
}

export class Histogram implements MetricFamily {
  readonly type = 'histogram' as const;
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly buckets: readonly number[];
  readonly #values = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
    this.buckets = [...buckets].sort((a, b) => a - b);
  }

  observe(labels: Labels, value: number): void {
    checkLabels(this.name, this.labelNames, labels);
    const key = labelKey(this.labelNames, labels);
    let entry = this.#values.get(key);
    if (entry === undefined) {
      entry = { labels: { ...labels }, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.#values.set(key, entry);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) entry.counts[i]! += 1;
    entry.sum += value;
    entry.count += 1;
  }

  remove(match: Labels): void {
    for (const [k, e] of this.#values) {
      if (Object.entries(match).every(([n, v]) => e.labels[n] === v)) this.#values.delete(k);
    }
  }

  *samples() {
    for (const e of this.#values.values()) {
      for (let i = 0; i < this.buckets.length; i++) {
        yield {
          suffix: '_bucket',
          labels: { ...e.labels, le: formatValue(this.buckets[i]!) },
          value: e.counts[i]!,
        };
      }
      yield { suffix: '_bucket', labels: { ...e.labels, le: '+Inf' }, value: e.count };
      yield { suffix: '_sum', labels: e.labels, value: e.sum };
      yield { suffix: '_count', labels: e.labels, value: e.count };
    }
  }
}

/** A gauge (or counter) whose samples are computed at scrape time. */
export class Collector implements MetricFamily {
  readonly type: 'gauge' | 'counter';
  readonly name: string;
  readonly help: string;
  readonly #collect: () => Iterable<Sample>;

  constructor(
    name: string,
    help: string,
    collect: () => Iterable<Sample>,
    type: 'gauge' | 'counter' = 'gauge',
  ) {
    this.name = name;
    this.help = help;
    this.#collect = collect;
    this.type = type;
  }

  *samples() {
    for (const s of this.#collect()) yield { suffix: '', labels: s.labels, value: s.value };
  }
}

export class Registry {
  readonly #families: MetricFamily[] = [];

  register<T extends MetricFamily>(family: T): T {
    if (this.#families.some((f) => f.name === family.name))
      throw new Error(`metric ${family.name} registered twice`);
    this.#families.push(family);
    return family;
  }

  /** Text exposition format 0.0.4. A collector that throws is skipped (with a comment), never fatal. */
  expose(): string {
    const lines: string[] = [];
    for (const f of this.#families) {
      const body: string[] = [];
      try {
        for (const s of f.samples()) {
          const labels = Object.entries(s.labels)
            .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
            .join(',');
          body.push(`${f.name}${s.suffix}${labels ? `{${labels}}` : ''} ${formatValue(s.value)}`);
        }
      } catch (error) {
        lines.push(`# collector ${f.name} failed: ${String(error).replaceAll('\n', ' ')}`);
        continue;
      }
      lines.push(`# HELP ${f.name} ${f.help.replaceAll('\\', '\\\\').replaceAll('\n', '\\n')}`);
      lines.push(`# TYPE ${f.name} ${f.type}`);
      lines.push(...body);
    }
    return `${lines.join('\n')}\n`;
  }
}
