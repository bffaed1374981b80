// The NGINX Ingress router's configuration, `spec.strategy.canary.trafficRouting.nginx` (Argo's
// NginxTrafficRouting), and the name of the canary Ingress it owns:
//
//   nginx:
//     stableIngress: checkout              # or stableIngresses: [checkout, checkout-internal]
//     annotationPrefix: nginx.ingress.kubernetes.io     # default
//     additionalIngressAnnotations:        # keys get "<annotationPrefix>/" unless they start with it
//       canary-by-header: X-Canary
//     canaryIngressAnnotations:            # copied verbatim
//       external-dns.alpha.kubernetes.io/exclude: "true"
//
// Defaults are resolved here (the prefix; the single stableIngress as a one-element list), so the
// router sees a complete config. An unknown or malformed field is an InvalidSpec naming it.

import type { Rollout } from '../rollout.ts';

export const NGINX_PATH = 'spec.strategy.canary.trafficRouting.nginx';
/** Argo's defaults.DefaultCanaryIngressAnnotationPrefix. */
export const DEFAULT_NGINX_ANNOTATION_PREFIX = 'nginx.ingress.kubernetes.io';
/** Argo's ingressutil.CanaryIngressSuffix. */
export const CANARY_INGRESS_SUFFIX = '-canary';
/** Object names (and so the canary Ingress name) are at most 253 characters. */
const MAX_NAME_LENGTH = 253;

export interface NginxConfig {
  /** The stable Ingresses, in the order given (`stableIngress` becomes a one-element list). */
  readonly stableIngresses: readonly string[];
  /** Which field named them, for messages that point at the spec. */
  readonly stableIngressField: 'stableIngress' | 'stableIngresses';
  readonly annotationPrefix: string;
  /** As written in the Rollout (keys not yet prefixed), in the order written. */
  readonly additionalIngressAnnotations: Readonly<Record<string, string>>;
  readonly canaryIngressAnnotations: Readonly<Record<string, string>>;
  readonly stableService: string;
  readonly canaryService: string;
}

export type NginxConfigResult =
  | { readonly ok: true; readonly config: NginxConfig }
  | { readonly ok: false; readonly field: string; readonly message: string };

const FIELDS = [
  'stableIngress',
  'stableIngresses',
  'annotationPrefix',
  'additionalIngressAnnotations',
  'canaryIngressAnnotations',
];
const OBJECT_NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
// Kubernetes qualified names (annotation keys): an optional DNS-1123 subdomain prefix and "/", then a
// name of at most 63 characters.
const QUALIFIED_NAME_RE = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/** Argo's validation.InvalidTrafficRoutingMessage. */
export const INVALID_TRAFFIC_ROUTING_MESSAGE =
  'Canary service and Stable service must to be set to use Traffic Routing';
/** Argo's ValidateRolloutNginxIngressesConfig messages. */
export const BOTH_STABLE_INGRESSES_MESSAGE =
  'Either StableIngress or StableIngresses must be configured. Both are configured.';
export const NEITHER_STABLE_INGRESS_MESSAGE =
  'Either StableIngress or StableIngresses must be configured. Neither are configured.';

function isObjectName(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_NAME_LENGTH && OBJECT_NAME_RE.test(value);
}

/** Whether `key` is a valid annotation key (a Kubernetes qualified name). */
export function isAnnotationKey(key: string): boolean {
  const slash = key.lastIndexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME_RE.test(name)) return false;
  return prefix === undefined || isObjectName(prefix);
}

/**
 * Argo's ingressutil.GetCanaryIngressName: `<rollout>-<stableIngress>-canary`, the first part cut so the
 * whole is at most 253 characters; empty without a stable Ingress name.
 */
export function canaryIngressName(rolloutName: string, stableIngressName: string): string {
  if (stableIngressName === '') return '';
  let prefix = `${rolloutName}-${stableIngressName}`;
  if (prefix.length > MAX_NAME_LENGTH - CANARY_INGRESS_SUFFIX.length)
    prefix = prefix.slice(0, MAX_NAME_LENGTH - CANARY_INGRESS_SUFFIX.length);
  return `${prefix}${CANARY_INGRESS_SUFFIX}`;
}

/**
 * Argo's buildCanaryIngress annotation key rule: an additionalIngressAnnotations key gets
 * `<prefix>/` unless it already starts with the prefix (a plain string prefix test, as Argo's).
 */
export function prefixedAnnotationKey(annotationPrefix: string, key: string): string {
  return key.startsWith(annotationPrefix) ? key : `${annotationPrefix}/${key}`;
}

