// Arguments: template composition (Argo's FlattenTemplates / MergeArgs), fieldRef lookup, secret
// resolution and `{{args.x}}` substitution. Substitution works as Argo's fasttemplate pass over the
// JSON-encoded metric: the replacement is JSON-string-escaped (strconv.Quote without the quotes), tags
// that are not `args.*` are left untouched, and an `args.*` tag with no value is an error.

import type { AnalysisRun } from '../api/analysis-run.ts';
import {
  ANALYSIS_API_VERSION,
  type AnalysisTemplate,
  type Argument,
  type DryRun,
  isRecord,
  type MeasurementRetention,
  type Metric,
  parseMetric,
  parseWith,
} from '../api/analysis-template.ts';
import type { KubeObject, OwnerReference } from '../api/meta.ts';
import type { ObjectStore } from '../store/object-store.ts';

export type ArgsResult<T> = { ok: true; value: T } | { ok: false; error: string };

export interface SecretRef {
  readonly namespace?: string;
  readonly name: string;
  readonly key: string;
}

/** Reads one key of a Secret. Injected: the kube store in cluster mode, a map in the CLI and tests. */
export type SecretResolver = (ref: SecretRef) => Promise<ArgsResult<string>>;

export interface ResolvedArgs {
  readonly values: Readonly<Record<string, string>>;
  /** Values that came from secrets: redacted from every message, log and status field. */
  readonly secrets: readonly string[];
}

export interface FlattenedTemplates {
  readonly metrics: Metric[];
  readonly args: Argument[];
  readonly dryRun: DryRun[];
  readonly measurementRetention: MeasurementRetention[];
}

/** Looks up a referenced template by name (namespaced or cluster-scoped). */
export type TemplateLookup = (name: string, clusterScope: boolean) => AnalysisTemplate | undefined;

/** Argo's error for a template reference that does not resolve: `<Kind> "<name>" not found`. */
export function templateNotFound(ref: {
  readonly templateName: string;
  readonly clusterScope?: boolean;
}): string {
  return `${ref.clusterScope ? 'ClusterAnalysisTemplate' : 'AnalysisTemplate'} "${ref.templateName}" not found`;
}

/** Looks templates up in a store's cache: AnalysisTemplates of `namespace`, or ClusterAnalysisTemplates. */
export function storeTemplateLookup(store: ObjectStore, namespace: string): TemplateLookup {
  return (name, clusterScope) =>
    (clusterScope
      ? store.get<KubeObject>('ClusterAnalysisTemplate', '', name)
      : store.get<KubeObject>('AnalysisTemplate', namespace, name)) as unknown as
      | AnalysisTemplate
      | undefined;
}

function sameArg(a: Argument, b: Argument): boolean {
  return JSON.stringify([a.value, a.valueFrom]) === JSON.stringify([b.value, b.valueFrom]);
}

/**
 * Flattens templates and their `templates` references (depth-first, each template once) into one
 * spec. Duplicate metric names are an error; args with the same name must agree when both are set.
 */
export function flattenTemplates(
  templates: readonly AnalysisTemplate[],
  lookup: TemplateLookup = () => undefined,
): ArgsResult<FlattenedTemplates> {
  const ordered: AnalysisTemplate[] = [];
  const visiting = new Set<string>();
  const done = new Set<string>();
  const visit = (t: AnalysisTemplate, via: string): string | undefined => {
    const id = `${t.kind}/${t.metadata.name ?? ''}`;
    if (done.has(id)) return undefined;
    if (visiting.has(id)) return `${via}: template reference cycle through ${id}`;
    visiting.add(id);
    for (const [i, ref] of (t.spec.templates ?? []).entries()) {
      const child = lookup(ref.templateName, ref.clusterScope === true);
      const field = `${t.kind} ${t.metadata.name ?? ''}: spec.templates[${i}]`;
      if (child === undefined) return `${field}: ${templateNotFound(ref)}`;
      const err = visit(child, field);
      if (err !== undefined) return err;
    }
    visiting.delete(id);
    done.add(id);
    ordered.push(t);
    return undefined;
  };
  for (const t of templates) {
    const err = visit(t, `${t.kind} ${t.metadata.name ?? ''}`);
    if (err !== undefined) return { ok: false, error: err };
  }
  const metrics: Metric[] = [];
  const metricNames = new Set<string>();
  const argsByName = new Map<string, Argument>();
  const dryRun: DryRun[] = [];
  const measurementRetention: MeasurementRetention[] = [];
  for (const t of ordered) {
    for (const m of t.spec.metrics) {
      if (metricNames.has(m.name)) {
        return { ok: false, error: `two metrics have the same name '${m.name}'` };
      }
      metricNames.add(m.name);
      metrics.push(m);
    }
    for (const arg of t.spec.args ?? []) {
      const stored = argsByName.get(arg.name);
      if (stored === undefined || (stored.value === undefined && stored.valueFrom === undefined)) {
        argsByName.set(arg.name, arg);
      } else if ((arg.value !== undefined || arg.valueFrom !== undefined) && !sameArg(stored, arg)) {
        return {
          ok: false,
          error: `Argument \`${arg.name}\` specified multiple times with different values`,
        };
      }
    }
    for (const d of t.spec.dryRun ?? []) {
      if (!dryRun.some((x) => x.metricName === d.metricName)) dryRun.push(d);
    }
    for (const r of t.spec.measurementRetention ?? []) {
      if (!measurementRetention.some((x) => x.metricName === r.metricName)) measurementRetention.push(r);
    }
  }
  return { ok: true, value: { metrics, args: [...argsByName.values()], dryRun, measurementRetention } };
}

