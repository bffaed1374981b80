// Which reconcile keys an observed object concerns (client-go's event handlers and Argo's
// enqueueRollout / enqueueIfCompleted wiring): a Rollout follows its ReplicaSets, their Pods, its
// AnalysisRuns and Experiments, the Services it names (and their Endpoints, with the proxy router) and its
// workloadRef Deployment; an AnalysisRun
// follows its Jobs; an Experiment follows the ReplicaSets, Services and AnalysisRuns it controls. Argo's
// instance-id label decides which objects are this controller's. Works over any ObjectStore.

import { runKeyOfJob } from '../analysis/reconcile.ts';
import type { Kind, KubeObject } from '../api/meta.ts';
import { PROXY_ROUTER_PLUGIN } from '../api/proxy-router-config.ts';
import type { ObjectStore, WatchEventType } from '../store/object-store.ts';
import { INSTANCE_ID_LABEL } from './options.ts';
import type { WorkQueue } from './work-queue.ts';

export interface ReconcileQueues {
  readonly rollouts: WorkQueue;
  readonly analysisRuns: WorkQueue;
  readonly experiments: WorkQueue;
}

interface Owned extends KubeObject {
  spec?: {
    workloadRef?: { kind?: string; name?: string };
    strategy?: {
      canary?: {
        stableService?: string;
        canaryService?: string;
        trafficRouting?: { plugins?: Record<string, unknown> };
      };
      blueGreen?: {
        activeService?: string;
        previewService?: string;
        trafficRouting?: { plugins?: Record<string, unknown> };
      };
    };
  };
}

/** The routers' objects Rollouts are re-reconciled for (Argo's ingress and Istio informers). */
const ROUTER_OBJECT_KINDS: readonly Kind[] = ['Ingress', 'VirtualService', 'DestinationRule'];

interface RoutedRollout extends KubeObject {
  spec?: {
    strategy?: {
      canary?: {
        trafficRouting?: {
          nginx?: { stableIngress?: string; stableIngresses?: string[] };
          istio?: {
            virtualService?: { name?: string };
            virtualServices?: { name?: string }[];
            destinationRule?: { name?: string };
          };
        };
      };
    };
  };
}

function ownerName(obj: KubeObject, kind: string): string | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.kind === kind && r.controller !== false)?.name;
}

function keyOf(obj: KubeObject): string {
  return `${obj.metadata.namespace}/${obj.metadata.name}`;
}

export class Enqueuer {
  readonly #store: ObjectStore;
  readonly #queues: ReconcileQueues;
  readonly #instanceId: string | undefined;

  constructor(store: ObjectStore, queues: ReconcileQueues, instanceId?: string) {
    this.#store = store;
    this.#queues = queues;
    this.#instanceId = instanceId;
  }

  /** Argo's instance-id filter: with an id, only labelled objects; without, only unlabelled ones. */
  mine(obj: KubeObject): boolean {
    const label = obj.metadata.labels?.[INSTANCE_ID_LABEL];
    return this.#instanceId ? label === this.#instanceId : label === undefined || label === '';
  }

  rollout(obj: KubeObject): void {
    if (this.mine(obj)) this.#queues.rollouts.add(keyOf(obj));
  }

  run(obj: KubeObject): void {
    if (this.mine(obj)) this.#queues.analysisRuns.add(keyOf(obj));
  }

  experiment(obj: KubeObject): void {
    if (this.mine(obj)) this.#queues.experiments.add(keyOf(obj));
  }

