// Metric provider plugins: `provider.plugin.<name>` for a name that is not built in, served by a Node
// module on the controller's filesystem. Where Argo downloads a Go binary and talks to it over go-plugin
// RPC, Sluice loads the module in its own worker thread (plugin-worker.ts), so a plugin that throws, even
// asynchronously, or never answers cannot take the controller down: the measurement is an Error with a
// message, a call that does not answer within the timeout terminates the worker, and the next call
// starts a fresh one.
//
// The module's interface, versioned by `apiVersion` (this Sluice speaks 1):
//   export const apiVersion = 1;
//   export async function init(args) {}                       // optional, once per worker (Argo's InitPlugin)
//   export async function run(request) { return {...} }       // required
//   export async function resume(request, previous) {}        // optional, for phase 'Running'
//   export async function terminate(request, previous) {}     // optional
// request = { metricName, config (the block under plugin.<name>), nowMs, runName?, runNamespace? };
// the result = { result?, value?, phase?, message?, metadata?, resumeAtMs? } as ProviderResult.
//
// Plugins are configured by `--metric-plugin NAME=PATH` or by Argo's ConfigMap `argo-rollouts-config`
// key `metricProviderPlugins` (`[{name, location: file://PATH, sha256?, args?}]`). Locations that are
// not local files (http/https downloads) are refused with a message; nothing is downloaded.

import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { extname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { parse as parseYaml } from 'yaml';
import { errorText } from '../../api/errors.ts';
import { redact } from '../redact.ts';
import type { MeasurementPhase, MetricProvider, ProviderRequest, ProviderResult } from './provider.ts';

export const PLUGIN_API_VERSION = 1;
export const DEFAULT_PLUGIN_TIMEOUT_MS = 30_000;
/** Heap limit of a plugin's worker: one that allocates without bound ends its worker, not the controller. */
export const DEFAULT_PLUGIN_HEAP_MB = 128;
export const PLUGIN_CONFIGMAP_NAME = 'argo-rollouts-config';
export const PLUGIN_CONFIGMAP_KEY = 'metricProviderPlugins';
/** Provider names served by Sluice itself; a plugin cannot take them. */
export const BUILT_IN_PLUGIN_NAMES: readonly string[] = ['sluice/proxy', 'sluice/judge'];

const PHASES: ReadonlySet<string> = new Set(['Running', 'Successful', 'Failed', 'Inconclusive', 'Error']);
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;

export interface MetricPluginEntry {
  readonly name: string;
  /** Absolute path of the module file. */
  readonly path: string;
  readonly args: readonly string[];
  readonly sha256?: string;
  /** Where the entry came from, for messages: `--metric-plugin`, `metricProviderPlugins[0]`. */
  readonly source: string;
}

export type PluginConfig<T> = { ok: true; value: T } | { ok: false; error: string };

/** `--metric-plugin NAME=PATH` (repeatable). */
export function parseMetricPluginFlag(text: string): PluginConfig<MetricPluginEntry> {
  const eq = text.indexOf('=');
  if (eq <= 0 || eq === text.length - 1) {
    return { ok: false, error: `--metric-plugin ${JSON.stringify(text)}: expected NAME=PATH` };
  }
  const name = text.slice(0, eq);
  const location = text.slice(eq + 1);
  return checkEntry({
    name,
    // A URL (file://, or http(s):// which checkEntry refuses) as written; anything else is a path.
    location: /^[a-z][a-z0-9+.-]*:\/\//i.test(location) ? location : pathToFileURL(resolve(location)).href,
    args: [],
    source: `--metric-plugin ${name}`,
  });
}

/**
 * The `metricProviderPlugins` entries of an `argo-rollouts-config` ConfigMap (its `data` object). An
 * absent key is no plugins; every other problem is an error naming the entry.
 */
export function parseMetricPluginConfigMap(data: unknown): PluginConfig<MetricPluginEntry[]> {
  const where = `ConfigMap ${PLUGIN_CONFIGMAP_NAME} ${PLUGIN_CONFIGMAP_KEY}`;
  if (data === undefined || data === null) return { ok: true, value: [] };
  if (typeof data !== 'object' || Array.isArray(data))
    return { ok: false, error: `${where}: data must be an object` };
  const raw = (data as Record<string, unknown>)[PLUGIN_CONFIGMAP_KEY];
  if (raw === undefined || raw === null || raw === '') return { ok: true, value: [] };
  if (typeof raw !== 'string') return { ok: false, error: `${where}: must be a YAML string` };
  let list: unknown;
  try {
    list = parseYaml(raw);
  } catch (error) {
    return { ok: false, error: `${where}: ${errorText(error)}` };
  }
  if (list === null) return { ok: true, value: [] };
  if (!Array.isArray(list)) return { ok: false, error: `${where}: must be a list of {name, location}` };
  const entries: MetricPluginEntry[] = [];
  for (const [i, item] of list.entries()) {
    const at = `${where}[${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      return { ok: false, error: `${at}: must be an object with name and location` };
    }
    const rec = item as Record<string, unknown>;
    if (typeof rec.name !== 'string' || rec.name === '')
      return { ok: false, error: `${at}.name: is required` };
    if (typeof rec.location !== 'string' || rec.location === '') {
      return { ok: false, error: `${at}.location: is required (file://PATH of the plugin module)` };
    }
    if (rec.sha256 !== undefined && rec.sha256 !== null && typeof rec.sha256 !== 'string') {
      return { ok: false, error: `${at}.sha256: must be a string` };
    }
    const args = rec.args ?? [];
    if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) {
      return { ok: false, error: `${at}.args: must be a list of strings` };
    }
    if (rec.headersFrom !== undefined) {
      return { ok: false, error: `${at}.headersFrom: not supported (Sluice does not download plugins)` };
    }
    const checked = checkEntry({
      name: rec.name,
      location: rec.location,
      args,
      ...(typeof rec.sha256 === 'string' && rec.sha256 !== '' ? { sha256: rec.sha256 } : {}),
      source: `${at} (${rec.name})`,
    });
    if (!checked.ok) return checked;
    if (entries.some((e) => e.name === checked.value.name)) {
      return { ok: false, error: `${at} (${rec.name}): plugin ${rec.name} is listed twice` };
    }
    entries.push(checked.value);
  }
  return { ok: true, value: entries };
}

