// The `sluice controller` process: kubeconfig -> informers (KubeStore) -> work queues -> reconcilers with
// N workers each, gated by leader election, with Prometheus metrics and a health endpoint. Reconciles are
// level-triggered: a key says only "look at this object"; the reconciler reads what the API says now.
// Which keys an object change concerns is enqueue.ts; the worker loop and its retry policy workers.ts; the
// analysis providers providers.ts. SIGTERM drains in-flight reconciles, releases the lease and exits 0;
// losing the lease exits 1 so the Deployment restarts it. With `control` set, the proxies' control server
// (src/control/server.ts) listens from start() on, standby included, but serves proxies only while this
// replica leads and its caches are synced; it publishes `routes` and reports deliveries as `control`.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import pino, { type Logger } from 'pino';
import type { MetricProvider } from '../analysis/providers/provider.ts';
import { errorText, SluiceError } from '../api/errors.ts';
import type { Kind } from '../api/meta.ts';
import { HistogramStore } from '../control/histogram-store.ts';
import { type DeliveryView, RouteTable } from '../control/route-table.ts';
import { ControlServer } from '../control/server.ts';
import { KubeClient, loadKubeConfig } from '../kube/client.ts';
import {
  discoverRouterApiVersions,
  routerApiFlagError,
  servedWatchedRouterKinds,
} from '../kube/discovery.ts';
import { KubeStore } from '../kube/kube-store.ts';
import { LeaderElector } from '../kube/leader-election.ts';
import { createControlMetrics } from '../metrics/control-metrics.ts';
import { type ControllerMetrics, createControllerMetrics } from '../metrics/controller-metrics.ts';
import { createNotificationMetrics } from '../metrics/notification-metrics.ts';
import { type HttpEndpoint, startHealthServer, startMetricsServer } from '../metrics/server.ts';
import { Notifier, withNotifications } from '../notifications/notifier.ts';
import { reconcileRollout } from '../rollout/reconcile.ts';
import { controlCallbacks } from './control-wiring.ts';
import { startWorkers } from './engine.ts';
import { Enqueuer } from './enqueue.ts';
import {
  type ControllerOptions,
  DEFAULT_ANALYSIS_THREADS,
  DEFAULT_EXPERIMENT_THREADS,
  DEFAULT_LEASE_NAME,
  DEFAULT_RESYNC_MS,
  DEFAULT_ROLLOUT_THREADS,
  type ReconcileFn,
  SHUTDOWN_DRAIN_MS,
  VERSION,
} from './options.ts';
import { createAnalysisProviders, loadMetricPlugins } from './providers.ts';
import { createRouters } from './routers.ts';
import { WorkQueue } from './work-queue.ts';
import type { WorkerHooks } from './workers.ts';

