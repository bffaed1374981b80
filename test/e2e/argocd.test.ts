// Argo CD on Sluice (issue 12): what Argo CD shows for Sluice's live Rollouts, and what its resource actions
// do to them. A real Sluice controller reconciles Rollouts on the test cluster into each state (Healthy,
// Paused, Progressing, Degraded by the progress deadline, aborted, at a running analysis step, and a spec
// change not yet observed); Debian's lua5.1 then runs on each live object
//   - Argo CD's Rollout health check (test/fixtures/argocd/health.lua: its rules for Rollouts with a
//     status.phase, which Sluice always writes), and
//   - the guide's health Lua for argocd-cm (test/fixtures/argocd/guide-health.lua);
// and Argo CD's resume, promote-full, abort and restart actions run on live objects, their results are sent
// as Argo CD sends them (merge patch, status part through the status subresource), and Sluice must do what
// Argo Rollouts does: continue, promote fully, abort to stable, restart the pods.
//
// The table printed at the end is docs/argocd.md's.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rollout } from '../../src/api/rollout.ts';
import { REPO_ROOT } from '../cluster/paths.ts';
import {
  actionPatches,
  type HealthStatus,
  health,
  type Json,
  luaUnavailableReason,
  runLua,
} from '../fixtures/lua.ts';
import {
  ARGO_API,
  canaryRollout,
  E2e,
  startWebMetric,
  type WebMetricServer,
  webMetricTemplate,
} from './fixture.ts';

const ARGOCD_DIR = join(REPO_ROOT, 'test', 'fixtures', 'argocd');
const script = (file: string) => readFileSync(join(ARGOCD_DIR, file), 'utf8');
const ARGOCD_HEALTH = script('health.lua');
const GUIDE_HEALTH = script('guide-health.lua');
const ACTIONS = {
  resume: script('actions/resume.lua'),
  'promote-full': script('actions/promote-full.lua'),
  abort: script('actions/abort.lua'),
  restart: script('actions/restart.lua'),
} as const;

const SKIP = luaUnavailableReason();
if (SKIP) console.warn(`Argo CD Lua tests skipped: ${SKIP}`);

interface Row {
  state: string;
  phase: string;
  sluiceMessage: string;
  argocd: HealthStatus;
  guide: HealthStatus;
}

const rows: Row[] = [];
let e: E2e | undefined;
let web: WebMetricServer | undefined;

afterAll(async () => {
  await web?.stop();
  await e?.dispose();
  if (rows.length > 0) {
    const lines = rows.map(
      (r) =>
        `| ${r.state} | ${r.phase} | ${r.sluiceMessage} | ${r.argocd.status}: ${r.argocd.message ?? ''} | ${r.guide.status}: ${r.guide.message ?? ''} |`,
    );
    console.log(['| state | status.phase | status.message | Argo CD | guide |', ...lines].join('\n'));
  }
});

/** The live object, as Argo CD reads it (GET). */
async function live(name: string): Promise<Json> {
  return (await e!.client.get(`${ARGO_API}/namespaces/${e!.namespace}/rollouts/${name}`)) as Json;
}

/** Both health checks on the live Rollout, recorded for the table. */
async function assess(state: string, name: string): Promise<Row> {
  const object = await live(name);
  const status = (object as { status?: { phase?: string; message?: string } }).status ?? {};
  const row: Row = {
    state,
    phase: status.phase ?? '(none)',
    sluiceMessage: status.message ?? '',
    argocd: await health(ARGOCD_HEALTH, object),
    guide: await health(GUIDE_HEALTH, object),
  };
  rows.push(row);
  return row;
}

/** Runs an Argo CD action on the live Rollout and sends its result the way Argo CD does. */
async function runAction(action: keyof typeof ACTIONS, name: string): Promise<Record<string, Json>> {
  const before = await live(name);
  const result = await runLua(ACTIONS[action], before);
  const patches = actionPatches(before, result);
  const path = `${ARGO_API}/namespaces/${e!.namespace}/rollouts/${name}`;
  if (patches.status !== undefined) await e!.client.mergePatch(`${path}/status`, patches.status);
  if (patches.main !== undefined) await e!.client.mergePatch(path, patches.main);
  return { ...(patches.status ?? {}), ...(patches.main ?? {}) };
}

