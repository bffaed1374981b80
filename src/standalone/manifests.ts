// Standalone mode's manifests folder (`sluice standalone DIR`): every `*.yaml`, `*.yml` and `*.json` file
// of DIR (not its subfolders; YAML files may hold several documents) is loaded, validated and applied to
// the ObjectStore as `kubectl apply` would, and applied again when DIR changes.
//
// - Kinds: Rollout, AnalysisTemplate, ClusterAnalysisTemplate, Service and Experiment; any other kind is a
//   warning naming the file and the kind, and is skipped. metadata.namespace defaults to `default`.
// - Validation: YAML syntax (file and line), apiVersion, kind and metadata.name, a Rollout's spec through
//   the controller's validateRolloutSpec, an AnalysisTemplate's through parseAnalysisTemplate, an
//   Experiment's through validateExperiment. Each problem names the file, the line of the document (or of
//   the field) and the field; the valid objects are applied all the same.
// - Apply: created when absent; otherwise a three-way merge patch as kubectl's (the changes from the
//   object to the manifest, and the removal of fields the last applied manifest had and this one has not),
//   restricted to everything but status and, of metadata, to labels and annotations: status,
//   resourceVersion semantics and the fields others set (a controller's annotations) are kept. A manifest
//   unchanged since it was last applied is not written again, so `sluice set image` or `pause` are not
//   undone by an edit of another file. The last applied manifest is kept in the annotation
//   `sluice.io/last-applied-configuration`.
// - Deletion: an object created from DIR carries `sluice.io/source: <file>`; when that file is deleted
//   from DIR the object is deleted. Objects removed from a file that still exists, or never created from
//   DIR, are left alone.

import { type FSWatcher, watch } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Document, LineCounter, parseAllDocuments } from 'yaml';
import { isRecord, parseAnalysisTemplate, parseMetadata, parseWith } from '../api/analysis-template.ts';
import type { Experiment } from '../api/experiment.ts';
import type { Kind, KubeObject } from '../api/meta.ts';
import type { Rollout } from '../api/rollout.ts';
import { validateRolloutSpec } from '../api/rollout-validation.ts';
import { validateExperiment } from '../experiment/plan.ts';
import type { ObjectStore } from '../store/object-store.ts';
import { RESOURCES } from '../store/resources.ts';

/** The file (relative to DIR) an object was created from. */
export const SOURCE_ANNOTATION = 'sluice.io/source';
/** The manifest last applied to the object (JSON), for the three-way merge of the next apply. */
export const LAST_APPLIED_ANNOTATION = 'sluice.io/last-applied-configuration';

/** The kinds standalone runs from DIR. */
export const STANDALONE_KINDS: readonly Kind[] = [
  'Rollout',
  'AnalysisTemplate',
  'ClusterAnalysisTemplate',
  'Service',
  'Experiment',
  // Argo's notification configuration (argo-rollouts-notification-configmap and its Secret).
  'ConfigMap',
  'Secret',
];

const MANIFEST_FILE = /\.(ya?ml|json)$/i;

/** Waiting time after a change in DIR before applying it (changes in between share one apply). */
export const DEFAULT_WATCH_DEBOUNCE_MS = 200;

export interface ManifestProblem {
  /** The file's name in DIR. */
  readonly file: string;
  /** 1-based line in the file: of the syntax error, the field, or the document. */
  readonly line?: number;
  /** The field, e.g. `spec.strategy.canary.steps[1].setWeight`. */
  readonly field?: string;
  readonly message: string;
  /** `warning`: skipped, nothing wrong with the rest (a kind standalone does not run). Default error. */
  readonly severity?: 'error' | 'warning';
}

export interface LoadedManifests {
  /** The valid objects, each annotated with SOURCE_ANNOTATION (its file), namespace defaulted. */
  readonly objects: KubeObject[];
  readonly problems: ManifestProblem[];
  /** Every manifest file present in DIR (even one with problems): the objects of the others go. */
  readonly files: string[];
  /** Files of DIR that are Sluice state files (a `--state` file kept in DIR), not manifests: skipped. */
  readonly stateFiles?: string[];
}

