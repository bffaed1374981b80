// Argo's notification catalogue renders with Sluice's Go-template subset; the template language's rules
// (Go's truth, missing keys, pipelines, sprig functions, errors); trigger conditions in expr; subscriptions.
import { describe, expect, it } from 'vitest';
import { evaluateProgram } from '../../../src/analysis/expr/index.ts';
import { BUILTIN_CONFIG_DATA, BUILTIN_TRIGGERS } from '../../../src/notifications/builtins.ts';
import { parseNotificationConfig, replaceSecrets, secretValues } from '../../../src/notifications/config.ts';
import { renderGoTemplate } from '../../../src/notifications/go-template.ts';
import { renderNotification } from '../../../src/notifications/render.ts';
import {
  destinationsFor,
  parseRecipients,
  triggerForReason,
} from '../../../src/notifications/subscriptions.ts';

const rollout = {
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'Rollout',
  metadata: { name: 'guestbook', namespace: 'apps', labels: { team: 'a' } },
  spec: {
    replicas: 5,
    strategy: { canary: { steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 60 }] } },
    template: {
      spec: {
        containers: [
          { name: 'app', image: 'registry/app:v2' },
          { name: 'sidecar', image: 'registry/sidecar:v1' },
        ],
      },
    },
  },
  status: { currentStepIndex: 1, updatedReplicas: 2, phase: 'Degraded' },
};

const slack = { type: 'slack' as const, name: 'slack', apiURL: 'http://x/', token: 't' };

