// The proxies of the push fan-out measurement (push-fanout.ts), in a worker thread so they do not share
// the control server's event loop (deployed, each proxy is its own process): N real control clients
// (proxy/control/client.ts), each subscribed to one route, each validating every pushed snapshot as the
// proxy does before it ACKs (proxy/routing/validate.ts), and remembering per version when the last of
// them applied it (epoch ms, comparable with the main thread's).
//
// Protocol (push-fanout.ts is the other side):
//   in:  { type: 'start', target, token, proxies, route }   { type: 'stop' }
//   out: { type: 'ready' } once every client applied a snapshot; { type: 'done', applied }
import { parentPort } from 'node:worker_threads';
import { type ControlClient, startControlClient } from '../../proxy/control/client.ts';
import { validateRoutesConfig } from '../../proxy/routing/validate.ts';
import type { PushWorkerIn, PushWorkerOut } from './push-fanout.ts';

/** Reports are not part of this measurement: the clients have none, and tick rarely. */
const REPORT_INTERVAL_MS = 60_000;

const clients: ControlClient[] = [];
/** version -> [clients that applied it, when the last one did]. */
const applied = new Map<number, [number, number]>();
const firstApplied = new Set<string>();
let expected = 0;
let readySent = false;

function epochNowMs(): number {
  return performance.timeOrigin + performance.now();
}

parentPort!.on('message', (message: PushWorkerIn) => {
  if (message.type === 'stop') {
    void Promise.all(clients.map((c) => c.close())).then(() => {
      parentPort!.postMessage({
        type: 'done',
        applied: [...applied].map(([version, [count, lastMs]]) => ({ version, count, lastMs })),
      } satisfies PushWorkerOut);
    });
    return;
  }
  expected = message.proxies;
  for (let i = 0; i < message.proxies; i++) {
    const proxyId = `bench-proxy-${String(i).padStart(3, '0')}`;
    clients.push(
      startControlClient({
        target: message.target,
        token: message.token,
        proxyId,
        routes: [message.route],
        onSnapshot: (version, config) => {
          const checked = validateRoutesConfig(config);
          const atMs = epochNowMs();
          const entry = applied.get(version) ?? [0, 0];
          applied.set(version, [entry[0] + 1, atMs]);
          firstApplied.add(proxyId);
          if (!readySent && firstApplied.size === expected) {
            readySent = true;
            parentPort!.postMessage({ type: 'ready' } satisfies PushWorkerOut);
          }
          return checked.ok ? { ok: true } : { ok: false, reason: 'invalid snapshot' };
        },
        drainReports: () => [],
        reportIntervalMs: REPORT_INTERVAL_MS,
        backoff: { initialMs: 50, maxMs: 1_000 },
      }),
    );
  }
});
