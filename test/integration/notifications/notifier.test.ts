// Notifications end to end over the in-memory store: the real Rollout reconciler (through the store wrapped
// by withNotifications, as the controller and standalone wire it) aborts a canary, and a local webhook and a
// local Slack-shaped server (chat.postMessage and an incoming webhook) receive what Argo's configuration
// asks for: once, not again after a restart, retried and counted when the endpoint fails, and a broken
// template becomes a Warning Event while the other notifications still go out.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/api/meta.ts';
import { createNotificationMetrics } from '../../../src/metrics/notification-metrics.ts';
import { Registry } from '../../../src/metrics/registry.ts';
import {
  NOTIFIED_ANNOTATION,
  Notifier,
  TEMPLATE_ERROR_REASON,
  withNotifications,
} from '../../../src/notifications/notifier.ts';
import { reconcileRollout } from '../../../src/rollout/reconcile.ts';
import { Harness, NS } from '../../fixtures/rollout-harness.ts';
import { webRollout } from '../../fixtures/rollout-objects.ts';
import { type CapturedRequest, type LocalHttp, startLocalHttp } from './local-http.ts';

const CONTROLLER_NS = 'argo-rollouts';
const FAST_RETRY = { attempts: 4, initialDelayMs: 20, maxDelayMs: 50 };

function configMap(data: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'argo-rollouts-notification-configmap', namespace: CONTROLLER_NS },
    data,
  } as KubeObject;
}

const secret: KubeObject = {
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'argo-rollouts-notification-secret', namespace: CONTROLLER_NS },
  data: {
    'slack-token': Buffer.from('xoxb-test').toString('base64'),
    'hook-pass': Buffer.from('pw').toString('base64'),
  },
} as KubeObject;

interface Setup {
  h: Harness;
  notifier: Notifier;
  registry: Registry;
}

let servers: LocalHttp[] = [];
let notifiers: Notifier[] = [];

beforeEach(() => {
  servers = [];
  notifiers = [];
});
afterEach(async () => {
  for (const n of notifiers) await n.close();
  for (const s of servers) await s.close();
});

async function server(
  answer?: (r: CapturedRequest, n: number) => { status: number; body?: string },
): Promise<LocalHttp> {
  const s = await startLocalHttp(answer);
  servers.push(s);
  return s;
}

function newNotifier(h: Harness, registry: Registry): Notifier {
  const notifier = new Notifier({
    store: h.store,
    namespace: CONTROLLER_NS,
    retry: FAST_RETRY,
    metrics: createNotificationMetrics(registry),
  });
  notifiers.push(notifier);
  const wrapped = withNotifications(h.store, notifier);
  h.reconcile = () => reconcileRollout(wrapped, NS, h.name, h.nowMs, {});
  return notifier;
}

/** A canary Rollout `web` subscribed by `annotations`, converged at v1, updated to v2 (paused at step 1). */
async function pausedCanary(
  data: Record<string, string>,
  annotations: Record<string, string>,
): Promise<Setup> {
  const h = new Harness('web');
  const registry = new Registry();
  const notifier = newNotifier(h, registry);
  const ro = webRollout({ canary: { steps: [{ setWeight: 50 }, { pause: {} }] } });
  ro.metadata.annotations = annotations;
  h.seed([configMap(data), secret, ro]);
  await h.converge();
  await h.setImage('web:2');
  await h.converge();
  expect(h.ro().status?.phase).toBe('Paused');
  await notifier.idle();
  return { h, notifier, registry };
}

async function abort(s: Setup): Promise<void> {
  await s.h.patchStatus({ abort: true });
  await s.h.converge();
  expect(s.h.ro().status?.phase).toBe('Degraded');
  await s.notifier.idle();
}

async function counter(registry: Registry, name: string): Promise<number> {
  const m = await registry.getSingleMetric(name)!.get();
  return m.values.reduce((sum, v) => sum + v.value, 0);
}

