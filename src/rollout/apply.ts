// Executes a Plan's actions through the ObjectStore, in order, idempotently: creates tolerate
// AlreadyExists (the object is adopted on the next reconcile), deletes tolerate NotFound, every other
// write is a merge patch of just the fields the plan decides. The first failure stops the sequence (a
// later action may depend on an earlier one, e.g. traffic after the canary RS exists) and is returned,
// never thrown. Traffic actions call every router in Argo's fixed order (ROUTER_ORDER), each through:
// reset weight first if needed, managed routes, header/mirror route, updateHash, setWeight, verifyWeight.

import { SluiceError, withContext } from '../api/errors.ts';
import type { KubeObject } from '../api/meta.ts';
import { MANAGED_BY_ANNOTATION, POD_TEMPLATE_HASH_LABEL, type Rollout } from '../api/rollout.ts';
import { applyChildWrite, isChildWrite, tolerate } from '../reconcile/child-writes.ts';
import { type ObjectStore, StoreError } from '../store/object-store.ts';
import { ROUTER_ORDER, type RouterResult, type TrafficRouter, type Verification } from '../traffic/router.ts';
import type { Action, TrafficAction } from './context.ts';

export type ApplyResult =
  | { ok: true; verified: Verification; applied: number; stopped: boolean }
  | { ok: false; error: SluiceError; applied: number };

/** A router verb that answered { ok: false }: typed so the reconciler can record Argo's event for it. */
export class TrafficRouterError extends SluiceError {
  readonly router: string;
  readonly verb: string;
  /** An expected wait (RouterResult.waiting), not a fault: no Warning event, no condition. */
  readonly waiting: boolean;
  constructor(router: string, verb: string, reason: string, waiting = false) {
    super('SLUICE_TRAFFIC_ROUTER', `${router} router ${verb}: ${reason}`);
    this.name = 'TrafficRouterError';
    this.router = router;
    this.verb = verb;
    this.waiting = waiting;
  }
}

/**
 * Argo's NewTrafficRoutingReconciler order, whatever order the routers come in: a type that is not one of
 * Argo's routers (a plugin, Sluice's proxy) takes the plugins' place, keeping the order given.
 */
export function inRouterOrder(routers: readonly TrafficRouter[]): TrafficRouter[] {
  const plugins = ROUTER_ORDER.indexOf('plugins');
  const rank = (r: TrafficRouter) => {
    const i = ROUTER_ORDER.findIndex((name) => name.toLowerCase() === r.type.toLowerCase());
    return i === -1 ? plugins : i;
  };
  return [...routers].sort((a, b) => rank(a) - rank(b));
}

async function applyTraffic(routers: readonly TrafficRouter[], a: TrafficAction): Promise<Verification> {
  let verified: Verification;
  for (const r of inRouterOrder(routers)) {
    const check = (res: RouterResult, verb: string) => {
      if (!res.ok) throw new TrafficRouterError(r.type, verb, res.error, res.waiting === true);
    };
    if (a.resetWeightFirst) check(await r.setWeight(0, []), 'setWeight');
    if (a.removeManagedRoutes) check(await r.removeManagedRoutes(), 'removeManagedRoutes');
    if (a.headerRoute) check(await r.setHeaderRoute(a.headerRoute), 'setHeaderRoute');
    if (a.mirrorRoute) check(await r.setMirrorRoute(a.mirrorRoute), 'setMirrorRoute');
    check(await r.updateHash(a.canaryHash, a.stableHash, a.additional), 'updateHash');
    check(await r.setWeight(a.weight, a.additional), 'setWeight');
    const v = await r.verifyWeight(a.weight, a.additional);
    if (v === false) verified = false;
    else if (v === true && verified !== false) verified = true;
  }
  return verified;
}

