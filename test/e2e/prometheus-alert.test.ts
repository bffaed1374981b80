// The enterprise guide's alert ("Setting Up Prometheus Alerts for Failed Rollouts") as a real Prometheus
// evaluates it: the guide's rule loaded from a rule file, Prometheus scraping a real controller that
// reconciles Rollouts on the test cluster, the alert firing for the Degraded Rollout and not for the
// Healthy one. The rule is the guide's but for `for:` (2m there, 0s here, so the test takes seconds), and
// evaluation runs every scrape interval (1 s).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type PrometheusHandle,
  prometheusUnavailableReason,
  startPrometheus,
} from '../fixtures/prometheus.ts';
import { canaryRollout, E2e, scrapeMetrics } from './fixture.ts';

const GUIDE_RULES = `
groups:
  - name: argo-rollouts.rules
    rules:
      - alert: RolloutAbortedAndBackingOff
        expr: rollout_phase{phase="Degraded"} == 1
        for: 0s
        labels:
          severity: critical
          tier: platform
        annotations:
          summary: "Rollout {{ $labels.rollout }} has failed and is rolling back"
`;

interface Alert {
  labels: Record<string, string>;
  state: 'pending' | 'firing' | 'inactive';
}

const SKIP = prometheusUnavailableReason();

describe.skipIf(SKIP !== undefined)("the guide's RolloutAbortedAndBackingOff alert on Prometheus", () => {
  let e: E2e;
  let prometheus: PrometheusHandle;

  beforeAll(async () => {
    e = await E2e.create('alert');
    prometheus = await startPrometheus({
      targets: [`127.0.0.1:${e.controller.metricsPort}`],
      rules: GUIDE_RULES,
    });
    await prometheus.waitForTargetsUp(15_000);
  });

  afterAll(async () => {
    await prometheus?.stop();
    await e?.dispose();
  });

  async function firing(): Promise<Alert[]> {
    const res = await fetch(`${prometheus.url}/api/v1/alerts`);
    const body = (await res.json()) as { data: { alerts: Alert[] } };
    return body.data.alerts.filter((a) => a.labels.alertname === 'RolloutAbortedAndBackingOff');
  }

  it('fires for a Degraded Rollout and not for a Healthy one', async () => {
    await e.healthyRollout(canaryRollout('good', { steps: [{ setWeight: 50 }, { pause: {} }] }), 'good');
    // An invalid step (weight over 100) degrades a Rollout at once, without waiting for a deadline.
    await e.apply(canaryRollout('bad', { steps: [{ setWeight: 150 }] }));
    const degraded = await e.waitForPhase('bad', 'Degraded');
    expect(degraded.status?.phase).toBe('Degraded');

    const text = await scrapeMetrics(e.controller);
    expect(text).toContain(
      `rollout_phase{namespace="${e.namespace}",name="bad",strategy="canary",phase="Degraded"} 1`,
    );
    expect(text).toContain(
      `rollout_phase{namespace="${e.namespace}",name="good",strategy="canary",phase="Degraded"} 0`,
    );

    expect(text).toMatch(/^controller_runtime_reconcile_errors_total\{controller="rollouts"\} \d+$/m);

    const deadline = Date.now() + 30_000;
    let alerts: Alert[] = [];
    while (Date.now() < deadline) {
      alerts = await firing();
      if (alerts.some((a) => a.state === 'firing')) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(
      alerts.filter((a) => a.state === 'firing').map((a) => [a.labels.namespace, a.labels.name]),
    ).toEqual([[e.namespace, 'bad']]);
    expect(alerts.find((a) => a.labels.name === 'good')).toBeUndefined();
    expect(alerts[0]!.labels).toMatchObject({ severity: 'critical', tier: 'platform', phase: 'Degraded' });

    // Fixed, the Rollout turns Healthy and the alert resolves.
    await e.patchRollout('bad', {
      spec: { strategy: { canary: { steps: [{ setWeight: 50 }, { pause: {} }] } } },
    });
    await e.waitForPhase('bad', 'Healthy');
    const resolvedBy = Date.now() + 30_000;
    while (Date.now() < resolvedBy && (await firing()).length > 0)
      await new Promise((r) => setTimeout(r, 250));
    expect(await firing()).toEqual([]);
  });
});
