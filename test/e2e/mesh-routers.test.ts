// The Istio, SMI and Gateway API traffic routers end to end on the real test cluster (fixture.ts), on the
// test-only CRDs of test/cluster/router-crds/ (there is no mesh or gateway to act on the objects: the tests
// read back what the controller wrote). Each scenario checks the objects at each step as Argo Rollouts
// writes them (docs/routers/*.md, the Argo reference section 3): the weights, the managed header routes
// (added at the top / after the user's rules, removed at the end and on abort), the user's own fields kept
// as written, and the TrafficRouting condition / TrafficRoutingError event when a router cannot answer.
// Each scenario gets its own namespace and its own in-process controller scoped to it.

import { afterEach, describe, expect, it } from 'vitest';
import { E2e, ingress, service } from './fixture.ts';
import {
  backendsOf,
  condition,
  dest,
  GATEWAY,
  HASH,
  httpRoute,
  httpRouteRules,
  ISTIO,
  type Json,
  list,
  rec,
  routedRollout,
  routeNamed,
  ruleWeights,
  SMI_V1ALPHA1,
  SMI_V1ALPHA2,
  subsetDest,
  virtualService,
  vsRoutes,
  waitForConditionMessage,
  waitForRuleWeights,
  waitForSplit,
  waitForVsWeights,
  weightsOf,
} from './mesh-objects.ts';

let e: E2e | undefined;
afterEach(async () => {
  await e?.dispose();
  e = undefined;
});

const HEADER_MATCH = [{ headerName: 'x-canary', headerValue: { exact: 'yes' } }];

/** The user's fields on the weighted route, which the router must keep as written. */
const USER_ROUTE_FIELDS = {
  retries: { attempts: 3, perTryTimeout: '2s', retryOn: 'gateway-error,connect-failure' },
  timeout: '10s',
  fault: { delay: { percentage: { value: 0.1 }, fixedDelay: '5s' } },
};

/** A second user route the Rollout does not name: never touched. */
const OTHER_ROUTE: Json = {
  name: 'legacy',
  match: [{ uri: { prefix: '/legacy' } }],
  route: [{ destination: { host: 'legacy-backend', port: { number: 8080 } }, weight: 100 }],
  headers: { response: { add: { 'x-legacy': 'true' } } },
};

function primaryRoute(ro: string, stable: number, canary: number): Json {
  return {
    name: 'primary',
    ...USER_ROUTE_FIELDS,
    route: [dest(`${ro}-stable`, stable), dest(`${ro}-canary`, canary)],
  };
}

function headerRoute(ro: string, name: string): Json {
  return {
    name,
    match: [{ headers: { 'x-canary': { exact: 'yes' } } }],
    route: [{ destination: { host: `${ro}-canary`, port: { number: 80 } }, weight: 100 }],
  };
}

function rolloutServices(ro: string, root = false): Json[] {
  return [service(`${ro}-stable`, ro), service(`${ro}-canary`, ro), ...(root ? [service(ro, ro)] : [])];
}

