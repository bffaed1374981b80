// The `sluice controller` process: kubeconfig -> informers (KubeStore) -> work queues -> reconcilers with
// N workers each, gated by leader election, with Prometheus metrics and a health endpoint. Reconciles are
// level-triggered: a key says only "look at this object"; the reconciler reads what the API says now.
// Rollout reconciles also follow changes of the objects a Rollout owns or references (ReplicaSets, Pods,
// Services, AnalysisRuns, Deployments); AnalysisRun reconciles follow their Jobs; Experiment reconciles
// follow the ReplicaSets, Services and AnalysisRuns an Experiment controls. SIGTERM drains in-flight
// reconciles, releases the lease and exits 0; losing the lease exits 1 so the Deployment restarts it.

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import pino, { type Logger } from 'pino';
import { createJudgeProvider } from '../analysis/providers/judge.ts';
import { createPrometheusProvider } from '../analysis/providers/prometheus.ts';
import type { MetricProvider } from '../analysis/providers/provider.ts';
import { createSluiceProxyProvider } from '../analysis/providers/sluice.ts';
import { createWebProvider } from '../analysis/providers/web.ts';
import { reconcileAnalysisRun, runKeyOfJob } from '../analysis/reconcile.ts';
import type { KubeObject } from '../api/meta.ts';
import { HistogramStore } from '../control/histogram-store.ts';
import { reconcileExperiment } from '../experiment/reconcile.ts';
import { KubeClient, loadKubeConfig } from '../kube/client.ts';
import { KubeStore } from '../kube/kube-store.ts';
import { LeaderElector } from '../kube/leader-election.ts';
import { type ControllerMetrics, createControllerMetrics } from '../metrics/controller-metrics.ts';
import { type HttpEndpoint, startHealthServer, startMetricsServer } from '../metrics/server.ts';
import type { ReconcileResult } from '../reconcile/result.ts';
import { type ReconcileDeps, reconcileRollout } from '../rollout/reconcile.ts';
import type { ObjectStore, WatchEventType } from '../store/object-store.ts';
import { StoreError } from '../store/object-store.ts';
import { WorkQueue } from './work-queue.ts';

export const VERSION = 'v0.1.0';
export const INSTANCE_ID_LABEL = 'argo-rollouts.argoproj.io/controller-instance-id';
export const DEFAULT_LEASE_NAME = 'sluice-controller-lock';
export const DEFAULT_ROLLOUT_THREADS = 10;
export const DEFAULT_ANALYSIS_THREADS = 30;
export const DEFAULT_EXPERIMENT_THREADS = 10;
export const DEFAULT_RESYNC_MS = 900_000;
const SHUTDOWN_DRAIN_MS = 10_000;

export type ReconcileFn = (
  store: ObjectStore,
  namespace: string,
  name: string,
  nowMs: number,
  deps: ReconcileDeps,
) => Promise<ReconcileResult>;

export interface ControllerOptions {
  readonly kubeconfig?: string;
  readonly context?: string;
  /** Watch and reconcile only this namespace. */
  readonly namespace?: string;
  readonly metricsPort?: number;
  readonly healthzPort?: number;
  /** Address the metrics and health servers bind to (default 0.0.0.0). */
  readonly listenHost?: string;
  readonly leaderElect?: boolean;
  readonly leaseName?: string;
  /** Namespace of the Lease (default $POD_NAMESPACE, else --namespace, else "default"). */
  readonly leaseNamespace?: string;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  readonly identity?: string;
  readonly instanceId?: string;
  readonly rolloutThreads?: number;
  readonly analysisThreads?: number;
  readonly experimentThreads?: number;
  readonly resyncMs?: number;
  readonly qps?: number;
  readonly burst?: number;
  readonly logger?: Logger;
  /** Overrides the rollout reconciler (tests); default src/rollout/reconcile.ts. */
  readonly reconcileRollout?: ReconcileFn;
}

interface Owned extends KubeObject {
  spec?: {
    workloadRef?: { kind?: string; name?: string };
    strategy?: {
      canary?: { stableService?: string; canaryService?: string };
      blueGreen?: { activeService?: string; previewService?: string };
    };
  };
}

