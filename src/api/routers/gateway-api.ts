// The Gateway API router's configuration: the config of Argo's plugin
// argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi, read under its plugin key so Rollouts written
// for Argo run unchanged, or under Sluice's native key with the same fields:
//
//   spec.strategy.canary.trafficRouting.plugins:
//     argoproj-labs/gatewayAPI:        # or sluice/gateway-api
//       httpRoute: checkout            # one HTTPRoute, header routes added to it
//       httpRoutes:                    # or several; header routes only where useHeaderRoutes is true
//         - { name: checkout, useHeaderRoutes: true }
//       grpcRoute / grpcRoutes         # GRPCRoutes, the same shape
//       tcpRoute / tcpRoutes           # TCPRoutes (weights only)
//       namespace: gateways            # where the routes live (default: the Rollout's namespace)
//       configMap: argo-gatewayapi-configmap  # the plugin's record of header routes it added
//
// As the plugin: a singular field is appended after its list with useHeaderRoutes true; at least one
// route is required. Plugin fields Sluice does not implement (TLSRoutes, route selectors, the in-progress
// label's key and value) are refused by name rather than ignored.

import type { Rollout } from '../rollout.ts';
import { isObjectName, isServiceName } from './smi.ts';

export const GATEWAY_API_PLUGIN = 'argoproj-labs/gatewayAPI';
export const SLUICE_GATEWAY_API_PLUGIN = 'sluice/gateway-api';
/** The plugin's default ConfigMap for the managed-routes record. */
export const DEFAULT_GATEWAY_API_CONFIG_MAP = 'argo-gatewayapi-configmap';

export type GatewayApiPluginKey = typeof GATEWAY_API_PLUGIN | typeof SLUICE_GATEWAY_API_PLUGIN;

export interface GatewayApiRouteRef {
  readonly name: string;
  /** Whether setHeaderRoute steps add their header rule to this route. */
  readonly useHeaderRoutes: boolean;
}

export interface GatewayApiConfig {
  /** The plugin key the Rollout used (the router's `type`). */
  readonly key: GatewayApiPluginKey;
  readonly httpRoutes: readonly GatewayApiRouteRef[];
  readonly grpcRoutes: readonly GatewayApiRouteRef[];
  readonly tcpRoutes: readonly GatewayApiRouteRef[];
  /** Namespace of the routes and the ConfigMap. */
  readonly namespace: string;
  readonly configMap: string;
  readonly canaryService: string;
  readonly stableService: string;
}

export type GatewayApiConfigResult =
  | { readonly ok: true; readonly config: GatewayApiConfig }
  | { readonly ok: false; readonly field: string; readonly message: string };

const KNOWN = [
  'httpRoute',
  'httpRoutes',
  'grpcRoute',
  'grpcRoutes',
  'tcpRoute',
  'tcpRoutes',
  'namespace',
  'configMap',
  'disableInProgressLabel',
];
const UNSUPPORTED: Readonly<Record<string, string>> = {
  tlsRoute: 'TLSRoutes are not supported by Sluice',
  tlsRoutes: 'TLSRoutes are not supported by Sluice',
  httpRouteSelector: 'route discovery by label selector is not supported by Sluice: name the routes',
  grpcRouteSelector: 'route discovery by label selector is not supported by Sluice: name the routes',
  tcpRouteSelector: 'route discovery by label selector is not supported by Sluice: name the routes',
  tlsRouteSelector: 'route discovery by label selector is not supported by Sluice: name the routes',
  inProgressLabelKey: 'the in-progress label is not supported by Sluice',
  inProgressLabelValue: 'the in-progress label is not supported by Sluice',
  mirrorMode: 'setMirrorRoute is not supported by Sluice on Gateway API routes',
};
const NAMESPACE_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const NO_ROUTES =
  "No routes configured. At least one of 'httpRoutes', 'grpcRoutes', 'tcpRoutes', 'httpRoute', 'grpcRoute' or 'tcpRoute' must be set";

export function gatewayApiPath(key: GatewayApiPluginKey): string {
  return `spec.strategy.canary.trafficRouting.plugins.${key}`;
}