describe('Istio router', () => {
  it('host-level split: weights at each step, header route on top, user fields kept; abort, retry, promote --full', async () => {
    const ro = 'ro';
    const vs = 'ro-vsvc';
    e = await E2e.create('istio-host', { routerCrds: true });
    await e.apply([...rolloutServices(ro), virtualService(vs, [primaryRoute(ro, 100, 0), OTHER_ROUTE])]);
    await e.healthyRollout(
      routedRollout(
        ro,
        {
          managedRoutes: [{ name: 'canary-hdr' }],
          istio: { virtualService: { name: vs, routes: ['primary'] } },
        },
        [
          { setWeight: 20 },
          { pause: {} },
          { setHeaderRoute: { name: 'canary-hdr', match: HEADER_MATCH } },
          { setWeight: 60 },
          { pause: {} },
        ],
      ),
      ro,
    );
    // The initial deploy: weight 0, nothing else changed.
    await waitForVsWeights(e, vs, 'primary', { [`${ro}-stable`]: 100, [`${ro}-canary`]: 0 });
    expect(await vsRoutes(e, vs)).toEqual([primaryRoute(ro, 100, 0), OTHER_ROUTE]);

    await e.setImage(ro, 'example.com/app:v2');
    await e.waitForRollout(
      ro,
      'paused at step 1',
      (r) => r.status?.currentStepIndex === 1 && r.status.phase === 'Paused',
    );
    await waitForVsWeights(e, vs, 'primary', { [`${ro}-stable`]: 80, [`${ro}-canary`]: 20 });
    expect(await vsRoutes(e, vs)).toEqual([primaryRoute(ro, 80, 20), OTHER_ROUTE]);
    const spec1 = rec((await e.object(ISTIO, 'virtualservices', vs))?.spec);
    expect(spec1.hosts).toEqual([`${vs}.example.com`]);
    expect(spec1.gateways).toEqual(['shop-gateway']);

    // setHeaderRoute then setWeight 60: the managed route first, named after the step.
    await e.sluiceOk('promote', ro);
    await e.waitForRollout(
      ro,
      'paused at step 4',
      (r) => r.status?.currentStepIndex === 4 && r.status.phase === 'Paused',
    );
    await waitForVsWeights(e, vs, 'primary', { [`${ro}-stable`]: 40, [`${ro}-canary`]: 60 });
    expect(await vsRoutes(e, vs)).toEqual([
      headerRoute(ro, 'canary-hdr'),
      primaryRoute(ro, 40, 60),
      OTHER_ROUTE,
    ]);

    // Abort: all traffic to stable, the managed route removed, the user's fields intact.
    await e.sluiceOk('abort', ro);
    await e.waitForPhase(ro, 'Degraded');
    await e.waitFor('the VirtualService back to stable without the header route', async () => {
      const routes = await vsRoutes(e!, vs);
      return routes.length === 2 && routeNamed(routes, 'canary-hdr') === undefined ? routes : undefined;
    });
    await waitForVsWeights(e, vs, 'primary', { [`${ro}-stable`]: 100, [`${ro}-canary`]: 0 });
    expect(await vsRoutes(e, vs)).toEqual([primaryRoute(ro, 100, 0), OTHER_ROUTE]);

    // Retry: back through the steps (weight 20 at the first pause, the header route again at the second),
    // then promote --full: the managed route removed at the end, canary 0 / stable 100.
    await e.sluiceOk('retry', 'rollout', ro);
    await e.waitForRollout(
      ro,
      'retried to step 1',
      (r) => r.status?.currentStepIndex === 1 && r.status.phase === 'Paused' && !r.status.abort,
    );
    await waitForVsWeights(e, vs, 'primary', { [`${ro}-stable`]: 80, [`${ro}-canary`]: 20 });
    expect(await vsRoutes(e, vs)).toEqual([primaryRoute(ro, 80, 20), OTHER_ROUTE]);
    await e.sluiceOk('promote', ro);
    await e.waitForRollout(
      ro,
      'paused at step 4 again',
      (r) => r.status?.currentStepIndex === 4 && r.status.phase === 'Paused',
    );
    await waitForVsWeights(e, vs, 'primary', { [`${ro}-stable`]: 40, [`${ro}-canary`]: 60 });
    expect(await vsRoutes(e, vs)).toEqual([
      headerRoute(ro, 'canary-hdr'),
      primaryRoute(ro, 40, 60),
      OTHER_ROUTE,
    ]);
    await e.sluiceOk('promote', ro, '--full');
    const done = await e.waitForPhase(ro, 'Healthy');
    expect(done.status?.stableRS).toBe(done.status?.currentPodHash);
    await waitForVsWeights(e, vs, 'primary', { [`${ro}-stable`]: 100, [`${ro}-canary`]: 0 });
    await e.waitFor('the header route removed at the end', async () =>
      (await vsRoutes(e!, vs)).length === 2 ? true : undefined,
    );
    expect(await vsRoutes(e, vs)).toEqual([primaryRoute(ro, 100, 0), OTHER_ROUTE]);
    const spec = rec((await e.object(ISTIO, 'virtualservices', vs))?.spec);
    expect(spec.hosts).toEqual([`${vs}.example.com`]);
    expect(spec.gateways).toEqual(['shop-gateway']);
    const reasons = e.eventReasons(ro);
    expect(reasons).not.toContain('TrafficRoutingError');
    expect(reasons).toContain('Updated VirtualService');
    expect(reasons).toContain('TrafficWeightUpdated');
    expect(e.events(ro).map((ev) => ev.message)).toEqual(
      expect.arrayContaining([
        `VirtualService \`${vs}\` set to desiredWeight '20'`,
        `VirtualService \`${vs}\` set headerRoute 'canary-hdr'`,
      ]),
    );
  }, 60_000);

  it('subset-level split: the DestinationRule subsets follow the canary/stable hashes, trafficPolicy kept', async () => {
    const ro = 'ro';
    const host = 'ro';
    e = await E2e.create('istio-subset', { routerCrds: true });
    const trafficPolicy = {
      loadBalancer: { simple: 'LEAST_REQUEST' },
      connectionPool: { tcp: { maxConnections: 100 } },
    };
    await e.apply([
      service(host, ro),
      {
        apiVersion: 'networking.istio.io/v1beta1',
        kind: 'DestinationRule',
        metadata: { name: 'ro-destrule' },
        spec: {
          host,
          trafficPolicy,
          subsets: [
            { name: 'stable', labels: { app: ro } },
            { name: 'canary', labels: { app: ro }, trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } },
          ],
        },
      },
      {
        apiVersion: 'networking.istio.io/v1beta1',
        kind: 'VirtualService',
        metadata: { name: 'ro-vsvc' },
        spec: {
          hosts: [host],
          http: [{ route: [subsetDest(host, 'stable', 100), subsetDest(host, 'canary', 0)] }],
        },
      },
    ]);
    const initial = await e.healthyRollout(
      routedRollout(
        ro,
        {
          managedRoutes: [{ name: 'canary-hdr' }],
          istio: {
            virtualService: { name: 'ro-vsvc' },
            destinationRule: { name: 'ro-destrule', canarySubsetName: 'canary', stableSubsetName: 'stable' },
          },
        },
        [{ setWeight: 25 }, { setHeaderRoute: { name: 'canary-hdr', match: HEADER_MATCH } }, { pause: {} }],
        { services: false, replicas: 4 },
      ),
      ro,
    );
    const rev1 = initial.status?.stableRS ?? '';
    const subsets = (dr: Json) =>
      Object.fromEntries(list(rec(dr.spec).subsets).map((s) => [s.name, rec(s.labels)[HASH]]));
    const waitForSubsets = (canary: string, stable: string) =>
      e!.waitForObject(
        ISTIO,
        'destinationrules',
        'ro-destrule',
        `subsets canary ${canary} stable ${stable}`,
        (dr) => {
          const s = subsets(dr);
          return s.canary === canary && s.stable === stable;
        },
      );
    await waitForSubsets(rev1, rev1);

    await e.setImage(ro, 'example.com/app:v2');
    const paused = await e.waitForRollout(
      ro,
      'paused at step 2',
      (r) => r.status?.currentStepIndex === 2 && r.status.phase === 'Paused',
    );
    const rev2 = paused.status?.currentPodHash ?? '';
    expect(rev2).not.toBe(rev1);
    const dr = await waitForSubsets(rev2, rev1);
    expect(rec(dr.metadata).annotations).toMatchObject({
      'argo-rollouts.argoproj.io/managed-by-rollouts': ro,
    });
    expect(rec(dr.spec)).toEqual({
      host,
      trafficPolicy,
      subsets: [
        { name: 'stable', labels: { app: ro, [HASH]: rev1 } },
        {
          name: 'canary',
          labels: { app: ro, [HASH]: rev2 },
          trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } },
        },
      ],
    });
    await waitForVsWeights(e, 'ro-vsvc', undefined, { 'ro/stable': 75, 'ro/canary': 25 });
    // The header route goes to the DestinationRule's host and canary subset (no port: the weighted
    // route's first destination has none), above the user's route.
    expect(await vsRoutes(e, 'ro-vsvc')).toEqual([
      {
        name: 'canary-hdr',
        match: [{ headers: { 'x-canary': { exact: 'yes' } } }],
        route: [{ destination: { host, subset: 'canary' }, weight: 100 }],
      },
      { route: [subsetDest(host, 'stable', 75), subsetDest(host, 'canary', 25)] },
    ]);

    await e.sluiceOk('promote', ro);
    await e.waitForPhase(ro, 'Healthy');
    await waitForSubsets(rev2, rev2);
    await waitForVsWeights(e, 'ro-vsvc', undefined, { 'ro/stable': 100, 'ro/canary': 0 });
    await e.waitFor('the header route removed at the end', async () =>
      (await vsRoutes(e!, 'ro-vsvc')).length === 1 ? true : undefined,
    );
    expect(await vsRoutes(e, 'ro-vsvc')).toEqual([
      { route: [subsetDest(host, 'stable', 100), subsetDest(host, 'canary', 0)] },
    ]);
    expect(rec((await e.object(ISTIO, 'destinationrules', 'ro-destrule'))?.spec).trafficPolicy).toEqual(
      trafficPolicy,
    );
  }, 60_000);
});

describe('Istio router: an update in the middle of a canary', () => {
  it('a new revision at a step: the canary Service moves to it and the step weight comes back', async () => {
    const ro = 'ro';
    const vs = 'ro-vsvc';
    e = await E2e.create('istio-mid-update', { routerCrds: true });
    await e.apply([...rolloutServices(ro), virtualService(vs, [primaryRoute(ro, 100, 0)])]);
    const initial = await e.healthyRollout(
      routedRollout(ro, { istio: { virtualService: { name: vs, routes: ['primary'] } } }, [
        { setWeight: 20 },
        { pause: {} },
      ]),
      ro,
    );
    const rev1 = initial.status?.stableRS ?? '';
    await e.setImage(ro, 'example.com/app:v2');
    await e.waitForRollout(
      ro,
      'paused at step 1',
      (r) => r.status?.currentStepIndex === 1 && r.status.phase === 'Paused',
    );
    await waitForVsWeights(e, vs, 'primary', { [`${ro}-stable`]: 80, [`${ro}-canary`]: 20 });
    // v3 while v2 is at 20%: the new canary starts again from step 0, v2 goes away, stable stays v1.
    await e.setImage(ro, 'example.com/app:v3');
    const paused = await e.waitForRollout(
      ro,
      'v3 paused at step 1',
      (r) =>
        r.status?.currentStepIndex === 1 &&
        r.status.phase === 'Paused' &&
        (r.status.canary?.weights?.canary.podTemplateHash ?? '') === r.status.currentPodHash,
    );
    const rev3 = paused.status?.currentPodHash ?? '';
    expect(paused.status?.stableRS).toBe(rev1);
    expect(paused.status?.canary?.weights).toMatchObject({
      canary: { weight: 20, podTemplateHash: rev3 },
      stable: { weight: 80, podTemplateHash: rev1 },
    });
    await waitForVsWeights(e, vs, 'primary', { [`${ro}-stable`]: 80, [`${ro}-canary`]: 20 });
    await e.waitForServiceSelector(`${ro}-canary`, rev3);
    expect(await e.serviceSelector(`${ro}-stable`)).toMatchObject({ [HASH]: rev1 });
    await e.waitForPodCounts(ro, { '1': 2, '3': 1 });
  }, 40_000);
});

