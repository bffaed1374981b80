// `sluice standalone DIR`: the controller's reconcilers over the in-memory ObjectStore, on one machine.
// The same engine as `sluice controller` (src/controller/engine.ts: Rollouts, AnalysisRuns, Experiments,
// routers, metric providers), fed by the manifests in DIR (applied like `kubectl apply`, again on every
// edit), kept across restarts in a state file, with local workloads standing in for kube-controller-manager
// and the kubelet (ReplicaSets -> Pods -> processes on loopback, Endpoints), the Sluice proxy embedded and
// programmed over its control API, and the subset of the Kubernetes API the `sluice` CLI uses.
//
// Routing: a canary Rollout with canaryService and stableService and no trafficRouting is routed by the
// embedded proxy (sluice/proxy with its defaults) — the only router a single machine has. Other routers
// (Istio, NGINX, SMI, Gateway API) need a cluster and are refused with a message naming the field. The
// proxy subscribes to every route (Hello.all_routes), so a Rollout added while running is served too.
//
// With a state file the data plane outlives standalone: the proxy and every pod run as their own
// processes (data-plane.ts, workloads/runtime.ts), keep serving with the last weights while standalone is
// down (killed, crashed), and are adopted by the next start with the same state file; the control server
// listens again on the port and with the token the proxy reconnects with. Without a state file there is
// nothing to resume, and everything runs in this process.

import { randomBytes } from 'node:crypto';
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
import { Notifier, withNotifications } from '../notifications/notifier.ts';
import { createMemoryStore, type MemoryStore } from '../store/memory.ts';
import { startApiServer } from './api-server.ts';
import {
  type DataPlaneRecord,
  dataPlaneFiles,
  newControlToken,
  readDataPlaneRecord,
  standaloneInstanceId,
  superviseProxy,
  writeDataPlaneRecord,
} from './data-plane.ts';
import { writeKubeconfig } from './kubeconfig-out.ts';
import { startManifests } from './manifest-sync.ts';
import { openState } from './state.ts';
import { freePort } from './workloads/addresses.ts';
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
  /** The proxy's process when it runs as one (with a state file), and whether it was adopted. */
  readonly proxyProcess?: { readonly pid: number; readonly adopted: boolean };
  /** Stops everything it started (workers, proxy, servers, workloads) after a last state write. */
  stop(): Promise<void>;
}

/** How long start waits for the proxy to serve every Rollout's route before it says it is up anyway. */
const ROUTES_SERVED_TIMEOUT_MS = 15_000;

/**
 * Until the proxy has ACKed a snapshot carrying the route of every Rollout routed by it (or the timeout:
 * a Rollout whose route cannot be published yet is reported by its own status, not here). A request in
 * between would find no route (404).
 */