/** The Rollout's Gateway API config under either key; undefined when it uses neither. */
export function gatewayApiConfig(ro: Rollout): GatewayApiConfigResult | undefined {
  const canary = ro.spec?.strategy?.canary;
  const plugins = canary?.trafficRouting?.plugins ?? {};
  const argo = Object.hasOwn(plugins, GATEWAY_API_PLUGIN);
  const native = Object.hasOwn(plugins, SLUICE_GATEWAY_API_PLUGIN);
  if (!argo && !native) return undefined;
  if (argo && native)
    return {
      ok: false,
      field: gatewayApiPath(SLUICE_GATEWAY_API_PLUGIN),
      message: `set only one of ${GATEWAY_API_PLUGIN} and ${SLUICE_GATEWAY_API_PLUGIN} (both would write the same routes)`,
    };
  const key: GatewayApiPluginKey = argo ? GATEWAY_API_PLUGIN : SLUICE_GATEWAY_API_PLUGIN;
  return parseGatewayApiConfig(plugins[key], key, ro);
}

type Lists = {
  httpRoutes: GatewayApiRouteRef[];
  grpcRoutes: GatewayApiRouteRef[];
  tcpRoutes: GatewayApiRouteRef[];
};

export function parseGatewayApiConfig(
  raw: unknown,
  key: GatewayApiPluginKey,
  ro: Rollout,
): GatewayApiConfigResult {
  const path = gatewayApiPath(key);
  const fail = (field: string, message: string): GatewayApiConfigResult => ({
    ok: false,
    field: field === '' ? path : `${path}.${field}`,
    message,
  });
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return fail('', 'must be an object');
  const o = raw as Record<string, unknown>;
  for (const field of Object.keys(o)) {
    const unsupported = UNSUPPORTED[field];
    if (unsupported !== undefined) return fail(field, unsupported);
    if (!KNOWN.includes(field)) return fail(field, `unknown field (known: ${KNOWN.join(', ')})`);
  }
  const lists: Lists = { httpRoutes: [], grpcRoutes: [], tcpRoutes: [] };
  for (const kind of ['http', 'grpc', 'tcp'] as const) {
    const listField = `${kind}Routes` as const;
    const list = o[listField];
    if (list !== undefined && list !== null) {
      if (!Array.isArray(list)) return fail(listField, 'must be a list of {name, useHeaderRoutes}');
      for (const [i, item] of list.entries()) {
        const at = `${listField}[${i}]`;
        if (item === null || typeof item !== 'object' || Array.isArray(item))
          return fail(at, 'must be an object {name, useHeaderRoutes}');
        const { name, useHeaderRoutes, ...rest } = item as Record<string, unknown>;
        const extra = Object.keys(rest)[0];
        if (extra !== undefined)
          return fail(`${at}.${extra}`, 'unknown field (known: name, useHeaderRoutes)');
        if (!isObjectName(name)) return fail(`${at}.name`, 'required: a route name (DNS-1123 subdomain)');
        if (useHeaderRoutes !== undefined && typeof useHeaderRoutes !== 'boolean')
          return fail(`${at}.useHeaderRoutes`, 'must be true or false');
        lists[listField].push({ name, useHeaderRoutes: useHeaderRoutes === true });
      }
    }
    // The plugin appends the singular field after the list, with header routes on.
    const single = o[`${kind}Route`];
    if (single !== undefined && single !== '') {
      if (!isObjectName(single)) return fail(`${kind}Route`, 'must be a route name (DNS-1123 subdomain)');
      lists[listField].push({ name: single, useHeaderRoutes: true });
    }
  }
  if (lists.httpRoutes.length + lists.grpcRoutes.length + lists.tcpRoutes.length === 0)
    return fail('', NO_ROUTES);
  const namespace = o.namespace ?? '';
  if (namespace !== '' && (typeof namespace !== 'string' || !NAMESPACE_RE.test(namespace)))
    return fail('namespace', 'must be a namespace name (DNS-1123 label)');
  const configMap = o.configMap ?? '';
  if (configMap !== '' && !isObjectName(configMap))
    return fail('configMap', 'must be a ConfigMap name (DNS-1123 subdomain)');
  if (o.disableInProgressLabel !== undefined && typeof o.disableInProgressLabel !== 'boolean')
    return fail('disableInProgressLabel', 'must be true or false');
  const canary = ro.spec?.strategy?.canary;
  if (!isServiceName(canary?.canaryService))
    return {
      ok: false,
      field: 'spec.strategy.canary.canaryService',
      message: 'required by Gateway API traffic routing: a Service name',
    };
  if (!isServiceName(canary?.stableService))
    return {
      ok: false,
      field: 'spec.strategy.canary.stableService',
      message: 'required by Gateway API traffic routing: a Service name',
    };
  return {
    ok: true,
    config: {
      key,
      ...lists,
      namespace: (namespace as string) || (ro.metadata.namespace ?? ''),
      configMap: (configMap as string) || DEFAULT_GATEWAY_API_CONFIG_MAP,
      canaryService: canary.canaryService,
      stableService: canary.stableService,
    },
  };
}
