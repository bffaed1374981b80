// The code that applies traffic routers (src/rollout/apply.ts, driven by src/rollout/reconcile.ts), over the
// in-memory store with fake routers that record every call: the order of the verbs within a reconcile and
// across routers, the weights through the steps, abort, a router that fails, and weight verification, each
// as Argo's rollout/trafficrouting.go reconcileTrafficRouting does it.

import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/api/meta.ts';
import type { CanaryStep, Rollout, TrafficRouting } from '../../../src/api/rollout.ts';
import { FakeRouter, type RouterCall } from '../../fixtures/fake-router.ts';
import { Harness, NS } from '../../fixtures/rollout-harness.ts';
import { webRollout, webService } from '../../fixtures/rollout-objects.ts';

const REPLICAS = 5;
const HEADER_ROUTE = {
  name: 'canary-header',
  match: [{ headerName: 'x-canary', headerValue: { exact: 'yes' } }],
};
const STEPS: CanaryStep[] = [
  { setWeight: 20 },
  { pause: {} },
  { setHeaderRoute: HEADER_ROUTE },
  { setWeight: 60 },
  { pause: {} },
];
const ISTIO: TrafficRouting = {
  istio: { virtualService: { name: 'web', routes: ['primary'] } },
  managedRoutes: [{ name: 'canary-header' }],
};

function routedRollout(trafficRouting: TrafficRouting = ISTIO, steps: CanaryStep[] = STEPS): Rollout {
  return webRollout(
    { canary: { canaryService: 'web-canary', stableService: 'web-stable', trafficRouting, steps } },
    { replicas: REPLICAS },
  );
}

/** The Rollout `web` (5 replicas) with the given routers, deployed and converged at revision 1. */
async function routedHarness(routers: FakeRouter[], ro: Rollout = routedRollout()): Promise<Harness> {
  const h = new Harness('web');
  h.deps = { routers: () => routers };
  h.seed([webService('web-canary'), webService('web-stable'), ro]);
  await h.converge();
  return h;
}

/** One reconcile and the router calls it made (as text), then the pods catch up. */
async function reconcileTraced(h: Harness, log: RouterCall[]) {
  const from = log.length;
  const result = await h.reconcile();
  const calls = log.slice(from).map((c) => `${c.router} ${c.text}`);
  await h.settle();
  return { result, calls };
}

/** Reconciles until nothing changes, collecting every reconcile's calls (bounded). */
async function traceUntilSettled(h: Harness, log: RouterCall[], max = 30): Promise<string[][]> {
  const traces: string[][] = [];
  for (let i = 0; i < max; i++) {
    const before = JSON.stringify([h.ro(), h.rss()]);
    const { result, calls } = await reconcileTraced(h, log);
    expect(result.error).toBeUndefined();
    traces.push(calls);
    if (JSON.stringify([h.ro(), h.rss()]) === before) return traces;
  }
  throw new Error('did not settle');
}

/** Promotes past the current pause step (as `sluice promote` does: clears the pause conditions). */
async function resume(h: Harness): Promise<void> {
  await h.patchStatus({ pauseConditions: null });
}

function canaryAvailable(h: Harness): number {
  return h.rsByHash(h.ro().status?.currentPodHash)?.status?.availableReplicas ?? 0;
}

// Argo's per-router sequence in one reconcile: [setWeight 0 when the canary lost its pods] [removeManagedRoutes
// when promoted, aborted or without canary pods] [setHeaderRoute] [setMirrorRoute] updateHash setWeight verifyWeight.
const ARGO_SEQUENCE =
  /^(setWeight 0;)?(removeManagedRoutes;)?(setHeaderRoute \S+;)?(setMirrorRoute \S+;)?updateHash \S+ \S+;setWeight \d+;verifyWeight \d+;$/;

function perRouter(calls: string[], router: string): string {
  return calls
    .filter((c) => c.startsWith(`${router} `))
    .map((c) => `${c.slice(router.length + 1)};`)
    .join('');
}

