// AnalysisTemplate and ClusterAnalysisTemplate (argoproj.io/v1alpha1): types and the structural parse
// of a manifest into them. Semantic checks that need resolved args (count/limit constraints, durations)
// live in analysis-run.ts (validateMetrics), because Argo runs them on the run, after substitution.
// Shapes follow Argo's analysis_types.go; int-or-string fields stay `number | string` until resolved.

import { SluiceError } from './errors.ts';
import type { IntOrString, ManifestMeta } from './meta.ts';

export const ANALYSIS_API_VERSION = 'argoproj.io/v1alpha1';

export interface SecretKeyRef {
  readonly name: string;
  readonly key: string;
}

export interface FieldRef {
  readonly fieldPath: string;
}

export interface ValueFrom {
  readonly secretKeyRef?: SecretKeyRef;
  readonly fieldRef?: FieldRef;
}

export interface Argument {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: ValueFrom;
}

export interface Metric {
  readonly name: string;
  readonly interval?: string;
  readonly initialDelay?: string;
  readonly count?: IntOrString;
  readonly successCondition?: string;
  readonly failureCondition?: string;
  readonly failureLimit?: IntOrString;
  readonly inconclusiveLimit?: IntOrString;
  readonly consecutiveErrorLimit?: IntOrString;
  readonly consecutiveSuccessLimit?: IntOrString;
  /** Exactly one provider key, e.g. `{ prometheus: {...} }` or `{ plugin: { 'sluice/proxy': {...} } }`. */
  readonly provider: Readonly<Record<string, unknown>>;
}

/** The Metric fields that are counts or limits: an int, or a string `{{args.x}}` resolves to one. */
export const METRIC_COUNT_FIELDS = [
  'count',
  'failureLimit',
  'inconclusiveLimit',
  'consecutiveErrorLimit',
  'consecutiveSuccessLimit',
] as const;

export interface DryRun {
  readonly metricName: string;
}

export interface MeasurementRetention {
  readonly metricName: string;
  readonly limit: number;
}

export interface TemplateRef {
  readonly templateName: string;
  readonly clusterScope?: boolean;
}

export interface AnalysisTemplateSpec {
  readonly metrics: readonly Metric[];
  readonly args?: readonly Argument[];
  readonly dryRun?: readonly DryRun[];
  readonly measurementRetention?: readonly MeasurementRetention[];
  readonly templates?: readonly TemplateRef[];
}

export interface AnalysisTemplate {
  readonly apiVersion: string;
  readonly kind: 'AnalysisTemplate' | 'ClusterAnalysisTemplate';
  readonly metadata: ManifestMeta;
  readonly spec: AnalysisTemplateSpec;
}

export interface FieldError {
  /** JSON-path-like location, e.g. `spec.metrics[1].provider`. */
  readonly field: string;
  readonly message: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: FieldError };

export function formatFieldError(error: FieldError): string {
  return error.field === '' ? error.message : `${error.field}: ${error.message}`;
}

// ---- structural parse helpers (shared with analysis-run.ts) ----

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A manifest field that fails to parse; parseWith turns it into a Parsed union naming the field. */
export class ParseFailure extends SluiceError {
  readonly error: FieldError;
  constructor(field: string, message: string) {
    super('SLUICE_INVALID_SPEC', field === '' ? message : `${field}: ${message}`);
    this.name = 'ParseFailure';
    this.error = { field, message };
  }
}

/** Runs a parser that signals failure by throwing ParseFailure; returns a Parsed union. */
export function parseWith<T>(fn: () => T): Parsed<T> {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    if (error instanceof ParseFailure) return { ok: false, error: error.error };
    return { ok: false, error: { field: '', message: String(error) } };
  }
}

export function fail(field: string, message: string): never {
  throw new ParseFailure(field, message);
}

export function optString(obj: Record<string, unknown>, key: string, path: string): string | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') fail(`${path}.${key}`, `must be a string, got ${typeName(value)}`);
  return value;
}

/** A string field that must be present and non-empty. */
export function reqString(obj: Record<string, unknown>, key: string, path: string): string {
  const value = optString(obj, key, path);
  if (value === undefined || value === '') fail(`${path}.${key}`, 'is required');
  return value;
}

export function optIntOrString(
  obj: Record<string, unknown>,
  key: string,
  path: string,
): IntOrString | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) fail(`${path}.${key}`, `must be an integer, got ${value}`);
    return value;
  }
  if (typeof value === 'string') return value;
  return fail(`${path}.${key}`, `must be an integer or a string, got ${typeName(value)}`);
}

export function optArray(obj: Record<string, unknown>, key: string, path: string): unknown[] | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) fail(`${path}.${key}`, `must be a list, got ${typeName(value)}`);
  return value;
}

