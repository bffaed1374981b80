import { describe, expect, it } from 'vitest';
import {
  computePodTemplateHash,
  fnv32a,
  podTemplateEqualIgnoreHash,
  safeEncodeString,
} from '../../../src/api/pod-template/hash.ts';
import type { Rollout, RolloutSpec, RolloutStatus } from '../../../src/api/rollout.ts';
import { parsePauseDuration, validateRolloutSpec } from '../../../src/api/rollout-validation.ts';
import { newCondition, setCondition } from '../../../src/rollout/conditions.ts';
import { calculateRolloutPhase, getRolloutPhase } from '../../../src/rollout/phase.ts';

const template = {
  metadata: { labels: { app: 'web' } },
  spec: { containers: [{ name: 'web', image: 'nginx:1.25', ports: [{ containerPort: 80 }] }] },
};

function ro(spec: Partial<RolloutSpec>, strategy: RolloutSpec['strategy'] = { canary: {} }): Rollout {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'web', namespace: 'ns', generation: 1 },
    spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template, strategy, ...spec },
  };
}

describe('phase computation (CalculateRolloutPhase, first match wins)', () => {
  const canary: RolloutSpec = { replicas: 3, strategy: { canary: {} } };
  const routed: RolloutSpec = { replicas: 3, strategy: { canary: { trafficRouting: { nginx: {} } } } };
  const bg: RolloutSpec = { replicas: 3, strategy: { blueGreen: { activeService: 'a' } } };
  const bgPost: RolloutSpec = {
    replicas: 3,
    strategy: {
      blueGreen: { activeService: 'a', postPromotionAnalysis: { templates: [{ templateName: 't' }] } },
    },
  };
  const done: RolloutStatus = {
    replicas: 3,
    updatedReplicas: 3,
    availableReplicas: 3,
    stableRS: 'h',
    currentPodHash: 'h',
    blueGreen: { activeSelector: 'h' },
  };
  const cond = (type: string, reason: string, message: string) =>
    ({ type, status: 'False', reason, message, lastUpdateTime: '', lastTransitionTime: '' }) as never;
  it.each([
    [
      'InvalidSpec wins',
      canary,
      { ...done, conditions: [cond('InvalidSpec', 'InvalidSpec', 'bad')] },
      'Degraded',
      'InvalidSpec: bad',
    ],
    [
      'aborted',
      canary,
      {
        ...done,
        conditions: [cond('Progressing', 'RolloutAborted', 'Rollout aborted update to revision 2')],
      },
      'Degraded',
      'RolloutAborted: Rollout aborted update to revision 2',
    ],
    [
      'deadline',
      canary,
      {
        ...done,
        conditions: [
          cond('Progressing', 'ProgressDeadlineExceeded', 'ReplicaSet "x" has timed out progressing.'),
        ],
      },
      'Degraded',
      'ProgressDeadlineExceeded: ReplicaSet "x" has timed out progressing.',
    ],
    ['manual pause', { ...canary, paused: true }, done, 'Paused', 'manually paused'],
    [
      'pause condition',
      canary,
      { ...done, pauseConditions: [{ reason: 'CanaryPauseStep', startTime: '' }] },
      'Paused',
      'CanaryPauseStep',
    ],
    [
      'restarting',
      { ...canary, restartAt: '2026-01-01T00:00:00Z' },
      done,
      'Progressing',
      'rollout is restarting',
    ],
    [
      'not all updated',
      canary,
      { ...done, updatedReplicas: 1 },
      'Progressing',
      'more replicas need to be updated',
    ],
    [
      'not available',
      canary,
      { ...done, availableReplicas: 2 },
      'Progressing',
      'updated replicas are still becoming available',
    ],
    [
      'basic canary old pods',
      canary,
      { ...done, replicas: 4 },
      'Progressing',
      'old replicas are pending termination',
    ],
    ['routed canary ignores old pods', routed, { ...done, replicas: 4 }, 'Healthy', ''],
    [
      'canary steps pending',
      canary,
      { ...done, stableRS: 'old' },
      'Progressing',
      'waiting for all steps to complete',
    ],
    [
      'bg cutover pending',
      bg,
      { ...done, blueGreen: { activeSelector: 'old' } },
      'Progressing',
      'active service cutover pending',
    ],
    [
      'bg post verification',
      bg,
      { ...done, stableRS: 'old' },
      'Progressing',
      'waiting for post-promotion verification to complete',
    ],
    [
      'bg post analysis',
      bgPost,
      { ...done, stableRS: 'old' },
      'Progressing',
      'waiting for analysis to complete',
    ],
    ['healthy', bg, done, 'Healthy', ''],
  ] as const)('%s', (_name, spec, status, phase, message) => {
    expect(calculateRolloutPhase(spec as RolloutSpec, status as RolloutStatus)).toEqual({ phase, message });
  });

  it('clients show pending observation and the unpause handshake', () => {
    const r = ro({});
    r.status = { observedGeneration: '0', phase: 'Healthy' };
    expect(getRolloutPhase(r).message).toBe('waiting for rollout spec update to be observed');
    r.status = { observedGeneration: '1', phase: 'Paused', controllerPause: true };
    expect(getRolloutPhase(r)).toEqual({ phase: 'Progressing', message: 'waiting for rollout to unpause' });
  });
});

