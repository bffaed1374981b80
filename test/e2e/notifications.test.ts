// Notifications on the real test cluster with the real controller: Argo's notification ConfigMap (the
// fixture, applied unchanged with kubectl) and its Secret in the controller's namespace, a canary Rollout
// subscribed by annotation; `sluice abort` makes a local Slack-shaped server receive one chat.postMessage
// with Argo's rendered message, counted in notification_send_success; the Rollout carries
// notified.notifications.argoproj.io, and a restarted controller does not send it again. A webhook that
// answers 503 first is retried until it succeeds, each attempt counted, and a broken template becomes a
// Warning Event on the Rollout.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../cluster/paths.ts';
import { type LocalHttp, startLocalHttp } from '../integration/notifications/local-http.ts';
import { canaryRollout, E2e, scrapeMetrics } from './fixture.ts';

const FIXTURE = join(REPO_ROOT, 'test', 'fixtures', 'notifications', 'argo-notification-configmap.yaml');
// A restarted controller reconciles every Rollout as soon as its caches sync: a resend would come then.
const SETTLE_MS = 2_500;

let e: E2e | undefined;
const servers: LocalHttp[] = [];
afterEach(async () => {
  await e?.dispose();
  e = undefined;
  for (const s of servers.splice(0)) await s.close();
});

function secret(slackUrl: string, hookUrl: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'argo-rollouts-notification-secret' },
    stringData: { 'slack-token': 'xoxb-e2e', 'slack-api-url': `${slackUrl}/api/`, 'hook-url': hookUrl },
  };
}

describe('notifications with the controller on a real cluster', () => {
  it('an aborted canary notifies Slack once with the rendered message; a restart does not resend', async () => {
    const slack = await startLocalHttp(() => ({ status: 200, body: '{"ok":true}' }));
    servers.push(slack);
    e = await E2e.create('notify-abort', {
      controllerOptions: { notifications: { retry: { attempts: 3, initialDelayMs: 50, maxDelayMs: 200 } } },
    });
    await e.apply(await readFile(FIXTURE, 'utf8'));
    await e.apply(secret(slack.url, 'http://127.0.0.1:1'));
    const ro = canaryRollout('notified');
    (ro.metadata as Record<string, unknown>).annotations = {
      'notifications.argoproj.io/subscribe.on-rollout-aborted.slack': 'deployments',
    };
    await e.healthyRollout(ro, 'notified');
    await e.setImage('notified', 'example.com/app:v2');
    await e.waitForPhase('notified', 'Paused');
    expect(slack.requests).toEqual([]);
    await e.sluiceOk('abort', 'notified');
    await e.waitFor('a Slack message', async () => (slack.requests.length > 0 ? true : undefined));
    const after = await e.waitForRollout('notified', 'notified annotation', (r) =>
      Boolean(r.metadata.annotations?.['notified.notifications.argoproj.io']),
    );
    expect(slack.requests).toHaveLength(1);
    const post = slack.requests[0]!;
    expect(post.path).toBe('/api/chat.postMessage');
    expect(post.headers.authorization).toBe('Bearer xoxb-e2e');
    const body = JSON.parse(post.body) as {
      channel: string;
      text: string;
      attachments: { title: string; color: string; fields: { title: string; value: string }[] }[];
    };
    expect(body.channel).toBe('deployments');
    expect(body.text).toBe('Rollout notified has been aborted.');
    expect(body.attachments[0]).toMatchObject({ title: 'notified', color: '#E01E5A' });
    expect(body.attachments[0]!.fields).toEqual([
      { title: 'Strategy', value: 'Canary', short: true },
      { title: 'app', value: 'example.com/app:v2', short: true },
    ]);
    expect(
      Object.keys(JSON.parse(after.metadata.annotations!['notified.notifications.argoproj.io']!)),
    ).toEqual([expect.stringMatching(/^on-rollout-aborted:[\w-]+:slack:deployments$/)]);
    const metrics = await scrapeMetrics(e.controller);
    expect(metrics).toContain(
      `notification_send_success{namespace="${e.namespace}",name="notified",type="Warning",reason="RolloutAborted"} 1`,
    );

    await e.stopController();
    await e.startController();
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    expect(slack.requests).toHaveLength(1);
  }, 120_000);

  it('a webhook answering 503 is retried until it succeeds, every attempt counted; a broken template is a Warning Event', async () => {
    const hook = await startLocalHttp((_r, n) => (n <= 2 ? { status: 503 } : { status: 204 }));
    servers.push(hook);
    e = await E2e.create('notify-retry', {
      controllerOptions: { notifications: { retry: { attempts: 5, initialDelayMs: 50, maxDelayMs: 200 } } },
    });
    await e.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'argo-rollouts-notification-configmap' },
      data: {
        'service.webhook.deploys': 'url: $hook-url\n',
        // Broken: the Rollout gets a Warning Event, the paused notification still goes out.
        'template.rollout-updated':
          'webhook:\n  deploys:\n    method: POST\n    body: "{{ .rollout.metadata.name | nosuchfunction }}"\n',
        'template.rollout-paused':
          'webhook:\n  deploys:\n    method: POST\n    path: /paused/{{.rollout.metadata.name}}\n    body: \'{"step": {{.rollout.status.currentStepIndex}}}\'\n',
      },
    });
    await e.apply(secret('http://127.0.0.1:1', hook.url));
    const ro = canaryRollout('hooked');
    (ro.metadata as Record<string, unknown>).annotations = {
      'notifications.argoproj.io/subscribe.on-rollout-paused.deploys': '',
      'notifications.argoproj.io/subscribe.on-rollout-updated.deploys': '',
    };
    await e.healthyRollout(ro, 'hooked');
    await e.setImage('hooked', 'example.com/app:v2');
    await e.waitForPhase('hooked', 'Paused');
    await e.waitFor('the third attempt', async () => (hook.requests.length >= 3 ? true : undefined));
    expect(hook.requests.map((r) => `${r.method} ${r.path} ${r.body}`)).toEqual(
      Array(3).fill('POST /paused/hooked {"step": 1}'),
    );
    const metrics = await e.waitFor('the counters', async () => {
      const text = await scrapeMetrics(e!.controller);
      return text.includes('notification_send_success{') ? text : undefined;
    });
    const labels = `namespace="${e.namespace}",name="hooked",type="Normal",reason="RolloutPaused"`;
    expect(metrics).toContain(`notification_send_error{${labels}} 2`);
    expect(metrics).toContain(`notification_send_success{${labels}} 1`);
    await e.waitFor('the NotificationTemplateError Event', async () =>
      e!.eventReasons('hooked').includes('NotificationTemplateError') ? true : undefined,
    );
  }, 120_000);
});
