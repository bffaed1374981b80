// deploy/observability against a real Prometheus (issue 12): it scrapes a real Sluice controller reconciling
// Rollouts on the test cluster and a real Sluice proxy carrying traffic to a canary at 50% (sluice-demo
// pods, the canary answering 30% of requests with 500), with Rollouts held in the states the panels and
// alerts are about (paused canary, aborted, past its progress deadline, invalid, at a running analysis).
// Then every Grafana panel query in dashboard.json runs (Grafana's variables set to All, $__rate_interval
// 15s) and must return series, except the exemptions below, each with its reason; every metric a query or
// an alert names must be one the targets expose; and the PrometheusRule's groups, loaded as Prometheus'
// rule file with `for:` 0s, must put exactly the alerts for the states made here in pending/firing.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { type RunningProxy, startProxy } from '../../proxy/main.ts';
import { demoContainer, requireDemoPods } from '../cluster/demo-traffic.ts';
import { testClient } from '../cluster/namespace.ts';
import { REPO_ROOT } from '../cluster/paths.ts';
import {
  freePort,
  type PrometheusHandle,
  prometheusUnavailableReason,
  startPrometheus,
} from '../fixtures/prometheus.ts';
import {
  canaryRollout,
  E2e,
  service,
  startWebMetric,
  type WebMetricServer,
  webMetricTemplate,
} from './fixture.ts';

const OBSERVABILITY_DIR = join(REPO_ROOT, 'deploy', 'observability');
const RATE_INTERVAL = '15s';
/** Traffic and scrapes before the queries run: several 1 s scrapes inside every rate window. */
const WARMUP_MS = 8_000;

/** Panel queries allowed to be empty here, with why. */
const EXEMPT: Readonly<Record<string, string>> = {
  'sum(rate(experiment_reconcile_count{namespace=~".*"}[15s]))':
    'Experiment reconciles need an Experiment; this test makes none (test/e2e/experiment.test.ts covers them)',
};

interface Target {
  expr: string;
}
interface Panel {
  title: string;
  type: string;
  targets?: Target[];
}
interface Rule {
  alert: string;
  expr: string;
  for?: string;
}

const dashboard = JSON.parse(readFileSync(join(OBSERVABILITY_DIR, 'dashboard.json'), 'utf8')) as {
  panels: Panel[];
};
const ruleDoc = parseAllDocuments(
  readFileSync(join(OBSERVABILITY_DIR, 'prometheus-rule.yaml'), 'utf8'),
)[0]!.toJS() as {
  spec: { groups: { name: string; rules: Rule[] }[] };
};

/** A panel query as Grafana sends it with every variable at All. */
function resolved(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', RATE_INTERVAL)
    .replaceAll('$namespace', '.*')
    .replaceAll('$route', '.*');
}

const PROMQL_WORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
]);

/** The metric names a query selects: identifiers that are not functions, keywords, labels or strings. */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replaceAll(/"(?:[^"\\]|\\.)*"/g, '""')
    .replaceAll(/\{[^}]*\}/g, '')
    .replaceAll(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    .replaceAll(/\[[^\]]*\]/g, '');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = m[0];
    const next = stripped.slice((m.index ?? 0) + word.length).trimStart();
    if (next.startsWith('(') || PROMQL_WORDS.has(word)) continue;
    names.add(word);
  }
  return [...names];
}