describe('applying traffic routers', () => {
  it("calls the verbs in Argo's order: header route of the current step, updateHash, setWeight, verifyWeight", async () => {
    const router = new FakeRouter('Istio');
    const h = await routedHarness([router]);
    const v1 = h.ro().status!.currentPodHash!;
    expect(router.calls().slice(-4)).toEqual([
      'removeManagedRoutes',
      `updateHash ${v1} ${v1}`,
      'setWeight 0',
      'verifyWeight 0',
    ]);

    await h.setImage('web:2');
    const traces = await traceUntilSettled(h, router.log);
    const v2 = h.ro().status!.currentPodHash!;
    // The canary has no pods yet: weight 0 and no managed routes, the hashes already name the canary.
    expect(traces[0]).toEqual([
      'Istio removeManagedRoutes',
      `Istio updateHash ${v2} ${v1}`,
      'Istio setWeight 0',
      'Istio verifyWeight 0',
    ]);
    expect(traces.at(-1)).toEqual([
      `Istio updateHash ${v2} ${v1}`,
      'Istio setWeight 20',
      'Istio verifyWeight 20',
    ]);
    expect(h.ro().status).toMatchObject({ currentStepIndex: 1, phase: 'Paused' });

    await resume(h);
    const next = await traceUntilSettled(h, router.log);
    // The header route is set while its step is the current one, before the hash and weight.
    expect(next).toContainEqual([
      'Istio setHeaderRoute canary-header',
      `Istio updateHash ${v2} ${v1}`,
      'Istio setWeight 20',
      'Istio verifyWeight 20',
    ]);
    expect(next.flat().filter((c) => c.includes('setHeaderRoute'))).toHaveLength(1);
    for (const calls of [...traces, ...next]) expect(perRouter(calls, 'Istio')).toMatch(ARGO_SEQUENCE);
  });

  it('removes the managed routes and sends weight 0 to the canary once the rollout completes', async () => {
    const router = new FakeRouter('Istio');
    const h = await routedHarness([router]);
    await h.setImage('web:2');
    await h.converge();
    await resume(h);
    await h.converge();
    await resume(h);
    const traces = await traceUntilSettled(h, router.log);
    const v2 = h.ro().status!.currentPodHash!;
    expect(h.ro().status).toMatchObject({ stableRS: v2, phase: 'Healthy' });
    expect(traces.at(-1)).toEqual([
      'Istio removeManagedRoutes',
      `Istio updateHash ${v2} ${v2}`,
      'Istio setWeight 0',
      'Istio verifyWeight 0',
    ]);
    for (const calls of traces) expect(perRouter(calls, 'Istio')).toMatch(ARGO_SEQUENCE);
  });

  it('calls several routers in the fixed order istio, nginx, alb, smi, ..., plugins, whatever order they come in', async () => {
    const log: RouterCall[] = [];
    const routers = [
      new FakeRouter('SMI', log),
      new FakeRouter('argoproj-labs/gatewayAPI', log),
      new FakeRouter('Nginx', log),
      new FakeRouter('Istio', log),
    ];
    const h = await routedHarness(
      routers,
      routedRollout({
        ...ISTIO,
        nginx: { stableIngress: 'web' },
        smi: {},
        plugins: { 'argoproj-labs/gatewayAPI': { httpRoute: 'web' } },
      }),
    );
    await h.setImage('web:2');
    const traces = await traceUntilSettled(h, log);
    expect(traces.length).toBeGreaterThan(1);
    for (const calls of traces) {
      // Each router's sequence is complete before the next router is called.
      const order = calls.map((c) => c.slice(0, c.indexOf(' ')));
      expect([...new Set(order)]).toEqual(['Istio', 'Nginx', 'SMI', 'argoproj-labs/gatewayAPI']);
      expect(order).toEqual([...order].sort((a, b) => order.indexOf(a) - order.indexOf(b)));
      for (const r of routers) expect(perRouter(calls, r.type)).toMatch(ARGO_SEQUENCE);
    }
    for (const r of routers) expect(r.weights().at(-1)).toBe(20);
  });

  it('follows the steps with the weight, and never gives the canary more weight than its available pods carry', async () => {
    const router = new FakeRouter('Istio');
    const h = await routedHarness([router]);
    await h.setImage('web:2');
    const seen: number[] = [];
    const followSteps = async () => {
      for (let i = 0; i < 30; i++) {
        const available = canaryAvailable(h);
        const before = JSON.stringify([h.ro(), h.rss()]);
        const { result, calls } = await reconcileTraced(h, router.log);
        expect(result.error).toBeUndefined();
        for (const call of calls.filter((c) => c.startsWith('Istio setWeight '))) {
          const weight = Number(call.split(' ')[2]);
          if (weight > 0 && h.ro().status?.stableRS !== h.ro().status?.currentPodHash)
            expect(available, `canary pods available when setting weight ${weight}`).toBeGreaterThanOrEqual(
              Math.ceil((weight * REPLICAS) / 100),
            );
          if (seen.at(-1) !== weight) seen.push(weight);
        }
        if (JSON.stringify([h.ro(), h.rss()]) === before) return;
      }
      throw new Error('did not settle');
    };
    await followSteps();
    expect(h.ro().status?.canary?.weights).toMatchObject({ canary: { weight: 20 }, stable: { weight: 80 } });
    await resume(h);
    await followSteps();
    expect(h.ro().status?.canary?.weights).toMatchObject({ canary: { weight: 60 }, stable: { weight: 40 } });
    await resume(h);
    await followSteps();
    expect(h.ro().status).toMatchObject({ phase: 'Healthy', canary: { weights: { canary: { weight: 0 } } } });
    // Up through the steps' weights (100 only if the canary is full before it is promoted), then 0 to the
    // canary once it is the stable.
    expect(seen.slice(0, 3)).toEqual([0, 20, 60]);
    expect(seen.slice(3, -1).every((w) => w === 100)).toBe(true);
    expect(seen.at(-1)).toBe(0);
  });

  it('on abort sends weight 0 to the canary and removes the managed routes, and sets no header route', async () => {
    const router = new FakeRouter('Istio');
    const h = await routedHarness([router]);
    const v1 = h.ro().status!.currentPodHash!;
    await h.setImage('web:2');
    await h.converge();
    await resume(h);
    await h.converge();
    // Paused at the last step: weight 60, the header route set on the way.
    expect(h.ro().status).toMatchObject({ currentStepIndex: 4, phase: 'Paused' });
    expect(router.weights().at(-1)).toBe(60);
    await h.patchStatus({ abort: true });
    const traces = await traceUntilSettled(h, router.log);
    expect(h.ro().status).toMatchObject({ phase: 'Degraded', abort: true, currentStepIndex: 0 });
    const first = traces[0]!;
    expect(first.slice(-4)).toEqual([
      'Istio removeManagedRoutes',
      expect.stringMatching(new RegExp(`^Istio updateHash \\S+ ${v1}$`)),
      'Istio setWeight 0',
      'Istio verifyWeight 0',
    ]);
    expect(traces.flat().filter((c) => c.includes('setHeaderRoute'))).toEqual([]);
    expect(
      router
        .weights()
        .slice(router.weights().lastIndexOf(60) + 1)
        .every((w) => w === 0),
    ).toBe(true);
    expect(h.ro().status?.canary?.weights).toMatchObject({ canary: { weight: 0 }, stable: { weight: 100 } });
    // Sluice's fast path: the abort's first call is weight 0, before the plan's Service switch; then Argo's
    // sequence as usual.
    expect(first[0]).toBe('Istio setWeight 0');
    expect(perRouter(first.slice(1), 'Istio')).toMatch(ARGO_SEQUENCE);
    for (const calls of traces.slice(1)) expect(perRouter(calls, 'Istio')).toMatch(ARGO_SEQUENCE);
  });
});