describe('Istio router: mirror routes', () => {
  it('setMirrorRoute puts a mirror route on top, later setWeights reweigh it, abort removes it', async () => {
    const ro = 'ro';
    const vs = 'ro-vsvc';
    e = await E2e.create('istio-mirror', { routerCrds: true });
    await e.apply([...rolloutServices(ro), virtualService(vs, [primaryRoute(ro, 100, 0), OTHER_ROUTE])]);
    await e.healthyRollout(
      routedRollout(
        ro,
        {
          managedRoutes: [{ name: 'mirror-reads' }],
          istio: { virtualService: { name: vs, routes: ['primary'] } },
        },
        [
          { setWeight: 20 },
          { setMirrorRoute: { name: 'mirror-reads', percentage: 50, match: [{ method: { exact: 'GET' } }] } },
          { pause: {} },
          { setWeight: 40 },
          { pause: {} },
        ],
      ),
      ro,
    );
    const mirrorRoute = (stable: number, canary: number): Json => ({
      name: 'mirror-reads',
      match: [{ method: { exact: 'GET' } }],
      route: [dest(`${ro}-stable`, stable), dest(`${ro}-canary`, canary)],
      mirror: { host: `${ro}-canary`, port: { number: 80 } },
      mirrorPercentage: { value: 50 },
    });
    await e.setImage(ro, 'example.com/app:v2');
    await e.waitForRollout(
      ro,
      'paused at step 2',
      (r) => r.status?.currentStepIndex === 2 && r.status.phase === 'Paused',
    );
    await waitForVsWeights(e, vs, 'primary', { [`${ro}-stable`]: 80, [`${ro}-canary`]: 20 });
    expect(await vsRoutes(e, vs)).toEqual([mirrorRoute(80, 20), primaryRoute(ro, 80, 20), OTHER_ROUTE]);

    await e.sluiceOk('promote', ro);
    await e.waitForRollout(
      ro,
      'paused at step 4',
      (r) => r.status?.currentStepIndex === 4 && r.status.phase === 'Paused',
    );
    await waitForVsWeights(e, vs, 'primary', { [`${ro}-stable`]: 60, [`${ro}-canary`]: 40 });
    expect(await vsRoutes(e, vs)).toEqual([mirrorRoute(60, 40), primaryRoute(ro, 60, 40), OTHER_ROUTE]);

    await e.sluiceOk('abort', ro);
    await e.waitForPhase(ro, 'Degraded');
    await e.waitFor('the mirror route removed', async () =>
      (await vsRoutes(e!, vs)).length === 2 ? true : undefined,
    );
    await waitForVsWeights(e, vs, 'primary', { [`${ro}-stable`]: 100, [`${ro}-canary`]: 0 });
    expect(await vsRoutes(e, vs)).toEqual([primaryRoute(ro, 100, 0), OTHER_ROUTE]);
  }, 40_000);
});

describe('Istio router: TLS and TCP routes, dynamicStableScale', () => {
  it('tlsRoutes and tcpRoutes select their rules by port and SNI hosts; the others are left alone', async () => {
    const ro = 'ro';
    const vs = 'ro-vsvc';
    e = await E2e.create('istio-tls-tcp', { routerCrds: true });
    const tlsRule = (sni: string, stable: number, canary: number): Json => ({
      match: [{ port: 443, sniHosts: [sni] }],
      route: [dest(`${ro}-stable`, stable), dest(`${ro}-canary`, canary)],
    });
    const tcpRule = (port: number, stable: number, canary: number): Json => ({
      match: [{ port }],
      route: [dest(`${ro}-stable`, stable), dest(`${ro}-canary`, canary)],
    });
    const vsObject = (w: number): Json => ({
      ...virtualService(vs, [primaryRoute(ro, 100, 0)]),
      spec: {
        hosts: [`${vs}.example.com`],
        http: [primaryRoute(ro, 100 - w, w)],
        tls: [tlsRule('a.example.com', 100 - w, w), tlsRule('b.example.com', 100, 0)],
        tcp: [tcpRule(5432, 100 - w, w), tcpRule(6379, 100, 0)],
      },
    });
    await e.apply([...rolloutServices(ro), vsObject(0)]);
    await e.healthyRollout(
      routedRollout(
        ro,
        {
          istio: {
            virtualService: {
              name: vs,
              routes: ['primary'],
              tlsRoutes: [{ port: 443, sniHosts: ['a.example.com'] }],
              tcpRoutes: [{ port: 5432 }],
            },
          },
        },
        [{ setWeight: 30 }, { pause: {} }],
      ),
      ro,
    );
    await e.setImage(ro, 'example.com/app:v2');
    await e.waitForRollout(
      ro,
      'paused at step 1',
      (r) => r.status?.currentStepIndex === 1 && r.status.phase === 'Paused',
    );
    await waitForVsWeights(e, vs, 'primary', { [`${ro}-stable`]: 70, [`${ro}-canary`]: 30 });
    expect((await e.object(ISTIO, 'virtualservices', vs))?.spec).toEqual(rec(vsObject(30).spec));
    await e.sluiceOk('abort', ro);
    await e.waitForPhase(ro, 'Degraded');
    await waitForVsWeights(e, vs, 'primary', { [`${ro}-stable`]: 100, [`${ro}-canary`]: 0 });
    expect((await e.object(ISTIO, 'virtualservices', vs))?.spec).toEqual(rec(vsObject(0).spec));
  }, 40_000);

  it('dynamicStableScale: the stable scales down with the weight and back up on abort, weight back to 0', async () => {
    const ro = 'ro';
    const vs = 'ro-vsvc';
    e = await E2e.create('istio-dynamic', { routerCrds: true });
    await dynamicStableScaleAtStep(e, ro, vs);
    await e.sluiceOk('abort', ro);
    await e.waitForPhase(ro, 'Degraded');
    await waitForVsWeights(e, vs, 'primary', { [`${ro}-stable`]: 100, [`${ro}-canary`]: 0 });
    await e.waitFor('the stable back at 4 pods', async () =>
      (await e!.podCountsByRevision(ro))['1'] === 4 ? true : undefined,
    );
    // The weight stepped down with the stable's availability, ending at 0.
    await e.waitFor('a TrafficWeightUpdated event to 0', async () =>
      e!.events(ro).some((ev) => ev.reason === 'TrafficWeightUpdated' && / to 0$/.test(ev.message))
        ? true
        : undefined,
    );
  }, 40_000);

  // Argo's shouldDelayScaleDownOnAbort answers false with dynamicStableScale and no explicit
  // abortScaleDownDelaySeconds (`usesDynamicStableScaling && !abortDelayWasSet`): the aborted canary scales
  // down with its weight, without the default 30 s delay.
  it('dynamicStableScale: an abort without abortScaleDownDelaySeconds scales the canary down at once', async () => {
    const ro = 'ro';
    const vs = 'ro-vsvc';
    e = await E2e.create('istio-dynamic-abort', { routerCrds: true });
    await dynamicStableScaleAtStep(e, ro, vs);
    await e.sluiceOk('abort', ro);
    await waitForVsWeights(e, vs, 'primary', { [`${ro}-stable`]: 100, [`${ro}-canary`]: 0 });
    await e.waitForPodCounts(ro, { '1': 4, '2': 0 }, 10_000);
  }, 40_000);
});

/** A 4-replica Istio canary with dynamicStableScale paused at setWeight 50: 2 stable and 2 canary pods. */
async function dynamicStableScaleAtStep(e: E2e, ro: string, vs: string): Promise<void> {
  await e.apply([...rolloutServices(ro), virtualService(vs, [primaryRoute(ro, 100, 0)])]);
  await e.healthyRollout(
    routedRollout(
      ro,
      { istio: { virtualService: { name: vs, routes: ['primary'] } } },
      [{ setWeight: 50 }, { pause: {} }],
      { replicas: 4, canary: { dynamicStableScale: true } },
    ),
    ro,
  );
  await e.setImage(ro, 'example.com/app:v2');
  await e.waitForRollout(
    ro,
    'paused at step 1',
    (r) => r.status?.currentStepIndex === 1 && r.status.phase === 'Paused',
  );
  await waitForVsWeights(e, vs, 'primary', { [`${ro}-stable`]: 50, [`${ro}-canary`]: 50 });
  await e.waitForPodCounts(ro, { '1': 2, '2': 2 });
}