/** The Rollout's nginx config; undefined when it does not use the NGINX router. */
export function nginxConfig(ro: Rollout): NginxConfigResult | undefined {
  const canary = ro.spec?.strategy?.canary;
  const raw: unknown = canary?.trafficRouting?.nginx;
  if (raw === undefined) return undefined;
  const fail = (field: string, message: string): NginxConfigResult => ({ ok: false, field, message });
  // `nginx:` with no value is an empty config: it then names no Ingress (below).
  const o = raw === null ? {} : raw;
  if (typeof o !== 'object' || Array.isArray(o)) return fail(NGINX_PATH, 'must be an object');
  const fields = o as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (!FIELDS.includes(key))
      return fail(`${NGINX_PATH}.${key}`, `unknown field (known: ${FIELDS.join(', ')})`);
  }

  // Argo's ValidateRolloutStrategyCanary: a traffic router needs both Services.
  const stableService = canary?.stableService;
  const canaryService = canary?.canaryService;
  if (typeof stableService !== 'string' || stableService === '')
    return fail('spec.strategy.canary.stableService', INVALID_TRAFFIC_ROUTING_MESSAGE);
  if (typeof canaryService !== 'string' || canaryService === '')
    return fail('spec.strategy.canary.canaryService', INVALID_TRAFFIC_ROUTING_MESSAGE);

  // Argo's ValidateRolloutNginxIngressesConfig: exactly one of the two. Argo counts an empty
  // stableIngress as absent and any stableIngresses list (even empty) as present.
  const single = fields.stableIngress ?? '';
  const multiple = fields.stableIngresses;
  const hasSingle = single !== '';
  const hasMultiple = multiple !== undefined && multiple !== null;
  if (hasSingle && hasMultiple) return fail(NGINX_PATH, BOTH_STABLE_INGRESSES_MESSAGE);
  if (!hasSingle && !hasMultiple) return fail(NGINX_PATH, NEITHER_STABLE_INGRESS_MESSAGE);
  let stableIngresses: string[];
  let stableIngressField: NginxConfig['stableIngressField'];
  if (hasSingle) {
    if (!isObjectName(single))
      return fail(`${NGINX_PATH}.stableIngress`, 'must be an Ingress name (DNS-1123 subdomain)');
    stableIngresses = [single];
    stableIngressField = 'stableIngress';
  } else {
    if (!Array.isArray(multiple))
      return fail(`${NGINX_PATH}.stableIngresses`, 'must be a list of Ingress names');
    // Sluice: Argo accepts an empty list and then routes nothing; that is never what was meant.
    if (multiple.length === 0) return fail(`${NGINX_PATH}.stableIngresses`, 'must name at least one Ingress');
    const seen = new Set<string>();
    for (const [i, name] of multiple.entries()) {
      if (!isObjectName(name))
        return fail(`${NGINX_PATH}.stableIngresses[${i}]`, 'must be an Ingress name (DNS-1123 subdomain)');
      // Two entries would fight over the same canary Ingress.
      if (seen.has(name)) return fail(`${NGINX_PATH}.stableIngresses[${i}]`, `duplicate Ingress "${name}"`);
      seen.add(name);
    }
    stableIngresses = [...multiple];
    stableIngressField = 'stableIngresses';
  }
  for (const [i, name] of stableIngresses.entries()) {
    // The canary Ingress must not be one of the stable ones (it would overwrite it).
    const canaryName = canaryIngressName(ro.metadata.name, name);
    if (stableIngresses.includes(canaryName)) {
      const field = stableIngressField === 'stableIngress' ? 'stableIngress' : `stableIngresses[${i}]`;
      return fail(`${NGINX_PATH}.${field}`, `its canary Ingress "${canaryName}" is also a stable Ingress`);
    }
  }

  // Argo's GetCanaryIngressAnnotationPrefixOrDefault: an empty prefix is the default.
  const prefix = fields.annotationPrefix ?? '';
  if (typeof prefix !== 'string')
    return fail(`${NGINX_PATH}.annotationPrefix`, 'must be an annotation prefix (DNS-1123 subdomain)');
  const annotationPrefix = prefix === '' ? DEFAULT_NGINX_ANNOTATION_PREFIX : prefix;
  if (!isObjectName(annotationPrefix))
    return fail(`${NGINX_PATH}.annotationPrefix`, 'must be an annotation prefix (DNS-1123 subdomain)');

  const additional = annotations(fields.additionalIngressAnnotations, 'additionalIngressAnnotations', (k) =>
    prefixedAnnotationKey(annotationPrefix, k),
  );
  if (!additional.ok) return additional;
  const verbatim = annotations(fields.canaryIngressAnnotations, 'canaryIngressAnnotations', (k) => k);
  if (!verbatim.ok) return verbatim;

  return {
    ok: true,
    config: {
      stableIngresses,
      stableIngressField,
      annotationPrefix,
      additionalIngressAnnotations: additional.value,
      canaryIngressAnnotations: verbatim.value,
      stableService,
      canaryService,
    },
  };
}

/**
 * A string map of annotations. Each key as written on the canary Ingress (`written(key)`) must be a valid
 * annotation key: the API server would refuse the write otherwise (Argo's issue #2225), and we would
 * rather say which field than fail half-way through the Ingresses.
 */
function annotations(
  raw: unknown,
  name: string,
  written: (key: string) => string,
): { ok: true; value: Readonly<Record<string, string>> } | { ok: false; field: string; message: string } {
  const path = `${NGINX_PATH}.${name}`;
  if (raw === undefined || raw === null) return { ok: true, value: {} };
  if (typeof raw !== 'object' || Array.isArray(raw))
    return { ok: false, field: path, message: 'must be a map of annotation keys to string values' };
  const value: Record<string, string> = {};
  for (const [key, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v !== 'string')
      return { ok: false, field: `${path}.${key}`, message: 'must be a string (quote numbers and booleans)' };
    const annotationKey = written(key);
    if (!isAnnotationKey(annotationKey))
      return {
        ok: false,
        field: `${path}.${key}`,
        message: `"${annotationKey}" is not a valid annotation key (an optional DNS-1123 prefix and "/", then at most 63 of [A-Za-z0-9-_.], starting and ending alphanumeric)`,
      };
    value[key] = v;
  }
  return { ok: true, value };
}