describe('validation names the field', () => {
  it.each([
    [
      'both strategies',
      ro({}, { canary: {}, blueGreen: { activeService: 'a' } }),
      'spec.strategy: Invalid value: "canary, blueGreen": Multiple strategies can not be listed',
    ],
    [
      'no strategy',
      ro({}, {}),
      "spec.strategy.strategy: Required value: Rollout has missing field '.spec.strategy.canary or .spec.strategy.blueGreen'",
    ],
    [
      'setWeight out of range',
      ro({}, { canary: { steps: [{ setWeight: 101 }] } }),
      'spec.strategy.canary.steps[0].setWeight: Invalid value: 101: SetWeight must be between 0 and 100',
    ],
    [
      'two fields in a step',
      ro({}, { canary: { steps: [{ setWeight: 10, pause: {} }] } }),
      'spec.strategy.canary.steps[0]: Invalid value',
    ],
    [
      'negative pause',
      ro({}, { canary: { steps: [{ pause: { duration: -5 } }] } }),
      'spec.strategy.canary.steps[0].pause.duration: Invalid value: -5: Pause duration must be 0 or greater',
    ],
    [
      'bad pause string',
      ro({}, { canary: { steps: [{ pause: { duration: '5x' } }] } }),
      'spec.strategy.canary.steps[0].pause.duration: Invalid value: "5x"',
    ],
    [
      'setCanaryScale without routing',
      ro({}, { canary: { steps: [{ setCanaryScale: { replicas: 1 } }] } }),
      'spec.strategy.canary.steps[0].setCanaryScale: Invalid value: {"replicas":1}: SetCanaryScale requires TrafficRouting to be set',
    ],
    [
      'both zero',
      ro({}, { canary: { maxSurge: 0, maxUnavailable: '0%' } }),
      'spec.strategy.canary.maxUnavailable: Invalid value: "0%": MaxSurge and MaxUnavailable both can not be zero',
    ],
    [
      'same services',
      ro({}, { canary: { canaryService: 's', stableService: 's' } }),
      'spec.strategy.canary.stableService: Invalid value: "s": This rollout uses the same service for the stable and canary services, but two different services are required.',
    ],
    [
      'scaleDownDelay without routing',
      ro({}, { canary: { scaleDownDelaySeconds: 10 } }),
      'spec.strategy.canary.scaleDownDelaySeconds: Invalid value: 10: Canary scaleDownDelaySeconds can only be used with traffic routing',
    ],
    [
      'selector mismatch',
      ro({ selector: { matchLabels: { app: 'other' } } }),
      'spec.selector: Invalid value',
    ],
    [
      'deadline vs minReady',
      ro({ minReadySeconds: 700 }),
      'spec.progressDeadlineSeconds: Invalid value: 600: progressDeadlineSeconds must be greater than minReadySeconds',
    ],
    [
      'bg same services',
      ro({}, { blueGreen: { activeService: 'a', previewService: 'a' } }),
      'spec.strategy.blueGreen.activeService: Invalid value: "a": This rollout uses the same service for the active and preview services',
    ],
    [
      'header route not managed',
      ro(
        {},
        {
          canary: {
            canaryService: 'c',
            stableService: 's',
            trafficRouting: { istio: { virtualService: { name: 'vs' } } },
            steps: [{ setHeaderRoute: { name: 'h' } }],
          },
        },
      ),
      'spec.strategy.canary.steps[0].setHeaderRoute.name: Invalid value: "h": Name must be defined in managedRoutes',
    ],
    ...(['alb', 'ambassador', 'appMesh', 'traefik', 'apisix'] as const).map((router) => [
      `${router}, a router Sluice does not implement`,
      ro(
        {},
        {
          canary: {
            canaryService: 'c',
            stableService: 's',
            trafficRouting: { [router]: { ingress: 'web' } },
          },
        },
      ),
      `spec.strategy.canary.trafficRouting.${router}: Invalid value: "${router}": the ${router} traffic router is not implemented by Sluice (supported: istio, nginx, smi, plugins sluice/proxy, argoproj-labs/gatewayAPI, sluice/gateway-api)`,
    ]),
    [
      'a header route with only NGINX (Argo: Istio, ALB, APISIX or a plugin)',
      ro(
        {},
        {
          canary: {
            canaryService: 'c',
            stableService: 's',
            trafficRouting: { nginx: { stableIngress: 'web' }, managedRoutes: [{ name: 'h' }] },
            steps: [{ setHeaderRoute: { name: 'h' } }],
          },
        },
      ),
      'spec.strategy.canary.steps[0].setHeaderRoute: Invalid value: {"name":"h"}: SetHeaderRoute requires TrafficRouting, supports Istio and ALB and Apisix',
    ],
    [
      'a mirror route with only SMI (Argo: Istio only)',
      ro(
        {},
        {
          canary: {
            canaryService: 'c',
            stableService: 's',
            trafficRouting: { smi: {}, managedRoutes: [{ name: 'm' }] },
            steps: [{ setMirrorRoute: { name: 'm', percentage: 10 } }],
          },
        },
      ),
      'SetMirrorRoute requires TrafficRouting, supports Istio only',
    ],
    [
      'a mirror route with the Gateway API router, which has none',
      ro(
        {},
        {
          canary: {
            canaryService: 'c',
            stableService: 's',
            trafficRouting: {
              plugins: { 'argoproj-labs/gatewayAPI': { httpRoute: 'web' } },
              managedRoutes: [{ name: 'm' }],
            },
            steps: [{ setMirrorRoute: { name: 'm', percentage: 10 } }],
          },
        },
      ),
      'the Gateway API router has no mirror routes',
    ],
    [
      'an invalid router config names its field (NGINX without an Ingress)',
      ro({}, { canary: { canaryService: 'c', stableService: 's', trafficRouting: { nginx: {} } } }),
      'spec.strategy.canary.trafficRouting.nginx: Invalid value: ',
    ],
    [
      'pingPong, which Sluice does not implement',
      ro(
        {},
        {
          canary: {
            pingPong: { pingService: 'ping', pongService: 'pong' },
            trafficRouting: { istio: { virtualService: { name: 'vs' } } },
          },
        },
      ),
      'spec.strategy.canary.pingPong: Invalid value: {"pingService":"ping","pongService":"pong"}: pingPong is not implemented by Sluice',
    ],
    [
      'a router plugin Sluice does not implement',
      ro(
        {},
        {
          canary: {
            canaryService: 'c',
            stableService: 's',
            trafficRouting: { plugins: { 'argoproj-labs/contour': { httpProxy: 'web' } } },
          },
        },
      ),
      'spec.strategy.canary.trafficRouting.plugins.argoproj-labs/contour: Invalid value: "argoproj-labs/contour": the traffic router plugin argoproj-labs/contour is not implemented by Sluice',
    ],
    [
      'an unknown traffic router key',
      ro(
        {},
        { canary: { canaryService: 'c', stableService: 's', trafficRouting: { linkerd: {} } as never } },
      ),
      'spec.strategy.canary.trafficRouting.linkerd: Invalid value: "linkerd": unknown traffic router',
    ],
  ] as [string, Rollout, string][])('%s', (_name, rollout, message) => {
    expect(validateRolloutSpec(rollout)).toContain(message);
  });

  it('accepts the guide manifests shapes and pause durations in all three forms', () => {
    expect(
      validateRolloutSpec(
        ro(
          {},
          {
            canary: {
              steps: [
                { setWeight: 10 },
                { pause: {} },
                { pause: { duration: 3600 } },
                { pause: { duration: '10m' } },
              ],
            },
          },
        ),
      ),
    ).toBeUndefined();
    expect(parsePauseDuration(30)).toEqual({ ok: true, ms: 30_000 });
    expect(parsePauseDuration('30')).toEqual({ ok: true, ms: 30_000 });
    expect(parsePauseDuration('1h')).toEqual({ ok: true, ms: 3_600_000 });
  });

  it('never throws on malformed input', () => {
    const bad = { ...ro({}), spec: { strategy: { canary: { steps: [null, 'x'] } } } } as unknown as Rollout;
    expect(() => validateRolloutSpec(bad)).not.toThrow();
    expect(validateRolloutSpec(bad)).toBeTypeOf('string');
  });
});

