// Pure merges of what the workers of one proxy report, so that the admin port and the control stream
// see one proxy: Prometheus expositions summed sample by sample, and histogram reports of the same
// series and interval added into one report (HDR histograms add exactly: same layout everywhere).

import type { HistogramReport } from '../control/report.ts';
import { encodeCompressedBase64 } from '../hdr.ts';
import { decodeLatencyHistogram, newLatencyHistogram } from '../histograms.ts';

/**
 * How a sample combines across workers. Counters, histogram buckets and gauges such as open
 * connections or resident memory add up; these do not.
 */
const COMBINE: Readonly<Record<string, 'min' | 'max'>> = {
  // Every worker applied the same configs: the oldest version still served, and the changes once.
  sluice_proxy_config_version: 'min',
  sluice_proxy_config_reloads_total: 'max',
  process_start_time_seconds: 'min',
};

interface Family {
  readonly header: string[];
  readonly samples: Map<string, number>;
}

/** One exposition (text format 0.0.4) from several of the same shape, families in first-seen order. */
export function mergeExpositions(texts: readonly string[]): string {
  const families = new Map<string, Family>();
  for (const text of texts) {
    let family: Family | undefined;
    let name = '';
    for (const line of text.split('\n')) {
      if (line === '') continue;
      if (line.startsWith('#')) {
        const match = /^# (HELP|TYPE) (\S+)/.exec(line);
        if (match === null) continue;
        name = match[2]!;
        family = families.get(name);
        if (family === undefined) {
          family = { header: [], samples: new Map() };
          families.set(name, family);
        }
        if (family.header.length < 2 && !family.header.some((h) => h.startsWith(`# ${match[1]} `))) {
          family.header.push(line);
        }
        continue;
      }
      const space = line.lastIndexOf(' ');
      if (space <= 0 || family === undefined) continue;
      const key = line.slice(0, space);
      const value = Number(line.slice(space + 1));
      const previous = family.samples.get(key);
      family.samples.set(key, previous === undefined ? value : combine(COMBINE[name], previous, value));
    }
  }
  const out: string[] = [];
  for (const family of families.values()) {
    out.push(...family.header);
    for (const [key, value] of family.samples) out.push(`${key} ${formatValue(value)}`);
  }
  return `${out.join('\n')}\n`;
}

/**
 * The counter and histogram families of an exposition (gauges dropped): what a worker that exited had
 * counted when last scraped. Added to the live workers' figures, the merged counters never go down when a
 * worker is replaced (Prometheus would read a decrease as a reset and rate() would jump).
 */
export function countersOnly(text: string): string {
  const lines = text.split('\n');
  const kept = new Set<string>();
  for (const line of lines) {
    const type = /^# TYPE (\S+) (counter|histogram)$/.exec(line);
    if (type !== null) kept.add(type[1]!);
  }
  const out: string[] = [];
  let keep = false;
  for (const line of lines) {
    if (line === '') continue;
    const header = /^# (?:HELP|TYPE) (\S+)/.exec(line);
    if (header !== null) keep = kept.has(header[1]!);
    if (keep) out.push(line);
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}

function combine(how: 'min' | 'max' | undefined, a: number, b: number): number {
  if (how === 'min') return Math.min(a, b);
  if (how === 'max') return Math.max(a, b);
  return a + b;
}

function formatValue(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

/** The workers' reports with one report per series x interval; the order of first appearance is kept. */
export function mergeReports(lists: readonly (readonly HistogramReport[])[]): HistogramReport[] {
  const groups = new Map<string, HistogramReport[]>();
  for (const list of lists) {
    for (const report of list) {
      const key = `${report.route}\u0000${report.namespace}\u0000${report.role}\u0000${report.revision}\u0000${report.startMs}\u0000${report.endMs}`;
      const group = groups.get(key);
      if (group === undefined) groups.set(key, [report]);
      else group.push(report);
    }
  }
  const merged: HistogramReport[] = [];
  for (const group of groups.values()) {
    if (group.length === 1) {
      merged.push(group[0]!);
      continue;
    }
    const histogram = newLatencyHistogram(64);
    const total = {
      ...group[0]!,
      count1xx: 0,
      count2xx: 0,
      count3xx: 0,
      count4xx: 0,
      count5xx: 0,
      requests: 0,
      errors: 0,
    };
    for (const report of group) {
      const decoded = decodeLatencyHistogram(report.histogram, 32);
      histogram.add(decoded);
      decoded.destroy();
      total.count1xx += report.count1xx;
      total.count2xx += report.count2xx;
      total.count3xx += report.count3xx;
      total.count4xx += report.count4xx;
      total.count5xx += report.count5xx;
      total.requests += report.requests;
      total.errors += report.errors;
    }
    histogram.startTimeStampMsec = total.startMs;
    histogram.endTimeStampMsec = total.endMs;
    total.histogram = encodeCompressedBase64(histogram);
    histogram.destroy();
    merged.push(total);
  }
  return merged;
}
