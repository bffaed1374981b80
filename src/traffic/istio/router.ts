// The Istio traffic router (`trafficRouting.istio`), Argo's rollout/trafficrouting/istio/istio.go behind the
// TrafficRouter seam. Each verb reads the VirtualServices (and the DestinationRule) fresh from the API
// server, checks them as Argo's ValidateVirtualService does, computes the new objects with the pure
// functions of virtual-service.ts / destination-rule.ts, and writes only the objects that changed, by a
// full update carrying the resourceVersion read (a Conflict re-reads and recomputes, a few times).
// VirtualServices are all read and checked before any is written, so a bad one leaves every one untouched.
// Failures are results, never exceptions.

import { isDeepStrictEqual } from 'node:util';
import type { KubeObject } from '../../api/meta.ts';
import type { Rollout, SetHeaderRoute, SetMirrorRoute } from '../../api/rollout.ts';
import { type IstioConfig, type IstioVirtualService, istioConfig } from '../../api/routers/istio.ts';
import { type ReplicaSet, rsAvailable, rsSpecReplicas } from '../../api/workloads.ts';
import { isControlledBy } from '../../reconcile/owners.ts';
import { StoreError } from '../../store/object-store.ts';
import { apiVersionOf } from '../../store/resources.ts';
import type { RouterContext } from '../context.ts';
import {
  InvalidConfigRouter,
  type RouterResult,
  type TrafficRouter,
  type Verification,
  type WeightDestinationSpec,
} from '../router.ts';
import { destinationRuleHost, withSubsetHashes } from './destination-rule.ts';
import { istioSplitTargets } from './observed.ts';
import {
  type CanaryDestination,
  type JsonObject,
  type Result,
  type SplitTargets,
  validateVirtualService,
  withHeaderRoute,
  withMirrorRoute,
  withoutManagedRoutes,
  withWeights,
} from './virtual-service.ts';

/** Re-reads after a Conflict before the verb gives up (the next reconcile tries again). */
const MAX_CONFLICT_RETRIES = 3;

const OK: RouterResult = { ok: true };