function checkEntry(e: {
  name: string;
  location: string;
  args: readonly string[];
  sha256?: string;
  source: string;
}): PluginConfig<MetricPluginEntry> {
  if (!NAME.test(e.name)) {
    return {
      ok: false,
      error: `${e.source}: name ${JSON.stringify(e.name)} must look like <namespace>/<name>`,
    };
  }
  if (BUILT_IN_PLUGIN_NAMES.includes(e.name)) {
    return { ok: false, error: `${e.source}: ${e.name} is a built-in provider and cannot be a plugin` };
  }
  let url: URL;
  try {
    url = new URL(e.location);
  } catch {
    return { ok: false, error: `${e.source}: location ${JSON.stringify(e.location)} is not a file:// URL` };
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    return {
      ok: false,
      error:
        `${e.source}: location ${e.location} is not a local file: Sluice does not download plugins; ` +
        "put the module on the controller's filesystem (an image layer or a volume) and use file://PATH",
    };
  }
  if (url.protocol !== 'file:') {
    return { ok: false, error: `${e.source}: location ${JSON.stringify(e.location)} is not a file:// URL` };
  }
  const path = fileURLToPath(url);
  if (!isAbsolute(path)) return { ok: false, error: `${e.source}: location ${e.location} must be absolute` };
  let isFile: boolean;
  try {
    isFile = statSync(path).isFile();
  } catch {
    return { ok: false, error: `${e.source}: plugin ${e.name} not found at ${path}` };
  }
  if (!isFile) return { ok: false, error: `${e.source}: ${path} is not a file` };
  if (e.sha256 !== undefined) {
    const actual = createHash('sha256').update(readFileSync(path)).digest('hex');
    if (actual !== e.sha256.toLowerCase()) {
      return {
        ok: false,
        error: `${e.source}: sha256 of ${path} is ${actual}, the entry expects ${e.sha256}`,
      };
    }
  }
  return {
    ok: true,
    value: {
      name: e.name,
      path,
      args: e.args,
      ...(e.sha256 !== undefined ? { sha256: e.sha256 } : {}),
      source: e.source,
    },
  };
}