describe('Istio router: ping-pong Services', () => {
  // Argo's pingPong swaps two Services under ALB or Istio; Sluice does not implement it, so validation
  // refuses it by name instead of accepting a spec it would leave unapplied.
  it('pingPong is refused as InvalidSpec naming the field, and the VirtualService is untouched', async () => {
    const ro = 'ro';
    const vs = 'ro-vsvc';
    e = await E2e.create('istio-ping-pong', { routerCrds: true });
    await e.apply([
      service('ro-ping', ro),
      service('ro-pong', ro),
      virtualService(vs, [{ name: 'primary', route: [dest('ro-ping', 100), dest('ro-pong', 0)] }]),
    ]);
    const before = await e.object(ISTIO, 'virtualservices', vs);
    await e.apply(
      routedRollout(
        ro,
        { istio: { virtualService: { name: vs, routes: ['primary'] } } },
        [{ setWeight: 20 }, { pause: {} }],
        { services: false, canary: { pingPong: { pingService: 'ro-ping', pongService: 'ro-pong' } } },
      ),
    );
    const invalid = await e.waitForRollout(ro, 'InvalidSpec naming pingPong', (r) =>
      (r.status?.conditions ?? []).some(
        (c) => c.type === 'InvalidSpec' && c.message.includes('spec.strategy.canary.pingPong'),
      ),
    );
    expect(invalid.status?.phase).toBe('Degraded');
    const after = await e.object(ISTIO, 'virtualservices', vs);
    expect(rec(after?.metadata).resourceVersion).toBe(rec(before?.metadata).resourceVersion);
  }, 40_000);
});

describe('Istio router: the DestinationRule switch delay', () => {
  // Under a subset-level split without canary/stable Services, updateHash waits until the new pods are
  // available (Argo #2507): an expected wait, retried, that holds the step without a TrafficRoutingError
  // event or a TrafficRouting=False condition (Argo returns the UpdateHash error without any event).
  it('a normal subset-level deploy raises no TrafficRoutingError warning', async () => {
    const ro = 'ro';
    e = await E2e.create('istio-dr-delay', { routerCrds: true });
    await e.apply([
      service(ro, ro),
      {
        apiVersion: 'networking.istio.io/v1beta1',
        kind: 'DestinationRule',
        metadata: { name: 'ro-destrule' },
        spec: { host: ro, subsets: [{ name: 'stable' }, { name: 'canary' }] },
      },
      {
        apiVersion: 'networking.istio.io/v1beta1',
        kind: 'VirtualService',
        metadata: { name: 'ro-vsvc' },
        spec: {
          hosts: [ro],
          http: [{ route: [subsetDest(ro, 'stable', 100), subsetDest(ro, 'canary', 0)] }],
        },
      },
    ]);
    const healthy = await e.healthyRollout(
      routedRollout(
        ro,
        {
          istio: {
            virtualService: { name: 'ro-vsvc' },
            destinationRule: { name: 'ro-destrule', canarySubsetName: 'canary', stableSubsetName: 'stable' },
          },
        },
        [{ setWeight: 50 }, { pause: {} }],
        { services: false },
      ),
      ro,
    );
    await e.waitForObject(ISTIO, 'destinationrules', 'ro-destrule', 'subsets labelled', (dr) =>
      list(rec(dr.spec).subsets).every((s) => rec(s.labels)[HASH] === healthy.status?.stableRS),
    );
    expect(e.events(ro).filter((ev) => ev.type === 'Warning')).toEqual([]);
  }, 40_000);
});

describe('Istio router: out-of-band edits', () => {
  // Argo's IstioController watches VirtualServices and DestinationRules and enqueues the Rollouts naming
  // them, so a hand edit is put back at once; Sluice caches the same kinds when served (src/kube/discovery.ts
  // WATCHED_ROUTER_KINDS) and the Enqueuer re-reconciles those Rollouts.
  it('a weight edited by hand at a pause is put back', async () => {
    const ro = 'ro';
    const vs = 'ro-vsvc';
    e = await E2e.create('istio-oob', { routerCrds: true });
    await e.apply([...rolloutServices(ro), virtualService(vs, [primaryRoute(ro, 100, 0), OTHER_ROUTE])]);
    await e.healthyRollout(
      routedRollout(ro, { istio: { virtualService: { name: vs, routes: ['primary'] } } }, [
        { setWeight: 20 },
        { pause: {} },
      ]),
      ro,
    );
    await e.setImage(ro, 'example.com/app:v2');
    await e.waitForRollout(
      ro,
      'paused at step 1',
      (r) => r.status?.currentStepIndex === 1 && r.status.phase === 'Paused',
    );
    await waitForVsWeights(e, vs, 'primary', { [`${ro}-stable`]: 80, [`${ro}-canary`]: 20 });
    await e.client.mergePatch(`/apis/${ISTIO}/namespaces/${e.namespace}/virtualservices/${vs}`, {
      spec: { http: [primaryRoute(ro, 50, 50), OTHER_ROUTE] },
    });
    await waitForVsWeights(e, vs, 'primary', { [`${ro}-stable`]: 50, [`${ro}-canary`]: 50 });
    // Put back by the controller within a few seconds.
    await e.waitFor(
      'the hand edit put back to 80/20',
      async () => {
        const w = weightsOf(routeNamed(await vsRoutes(e!, vs), 'primary'));
        return w[`${ro}-stable`] === 80 && w[`${ro}-canary`] === 20 ? true : undefined;
      },
      5_000,
    );
  }, 40_000);
});

describe('SMI router', () => {
  for (const [version, apiVersion, weight] of [
    ['v1alpha1', SMI_V1ALPHA1, (w: number) => String(w)],
    ['v1alpha2', SMI_V1ALPHA2, (w: number) => w],
    ['v1alpha3', 'split.smi-spec.io/v1alpha3', (w: number) => w],
  ] as const) {
    it(`creates and weights the TrafficSplit (${version}), abort sends everything to stable`, async () => {
      const ro = 'ro';
      e = await E2e.create(`smi-${version}`, {
        routerCrds: true,
        ...(version === 'v1alpha1' ? {} : { controllerOptions: { trafficSplitApiVersion: version } }),
      });
      await e.apply(rolloutServices(ro, true));
      await e.healthyRollout(
        routedRollout(ro, { smi: { rootService: ro, trafficSplitName: 'ro-split' } }, [
          { setWeight: 30 },
          { pause: {} },
        ]),
        ro,
      );
      // The initial deploy already creates the TrafficSplit, everything to stable.
      await waitForSplit(e, apiVersion, 'ro-split', {
        [`${ro}-canary`]: weight(0),
        [`${ro}-stable`]: weight(100),
      });
      // A user's own field and label on the TrafficSplit: the router writes service and backends only.
      const matches = [{ kind: 'HTTPRouteGroup', name: 'ab-test' }];
      await e.client.mergePatch(`/apis/${apiVersion}/namespaces/${e.namespace}/trafficsplits/ro-split`, {
        metadata: { labels: { team: 'shop' } },
        spec: { matches },
      });
      await e.setImage(ro, 'example.com/app:v2');
      await e.waitForRollout(
        ro,
        'paused at step 1',
        (r) => r.status?.currentStepIndex === 1 && r.status.phase === 'Paused',
      );
      const ts = await waitForSplit(e, apiVersion, 'ro-split', {
        [`${ro}-canary`]: weight(30),
        [`${ro}-stable`]: weight(70),
      });
      expect(ts.spec).toEqual({
        service: ro,
        backends: [
          { service: `${ro}-canary`, weight: weight(30) },
          { service: `${ro}-stable`, weight: weight(70) },
        ],
        matches,
      });
      expect(rec(ts.metadata).labels).toEqual({ team: 'shop' });
      expect(rec(ts.metadata).ownerReferences).toMatchObject([
        { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name: ro, controller: true },
      ]);
      expect(e.eventReasons(ro)).toContain('TrafficSplitCreated');

      await e.sluiceOk('abort', ro);
      await e.waitForPhase(ro, 'Degraded');
      await waitForSplit(e, apiVersion, 'ro-split', {
        [`${ro}-canary`]: weight(0),
        [`${ro}-stable`]: weight(100),
      });
      expect(backendsOf(await e.object(apiVersion, 'trafficsplits', 'ro-split'))).toEqual({
        [`${ro}-canary`]: weight(0),
        [`${ro}-stable`]: weight(100),
      });
    }, 60_000);
  }
});

