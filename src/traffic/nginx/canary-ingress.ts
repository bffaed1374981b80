// The canary Ingress the NGINX router owns, as pure functions (Argo's nginx.go buildCanaryIngress and
// ingressutil.BuildIngressPatch): the desired canary Ingress built from one stable Ingress, and the merge
// patch that brings an existing canary Ingress there.
//
// What is copied from the stable Ingress: only the rules with at least one path whose backend is the
// stableService (those paths' backends switched to the canaryService; the rule's other paths stay as
// they are, as Argo's copy keeps them), spec.tls, spec.ingressClassName and the kubernetes.io/ingress.class
// annotation. Nothing else: ingress-nginx takes every other setting of a canary Ingress from the main one.

import type { KubeObject } from '../../api/meta.ts';
import type { Rollout } from '../../api/rollout.ts';
import { NGINX_PATH, type NginxConfig, prefixedAnnotationKey } from '../../api/routers/nginx.ts';
import { controllerRef } from '../../reconcile/owners.ts';

/** networking.k8s.io/v1 Ingress, the fields the router reads and writes. */
export interface IngressServiceBackend {
  name?: string;
  port?: { name?: string; number?: number };
}

export interface IngressBackend {
  service?: IngressServiceBackend;
  resource?: { apiGroup?: string; kind?: string; name?: string };
}

export interface HTTPIngressPath {
  path?: string;
  pathType?: string;
  backend: IngressBackend;
}

export interface IngressRule {
  host?: string;
  http?: { paths: HTTPIngressPath[] };
}

export interface IngressTLS {
  hosts?: string[];
  secretName?: string;
}

export interface IngressSpec {
  ingressClassName?: string;
  defaultBackend?: IngressBackend;
  tls?: IngressTLS[];
  rules?: IngressRule[];
}

export interface Ingress extends KubeObject {
  kind: 'Ingress';
  spec?: IngressSpec;
  status?: unknown;
}

export const INGRESS_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';
/** The group/version of the Rollout kind, for the controller ownerReference (Argo's ControllerKind). */
export const ROLLOUT_API_VERSION = 'argoproj.io/v1alpha1';

export type CanaryIngressResult = { ok: true; ingress: Ingress } | { ok: false; error: string };

/** Argo's message when a stable Ingress routes nothing to the stableService. */
export function noRulesMessage(stableIngressName: string, stableService: string): string {
  return `ingress \`${stableIngressName}\` has no rules using service ${stableService} backend`;
}

/**
 * Argo's validateNginxIngress (validation_references.go), for the Rollout's reference validation: the
 * stable Ingress `ingress` must route at least one path to the stableService, else an InvalidSpec at the
 * field that names it (with its index in stableIngresses; Argo gives the list without the index).
 */
export function stableIngressReferenceError(
  config: NginxConfig,
  ingress: Ingress,
): { field: string; message: string } | undefined {
  const usesStable = (ingress.spec?.rules ?? []).some((rule) =>
    (rule.http?.paths ?? []).some((path) => path.backend?.service?.name === config.stableService),
  );
  if (usesStable) return undefined;
  const index = config.stableIngresses.indexOf(ingress.metadata.name);
  const field =
    config.stableIngressField === 'stableIngress'
      ? `${NGINX_PATH}.stableIngress`
      : `${NGINX_PATH}.stableIngresses${index < 0 ? '' : `[${index}]`}`;
  return { field, message: noRulesMessage(ingress.metadata.name, config.stableService) };
}

/**
 * The annotations the router sets on a canary Ingress, in Argo's order (a later one wins a clash): the
 * stable Ingress's ingress.class, additionalIngressAnnotations (prefixed), canaryIngressAnnotations
 * (verbatim), then `canary`, `canary-weight` and, when the Rollout sets maxTrafficWeight,
 * `canary-weight-total`.
 */
export function canaryAnnotations(
  config: NginxConfig,
  stable: Ingress,
  weight: number,
  maxTrafficWeight: number | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  const ingressClass = stable.metadata.annotations?.[INGRESS_CLASS_ANNOTATION];
  if (ingressClass !== undefined) out[INGRESS_CLASS_ANNOTATION] = ingressClass;
  for (const [key, value] of Object.entries(config.additionalIngressAnnotations))
    out[prefixedAnnotationKey(config.annotationPrefix, key)] = value;
  for (const [key, value] of Object.entries(config.canaryIngressAnnotations)) out[key] = value;
  out[`${config.annotationPrefix}/canary`] = 'true';
  // Argo writes the int32 weight with %d; weights here are whole percents of maxTrafficWeight.
  out[`${config.annotationPrefix}/canary-weight`] = String(Math.round(weight));
  if (maxTrafficWeight !== undefined)
    out[`${config.annotationPrefix}/canary-weight-total`] = String(Math.round(maxTrafficWeight));
  return out;
}

