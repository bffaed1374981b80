// The SMI router (Argo's rollout/trafficrouting/smi/smi.go): one TrafficSplit per Rollout, named
// trafficSplitName (default: the Rollout's name), controller-owned by the Rollout, created when absent.
// spec.service is rootService (default: the stableService); spec.backends are canary at w, each
// experiment destination at its weight, stable at 100 - w - Σadditional (Argo's hard-coded 100).
// split.smi-spec.io/v1alpha1 carries weights as Kubernetes Quantities (serialised as strings, "30"),
// v1alpha2 and v1alpha3 as integers; the served version comes from RouterContext.apiVersions.
//
// Writes: a merge patch of spec.service and spec.backends, only when they differ, so a user's other
// fields (v1alpha3 `matches`, labels, annotations) survive. SMI has no header or mirror routes and no
// verification: those verbs succeed doing nothing (Argo returns nil), verifyWeight is unknown.

import type { KubeObject } from '../../api/meta.ts';
import { type SmiConfig, smiConfig } from '../../api/routers/smi.ts';
import { controllerRef, isControlledBy } from '../../reconcile/owners.ts';
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

export const SMI_TYPE = 'SMI';
const SUPPORTED_VERSIONS = ['v1alpha1', 'v1alpha2', 'v1alpha3'] as const;
type SmiVersion = (typeof SUPPORTED_VERSIONS)[number];

export interface TrafficSplitBackend {
  service: string;
  /** v1alpha1: a Quantity string; v1alpha2/3: an integer. */
  weight: string | number;
}

export interface TrafficSplit extends KubeObject {
  spec?: { service?: string; backends?: TrafficSplitBackend[]; [field: string]: unknown };
}

/** The desired spec.service and spec.backends, as Argo's trafficSplitV1Alpha{1,2,3} build them. */
export function desiredSplit(
  config: SmiConfig,
  version: SmiVersion,
  canaryWeight: number,
  additional: readonly WeightDestinationSpec[],
): { service: string; backends: TrafficSplitBackend[] } {
  // resource.NewQuantity(n, DecimalExponent) marshals as the plain decimal string.
  const weight = (n: number): string | number => (version === 'v1alpha1' ? String(n) : n);
  const backends: TrafficSplitBackend[] = [{ service: config.canaryService, weight: weight(canaryWeight) }];
  let stableWeight = 100 - canaryWeight;
  for (const dest of additional) {
    backends.push({ service: dest.serviceName, weight: weight(dest.weight) });
    stableWeight -= dest.weight;
  }
  backends.push({ service: config.stableService, weight: weight(stableWeight) });
  return { service: config.rootService, backends };
}

/** The SMI router for one reconcile; undefined when the Rollout does not configure `smi`. */
export function smiRouter(ctx: RouterContext): TrafficRouter | undefined {
  const parsed = smiConfig(ctx.rollout);
  if (parsed === undefined) return undefined;
  if (!parsed.ok) return new InvalidConfigRouter(SMI_TYPE, `${parsed.field}: ${parsed.message}`);
  return new SmiRouter(ctx, parsed.config);
}

export class SmiRouter implements TrafficRouter {
  readonly type = SMI_TYPE;
  readonly #ctx: RouterContext;
  readonly #config: SmiConfig;

  constructor(ctx: RouterContext, config: SmiConfig) {
    this.#ctx = ctx;
    this.#config = config;
  }

  async updateHash(): Promise<RouterResult> {
    return { ok: true };
  }

  async setWeight(canaryWeight: number, additional: readonly WeightDestinationSpec[]): Promise<RouterResult> {
    const { store, rollout } = this.#ctx;
    const apiVersion = apiVersionOf('TrafficSplit', this.#ctx.apiVersions);
    const version = apiVersion.slice(apiVersion.indexOf('/') + 1);
    if (!(SUPPORTED_VERSIONS as readonly string[]).includes(version))
      return { ok: false, error: `Unsupported TrafficSplit API version \`${version}\`` };
    const name = this.#config.trafficSplitName;
    const namespace = rollout.metadata.namespace ?? '';
    const desired = desiredSplit(this.#config, version as SmiVersion, canaryWeight, additional);
    let existing: TrafficSplit | undefined;
    try {
      existing = await store.read<TrafficSplit>('TrafficSplit', namespace, name);
    } catch (err) {
      return { ok: false, error: readError(err, apiVersion, name) };
    }
    if (existing === undefined) {
      const split: TrafficSplit = {
        apiVersion,
        kind: 'TrafficSplit',
        metadata: {
          name,
          namespace,
          ownerReferences: [controllerRef('argoproj.io/v1alpha1', 'Rollout', rollout)],
        },
        spec: desired,
      };
      try {
        await store.create(split);
      } catch (err) {
        const error = describe(err);
        store.recordEvent(
          rollout,
          'Warning',
          'TrafficSplitNotCreated',
          `TrafficSplit \`${name}\` failed creation: ${error}`,
        );
        return { ok: false, error };
      }
      store.recordEvent(rollout, 'Normal', 'TrafficSplitCreated', `TrafficSplit \`${name}\` created`);
      return { ok: true };
    }
    if (!isControlledBy(existing, 'Rollout', rollout))
      return { ok: false, error: `Rollout does not own TrafficSplit \`${name}\`` };
    const spec = existing.spec ?? {};
    if (spec.service === desired.service && sameBackends(spec.backends, desired.backends))
      return { ok: true };
    try {
      await store.patch('TrafficSplit', namespace, name, { spec: desired }, 'merge');
    } catch (err) {
      return { ok: false, error: describe(err) };
    }
    store.recordEvent(rollout, 'Normal', 'TrafficSplitModified', `TrafficSplit \`${name}\` modified`);
    return { ok: true };
  }

  async setHeaderRoute(): Promise<RouterResult> {
    return { ok: true };
  }

  async setMirrorRoute(): Promise<RouterResult> {
    return { ok: true };
  }

  async verifyWeight(): Promise<Verification> {
    return undefined;
  }

  async removeManagedRoutes(): Promise<RouterResult> {
    return { ok: true };
  }
}

/** Quantity strings compare by value ("30" and "30.0"), integers as numbers. */
function sameBackends(
  have: readonly TrafficSplitBackend[] | undefined,
  want: readonly TrafficSplitBackend[],
): boolean {
  if (have === undefined || have.length !== want.length) return false;
  return have.every(
    (b, i) =>
      b.service === want[i]!.service &&
      Number(b.weight) === Number(want[i]!.weight) &&
      typeof b.weight === typeof want[i]!.weight,
  );
}

function readError(err: unknown, apiVersion: string, name: string): string {
  // A 404 on the read itself (an absent object reads as undefined) is the resource type missing.
  if (err instanceof StoreError && err.reason === 'NotFound')
    return `TrafficSplit ${apiVersion} is not served by the cluster (is the SMI TrafficSplit CRD installed?): reading \`${name}\`: ${err.message}`;
  return describe(err);
}

function describe(err: unknown): string {
  if (err instanceof StoreError) return err.describe();
  return err instanceof Error ? err.message : String(err);
}