describe('Gateway API router', () => {
  // Argo's plugin key, and Sluice's own key for the same router.
  it.each(['argoproj-labs/gatewayAPI', 'sluice/gateway-api'])(
    '%s: weights the HTTPRoute rule, adds and removes the header rule, keeps the user filter and matches',
    async (plugin) => {
      const ro = 'ro';
      const route = 'ro-route';
      e = await E2e.create('gateway-api', { routerCrds: true });
      const weighted = (stable: number, canary: number): Json => ({
        matches: [{ path: { type: 'PathPrefix', value: '/' } }],
        filters: [
          {
            type: 'RequestHeaderModifier',
            requestHeaderModifier: { add: [{ name: 'x-env', value: 'prod' }] },
          },
        ],
        backendRefs: [
          { name: `${ro}-stable`, port: 80, weight: stable },
          { name: `${ro}-canary`, port: 80, weight: canary },
        ],
      });
      const staticRule: Json = {
        matches: [{ path: { type: 'PathPrefix', value: '/static' } }],
        backendRefs: [{ name: 'static-files', port: 8080 }],
      };
      await e.apply([
        ...rolloutServices(ro),
        {
          apiVersion: GATEWAY,
          kind: 'HTTPRoute',
          metadata: { name: route, labels: { team: 'shop' } },
          spec: {
            parentRefs: [{ name: 'shop-gateway' }],
            hostnames: ['ro.example.com'],
            rules: [weighted(100, 0), staticRule],
          },
        },
      ]);
      await e.healthyRollout(
        routedRollout(
          ro,
          {
            managedRoutes: [{ name: 'canary-hdr' }],
            plugins: { [plugin]: { httpRoute: route } },
          },
          [
            { setWeight: 20 },
            { pause: {} },
            { setHeaderRoute: { name: 'canary-hdr', match: HEADER_MATCH } },
            { setWeight: 50 },
            { pause: {} },
          ],
        ),
        ro,
      );
      await e.setImage(ro, 'example.com/app:v2');
      await e.waitForRollout(
        ro,
        'paused at step 1',
        (r) => r.status?.currentStepIndex === 1 && r.status.phase === 'Paused',
      );
      await waitForRuleWeights(e, route, 0, { [`${ro}-stable`]: 80, [`${ro}-canary`]: 20 }, 2);
      expect(await httpRouteRules(e, route)).toEqual([weighted(80, 20), staticRule]);

      await e.sluiceOk('promote', ro);
      await e.waitForRollout(
        ro,
        'paused at step 4',
        (r) => r.status?.currentStepIndex === 4 && r.status.phase === 'Paused',
      );
      await waitForRuleWeights(e, route, 0, { [`${ro}-stable`]: 50, [`${ro}-canary`]: 50 }, 3);
      const rules = await httpRouteRules(e, route);
      expect(rules.slice(0, 2)).toEqual([weighted(50, 50), staticRule]);
      // The header rule after the user's: the weighted rule's matches with the step's headers, canary only.
      // (Sluice also copies the weighted rule's filters, docs/routers/gateway-api.md.)
      expect(rules[2]).toEqual({
        matches: [
          {
            path: { type: 'PathPrefix', value: '/' },
            headers: [{ name: 'x-canary', type: 'Exact', value: 'yes' }],
          },
        ],
        filters: weighted(0, 0).filters,
        backendRefs: [{ group: '', kind: 'Service', name: `${ro}-canary`, port: 80 }],
      });
      const cm = await e.object('', 'configmaps', 'argo-gatewayapi-configmap');
      expect(JSON.parse(String(rec(cm?.data).httpManagedRoutes))).toEqual({ 'canary-hdr': { [route]: 2 } });

      // Abort: stable only, the header rule removed.
      await e.sluiceOk('abort', ro);
      await e.waitForPhase(ro, 'Degraded');
      await waitForRuleWeights(e, route, 0, { [`${ro}-stable`]: 100, [`${ro}-canary`]: 0 }, 2);
      expect(await httpRouteRules(e, route)).toEqual([weighted(100, 0), staticRule]);

      // Retry and promote through the steps to the end: the header rule comes back at step 2, leaves at the end.
      await e.sluiceOk('retry', 'rollout', ro);
      await e.waitForRollout(
        ro,
        'retried to step 1',
        (r) => r.status?.currentStepIndex === 1 && r.status.phase === 'Paused' && !r.status.abort,
      );
      await e.sluiceOk('promote', ro);
      await e.waitForRollout(
        ro,
        'paused at step 4',
        (r) => r.status?.currentStepIndex === 4 && r.status.phase === 'Paused',
      );
      await waitForRuleWeights(e, route, 0, { [`${ro}-stable`]: 50, [`${ro}-canary`]: 50 }, 3);
      await e.sluiceOk('promote', ro);
      await e.waitForPhase(ro, 'Healthy');
      await waitForRuleWeights(e, route, 0, { [`${ro}-stable`]: 100, [`${ro}-canary`]: 0 }, 2);
      const final = await e.object(GATEWAY, 'httproutes', route);
      expect(final?.spec).toEqual({
        parentRefs: [{ name: 'shop-gateway' }],
        hostnames: ['ro.example.com'],
        rules: [weighted(100, 0), staticRule],
      });
      expect(rec(final?.metadata).labels).toEqual({ team: 'shop' });
      const record = await e.object('', 'configmaps', 'argo-gatewayapi-configmap');
      expect(JSON.parse(String(rec(record?.data).httpManagedRoutes ?? '{}'))).toEqual({});
    },
    60_000,
  );
});

describe('Gateway API router: several HTTPRoutes', () => {
  it('weights every route, adds header rules only where useHeaderRoutes is set', async () => {
    const ro = 'ro';
    e = await E2e.create('gateway-routes', { routerCrds: true });
    await e.apply([
      ...rolloutServices(ro),
      httpRoute('ro-public', ro, 100, 0),
      httpRoute('ro-internal', ro, 100, 0),
    ]);
    await e.healthyRollout(
      routedRollout(
        ro,
        {
          managedRoutes: [{ name: 'canary-hdr' }],
          plugins: {
            'argoproj-labs/gatewayAPI': {
              httpRoutes: [
                { name: 'ro-public', useHeaderRoutes: false },
                { name: 'ro-internal', useHeaderRoutes: true },
              ],
            },
          },
        },
        [{ setWeight: 25 }, { setHeaderRoute: { name: 'canary-hdr', match: HEADER_MATCH } }, { pause: {} }],
      ),
      ro,
    );
    await e.setImage(ro, 'example.com/app:v2');
    await e.waitForRollout(
      ro,
      'paused at step 2',
      (r) => r.status?.currentStepIndex === 2 && r.status.phase === 'Paused',
    );
    const weights = { [`${ro}-stable`]: 75, [`${ro}-canary`]: 25 };
    await waitForRuleWeights(e, 'ro-public', 0, weights, 1);
    await waitForRuleWeights(e, 'ro-internal', 0, weights, 2);
    expect((await httpRouteRules(e, 'ro-internal'))[1]).toEqual({
      matches: [{ headers: [{ name: 'x-canary', type: 'Exact', value: 'yes' }] }],
      backendRefs: [{ group: '', kind: 'Service', name: `${ro}-canary`, port: 80 }],
    });
    const cm = await e.object('', 'configmaps', 'argo-gatewayapi-configmap');
    expect(JSON.parse(String(rec(cm?.data).httpManagedRoutes))).toEqual({
      'canary-hdr': { 'ro-internal': 1 },
    });

    await e.sluiceOk('promote', ro);
    await e.waitForPhase(ro, 'Healthy');
    const done = { [`${ro}-stable`]: 100, [`${ro}-canary`]: 0 };
    await waitForRuleWeights(e, 'ro-public', 0, done, 1);
    await waitForRuleWeights(e, 'ro-internal', 0, done, 1);
  }, 40_000);
});

