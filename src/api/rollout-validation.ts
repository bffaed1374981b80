// Rollout spec validation (Argo's pkg/apis/rollouts/validation/validation.go). A failure becomes the
// InvalidSpec condition and phase Degraded; the message names the field the way Kubernetes field
// errors do: `<path>: Invalid value: <value>: <detail>` or `<path>: Required value: <detail>`.

import { parseDuration } from './duration.ts';
import type { IntOrString } from './meta.ts';
import { PROXY_ROUTER_PLUGIN, proxyRouterConfig } from './proxy-router-config.ts';
import {
  type CanaryStep,
  maxSurgeOrDefault,
  maxTrafficWeight,
  maxUnavailableOrDefault,
  progressDeadlineSecondsOrDefault,
  type Rollout,
  replicasOrDefault,
  revisionHistoryLimitOrDefault,
  type TrafficRouting,
} from './rollout.ts';
import { gatewayApiConfig } from './routers/gateway-api.ts';
import { istioConfig } from './routers/istio.ts';
import { nginxConfig } from './routers/nginx.ts';
import { smiConfig } from './routers/smi.ts';

export type PauseDuration = { ok: true; ms: number } | { ok: false; error: string };

/** A pause duration: int seconds, a numeric string (seconds) or a Go duration string ("30s", "1h"). */
export function parsePauseDuration(value: IntOrString): PauseDuration {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return { ok: false, error: 'must be an integer number of seconds' };
    return { ok: true, ms: value * 1000 };
  }
  if (/^[+-]?\d+$/.test(value.trim())) return { ok: true, ms: Number(value.trim()) * 1000 };
  const d = parseDuration(value);
  if (!d.ok) return { ok: false, error: d.error };
  return { ok: true, ms: d.ms };
}

function invalid(path: string, value: unknown, detail: string): string {
  return `${path}: Invalid value: ${JSON.stringify(value)}: ${detail}`;
}

function required(path: string, detail: string): string {
  return `${path}: Required value: ${detail}`;
}

function intOrPercentError(path: string, value: unknown): string | undefined {
  if (typeof value === 'number')
    return Number.isInteger(value) && value >= 0
      ? undefined
      : invalid(path, value, 'must be a non-negative integer');
  if (typeof value === 'string') {
    return /^\d+%?$/.test(value) ? undefined : invalid(path, value, 'must be an integer or a percentage');
  }
  return invalid(path, value, 'must be an integer or a percentage');
}

function percentOrInt(value: IntOrString, total: number, up: boolean): number {
  if (typeof value === 'number') return value;
  const raw = (Number(value.replaceAll('%', '')) * total) / 100;
  return up ? Math.ceil(raw) : Math.floor(raw);
}

const STEP_FIELDS = [
  'setWeight',
  'pause',
  'analysis',
  'experiment',
  'setCanaryScale',
  'setHeaderRoute',
  'setMirrorRoute',
  'plugin',
] as const;

function stringMatchError(path: string, m: unknown): string | undefined {
  if (typeof m !== 'object' || m === null) return required(path, 'StringMatch is required');
  const n = ['exact', 'prefix', 'regex'].filter(
    (k) => (m as Record<string, unknown>)[k] !== undefined,
  ).length;
  if (n !== 1)
    return invalid(
      path,
      m,
      'StringMatch match value must have exactly one of the following: exact, regex, prefix',
    );
  return undefined;
}

