// `sluice dashboard` in a real browser against the test cluster (issue 13): the dashboard's server runs
// in-process (openDashboard, as `sluice dashboard` starts it) over the e2e namespace's kubeconfig, a
// controller reconciles the namespace, and headless Chromium (test/fixtures/browser.ts) reads the list
// and the Rollout's page, then clicks promote and abort through the confirmation and sees the Rollout
// change on the page by the dashboard's watch, and in the API.

import { afterEach, describe, expect, it } from 'vitest';
import { type OpenDashboard, openDashboard } from '../../src/cli/dashboard.ts';
import {
  chromiumUnavailableReason,
  clickAction,
  type DashboardBrowser,
  openDashboardPage,
  waitForText,
} from '../fixtures/browser.ts';
import { canaryRollout, E2e } from './fixture.ts';

const skip = chromiumUnavailableReason();

let e: E2e | undefined;
let dashboard: OpenDashboard | undefined;
let browser: DashboardBrowser | undefined;
afterEach(async () => {
  await browser?.close();
  await dashboard?.close();
  await e?.dispose();
  browser = undefined;
  dashboard = undefined;
  e = undefined;
});

describe.skipIf(skip !== undefined)('sluice dashboard in Chromium against the test cluster', () => {
  it('lists the Rollout, shows its steps and revisions, and promotes and aborts it by clicks', async () => {
    e = await E2e.create('dashboard');
    await e.apply(
      canaryRollout('web', {
        replicas: 4,
        steps: [{ setWeight: 25 }, { pause: {} }, { setWeight: 50 }, { pause: {} }],
      }),
    );
    await e.waitForPhase('web', 'Healthy');
    dashboard = await openDashboard({
      kube: { kubeconfig: e.kubeconfig, namespace: e.namespace },
      listen: { host: '127.0.0.1', port: 0 },
      allNamespaces: false,
      readOnly: false,
    });
    expect(dashboard.namespace).toBe(e.namespace);
    browser = await openDashboardPage(dashboard.url);
    const { page } = browser;
    const row = `tr[data-rollout="${e.namespace}/web"]`;
    await waitForText(page, `${row} .phase`, (t) => t.includes('Healthy'));

    await e.setImage('web', 'example.com/app:v2');
    await waitForText(page, `${row} .step`, (t) => t === '1/4');
    await waitForText(page, `${row} .phase`, (t) => t.includes('Paused'));

    await page.click(`${row} a`);
    await waitForText(page, '#phase', (t) => t.includes('Paused'));
    expect(
      await page.$$eval('ol.steps li', (els) => els.map((el) => `${el.className}:${el.textContent}`)),
    ).toEqual([
      'done:setWeight 25',
      'current:pause (until promoted)',
      'pending:setWeight 50',
      'pending:pause (until promoted)',
    ]);
    const rev2 = await waitForText(page, '.rev[data-revision="2"]', (t) => t.includes('canary'));
    expect(rev2).toContain('example.com/app:v2');
    expect(await page.$eval('.rev[data-revision="1"]', (el) => el.textContent)).toContain('stable');
    await waitFor(async () => (await page.$$('.rev[data-revision="2"] .pod')).length === 1);

    expect(await clickAction(page, 'promote', `${e.namespace}/web`)).toBe("rollout 'web' promoted");
    await waitForText(page, '#step', (t) => t === '3/4');
    expect((await e.rollout('web')).status?.currentStepIndex).toBe(3);

    expect(await clickAction(page, 'abort', `${e.namespace}/web`)).toBe("rollout 'web' aborted");
    await page.waitForSelector('#aborted');
    await waitForText(page, '#phase', (t) => t.includes('Degraded'));
    expect((await e.rollout('web')).status?.abort).toBe(true);
    expect(browser.problems).toEqual([]);
  }, 90_000);
});

async function waitFor(probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 200));
  }
}

if (skip !== undefined) {
  describe('sluice dashboard in Chromium against the test cluster', () => {
    it.skip(skip, () => {});
  });
}