/** An optional list of objects: each entry must be one, and is parsed with its path `<path>.<key>[i]`. */
function optRecordList<T>(
  obj: Record<string, unknown>,
  key: string,
  path: string,
  parse: (entry: Record<string, unknown>, entryPath: string) => T,
): T[] | undefined {
  return optArray(obj, key, path)?.map((entry, i) => {
    const p = `${path}.${key}[${i}]`;
    return parse(requireRecord(entry, p), p);
  });
}

export function requireRecord(value: unknown, path: string): Record<string, unknown> {
  if (!isRecord(value)) fail(path, `must be an object, got ${typeName(value)}`);
  return value;
}

export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'list';
  return typeof value;
}

export function parseMetadata(value: unknown, path: string): ManifestMeta {
  if (value === undefined || value === null) return {};
  const obj = requireRecord(value, path);
  const stringMap = (key: string): Record<string, string> | undefined => {
    const raw = obj[key];
    if (raw === undefined || raw === null) return undefined;
    const rec = requireRecord(raw, `${path}.${key}`);
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(rec)) {
      if (typeof v !== 'string') fail(`${path}.${key}.${k}`, `must be a string, got ${typeName(v)}`);
      out[k] = v;
    }
    return out;
  };
  return {
    ...(optString(obj, 'name', path) !== undefined ? { name: optString(obj, 'name', path)! } : {}),
    ...(optString(obj, 'namespace', path) !== undefined
      ? { namespace: optString(obj, 'namespace', path)! }
      : {}),
    ...(optString(obj, 'uid', path) !== undefined ? { uid: optString(obj, 'uid', path)! } : {}),
    ...(stringMap('labels') !== undefined ? { labels: stringMap('labels')! } : {}),
    ...(stringMap('annotations') !== undefined ? { annotations: stringMap('annotations')! } : {}),
  };
}

export function parseArgument(value: unknown, path: string): Argument {
  const obj = requireRecord(value, path);
  const name = reqString(obj, 'name', path);
  let argValue = obj.value;
  // YAML users write `value: 5`; Argo's type is string, and kubectl would reject a number. Accept
  // numbers and booleans by stringifying (the CLI is where people hand-write these), anything else fails.
  if (typeof argValue === 'number' || typeof argValue === 'boolean') argValue = String(argValue);
  if (argValue !== undefined && argValue !== null && typeof argValue !== 'string') {
    fail(`${path}.value`, `must be a string, got ${typeName(argValue)}`);
  }
  let valueFrom: ValueFrom | undefined;
  if (obj.valueFrom !== undefined && obj.valueFrom !== null) {
    const vf = requireRecord(obj.valueFrom, `${path}.valueFrom`);
    let secretKeyRef: SecretKeyRef | undefined;
    let fieldRef: FieldRef | undefined;
    if (vf.secretKeyRef !== undefined && vf.secretKeyRef !== null) {
      const sk = requireRecord(vf.secretKeyRef, `${path}.valueFrom.secretKeyRef`);
      const skName = optString(sk, 'name', `${path}.valueFrom.secretKeyRef`);
      const skKey = optString(sk, 'key', `${path}.valueFrom.secretKeyRef`);
      if (!skName) fail(`${path}.valueFrom.secretKeyRef.name`, 'is required');
      if (!skKey) fail(`${path}.valueFrom.secretKeyRef.key`, 'is required');
      secretKeyRef = { name: skName, key: skKey };
    }
    if (vf.fieldRef !== undefined && vf.fieldRef !== null) {
      const fr = requireRecord(vf.fieldRef, `${path}.valueFrom.fieldRef`);
      const fieldPath = optString(fr, 'fieldPath', `${path}.valueFrom.fieldRef`);
      if (!fieldPath) fail(`${path}.valueFrom.fieldRef.fieldPath`, 'is required');
      fieldRef = { fieldPath };
    }
    if (secretKeyRef && fieldRef)
      fail(`${path}.valueFrom`, 'only one of secretKeyRef and fieldRef may be set');
    if (!secretKeyRef && !fieldRef) fail(`${path}.valueFrom`, 'one of secretKeyRef or fieldRef is required');
    valueFrom = secretKeyRef ? { secretKeyRef } : { fieldRef: fieldRef! };
  }
  if (typeof argValue === 'string' && valueFrom !== undefined) {
    fail(path, `args.${name} has both value and valueFrom`);
  }
  return {
    name,
    ...(typeof argValue === 'string' ? { value: argValue } : {}),
    ...(valueFrom ? { valueFrom } : {}),
  };
}