const PAUSED_STEPS = [{ setWeight: 50 }, { pause: {} }];

describe.skipIf(SKIP !== undefined)(
  'Argo CD health checks and resource actions on live Sluice Rollouts',
  () => {
    beforeAll(async () => {
      e = await E2e.create('argocd');
      web = await startWebMetric(1);
    });

    it('Healthy: Argo CD shows Healthy; the guide says "Rollout is healthy"', async () => {
      await e!.healthyRollout(canaryRollout('healthy', { steps: PAUSED_STEPS }), 'healthy');
      const row = await assess('Healthy', 'healthy');
      // Sluice, like Argo Rollouts, leaves status.message out when Healthy: Argo CD shows no message.
      expect(row.argocd).toEqual({ status: 'Healthy' });
      expect(row.guide).toEqual({ status: 'Healthy', message: 'Rollout is healthy' });
    });

    it('a spec change not yet observed: Argo CD waits (Progressing) while the guide still says Healthy', async () => {
      await e!.stopController();
      await e!.patchRollout('healthy', { spec: { template: { metadata: { labels: { tier: 'web' } } } } });
      const row = await assess('spec changed, not yet observed', 'healthy');
      expect(row.argocd).toEqual({
        status: 'Progressing',
        message: 'Waiting for rollout spec update to be observed',
      });
      // The guide's check reads status.phase only, which still says Healthy.
      expect(row.guide).toEqual({ status: 'Healthy', message: 'Rollout is healthy' });
      await e!.startController();
      await e!.waitForPhase('healthy', 'Paused');
    });

    it('Paused at a pause step: Suspended in both, with Sluice message in Argo CD', async () => {
      await e!.healthyRollout(canaryRollout('paused', { steps: PAUSED_STEPS }), 'paused');
      await e!.setImage('paused', 'example.com/app:v2');
      const ro = await e!.waitForPhase('paused', 'Paused');
      const row = await assess('Paused (pause step)', 'paused');
      expect(row.argocd).toEqual({ status: 'Suspended', message: ro.status?.message });
      expect(row.guide).toEqual({ status: 'Suspended', message: 'Rollout is paused' });
    });

    it('resume (Argo CD action) clears the pause condition and Sluice completes the update', async () => {
      const sent = await runAction('resume', 'paused');
      expect(sent).toEqual({ status: { pauseConditions: null } });
      const ro = await e!.waitForPhase('paused', 'Healthy');
      expect(ro.status?.stableRS).toBe(ro.status?.currentPodHash);
      expect((await assess('Healthy after resume', 'paused')).argocd).toEqual({ status: 'Healthy' });
    });

    it('Progressing while the canary pods are not ready: Progressing in both', async () => {
      await e!.healthyRollout(canaryRollout('progressing', { steps: PAUSED_STEPS }), 'progressing');
      await e!.setImage('progressing', 'example.com/app:unready');
      const ro = await e!.waitForPhase('progressing', 'Progressing');
      const row = await assess('Progressing (canary not ready)', 'progressing');
      expect(row.argocd).toEqual({ status: 'Progressing', message: ro.status?.message });
      expect(row.guide).toEqual({ status: 'Progressing', message: 'Rollout is progressing' });
    });

    it('Degraded past progressDeadlineSeconds: Degraded in both', async () => {
      await e!.healthyRollout(
        canaryRollout('deadline', { steps: PAUSED_STEPS, spec: { progressDeadlineSeconds: 3 } }),
        'deadline',
      );
      await e!.setImage('deadline', 'example.com/app:unready');
      const ro = await e!.waitForCondition('deadline', 'Progressing', { reason: 'ProgressDeadlineExceeded' });
      expect(ro.status?.phase).toBe('Degraded');
      const row = await assess('Degraded (ProgressDeadlineExceeded)', 'deadline');
      expect(row.argocd.status).toBe('Degraded');
      expect(row.argocd.message).toMatch(/^ProgressDeadlineExceeded: /);
      expect(row.guide).toEqual({ status: 'Degraded', message: 'Rollout is in degraded state' });
    });

    it('at a running analysis step: Progressing in both', async () => {
      await e!.apply(webMetricTemplate('web-check', web!.url, { count: 1000, intervalS: 5 }));
      await e!.healthyRollout(
        canaryRollout('analysis', {
          steps: [{ setWeight: 50 }, { analysis: { templates: [{ templateName: 'web-check' }] } }],
        }),
        'analysis',
      );
      await e!.setImage('analysis', 'example.com/app:v2');
      await e!.waitFor(
        'a running step AnalysisRun',
        async () => (await e!.analysisRuns('analysis')).some((r) => r.phase === 'Running') || undefined,
      );
      const ro = await e!.rollout('analysis');
      const row = await assess('at a running step analysis', 'analysis');
      expect(row.argocd).toEqual({ status: 'Progressing', message: ro.status?.message });
      expect(row.guide).toEqual({ status: 'Progressing', message: 'Rollout is progressing' });
    });

    it('promote-full (Argo CD action) sets status.promoteFull and Sluice skips the remaining steps and analysis', async () => {
      const sent = await runAction('promote-full', 'analysis');
      expect(sent).toEqual({ status: { promoteFull: true } });
      const ro = await e!.waitForPhase('analysis', 'Healthy');
      expect(ro.status?.stableRS).toBe(ro.status?.currentPodHash);
      const rs = await e!.replicaSetOfRevision('analysis', 2);
      expect(rs?.image).toBe('example.com/app:v2');
    });

    it('abort (Argo CD action) aborts the canary: Degraded in both, traffic and pods back on stable', async () => {
      await e!.healthyRollout(canaryRollout('aborted', { replicas: 2, steps: PAUSED_STEPS }), 'aborted');
      await e!.setImage('aborted', 'example.com/app:v2');
      await e!.waitForPhase('aborted', 'Paused');
      const sent = await runAction('abort', 'aborted');
      expect(sent).toEqual({ status: { abort: true } });
      const ro = await e!.waitForRollout('aborted', 'aborted', (r) => r.status?.phase === 'Degraded');
      expect(ro.status?.abort).toBe(true);
      await e!.waitForPodCounts('aborted', { '1': 2, '2': 0 });
      const row = await assess('aborted', 'aborted');
      expect(row.argocd.status).toBe('Degraded');
      expect(row.argocd.message).toMatch(/^RolloutAborted: /);
      expect(row.guide).toEqual({ status: 'Degraded', message: 'Rollout is in degraded state' });
    });

    it('restart (Argo CD action) sets spec.restartAt and Sluice replaces every pod', async () => {
      await e!.healthyRollout(canaryRollout('restarted', { replicas: 2 }), 'restarted');
      const hash = (await e!.rollout('restarted')).status?.currentPodHash;
      const before = new Set((await e!.pods(hash)).filter((p) => !p.deleting).map((p) => p.name));
      expect(before.size).toBe(2);
      // restartAt has whole seconds, and only pods created strictly before it are restarted (as in Argo):
      // a pod created in the same second as the action would be left as it is.
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const sent = (await runAction('restart', 'restarted')) as { spec?: { restartAt?: string } };
      const restartAt = sent.spec?.restartAt ?? '';
      expect(restartAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      const ro: Rollout = await e!.waitForRollout(
        'restarted',
        'restarted at spec.restartAt',
        (r) => r.status?.restartedAt === restartAt && r.status.phase === 'Healthy',
        60_000,
      );
      expect(ro.spec.restartAt).toBe(restartAt);
      await e!.waitFor('every pod replaced', async () => {
        const pods = (await e!.pods(hash)).filter((p) => !p.deleting && p.ready);
        return (pods.length === 2 && pods.every((p) => !before.has(p.name))) || undefined;
      });
    });
  },
);