function validateStep(ro: Rollout, step: CanaryStep, path: string): string | undefined {
  if (typeof step !== 'object' || step === null) return invalid(path, step, 'step must be an object');
  const set = STEP_FIELDS.filter((k) => step[k] !== undefined && step[k] !== null);
  if (set.length === 0) {
    return invalid(
      path,
      step,
      'Step must have one of the following set: experiment, setWeight, setCanaryScale, setHeaderRoute, setMirrorRoute, plugin or pause',
    );
  }
  if (set.length > 1) {
    return invalid(
      path,
      step,
      'Step must have one of the following set: experiment, setWeight, setCanaryScale, setHeaderRoute, setMirrorRoute, plugin or pause',
    );
  }
  const canary = ro.spec.strategy.canary;
  const routing = canary?.trafficRouting;
  const max = maxTrafficWeight(ro);
  if (step.setWeight !== undefined) {
    if (!Number.isInteger(step.setWeight) || step.setWeight < 0 || step.setWeight > max) {
      return invalid(`${path}.setWeight`, step.setWeight, `SetWeight must be between 0 and ${max}`);
    }
  }
  if (step.pause !== undefined && step.pause.duration !== undefined) {
    const d = parsePauseDuration(step.pause.duration);
    if (!d.ok) return invalid(`${path}.pause.duration`, step.pause.duration, d.error);
    if (d.ms < 0)
      return invalid(`${path}.pause.duration`, step.pause.duration, 'Pause duration must be 0 or greater');
  }
  if (step.setCanaryScale !== undefined) {
    if (!routing)
      return invalid(
        `${path}.setCanaryScale`,
        step.setCanaryScale,
        'SetCanaryScale requires TrafficRouting to be set',
      );
    const scs = step.setCanaryScale;
    const n = [scs.weight !== undefined, scs.replicas !== undefined, scs.matchTrafficWeight === true].filter(
      Boolean,
    ).length;
    if (n !== 1) {
      return invalid(
        `${path}.setCanaryScale`,
        scs,
        'SetCanaryScale must have exactly one of weight, replicas or matchTrafficWeight',
      );
    }
    if (scs.weight !== undefined && (scs.weight < 0 || scs.weight > 100)) {
      return invalid(
        `${path}.setCanaryScale.weight`,
        scs.weight,
        'SetCanaryScale weight must be between 0 and 100',
      );
    }
    if (scs.replicas !== undefined && scs.replicas < 0) {
      return invalid(
        `${path}.setCanaryScale.replicas`,
        scs.replicas,
        'SetCanaryScale replicas must be 0 or greater',
      );
    }
  }
  for (const key of ['setHeaderRoute', 'setMirrorRoute'] as const) {
    const route = step[key];
    if (route === undefined) continue;
    if (!routing) return invalid(`${path}.${key}`, route, `${key} requires TrafficRouting to be set`);
    // Argo's validation: header routes need Istio, ALB, APISIX or a plugin; mirror routes Istio or a plugin.
    // Of the plugins Sluice has, the Gateway API router has no mirror routes (as Argo's plugin).
    const plugins = Object.keys(routing.plugins ?? {});
    if (key === 'setHeaderRoute' && !routing.istio && !routing.alb && !routing.apisix && plugins.length === 0)
      return invalid(
        `${path}.${key}`,
        route,
        'SetHeaderRoute requires TrafficRouting, supports Istio and ALB and Apisix',
      );
    if (key === 'setMirrorRoute' && !routing.istio && !plugins.includes(PROXY_ROUTER_PLUGIN))
      return invalid(
        `${path}.${key}`,
        route,
        plugins.length === 0
          ? 'SetMirrorRoute requires TrafficRouting, supports Istio only'
          : `SetMirrorRoute requires TrafficRouting, supports Istio and the ${PROXY_ROUTER_PLUGIN} plugin (the Gateway API router has no mirror routes)`,
      );
    if (!(routing.managedRoutes ?? []).some((r) => r.name === route.name)) {
      return invalid(`${path}.${key}.name`, route.name, 'Name must be defined in managedRoutes');
    }
    if (key === 'setHeaderRoute') {
      for (const [i, m] of (step.setHeaderRoute?.match ?? []).entries()) {
        const err = stringMatchError(`${path}.setHeaderRoute.match[${i}].headerValue`, m.headerValue);
        if (err) return err;
      }
    }
  }
  // Argo: a template weight becomes an additional traffic destination, which only some routers have.
  for (const [i, t] of (step.experiment?.templates ?? []).entries()) {
    if (t?.weight === undefined || t.weight === null) continue;
    const weightPath = `${path}.experiment.templates[${i}].weight`;
    if (!routing) {
      return invalid(
        weightPath,
        t.weight,
        'Experiment template weight cannot be set unless TrafficRouting is enabled',
      );
    }
    if (!routing.smi && !routing.alb && !routing.istio && !routing.plugins) {
      return invalid(
        weightPath,
        t.weight,
        'Experiment template weight is only available for TrafficRouting with SMI, ALB, and Istio at this time',
      );
    }
  }
  if (step.analysis !== undefined && (step.analysis.templates ?? []).length === 0) {
    return required(`${path}.analysis.templates`, 'must have at least one template');
  }
  return undefined;
}

/** Argo's routers Sluice does not implement: refused by name, never a silent fallback to plain Services. */
const UNSUPPORTED_ROUTERS = ['alb', 'ambassador', 'appMesh', 'traefik', 'apisix'] as const;
/** Router plugins Sluice implements (under trafficRouting.plugins). */
export const SUPPORTED_ROUTER_PLUGINS = [
  PROXY_ROUTER_PLUGIN,
  'argoproj-labs/gatewayAPI',
  'sluice/gateway-api',
] as const;
const SUPPORTED_ROUTERS = `istio, nginx, smi, plugins ${SUPPORTED_ROUTER_PLUGINS.join(', ')}`;