describe('several routers on one Rollout', () => {
  it('Istio and SMI move together; a missing VirtualService holds the step until it is back', async () => {
    const ro = 'ro';
    const vs = 'ro-vsvc';
    e = await E2e.create('multi-router', { routerCrds: true });
    const vsObject = virtualService(vs, [primaryRoute(ro, 100, 0)]);
    await e.apply([...rolloutServices(ro, true), vsObject]);
    await e.healthyRollout(
      routedRollout(
        ro,
        {
          istio: { virtualService: { name: vs, routes: ['primary'] } },
          smi: { rootService: ro, trafficSplitName: 'ro-split' },
        },
        [{ setWeight: 25 }, { pause: {} }, { setWeight: 50 }, { pause: {} }],
      ),
      ro,
    );
    await e.setImage(ro, 'example.com/app:v2');
    const paused = await e.waitForRollout(
      ro,
      'paused at step 1',
      (r) => r.status?.currentStepIndex === 1 && r.status.phase === 'Paused',
    );
    expect(paused.status?.canary?.weights?.canary.weight).toBe(25);
    await waitForVsWeights(e, vs, 'primary', { [`${ro}-stable`]: 75, [`${ro}-canary`]: 25 });
    await waitForSplit(e, SMI_V1ALPHA1, 'ro-split', { [`${ro}-canary`]: '25', [`${ro}-stable`]: '75' });

    // The VirtualService goes away: the next setWeight fails in the Istio router, the step holds.
    const del = await e.kubectl('delete', 'virtualservice.networking.istio.io', vs);
    expect(del.code).toBe(0);
    await e.sluiceOk('promote', ro);
    const failed = await waitForConditionMessage(e, ro, 'TrafficRouting', 'False', /Istio/);
    const cond = (failed.status?.conditions ?? []).find((c) => c.type === 'TrafficRouting');
    expect(cond?.reason).toBe('TrafficRoutingError');
    expect(cond?.message).toMatch(/not found/);
    const warning = await e.waitFor('a TrafficRoutingError warning naming Istio', async () =>
      e!.events(ro).find((ev) => ev.reason === 'TrafficRoutingError'),
    );
    expect(warning.type).toBe('Warning');
    expect(warning.message).toMatch(/Istio/);
    expect(warning.message).toMatch(new RegExp(vs));
    expect(cond?.message).toMatch(/Istio router setWeight/);
    expect(cond?.message).toMatch(/virtualservices\.networking\.istio\.io "ro-vsvc" not found/);
    const held = await e.rollout(ro);
    expect(held.status?.currentStepIndex).toBeLessThan(3);
    expect(held.status?.canary?.weights?.canary.weight).toBe(25);
    // Argo calls the routers in order (Istio before SMI) and stops at the first failure: SMI keeps 25.
    expect(backendsOf(await e.object(SMI_V1ALPHA1, 'trafficsplits', 'ro-split'))).toEqual({
      [`${ro}-canary`]: '25',
      [`${ro}-stable`]: '75',
    });

    // Back again: the condition turns True and the rollout reaches the next pause with both routers at 50.
    await e.apply(vsObject);
    await e.waitForCondition(ro, 'TrafficRouting', { status: 'True', reason: 'TrafficRoutingReady' });
    await e.waitForRollout(
      ro,
      'paused at step 3',
      (r) => r.status?.currentStepIndex === 3 && r.status.phase === 'Paused',
    );
    await waitForVsWeights(e, vs, 'primary', { [`${ro}-stable`]: 50, [`${ro}-canary`]: 50 });
    await waitForSplit(e, SMI_V1ALPHA1, 'ro-split', { [`${ro}-canary`]: '50', [`${ro}-stable`]: '50' });
    expect((await e.rollout(ro)).status?.canary?.weights?.canary.weight).toBe(50);
  }, 60_000);
});

describe('all four routers on one Rollout', () => {
  it('Istio, NGINX, SMI and Gateway API get the same weight at a step and 0 after an abort', async () => {
    const ro = 'ro';
    const vs = 'ro-vsvc';
    const canaryIngress = 'ro-ro-ingress-canary';
    e = await E2e.create('four-routers', { routerCrds: true });
    await e.apply([
      ...rolloutServices(ro, true),
      ingress('ro-ingress', `${ro}-stable`),
      virtualService(vs, [primaryRoute(ro, 100, 0)]),
      httpRoute('ro-route', ro, 100, 0),
    ]);
    await e.healthyRollout(
      routedRollout(
        ro,
        {
          istio: { virtualService: { name: vs, routes: ['primary'] } },
          nginx: { stableIngress: 'ro-ingress' },
          smi: { rootService: ro, trafficSplitName: 'ro-split' },
          plugins: { 'argoproj-labs/gatewayAPI': { httpRoute: 'ro-route' } },
        },
        [{ setWeight: 30 }, { pause: {} }],
      ),
      ro,
    );
    await e.setImage(ro, 'example.com/app:v2');
    const paused = await e.waitForRollout(
      ro,
      'paused at step 1',
      (r) => r.status?.currentStepIndex === 1 && r.status.phase === 'Paused',
    );
    expect(paused.status?.canary?.weights).toMatchObject({ canary: { weight: 30 }, stable: { weight: 70 } });
    // The status records weight 30 only after every router wrote it, so all four are there already.
    expect(weightsOf(routeNamed(await vsRoutes(e, vs), 'primary'))).toEqual({
      [`${ro}-stable`]: 70,
      [`${ro}-canary`]: 30,
    });
    const ing = await e.object('networking.k8s.io/v1', 'ingresses', canaryIngress);
    expect(rec(rec(ing?.metadata).annotations)['nginx.ingress.kubernetes.io/canary-weight']).toBe('30');
    expect(backendsOf(await e.object(SMI_V1ALPHA1, 'trafficsplits', 'ro-split'))).toEqual({
      [`${ro}-canary`]: '30',
      [`${ro}-stable`]: '70',
    });
    expect((await httpRouteRules(e, 'ro-route')).map(ruleWeights)).toEqual([
      { [`${ro}-stable`]: 70, [`${ro}-canary`]: 30 },
    ]);

    await e.sluiceOk('abort', ro);
    await e.waitForPhase(ro, 'Degraded');
    await waitForVsWeights(e, vs, 'primary', { [`${ro}-stable`]: 100, [`${ro}-canary`]: 0 });
    await e.waitForObject('networking.k8s.io/v1', 'ingresses', canaryIngress, 'canary-weight 0', (obj) => {
      return rec(rec(obj.metadata).annotations)['nginx.ingress.kubernetes.io/canary-weight'] === '0';
    });
    await waitForSplit(e, SMI_V1ALPHA1, 'ro-split', { [`${ro}-canary`]: '0', [`${ro}-stable`]: '100' });
    await waitForRuleWeights(e, 'ro-route', 0, { [`${ro}-stable`]: 100, [`${ro}-canary`]: 0 }, 1);
    expect(e.eventReasons(ro)).not.toContain('TrafficRoutingError');
  }, 40_000);
});