describe('a router that fails', () => {
  it('holds the step, records a TrafficRoutingError event for a failed setWeight, and carries on once it recovers', async () => {
    const router = new FakeRouter('Istio');
    const h = await routedHarness([router]);
    await h.setImage('web:2');
    // The first reconcile of the update starts the canary (weight 0); the weight of step 0 is the next one.
    await reconcileTraced(h, router.log);
    expect(h.ro().status?.currentStepIndex).toBe(0);
    router.fail('setWeight', 'virtualservice web: connection refused');
    let last: Awaited<ReturnType<typeof reconcileTraced>> | undefined;
    for (let i = 0; i < 5; i++) last = await reconcileTraced(h, router.log);
    expect(last!.result.error?.code).toBe('SLUICE_TRAFFIC_ROUTER');
    expect(last!.result.error?.message).toContain(
      'Istio router setWeight: virtualservice web: connection refused',
    );
    expect(last!.result.requeueAfterMs).toBeGreaterThan(0);
    // Argo returns from the reconcile before the status is written: no step progress, no weight recorded.
    expect(h.ro().status?.currentStepIndex).toBe(0);
    expect(h.ro().status?.canary?.weights?.canary.weight).toBe(0);
    const warnings = h.store
      .list<KubeObject & { reason: string; type: string; message: string }>('Event', NS)
      .filter((e) => e.reason === 'TrafficRoutingError');
    expect(warnings.length).toBeGreaterThan(0);
    for (const warning of warnings)
      expect(warning).toMatchObject({
        type: 'Warning',
        message: 'Istio router setWeight: virtualservice web: connection refused',
      });
    expect(h.eventReasons()).not.toContain('RolloutStepCompleted');

    router.recover();
    await h.converge();
    expect(h.ro().status).toMatchObject({ currentStepIndex: 1, phase: 'Paused' });
    expect(h.ro().status?.canary?.weights?.canary.weight).toBe(20);
  });

  it('holds the step on any failing verb, and the routers after it are not called', async () => {
    const log: RouterCall[] = [];
    const istio = new FakeRouter('Istio', log);
    const smi = new FakeRouter('SMI', log);
    const h = await routedHarness([istio, smi], routedRollout({ ...ISTIO, smi: {} }));
    await h.setImage('web:2');
    await h.reconcile();
    await h.settle();
    istio.fail('updateHash', 'no such subset');
    const { result, calls } = await reconcileTraced(h, log);
    expect(result.error?.message).toContain('Istio router updateHash: no such subset');
    expect(calls.at(-1)).toMatch(/^Istio updateHash /);
    expect(calls.some((c) => c.startsWith('SMI '))).toBe(false);
    expect(h.ro().status?.currentStepIndex).toBe(0);
    // Argo records an event only for a failed SetWeight; Sluice names the router for every failing verb,
    // in a Warning event and in the TrafficRouting condition, which turns True once the router answers.
    expect(h.eventReasons()).toContain('TrafficRoutingError');
    expect(h.ro().status?.conditions?.find((c) => c.type === 'TrafficRouting')).toMatchObject({
      status: 'False',
      reason: 'TrafficRoutingError',
      message: 'Istio router updateHash: no such subset',
    });
    istio.recover();
    await h.converge();
    expect(h.ro().status).toMatchObject({ currentStepIndex: 1, phase: 'Paused' });
    expect(h.ro().status?.conditions?.find((c) => c.type === 'TrafficRouting')).toMatchObject({
      status: 'True',
      reason: 'TrafficRoutingReady',
    });
    expect(smi.weights().at(-1)).toBe(20);
  });
});