export class Controller {
  readonly log: Logger;
  readonly options: ControllerOptions;
  readonly rolloutQueue = new WorkQueue();
  readonly analysisQueue = new WorkQueue();
  readonly experimentQueue = new WorkQueue();
  #client: KubeClient | undefined;
  #store: KubeStore | undefined;
  /** The traffic routers' API versions, shared by the store and the routers (discovery fills it). */
  readonly #apiVersions: Partial<Record<Kind, string>> = {};
  readonly #routerFlags: { istioApiVersion?: string; trafficSplitApiVersion?: string } = {};
  readonly #watchedRouterKinds = new Set<Kind>();
  #metrics: ControllerMetrics | undefined;
  #elector: LeaderElector | undefined;
  #endpoints: HttpEndpoint[] = [];
  #workers: Promise<void>[] = [];
  #unsubscribe: (() => void)[] = [];
  #resyncTimer: ReturnType<typeof setInterval> | undefined;
  #leading = false;
  #stopping = false;
  #done: Promise<number>;
  #finish: (code: number) => void = () => {};
  #reconcileRollout: ReconcileFn = reconcileRollout;
  readonly #analysisProviders: MetricProvider[];
  readonly histograms = new HistogramStore();
  /** The routes the proxies are sent (published by the sluice/proxy traffic router). */
  readonly routes = new RouteTable();
  #control: ControlServer | undefined;
  #enqueuer: Enqueuer | undefined;
  #notifier: Notifier | undefined;
  readonly #deliveries: DeliveryView = {
    deliveries: (namespace, name) => this.#control?.deliveries(namespace, name) ?? [],
  };

  constructor(options: ControllerOptions) {
    this.options = options;
    this.log = options.logger ?? pino({ base: { component: 'sluice-controller' } });
    this.#done = new Promise((resolve) => {
      this.#finish = resolve;
    });
    this.#analysisProviders = createAnalysisProviders(this.histograms);
  }

  get store(): KubeStore | undefined {
    return this.#store;
  }

  get metricsPort(): number | undefined {
    return this.#endpoints[0]?.port;
  }

  get healthzPort(): number | undefined {
    return this.#endpoints[1]?.port;
  }

  /** The control server's port, once bound (undefined without `control`). */
  get controlPort(): number | undefined {
    return this.#control?.port;
  }

  /** What each subscribed proxy was sent and answered; no proxies without a control server. */
  get control(): DeliveryView {
    return this.#deliveries;
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  /** Resolves with the process exit code once the controller has stopped. */
  get done(): Promise<number> {
    return this.#done;
  }

  /** Connects, serves metrics/health, and campaigns for leadership. Rejects with a message on bad config. */
  async start(): Promise<void> {
    const o = this.options;
    const loaded = await loadKubeConfig({
      ...(o.kubeconfig !== undefined ? { kubeconfig: o.kubeconfig } : {}),
      ...(o.context !== undefined ? { context: o.context } : {}),
    });
    if (!loaded.ok) throw new SluiceError('SLUICE_KUBECONFIG', loaded.error);
    this.log.info(
      { kubeconfig: loaded.source, namespace: o.namespace ?? '(all)', version: VERSION },
      'starting',
    );
    this.#client = await KubeClient.create(loaded.config, {
      ...(o.qps !== undefined ? { qps: o.qps } : {}),
      ...(o.burst !== undefined ? { burst: o.burst } : {}),
      onRequest: (r) => {
        this.#metrics?.k8sRequests.inc({
          kind: r.resource,
          namespace: r.namespace,
          name: r.name,
          verb: r.verb,
          status_code: String(r.statusCode),
        });
        if (r.durationMs !== undefined)
          this.#metrics?.k8sRequestDuration.observe({ verb: r.verb }, r.durationMs / 1000);
      },
    });
    const flags = this.#routerFlags;
    Object.assign(flags, {
      ...(o.istioApiVersion !== undefined ? { istioApiVersion: o.istioApiVersion } : {}),
      ...(o.trafficSplitApiVersion !== undefined ? { trafficSplitApiVersion: o.trafficSplitApiVersion } : {}),
    });
    const flagError = routerApiFlagError(flags);
    if (flagError !== undefined) throw new SluiceError('SLUICE_USAGE', flagError);
    await discoverRouterApiVersions(this.#client, flags, this.#apiVersions);
    this.log.info({ apiVersions: this.#apiVersions }, 'traffic router API versions');
    const storeLog = this.log.child({ module: 'informer' });
    this.#store = new KubeStore(this.#client, {
      apiVersions: this.#apiVersions,
      ...(o.namespace !== undefined ? { namespace: o.namespace } : {}),
      logger: { warn: (f, m) => storeLog.warn(f, m), debug: (f, m) => storeLog.debug(f, m) },
      events: {
        host: hostname(),
        onEvent: (obj, type, reason) => {
          if (obj.kind === 'Rollout') {
            this.#metrics?.rolloutEvents.inc({
              namespace: obj.metadata.namespace ?? '',
              name: obj.metadata.name,
              type,
              reason,
            });
          }
        },
        onDropped: (obj, reason) => {
          this.#metrics?.eventsDropped.inc({});
          this.log.debug(
            { object: `${obj.kind}/${obj.metadata.name}`, reason },
            'event queue full; event dropped',
          );
        },
      },
    });
    const store = this.#store;
    this.#analysisProviders.push(
      ...(await loadMetricPlugins((ns, name) => store.read('ConfigMap', ns, name), o.metricPlugins ?? [])),
    );
    this.#metrics = createControllerMetrics(this.#store, { version: VERSION, isLeader: () => this.#leading });
    this.#metrics.addRateLimiter(this.#client.limiter);
    this.#metrics.addQueue('rollouts', this.rolloutQueue);
    this.#metrics.addQueue('analysisruns', this.analysisQueue);
    this.#metrics.addQueue('experiments', this.experimentQueue);
    const host = o.listenHost ?? '0.0.0.0';
    const metrics = this.#metrics;
    this.#endpoints.push(await startMetricsServer(() => metrics.expose(), host, o.metricsPort ?? 8090));
    this.#endpoints.push(
      await startHealthServer(
        () => (this.#stopping ? { ok: false, reason: 'shutting down' } : { ok: true }),
        host,
        o.healthzPort ?? 8080,
      ),
    );
    if (o.control !== undefined) await this.#startControlServer(o.control, metrics);
    this.#reconcileRollout = o.reconcileRollout ?? reconcileRollout;
    if (o.leaderElect === false) {
      await this.#startLeading();
      return;
    }
    const identity = o.identity ?? `${hostname()}_${randomBytes(4).toString('hex')}`;
    const leaseNamespace = o.leaseNamespace ?? process.env.POD_NAMESPACE ?? o.namespace ?? 'default';
    this.#elector = new LeaderElector({
      store: this.#store,
      namespace: leaseNamespace,
      name: o.leaseName ?? DEFAULT_LEASE_NAME,
      identity,
      ...(o.leaseDurationMs !== undefined ? { leaseDurationMs: o.leaseDurationMs } : {}),
      ...(o.renewDeadlineMs !== undefined ? { renewDeadlineMs: o.renewDeadlineMs } : {}),
      ...(o.retryPeriodMs !== undefined ? { retryPeriodMs: o.retryPeriodMs } : {}),
      log: (fields, message) => this.log.info({ ...fields, module: 'leader-election' }, message),
      onNewLeader: (leader) => this.log.info({ leader, identity }, 'leader observed'),
      onStartedLeading: () => {
        void this.#startLeading().catch((error) => {
          this.log.error({ err: errorText(error) }, 'failed to start controllers');
          void this.stop(1);
        });
      },
      onStoppedLeading: () => {
        if (!this.#stopping) {
          this.log.error({ identity }, 'lost leadership; exiting');
          void this.stop(1);
        }
      },
    });
    this.log.info(
      { identity, lease: `${leaseNamespace}/${o.leaseName ?? DEFAULT_LEASE_NAME}` },
      'campaigning for leadership',
    );
    void this.#elector.start();
  }

  async #startControlServer(
    settings: NonNullable<ControllerOptions['control']>,
    metrics: ControllerMetrics,
  ): Promise<void> {
    this.#control = new ControlServer({
      routes: this.routes,
      histograms: this.histograms,
      token: settings.token,
      ...(settings.tls !== undefined ? { tls: settings.tls } : {}),
      host: settings.host,
      port: settings.port,
      logger: this.log.child({ module: 'control' }),
      metrics: createControlMetrics(metrics.registry),
      serving: false,
      ...controlCallbacks(
        () => this.#store,
        () => this.#enqueuer,
      ),
    });
    await this.#control.listen();
  }

  /** Caches the served router kinds not cached yet; with an enqueuer, subscribes it to them too. */
  async #watchRouterKinds(store: KubeStore, enqueue?: Enqueuer): Promise<void> {
    const client = this.#client;
    if (client === undefined) return;
    for (const kind of await servedWatchedRouterKinds(client, this.#apiVersions)) {
      if (this.#watchedRouterKinds.has(kind)) continue;
      this.#watchedRouterKinds.add(kind);
      await store.cacheKind(kind);
      if (enqueue !== undefined) this.#unsubscribe.push(enqueue.watchRouterKind(kind));
    }
  }

  async #startLeading(): Promise<void> {
    const store = this.#store!;
    this.#leading = true;
    const synced = await store.start();
    if (!synced || this.#stopping) return;
    this.log.info({ caches: store.cacheSizes() }, 'caches synced; starting workers');
    const enqueue = new Enqueuer(
      store,
      { rollouts: this.rolloutQueue, analysisRuns: this.analysisQueue, experiments: this.experimentQueue },
      this.options.instanceId,
    );
    this.#enqueuer = enqueue;
    // The routers' objects Argo watches (Ingresses, and VirtualServices/DestinationRules when served): an
    // edit or re-creation re-reconciles the Rollouts that name them. Cached before watch() subscribes.
    await this.#watchRouterKinds(store);
    this.#unsubscribe.push(...enqueue.watch());
    // Notifications on the Events the reconcilers record (Argo's EventRecorderAdapter), off the reconcile path.
    const o = this.options;
    const notifier = new Notifier({
      store,
      namespace: o.notifications?.namespace ?? process.env.POD_NAMESPACE ?? o.namespace ?? 'argo-rollouts',
      ...(o.notifications?.selfService ? { selfService: true } : {}),
      ...(o.notifications?.retry ? { retry: o.notifications.retry } : {}),
      log: this.log.child({ module: 'notifications' }),
      ...(this.#metrics ? { metrics: createNotificationMetrics(this.#metrics.registry) } : {}),
    });
    this.#notifier = notifier;
    // The routers record Events too (TrafficSplitCreated, ...): through the same notifying store.
    const notifying = withNotifications(store, notifier);
    const routers = createRouters(notifying, this.routes, this.control, this.#apiVersions);
    this.#unsubscribe.push(routers.close);
    enqueue.all();
    // The caches are synced: subscriptions can be checked against the Rollouts.
    this.#control?.setServing(true);
    this.#resyncTimer = setInterval(() => {
      // A router CRD installed (or upgraded) since the start is picked up here.
      const client = this.#client;
      if (client !== undefined)
        void discoverRouterApiVersions(client, this.#routerFlags, this.#apiVersions)
          .then(() => this.#watchRouterKinds(store, enqueue))
          .then(() => enqueue.all());
      else enqueue.all();
    }, this.options.resyncMs ?? DEFAULT_RESYNC_MS);
    this.#resyncTimer.unref();
    this.#workers.push(
      ...startWorkers({
        store: notifying,
        queues: {
          rollouts: this.rolloutQueue,
          analysisRuns: this.analysisQueue,
          experiments: this.experimentQueue,
        },
        routers,
        providers: this.#analysisProviders,
        log: this.log,
        hooks: this.#workerHooks(),
        threads: {
          rollouts: o.rolloutThreads ?? DEFAULT_ROLLOUT_THREADS,
          analysisRuns: o.analysisThreads ?? DEFAULT_ANALYSIS_THREADS,
          experiments: o.experimentThreads ?? DEFAULT_EXPERIMENT_THREADS,
        },
        reconcileRollout: this.#reconcileRollout,
      }),
    );
  }

  /** Reconcile error counts and durations per kind, as Argo's controller exports them. */
  #workerHooks(): WorkerHooks {
    return {
      log: this.log,
      onError: (kind, labels) => this.#metrics?.reconcileError(kind, labels),
      onDone: (kind, labels, seconds) => {
        if (kind === 'rollout') {
          this.#metrics?.rolloutReconcile.observe(labels, seconds);
          this.#metrics?.rolloutReconcileDuration.observe({}, seconds);
        } else if (kind === 'experiment') this.#metrics?.experimentReconcile.observe(labels, seconds);
        else this.#metrics?.analysisRunReconcile.observe(labels, seconds);
      },
    };
  }

  /** Graceful stop: no new work, in-flight reconciles finish (bounded), lease released, servers closed. */
  async stop(code = 0): Promise<number> {
    if (this.#stopping) return this.#done;
    this.#stopping = true;
    this.log.info({ code }, 'shutting down');
    // Proxies go to the next leader (they keep serving their last snapshot meanwhile).
    this.#control?.setServing(false);
    this.rolloutQueue.shutDown();
    this.analysisQueue.shutDown();
    this.experimentQueue.shutDown();
    if (this.#resyncTimer !== undefined) clearInterval(this.#resyncTimer);
    for (const u of this.#unsubscribe.splice(0)) u();
    let drainTimer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled(this.#workers),
      new Promise((resolve) => {
        drainTimer = setTimeout(resolve, SHUTDOWN_DRAIN_MS);
      }),
    ]);
    clearTimeout(drainTimer);
    await this.#notifier?.close();
    await this.#store?.stop();
    await this.#elector?.stop();
    this.#leading = false;
    await this.#control?.close();
    for (const e of this.#endpoints.splice(0)) await e.close();
    await this.#client?.close();
    this.log.info({ code }, 'stopped');
    this.#finish(code);
    return code;
  }
}