describe('experiment weights through the routers', () => {
  it('an experiment step routes its share to the experiment Service (Istio, SMI, Gateway API), removed when it ends', async () => {
    const ro = 'ro';
    const vs = 'ro-vsvc';
    e = await E2e.create('experiment-weights', { routerCrds: true });
    await e.apply([
      ...rolloutServices(ro, true),
      virtualService(vs, [primaryRoute(ro, 100, 0), OTHER_ROUTE]),
      httpRoute('ro-route', ro, 100, 0),
    ]);
    const rollout = routedRollout(
      ro,
      {
        istio: { virtualService: { name: vs, routes: ['primary'] } },
        smi: { rootService: ro, trafficSplitName: 'ro-split' },
        plugins: { 'argoproj-labs/gatewayAPI': { httpRoute: 'ro-route' } },
      },
      [
        { setWeight: 20 },
        {
          experiment: {
            duration: '6s',
            templates: [{ name: 'exp', specRef: 'canary', weight: 10 }],
          },
        },
        { pause: {} },
      ],
    );
    // The experiment's Service needs a container port.
    const container = list(rec(rec(rec(rollout.spec).template).spec).containers)[0];
    if (container !== undefined) container.ports = [{ name: 'http', containerPort: 8080 }];
    await e.healthyRollout(rollout, ro);
    await e.setImage(ro, 'example.com/app:v2');
    const running = await e.waitForRollout(
      ro,
      'the experiment weight recorded',
      (r) => (r.status?.canary?.weights?.additional ?? []).length === 1,
    );
    const expService = running.status?.canary?.weights?.additional?.[0]?.serviceName ?? '';
    expect(expService).not.toBe('');
    expect(running.status?.canary?.weights).toMatchObject({
      canary: { weight: 20 },
      stable: { weight: 70 },
      additional: [{ weight: 10, serviceName: expService }],
    });
    expect(routeNamed(await vsRoutes(e, vs), 'primary')).toEqual({
      name: 'primary',
      ...USER_ROUTE_FIELDS,
      route: [
        dest(`${ro}-stable`, 70),
        dest(`${ro}-canary`, 20),
        { destination: { host: expService }, weight: 10 },
      ],
    });
    expect(rec((await e.object(SMI_V1ALPHA1, 'trafficsplits', 'ro-split'))?.spec).backends).toEqual([
      { service: `${ro}-canary`, weight: '20' },
      { service: expService, weight: '10' },
      { service: `${ro}-stable`, weight: '70' },
    ]);
    // Gateway API: a copy of the canary's backendRef for the experiment Service.
    expect(list((await httpRouteRules(e, 'ro-route'))[0]?.backendRefs)).toEqual([
      { name: `${ro}-stable`, port: 80, weight: 70 },
      { name: `${ro}-canary`, port: 80, weight: 20 },
      { name: expService, port: 80, weight: 10 },
    ]);

    // The experiment ends (6 s): its destination leaves the routes, stable takes its share back.
    await e.waitForRollout(
      ro,
      'paused at step 2',
      (r) => r.status?.currentStepIndex === 2 && r.status.phase === 'Paused',
      30_000,
    );
    await waitForVsWeights(e, vs, 'primary', { [`${ro}-stable`]: 80, [`${ro}-canary`]: 20 });
    expect(await vsRoutes(e, vs)).toEqual([primaryRoute(ro, 80, 20), OTHER_ROUTE]);
    await waitForSplit(e, SMI_V1ALPHA1, 'ro-split', { [`${ro}-canary`]: '20', [`${ro}-stable`]: '80' });
    await waitForRuleWeights(e, 'ro-route', 0, { [`${ro}-stable`]: 80, [`${ro}-canary`]: 20 }, 1);
    expect(list((await httpRouteRules(e, 'ro-route'))[0]?.backendRefs)).toHaveLength(2);
  }, 50_000);
});