export type ManifestLogLevel = 'info' | 'warn' | 'error';
export type ManifestLog = (level: ManifestLogLevel, message: string) => void;

export interface ApplyResult {
  /** `Kind namespace/name` (cluster-scoped: `Kind name`). */
  readonly created: string[];
  readonly updated: string[];
  readonly unchanged: string[];
  readonly deleted: string[];
  /** Writes the store refused, naming the file. */
  readonly problems: ManifestProblem[];
}

/** `file:line: field: message` (the parts that are known). */
export function formatProblem(p: ManifestProblem): string {
  const where = p.line === undefined ? p.file : `${p.file}:${p.line}`;
  const prefix = p.severity === 'warning' ? 'warning: ' : '';
  const field = p.field !== undefined && !p.message.startsWith(`${p.field}:`) ? `${p.field}: ` : '';
  return `${where}: ${prefix}${field}${p.message}`;
}

function ref(obj: KubeObject): string {
  const ns = obj.metadata.namespace;
  return ns ? `${obj.kind} ${ns}/${obj.metadata.name}` : `${obj.kind} ${obj.metadata.name}`;
}

/** Drops JSON nulls (as kubectl does: `field: ~` means absent; the store refuses nulls in CRs). */
function pruneNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.filter((v) => v !== null).map(pruneNulls);
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = pruneNulls(v);
    return out;
  }
  return value;
}

/** `spec.steps[2].pause` -> ['spec', 'steps', 2, 'pause']. */
function fieldPath(field: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const part of field.split('.')) {
    const m = /^([^[]*)((?:\[\d+\])*)$/.exec(part);
    if (m === null) {
      out.push(part);
      continue;
    }
    if (m[1] !== '') out.push(m[1]!);
    for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]));
  }
  return out;
}