async function routesServed(store: MemoryStore, routes: RouteTable, control: ControlServer, log: Logger) {
  const deadline = Date.now() + ROUTES_SERVED_TIMEOUT_MS;
  for (;;) {
    const missing = store.list<Rollout>('Rollout').flatMap((ro) => {
      const parsed = proxyRouterConfig(ro);
      if (parsed === undefined || !parsed.ok) return [];
      const namespace = ro.metadata.namespace ?? 'default';
      const name = parsed.config.route;
      const published = routes.get(namespace, name);
      const served =
        published !== undefined &&
        control.deliveries(namespace, name).some((d) => d.ackedVersion >= published.version);
      return served ? [] : [`${namespace}/${name}`];
    });
    if (missing.length === 0) return;
    if (Date.now() > deadline) {
      log.warn({ routes: missing }, 'the proxy does not serve these routes yet (see the Rollouts status)');
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A fixed port for a process that outlives this one (port 0 becomes a free port now). */
async function fixed(address: { host: string; port: number }): Promise<{ host: string; port: number }> {
  return address.port !== 0 ? address : { host: address.host, port: await freePort() };
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
    const instanceId = o.stateFile === undefined ? undefined : standaloneInstanceId(o.stateFile);
    const files = o.stateFile !== undefined ? dataPlaneFiles(o.stateFile) : undefined;
    const workloads = startLocalWorkloads(store, {
      log: log.child({ module: 'workloads' }),
      ...(instanceId !== undefined ? { instanceId } : {}),
      ...(files !== undefined ? { durable: { logDir: files.logs } } : {}),
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
    // A proxy left running by a killed predecessor reconnects to the port and with the token it knew.
    const previous = files !== undefined ? readDataPlaneRecord(files.record, log) : undefined;
    const newControl = (port: number, token: string) =>
      new ControlServer({
        routes,
        histograms,
        token,
        host: '127.0.0.1',
        port,
        logger: log.child({ module: 'control' }),
        serving: true,
        ...controlCallbacks(
          () => store,
          () => enqueue,
        ),
      });
    let controlToken = previous?.control.token ?? newControlToken();
    let control = newControl(previous?.control.port ?? 0, controlToken);
    let controlPort: number;
    try {
      controlPort = await control.listen();
    } catch (error) {
      // Taken by another program meanwhile: the old proxy cannot reconnect, so it is replaced below.
      log.warn(
        { port: previous?.control.port, err: String(error) },
        'the control port of the previous run is taken: starting on another one, with a new proxy',
      );
      await control.close();
      controlToken = newControlToken();
      control = newControl(0, controlToken);
      controlPort = await control.listen();
    }
    stops.push(() => control.close());
    // Notifications as the controller sends them; the ConfigMap and Secret come from DIR, in `default` or
    // in the Rollout's namespace.
    const notifier = new Notifier({
      store,
      namespace: 'default',
      selfService: true,
      log: log.child({ module: 'notifications' }),
    });
    stops.push(() => notifier.close());
    const notifying = withNotifications(store, notifier);
    const routers = createRouters(notifying, routes, control);
    stops.push(routers.close);
    for (const unsubscribe of enqueue.watch()) stops.push(unsubscribe);
    const workers = startWorkers({
      store: notifying,
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

    const listen = o.proxyListen ?? { host: '127.0.0.1', port: 8080 };
    const admin = o.adminListen ?? { host: '127.0.0.1', port: 9901 };
    let proxy: Pick<Standalone, 'proxyAddress' | 'adminAddress' | 'proxyProcess'>;
    if (files !== undefined && instanceId !== undefined) {
      const sameControl = previous !== undefined && previous.control.port === controlPort;
      const supervised = await superviseProxy(
        {
          instanceId,
          files,
          previous: sameControl ? previous.proxy : undefined,
          control: { port: controlPort, token: controlToken },
          listen: await fixed(listen),
          admin: await fixed(admin),
          ...(o.reportIntervalMs !== undefined ? { reportIntervalMs: o.reportIntervalMs } : {}),
          log: log.child({ module: 'proxy' }),
        },
        (p) => {
          const record: DataPlaneRecord = {
            version: 1,
            control: { port: controlPort, token: controlToken },
            proxy: {
              pid: p.pid,
              data: p.dataAddress,
              admin: p.adminAddress,
              ...(o.reportIntervalMs !== undefined ? { reportIntervalMs: o.reportIntervalMs } : {}),
            },
          };
          return writeDataPlaneRecord(files.record, record);
        },
      );
      stops.push(() => supervised.stop());
      const started = supervised.current();
      proxy = {
        proxyAddress: started.dataAddress,
        adminAddress: started.adminAddress,
        proxyProcess: { pid: started.pid, adopted: started.adopted },
      };
    } else {
      const embedded = await startProxy({
        listen,
        admin,
        control: {
          target: `127.0.0.1:${controlPort}`,
          token: controlToken,
          proxyId: 'standalone',
          allRoutes: true,
          ...(o.reportIntervalMs !== undefined ? { reportIntervalMs: o.reportIntervalMs } : {}),
        },
        logger: log.child({ module: 'proxy' }),
      });
      stops.push(() => embedded.close(2_000));
      proxy = { proxyAddress: embedded.dataAddress, adminAddress: embedded.adminAddress };
    }

    await routesServed(store, routes, control, log);

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
      ...proxy,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
