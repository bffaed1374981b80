// Argo Rollouts' notification catalogue (manifests/notifications/*.yaml, installed by Argo's
// notifications-install.yaml): the nine triggers, none with a `when` condition (Argo sends on its Events:
// the trigger is the Event reason, see subscriptions.ts triggerForReason), and their templates with the
// message, email subject and Slack attachments as Argo ships them. Sluice has them built in: a
// ConfigMap key of the same name replaces the built-in one.

interface CatalogueEntry {
  readonly trigger: string;
  readonly template: string;
  readonly text: string;
  readonly color: string;
  /** Extra Slack attachment fields after "Strategy", as Argo's templates have them. */
  readonly fields?: readonly { readonly title: string; readonly value: string }[];
}

const NAME = '{{.rollout.metadata.name}}';
const STEP = '{{add .rollout.status.currentStepIndex 1}}/{{len .rollout.spec.strategy.canary.steps}}';

const CATALOGUE: readonly CatalogueEntry[] = [
  {
    trigger: 'on-rollout-completed',
    template: 'rollout-completed',
    text: `Rollout ${NAME} has been completed.`,
    color: '#18be52',
  },
  {
    trigger: 'on-scaling-replica-set',
    template: 'scaling-replicaset',
    text: `Scaling Rollout ${NAME}'s replicaset to {{.rollout.spec.replicas}}.`,
    color: '#18be52',
    fields: [
      { title: 'Desired replica', value: '{{.rollout.spec.replicas}}' },
      { title: 'Updated replicas', value: '{{.rollout.status.updatedReplicas}}' },
    ],
  },
  {
    trigger: 'on-rollout-step-completed',
    template: 'rollout-step-completed',
    text: `Rollout ${NAME} step number {{ add .rollout.status.currentStepIndex 1}}/{{len .rollout.spec.strategy.canary.steps}} has been completed.`,
    color: '#18be52',
    fields: [{ title: 'Step completed', value: STEP }],
  },
  {
    trigger: 'on-rollout-updated',
    template: 'rollout-updated',
    text: `Rollout ${NAME} has been updated.`,
    color: '#18be52',
  },
  {
    trigger: 'on-rollout-aborted',
    template: 'rollout-aborted',
    text: `Rollout ${NAME} has been aborted.`,
    color: '#E01E5A',
  },
  {
    trigger: 'on-rollout-paused',
    template: 'rollout-paused',
    text: `Rollout ${NAME} has been paused.`,
    color: '#18be52',
  },
  {
    trigger: 'on-analysis-run-running',
    template: 'analysis-run-running',
    text: `Rollout ${NAME}'s analysis run is running.`,
    color: '#18be52',
  },
  {
    trigger: 'on-analysis-run-error',
    template: 'analysis-run-error',
    text: `Rollout ${NAME}'s analysis run is in error state.`,
    color: '#ECB22E',
  },
  {
    trigger: 'on-analysis-run-failed',
    template: 'analysis-run-failed',
    text: `Rollout ${NAME}'s analysis run failed.`,
    color: '#E01E5A',
  },
];

function attachments(e: CatalogueEntry): string {
  const extra = (e.fields ?? [])
    .map(
      (f) =>
        `,\n    {\n      "title": "${f.title}",\n      "value": "${f.value}",\n      "short": true\n    }`,
    )
    .join('');
  return `[{
  "title": "{{ .rollout.metadata.name}}",
  "color": "${e.color}",
  "fields": [
  {
    "title": "Strategy",
    "value": "{{if .rollout.spec.strategy.blueGreen}}BlueGreen{{end}}{{if .rollout.spec.strategy.canary}}Canary{{end}}",
    "short": true
  }${extra}
  {{range $index, $c := .rollout.spec.template.spec.containers}}
    {{if not $index}},{{end}}
    {{if $index}},{{end}}
    {
      "title": "{{$c.name}}",
      "value": "{{$c.image}}",
      "short": true
    }
  {{end}}
  ]
}]
`;
}

function indent(s: string, by: string): string {
  return s
    .split('\n')
    .map((l) => (l ? by + l : l))
    .join('\n');
}

/** The catalogue as ConfigMap data (`trigger.*` and `template.*` keys, YAML values). */
export const BUILTIN_CONFIG_DATA: Readonly<Record<string, string>> = Object.fromEntries(
  CATALOGUE.flatMap((e) => [
    [`trigger.${e.trigger}`, `- send: [${e.template}]\n`],
    [
      `template.${e.template}`,
      `message: ${e.text}\nemail:\n  subject: ${e.text}\nslack:\n  attachments: |\n${indent(attachments(e), '    ')}`,
    ],
  ]),
);

/** The built-in trigger names (Argo's nine). */
export const BUILTIN_TRIGGERS: readonly string[] = CATALOGUE.map((e) => e.trigger);