/** Histogram and summary samples come as NAME_bucket/_sum/_count of the family NAME. */
function family(name: string, known: ReadonlySet<string>): string | undefined {
  if (known.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return known.has(base) ? base : undefined;
}

const SKIP = prometheusUnavailableReason();

describe.skipIf(SKIP !== undefined)('deploy/observability on a real Prometheus, controller and proxy', () => {
  let e: E2e;
  let web: WebMetricServer;
  let proxy: RunningProxy;
  let prometheus: PrometheusHandle;
  let tokenDir: string;
  let running = true;
  let traffic: Promise<void> = Promise.resolve();
  const statuses = new Map<number, number>();

  beforeAll(async () => {
    const client = await testClient();
    try {
      // No skipping from a hook: without served demo pods there is no proxy traffic to chart.
      await requireDemoPods(
        {
          skip: ((note?: string) => {
            throw new Error(note);
          }) as never,
        },
        client,
      );
    } finally {
      await client.close();
    }
    tokenDir = mkdtempSync(join(tmpdir(), 'sluice-observability-'));
    const token = randomBytes(24).toString('hex');
    const tokenFile = join(tokenDir, 'token');
    writeFileSync(tokenFile, token);
    e = await E2e.create('observability', { control: { port: await freePort(), token, tokenFile } });
    web = await startWebMetric(1);

    // The route: a canary at 50% through the proxy, the canary failing 30% of its requests.
    await e.apply([service('web-stable', 'web'), service('web-canary', 'web')]);
    await e.healthyRollout(
      {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Rollout',
        metadata: { name: 'web' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' }, annotations: { 'sluice.test/ready-delay-ms': '200' } },
            spec: { containers: [demoContainer({ tag: 'v1' })] },
          },
          strategy: {
            canary: {
              stableService: 'web-stable',
              canaryService: 'web-canary',
              trafficRouting: { plugins: { 'sluice/proxy': {} } },
              steps: [{ setWeight: 50 }, { pause: {} }],
            },
          },
        },
      },
      'web',
    );
    proxy = await startProxy({
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      control: {
        target: `127.0.0.1:${e.control!.port}`,
        token,
        proxyId: 'observability-gateway',
        routes: [{ name: 'web', namespace: e.namespace }],
        reportIntervalMs: 250,
      },
      logger: pino({ level: 'silent' }),
    });
    await e.patchRollout('web', {
      spec: { template: { spec: { containers: [demoContainer({ tag: 'v2', errorRate: 0.3 })] } } },
    });
    await e.waitForRollout(
      'web',
      'paused at 50% with the weight verified',
      (ro) => ro.status?.phase === 'Paused' && ro.status.canary?.weights?.verified === true,
    );
    const { host, port } = proxy.dataAddress;
    traffic = (async () => {
      while (running) {
        try {
          const res = await request(`http://${host}:${port}/`, { headersTimeout: 5_000, bodyTimeout: 5_000 });
          await res.body.dump();
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        } catch {
          statuses.set(0, (statuses.get(0) ?? 0) + 1);
        }
      }
    })();

    // The states the Rollout panels and alerts are about.
    const paused = { steps: [{ setWeight: 50 }, { pause: {} }] };
    await e.healthyRollout(canaryRollout('aborted', paused), 'aborted');
    await e.setImage('aborted', 'example.com/app:v2');
    await e.waitForPhase('aborted', 'Paused');
    await e.sluiceOk('abort', 'aborted');
    await e.healthyRollout(
      canaryRollout('deadline', { ...paused, spec: { progressDeadlineSeconds: 3 } }),
      'deadline',
    );
    await e.setImage('deadline', 'example.com/app:unready');
    await e.apply(canaryRollout('invalid', { steps: [{ setWeight: 150 }] }));
    await e.apply(webMetricTemplate('web-check', web.url, { count: 1000, intervalS: 2 }));
    await e.healthyRollout(
      canaryRollout('analysis', {
        steps: [{ setWeight: 50 }, { analysis: { templates: [{ templateName: 'web-check' }] } }],
      }),
      'analysis',
    );
    await e.setImage('analysis', 'example.com/app:v2');
    await e.waitForPhase('aborted', 'Degraded');
    await e.waitForCondition('deadline', 'Progressing', { reason: 'ProgressDeadlineExceeded' });
    await e.waitForPhase('invalid', 'Degraded');

    // The guide's and Sluice's rules as the Prometheus Operator would load them, `for:` cut to 0s.
    const groups = ruleDoc.spec.groups.map((g) => ({
      name: g.name,
      rules: g.rules.map((r) => ({ ...r, for: '0s' })),
    }));
    prometheus = await startPrometheus({
      targets: [`127.0.0.1:${e.controller.metricsPort}`, `127.0.0.1:${proxy.adminAddress.port}`],
      rules: stringify({ groups }),
    });
    await prometheus.waitForTargetsUp(20_000);
    await new Promise((r) => setTimeout(r, WARMUP_MS));
  });

  afterAll(async () => {
    running = false;
    await traffic;
    await prometheus?.stop();
    await proxy?.close(100);
    await web?.stop();
    await e?.dispose();
    if (tokenDir) rmSync(tokenDir, { recursive: true, force: true });
  });

  async function exposedFamilies(): Promise<Set<string>> {
    const res = await fetch(`${prometheus.url}/api/v1/metadata`);
    const body = (await res.json()) as { data: Record<string, unknown> };
    return new Set(Object.keys(body.data));
  }

  it('carries canary and stable traffic with some canary 500s', () => {
    expect(statuses.get(200) ?? 0).toBeGreaterThan(50);
    expect(statuses.get(500) ?? 0).toBeGreaterThan(5);
  });

  const targets = dashboard.panels
    .filter((p) => p.type !== 'row')
    .flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: resolved(t.expr) })));

  it('every dashboard query names only metrics the controller or the proxy expose', async () => {
    const known = await exposedFamilies();
    const unknown = targets.flatMap(({ panel, expr }) =>
      metricNames(expr)
        .filter((name) => family(name, known) === undefined)
        .map((name) => `${panel}: ${name}`),
    );
    expect(unknown).toEqual([]);
  });

  it.each(targets)('panel "$panel" returns series: $expr', async ({ expr }) => {
    const data = (await prometheus.query(expr)) as { resultType: string; result: unknown[] };
    if (EXEMPT[expr] !== undefined) {
      console.log(`exempt: ${expr}: ${EXEMPT[expr]}`);
      return;
    }
    expect(data.result.length, expr).toBeGreaterThan(0);
  });

  it('the proxy panels show the canary and the stable revision apart, the canary less successful', async () => {
    const expr = resolved(
      dashboard.panels.find((p) => p.title === 'Success rate by revision')!.targets![0]!.expr,
    );
    const data = (await prometheus.query(expr)) as {
      result: { metric: Record<string, string>; value: [number, string] }[];
    };
    const byRole = Object.fromEntries(data.result.map((s) => [s.metric.role, Number(s.value[1])]));
    expect(Object.keys(byRole).sort()).toEqual(['canary', 'stable']);
    expect(byRole.stable).toBe(1);
    expect(byRole.canary).toBeLessThan(0.95);
  });

  const rules = ruleDoc.spec.groups.flatMap((g) => g.rules);

  it('every alert names only exposed metrics, and each condition without its threshold returns series', async () => {
    const known = await exposedFamilies();
    for (const rule of rules) {
      for (const name of metricNames(rule.expr))
        expect(family(name, known), `${rule.alert}: ${name}`).toBeDefined();
      const inner = rule.expr.replace(/\s*(==|!=|>=|<=|>|<)\s*[\d.]+\s*$/, '');
      const data = (await prometheus.query(inner)) as { result: unknown[] };
      expect(data.result.length, `${rule.alert}: ${inner}`).toBeGreaterThan(0);
    }
  });

  it('puts exactly the alerts for the states made here in pending or firing', async () => {
    const want = [
      `RolloutAbortedAndBackingOff ${e.namespace}/aborted`,
      `RolloutAbortedAndBackingOff ${e.namespace}/deadline`,
      `RolloutAbortedAndBackingOff ${e.namespace}/invalid`,
      `SluiceRolloutAborted ${e.namespace}/aborted`,
      `SluiceRolloutInvalid ${e.namespace}/invalid`,
      `SluiceRolloutProgressDeadlineExceeded ${e.namespace}/deadline`,
    ];
    let active: string[] = [];
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const res = await fetch(`${prometheus.url}/api/v1/alerts`);
      const body = (await res.json()) as {
        data: { alerts: { labels: Record<string, string>; state: string }[] };
      };
      active = body.data.alerts
        .filter((a) => a.state === 'pending' || a.state === 'firing')
        .map((a) => `${a.labels.alertname} ${a.labels.namespace}/${a.labels.name}`)
        .sort();
      if (JSON.stringify(active) === JSON.stringify(want)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(active).toEqual(want);
  });
});