/** The field at the head of a validation message (`spec.replicas: Invalid value: ...`). */
function fieldOf(message: string): string | undefined {
  const head = message.split(':')[0]!;
  return /^[A-Za-z_][\w.[\]-]*$/.test(head) ? head : undefined;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The first problem of one object (the field and the message), or undefined when it can be applied. */
function validate(kind: Kind, obj: Record<string, unknown>): { field?: string; message: string } | undefined {
  const fromMessage = (message: string) => ({ field: fieldOf(message), message });
  try {
    if (kind === 'Rollout') {
      if (!isRecord(obj.spec)) return { field: 'spec', message: 'spec: Required value: spec is required' };
      if (obj.spec.strategy !== undefined && !isRecord(obj.spec.strategy))
        return { field: 'spec.strategy', message: 'spec.strategy: Invalid value: must be an object' };
      const error = validateRolloutSpec({
        ...obj,
        spec: { strategy: {}, ...obj.spec },
      } as unknown as Rollout);
      return error === undefined ? undefined : fromMessage(error);
    }
    if (kind === 'AnalysisTemplate' || kind === 'ClusterAnalysisTemplate') {
      const parsed = parseAnalysisTemplate(obj);
      if (parsed.ok) return undefined;
      const { field, message } = parsed.error;
      return { ...(field === '' ? {} : { field }), message: field === '' ? message : `${field}: ${message}` };
    }
    if (kind === 'Experiment') {
      if (!isRecord(obj.spec)) return { field: 'spec', message: 'spec: Required value: spec is required' };
      const error = validateExperiment(obj as unknown as Experiment);
      return error === undefined ? undefined : fromMessage(error);
    }
    if (kind === 'Service') {
      if (obj.spec !== undefined && !isRecord(obj.spec))
        return { field: 'spec', message: 'spec: Invalid value: must be an object' };
      if (isRecord(obj.spec) && obj.spec.ports !== undefined && !Array.isArray(obj.spec.ports))
        return { field: 'spec.ports', message: 'spec.ports: Invalid value: must be a list' };
    }
    return undefined;
  } catch (error) {
    // A shape the structural schema would reject (a string where a list belongs).
    return { field: 'spec', message: `spec: Invalid value: ${errorMessage(error)}` };
  }
}

/** The objects and problems of one file's text (`file` names it in the problems). */
export function parseManifestText(
  file: string,
  text: string,
): { objects: KubeObject[]; problems: ManifestProblem[] } {
  const objects: KubeObject[] = [];
  const problems: ManifestProblem[] = [];
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter });
  const list: Document.Parsed[] = Array.isArray(docs) ? docs : [docs as unknown as Document.Parsed];
  for (const doc of list) {
    const docLine = lineCounter.linePos(doc.range[0]).line;
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const pos = e.linePos?.[0];
        problems.push({
          file,
          ...(pos === undefined ? { line: docLine } : { line: pos.line }),
          message: `YAML syntax error: ${e.message.split('\n')[0]!.replace(/:$/, '')}`,
        });
      }
      continue;
    }
    const lineOf = (field: string | undefined): number => {
      if (field === undefined) return docLine;
      const path = fieldPath(field);
      for (let n = path.length; n > 0; n--) {
        const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
        if (node?.range !== undefined) return lineCounter.linePos(node.range[0]).line;
      }
      return docLine;
    };
    const problem = (field: string | undefined, message: string, severity?: 'warning'): void => {
      problems.push({
        file,
        line: lineOf(field),
        ...(field === undefined ? {} : { field }),
        message,
        ...(severity === undefined ? {} : { severity }),
      });
    };
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (!isRecord(value)) {
      problem(undefined, 'not a Kubernetes object (a mapping with apiVersion, kind and metadata)');
      continue;
    }
    const kindValue = value.kind;
    if (typeof kindValue !== 'string' || kindValue === '') {
      problem('kind', 'kind: Required value: kind is required');
      continue;
    }
    if (!(STANDALONE_KINDS as readonly string[]).includes(kindValue)) {
      problem(
        'kind',
        `kind ${kindValue} is not run by standalone (it runs ${STANDALONE_KINDS.join(', ')}): skipped`,
        'warning',
      );
      continue;
    }
    const kind = kindValue as Kind;
    const expected = RESOURCES[kind].apiVersion;
    if (typeof value.apiVersion !== 'string' || value.apiVersion === '') {
      problem('apiVersion', `apiVersion: Required value: apiVersion is required (${expected})`);
      continue;
    }
    if (value.apiVersion !== expected) {
      problem(
        'apiVersion',
        `apiVersion: Invalid value: ${JSON.stringify(value.apiVersion)}: a ${kind} is ${expected}`,
      );
      continue;
    }
    const meta = parseWith(() => parseMetadata(value.metadata, 'metadata'));
    if (!meta.ok) {
      problem(meta.error.field, `${meta.error.field}: ${meta.error.message}`);
      continue;
    }
    if (!isRecord(value.metadata) || typeof value.metadata.name !== 'string' || value.metadata.name === '') {
      problem('metadata.name', 'metadata.name: Required value: name is required');
      continue;
    }
    const obj = pruneNulls(value) as Record<string, unknown> & KubeObject;
    delete obj.status;
    if (RESOURCES[kind].namespaced) obj.metadata.namespace ||= 'default';
    else delete obj.metadata.namespace;
    const invalid = validate(kind, obj);
    if (invalid !== undefined) {
      problem(invalid.field, `${kind} "${obj.metadata.name}": ${invalid.message}`);
      continue;
    }
    obj.metadata.annotations = { ...obj.metadata.annotations, [SOURCE_ANNOTATION]: file };
    objects.push(obj);
  }
  return { objects, problems };
}