/** Flags first, then the ConfigMap's entries; a name given twice is an error. */
export function mergeMetricPlugins(
  flags: readonly MetricPluginEntry[],
  configMap: readonly MetricPluginEntry[],
): PluginConfig<MetricPluginEntry[]> {
  const all = [...flags, ...configMap];
  for (const [i, e] of all.entries()) {
    const other = all.findIndex((o) => o.name === e.name);
    if (other !== i)
      return { ok: false, error: `${e.source}: plugin ${e.name} is also given by ${all[other]!.source}` };
  }
  return { ok: true, value: all };
}

/** The worker script beside this file, as .ts from the sources or .js from dist/. */
function workerUrl(): URL {
  const ext = extname(fileURLToPath(import.meta.url));
  return new URL(`./plugin-worker${ext}`, import.meta.url);
}

interface Pending {
  resolve(answer: WorkerAnswer): void;
}

type WorkerAnswer = { ok: true; result?: unknown; missing?: boolean } | { ok: false; error: string };

export interface PluginProviderOptions {
  readonly timeoutMs?: number;
  readonly heapMb?: number;
}

export interface PluginProvider extends MetricProvider {
  close(): Promise<void>;
}

/** One provider per plugin; its worker starts on the first measurement. */
export function createPluginProvider(
  entry: MetricPluginEntry,
  options: PluginProviderOptions = {},
): PluginProvider {
  const timeoutMs = options.timeoutMs ?? DEFAULT_PLUGIN_TIMEOUT_MS;
  interface Running {
    readonly thread: Worker;
    /** Calls waiting on this worker; failed together when it dies. */
    readonly pending: Map<number, Pending>;
  }
  let worker: Running | undefined;
  let nextId = 1;

  const failAll = (r: Running, error: string): void => {
    for (const p of r.pending.values()) p.resolve({ ok: false, error });
    r.pending.clear();
  };

  const start = (): Running => {
    const thread = new Worker(workerUrl(), {
      workerData: { moduleUrl: pathToFileURL(entry.path).href, args: entry.args },
      stdout: false,
      stderr: false,
      resourceLimits: { maxOldGenerationSizeMb: options.heapMb ?? DEFAULT_PLUGIN_HEAP_MB },
    });
    const r: Running = { thread, pending: new Map() };
    thread.on('message', (m: { id: number } & WorkerAnswer) => {
      const p = r.pending.get(m.id);
      if (!p) return;
      r.pending.delete(m.id);
      p.resolve(m);
    });
    // An uncaught exception inside the plugin ends its worker; the controller carries on.
    thread.on('error', (error) => {
      if (worker === r) worker = undefined;
      failAll(r, `crashed: ${errorText(error)}`);
    });
    thread.on('exit', (code) => {
      if (worker === r) worker = undefined;
      failAll(r, `exited with code ${code}`);
    });
    thread.unref();
    return r;
  };

  const call = async (
    op: 'run' | 'resume' | 'terminate',
    request: ProviderRequest,
    previous?: ProviderResult,
  ): Promise<WorkerAnswer> => {
    worker ??= start();
    const w = worker;
    const id = nextId++;
    const message = {
      id,
      op,
      request: {
        metricName: request.metricName,
        config: pluginConfig(request.provider, entry.name),
        nowMs: request.nowMs,
        ...(request.runName !== undefined ? { runName: request.runName } : {}),
        ...(request.runNamespace !== undefined ? { runNamespace: request.runNamespace } : {}),
      },
      ...(previous !== undefined ? { previous: structuredClone(previous) } : {}),
    };
    return await new Promise<WorkerAnswer>((resolveAnswer) => {
      let settled = false;
      const done = (answer: WorkerAnswer): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        request.signal.removeEventListener('abort', onAbort);
        w.pending.delete(id);
        resolveAnswer(answer);
      };
      const timer = setTimeout(() => {
        // A plugin that does not answer may be stuck in a loop: end its worker, start afresh next time.
        if (worker === w) worker = undefined;
        void w.thread.terminate();
        done({ ok: false, error: `did not answer within ${timeoutMs} ms` });
      }, timeoutMs);
      const onAbort = (): void => done({ ok: false, error: 'aborted' });
      request.signal.addEventListener('abort', onAbort, { once: true });
      w.pending.set(id, { resolve: done });
      try {
        w.thread.postMessage(message);
      } catch (error) {
        done({ ok: false, error: `cannot be called: ${errorText(error)}` });
      }
    });
  };

  const measure = async (
    op: 'run' | 'resume' | 'terminate',
    request: ProviderRequest,
    previous?: ProviderResult,
  ): Promise<ProviderResult> => {
    const fail = (message: string): ProviderResult => ({
      phase: 'Error',
      message: redact(`plugin ${entry.name}: ${op}: ${message}`, request.secrets ?? []),
    });
    const answer = await call(op, request, previous);
    if (!answer.ok) return fail(answer.error);
    if (answer.missing) {
      if (op === 'resume') return measure('run', request);
      return { phase: 'Successful', message: 'Metric Terminated' };
    }
    const checked = checkResult(answer.result);
    if (!checked.ok) return fail(`returned an invalid result: ${checked.error}`);
    return checked.value;
  };

  return {
    type: entry.name,
    run: (request) => measure('run', request),
    resume: (request, previous) => measure('resume', request, previous),
    terminate: (request, previous) => measure('terminate', request, previous),
    close: async () => {
      const w = worker;
      worker = undefined;
      if (w) {
        failAll(w, 'closed');
        await w.thread.terminate();
      }
    },
  };
}

