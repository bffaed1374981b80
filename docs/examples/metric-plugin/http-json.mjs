// An example Sluice metric plugin (docs/metric-plugins.md): fetches a JSON document and returns one of
// its fields as the measurement's `result`. Used by a metric as
//   provider:
//     plugin:
//       example/http-json:
//         url: http://checkout.shop.svc/stats
//         field: errorRate
// and configured with `sluice controller --metric-plugin example/http-json=/plugins/http-json.mjs`.

/** The plugin interface version this module implements. */
export const apiVersion = 1;

let timeoutMs = 5000;

/** Called once when the plugin's worker starts, with the `args` of its ConfigMap entry. */
export function init(args) {
  const i = args.indexOf('--timeout-ms');
  if (i >= 0) timeoutMs = Number(args[i + 1]);
}

/** One measurement. Throwing is fine: Sluice records an Error measurement with the message. */
export async function run(request) {
  const { url, field } = request.config ?? {};
  if (typeof url !== 'string') throw new Error('config.url is required');
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok) {
    return { phase: 'Error', message: `GET ${url}: HTTP ${response.status}` };
  }
  const body = await response.json();
  const result = typeof field === 'string' ? body[field] : body;
  if (result === undefined) return { phase: 'Error', message: `no field ${field} in the answer` };
  return { result, metadata: { url } };
}
