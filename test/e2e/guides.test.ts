// The guides' examples applied with kubectl as written (only metadata.namespace becomes the test's own) and
// driven through their whole lifecycle by a real controller on the test cluster with the `sluice` verbs.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startPaymentExporter } from '../fixtures/analysis/payment-exporter.ts';
import { prometheusUnavailableReason, singleValue, startPrometheus } from '../fixtures/prometheus.ts';
import { ARGO_API, canaryRollout, E2e, GUIDES_DIR, withNamespace } from './fixture.ts';

const HASH = 'rollouts-pod-template-hash';
const DEADLINE = 'scale-down-deadline';
const RO = 'order-processor-rollout';
const ACTIVE = 'order-processor-active';
const PREVIEW = 'order-processor-preview';
const IMAGE = 'internal-registry.enterprise.io/logistics/order-worker';
/** 8 + 8 pods with the simulator's default 1 s readiness: give a loaded machine room. */
const POD_WAIT_MS = 90_000;
const GUIDE_PROMETHEUS = 'http://prometheus-k8s.monitoring.svc.cluster.local:9090';
const ERROR_RATE =
  'sum(rate(http_requests_total{status=~"5..", app="payment-service"}[2m])) / sum(rate(http_requests_total{app="payment-service"}[2m]))';

let e: E2e | undefined;
afterEach(async () => {
  await e?.dispose();
  e = undefined;
});

/** Moves an RS's scale-down deadline to `inMs` from now: time passing, without waiting 300 s. */
async function expireDeadline(rsName: string, inMs = 500): Promise<void> {
  await e!.client.mergePatch(`/apis/apps/v1/namespaces/${e!.namespace}/replicasets/${rsName}`, {
    metadata: { annotations: { [DEADLINE]: new Date(Date.now() + inMs).toISOString() } },
  });
}

async function selectors(): Promise<{ active?: string; preview?: string }> {
  return {
    active: (await e!.serviceSelector(ACTIVE))[HASH],
    preview: (await e!.serviceSelector(PREVIEW))[HASH],
  };
}