function ownerName(obj: KubeObject, kind: string): string | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.kind === kind && r.controller !== false)?.name;
}

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
    this.#analysisProviders = [
      createPrometheusProvider(),
      createWebProvider(),
      createSluiceProxyProvider(this.histograms),
      createJudgeProvider({ store: this.histograms }),
    ];
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
    if (!loaded.ok) throw new Error(loaded.error);
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
          this.log.error({ err: String(error) }, 'failed to start controllers');
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
    this.#watchAll(store);
    for (const ro of store.list('Rollout')) this.#enqueueRollout(ro);
    for (const run of store.list('AnalysisRun')) this.#enqueueRun(run);
    for (const ex of store.list('Experiment')) this.#enqueueExperiment(ex);
    const resyncMs = this.options.resyncMs ?? DEFAULT_RESYNC_MS;
    this.#resyncTimer = setInterval(() => {
      for (const ro of store.list('Rollout')) this.#enqueueRollout(ro);
      for (const run of store.list('AnalysisRun')) this.#enqueueRun(run);
      for (const ex of store.list('Experiment')) this.#enqueueExperiment(ex);
    }, resyncMs);
    this.#resyncTimer.unref();
    const reconcile = this.#reconcileRollout;
    for (let i = 0; i < (this.options.rolloutThreads ?? DEFAULT_ROLLOUT_THREADS); i++) {
      this.#workers.push(
        this.#worker(this.rolloutQueue, 'rollout', (ns, name) =>
          reconcile(store, ns, name, Date.now(), {
            log: (level, msg, fields) => this.log[level]({ rollout: `${ns}/${name}`, ...fields }, msg),
          }),
        ),
      );
    }
    for (let i = 0; i < (this.options.analysisThreads ?? DEFAULT_ANALYSIS_THREADS); i++) {
      this.#workers.push(
        this.#worker(this.analysisQueue, 'analysisrun', (ns, name) =>
          reconcileAnalysisRun(
            {
              store,
              providers: this.#analysisProviders,
              log: this.log.child({ analysisrun: `${ns}/${name}` }),
            },
            ns,
            name,
          ),
        ),
      );
    }
    for (let i = 0; i < (this.options.experimentThreads ?? DEFAULT_EXPERIMENT_THREADS); i++) {
      this.#workers.push(
        this.#worker(this.experimentQueue, 'experiment', (ns, name) =>
          reconcileExperiment(store, ns, name, Date.now(), {
            log: (level, msg, fields) => this.log[level]({ experiment: `${ns}/${name}`, ...fields }, msg),
          }),
        ),
      );
    }
  }

  /** Argo's instance-id filter: with an id, only labelled objects; without, only unlabelled ones. */
  #mine(obj: KubeObject): boolean {
    const label = obj.metadata.labels?.[INSTANCE_ID_LABEL];
    return this.options.instanceId ? label === this.options.instanceId : label === undefined || label === '';
  }

  #enqueueRollout(obj: KubeObject): void {
    if (this.#mine(obj)) this.rolloutQueue.add(`${obj.metadata.namespace}/${obj.metadata.name}`);
  }

  #enqueueRolloutByName(namespace: string | undefined, name: string | undefined): void {
    if (namespace === undefined || name === undefined) return;
    const ro = this.#store?.get('Rollout', namespace, name);
    if (ro !== undefined) this.#enqueueRollout(ro);
  }

  #enqueueRun(obj: KubeObject): void {
    if (this.#mine(obj)) this.analysisQueue.add(`${obj.metadata.namespace}/${obj.metadata.name}`);
  }

  #enqueueExperiment(obj: KubeObject): void {
    if (this.#mine(obj)) this.experimentQueue.add(`${obj.metadata.namespace}/${obj.metadata.name}`);
  }

  /** The Experiment controlling `obj` (its ReplicaSets, Services, AnalysisRuns), if any. */
  #enqueueOwningExperiment(obj: KubeObject): void {
    const name = ownerName(obj, 'Experiment');
    if (name === undefined || obj.metadata.namespace === undefined) return;
    const ex = this.#store?.get('Experiment', obj.metadata.namespace, name);
    if (ex !== undefined) this.#enqueueExperiment(ex);
  }

  #watchAll(store: KubeStore): void {
    const on = (
      kind: Parameters<ObjectStore['watch']>[0],
      fn: (type: WatchEventType, obj: KubeObject) => void,
    ) => this.#unsubscribe.push(store.watch(kind, fn));
    on('Rollout', (_t, ro) => this.#enqueueRollout(ro));
    on('ReplicaSet', (_t, rs) => {
      this.#enqueueRolloutByName(rs.metadata.namespace, ownerName(rs, 'Rollout'));
      this.#enqueueOwningExperiment(rs);
    });
    on('Pod', (_t, pod) => {
      const rsName = ownerName(pod, 'ReplicaSet');
      if (rsName === undefined || pod.metadata.namespace === undefined) return;
      const rs = store.get('ReplicaSet', pod.metadata.namespace, rsName);
      if (rs !== undefined) this.#enqueueRolloutByName(rs.metadata.namespace, ownerName(rs, 'Rollout'));
    });
    on('AnalysisRun', (_t, run) => {
      this.#enqueueRun(run);
      this.#enqueueRolloutByName(run.metadata.namespace, ownerName(run, 'Rollout'));
      this.#enqueueOwningExperiment(run);
    });
    on('Experiment', (_t, exp) => {
      this.#enqueueExperiment(exp);
      this.#enqueueRolloutByName(exp.metadata.namespace, ownerName(exp, 'Rollout'));
    });
    on('Job', (_t, job) => {
      const key = runKeyOfJob(job);
      if (key !== undefined) this.analysisQueue.add(key);
    });
    const byReference = (obj: KubeObject, refers: (ro: Owned) => boolean) => {
      for (const ro of store.list<Owned>('Rollout', obj.metadata.namespace))
        if (refers(ro)) this.#enqueueRollout(ro);
    };
    on('Service', (_t, svc) => {
      this.#enqueueOwningExperiment(svc);
      byReference(svc, (ro) => {
        const c = ro.spec?.strategy?.canary;
        const b = ro.spec?.strategy?.blueGreen;
        const n = svc.metadata.name;
        return (
          c?.stableService === n ||
          c?.canaryService === n ||
          b?.activeService === n ||
          b?.previewService === n
        );
      });
    });
    on('Deployment', (_t, d) =>
      byReference(
        d,
        (ro) => ro.spec?.workloadRef?.kind === 'Deployment' && ro.spec.workloadRef.name === d.metadata.name,
      ),
    );
  }

  async #worker(
    queue: WorkQueue,
    kind: 'rollout' | 'analysisrun' | 'experiment',
    reconcile: (namespace: string, name: string) => Promise<{ requeueAfterMs?: number; error?: string }>,
  ): Promise<void> {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      const slash = key.indexOf('/');
      const namespace = key.slice(0, slash);
      const name = key.slice(slash + 1);
      const labels = { namespace, name };
      const startedMs = performance.now();
      try {
        const result = await reconcile(namespace, name);
        // A reconciler may report a failed write instead of throwing: same back-off as a throw.
        if (result.error !== undefined) throw new Error(result.error);
        queue.forget(key);
        if (result.requeueAfterMs !== undefined) queue.addAfter(key, result.requeueAfterMs);
      } catch (error) {
        const conflict = error instanceof StoreError && error.reason === 'Conflict';
        if (kind === 'rollout') this.#metrics?.rolloutReconcileError.inc(labels);
        else if (kind === 'experiment') this.#metrics?.experimentReconcileError.inc(labels);
        else this.#metrics?.analysisRunReconcileError.inc(labels);
        (conflict ? this.log.debug : this.log.warn).call(
          this.log,
          {
            [kind]: key,
            err: error instanceof Error ? error.message : String(error),
            requeues: queue.numRequeues(key),
          },
          'reconcile failed; requeued with backoff',
        );
        queue.addRateLimited(key);
      } finally {
        const seconds = (performance.now() - startedMs) / 1000;
        if (kind === 'rollout') {
          this.#metrics?.rolloutReconcile.observe(labels, seconds);
          this.#metrics?.rolloutReconcileDuration.observe({}, seconds);
        } else if (kind === 'experiment') this.#metrics?.experimentReconcile.observe(labels, seconds);
        else this.#metrics?.analysisRunReconcile.observe(labels, seconds);
        queue.done(key);
      }
    }
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