export function parseArgs(obj: Record<string, unknown>, path: string): Argument[] | undefined {
  const raw = optArray(obj, 'args', path);
  if (raw === undefined) return undefined;
  const seen = new Set<string>();
  return raw.map((entry, i) => {
    const arg = parseArgument(entry, `${path}.args[${i}]`);
    if (seen.has(arg.name)) fail(`${path}.args[${i}].name`, `duplicate argument "${arg.name}"`);
    seen.add(arg.name);
    return arg;
  });
}

const METRIC_KEYS = new Set([
  'name',
  'interval',
  'initialDelay',
  'count',
  'successCondition',
  'failureCondition',
  'failureLimit',
  'inconclusiveLimit',
  'consecutiveErrorLimit',
  'consecutiveSuccessLimit',
  'provider',
]);

export function parseMetric(value: unknown, path: string): Metric {
  const obj = requireRecord(value, path);
  for (const key of Object.keys(obj)) {
    if (!METRIC_KEYS.has(key)) fail(`${path}.${key}`, 'unknown field');
  }
  const name = reqString(obj, 'name', path);
  if (obj.provider === undefined || obj.provider === null) fail(`${path}.provider`, 'is required');
  const provider = requireRecord(obj.provider, `${path}.provider`);
  const out: Record<string, unknown> = { name, provider };
  for (const key of ['interval', 'initialDelay', 'successCondition', 'failureCondition']) {
    const v = optString(obj, key, path);
    if (v !== undefined) out[key] = v;
  }
  for (const key of METRIC_COUNT_FIELDS) {
    const v = optIntOrString(obj, key, path);
    if (v !== undefined) out[key] = v;
  }
  return out as unknown as Metric;
}

export function parseMetrics(obj: Record<string, unknown>, path: string, required: boolean): Metric[] {
  const raw = optArray(obj, 'metrics', path);
  if (raw === undefined) {
    if (required) fail(`${path}.metrics`, 'is required');
    return [];
  }
  return raw.map((m, i) => parseMetric(m, `${path}.metrics[${i}]`));
}

export function parseDryRun(obj: Record<string, unknown>, path: string): DryRun[] | undefined {
  return optRecordList(obj, 'dryRun', path, (rec, p) => ({ metricName: reqString(rec, 'metricName', p) }));
}

export function parseMeasurementRetention(
  obj: Record<string, unknown>,
  path: string,
): MeasurementRetention[] | undefined {
  return optRecordList(obj, 'measurementRetention', path, (rec, p) => {
    const metricName = reqString(rec, 'metricName', p);
    const limit = rec.limit;
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0) {
      fail(`${p}.limit`, 'must be a non-negative integer');
    }
    return { metricName, limit };
  });
}

function parseTemplateRefs(obj: Record<string, unknown>, path: string): TemplateRef[] | undefined {
  return optRecordList(obj, 'templates', path, (rec, p) => {
    const templateName = reqString(rec, 'templateName', p);
    const clusterScope = rec.clusterScope;
    if (clusterScope !== undefined && typeof clusterScope !== 'boolean') {
      fail(`${p}.clusterScope`, 'must be a boolean');
    }
    return { templateName, ...(clusterScope === true ? { clusterScope: true } : {}) };
  });
}

/** Parses an AnalysisTemplate or ClusterAnalysisTemplate manifest (already decoded from YAML/JSON). */
export function parseAnalysisTemplate(manifest: unknown): Parsed<AnalysisTemplate> {
  return parseWith(() => {
    const obj = requireRecord(manifest, '');
    const kind = obj.kind;
    if (kind !== 'AnalysisTemplate' && kind !== 'ClusterAnalysisTemplate') {
      fail('kind', `must be AnalysisTemplate or ClusterAnalysisTemplate, got ${JSON.stringify(kind)}`);
    }
    const apiVersion = optString(obj, 'apiVersion', '') ?? ANALYSIS_API_VERSION;
    if (apiVersion !== ANALYSIS_API_VERSION) fail('apiVersion', `must be ${ANALYSIS_API_VERSION}`);
    const metadata = parseMetadata(obj.metadata, 'metadata');
    const spec = requireRecord(obj.spec, 'spec');
    const templates = parseTemplateRefs(spec, 'spec');
    // A template may hold only `templates` (pure composition); otherwise it needs metrics.
    const metrics = parseMetrics(spec, 'spec', templates === undefined || templates.length === 0);
    const args = parseArgs(spec, 'spec');
    const dryRun = parseDryRun(spec, 'spec');
    const measurementRetention = parseMeasurementRetention(spec, 'spec');
    return {
      apiVersion,
      kind,
      metadata,
      spec: {
        metrics,
        ...(args ? { args } : {}),
        ...(dryRun ? { dryRun } : {}),
        ...(measurementRetention ? { measurementRetention } : {}),
        ...(templates ? { templates } : {}),
      },
    };
  });
}
