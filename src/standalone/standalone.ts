// `sluice standalone DIR`: the controller's reconcilers over the in-memory ObjectStore, on one machine.
// The same engine as `sluice controller` (src/controller/engine.ts: Rollouts, AnalysisRuns, Experiments,
// routers, metric providers), fed by the manifests in DIR (applied like `kubectl apply`, again on every
// edit), kept across restarts in a state file, with local workloads standing in for kube-controller-manager
// and the kubelet (ReplicaSets -> Pods -> processes on loopback, Endpoints), the Sluice proxy embedded and
// programmed over its control API, and the subset of the Kubernetes API the `sluice` CLI uses.
//
// Routing: a canary Rollout with canaryService and stableService and no trafficRouting is routed by the
// embedded proxy (sluice/proxy with its defaults) — the only router a single machine has. Other routers
// (Istio, NGINX, SMI, Gateway API) need a cluster and are refused with a message naming the field.

import { createHash, randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { startProxy } from '../../proxy/main.ts';
import { proxyRouterConfig } from '../api/proxy-router-config.ts';
import type { Rollout } from '../api/rollout.ts';
import { HistogramStore } from '../control/histogram-store.ts';
import { RouteTable } from '../control/route-table.ts';
import { ControlServer } from '../control/server.ts';
import { controlCallbacks } from '../controller/control-wiring.ts';
import { startWorkers } from '../controller/engine.ts';
import { Enqueuer } from '../controller/enqueue.ts';
import {
  DEFAULT_ANALYSIS_THREADS,
  DEFAULT_EXPERIMENT_THREADS,
  DEFAULT_ROLLOUT_THREADS,
} from '../controller/options.ts';
import { createAnalysisProviders } from '../controller/providers.ts';
import { createRouters } from '../controller/routers.ts';
import { WorkQueue } from '../controller/work-queue.ts';
import { createMemoryStore, type MemoryStore } from '../store/memory.ts';
import { startApiServer } from './api-server.ts';
import { writeKubeconfig } from './kubeconfig-out.ts';
import { startManifests } from './manifest-sync.ts';
import { openState } from './state.ts';
import { startLocalWorkloads } from './workloads/index.ts';

export interface StandaloneOptions {
  /** The folder of manifests (Rollouts, AnalysisTemplates, ClusterAnalysisTemplates, Services, Experiments). */
  readonly dir: string;
  /** Where the objects are kept across restarts; without it, a fresh store every start. */
  readonly stateFile?: string;
  /** The proxy's data port (default 127.0.0.1:8080) and admin port (default 127.0.0.1:9901). */
  readonly proxyListen?: { host: string; port: number };
  readonly adminListen?: { host: string; port: number };
  /** The Kubernetes API subset for the CLI (default 127.0.0.1, any free port). */
  readonly apiListen?: { host: string; port: number };
  /** Write a kubeconfig for the CLI here. */
  readonly kubeconfigOut?: string;
  /** How often the proxy reports its histograms (the judge's interval); default the proxy's (1 s). */
  readonly reportIntervalMs?: number;
  readonly log: Logger;
}

export interface Standalone {
  readonly store: MemoryStore;
  /** The API server's URL and the token the kubeconfig carries. */
  readonly apiUrl: string;
  readonly apiToken: string;
  readonly proxyAddress: { host: string; port: number };
  readonly adminAddress: { host: string; port: number };
  /** Stops everything it started (workers, proxy, servers, workloads) after a last state write. */
  stop(): Promise<void>;
}

/** The proxy route a Rollout is served on, or undefined when the embedded proxy does not route it. */
function proxyRoute(ro: Rollout): { name: string; namespace: string } | undefined {
  const parsed = proxyRouterConfig(ro);
  if (parsed === undefined || !parsed.ok) return undefined;
  return { name: parsed.config.route, namespace: ro.metadata.namespace ?? 'default' };
}

export async function startStandalone(o: StandaloneOptions): Promise<Standalone> {
  const log = o.log;
  const stops: (() => Promise<void> | void)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.splice(0).reverse()) {
      try {
        await stop();
      } catch (error) {
        log.warn({ err: String(error) }, 'stopping standalone');
      }
    }
  };
  try {
    const store = createMemoryStore();
    if (o.stateFile !== undefined) {
      // A corrupted state file throws here with the file and the problem: never a silent reset.
      const state = await openState(o.stateFile, store, {
        onError: (error) => log.warn({ err: String(error), file: o.stateFile }, 'state file write failed'),
      });
      stops.push(() => state.close());
      log.info(
        { file: o.stateFile, restored: state.restored },
        state.restored ? 'state restored' : 'fresh state',
      );
    }
    stops.push(await startManifests(store, o.dir, log));
    // The state file names this instance: only one live standalone holds it (its lock), so pod processes
    // carrying its id that this run did not start are a killed predecessor's, and go.
    const instanceId =
      o.stateFile === undefined
        ? undefined
        : createHash('sha256').update(resolve(o.stateFile)).digest('hex').slice(0, 16);
    const workloads = startLocalWorkloads(store, {
      log: log.child({ module: 'workloads' }),
      ...(instanceId !== undefined ? { instanceId } : {}),
    });
    stops.push(() => workloads.stop());

    const queues = {
      rollouts: new WorkQueue(),
      analysisRuns: new WorkQueue(),
      experiments: new WorkQueue(),
    };
    const enqueue = new Enqueuer(store, queues);
    const routes = new RouteTable();
    const histograms = new HistogramStore();
    const controlToken = randomBytes(32).toString('hex');
    const control = new ControlServer({
      routes,
      histograms,
      token: controlToken,
      host: '127.0.0.1',
      port: 0,
      logger: log.child({ module: 'control' }),
      serving: true,
      ...controlCallbacks(
        () => store,
        () => enqueue,
      ),
    });
    await control.listen();
    stops.push(() => control.close());
    const routers = createRouters(store, routes, control);
    stops.push(routers.close);
    for (const unsubscribe of enqueue.watch()) stops.push(unsubscribe);
    const workers = startWorkers({
      store,
      queues,
      routers,
      providers: createAnalysisProviders(histograms),
      log,
      hooks: { log },
      threads: {
        rollouts: DEFAULT_ROLLOUT_THREADS,
        analysisRuns: DEFAULT_ANALYSIS_THREADS,
        experiments: DEFAULT_EXPERIMENT_THREADS,
      },
    });
    stops.push(async () => {
      for (const q of Object.values(queues)) q.shutDown();
      await Promise.allSettled(workers);
    });
    enqueue.all();

    // The embedded proxy serves every route a Rollout declares now (a Rollout added later with a new route
    // needs a restart of standalone to be served: the proxy's subscription is made once, at its start).
    const proxyRoutes = store
      .list<Rollout>('Rollout')
      .flatMap((ro) => proxyRoute(ro) ?? [])
      .filter((r, i, all) => all.findIndex((x) => x.name === r.name && x.namespace === r.namespace) === i);
    const proxy = await startProxy({
      listen: o.proxyListen ?? { host: '127.0.0.1', port: 8080 },
      admin: o.adminListen ?? { host: '127.0.0.1', port: 9901 },
      control: {
        target: `127.0.0.1:${control.port}`,
        token: controlToken,
        proxyId: 'standalone',
        routes: proxyRoutes,
        ...(o.reportIntervalMs !== undefined ? { reportIntervalMs: o.reportIntervalMs } : {}),
      },
      logger: log.child({ module: 'proxy' }),
    });
    stops.push(() => proxy.close(2_000));

    const apiToken = randomBytes(32).toString('hex');
    const api = await startApiServer(store, {
      token: apiToken,
      host: o.apiListen?.host ?? '127.0.0.1',
      port: o.apiListen?.port ?? 0,
      log: (message) => log.debug({ module: 'api' }, message),
    });
    stops.push(() => api.close());
    if (o.kubeconfigOut !== undefined) await writeKubeconfig(o.kubeconfigOut, api.url, apiToken);
    return {
      store,
      apiUrl: api.url,
      apiToken,
      proxyAddress: proxy.dataAddress,
      adminAddress: proxy.adminAddress,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