/**
 * Argo's MergeArgs: caller args override only args the template declares; afterwards every arg needs a
 * value or a valueFrom (`args.<name> was not resolved`).
 */
export function mergeArgs(
  incoming: readonly Argument[],
  templateArgs: readonly Argument[],
): ArgsResult<Argument[]> {
  const merged = templateArgs.map((a) => ({ ...a }));
  for (const arg of incoming) {
    const i = merged.findIndex((a) => a.name === arg.name);
    if (i < 0) continue;
    if (arg.value !== undefined) merged[i] = { name: arg.name, value: arg.value };
    else if (arg.valueFrom !== undefined) merged[i] = { name: arg.name, valueFrom: arg.valueFrom };
  }
  for (const arg of merged) {
    if (arg.value === undefined && arg.valueFrom === undefined) {
      return { ok: false, error: `args.${arg.name} was not resolved` };
    }
  }
  return { ok: true, value: merged };
}

/**
 * Resolves a downward-API style fieldPath against an object: `metadata.labels['app']`,
 * `metadata.annotations['a/b']`, or a plain walk such as `spec.template.spec.containers[0].image`.
 */
export function resolveFieldPath(source: unknown, fieldPath: string): ArgsResult<string> {
  const mapMatch = /^metadata\.(labels|annotations)\[['"](.+)['"]\]$/.exec(fieldPath);
  if (mapMatch) {
    const meta = isRecord(source) ? source.metadata : undefined;
    const map = isRecord(meta) ? meta[mapMatch[1]!] : undefined;
    const value = isRecord(map) ? map[mapMatch[2]!] : undefined;
    if (typeof value !== 'string') return { ok: false, error: `fieldPath ${fieldPath} not found` };
    return { ok: true, value };
  }
  let current: unknown = source;
  for (const part of fieldPath.split('.')) {
    const seg = /^([^[\]]+)((?:\[\d+\])*)$/.exec(part);
    if (!seg) return { ok: false, error: `fieldPath ${fieldPath} is not supported` };
    current = isRecord(current) ? current[seg[1]!] : undefined;
    for (const idx of seg[2]!.matchAll(/\[(\d+)\]/g)) {
      current = Array.isArray(current) ? current[Number(idx[1])] : undefined;
    }
    if (current === undefined) return { ok: false, error: `fieldPath ${fieldPath} not found` };
  }
  if (typeof current === 'string') return { ok: true, value: current };
  if (typeof current === 'number' || typeof current === 'boolean')
    return { ok: true, value: String(current) };
  return { ok: true, value: JSON.stringify(current) };
}

export interface BuildRunOptions {
  readonly templates: readonly AnalysisTemplate[];
  readonly args?: readonly Argument[];
  readonly name: string;
  readonly namespace?: string;
  readonly lookup?: TemplateLookup;
  /** Object that `valueFrom.fieldRef` args are resolved against at creation (the Rollout). */
  readonly fieldRefSource?: unknown;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>> | undefined;
  /** The owner (the Rollout or Experiment) the run is garbage-collected with. */
  readonly ownerReferences?: readonly OwnerReference[];
  /** The owner's dryRun and measurementRetention, appended to the templates' (Argo's order). */
  readonly dryRun?: readonly DryRun[] | undefined;
  readonly measurementRetention?: readonly MeasurementRetention[] | undefined;
}

/** Argo's NewAnalysisRunFromTemplates: flatten, merge args, resolve fieldRefs, build the run. */
export function buildAnalysisRun(options: BuildRunOptions): ArgsResult<AnalysisRun> {
  const flat = flattenTemplates(options.templates, options.lookup);
  if (!flat.ok) return flat;
  const merged = mergeArgs(options.args ?? [], flat.value.args);
  if (!merged.ok) return merged;
  const args: Argument[] = [];
  for (const arg of merged.value) {
    if (arg.value === undefined && arg.valueFrom?.fieldRef && options.fieldRefSource !== undefined) {
      const v = resolveFieldPath(options.fieldRefSource, arg.valueFrom.fieldRef.fieldPath);
      if (!v.ok) return { ok: false, error: `args.${arg.name}: ${v.error}` };
      args.push({ name: arg.name, value: v.value });
    } else {
      args.push(arg);
    }
  }
  const dryRun = [...flat.value.dryRun, ...(options.dryRun ?? [])];
  const measurementRetention = [...flat.value.measurementRetention, ...(options.measurementRetention ?? [])];
  return {
    ok: true,
    value: {
      apiVersion: ANALYSIS_API_VERSION,
      kind: 'AnalysisRun',
      metadata: {
        name: options.name,
        ...(options.namespace ? { namespace: options.namespace } : {}),
        ...(options.labels ? { labels: options.labels } : {}),
        ...(options.annotations ? { annotations: { ...options.annotations } } : {}),
        ...(options.ownerReferences ? { ownerReferences: [...options.ownerReferences] } : {}),
      } as AnalysisRun['metadata'],
      spec: {
        metrics: flat.value.metrics,
        ...(args.length > 0 ? { args } : {}),
        ...(dryRun.length > 0 ? { dryRun } : {}),
        ...(measurementRetention.length > 0 ? { measurementRetention } : {}),
      },
    },
  };
}

/**
 * What the analysis controller does with a run's args at reconcile time: plain values are used,
 * secretKeyRef is read through the resolver (from the run's namespace), anything else (a fieldRef left
 * unresolved, an arg with neither) is `argument "x" was not supplied`.
 */
export async function resolveRunArgs(
  args: readonly Argument[] | undefined,
  namespace: string | undefined,
  resolveSecret: SecretResolver | undefined,
): Promise<ArgsResult<ResolvedArgs>> {
  const values: Record<string, string> = {};
  const secrets: string[] = [];
  for (const arg of args ?? []) {
    if (arg.value !== undefined) {
      values[arg.name] = arg.value;
      continue;
    }
    const ref = arg.valueFrom?.secretKeyRef;
    if (ref === undefined) return { ok: false, error: `argument "${arg.name}" was not supplied` };
    if (resolveSecret === undefined) {
      return { ok: false, error: `args.${arg.name}: secret ${ref.name} cannot be read (no secret source)` };
    }
    let secret: ArgsResult<string>;
    try {
      secret = await resolveSecret({ ...(namespace ? { namespace } : {}), name: ref.name, key: ref.key });
    } catch (error) {
      secret = { ok: false, error: String(error) };
    }
    if (!secret.ok) return { ok: false, error: `args.${arg.name}: ${secret.error}` };
    values[arg.name] = secret.value;
    if (secret.value !== '') secrets.push(secret.value);
  }
  return { ok: true, value: { values, secrets } };
}

/** fasttemplate over text: `{{ args.x }}` -> escaped value; other tags kept; unknown args.* -> error. */
export function substituteTemplate(
  text: string,
  values: Readonly<Record<string, string>>,
): ArgsResult<string> {
  let unresolved: string | undefined;
  const out = text.replace(/\{\{([\s\S]*?)\}\}/g, (whole, tag: string) => {
    const trimmed = tag.trim();
    if (!trimmed.startsWith('args.')) return whole;
    const name = trimmed.slice('args.'.length);
    if (!Object.hasOwn(values, name)) {
      unresolved ??= `failed to resolve {{${trimmed}}}`;
      return '';
    }
    // strconv.Quote minus the surrounding quotes; JSON escaping is the same for what can occur here.
    return JSON.stringify(values[name]).slice(1, -1);
  });
  if (unresolved !== undefined) return { ok: false, error: unresolved };
  return { ok: true, value: out };
}

/** Substitutes args into one metric, as Argo's ResolveMetricArgs does on its JSON encoding. */
export function substituteMetricArgs(
  metric: Metric,
  values: Readonly<Record<string, string>>,
): ArgsResult<Metric> {
  const text = substituteTemplate(JSON.stringify(metric), values);
  if (!text.ok) return text;
  let decoded: unknown;
  try {
    decoded = JSON.parse(text.value);
  } catch {
    return { ok: false, error: `metric ${metric.name}: substituted arguments do not form valid JSON` };
  }
  const parsed = parseWith(() => parseMetric(decoded, `metric ${metric.name}`));
  if (!parsed.ok) return { ok: false, error: `${parsed.error.field}: ${parsed.error.message}` };
  return { ok: true, value: parsed.value };
}
