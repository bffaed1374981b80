// The worker thread one metric plugin runs in (plugin.ts starts it): imports the plugin module, checks its
// apiVersion, calls init(args) once, then answers {id, op, request, previous} messages with the plugin's
// result or its error text. A plugin that throws asynchronously or loops forever takes down this worker
// only; plugin.ts reports the failure as an Error measurement and starts a fresh worker.

import { parentPort, workerData } from 'node:worker_threads';

interface WorkerInput {
  readonly moduleUrl: string;
  readonly args: readonly string[];
}

interface Call {
  readonly id: number;
  readonly op: 'run' | 'resume' | 'terminate';
  readonly request: unknown;
  readonly previous?: unknown;
}

type PluginFn = (request: unknown, previous?: unknown) => unknown;

const SUPPORTED_API_VERSION = 1;
const input = workerData as WorkerInput;
const port = parentPort!;

function text(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const ready = (async () => {
  const loaded = (await import(input.moduleUrl)) as Record<string, unknown>;
  // A CommonJS module or `export default {...}` puts the interface on `default`.
  const api = (
    typeof loaded.run === 'function' || loaded.default === undefined ? loaded : loaded.default
  ) as Record<string, unknown>;
  if (api.apiVersion !== SUPPORTED_API_VERSION) {
    throw new Error(
      `apiVersion ${JSON.stringify(api.apiVersion)} is not supported (export apiVersion = ${SUPPORTED_API_VERSION})`,
    );
  }
  if (typeof api.run !== 'function') throw new Error('the module exports no run() function');
  if (typeof api.init === 'function') await (api.init as (args: readonly string[]) => unknown)(input.args);
  return api;
})();
// Reported per call below; keep an unawaited rejection from killing the worker before the first call.
ready.catch(() => {});

port.on('message', async (call: Call) => {
  let api: Record<string, unknown>;
  try {
    api = await ready;
  } catch (error) {
    port.postMessage({ id: call.id, ok: false, error: `cannot load: ${text(error)}` });
    return;
  }
  const fn = api[call.op];
  if (typeof fn !== 'function') {
    port.postMessage({ id: call.id, ok: true, missing: true });
    return;
  }
  try {
    const result = await (fn as PluginFn)(call.request, call.previous);
    port.postMessage({ id: call.id, ok: true, result });
  } catch (error) {
    try {
      port.postMessage({ id: call.id, ok: false, error: text(error) });
    } catch {
      port.postMessage({ id: call.id, ok: false, error: 'failed (its error could not be read)' });
    }
  }
});