function describe(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

function fail(error: string): RouterResult {
  return { ok: false, error };
}

/** `virtualservices.networking.istio.io` for the served version's group. */
function resourceName(kind: 'VirtualService' | 'DestinationRule', ctx: RouterContext): string {
  const group = apiVersionOf(kind, ctx.apiVersions).split('/')[0];
  return `${kind === 'VirtualService' ? 'virtualservices' : 'destinationrules'}.${group}`;
}

/** Argo's IsReplicaSetAvailable: scaled up and every desired pod available. */
function fullyAvailable(rs: ReplicaSet): boolean {
  const replicas = rsSpecReplicas(rs);
  const available = rsAvailable(rs);
  return replicas !== 0 && available !== 0 && replicas <= available;
}

interface ReadVirtualService {
  readonly ref: IstioVirtualService;
  readonly namespace: string;
  readonly obj: JsonObject;
}

export class IstioRouter implements TrafficRouter {
  readonly type = 'Istio';
  readonly #ctx: RouterContext;
  readonly #config: IstioConfig;

  constructor(ctx: RouterContext, config: IstioConfig) {
    this.#ctx = ctx;
    this.#config = config;
  }

  get #rollout(): Rollout {
    return this.#ctx.rollout;
  }

  get #namespace(): string {
    return this.#rollout.metadata.namespace ?? '';
  }

  get #managed(): string[] {
    return (this.#rollout.spec.strategy.canary?.trafficRouting?.managedRoutes ?? []).map((r) => r.name);
  }

  get #targets(): SplitTargets {
    return istioSplitTargets(this.#rollout, this.#config);
  }

  async updateHash(
    canaryHash: string,
    stableHash: string,
    additional: readonly WeightDestinationSpec[],
  ): Promise<RouterResult> {
    try {
      return await this.#updateHash(canaryHash, stableHash, additional);
    } catch (e) {
      return fail(describe(e));
    }
  }

  async setWeight(canaryWeight: number, additional: readonly WeightDestinationSpec[]): Promise<RouterResult> {
    const targets = this.#targets;
    const managed = this.#managed;
    return this.#editVirtualServices(
      '',
      (name) => `VirtualService \`${name}\` set to desiredWeight '${canaryWeight}'`,
      async (vs) => ok(withWeights(vs.obj, vs.ref, canaryWeight, additional, targets, managed)),
    );
  }

  async setHeaderRoute(route: SetHeaderRoute): Promise<RouterResult> {
    const managed = this.#managed;
    return this.#editVirtualServices(
      '[SetHeaderRoute] ',
      (name) => `VirtualService \`${name}\` set headerRoute '${route.name}'`,
      async (vs) => {
        const canary = await this.#canaryDestination();
        if (!canary.ok) return canary;
        const edited = withHeaderRoute(vs.obj, vs.ref, route, canary.value, managed);
        return edited.ok
          ? edited
          : { ok: false, error: `failed to reconcile header routes: ${edited.error}` };
      },
    );
  }

  async setMirrorRoute(route: SetMirrorRoute): Promise<RouterResult> {
    const managed = this.#managed;
    return this.#editVirtualServices(
      '[SetMirrorRoute] ',
      (name) => `VirtualService \`${name}\` set mirrorRoute '${route.name}'`,
      async (vs) => {
        const canary = await this.#canaryDestination();
        if (!canary.ok) return canary;
        const edited = withMirrorRoute(vs.obj, vs.ref, route, canary.value, managed);
        return edited.ok
          ? edited
          : { ok: false, error: `failed reconcile virtual service for mirror routes: ${edited.error}` };
      },
    );
  }

  async verifyWeight(): Promise<Verification> {
    return undefined;
  }

  async removeManagedRoutes(): Promise<RouterResult> {
    const canary = this.#rollout.spec.strategy.canary;
    const names = new Set(this.#managed);
    for (const step of canary?.steps ?? []) {
      if (step.setHeaderRoute) names.add(step.setHeaderRoute.name);
      if (step.setMirrorRoute) names.add(step.setMirrorRoute.name);
    }
    return this.#editVirtualServices(
      '[RemoveManagedRoutes] ',
      (name) => `VirtualService \`${name}\` removed all managed routes.`,
      async (vs) => ok(withoutManagedRoutes(vs.obj, [...names])),
    );
  }

  // ---- the DestinationRule ----

  async #updateHash(
    canaryHash: string,
    stableHash: string,
    additional: readonly WeightDestinationSpec[],
  ): Promise<RouterResult> {
    const canary = this.#rollout.spec.strategy.canary;
    // Argo #2507: with no canary/stable Services the DestinationRule is the only thing selecting pods, so
    // it is not switched while a ReplicaSet that should serve is still coming up.
    if (!canary?.canaryService && !canary?.stableService) {
      const owned = this.#ctx.store
        .list<ReplicaSet>('ReplicaSet', this.#namespace)
        .filter((rs) => isControlledBy(rs, 'Rollout', this.#rollout))
        .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
      for (const rs of owned) {
        if (rsSpecReplicas(rs) > 0 && !fullyAvailable(rs))
          return {
            ok: false,
            waiting: true,
            error: `delaying destination rule switch: ReplicaSet ${rs.metadata.name} not fully available`,
          };
      }
    }
    const config = this.#config.destinationRule;
    if (config === undefined) return OK;
    for (let attempt = 0; ; attempt++) {
      const read = await this.#readDestinationRule();
      if (!read.ok) return fail(read.error);
      const next = withSubsetHashes(
        read.value,
        config,
        canaryHash,
        stableHash,
        additional,
        this.#rollout.metadata.name,
      );
      if (isDeepStrictEqual(next, read.value)) return OK;
      try {
        await this.#ctx.store.update(next as unknown as KubeObject);
      } catch (e) {
        if (e instanceof StoreError && e.reason === 'Conflict' && attempt < MAX_CONFLICT_RETRIES) continue;
        return fail(describe(e));
      }
      this.#event(
        'Normal',
        'UpdatedDestinationRule',
        `DestinationRule ${config.name} subset updated (${config.canarySubsetName}: ${canaryHash}, ${config.stableSubsetName}: ${stableHash})`,
      );
      return OK;
    }
  }

  async #readDestinationRule(): Promise<Result<JsonObject>> {
    const config = this.#config.destinationRule;
    if (config === undefined) return { ok: false, error: 'no destinationRule configured' };
    let obj: KubeObject | undefined;
    try {
      obj = await this.#ctx.store.read('DestinationRule', this.#namespace, config.name);
    } catch (e) {
      return { ok: false, error: describe(e) };
    }
    if (obj === undefined) {
      this.#event('Warning', 'DestinationRuleNotFound', `DestinationRule \`${config.name}\` not found`);
      return {
        ok: false,
        error: `${resourceName('DestinationRule', this.#ctx)} "${config.name}" not found`,
      };
    }
    return { ok: true, value: obj as unknown as JsonObject };
  }

  /** Where header and mirror routes send traffic: the DestinationRule's host, else the canary Service. */
  async #canaryDestination(): Promise<Result<CanaryDestination>> {
    const canaryService = this.#rollout.spec.strategy.canary?.canaryService ?? '';
    const config = this.#config.destinationRule;
    if (config === undefined) return { ok: true, value: { host: canaryService, subset: '' } };
    const dr = await this.#readDestinationRule();
    if (!dr.ok) return dr;
    const host = destinationRuleHost(dr.value);
    return { ok: true, value: { host: host !== '' ? host : canaryService, subset: config.canarySubsetName } };
  }

  // ---- the VirtualServices ----

  async #readVirtualService(ref: IstioVirtualService): Promise<Result<ReadVirtualService>> {
    const namespace = ref.namespace ?? this.#namespace;
    let obj: KubeObject | undefined;
    try {
      obj = await this.#ctx.store.read('VirtualService', namespace, ref.name);
    } catch (e) {
      return { ok: false, error: describe(e) };
    }
    if (obj === undefined) {
      this.#event('Warning', 'VirtualServiceNotFound', `VirtualService \`${ref.name}\` not found`);
      return { ok: false, error: `${resourceName('VirtualService', this.#ctx)} "${ref.name}" not found` };
    }
    const read: ReadVirtualService = { ref, namespace, obj: obj as unknown as JsonObject };
    const invalid = validateVirtualService(read.obj, ref, this.#targets, this.#managed);
    return invalid === undefined ? { ok: true, value: read } : { ok: false, error: invalid };
  }

  /**
   * Reads and checks every VirtualService, then computes each one's new content and updates those that
   * changed. `prefix` is Argo's per-verb error prefix.
   */
  async #editVirtualServices(
    prefix: string,
    eventMessage: (name: string) => string,
    edit: (vs: ReadVirtualService) => Promise<Result<JsonObject>>,
  ): Promise<RouterResult> {
    try {
      const reads: ReadVirtualService[] = [];
      for (const ref of this.#config.virtualServices) {
        const read = await this.#readVirtualService(ref);
        if (!read.ok) return fail(`${prefix}${read.error}`);
        reads.push(read.value);
      }
      const edits: { read: ReadVirtualService; next: JsonObject }[] = [];
      for (const read of reads) {
        const next = await edit(read);
        if (!next.ok) return fail(`${prefix}${next.error}`);
        edits.push({ read, next: next.value });
      }
      for (const { read, next } of edits) {
        const written = await this.#write(read, next, edit, eventMessage);
        if (!written.ok) return fail(`${prefix}${written.error}`);
      }
      return OK;
    } catch (e) {
      return fail(`${prefix}${describe(e)}`);
    }
  }

  /** Updates one VirtualService when its content changed; on a Conflict re-reads, re-checks, recomputes. */
  async #write(
    first: ReadVirtualService,
    firstNext: JsonObject,
    edit: (vs: ReadVirtualService) => Promise<Result<JsonObject>>,
    eventMessage: (name: string) => string,
  ): Promise<RouterResult> {
    let read = first;
    let next = firstNext;
    for (let attempt = 0; ; attempt++) {
      if (isDeepStrictEqual(next, read.obj)) return OK;
      try {
        await this.#ctx.store.update(next as unknown as KubeObject);
        this.#event('Normal', 'Updated VirtualService', eventMessage(read.ref.name));
        return OK;
      } catch (e) {
        if (!(e instanceof StoreError && e.reason === 'Conflict' && attempt < MAX_CONFLICT_RETRIES))
          return fail(describe(e));
      }
      const reread = await this.#readVirtualService(read.ref);
      if (!reread.ok) return fail(reread.error);
      const recomputed = await edit(reread.value);
      if (!recomputed.ok) return fail(recomputed.error);
      read = reread.value;
      next = recomputed.value;
    }
  }

  #event(type: 'Normal' | 'Warning', reason: string, message: string): void {
    try {
      this.#ctx.store.recordEvent(this.#rollout, type, reason, message);
    } catch {
      // Events are best effort.
    }
  }
}

function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

/**
 * The Istio router for one reconcile of ctx.rollout; undefined when it has no trafficRouting.istio. An
 * invalid config gives a router whose every verb answers the field's error.
 */
export function istioRouter(ctx: RouterContext): TrafficRouter | undefined {
  const parsed = istioConfig(ctx.rollout);
  if (parsed === undefined) return undefined;
  if (!parsed.ok) return new InvalidConfigRouter('Istio', `${parsed.field}: ${parsed.message}`);
  return new IstioRouter(ctx, parsed.config);
}