describe('a router that waits', () => {
  it('holds the step without a Warning event or condition when the router answers an expected wait', async () => {
    const router = new FakeRouter('Istio');
    const h = await routedHarness([router]);
    await h.setImage('web:2');
    router.wait('updateHash', 'delaying destination rule switch: ReplicaSet web-x not fully available');
    const { result } = await reconcileTraced(h, router.log);
    expect(result.error?.message).toContain('delaying destination rule switch');
    expect(h.eventReasons()).not.toContain('TrafficRoutingError');
    expect(h.ro().status?.conditions?.find((c) => c.type === 'TrafficRouting')).toBeUndefined();
    router.recover();
    await h.converge();
    expect(h.ro().status).toMatchObject({ currentStepIndex: 1, phase: 'Paused' });
  });
});

describe('weight verification', () => {
  it('holds a setWeight step while the router has not verified its weight, re-checking every 10 s', async () => {
    const router = new FakeRouter('Istio').verifyAs((weight) => weight !== 20);
    const h = await routedHarness([router]);
    await h.setImage('web:2');
    const traces = await traceUntilSettled(h, router.log);
    expect(traces.flat()).toContain('Istio setWeight 20');
    expect(h.ro().status).toMatchObject({ currentStepIndex: 0, phase: 'Progressing' });
    expect(h.ro().status?.canary?.weights).toMatchObject({ canary: { weight: 20 }, verified: false });
    expect(h.eventReasons()).not.toContain('RolloutStepCompleted');
    const { result } = await reconcileTraced(h, router.log);
    expect(result.requeueAfterMs).toBe(10_000);

    router.verifyAs(true);
    await h.converge();
    expect(h.ro().status).toMatchObject({ currentStepIndex: 1, phase: 'Paused' });
    expect(h.ro().status?.canary?.weights?.verified).toBe(true);
  });

  it('does not wait for verification from routers that cannot verify (verifyWeight answers undefined)', async () => {
    const router = new FakeRouter('Nginx').verifyAs(undefined);
    const h = await routedHarness(
      [router],
      routedRollout({ nginx: { stableIngress: 'web' } }, [{ setWeight: 20 }, { pause: {} }]),
    );
    await h.setImage('web:2');
    await h.converge();
    expect(h.ro().status).toMatchObject({ currentStepIndex: 1, phase: 'Paused' });
    expect(h.ro().status?.canary?.weights?.verified).toBeUndefined();
    expect(router.weights().at(-1)).toBe(20);
  });
});