/** A Sluice state file (src/standalone/state.ts), which is JSON too but no manifest. */
function isStateFileText(text: string): boolean {
  return /^\{"version":\d+,"checksum":"sha256:/.test(text);
}

/**
 * Loads every manifest file of `dir`. Throws when `dir` itself cannot be read (nothing is known then:
 * a caller must not take it as "every file deleted").
 */
export async function loadManifests(dir: string): Promise<LoadedManifests> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries
    .filter(
      (e) => (e.isFile() || e.isSymbolicLink()) && MANIFEST_FILE.test(e.name) && !e.name.startsWith('.'),
    )
    .map((e) => e.name)
    .sort();
  const objects: KubeObject[] = [];
  const problems: ManifestProblem[] = [];
  const files: string[] = [];
  const stateFiles: string[] = [];
  const seen = new Map<string, string>();
  for (const file of names) {
    let text: string;
    try {
      text = await readFile(join(dir, file), 'utf8');
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'ENOENT') continue; // deleted since the listing
      files.push(file);
      problems.push({ file, message: `cannot be read: ${errorMessage(error)}` });
      continue;
    }
    if (isStateFileText(text)) {
      // standalone's own state file (`--state DIR/state.json`): not a manifest
      stateFiles.push(file);
      continue;
    }
    files.push(file);
    const parsed = parseManifestText(file, text);
    problems.push(...parsed.problems);
    for (const obj of parsed.objects) {
      const id = ref(obj);
      const first = seen.get(id);
      if (first !== undefined) {
        problems.push({
          file,
          field: 'metadata.name',
          message: `${id} is already defined in ${first}: skipped`,
        });
        continue;
      }
      seen.set(id, file);
      objects.push(obj);
    }
  }
  return { objects, problems, files, ...(stateFiles.length > 0 ? { stateFiles } : {}) };
}

// ---- apply ----

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The part of an object apply manages: everything but status, and of metadata labels and annotations. */
function managed(obj: KubeObject | Record<string, unknown>): Record<string, unknown> {
  const { metadata, status: _status, ...rest } = obj as Record<string, unknown> & { metadata?: unknown };
  const meta = isRecord(metadata) ? metadata : {};
  const annotations = isRecord(meta.annotations) ? { ...meta.annotations } : undefined;
  if (annotations !== undefined) {
    delete annotations[SOURCE_ANNOTATION];
    delete annotations[LAST_APPLIED_ANNOTATION];
  }
  const out: Record<string, unknown> = { ...rest };
  const m: Record<string, unknown> = {};
  if (isRecord(meta.labels) && Object.keys(meta.labels).length > 0) m.labels = meta.labels;
  if (annotations !== undefined && Object.keys(annotations).length > 0) m.annotations = annotations;
  out.metadata = m;
  return out;
}

/**
 * kubectl's three-way merge patch (JSON merge patch flavour): the fields of `desired` that differ from
 * `current`, and null for the fields `last` had and `desired` has not. Lists are replaced whole.
 */
function threeWay(
  last: Record<string, unknown>,
  desired: Record<string, unknown>,
  current: Record<string, unknown>,
): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  for (const [k, want] of Object.entries(desired)) {
    const have = current[k];
    if (isRecord(want) && isRecord(have)) {
      const sub = threeWay(isRecord(last[k]) ? last[k] : {}, want, have);
      if (Object.keys(sub).length > 0) patch[k] = sub;
    } else if (!deepEqual(want, have)) {
      patch[k] = want;
    }
  }
  for (const k of Object.keys(last)) {
    if (!(k in desired) && k in current) patch[k] = null;
  }
  return patch;
}