describe('Argo notification catalogue', () => {
  const config = parseNotificationConfig('argo-rollouts', BUILTIN_CONFIG_DATA, {});

  it('has the nine built-in triggers, each sending its template, no condition', () => {
    expect(config.errors).toEqual([]);
    expect([...config.triggers.keys()].sort()).toEqual([...BUILTIN_TRIGGERS].sort());
    for (const [, conditions] of config.triggers) {
      expect(conditions).toHaveLength(1);
      expect(conditions[0]!.when).toBeUndefined();
      expect(config.templates.has(conditions[0]!.send[0]!)).toBe(true);
    }
  });

  it.each([
    ['rollout-aborted', 'Rollout guestbook has been aborted.'],
    ['rollout-completed', 'Rollout guestbook has been completed.'],
    ['rollout-step-completed', 'Rollout guestbook step number 2/3 has been completed.'],
    ['scaling-replicaset', "Scaling Rollout guestbook's replicaset to 5."],
    ['analysis-run-failed', "Rollout guestbook's analysis run failed."],
  ])('renders %s: message and Slack attachments that parse as JSON', (name, message) => {
    const r = renderNotification(config.templates.get(name)!, slack, { rollout }, 0);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.notification.message).toBe(message);
    const [att] = r.notification.slack!.attachments as {
      title: string;
      fields: { title: string; value: string }[];
    }[];
    expect(att!.title).toBe('guestbook');
    expect(att!.fields[0]).toEqual({ title: 'Strategy', value: 'Canary', short: true });
    expect(att!.fields.slice(-2).map((f) => `${f.title}=${f.value}`)).toEqual([
      'app=registry/app:v2',
      'sidecar=registry/sidecar:v1',
    ]);
  });

  it('renders every catalogue template for a blue-green Rollout except the canary-only step one', () => {
    const bg = { ...rollout, spec: { ...rollout.spec, strategy: { blueGreen: { activeService: 'a' } } } };
    for (const [name, t] of config.templates) {
      const r = renderNotification(t, slack, { rollout: bg }, 0);
      if (name === 'rollout-step-completed') expect(r.ok).toBe(false);
      else expect(r.ok, `${name}: ${r.ok ? '' : r.error}`).toBe(true);
    }
  });

  it('docs/notifications.md shows the fixture ConfigMap as it is', async () => {
    const { readFile } = await import('node:fs/promises');
    const doc = await readFile('docs/notifications.md', 'utf8');
    const block = /<!-- argo-notification-configmap -->\n```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
    const fixture = (await readFile('test/fixtures/notifications/argo-notification-configmap.yaml', 'utf8'))
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .join('\n');
    expect(block).toBe(fixture);
  });

  it('renders the Argo ConfigMap used unchanged in docs/notifications.md', async () => {
    const { readFile } = await import('node:fs/promises');
    const { parse } = await import('yaml');
    const cm = parse(
      await readFile('test/fixtures/notifications/argo-notification-configmap.yaml', 'utf8'),
    ) as {
      data: Record<string, string>;
    };
    const cfg = parseNotificationConfig('argo-rollouts', cm.data, {
      'slack-token': 'xoxb-1',
      'slack-api-url': 'http://127.0.0.1:9/api/',
    });
    expect(cfg.errors).toEqual([]);
    const svc = cfg.services.get('slack')!;
    expect(svc).toMatchObject({ type: 'slack', token: 'xoxb-1', apiURL: 'http://127.0.0.1:9/api/' });
    const r = renderNotification(cfg.templates.get('rollout-aborted')!, svc, { rollout }, 0);
    expect(r.ok && r.notification.message).toBe('Rollout guestbook has been aborted.');
  });
});

describe('Go template subset', () => {
  const data = { a: '', b: 'y', n: 3, l: [{ n: 1 }, { n: 2 }], m: { k: 'v', j: 'w' }, nul: null };
  it.each([
    ['{{.b}} {{.n}} {{.missing}} {{.missing.deeper}} {{.nul}}', 'y 3 <no value> <no value> <nil>'],
    ['{{if .a}}A{{else if .b}}B{{else}}C{{end}}', 'B'],
    ['{{with .m}}{{.k}}{{end}}{{with .a}}x{{else}}none{{end}}', 'vnone'],
    ['{{range $i, $e := .l}}{{$i}}:{{$e.n}} {{end}}', '0:1 1:2 '],
    ['{{range $k, $v := .m}}{{$k}}={{$v}};{{end}}', 'j=w;k=v;'],
    ['{{range .missing}}x{{else}}empty{{end}}', 'empty'],
    ['{{range .l}}{{if eq .n 2}}{{break}}{{end}}{{.n}}{{end}}', '1'],
    ['{{ .a | default "dflt" | upper }}', 'DFLT'],
    ['{{ printf "%s-%d-%.1f" .b .n 1.5 }}', 'y-3-1.5'],
    ['{{ (index .l 1).n }} {{ index .m "k" }} {{ len .l }} {{ len "é" }}', '2 v 2 2'],
    ['{{ and .b .a }}|{{ or .a .b }}|{{ not .a }}', '|y|true'],
    ['{{ eq .b "x" "y" }} {{ ne .n 3 }} {{ lt 1 2 }} {{ ge .n 4 }}', 'true false true false'],
    ['{{ add .n 1 }} {{ add .missing 1 }} {{ sub 5 2 }} {{ mul 2 3 }} {{ div 7 2 }}', '4 1 3 6 3'],
    ['{{ .m | toJson }} {{ quote .b }} {{ join "," (list 1 2) }}', '{"k":"v","j":"w"} "y" 1,2'],
    ['a  {{- .b -}}  z {{/* comment */}}.', 'ayz .'],
    ['{{ $x := .b }}{{ $x = "q" }}{{ $x }}', 'q'],
    ['{{ now | date "2006-01-02T15:04:05Z07:00" }}', '1970-01-01T00:00:01Z'],
    [
      '{{ trimPrefix "re" "release" }} {{ replace "a" "b" "aa" }} {{ contains "ll" "hello" }}',
      'lease bb true',
    ],
  ])('%s', (src, want) => {
    expect(renderGoTemplate('t', src, data, { nowMs: 1000 })).toEqual({ ok: true, text: want });
  });

  it.each([
    ['{{ if .a }}', 'template: t:1: unexpected EOF'],
    ['{{ nosuch .a }}', 'template: t:1: function "nosuch" not defined'],
    ['x\n{{ .nul.field }}', 'nil pointer evaluating interface {}.field'],
    ['{{ len .missing }}', 'len of nil pointer'],
    ['{{ index .l 5 }}', 'index out of range'],
    ['{{ define "x" }}{{ end }}', 'not supported'],
    ['{{ .b 1 }}', "can't give argument to non-function"],
    ['{{"unterminated}}', 'unterminated quoted string'],
  ])('fails on %s', (src, msg) => {
    const r = renderGoTemplate('t', src, data);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(msg);
  });

  it('keeps __proto__ a plain key (dict, Secret data, ConfigMap keys)', () => {
    expect(renderGoTemplate('t', '{{ $d := dict "__proto__" "x" }}{{ index $d "__proto__" }}', {})).toEqual({
      ok: true,
      text: 'x',
    });
    const secrets = secretValues({
      stringData: JSON.parse('{"__proto__": "p", "k": "v"}') as Record<string, string>,
    });
    expect(Object.getPrototypeOf(secrets)).toBeNull();
    expect(replaceSecrets('$__proto__ $k $toString', secrets)).toBe('p v $toString');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('stops a template that runs away instead of hanging', () => {
    const r = renderGoTemplate('t', '{{range .l}}{{range $.l}}{{range $.l}}x{{end}}{{end}}{{end}}', {
      l: Array(200).fill(0),
    });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/exceeded \d+ steps|output longer/);
  });
});

describe('trigger conditions (expr over `rollout`)', () => {
  it('evaluates Argo-style conditions with the analysis condition language', () => {
    const cfg = parseNotificationConfig(
      'ns',
      {
        'trigger.on-degraded': "- when: rollout.status.phase == 'Degraded'\n  send: [t]\n",
        'trigger.on-two':
          "- when: len(rollout.spec.template.spec.containers) > 1 && rollout.metadata.labels.team in ['a','b']\n  send: [t]\n",
        'trigger.bad': '- when: rollout.status.phase ==\n  send: [t]\n',
        // Argo's docs example (features/notifications.md).
        'trigger.on-purple':
          "- send: [t]\n  when: rollout.spec.template.spec.containers[0].image == 'registry/app:v2'\n",
      },
      {},
    );
    for (const name of ['on-degraded', 'on-two', 'on-purple']) {
      const c = cfg.triggers.get(name)![0]!;
      expect(c.program?.ok).toBe(true);
      if (c.program?.ok)
        expect(evaluateProgram(c.program.program, { rollout })).toEqual({ ok: true, value: true });
    }
    expect(cfg.triggers.get('bad')![0]!.program?.ok).toBe(false);
  });
});

describe('subscriptions and configuration', () => {
  it('maps Event reasons to trigger names as Argo does', () => {
    expect(triggerForReason('RolloutAborted')).toBe('on-rollout-aborted');
    expect(triggerForReason('ScalingReplicaSet')).toBe('on-scaling-replica-set');
    expect(triggerForReason('RolloutStepCompleted')).toBe('on-rollout-step-completed');
    expect(triggerForReason('AnalysisRunFailed')).toBe('on-analysis-run-failed');
  });

  it('reads annotation subscriptions, service default triggers and ConfigMap subscriptions by selector', () => {
    const cfg = parseNotificationConfig(
      'ns',
      {
        defaultTriggers: '[on-rollout-completed]',
        'defaultTriggers.hook': '[on-rollout-paused, on-rollout-aborted]',
        subscriptions:
          '- recipients: [slack:ops, hook]\n  triggers: [on-rollout-aborted]\n  selector: team=a\n- recipients: [slack:other]\n  selector: team=b\n',
      },
      {},
    );
    const d = destinationsFor(
      cfg,
      { team: 'a' },
      {
        'notifications.argoproj.io/subscribe.on-rollout-aborted.slack': 'dev; ops',
        'notifications.argoproj.io/subscribe.hook': '',
        'notifications.argoproj.io/subscribe.slack': 'all',
        unrelated: 'x',
      },
    );
    expect(d.get('on-rollout-aborted')).toEqual([
      { service: 'slack', recipient: 'ops' },
      { service: 'hook', recipient: '' },
      { service: 'slack', recipient: 'dev' },
    ]);
    expect(d.get('on-rollout-paused')).toEqual([{ service: 'hook', recipient: '' }]);
    expect(d.get('on-rollout-completed')).toEqual([{ service: 'slack', recipient: 'all' }]);
    expect(parseRecipients('')).toEqual(['']);
  });

  it('reads the list form notifications.argoproj.io/subscriptions (Argo docs example)', () => {
    const cfg = parseNotificationConfig('ns', { 'defaultTriggers.hook': '[on-rollout-paused]' }, {});
    const d = destinationsFor(
      cfg,
      {},
      {
        'notifications.argoproj.io/subscriptions': [
          '- trigger: [on-scaling-replica-set, on-rollout-updated]',
          '  destinations:',
          '  - service: slack',
          '    recipients: [my-channel-1, my-channel-2]',
          '- trigger: [on-rollout-aborted]',
          '  destinations:',
          '  - service: slack',
          '    recipients: [my-channel-21]',
          '- destinations:',
          '  - service: hook',
        ].join('\n'),
      },
    );
    expect(d.get('on-rollout-updated')).toEqual([
      { service: 'slack', recipient: 'my-channel-1' },
      { service: 'slack', recipient: 'my-channel-2' },
    ]);
    expect(d.get('on-rollout-aborted')).toEqual([{ service: 'slack', recipient: 'my-channel-21' }]);
    expect(d.get('on-rollout-paused')).toEqual([{ service: 'hook', recipient: '' }]);
    expect(destinationsFor(cfg, {}, { 'notifications.argoproj.io/subscriptions': '{not: [valid' }).size).toBe(
      0,
    );
  });

  it('substitutes $secret references in service settings and keeps bad keys as errors', () => {
    const secrets = secretValues({
      data: { token: Buffer.from('s3cret').toString('base64') },
      stringData: { user: 'u' },
    });
    expect(replaceSecrets('Bearer $token $unknown', secrets)).toBe('Bearer s3cret $unknown');
    const cfg = parseNotificationConfig(
      'ns',
      {
        'service.webhook.hook':
          'url: http://h/\nheaders:\n- name: Authorization\n  value: Bearer $token\nbasicAuth:\n  username: $user\n  password: $token\n',
        'service.slack': 'token: $token\napiURL: http://127.0.0.1:1/api\n',
        'service.email': 'host: smtp\n',
        'service.webhook.retrying': 'url: http://r/\nretryMax: 2\nretryWaitMax: 2s\n',
        'service.webhook.wrong': 'url: http://w/\nretryWaitMin: soon\n',
        'template.bad': 'message: [unclosed\n',
      },
      secrets,
    );
    expect(cfg.services.get('hook')).toEqual({
      type: 'webhook',
      name: 'hook',
      url: 'http://h/',
      headers: [{ name: 'Authorization', value: 'Bearer s3cret' }],
      basicAuth: { username: 'u', password: 's3cret' },
    });
    expect(cfg.services.get('slack')).toMatchObject({ token: 's3cret', apiURL: 'http://127.0.0.1:1/api/' });
    expect(cfg.services.get('retrying')).toMatchObject({
      retry: { attempts: 3, initialDelayMs: 1_000, maxDelayMs: 2_000 },
    });
    expect(cfg.errors.map((e) => e.split(':')[0])).toEqual([
      'service.email',
      'service.webhook.wrong.retryWaitMin',
      'template.bad',
    ]);
  });
});