async function applyOne(
  store: ObjectStore,
  ro: Rollout,
  a: Action,
  routers: readonly TrafficRouter[],
): Promise<Verification | 'none'> {
  const ns = ro.metadata.namespace ?? '';
  if (isChildWrite(a)) {
    await applyChildWrite(store, ns, a);
    return 'none';
  }
  switch (a.kind) {
    case 'setSpecReplicas':
      await store.patch('Rollout', ns, ro.metadata.name, { spec: { replicas: a.replicas } });
      return 'none';
    case 'patchRolloutAnnotations':
      await store.patch('Rollout', ns, ro.metadata.name, { metadata: { annotations: a.annotations } });
      return 'none';
    case 'patchReplicaSetTemplate': {
      const template: Record<string, unknown> = {};
      if (a.templateMetadata) template.metadata = a.templateMetadata;
      if (a.affinityPatch !== undefined) template.spec = { affinity: a.affinityPatch };
      await store.patch('ReplicaSet', ns, a.name, {
        ...(a.annotations ? { metadata: { annotations: a.annotations } } : {}),
        spec: { template },
      });
      return 'none';
    }
    case 'patchPodMetadata':
      // A pod that is gone needs no metadata (Argo skips NotFound the same way).
      await tolerate(
        store.patch('Pod', ns, a.name, { metadata: { labels: a.labels, annotations: a.annotations } }),
        'NotFound',
      );
      return 'none';
    case 'deleteReplicaSet':
      await tolerate(store.delete('ReplicaSet', ns, a.name), 'NotFound');
      return 'none';
    case 'switchService':
      await store.patch('Service', ns, a.service, {
        metadata: { annotations: { [MANAGED_BY_ANNOTATION]: a.rolloutName } },
        spec: { selector: { [POD_TEMPLATE_HASH_LABEL]: a.hash } },
      });
      return 'none';
    case 'deleteAnalysisRun':
      await tolerate(store.delete('AnalysisRun', ns, a.name), 'NotFound');
      return 'none';
    case 'createExperiment':
      await tolerate(store.create(a.experiment as unknown as KubeObject), 'AlreadyExists');
      return 'none';
    case 'terminateExperiment':
      await tolerate(store.patch('Experiment', ns, a.name, { spec: { terminate: true } }), 'NotFound');
      return 'none';
    case 'deleteExperiment':
      await tolerate(store.delete('Experiment', ns, a.name), 'NotFound');
      return 'none';
    case 'traffic':
      return applyTraffic(routers, a);
    case 'scaleDeployment':
      await store.patch('Deployment', ns, a.name, { spec: { replicas: a.replicas } });
      return 'none';
    case 'evictPods':
      await evictPods(store, ns, a);
      return 'none';
  }
}

/**
 * Argo's restart loop: evict in the planned order until `limit` pods went. A PodDisruptionBudget's 429
 * is no failure: that pod stays for the 30 s re-check and the next candidate is tried. Returns how many
 * were evicted.
 */
async function evictPods(
  store: ObjectStore,
  ns: string,
  a: Extract<Action, { kind: 'evictPods' }>,
): Promise<number> {
  let evicted = 0;
  for (const name of a.names) {
    if (evicted >= a.limit) break;
    try {
      await store.evict(ns, name);
      evicted++;
    } catch (err) {
      if (err instanceof StoreError && (err.reason === 'TooManyRequests' || err.reason === 'NotFound'))
        continue;
      throw err;
    }
  }
  return evicted;
}

export interface ApplyOptions {
  /**
   * Stop right after an evictPods action that evicted a pod (Argo's canary: the availability counts the
   * rest of the plan used are stale once pods are gone). The result then has `stopped: true`.
   */
  readonly stopAfterEviction?: boolean;
}

export async function applyActions(
  store: ObjectStore,
  ro: Rollout,
  actions: readonly Action[],
  routers: readonly TrafficRouter[],
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  let verified: Verification;
  let applied = 0;
  for (const a of actions) {
    try {
      if (a.kind === 'evictPods') {
        const evicted = await evictPods(store, ro.metadata.namespace ?? '', a);
        applied++;
        if (evicted > 0 && options.stopAfterEviction) return { ok: true, verified, applied, stopped: true };
        continue;
      }
      const v = await applyOne(store, ro, a, routers);
      if (v !== 'none') verified = v;
      applied++;
    } catch (err) {
      return { ok: false, error: withContext(a.kind, err), applied };
    }
  }
  return { ok: true, verified, applied, stopped: false };
}