function lastApplied(obj: KubeObject): Record<string, unknown> | undefined {
  const text = obj.metadata.annotations?.[LAST_APPLIED_ANNOTATION];
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Applies loaded manifests to the store as `kubectl apply`, then deletes the objects created from files
 * no longer in DIR. Logs every problem of `loaded`, every write and every refused write.
 */
export async function applyManifests(
  store: ObjectStore,
  loaded: LoadedManifests,
  log: ManifestLog = () => {},
): Promise<ApplyResult> {
  const result: ApplyResult = { created: [], updated: [], unchanged: [], deleted: [], problems: [] };
  for (const p of loaded.problems) log(p.severity === 'warning' ? 'warn' : 'error', formatProblem(p));
  for (const obj of loaded.objects) {
    const kind = obj.kind as Kind;
    const file = obj.metadata.annotations?.[SOURCE_ANNOTATION] ?? '';
    const desired = managed(obj);
    const applied = JSON.stringify(desired);
    const id = ref(obj);
    try {
      const current = store.get(kind, obj.metadata.namespace ?? '', obj.metadata.name);
      if (current === undefined) {
        const next = structuredClone(obj);
        next.metadata.annotations = { ...next.metadata.annotations, [LAST_APPLIED_ANNOTATION]: applied };
        await store.create(next);
        result.created.push(id);
        log('info', `${file}: ${id} created`);
        continue;
      }
      const currentSource = current.metadata.annotations?.[SOURCE_ANNOTATION];
      const last = lastApplied(current);
      // Only objects created from DIR keep a source (the file deleted deletes them).
      const sourceChange = currentSource !== undefined && currentSource !== file;
      if (last !== undefined && deepEqual(last, desired) && !sourceChange) {
        result.unchanged.push(id);
        continue;
      }
      const patch = threeWay(last ?? {}, desired, managed(current));
      const meta = isRecord(patch.metadata) ? patch.metadata : {};
      const annotations = isRecord(meta.annotations) ? meta.annotations : {};
      annotations[LAST_APPLIED_ANNOTATION] = applied;
      if (sourceChange) annotations[SOURCE_ANNOTATION] = file;
      patch.metadata = { ...meta, annotations };
      await store.patch(kind, current.metadata.namespace ?? '', current.metadata.name, patch, 'merge');
      result.updated.push(id);
      log('info', `${file}: ${id} configured`);
    } catch (error) {
      const problem: ManifestProblem = { file, message: `${id}: refused: ${errorMessage(error)}` };
      result.problems.push(problem);
      log('error', formatProblem(problem));
    }
  }
  const present = new Set(loaded.files);
  for (const kind of STANDALONE_KINDS) {
    for (const obj of store.list(kind)) {
      const source = obj.metadata.annotations?.[SOURCE_ANNOTATION];
      if (source === undefined || present.has(source)) continue;
      const id = ref(obj);
      try {
        await store.delete(kind, obj.metadata.namespace ?? '', obj.metadata.name);
        result.deleted.push(id);
        log('info', `${source}: ${id} deleted (its file was removed)`);
      } catch (error) {
        const problem: ManifestProblem = {
          file: source,
          message: `${id}: delete refused: ${errorMessage(error)}`,
        };
        result.problems.push(problem);
        log('error', formatProblem(problem));
      }
    }
  }
  return result;
}

export interface WatchManifestsOptions {
  /** Waiting time after a change before applying (default DEFAULT_WATCH_DEBOUNCE_MS). */
  readonly debounceMs?: number;
  readonly log?: ManifestLog;
  /** Applied to what is loaded before it is applied (standalone's own checks and defaults). */
  readonly transform?: (loaded: LoadedManifests) => LoadedManifests;
  /** Called after each apply (for tests and the terminal view). */
  readonly onApplied?: (loaded: LoadedManifests, result: ApplyResult) => void;
}

/**
 * Re-applies DIR after every change in it (fs.watch, debounced; applies never overlap: a change during
 * one applies again after it). The first apply is the caller's (loadManifests + applyManifests).
 */
export function watchManifests(
  dir: string,
  store: ObjectStore,
  options: WatchManifestsOptions = {},
): { close(): void } {
  const debounceMs = options.debounceMs ?? DEFAULT_WATCH_DEBOUNCE_MS;
  const log = options.log ?? (() => {});
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let again = false;
  let closed = false;
  let stateFiles = new Set<string>();

  const run = async (): Promise<void> => {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      const read = await loadManifests(dir);
      if (closed) return;
      stateFiles = new Set(read.stateFiles ?? []);
      const loaded = options.transform === undefined ? read : options.transform(read);
      const result = await applyManifests(store, loaded, log);
      options.onApplied?.(loaded, result);
    } catch (error) {
      log('error', `${dir}: cannot be read: ${errorMessage(error)}`);
    } finally {
      running = false;
      if (again && !closed) {
        again = false;
        schedule();
      }
    }
  };

  function schedule(): void {
    if (closed) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      void run();
    }, debounceMs);
  }

  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, { persistent: false }, (_event, filename) => {
      // Only manifest files matter (not editors' swap files, nor a state file kept in DIR and its lock).
      const name = filename === null ? undefined : String(filename);
      if (name !== undefined && (!MANIFEST_FILE.test(name) || name.startsWith('.') || stateFiles.has(name)))
        return;
      schedule();
    });
    watcher.on('error', (error) => log('error', `${dir}: watch failed: ${errorMessage(error)}`));
  } catch (error) {
    log('error', `${dir}: cannot be watched: ${errorMessage(error)}`);
  }

  return {
    close(): void {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      watcher?.close();
    },
  };
}