describe('the guides on the test cluster', { timeout: 300_000 }, () => {
  it('blue-green order-processor: update, preview, manual promote, active switch, delayed scale-down, abort, undo', async () => {
    e = await E2e.create('guide-bg');
    await e.applyGuide('blue-green-services.yaml');
    await e.applyGuide('blue-green-rollout.yaml');
    const v1 = await e.waitForPhase(RO, 'Healthy', POD_WAIT_MS);
    const blue = v1.status!.stableRS!;
    expect(await selectors()).toEqual({ active: blue, preview: blue });
    await e.waitForPodCounts(RO, { '1': 8 }, POD_WAIT_MS);

    // update image -> the preview stack comes up at full size; the rollout pauses at the manual gate
    await e.sluiceOk('set', 'image', RO, `order-worker=${IMAGE}:v1.5.0`);
    const paused = await e.waitForPhase(RO, 'Paused', POD_WAIT_MS);
    const green = paused.status!.currentPodHash!;
    expect(green).not.toBe(blue);
    expect(paused.status!.pauseConditions?.map((p) => p.reason)).toEqual(['BlueGreenPause']);
    expect(await selectors()).toEqual({ active: blue, preview: green });
    await e.waitForPodCounts(RO, { '1': 8, '2': 8 }, POD_WAIT_MS);

    // promote -> active switched; the old RS keeps its pods for scaleDownDelaySeconds (300 s)
    await e.sluiceOk('promote', RO);
    const switchedMs = Date.now();
    const healthy = await e.waitForPhase(RO, 'Healthy', POD_WAIT_MS);
    expect(healthy.status!.stableRS).toBe(green);
    expect(await selectors()).toEqual({ active: green, preview: green });
    const old = (await e.replicaSetOfRevision(RO, 1))!;
    expect(old.replicas).toBe(8);
    const deadlineMs = Date.parse(old.annotations[DEADLINE]!);
    expect(deadlineMs - switchedMs).toBeGreaterThan(290_000);
    expect(deadlineMs - switchedMs).toBeLessThan(310_000);
    await e.waitForEvent(RO, 'RolloutCompleted');

    // time passes (the deadline is moved, not the clock): the old RS is scaled to zero at its deadline
    await expireDeadline(old.name);
    await e.waitForPodCounts(RO, { '1': 0, '2': 8 }, POD_WAIT_MS);
    expect((await e.replicaSetOfRevision(RO, 1))!.annotations[DEADLINE]).toBeUndefined();

    // a third revision is aborted at the gate: active stays, preview goes back to stable, the new RS goes
    await e.sluiceOk('set', 'image', RO, `order-worker=${IMAGE}:v1.6.0`);
    const paused3 = await e.waitForPhase(RO, 'Paused', POD_WAIT_MS);
    const bad = paused3.status!.currentPodHash!;
    expect(await selectors()).toEqual({ active: green, preview: bad });
    await e.sluiceOk('abort', RO);
    const degraded = await e.waitForPhase(RO, 'Degraded');
    expect(degraded.status!.message).toBe('RolloutAborted: Rollout aborted update to revision 3');
    expect(degraded.status!.stableRS).toBe(green);
    await e.waitForServiceSelector(PREVIEW, green);
    expect((await selectors()).active).toBe(green);
    const badRS = await e.waitFor('the abort scale-down deadline on revision 3', async () => {
      const rs = await e!.replicaSetOfRevision(RO, 3);
      return rs?.annotations[DEADLINE] ? rs : undefined;
    });
    expect(badRS.replicas).toBe(8);
    await expireDeadline(badRS.name);
    await e.waitForPodCounts(RO, { '2': 8, '3': 0 }, POD_WAIT_MS);
    expect((await e.rollout(RO)).status!.phase).toBe('Degraded');

    // undo to revision 1: an ordinary update through the preview and the gate, then promoted
    await e.sluiceOk('undo', RO, '--to-revision', '1');
    const paused4 = await e.waitForPhase(RO, 'Paused', POD_WAIT_MS);
    expect(paused4.status!.currentPodHash).toBe(blue);
    expect(paused4.status!.abort ?? false).toBe(false);
    expect(await selectors()).toEqual({ active: green, preview: blue });
    await e.sluiceOk('promote', RO);
    const back = await e.waitForPhase(RO, 'Healthy', POD_WAIT_MS);
    expect(back.status!.stableRS).toBe(blue);
    expect(await selectors()).toEqual({ active: blue, preview: blue });
    // the RS of revision 1 is reused (no new pods template) and renumbered as revision 4
    const rss = await e.replicaSets(RO);
    expect(rss.map((rs) => [rs.revision, rs.hash])).toEqual([
      ['2', green],
      ['3', bad],
      ['4', blue],
    ]);
    const reasons = e.eventReasons(RO);
    expect(reasons.filter((r) => r === 'RolloutCompleted').length).toBeGreaterThanOrEqual(2);
    expect(reasons).toContain('RolloutAborted');
  });

  it.skipIf(prometheusUnavailableReason() !== undefined)(
    'http-kpi-analysis against a real Prometheus: unbounded metrics measure at once, tolerate failures up to failureLimit, and end when the step is promoted past',
    async () => {
      e = await E2e.create('guide-kpi');
      const exporter = await startPaymentExporter();
      e.defer(() => exporter.stop());
      const prometheus = await startPrometheus({ targets: [exporter.target], scrapeIntervalMs: 250 });
      e.defer(() => prometheus.stop());
      await prometheus.waitForTargetsUp(15_000);
      await e.waitFor('an error-rate sample', async () =>
        Number.isFinite(singleValue(await prometheus.query(ERROR_RATE))) ? true : undefined,
      );
      // The guide's template as written; only its in-cluster Prometheus address becomes the test's.
      const guide = await readFile(join(GUIDES_DIR, 'http-kpi-analysis-template.yaml'), 'utf8');
      expect(guide).toContain(GUIDE_PROMETHEUS);
      await e.apply(withNamespace(guide.replaceAll(GUIDE_PROMETHEUS, prometheus.url), e.namespace));
      await e.healthyRollout(
        canaryRollout('payment-service-rollout', {
          replicas: 2,
          steps: [
            { setWeight: 50 },
            { analysis: { templates: [{ templateName: 'http-kpi-analysis' }] } },
            { pause: {} },
          ],
        }),
        'payment-service-rollout',
      );
      const ro = 'payment-service-rollout';
      const runOf = async (name: string) =>
        (await e!.client.get(`${ARGO_API}/namespaces/${e!.namespace}/analysisruns/${name}`)) as {
          spec: { terminate?: boolean };
          status?: {
            phase?: string;
            message?: string;
            metricResults?: {
              name: string;
              phase: string;
              measurements?: { phase: string; value?: string }[];
            }[];
          };
        };
      const firstMeasurements = (name: string) =>
        e!.waitFor(`both metrics of ${name} measured`, async () => {
          const r = await runOf(name).catch(() => undefined);
          const results = r?.status?.metricResults ?? [];
          return results.length === 2 && results.every((m) => (m.measurements ?? []).length > 0)
            ? r
            : undefined;
        });

      // healthy KPIs: both first measurements pass; the metrics are unbounded (interval, no count)
      await e.setImage(ro, 'example.com/payment-api:v2.3.0');
      const at1 = await e.waitForStep(ro, 1);
      const hash = at1.status!.currentPodHash!;
      const name = `${ro}-${hash}-2-1`;
      const measured = await firstMeasurements(name);
      expect(measured.status!.phase).toBe('Running');
      for (const m of measured.status!.metricResults!) {
        expect(m.phase).toBe('Running');
        expect(m.measurements![0]!.phase).toBe('Successful');
        expect(m.measurements![0]!.value).toMatch(/^\[[\d.e-]+\]$/);
      }
      expect((await e.rollout(ro)).status!.phase).toBe('Progressing');
      // promote moves past the analysis step; the run is terminated and ends Successful
      await e.sluiceOk('promote', ro);
      await e.waitForPhase(ro, 'Paused');
      const ended = await e.waitFor(
        'the step run terminated and finished',
        async () => {
          const r = await runOf(name);
          return r.spec.terminate === true && r.status?.phase === 'Successful' ? r : undefined;
        },
        undefined,
        async () => JSON.stringify(await runOf(name)),
      );
      expect(ended.status!.message).toBe('Run Terminated');
      await e.sluiceOk('promote', ro);
      await e.waitForPhase(ro, 'Healthy');

      // a 50% error rate: the first measurement fails, failureLimit 2 keeps the run going
      exporter.errorsPerScrape = 100;
      await e.waitFor('error rate above 1%', async () =>
        singleValue(await prometheus.query(ERROR_RATE)) > 0.01 ? true : undefined,
      );
      await e.setImage(ro, 'example.com/payment-api:v2.4.0');
      const at1b = await e.waitForRollout(
        ro,
        'revision 3 at step 1',
        (r) =>
          r.metadata.generation === 3 &&
          r.status?.observedGeneration === '3' &&
          r.status.currentStepIndex === 1,
      );
      const bad = `${ro}-${at1b.status!.currentPodHash}-3-1`;
      const failing = await firstMeasurements(bad);
      const errorRate = failing.status!.metricResults!.find((m) => m.name === 'error-rate')!;
      expect(errorRate.measurements![0]!.phase).toBe('Failed');
      expect(errorRate.phase).toBe('Running');
      expect(failing.status!.phase).toBe('Running');
      const now = await e.rollout(ro);
      expect(now.status!.phase).toBe('Progressing');
      expect(now.status!.abort ?? false).toBe(false);
      await e.sluiceOk('abort', ro);
      await e.waitForPhase(ro, 'Degraded');
      await e.waitFor('the aborted run terminated', async () =>
        (await runOf(bad)).spec.terminate === true ? true : undefined,
      );
    },
  );
});
