// The `sluice controller` process: kubeconfig -> informers (KubeStore) -> work queues -> reconcilers with
// N workers each, gated by leader election, with Prometheus metrics and a health endpoint. Reconciles are
// level-triggered: a key says only "look at this object"; the reconciler reads what the API says now.
// Which keys an object change concerns is enqueue.ts; the worker loop and its retry policy workers.ts; the
// analysis providers providers.ts. SIGTERM drains in-flight reconciles, releases the lease and exits 0;
// losing the lease exits 1 so the Deployment restarts it.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import pino, { type Logger } from 'pino';
import type { MetricProvider } from '../analysis/providers/provider.ts';
import { reconcileAnalysisRun } from '../analysis/reconcile.ts';
import { errorText, SluiceError } from '../api/errors.ts';
import { HistogramStore } from '../control/histogram-store.ts';
import { reconcileExperiment } from '../experiment/reconcile.ts';
import { KubeClient, loadKubeConfig } from '../kube/client.ts';
import { KubeStore } from '../kube/kube-store.ts';
import { LeaderElector } from '../kube/leader-election.ts';
import { type ControllerMetrics, createControllerMetrics } from '../metrics/controller-metrics.ts';
import { type HttpEndpoint, startHealthServer, startMetricsServer } from '../metrics/server.ts';
import type { ReconcileLog, ReconcileResult } from '../reconcile/result.ts';
import { reconcileRollout } from '../rollout/reconcile.ts';
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
import { createAnalysisProviders } from './providers.ts';
import { WorkQueue } from './work-queue.ts';
import { runWorker, type WorkerHooks, type WorkerKind } from './workers.ts';

export class Controller {
  readonly log: Logger;
  readonly options: ControllerOptions;
  readonly rolloutQueue = new WorkQueue();
  readonly analysisQueue = new WorkQueue();
  readonly experimentQueue = new WorkQueue();
  #client: KubeClient | undefined;
  #store: KubeStore | undefined;
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
    const loaded = loadKubeConfig({
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
    const storeLog = this.log.child({ module: 'informer' });
    this.#store = new KubeStore(this.#client, {
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
    this.#unsubscribe.push(...enqueue.watch());
    enqueue.all();
    this.#resyncTimer = setInterval(() => enqueue.all(), this.options.resyncMs ?? DEFAULT_RESYNC_MS);
    this.#resyncTimer.unref();
    const o = this.options;
    const logFor =
      (field: string, ns: string, name: string): ReconcileLog =>
      (level, msg, fields) =>
        this.log[level]({ [field]: `${ns}/${name}`, ...fields }, msg);
    const reconcileRollout = this.#reconcileRollout;
    const pools: readonly [
      WorkQueue,
      WorkerKind,
      number,
      (ns: string, name: string) => Promise<ReconcileResult>,
    ][] = [
      [
        this.rolloutQueue,
        'rollout',
        o.rolloutThreads ?? DEFAULT_ROLLOUT_THREADS,
        (ns, name) => reconcileRollout(store, ns, name, Date.now(), { log: logFor('rollout', ns, name) }),
      ],
      [
        this.analysisQueue,
        'analysisrun',
        o.analysisThreads ?? DEFAULT_ANALYSIS_THREADS,
        (ns, name) =>
          reconcileAnalysisRun(
            {
              store,
              providers: this.#analysisProviders,
              log: this.log.child({ analysisrun: `${ns}/${name}` }),
            },
            ns,
            name,
          ),
      ],
      [
        this.experimentQueue,
        'experiment',
        o.experimentThreads ?? DEFAULT_EXPERIMENT_THREADS,
        (ns, name) =>
          reconcileExperiment(store, ns, name, Date.now(), { log: logFor('experiment', ns, name) }),
      ],
    ];
    const hooks = this.#workerHooks();
    for (const [queue, kind, threads, reconcile] of pools) {
      for (let i = 0; i < threads; i++) this.#workers.push(runWorker(queue, kind, reconcile, hooks));
    }
  }

  /** Reconcile error counts and durations per kind, as Argo's controller exports them. */
  #workerHooks(): WorkerHooks {
    return {
      log: this.log,
      onError: (kind, labels) => {
        if (kind === 'rollout') this.#metrics?.rolloutReconcileError.inc(labels);
        else if (kind === 'experiment') this.#metrics?.experimentReconcileError.inc(labels);
        else this.#metrics?.analysisRunReconcileError.inc(labels);
      },
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
    await this.#store?.stop();
    await this.#elector?.stop();
    this.#leading = false;
    for (const e of this.#endpoints.splice(0)) await e.close();
    await this.#client?.close();
    this.log.info({ code }, 'stopped');
    this.#finish(code);
    return code;
  }
}