describe('bad router input: the controller keeps running and writes nothing', () => {
  it('a VirtualService route name that does not exist: the message names the route, the VirtualService is untouched', async () => {
    const ro = 'ro';
    const vs = 'ro-vsvc';
    e = await E2e.create('istio-bad-route', { routerCrds: true });
    await e.apply([...rolloutServices(ro), virtualService(vs, [primaryRoute(ro, 90, 10), OTHER_ROUTE])]);
    const before = await e.object(ISTIO, 'virtualservices', vs);
    await e.apply(
      routedRollout(ro, { istio: { virtualService: { name: vs, routes: ['missing'] } } }, [
        { setWeight: 20 },
        { pause: {} },
      ]),
    );
    const failed = await waitForConditionMessage(
      e,
      ro,
      'TrafficRouting',
      'False',
      /HTTP Route 'missing' is not found/,
    );
    expect((failed.status?.conditions ?? []).find((c) => c.type === 'TrafficRouting')?.message).toMatch(
      /Istio/,
    );
    await e.waitForEvent(ro, 'TrafficRoutingError');
    const after = await e.object(ISTIO, 'virtualservices', vs);
    expect(rec(after?.metadata).resourceVersion).toBe(rec(before?.metadata).resourceVersion);
    expect(after?.spec).toEqual(before?.spec);

    // Fixed: the controller (still running) answers, the route is weighted.
    await e.patchRollout(ro, {
      spec: {
        strategy: {
          canary: { trafficRouting: { istio: { virtualService: { name: vs, routes: ['primary'] } } } },
        },
      },
    });
    await e.waitForPhase(ro, 'Healthy');
    await waitForVsWeights(e, vs, 'primary', { [`${ro}-stable`]: 100, [`${ro}-canary`]: 0 });
    expect(routeNamed(await vsRoutes(e, vs), 'legacy')).toEqual(OTHER_ROUTE);
    expect((await condition(e, ro, 'TrafficRouting'))?.status).toBe('True');
  }, 60_000);

  it('two VirtualServices, the second naming a missing route: neither is written', async () => {
    const ro = 'ro';
    e = await E2e.create('istio-two-vs', { routerCrds: true });
    await e.apply([
      ...rolloutServices(ro),
      virtualService('ro-vs1', [primaryRoute(ro, 90, 10)]),
      virtualService('ro-vs2', [primaryRoute(ro, 90, 10)]),
    ]);
    const before1 = await e.object(ISTIO, 'virtualservices', 'ro-vs1');
    const before2 = await e.object(ISTIO, 'virtualservices', 'ro-vs2');
    await e.apply(
      routedRollout(
        ro,
        {
          istio: {
            virtualServices: [
              { name: 'ro-vs1', routes: ['primary'] },
              { name: 'ro-vs2', routes: ['secondary'] },
            ],
          },
        },
        [{ setWeight: 20 }, { pause: {} }],
      ),
    );
    await waitForConditionMessage(e, ro, 'TrafficRouting', 'False', /HTTP Route 'secondary' is not found/);
    const after1 = await e.object(ISTIO, 'virtualservices', 'ro-vs1');
    const after2 = await e.object(ISTIO, 'virtualservices', 'ro-vs2');
    expect(rec(after1?.metadata).resourceVersion).toBe(rec(before1?.metadata).resourceVersion);
    expect(rec(after2?.metadata).resourceVersion).toBe(rec(before2?.metadata).resourceVersion);
    // Fixed: both weighted together.
    await e.patchRollout(ro, {
      spec: {
        strategy: {
          canary: {
            trafficRouting: {
              istio: {
                virtualServices: [
                  { name: 'ro-vs1', routes: ['primary'] },
                  { name: 'ro-vs2', routes: ['primary'] },
                ],
              },
            },
          },
        },
      },
    });
    await e.waitForPhase(ro, 'Healthy');
    await waitForVsWeights(e, 'ro-vs1', 'primary', { [`${ro}-stable`]: 100, [`${ro}-canary`]: 0 });
    await waitForVsWeights(e, 'ro-vs2', 'primary', { [`${ro}-stable`]: 100, [`${ro}-canary`]: 0 });
  }, 40_000);

  it('a Gateway API grpcRoute whose CRD is not installed: the condition says it is not served', async () => {
    const ro = 'ro';
    e = await E2e.create('gateway-no-grpc', { routerCrds: true });
    await e.apply(rolloutServices(ro));
    await e.apply(
      routedRollout(ro, { plugins: { 'argoproj-labs/gatewayAPI': { grpcRoute: 'ro-grpc' } } }, [
        { setWeight: 20 },
        { pause: {} },
      ]),
    );
    const failed = await waitForConditionMessage(e, ro, 'TrafficRouting', 'False', /GRPCRoute.*not served/);
    const message = (failed.status?.conditions ?? []).find((c) => c.type === 'TrafficRouting')?.message ?? '';
    expect(message).toMatch(/gatewayAPI/);
    await e.waitForEvent(ro, 'TrafficRoutingError');
    expect(await e.object('', 'configmaps', 'argo-gatewayapi-configmap')).toBeUndefined();
    // Still running: a fix of the spec is picked up.
    await e.apply(httpRoute('ro-route', ro, 100, 0));
    await e.patchRollout(ro, {
      spec: {
        strategy: {
          canary: {
            trafficRouting: {
              plugins: { 'argoproj-labs/gatewayAPI': { grpcRoute: null, httpRoute: 'ro-route' } },
            },
          },
        },
      },
    });
    await e.waitForPhase(ro, 'Healthy');
    await e.waitForCondition(ro, 'TrafficRouting', { status: 'True' });
  }, 60_000);

  // The Gateway API router reads every route and computes its rules before it writes any (as the Istio
  // router does with its VirtualServices): a route kind the cluster does not serve leaves the others alone.
  it('an HTTPRoute next to the uninstalled GRPCRoute is not written either', async () => {
    const ro = 'ro';
    e = await E2e.create('gateway-half-write', { routerCrds: true });
    // The HTTPRoute holds an old 90/10 split; the initial deploy's weight 0 would rewrite it to 100/0.
    await e.apply([...rolloutServices(ro), httpRoute('ro-route', ro, 90, 10)]);
    const before = await e.object(GATEWAY, 'httproutes', 'ro-route');
    await e.apply(
      routedRollout(
        ro,
        { plugins: { 'argoproj-labs/gatewayAPI': { httpRoute: 'ro-route', grpcRoute: 'ro-grpc' } } },
        [{ setWeight: 20 }, { pause: {} }],
      ),
    );
    await waitForConditionMessage(e, ro, 'TrafficRouting', 'False', /GRPCRoute.*not served/);
    const after = await e.object(GATEWAY, 'httproutes', 'ro-route');
    expect(after?.spec).toEqual(before?.spec);
    expect(rec(after?.metadata).resourceVersion).toBe(rec(before?.metadata).resourceVersion);
  }, 40_000);

  it('a TrafficSplit the Rollout does not own is never touched', async () => {
    const ro = 'ro';
    e = await E2e.create('smi-not-owned', { routerCrds: true });
    const foreign = {
      apiVersion: SMI_V1ALPHA1,
      kind: 'TrafficSplit',
      metadata: { name: 'ro-split' },
      spec: { service: ro, backends: [{ service: 'someone-else', weight: '100' }] },
    };
    await e.apply([...rolloutServices(ro, true), foreign]);
    const before = await e.object(SMI_V1ALPHA1, 'trafficsplits', 'ro-split');
    await e.apply(
      routedRollout(ro, { smi: { rootService: ro, trafficSplitName: 'ro-split' } }, [
        { setWeight: 20 },
        { pause: {} },
      ]),
    );
    const failed = await waitForConditionMessage(
      e,
      ro,
      'TrafficRouting',
      'False',
      /Rollout does not own TrafficSplit `ro-split`/,
    );
    expect((failed.status?.conditions ?? []).find((c) => c.type === 'TrafficRouting')?.message).toMatch(
      /SMI/,
    );
    const after = await e.object(SMI_V1ALPHA1, 'trafficsplits', 'ro-split');
    expect(rec(after?.metadata).resourceVersion).toBe(rec(before?.metadata).resourceVersion);
    expect(rec(after?.metadata).ownerReferences).toBeUndefined();
    expect(after?.spec).toEqual(foreign.spec);
  }, 40_000);

  it('a missing HTTPRoute: the message names it; once created the rollout goes on', async () => {
    const ro = 'ro';
    e = await E2e.create('gateway-missing', { routerCrds: true });
    await e.apply(rolloutServices(ro));
    await e.apply(
      routedRollout(ro, { plugins: { 'argoproj-labs/gatewayAPI': { httpRoute: 'ro-route' } } }, [
        { setWeight: 20 },
        { pause: {} },
      ]),
    );
    await waitForConditionMessage(
      e,
      ro,
      'TrafficRouting',
      'False',
      new RegExp(`HTTPRoute "${e.namespace}/ro-route" not found`),
    );
    await e.apply(httpRoute('ro-route', ro, 100, 0));
    await e.waitForCondition(ro, 'TrafficRouting', { status: 'True', reason: 'TrafficRoutingReady' });
    await e.waitForPhase(ro, 'Healthy');
    await e.setImage(ro, 'example.com/app:v2');
    await e.waitForRollout(
      ro,
      'paused at step 1',
      (r) => r.status?.currentStepIndex === 1 && r.status.phase === 'Paused',
    );
    await waitForRuleWeights(e, 'ro-route', 0, { [`${ro}-stable`]: 80, [`${ro}-canary`]: 20 }, 1);
  }, 40_000);

  it('maxTrafficWeight with Istio: InvalidSpec naming the field', async () => {
    const ro = 'ro';
    const vs = 'ro-vsvc';
    e = await E2e.create('istio-max-weight', { routerCrds: true });
    await e.apply([...rolloutServices(ro), virtualService(vs, [primaryRoute(ro, 100, 0)])]);
    await e.apply(
      routedRollout(
        ro,
        { maxTrafficWeight: 200, istio: { virtualService: { name: vs, routes: ['primary'] } } },
        [{ setWeight: 20 }, { pause: {} }],
      ),
    );
    const degraded = await e.waitForCondition(ro, 'InvalidSpec', { status: 'True' });
    expect(degraded.status?.phase).toBe('Degraded');
    expect((degraded.status?.conditions ?? []).find((c) => c.type === 'InvalidSpec')?.message).toMatch(
      /spec\.strategy\.canary\.trafficRouting\.maxTrafficWeight/,
    );
    expect(await vsRoutes(e, vs)).toEqual([primaryRoute(ro, 100, 0)]);
  }, 40_000);

  it('a setWeight over maxTrafficWeight: InvalidSpec naming the step field, nothing written', async () => {
    const ro = 'ro';
    const route = 'ro-route';
    e = await E2e.create('max-weight', { routerCrds: true });
    await e.apply([...rolloutServices(ro), httpRoute(route, ro, 100, 0)]);
    const before = await e.object(GATEWAY, 'httproutes', route);
    await e.apply(
      routedRollout(
        ro,
        { maxTrafficWeight: 50, plugins: { 'argoproj-labs/gatewayAPI': { httpRoute: route } } },
        [{ setWeight: 80 }, { pause: {} }],
      ),
    );
    const degraded = await e.waitForCondition(ro, 'InvalidSpec', { status: 'True' });
    expect(degraded.status?.phase).toBe('Degraded');
    const invalid = (degraded.status?.conditions ?? []).find((c) => c.type === 'InvalidSpec');
    expect(invalid?.message).toMatch(/spec\.strategy\.canary\.steps\[0\]\.setWeight/);
    expect(invalid?.message).toMatch(/between 0 and 50/);
    expect(degraded.status?.message).toMatch(/InvalidSpec/);
    expect(await e.replicaSets(ro)).toHaveLength(0);
    const after = await e.object(GATEWAY, 'httproutes', route);
    expect(rec(after?.metadata).resourceVersion).toBe(rec(before?.metadata).resourceVersion);
    // Still running: the step fixed, the rollout goes Healthy.
    await e.patchRollout(ro, {
      spec: { strategy: { canary: { steps: [{ setWeight: 40 }, { pause: {} }] } } },
    });
    await e.waitForPhase(ro, 'Healthy');
  }, 40_000);

  it('an unsupported router (alb): InvalidSpec naming spec.strategy.canary.trafficRouting.alb', async () => {
    const ro = 'ro';
    e = await E2e.create('alb-router', { routerCrds: true });
    await e.apply(rolloutServices(ro));
    await e.apply(
      routedRollout(ro, { alb: { ingress: 'ro-ingress', servicePort: 80 } }, [
        { setWeight: 20 },
        { pause: {} },
      ]),
    );
    const degraded = await e.waitForCondition(ro, 'InvalidSpec', { status: 'True' });
    expect(degraded.status?.phase).toBe('Degraded');
    const invalid = (degraded.status?.conditions ?? []).find((c) => c.type === 'InvalidSpec');
    expect(invalid?.message).toMatch(/spec\.strategy\.canary\.trafficRouting\.alb/);
    expect(await e.replicaSets(ro)).toHaveLength(0);
    // The controller is still running: a supported router is picked up.
    await e.apply(service(ro, ro));
    await e.patchRollout(ro, {
      spec: { strategy: { canary: { trafficRouting: { alb: null, smi: { rootService: ro } } } } },
    });
    await e.waitForPhase(ro, 'Healthy');
  }, 40_000);
});
