// `sluice dashboard` in a real browser against `sluice standalone` (issue 13): headless Chromium
// (test/fixtures/browser.ts) opens the list and a Rollout's page served by a `sluice dashboard` subprocess
// that reads standalone's API subset through the kubeconfig it writes and the embedded proxy's admin port
// (--proxy-admin). A canary routed by the sluice/proxy router, with a judge analysis step, is updated with
// the CLI; the page shows the step, the revisions with the AnalysisRun's measurements, the proxy's
// per-revision success rate under load; promote and abort are clicked (through the confirmation) and the
// page follows the Rollout by its event stream. SLUICE_UPDATE_SCREENSHOTS=1 writes the screenshots shown
// in docs/dashboard.md into docs/images/. `sluice demo --dashboard` (npm start -- --dashboard) is checked too.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dataPlanePids } from '../../../src/standalone/data-plane.ts';
import {
  chromiumUnavailableReason,
  clickAction,
  type DashboardBrowser,
  openDashboardPage,
  screenshot,
  waitForText,
} from '../../fixtures/browser.ts';
import {
  freePort,
  killAll,
  REPO,
  runSluiceProcess,
  SHOP_SERVICES,
  type Standalone,
  standalonePorts,
  startStandalone,
  waitFor,
} from './standalone-fixture.ts';

const MANIFESTS = `${SHOP_SERVICES}---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: judge
spec:
  args:
    - name: canary-hash
    - name: stable-hash
  metrics:
    - name: judge
      interval: 500ms
      count: 2
      failureLimit: 0
      provider:
        plugin:
          sluice/judge:
            route: shop
            canary: "{{args.canary-hash}}"
            baseline: "{{args.stable-hash}}"
            alpha: 0.05
            onNoData: Successful
            metrics:
              - name: error-rate
              - name: latency
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: shop
spec:
  replicas: 2
  selector:
    matchLabels:
      app: shop
  template:
    metadata:
      labels:
        app: shop
    spec:
      containers:
        - name: app
          image: sluice-demo:v1
          ports:
            - containerPort: 8080
  strategy:
    canary:
      canaryService: shop-canary
      stableService: shop-stable
      trafficRouting:
        plugins:
          sluice/proxy:
            route: shop
      steps:
        - setWeight: 20
        - analysis:
            templates:
              - templateName: judge
            args:
              - name: canary-hash
                valueFrom:
                  podTemplateHashValue: Latest
              - name: stable-hash
                valueFrom:
                  podTemplateHashValue: Stable
        - pause: {}
        - setWeight: 50
        - pause: {}
`;

const skip = chromiumUnavailableReason();
const SCREENSHOTS = process.env.SLUICE_UPDATE_SCREENSHOTS === '1';

let dir: string;
let browser: DashboardBrowser | undefined;
let stopLoad = false;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-dashboard-'));
  await mkdir(join(dir, 'manifests'));
  await writeFile(join(dir, 'manifests', 'shop.yaml'), MANIFESTS);
});

