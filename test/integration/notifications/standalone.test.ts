// `sluice standalone DIR` sends Argo's notifications: DIR holds Argo's notification ConfigMap (the fixture,
// unchanged), its Secret (the Slack token and a Slack-shaped local server as the Web API base) and a canary
// Rollout subscribed to on-rollout-aborted; `sluice abort` makes the local server receive one
// chat.postMessage with the rendered message, and a restart of standalone does not send it again.

import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { dataPlanePids } from '../../../src/standalone/data-plane.ts';
import { runSluice } from '../../cluster/sluice-cli.ts';
import {
  isAlive,
  killAll,
  type Standalone,
  sleep,
  standalonePorts,
  startStandalone,
  waitFor,
} from '../standalone/standalone-fixture.ts';
import { type LocalHttp, startLocalHttp } from './local-http.ts';

const FIXTURE = join(
  import.meta.dirname,
  '..',
  '..',
  'fixtures',
  'notifications',
  'argo-notification-configmap.yaml',
);

const ROLLOUT = `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: shop
  annotations:
    notifications.argoproj.io/subscribe.on-rollout-aborted.slack: deployments
spec:
  replicas: 1
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
      steps:
        - setWeight: 50
        - pause: {}
`;

let dir: string;
let slack: LocalHttp;
const pids: number[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-notify-'));
  slack = await startLocalHttp(() => ({ status: 200, body: '{"ok":true}' }));
});

afterEach(async () => {
  await killAll();
  const dataPlane = await dataPlanePids(join(dir, 'state.json'));
  for (const pid of dataPlane) process.kill(pid, 'SIGKILL');
  for (const pid of pids.splice(0)) expect(isAlive(pid), `process ${pid} left running`).toBe(false);
  await slack.close();
  await rm(dir, { recursive: true, force: true });
});

it('standalone notifies Slack once when a canary is aborted, and not again after a restart', async () => {
  const manifests = join(dir, 'manifests');
  await mkdir(manifests);
  await writeFile(join(manifests, 'notifications.yaml'), await readFile(FIXTURE, 'utf8'));
  await writeFile(
    join(manifests, 'secret.yaml'),
    `apiVersion: v1
kind: Secret
metadata:
  name: argo-rollouts-notification-secret
stringData:
  slack-token: xoxb-standalone
  slack-api-url: ${slack.url}/api/
`,
  );
  await writeFile(join(manifests, 'rollout.yaml'), ROLLOUT);
  const kubeconfig = join(dir, 'kubeconfig');
  const o = { dir: manifests, state: join(dir, 'state.json'), kubeconfig, ports: await standalonePorts() };
  let s: Standalone = await startStandalone(o);
  pids.push(s.process.pid);
  const sluice = async (...argv: string[]) => {
    const run = await runSluice(argv, { kubeconfig, namespace: 'default' });
    expect(run.code, `sluice ${argv.join(' ')}: ${run.out}${run.err}`).toBe(0);
  };
  await waitFor('shop Healthy', async () =>
    (await s.rollout()).status?.phase === 'Healthy' ? true : undefined,
  );
  await sluice('set', 'image', 'shop', 'app=sluice-demo:v2');
  await waitFor('shop Paused', async () =>
    (await s.rollout()).status?.phase === 'Paused' ? true : undefined,
  );
  await sluice('abort', 'shop');
  await waitFor('one Slack message', () => (slack.requests.length > 0 ? true : undefined));
  await waitFor('notified annotation', async () =>
    (await s.rollout()).metadata.annotations?.['notified.notifications.argoproj.io'] ? true : undefined,
  );
  const post = slack.requests[0]!;
  expect(post.path).toBe('/api/chat.postMessage');
  expect(post.headers.authorization).toBe('Bearer xoxb-standalone');
  const body = JSON.parse(post.body) as { channel: string; text: string; attachments: { title: string }[] };
  expect(body.channel).toBe('deployments');
  expect(body.text).toBe('Rollout shop has been aborted.');
  expect(body.attachments[0]!.title).toBe('shop');

  expect(await s.stop()).toBe(0);
  s = await startStandalone(o);
  pids.push(s.process.pid);
  await waitFor('shop Degraded after the restart', async () =>
    (await s.rollout()).status?.phase === 'Degraded' ? true : undefined,
  );
  await sleep(1_500);
  expect(slack.requests).toHaveLength(1);
  await s.stop();
}, 60_000);