describe('notifications on a Rollout over the in-memory store', () => {
  it('an aborted canary notifies the webhook and Slack once, with the rendered messages', async () => {
    const hook = await server();
    const slack = await server(() => ({ status: 200, body: '{"ok":true}' }));
    const s = await pausedCanary(
      {
        'service.webhook.ops-hook': `url: ${hook.url}/hooks\nheaders:\n- name: Content-Type\n  value: application/json\nbasicAuth:\n  username: sluice\n  password: $hook-pass\n`,
        'service.slack': `token: $slack-token\napiURL: ${slack.url}/api/\n`,
        'template.rollout-aborted': [
          'message: Rollout {{.rollout.metadata.name}} has been aborted.',
          'slack:',
          '  attachments: |',
          '    [{"title": "{{.rollout.metadata.name}}", "color": "#E01E5A"}]',
          'webhook:',
          '  ops-hook:',
          '    method: POST',
          '    path: /{{.rollout.metadata.namespace}}',
          '    body: |',
          '      {"rollout": "{{.rollout.metadata.name}}", "phase": "{{.rollout.status.phase}}", "image": "{{(index .rollout.spec.template.spec.containers 0).image}}"}',
        ].join('\n'),
      },
      {
        'notifications.argoproj.io/subscribe.on-rollout-aborted.ops-hook': '',
        'notifications.argoproj.io/subscribe.on-rollout-aborted.slack': 'deployments',
      },
    );
    expect(hook.requests).toEqual([]);
    await abort(s);

    expect(hook.requests).toHaveLength(1);
    const req = hook.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe(`/hooks/${NS}`);
    expect(req.headers.authorization).toBe(`Basic ${Buffer.from('sluice:pw').toString('base64')}`);
    expect(JSON.parse(req.body)).toEqual({ rollout: 'web', phase: 'Degraded', image: 'web:2' });

    expect(slack.requests).toHaveLength(1);
    const post = slack.requests[0]!;
    expect(post.path).toBe('/api/chat.postMessage');
    expect(post.headers.authorization).toBe('Bearer xoxb-test');
    expect(JSON.parse(post.body)).toEqual({
      channel: 'deployments',
      text: 'Rollout web has been aborted.',
      attachments: [{ title: 'web', color: '#E01E5A' }],
    });

    const notified = JSON.parse(s.h.ro().metadata.annotations![NOTIFIED_ANNOTATION]!) as Record<
      string,
      number
    >;
    expect(Object.keys(notified).sort()).toEqual([
      expect.stringMatching(/^on-rollout-aborted:[\w-]+:ops-hook:$/),
      expect.stringMatching(/^on-rollout-aborted:[\w-]+:slack:deployments$/),
    ]);
    expect(await counter(s.registry, 'notification_send_success')).toBe(2);
    expect(await counter(s.registry, 'notification_send_error')).toBe(0);

    // More reconciles of the aborted Rollout send nothing more.
    await s.h.converge();
    await s.notifier.idle();
    expect(hook.requests).toHaveLength(1);
    expect(slack.requests).toHaveLength(1);
  });

  it('a restarted controller that records the same Event again does not resend', async () => {
    const hook = await server();
    const s = await pausedCanary(
      {
        'service.webhook.hook': `url: ${hook.url}\n`,
        'template.rollout-aborted':
          'webhook:\n  hook:\n    method: POST\n    body: aborted {{.rollout.metadata.name}}\n',
      },
      { 'notifications.argoproj.io/subscribe.on-rollout-aborted.hook': '' },
    );
    await abort(s);
    expect(hook.requests.map((r) => r.body)).toEqual(['aborted web']);
    const aborted = s.h.store
      .list<KubeObject & { reason: string; message: string }>('Event', NS)
      .find((e) => e.reason === 'RolloutAborted')!;

    // A new process: a new Notifier with nothing in memory, the same Rollout (and its annotation).
    await s.notifier.close();
    const restarted = newNotifier(s.h, new Registry());
    const wrapped = withNotifications(s.h.store, restarted);
    wrapped.recordEvent(s.h.ro(), 'Warning', 'RolloutAborted', aborted.message);
    await restarted.idle();
    expect(hook.requests).toHaveLength(1);

    // A different event (another revision's abort) is still sent.
    wrapped.recordEvent(s.h.ro(), 'Warning', 'RolloutAborted', 'Rollout aborted update to revision 3');
    await restarted.idle();
    expect(hook.requests).toHaveLength(2);
  });

  it('a retried canary that pauses and is aborted again at the same revision is notified again', async () => {
    const hook = await server();
    const s = await pausedCanary(
      {
        'service.webhook.hook': `url: ${hook.url}\n`,
        'template.rollout-aborted': 'webhook:\n  hook:\n    method: POST\n    body: aborted\n',
        'template.rollout-paused':
          'webhook:\n  hook:\n    method: POST\n    body: paused {{.rollout.status.currentStepIndex}}\n',
      },
      {
        'notifications.argoproj.io/subscribe.on-rollout-aborted.hook': '',
        'notifications.argoproj.io/subscribe.on-rollout-paused.hook': '',
      },
    );
    expect(hook.requests.map((r) => r.body)).toEqual(['paused 1']);
    await abort(s);
    // Retry (what `sluice retry` writes), later: the canary pauses at step 1 again, and is aborted again.
    s.h.nowMs += 60_000;
    await s.h.patchStatus({ abort: false });
    await s.h.converge();
    expect(s.h.ro().status?.phase).toBe('Paused');
    await s.notifier.idle();
    s.h.nowMs += 60_000;
    await abort(s);
    expect(hook.requests.map((r) => r.body)).toEqual(['paused 1', 'aborted', 'paused 1', 'aborted']);
  });

  it('a failing endpoint is retried with backoff and every attempt is counted', async () => {
    const hook = await server((_r, n) => (n <= 2 ? { status: 503, body: 'busy' } : { status: 200 }));
    const down = await server(() => ({ status: 500 }));
    const s = await pausedCanary(
      {
        'service.webhook.hook': `url: ${hook.url}\n`,
        'service.webhook.down': `url: ${down.url}\n`,
        'template.rollout-aborted':
          'webhook:\n  hook:\n    method: POST\n    body: x\n  down:\n    method: POST\n    body: y\n',
      },
      {
        'notifications.argoproj.io/subscribe.on-rollout-aborted.hook': '',
        'notifications.argoproj.io/subscribe.on-rollout-aborted.down': '',
      },
    );
    await abort(s);
    expect(hook.requests).toHaveLength(3);
    expect(down.requests).toHaveLength(FAST_RETRY.attempts);
    expect(await counter(s.registry, 'notification_send_success')).toBe(1);
    expect(await counter(s.registry, 'notification_send_error')).toBe(2 + FAST_RETRY.attempts);
    const text = await s.registry.metrics();
    expect(text).toContain(
      `notification_send_success{namespace="${NS}",name="web",type="Warning",reason="RolloutAborted"} 1`,
    );
    expect(text).toContain(
      `notification_send_performance_count{namespace="${NS}",name="web"} ${3 + FAST_RETRY.attempts}`,
    );
    // The one that never got through is not recorded as notified (a later event may deliver it).
    const notified = Object.keys(JSON.parse(s.h.ro().metadata.annotations![NOTIFIED_ANNOTATION]!) as object);
    expect(notified.some((k) => k.includes(':down:'))).toBe(false);
    expect(notified.some((k) => k.includes(':hook:'))).toBe(true);
  });

  it("a webhook's own retryMax / retryWaitMin / retryWaitMax (Argo's settings) replace the default policy", async () => {
    const down = await server(() => ({ status: 502 }));
    const s = await pausedCanary(
      {
        'service.webhook.limited': `url: ${down.url}\nretryMax: 1\nretryWaitMin: 10ms\nretryWaitMax: 20ms\n`,
        'template.rollout-aborted': 'webhook:\n  limited:\n    method: POST\n    body: x\n',
      },
      { 'notifications.argoproj.io/subscribe.on-rollout-aborted.limited': '' },
    );
    await abort(s);
    expect(down.requests).toHaveLength(2);
    expect(await counter(s.registry, 'notification_send_error')).toBe(2);
  });

  it('closing the notifier gives up a pending backoff at once instead of waiting it out', async () => {
    const down = await server(() => ({ status: 503 }));
    const h = new Harness('web');
    const notifier = new Notifier({
      store: h.store,
      namespace: CONTROLLER_NS,
      retry: { attempts: 5, initialDelayMs: 60_000, maxDelayMs: 60_000 },
    });
    const ro = webRollout({ canary: { steps: [{ setWeight: 50 }] } });
    ro.metadata.annotations = { 'notifications.argoproj.io/subscribe.on-rollout-aborted.down': '' };
    h.seed([
      configMap({
        'service.webhook.down': `url: ${down.url}\n`,
        'template.rollout-aborted': 'webhook:\n  down:\n    method: POST\n',
      }),
      ro,
    ]);
    notifier.onEvent(h.ro(), 'Warning', 'RolloutAborted', 'Rollout aborted update to revision 1');
    const started = Date.now();
    while (down.requests.length === 0 && Date.now() - started < 5_000)
      await new Promise((r) => setTimeout(r, 10));
    expect(down.requests).toHaveLength(1);
    const closing = Date.now();
    await notifier.close();
    expect(Date.now() - closing).toBeLessThan(5_000);
    expect(down.requests).toHaveLength(1);
  });

  it('Slack answering ok:false (not a transient error) is counted once and not retried', async () => {
    const slack = await server(() => ({ status: 200, body: '{"ok":false,"error":"channel_not_found"}' }));
    const s = await pausedCanary(
      { 'service.slack': `token: $slack-token\napiURL: ${slack.url}/\n` },
      { 'notifications.argoproj.io/subscribe.on-rollout-aborted.slack': 'nowhere' },
    );
    await abort(s);
    expect(slack.requests).toHaveLength(1);
    expect(await counter(s.registry, 'notification_send_error')).toBe(1);
    expect(await counter(s.registry, 'notification_send_success')).toBe(0);
    expect(s.h.ro().metadata.annotations?.[NOTIFIED_ANNOTATION]).toBeUndefined();
  });

  it("self-service: with selfService the Rollout's namespace's ConfigMap and Secret notify its subscribers", async () => {
    const hook = await server();
    const h = new Harness('web');
    const registry = new Registry();
    const notifier = new Notifier({
      store: h.store,
      namespace: CONTROLLER_NS,
      selfService: true,
      retry: FAST_RETRY,
      metrics: createNotificationMetrics(registry),
    });
    notifiers.push(notifier);
    const wrapped = withNotifications(h.store, notifier);
    h.reconcile = () => reconcileRollout(wrapped, NS, h.name, h.nowMs, {});
    const own = configMap({
      'service.webhook.team-hook': 'url: $team-url\n',
      'template.rollout-updated':
        'webhook:\n  team-hook:\n    method: POST\n    body: updated {{.rollout.metadata.namespace}}/{{.rollout.metadata.name}} to {{index .rollout.metadata.annotations "rollout.argoproj.io/revision"}}\n',
    });
    own.metadata.namespace = NS;
    const ro = webRollout({ canary: { steps: [{ setWeight: 50 }, { pause: {} }] } });
    ro.metadata.annotations = { 'notifications.argoproj.io/subscribe.on-rollout-updated.team-hook': '' };
    h.seed([
      own,
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'argo-rollouts-notification-secret', namespace: NS },
        stringData: { 'team-url': hook.url },
      } as KubeObject,
      ro,
    ]);
    await h.converge();
    await h.setImage('web:2');
    await h.converge();
    await notifier.idle();
    // RolloutUpdated is recorded for the first revision too (as Argo records it).
    expect(hook.requests.map((r) => r.body)).toEqual([`updated ${NS}/web to 1`, `updated ${NS}/web to 2`]);
  });

  it('a template error is a Warning Event on the Rollout and the other notifications still go out', async () => {
    const hook = await server();
    const slack = await server(() => ({ status: 200, body: 'ok' }));
    const s = await pausedCanary(
      {
        'service.webhook.hook': `url: ${hook.url}\n`,
        // Sluice's incoming-webhook form of the Slack service.
        'service.slack': `webhook: ${slack.url}/services/T0/B0/xyz\n`,
        'trigger.on-rollout-aborted': '- send: [broken, fine]\n',
        'template.broken':
          'message: "{{ .rollout.metadata.name | nosuchfunction }}"\nwebhook:\n  hook:\n    method: POST\n    body: never\n',
        'template.fine':
          'message: fine {{.rollout.metadata.name}}\nwebhook:\n  hook:\n    method: PUT\n    body: fine\n',
      },
      {
        'notifications.argoproj.io/subscribe.on-rollout-aborted.hook': '',
        'notifications.argoproj.io/subscribe.on-rollout-aborted.slack': '#ops',
      },
    );
    await abort(s);
    expect(hook.requests.map((r) => `${r.method} ${r.body}`)).toEqual(['PUT fine']);
    expect(slack.requests.map((r) => JSON.parse(r.body))).toEqual([{ text: 'fine web', channel: '#ops' }]);
    const warnings = s.h.store
      .list<KubeObject & { reason: string; message: string; type: string }>('Event', NS)
      .filter((e) => e.reason === TEMPLATE_ERROR_REASON);
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings[0]!.type).toBe('Warning');
    expect(warnings[0]!.message).toContain('function "nosuchfunction" not defined');
    expect(await counter(s.registry, 'notification_send_error')).toBe(2);
  });

  it('subscriptions in the ConfigMap and the built-in catalogue: a paused step notifies without any template', async () => {
    const slack = await server(() => ({ status: 200, body: '{"ok":true}' }));
    const h = new Harness('web');
    const notifier = newNotifier(h, new Registry());
    const ro = webRollout({ canary: { steps: [{ setWeight: 50 }, { pause: {} }] } });
    ro.metadata.labels = { team: 'payments' };
    h.seed([
      configMap({
        'service.slack': `token: $slack-token\napiURL: ${slack.url}/api\n`,
        subscriptions:
          '- recipients: [slack:payments]\n  triggers: [on-rollout-paused, on-rollout-updated]\n  selector: team=payments\n',
      }),
      secret,
      ro,
    ]);
    await h.converge();
    await h.setImage('web:2');
    await h.converge();
    await notifier.idle();
    const texts = slack.requests.map((r) => (JSON.parse(r.body) as { text: string }).text);
    expect(texts).toContain('Rollout web has been updated.');
    expect(texts).toContain('Rollout web has been paused.');
    const paused = slack.requests.find((r) => r.body.includes('has been paused'))!;
    const body = JSON.parse(paused.body) as { attachments: { fields: { title: string; value: string }[] }[] };
    expect(body.attachments[0]!.fields).toEqual([
      { title: 'Strategy', value: 'Canary', short: true },
      { title: 'web', value: 'web:2', short: true },
    ]);
  });
});