describe('pod template hash', () => {
  it('uses FNV-32a and the SafeEncodeString alphabet', () => {
    expect(fnv32a(new TextEncoder().encode(''))).toBe(0x811c9dc5);
    expect(fnv32a(new TextEncoder().encode('a'))).toBe(0xe40c292c);
    expect(safeEncodeString('0123456789')).toBe('456789bcdf');
    expect(computePodTemplateHash(template)).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]+$/);
  });

  it('is stable across key order, and changes with the template, its labels or collisionCount', () => {
    const reordered = {
      spec: { containers: [{ ports: [{ containerPort: 80 }], image: 'nginx:1.25', name: 'web' }] },
      metadata: { labels: { app: 'web' } },
    };
    expect(computePodTemplateHash(reordered)).toBe(computePodTemplateHash(template));
    // Argo hashes spec.template as it is; the hash label is only ever added to ReplicaSets.
    const labelled = {
      ...reordered,
      metadata: { labels: { app: 'web', 'rollouts-pod-template-hash': 'zzz' } },
    };
    expect(computePodTemplateHash(labelled)).not.toBe(computePodTemplateHash(template));
    const changed = structuredClone(template);
    changed.spec.containers[0]!.image = 'nginx:1.26';
    expect(computePodTemplateHash(changed)).not.toBe(computePodTemplateHash(template));
    expect(computePodTemplateHash(template, 1)).not.toBe(computePodTemplateHash(template));
    expect(computePodTemplateHash(template, 0)).not.toBe(computePodTemplateHash(template, 1));
  });

  it('adopts a live (API-server defaulted) ReplicaSet template created by Argo', () => {
    const live = {
      metadata: {
        labels: { app: 'web', 'rollouts-pod-template-hash': '6d4b9c8f7' },
        creationTimestamp: null,
      },
      spec: {
        containers: [
          {
            name: 'web',
            image: 'nginx:1.25',
            ports: [{ containerPort: 80, protocol: 'TCP' }],
            resources: {},
            terminationMessagePath: '/dev/termination-log',
            terminationMessagePolicy: 'File',
            imagePullPolicy: 'IfNotPresent',
          },
        ],
        restartPolicy: 'Always',
        terminationGracePeriodSeconds: 30,
        dnsPolicy: 'ClusterFirst',
        securityContext: {},
        schedulerName: 'default-scheduler',
      },
    };
    expect(podTemplateEqualIgnoreHash(live, template)).toBe(true);
    const other = structuredClone(live);
    other.spec.containers[0]!.image = 'nginx:1.26';
    expect(podTemplateEqualIgnoreHash(other, template)).toBe(false);
  });
});

describe('conditions and the status patch', () => {
  it('keeps lastTransitionTime when only the message changes and does not churn identical conditions', () => {
    const a = newCondition('Progressing', 'True', 'ReplicaSetUpdated', 'm1', 't1');
    const same = setCondition([a], newCondition('Progressing', 'True', 'ReplicaSetUpdated', 'm1', 't2'));
    expect(same[0]).toBe(a);
    const msg = setCondition([a], newCondition('Progressing', 'True', 'ReplicaSetUpdated', 'm2', 't3'));
    expect(msg[0]).toMatchObject({ message: 'm2', lastTransitionTime: 't1', lastUpdateTime: 't3' });
    const flip = setCondition(
      [a],
      newCondition('Progressing', 'False', 'ProgressDeadlineExceeded', 'x', 't4'),
    );
    expect(flip[0]).toMatchObject({ lastTransitionTime: 't4' });
  });
});