function unsupportedRouterError(path: string, routing: TrafficRouting | undefined): string | undefined {
  if (routing === undefined) return undefined;
  for (const key of UNSUPPORTED_ROUTERS) {
    if (routing[key] !== undefined && routing[key] !== null)
      return invalid(
        `${path}.${key}`,
        key,
        `the ${key} traffic router is not implemented by Sluice (supported: ${SUPPORTED_ROUTERS})`,
      );
  }
  for (const name of Object.keys(routing.plugins ?? {})) {
    if (!(SUPPORTED_ROUTER_PLUGINS as readonly string[]).includes(name))
      return invalid(
        `${path}.plugins.${name}`,
        name,
        `the traffic router plugin ${name} is not implemented by Sluice (supported: ${SUPPORTED_ROUTERS})`,
      );
  }
  const known = new Set([
    ...UNSUPPORTED_ROUTERS,
    'istio',
    'nginx',
    'smi',
    'plugins',
    'managedRoutes',
    'maxTrafficWeight',
  ]);
  for (const key of Object.keys(routing)) {
    if (!known.has(key))
      return invalid(`${path}.${key}`, key, `unknown traffic router (supported: ${SUPPORTED_ROUTERS})`);
  }
  return undefined;
}

/** Returns the first spec error as a field message, or undefined when the spec is valid. */
export function validateRolloutSpec(ro: Rollout): string | undefined {
  const spec = ro.spec;
  if (typeof spec !== 'object' || spec === null) return required('spec', 'spec is required');
  const strategy = spec.strategy ?? {};
  if (strategy.canary && strategy.blueGreen) {
    return invalid('spec.strategy', 'canary, blueGreen', 'Multiple strategies can not be listed');
  }
  if (!strategy.canary && !strategy.blueGreen) {
    return required(
      'spec.strategy.strategy',
      "Rollout has missing field '.spec.strategy.canary or .spec.strategy.blueGreen'",
    );
  }
  if (spec.replicas !== undefined && (!Number.isInteger(spec.replicas) || spec.replicas < 0)) {
    return invalid('spec.replicas', spec.replicas, 'must be greater than or equal to 0');
  }
  if (spec.workloadRef) {
    if (spec.template && Object.keys(spec.template).length > 0 && spec.template.spec !== undefined) {
      return invalid('spec.template', 'template', 'template must be empty for workload reference rollout');
    }
    const kind = spec.workloadRef.kind;
    if (kind !== 'Deployment' && kind !== 'ReplicaSet' && kind !== 'PodTemplate') {
      return invalid(
        'spec.workloadRef.kind',
        kind,
        'workload reference kind must be Deployment, ReplicaSet or PodTemplate',
      );
    }
    if (!spec.workloadRef.name)
      return required('spec.workloadRef.name', 'workload reference name is required');
    const mode = spec.workloadRef.scaleDown;
    if (mode !== undefined && mode !== 'never' && mode !== 'onsuccess' && mode !== 'progressively') {
      return invalid('spec.workloadRef.scaleDown', mode, 'must be one of never, onsuccess, progressively');
    }
  } else {
    const labels = spec.selector?.matchLabels ?? {};
    if (
      !spec.selector ||
      (Object.keys(labels).length === 0 && (spec.selector.matchExpressions ?? []).length === 0)
    ) {
      return required('spec.selector', "Rollout has missing field '.spec.selector'");
    }
    if (
      !spec.template?.spec ||
      !Array.isArray(spec.template.spec.containers) ||
      spec.template.spec.containers.length === 0
    ) {
      return required('spec.template.spec.containers', 'template must have at least one container');
    }
    const tpl = spec.template.metadata?.labels ?? {};
    for (const [k, v] of Object.entries(labels)) {
      if (tpl[k] !== v)
        return invalid('spec.selector', spec.selector, '`selector` does not match template `labels`');
    }
  }
  const deadline = progressDeadlineSecondsOrDefault(ro);
  if (deadline <= (spec.minReadySeconds ?? 0)) {
    return invalid(
      'spec.progressDeadlineSeconds',
      deadline,
      'progressDeadlineSeconds must be greater than minReadySeconds',
    );
  }
  if (spec.revisionHistoryLimit !== undefined && spec.revisionHistoryLimit < 0) {
    return invalid(
      'spec.revisionHistoryLimit',
      spec.revisionHistoryLimit,
      'must be greater than or equal to 0',
    );
  }
  if (spec.restartAt !== undefined && Number.isNaN(Date.parse(spec.restartAt))) {
    return invalid('spec.restartAt', spec.restartAt, 'must be an RFC 3339 time');
  }
  if (strategy.canary) {
    // Deliberately parallel checks: one `if` per rule of Argo's ValidateRolloutStrategyCanary, in its
    // order and with its messages, so each reads against the Go original.
    const c = strategy.canary;
    const base = 'spec.strategy.canary';
    const surgeErr = intOrPercentError(`${base}.maxSurge`, maxSurgeOrDefault(ro));
    if (surgeErr) return surgeErr;
    const unavErr = intOrPercentError(`${base}.maxUnavailable`, maxUnavailableOrDefault(ro));
    if (unavErr) return unavErr;
    const replicas = replicasOrDefault(ro);
    if (
      percentOrInt(maxSurgeOrDefault(ro), replicas, true) === 0 &&
      percentOrInt(maxUnavailableOrDefault(ro), replicas, false) === 0
    ) {
      return invalid(
        `${base}.maxUnavailable`,
        maxUnavailableOrDefault(ro),
        'MaxSurge and MaxUnavailable both can not be zero',
      );
    }
    if (c.canaryService && c.canaryService === c.stableService) {
      return invalid(
        `${base}.stableService`,
        c.stableService,
        'This rollout uses the same service for the stable and canary services, but two different services are required.',
      );
    }
    if (c.pingPong !== undefined && c.pingPong !== null) {
      // Argo's ping-pong swaps two Services under ALB or Istio; Sluice has neither swap, so it is refused
      // rather than accepted and left unapplied.
      return invalid(
        `${base}.pingPong`,
        c.pingPong,
        'pingPong is not implemented by Sluice (Argo uses it with the ALB and Istio routers); use canaryService and stableService',
      );
    }
    if (c.scaleDownDelaySeconds !== undefined && !c.trafficRouting) {
      return invalid(
        `${base}.scaleDownDelaySeconds`,
        c.scaleDownDelaySeconds,
        'Canary scaleDownDelaySeconds can only be used with traffic routing',
      );
    }
    if (c.dynamicStableScale && !c.trafficRouting) {
      return invalid(
        `${base}.dynamicStableScale`,
        true,
        'Canary dynamicStableScale can only be used with traffic routing',
      );
    }
    if (c.dynamicStableScale && c.scaleDownDelaySeconds !== undefined) {
      return invalid(
        `${base}.dynamicStableScale`,
        true,
        'Canary scaleDownDelaySeconds cannot be used with dynamicStableScale',
      );
    }
    if (c.abortScaleDownDelaySeconds !== undefined && !c.trafficRouting) {
      return invalid(
        `${base}.abortScaleDownDelaySeconds`,
        c.abortScaleDownDelaySeconds,
        'Canary abortScaleDownDelaySeconds can only be used with traffic routing',
      );
    }
    const unsupported = unsupportedRouterError(`${base}.trafficRouting`, c.trafficRouting);
    if (unsupported) return unsupported;
    for (const parsed of [istioConfig(ro), nginxConfig(ro), smiConfig(ro), gatewayApiConfig(ro)]) {
      if (parsed !== undefined && !parsed.ok) return `${parsed.field}: Invalid value: ${parsed.message}`;
    }
    if (
      c.trafficRouting?.maxTrafficWeight !== undefined &&
      !c.trafficRouting.nginx &&
      !c.trafficRouting.plugins
    ) {
      return invalid(
        `${base}.trafficRouting.maxTrafficWeight`,
        c.trafficRouting.maxTrafficWeight,
        'Max Traffic Weight is only supported with Nginx and plugins',
      );
    }
    if (c.trafficRouting && !c.pingPong) {
      const needsServices = ['smi', 'nginx', 'ambassador', 'appMesh', 'traefik', 'apisix', 'alb'].some(
        (k) => (c.trafficRouting as Record<string, unknown>)[k] !== undefined,
      );
      if (needsServices && (!c.canaryService || !c.stableService)) {
        return invalid(
          `${base}.trafficRouting`,
          Object.keys(c.trafficRouting),
          'Canary service and Stable service must to be set for this traffic router',
        );
      }
    }
    const proxy = proxyRouterConfig(ro);
    if (proxy !== undefined && !proxy.ok) return `${proxy.field}: Invalid value: ${proxy.message}`;
    if (proxy !== undefined && (!c.canaryService || !c.stableService)) {
      return invalid(
        `${base}.trafficRouting`,
        Object.keys(c.trafficRouting ?? {}),
        'Canary service and Stable service must to be set for this traffic router',
      );
    }
    for (const [i, step] of (c.steps ?? []).entries()) {
      const err = validateStep(ro, step, `${base}.steps[${i}]`);
      if (err) return err;
    }
    if (c.analysis && (c.analysis.templates ?? []).length === 0) {
      return required(`${base}.analysis.templates`, 'must have at least one template');
    }
    if (c.antiAffinity) {
      const err = antiAffinityError(`${base}.antiAffinity`, c.antiAffinity);
      if (err) return err;
    }
  }
  if (strategy.blueGreen) {
    const bg = strategy.blueGreen;
    const base = 'spec.strategy.blueGreen';
    if (!bg.activeService) return required(`${base}.activeService`, 'activeService is required');
    if (bg.trafficRouting !== undefined) {
      const other = Object.keys(bg.trafficRouting).find((k) => k !== 'plugins');
      if (other !== undefined)
        return invalid(
          `${base}.trafficRouting.${other}`,
          other,
          'blue-green traffic routing is only plugins.sluice/proxy',
        );
      const plugin = Object.keys(bg.trafficRouting.plugins ?? {}).find((k) => k !== PROXY_ROUTER_PLUGIN);
      if (plugin !== undefined)
        return invalid(
          `${base}.trafficRouting.plugins.${plugin}`,
          plugin,
          'blue-green traffic routing is only plugins.sluice/proxy',
        );
      const proxy = proxyRouterConfig(ro);
      if (proxy !== undefined && !proxy.ok) return `${proxy.field}: Invalid value: ${proxy.message}`;
    }
    if (bg.previewService && bg.previewService === bg.activeService) {
      return invalid(
        `${base}.activeService`,
        bg.activeService,
        'This rollout uses the same service for the active and preview services, but two different services are required.',
      );
    }
    if (
      bg.scaleDownDelayRevisionLimit !== undefined &&
      bg.scaleDownDelayRevisionLimit > revisionHistoryLimitOrDefault(ro)
    ) {
      return invalid(
        `${base}.scaleDownDelayRevisionLimit`,
        bg.scaleDownDelayRevisionLimit,
        "This rollout's revision history limit can not be smaller than the rollout's scale down delay revision limit.",
      );
    }
    if (bg.previewReplicaCount !== undefined && bg.previewReplicaCount < 0) {
      return invalid(
        `${base}.previewReplicaCount`,
        bg.previewReplicaCount,
        'must be greater than or equal to 0',
      );
    }
    if (bg.autoPromotionSeconds !== undefined && bg.autoPromotionSeconds < 0) {
      return invalid(
        `${base}.autoPromotionSeconds`,
        bg.autoPromotionSeconds,
        'must be greater than or equal to 0',
      );
    }
    if (bg.maxUnavailable !== undefined) {
      const err = intOrPercentError(`${base}.maxUnavailable`, bg.maxUnavailable);
      if (err) return err;
    }
    for (const key of ['prePromotionAnalysis', 'postPromotionAnalysis'] as const) {
      if (bg[key] && (bg[key].templates ?? []).length === 0)
        return required(`${base}.${key}.templates`, 'must have at least one template');
    }
    if (bg.antiAffinity) {
      const err = antiAffinityError(`${base}.antiAffinity`, bg.antiAffinity);
      if (err) return err;
    }
  }
  return undefined;
}

/** Argo's ValidateRolloutStrategyAntiAffinity (field path and value rendering included). */
function antiAffinityError(
  path: string,
  aa: NonNullable<Rollout['spec']['strategy']['canary']>['antiAffinity'],
): string | undefined {
  if (!aa) return undefined;
  const pref = aa.preferredDuringSchedulingIgnoredDuringExecution;
  const req = aa.requiredDuringSchedulingIgnoredDuringExecution;
  if ((pref === undefined) === (req === undefined)) {
    return invalid(
      path,
      `antiAffinity.PreferredDuringSchedulingIgnoredDuringExecution: ${pref !== undefined} antiAffinity.RequiredDuringSchedulingIgnoredDuringExecution: ${req !== undefined}`,
      'AntiAffinity must have exactly one of the following set: preferredDuringSchedulingIgnoredDuringExecution or requiredDuringSchedulingIgnoredDuringExecution',
    );
  }
  const weight = pref?.weight ?? 0;
  if (pref && (weight < 1 || weight > 100)) {
    return invalid(`${path}.weight`, weight, 'AntiAffinity weight must be between 1 and 100');
  }
  return undefined;
}