afterEach(async () => {
  stopLoad = true;
  await browser?.close();
  browser = undefined;
  await killAll();
  for (const pid of await dataPlanePids(join(dir, 'state.json'))) process.kill(pid, 'SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

/** Requests through the proxy until stopped, so the proxy has numbers per revision. */
async function load(proxyUrl: string): Promise<void> {
  stopLoad = false;
  while (!stopLoad) {
    try {
      const res = await fetch(`${proxyUrl}/`);
      await res.body?.cancel();
    } catch {
      // standalone stopping
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function sluiceVerb(s: Standalone, ...args: string[]): Promise<void> {
  const p = runSluiceProcess([...args, '--kubeconfig', s.kubeconfig, '-n', 'default']);
  const code = await p.exited;
  if (code !== 0) throw new Error(`sluice ${args.join(' ')} exited ${code}`);
}

describe.skipIf(skip !== undefined)('sluice dashboard in Chromium against standalone', () => {
  it('shows the Rollout list and page with the analysis and the proxy numbers, and promotes and aborts by clicks', async () => {
    const s = await startStandalone({
      dir: join(dir, 'manifests'),
      state: join(dir, 'state.json'),
      kubeconfig: join(dir, 'kubeconfig'),
      ports: await standalonePorts(),
    });
    await waitFor('shop Healthy', async () =>
      (await s.rollout()).status?.phase === 'Healthy' ? true : undefined,
    );
    const port = await freePort();
    const admin = s.adminUrl.replace(/^http:\/\//, '').replace(/\/$/, '');
    const d = runSluiceProcess([
      'dashboard',
      '--kubeconfig',
      s.kubeconfig,
      '-n',
      'default',
      '--listen',
      `127.0.0.1:${port}`,
      '--proxy-admin',
      admin,
    ]);
    const [, url] = await d.waitForOutput(/Sluice dashboard on (http:\/\/\S+) \(namespace default\)/);
    void load(s.proxyUrl);

    browser = await openDashboardPage(url!);
    const { page } = browser;
    await waitForText(page, 'tr[data-rollout="default/shop"] .phase', (t) => t.includes('Healthy'));

    await sluiceVerb(s, 'set', 'image', 'shop', 'app=sluice-demo:v2');
    // The list follows: paused on the pause step (index 2) after the analysis passed.
    await waitForText(page, 'tr[data-rollout="default/shop"] .step', (t) => t === '2/5');
    await waitForText(page, 'tr[data-rollout="default/shop"] .phase', (t) => t.includes('Paused'));
    expect(await page.$eval('tr[data-rollout="default/shop"] .weight', (el) => el.textContent)).toBe(
      '20% (set 20%)',
    );
    if (SCREENSHOTS) await screenshot(page, join(REPO, 'docs', 'images', 'dashboard-list.png'));

    await page.click('tr[data-rollout="default/shop"] a');
    await waitForText(page, '#phase', (t) => t.includes('Paused'));
    expect(
      await page.$$eval('ol.steps li', (els) => els.map((e) => `${e.className}:${e.textContent}`)),
    ).toEqual([
      'done:setWeight 20',
      'done:analysis: judge',
      'current:pause (until promoted)',
      'pending:setWeight 50',
      'pending:pause (until promoted)',
    ]);
    expect(await page.$eval('#weight-canary', (el) => el.textContent)).toBe('20%');
    // Revision 2 carries the canary ReplicaSet and the AnalysisRun with its two measurements.
    const rev2 = await waitForText(page, '.rev[data-revision="2"]', (t) => t.includes('Successful'));
    expect(rev2).toContain('canary');
    expect(rev2).toContain('AnalysisRun');
    expect(
      await page.$$eval(
        '.rev[data-revision="2"] .metric[data-metric="judge"] .meas tbody tr',
        (r) => r.length,
      ),
    ).toBe(2);
    expect(await page.$eval('.rev[data-revision="1"]', (el) => el.textContent)).toContain('stable');
    // The proxy's numbers: both revisions answer, all successfully (v1 and v2 are healthy).
    await waitFor(
      'proxy rows for both revisions',
      async () => ((await page.$$('table.proxy-stats tbody tr')).length === 2 ? true : undefined),
      20_000,
    );
    await waitForText(page, 'table.proxy-stats', (t) => (t.match(/100\.0%/g) ?? []).length === 2, 20_000);
    await waitForText(page, '#proxy-window', (t) => /last [1-9]/.test(t), 20_000);
    if (SCREENSHOTS) await screenshot(page, join(REPO, 'docs', 'images', 'dashboard-rollout.png'));

    const promoted = await clickAction(page, 'promote', 'default/shop');
    expect(promoted).toBe("rollout 'shop' promoted");
    await waitForText(page, '#step', (t) => t === '4/5');
    expect(await page.$eval('#weight-canary', (el) => el.textContent)).toBe('50%');

    const aborted = await clickAction(page, 'abort', 'default/shop');
    expect(aborted).toBe("rollout 'shop' aborted");
    await page.waitForSelector('#aborted');
    await waitForText(page, '#phase', (t) => t.includes('Degraded'));
    expect((await s.rollout()).status?.abort).toBe(true);
    expect(browser.problems).toEqual([]);
  }, 90_000);

  it('in --read-only mode shows no actions and the server refuses them', async () => {
    const s = await startStandalone({
      dir: join(dir, 'manifests'),
      state: join(dir, 'state.json'),
      kubeconfig: join(dir, 'kubeconfig'),
      ports: await standalonePorts(),
    });
    const port = await freePort();
    const d = runSluiceProcess([
      'dashboard',
      '--kubeconfig',
      s.kubeconfig,
      '-n',
      'default',
      '--listen',
      `127.0.0.1:${port}`,
      '--read-only',
    ]);
    const [, url] = await d.waitForOutput(/Sluice dashboard on (http:\/\/\S+) .*read-only/);
    browser = await openDashboardPage(`${url}#/rollouts/default/shop`);
    await browser.page.waitForSelector('#read-only');
    expect(await browser.page.$$('.actions button')).toEqual([]);
    const session = (await (await fetch(`${url}api/session`)).json()) as { csrfToken: string };
    const res = await fetch(`${url}api/rollouts/default/shop/actions/abort`, {
      method: 'POST',
      headers: { 'x-sluice-csrf': session.csrfToken },
    });
    expect(res.status).toBe(403);
    expect((await s.rollout()).status?.abort).toBeUndefined();
    expect(browser.problems).toEqual([]);
  }, 60_000);

  it('npm start -- --dashboard: the demo prints the dashboard URL, which lists the demo Rollout with the proxy numbers', async () => {
    const port = await freePort();
    const demo = runSluiceProcess([
      'demo',
      '--dashboard',
      '--dashboard-listen',
      `127.0.0.1:${port}`,
      '--plain',
      '--time-scale',
      '4',
    ]);
    const [, url] = await demo.waitForOutput(/Dashboard: (http:\/\/\S+)#\/rollouts\/default\/demo/, 30_000);
    expect(url).toBe(`http://127.0.0.1:${port}/`);
    browser = await openDashboardPage(`${url}#/rollouts/default/demo`);
    await waitForText(browser.page, '#phase', (t) => t.length > 0);
    // The demo's Rollout is routed by the proxy: the page gets its per-revision numbers.
    await waitForText(browser.page, 'table.proxy-stats', (t) => t.includes('stable'), 30_000);
    expect(browser.problems).toEqual([]);
    demo.child.kill('SIGINT');
    expect(await demo.exited).toBe(130);
  }, 90_000);
});

if (skip !== undefined) {
  describe('sluice dashboard in Chromium against standalone', () => {
    it.skip(skip, () => {});
  });
}