  /** Every Rollout, AnalysisRun and Experiment in the store (first start, periodic resync). */
  all(): void {
    for (const ro of this.#store.list('Rollout')) this.rollout(ro);
    for (const run of this.#store.list('AnalysisRun')) this.run(run);
    for (const ex of this.#store.list('Experiment')) this.experiment(ex);
  }

  #rolloutByName(namespace: string | undefined, name: string | undefined): void {
    if (namespace === undefined || name === undefined) return;
    const ro = this.#store.get('Rollout', namespace, name);
    if (ro !== undefined) this.rollout(ro);
  }

  /** The Experiment controlling `obj` (its ReplicaSets, Services, AnalysisRuns), if any. */
  #owningExperiment(obj: KubeObject): void {
    const name = ownerName(obj, 'Experiment');
    if (name === undefined || obj.metadata.namespace === undefined) return;
    const ex = this.#store.get('Experiment', obj.metadata.namespace, name);
    if (ex !== undefined) this.experiment(ex);
  }

  #byReference(obj: KubeObject, refers: (ro: Owned) => boolean): void {
    for (const ro of this.#store.list<Owned>('Rollout', obj.metadata.namespace))
      if (refers(ro)) this.rollout(ro);
  }

  /**
   * A router's object changed (Argo's ingress and Istio informers): the Rollouts of its namespace that name
   * it as a stable Ingress, VirtualService or DestinationRule, or own it (the canary Ingress).
   */
  routerObject(kind: Kind, obj: KubeObject): void {
    const name = obj.metadata.name;
    const ns = obj.metadata.namespace;
    this.#rolloutByName(ns, ownerName(obj, 'Rollout'));
    const named = (ref: string | undefined) => ref !== undefined && (ref === name || ref === `${name}.${ns}`);
    this.#byReference(obj, (ro) => {
      const routing = (ro as RoutedRollout).spec?.strategy?.canary?.trafficRouting;
      if (kind === 'Ingress')
        return (
          routing?.nginx?.stableIngress === name || (routing?.nginx?.stableIngresses ?? []).includes(name)
        );
      if (kind === 'VirtualService')
        return (
          named(routing?.istio?.virtualService?.name) ||
          (routing?.istio?.virtualServices ?? []).some((v) => named(v?.name))
        );
      return kind === 'DestinationRule' && named(routing?.istio?.destinationRule?.name);
    });
  }

  /** Subscribes routerObject to a router kind cached after watch() was called (a CRD installed later). */
  watchRouterKind(kind: Kind): () => void {
    return this.#store.watch(kind, (_t, obj) => this.routerObject(kind, obj));
  }

  /** Subscribes to every kind whose changes concern a reconcile; returns the unsubscribe functions. */
  watch(): (() => void)[] {
    const store = this.#store;
    const subs: (() => void)[] = [];
    const on = (kind: Kind, fn: (type: WatchEventType, obj: KubeObject) => void) =>
      subs.push(store.watch(kind, fn));
    on('Rollout', (_t, ro) => this.rollout(ro));
    on('ReplicaSet', (_t, rs) => {
      this.#rolloutByName(rs.metadata.namespace, ownerName(rs, 'Rollout'));
      this.#owningExperiment(rs);
    });
    on('Pod', (_t, pod) => {
      const rsName = ownerName(pod, 'ReplicaSet');
      if (rsName === undefined || pod.metadata.namespace === undefined) return;
      const rs = store.get('ReplicaSet', pod.metadata.namespace, rsName);
      if (rs !== undefined) this.#rolloutByName(rs.metadata.namespace, ownerName(rs, 'Rollout'));
    });
    on('AnalysisRun', (_t, run) => {
      this.run(run);
      this.#rolloutByName(run.metadata.namespace, ownerName(run, 'Rollout'));
      this.#owningExperiment(run);
    });
    on('Experiment', (_t, exp) => {
      this.experiment(exp);
      this.#rolloutByName(exp.metadata.namespace, ownerName(exp, 'Rollout'));
    });
    on('Job', (_t, job) => {
      const key = runKeyOfJob(job);
      if (key !== undefined) this.#queues.analysisRuns.add(key);
    });
    on('Service', (_t, svc) => {
      this.#owningExperiment(svc);
      this.#byReference(svc, (ro) => {
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
    // The proxy router's backends are the Services' ready endpoints: a pod becoming ready or leaving is
    // a new route for the proxies.
    on('Endpoints', (_t, ep) =>
      this.#byReference(ep, (ro) => {
        const c = ro.spec?.strategy?.canary;
        const b = ro.spec?.strategy?.blueGreen;
        const n = ep.metadata.name;
        return (
          (c?.trafficRouting?.plugins?.[PROXY_ROUTER_PLUGIN] !== undefined &&
            (c.stableService === n || c.canaryService === n)) ||
          (b?.trafficRouting?.plugins?.[PROXY_ROUTER_PLUGIN] !== undefined &&
            (b.activeService === n || b.previewService === n))
        );
      }),
    );
    for (const kind of ROUTER_OBJECT_KINDS) on(kind, (_t, obj) => this.routerObject(kind, obj));
    on('Deployment', (_t, d) =>
      this.#byReference(
        d,
        (ro) => ro.spec?.workloadRef?.kind === 'Deployment' && ro.spec.workloadRef.name === d.metadata.name,
      ),
    );
    return subs;
  }
}