/** The Rollout's maxTrafficWeight only when set: Argo writes canary-weight-total only then. */
export function explicitMaxTrafficWeight(ro: Rollout): number | undefined {
  return ro.spec.strategy.canary?.trafficRouting?.maxTrafficWeight;
}

/**
 * The desired canary Ingress for `stable` at `weight`: named `name`, in the Rollout's namespace,
 * controlled by the Rollout. Fails (Argo's message) when no rule of `stable` routes to the stableService.
 */
export function desiredCanaryIngress(args: {
  readonly rollout: Rollout;
  readonly config: NginxConfig;
  readonly stable: Ingress;
  readonly name: string;
  readonly weight: number;
  readonly apiVersion: string;
}): CanaryIngressResult {
  const { rollout, config, stable, name, weight, apiVersion } = args;
  const rules: IngressRule[] = [];
  for (const stableRule of stable.spec?.rules ?? []) {
    // A rule without http (host only) or a path with a resource backend routes nothing to the Service
    // (Argo dereferences them and would crash; we skip them).
    const paths = stableRule.http?.paths;
    if (!Array.isArray(paths)) continue;
    const rule = structuredClone(stableRule) as IngressRule & { http: { paths: HTTPIngressPath[] } };
    let usesStable = false;
    for (const path of rule.http.paths) {
      if (path.backend?.service !== undefined && path.backend.service.name === config.stableService) {
        usesStable = true;
        path.backend.service.name = config.canaryService;
      }
    }
    if (usesStable) rules.push(rule);
  }
  if (rules.length === 0)
    return { ok: false, error: noRulesMessage(stable.metadata.name, config.stableService) };

  const spec: IngressSpec = {};
  if (typeof stable.spec?.ingressClassName === 'string') spec.ingressClassName = stable.spec.ingressClassName;
  // Go's omitempty drops an empty list: an empty tls is no tls.
  if (Array.isArray(stable.spec?.tls) && stable.spec.tls.length > 0)
    spec.tls = structuredClone(stable.spec.tls);
  spec.rules = rules;

  const ingress: Ingress = {
    apiVersion,
    kind: 'Ingress',
    metadata: {
      name,
      namespace: rollout.metadata.namespace,
      annotations: canaryAnnotations(config, stable, weight, explicitMaxTrafficWeight(rollout)),
      ownerReferences: [controllerRef(ROLLOUT_API_VERSION, 'Rollout', rollout)],
    },
    spec,
  };
  if (ingress.metadata.namespace === undefined) delete ingress.metadata.namespace;
  return { ok: true, ingress };
}

/**
 * The JSON merge patch from an existing canary Ingress to the desired one; undefined when nothing differs.
 * As Argo's BuildIngressPatch (WithAnnotations, WithLabels, WithSpec): labels and spec become exactly the
 * desired ones (the router sets no labels, so any are removed; spec fields the stable Ingress does not
 * give, such as defaultBackend, are removed), and annotations are the existing ones with the desired ones
 * laid over them: annotations others put on the canary Ingress are kept (Argo's fix for issue #1070).
 */
export function canaryIngressPatch(current: Ingress, desired: Ingress): Record<string, unknown> | undefined {
  const before = {
    metadata: { annotations: current.metadata.annotations, labels: current.metadata.labels },
    spec: current.spec,
  };
  const after = {
    metadata: {
      annotations: { ...(current.metadata.annotations ?? {}), ...(desired.metadata.annotations ?? {}) },
      labels: desired.metadata.labels,
    },
    spec: desired.spec,
  };
  const patch = mergeDiff(stripUndefined(before), stripUndefined(after));
  return patch === undefined ? undefined : (patch as Record<string, unknown>);
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(v: unknown): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A JSON copy without undefined members (and without empty maps, which Go's omitempty drops). */
function stripUndefined(value: unknown): Json | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) return value.map((v) => stripUndefined(v) ?? (isObject(v) ? {} : null));
  if (isObject(value)) {
    const out: Record<string, Json> = {};
    for (const [k, v] of Object.entries(value)) {
      const s = stripUndefined(v);
      if (s !== undefined) out[k] = s;
    }
    return Object.keys(out).length === 0 ? undefined : out;
  }
  return value as Json;
}

function deepEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]))
    );
  }
  return false;
}

/**
 * The two-way merge patch (RFC 7386) taking `a` to `b`: members of `a` missing from `b` become null,
 * objects recurse, anything else (lists included: Ingress lists have no merge keys) is replaced whole.
 */
function mergeDiff(a: Json | undefined, b: Json | undefined): Json | undefined {
  if (deepEqual(a, b)) return undefined;
  if (b === undefined) return null;
  if (!isObject(a) || !isObject(b)) return b;
  const out: Record<string, Json> = {};
  for (const key of Object.keys(a)) if (!Object.hasOwn(b, key)) out[key] = null;
  for (const [key, value] of Object.entries(b)) {
    if (!Object.hasOwn(a, key)) out[key] = value;
    else {
      const d = mergeDiff(a[key], value);
      if (d !== undefined) out[key] = d;
    }
  }
  return out;
}
