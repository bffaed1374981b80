// The SMI router's configuration, `spec.strategy.canary.trafficRouting.smi` (Argo's SMITrafficRouting):
//
//   smi:
//     rootService: checkout          # the TrafficSplit's spec.service (default: the stableService)
//     trafficSplitName: checkout     # the TrafficSplit the Rollout owns (default: the Rollout's name)
//
// Defaults are resolved here, so the router sees complete names. An unknown or malformed field is an
// InvalidSpec naming it (never ignored).

import type { Rollout } from '../rollout.ts';

export const SMI_PATH = 'spec.strategy.canary.trafficRouting.smi';

export interface SmiConfig {
  /** spec.service of the TrafficSplit: the Service clients address. */
  readonly rootService: string;
  readonly trafficSplitName: string;
  readonly canaryService: string;
  readonly stableService: string;
}

export type SmiConfigResult =
  | { readonly ok: true; readonly config: SmiConfig }
  | { readonly ok: false; readonly field: string; readonly message: string };

const FIELDS = ['rootService', 'trafficSplitName'];
// Service names are DNS-1035 labels; object names (the TrafficSplit) DNS-1123 subdomains.
const SERVICE_NAME_RE = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const OBJECT_NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function isServiceName(value: unknown): value is string {
  return typeof value === 'string' && SERVICE_NAME_RE.test(value);
}

export function isObjectName(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 253 && OBJECT_NAME_RE.test(value);
}

/** The Rollout's SMI config; undefined when it does not use the SMI router. */
export function smiConfig(ro: Rollout): SmiConfigResult | undefined {
  const canary = ro.spec?.strategy?.canary;
  const raw: unknown = canary?.trafficRouting?.smi;
  if (raw === undefined) return undefined;
  const fail = (field: string, message: string): SmiConfigResult => ({ ok: false, field, message });
  // `smi: {}` (or `smi:` with no value) is the whole config with every default.
  const o = raw === null ? {} : raw;
  if (typeof o !== 'object' || Array.isArray(o)) return fail(SMI_PATH, 'must be an object');
  const fields = o as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (!FIELDS.includes(key))
      return fail(`${SMI_PATH}.${key}`, `unknown field (known: ${FIELDS.join(', ')})`);
  }
  // Argo builds the TrafficSplit's backends from these two; without them there is nothing to split.
  const canaryService = canary?.canaryService;
  const stableService = canary?.stableService;
  if (!isServiceName(canaryService))
    return fail('spec.strategy.canary.canaryService', 'required by SMI traffic routing: a Service name');
  if (!isServiceName(stableService))
    return fail('spec.strategy.canary.stableService', 'required by SMI traffic routing: a Service name');
  const rootService = fields.rootService ?? '';
  if (rootService !== '' && !isServiceName(rootService))
    return fail(`${SMI_PATH}.rootService`, 'must be a Service name (DNS-1035 label)');
  const trafficSplitName = fields.trafficSplitName ?? '';
  if (trafficSplitName !== '' && !isObjectName(trafficSplitName))
    return fail(`${SMI_PATH}.trafficSplitName`, 'must be an object name (DNS-1123 subdomain)');
  return {
    ok: true,
    config: {
      // Argo: an empty rootService means the stableService, an empty name the Rollout's name.
      rootService: (rootService as string) || stableService,
      trafficSplitName: (trafficSplitName as string) || ro.metadata.name,
      canaryService,
      stableService,
    },
  };
}