function pluginConfig(provider: Readonly<Record<string, unknown>>, name: string): unknown {
  const block = provider.plugin;
  if (typeof block !== 'object' || block === null || Array.isArray(block)) return undefined;
  return (block as Record<string, unknown>)[name];
}

/** What a plugin returns, checked field by field (it is outside code). */
function checkResult(value: unknown): PluginConfig<ProviderResult> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: 'expected an object such as { result: 0.99 }' };
  }
  const r = value as Record<string, unknown>;
  const out: {
    phase?: MeasurementPhase;
    result?: unknown;
    value?: string;
    message?: string;
    metadata?: Record<string, string>;
    resumeAtMs?: number;
  } = {};
  if (r.phase !== undefined) {
    if (typeof r.phase !== 'string' || !PHASES.has(r.phase)) {
      return { ok: false, error: `phase ${JSON.stringify(r.phase)} is not one of ${[...PHASES].join(', ')}` };
    }
    out.phase = r.phase as MeasurementPhase;
  }
  if (r.result !== undefined) out.result = r.result;
  if (r.value !== undefined) {
    if (typeof r.value !== 'string') return { ok: false, error: 'value must be a string' };
    out.value = r.value;
  } else if (r.result !== undefined) {
    out.value = typeof r.result === 'string' ? r.result : (JSON.stringify(r.result) ?? '');
  }
  if (r.message !== undefined) {
    if (typeof r.message !== 'string') return { ok: false, error: 'message must be a string' };
    out.message = r.message;
  }
  if (r.metadata !== undefined) {
    const m = r.metadata;
    if (
      typeof m !== 'object' ||
      m === null ||
      Array.isArray(m) ||
      !Object.values(m).every((v) => typeof v === 'string')
    ) {
      return { ok: false, error: 'metadata must map strings to strings' };
    }
    out.metadata = m as Record<string, string>;
  }
  if (r.resumeAtMs !== undefined) {
    if (typeof r.resumeAtMs !== 'number' || !Number.isFinite(r.resumeAtMs)) {
      return { ok: false, error: 'resumeAtMs must be a number' };
    }
    out.resumeAtMs = r.resumeAtMs;
  }
  if (out.phase === undefined && out.result === undefined) {
    return { ok: false, error: 'neither result nor phase is set' };
  }
  return { ok: true, value: out };
}