describe('weights as Argo computes them beyond plain steps', () => {
  it('with dynamicStableScale, an abort steps the canary weight down as the stable scales back up, never up again', async () => {
    const router = new FakeRouter('SMI');
    const ro = routedRollout({ smi: {} }, [{ setWeight: 60 }, { pause: {} }]);
    ro.spec.strategy.canary!.dynamicStableScale = true;
    const h = await routedHarness([router], ro);
    await h.setImage('web:2');
    await h.converge();
    expect(h.ro().status?.canary?.weights?.canary.weight).toBe(60);
    // dynamicStableScale scaled the stable down to its share: ceil(40% of 5) = 2 pods.
    const stableRS = h.rsByHash(h.ro().status!.stableRS)!;
    expect(stableRS.spec.replicas).toBe(2);
    const before = router.weights().length;
    await h.patchStatus({ abort: true });
    await traceUntilSettled(h, router.log);
    const after = router.weights().slice(before);
    // No jump to 0 while the stable has 2 of 5 pods: 100 - 100*2/5 = 60 first, then down to 0.
    expect(after[0]).toBe(60);
    expect(after.at(-1)).toBe(0);
    for (let i = 1; i < after.length; i++) expect(after[i]).toBeLessThanOrEqual(after[i - 1]!);
    expect(h.ro().status?.canary?.weights).toMatchObject({ canary: { weight: 0 }, stable: { weight: 100 } });
  });

  it('counts weights in maxTrafficWeight: setWeight 250 of 1000 is 250/750 in the status and ceil(25% of 5) canary pods', async () => {
    const router = new FakeRouter('Nginx');
    const ro = routedRollout({ nginx: { stableIngress: 'web' }, maxTrafficWeight: 1000 }, [
      { setWeight: 250 },
      { pause: {} },
    ]);
    const h = await routedHarness([router], ro);
    await h.setImage('web:2');
    await h.converge();
    expect(h.ro().status?.canary?.weights).toMatchObject({
      canary: { weight: 250 },
      stable: { weight: 750 },
    });
    expect(h.rsByHash(h.ro().status!.currentPodHash)!.spec.replicas).toBe(2);
    await resume(h);
    await h.converge();
    // Promoted: nothing to the canary Service, the whole of maxTrafficWeight to the stable.
    expect(h.ro().status?.canary?.weights).toMatchObject({ canary: { weight: 0 }, stable: { weight: 1000 } });
  });

  it("gives a Running experiment's Services their template weight as additional destinations, taken from the stable", async () => {
    const router = new FakeRouter('SMI');
    const steps: CanaryStep[] = [
      { setWeight: 20 },
      {
        experiment: {
          templates: [{ name: 'exp', specRef: 'canary', weight: 10, service: { name: 'web-exp' } }],
        },
      },
      { pause: {} },
    ];
    const h = await routedHarness([router], routedRollout({ smi: {} }, steps));
    await h.setImage('web:2');
    await h.converge();
    const name = h.ro().status?.canary?.currentExperiment;
    expect(name).toBeDefined();
    await h.store.patchStatus('Experiment', NS, name!, {
      status: {
        phase: 'Running',
        templateStatuses: [{ name: 'exp', status: 'Running', serviceName: 'web-exp', podTemplateHash: 'e1' }],
      },
    });
    await h.reconcile();
    expect(router.calls()).toContain('setWeight 20 +web-exp:10');
    expect(h.ro().status?.canary?.weights).toMatchObject({
      canary: { weight: 20 },
      stable: { weight: 70 },
      additional: [{ weight: 10, serviceName: 'web-exp', podTemplateHash: 'e1' }],
    });
    expect(h.eventReasons()).toContain('TrafficWeightUpdated');
    // Once the experiment is over, the destinations go and the stable takes their share back.
    await h.store.patchStatus('Experiment', NS, name!, { status: { phase: 'Successful' } });
    await h.reconcile();
    expect(h.ro().status?.canary?.weights?.additional).toBeUndefined();
    expect(h.ro().status?.canary?.weights?.stable.weight).toBe(80);
  });
});
