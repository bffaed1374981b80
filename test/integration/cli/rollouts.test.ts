// The `sluice` rollout verbs against the real test API server (kube-apiserver 1.20 with the CRDs from
// crds/): each verb's effect on the Rollout's spec and status as read back from the API, `status` exit
// codes while the test plays the controller's part (writing status through the subresource), `get` and
// `list` output over real ReplicaSets and Pods, and `kubectl sluice` through Debian's kubectl plugin
// mechanism. Skipped, with the reason, when SLUICE_TEST_KUBECONFIG is not set.

import { execFile } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rollout } from '../../../src/api/rollout.ts';
import type { KubeClient } from '../../cluster/kube-client.ts';
import { type NamespaceRef, testClient, useNamespace } from '../../cluster/namespace.ts';
import { kubectlBinary, REPO_ROOT } from '../../cluster/paths.ts';
import { runSluice } from '../../cluster/sluice-cli.ts';
import { waitFor } from '../../cluster/wait.ts';

const KUBECONFIG = process.env.SLUICE_TEST_KUBECONFIG;
const SKIP_REASON =
  'SLUICE_TEST_KUBECONFIG is not set: start the test cluster (npm run cluster:up) and export SLUICE_TEST_KUBECONFIG=$PWD/.cluster/kubeconfig, or run through the cluster global setup';
if (KUBECONFIG === undefined || KUBECONFIG === '')
  console.warn(`cli-rollouts.test.ts skipped: ${SKIP_REASON}`);

const API = '/apis/argoproj.io/v1alpha1';

let client: KubeClient;
let ns: NamespaceRef;

interface Run {
  code: number;
  out: string;
  err: string;
}

async function sluice(
  argv: string[],
  options: { signal?: AbortSignal; onOut?: (text: string) => void } = {},
): Promise<Run> {
  const { code, out, err } = await runSluice(argv, {
    kubeconfig: KUBECONFIG!,
    namespace: ns.name,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onOut ? { onOut: options.onOut } : {}),
  });
  return { code, out, err };
}

/** A watching verb started in the background, with its stdout so far. */
function sluiceWatching(argv: string[], signal?: AbortSignal): { run: Promise<Run>; out: () => string } {
  let out = '';
  const run = sluice(argv, {
    ...(signal ? { signal } : {}),
    onOut: (text) => {
      out += text;
    },
  });
  return { run, out: () => out };
}

function rolloutManifest(name: string): Record<string, unknown> {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image: 'example.com/app:v1' }] },
      },
      strategy: { canary: { steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 60 }] } },
    },
  };
}

async function createRollout(name: string): Promise<Rollout> {
  return (await client.create(
    `${API}/namespaces/${ns.name}/rollouts`,
    rolloutManifest(name),
  )) as unknown as Rollout;
}

async function readRollout(name: string): Promise<Rollout> {
  return (await client.get(`${API}/namespaces/${ns.name}/rollouts/${name}`)) as unknown as Rollout;
}

/** Plays the controller: writes status through the status subresource. */
async function writeStatus(name: string, status: Record<string, unknown>): Promise<Rollout> {
  return (await client.mergePatch(`${API}/namespaces/${ns.name}/rollouts/${name}/status`, {
    status,
  })) as unknown as Rollout;
}

async function ownedReplicaSet(
  ro: Rollout,
  revision: number,
  image: string,
  replicas: number,
): Promise<void> {
  const name = ro.metadata.name;
  const hash = `h${revision}x`;
  await client.create(`/apis/apps/v1/namespaces/${ns.name}/replicasets`, {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `${name}-${hash}`,
      labels: { app: name, 'rollouts-pod-template-hash': hash },
      annotations: { 'rollout.argoproj.io/revision': String(revision) },
      ownerReferences: [
        {
          apiVersion: 'argoproj.io/v1alpha1',
          kind: 'Rollout',
          name,
          uid: ro.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      replicas,
      selector: { matchLabels: { app: name, 'rollouts-pod-template-hash': hash } },
      template: {
        metadata: { labels: { app: name, 'rollouts-pod-template-hash': hash } },
        spec: { containers: [{ name: 'app', image }] },
      },
    },
  });
}

describe.skipIf(KUBECONFIG === undefined || KUBECONFIG === '')(
  'sluice rollout verbs on a real API server',
  () => {
    ns = useNamespace('cli', { crds: true });

    beforeAll(async () => {
      client = await testClient();
    });

    afterAll(async () => {
      await client?.close();
    });

    it('pause sets spec.paused; promote clears it and the pause conditions but not controllerPause', async () => {
      await createRollout('ro-pause');
      expect(await sluice(['pause', 'ro-pause'])).toEqual({
        code: 0,
        out: "rollout 'ro-pause' paused\n",
        err: '',
      });
      expect((await readRollout('ro-pause')).spec.paused).toBe(true);
      await writeStatus('ro-pause', {
        currentStepIndex: 1,
        controllerPause: true,
        pauseConditions: [
          { reason: 'CanaryPauseStep', startTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') },
        ],
      });
      expect(await sluice(['promote', 'ro-pause'])).toEqual({
        code: 0,
        out: "rollout 'ro-pause' promoted\n",
        err: '',
      });
      const ro = await readRollout('ro-pause');
      expect(ro.spec.paused).toBe(false);
      expect(ro.status?.pauseConditions).toBeUndefined();
      expect(ro.status?.controllerPause).toBe(true);
      expect(ro.status?.currentStepIndex).toBe(1);
    });

    it('promote mid-step skips to the next step; promote --full sets status.promoteFull', async () => {
      await createRollout('ro-promote');
      await writeStatus('ro-promote', { currentStepIndex: 0, currentPodHash: 'new', stableRS: 'old' });
      expect((await sluice(['promote', 'ro-promote'])).code).toBe(0);
      expect((await readRollout('ro-promote')).status?.currentStepIndex).toBe(1);
      expect(await sluice(['promote', 'ro-promote', '--full'])).toEqual({
        code: 0,
        out: "rollout 'ro-promote' fully promoted\n",
        err: '',
      });
      expect((await readRollout('ro-promote')).status?.promoteFull).toBe(true);
    });

    it('abort and retry rollout flip status.abort through the status subresource', async () => {
      const created = await createRollout('ro-abort');
      expect(await sluice(['abort', 'ro-abort'])).toEqual({
        code: 0,
        out: "rollout 'ro-abort' aborted\n",
        err: '',
      });
      const aborted = await readRollout('ro-abort');
      expect(aborted.status?.abort).toBe(true);
      // A status write does not bump the generation: the spec is untouched.
      expect(aborted.metadata.generation).toBe(created.metadata.generation);
      expect(await sluice(['retry', 'rollout', 'ro-abort'])).toEqual({
        code: 0,
        out: "rollout 'ro-abort' retried\n",
        err: '',
      });
      expect((await readRollout('ro-abort')).status?.abort).toBe(false);
    });

    it('restart --in sets spec.restartAt that far ahead (to the second)', async () => {
      await createRollout('ro-restart');
      const before = Math.floor(Date.now() / 1000) * 1000;
      expect(await sluice(['restart', 'ro-restart', '--in', '1h'])).toEqual({
        code: 0,
        out: "rollout 'ro-restart' restarts in 1h\n",
        err: '',
      });
      const at = Date.parse((await readRollout('ro-restart')).spec.restartAt ?? '');
      expect(at).toBeGreaterThanOrEqual(before + 3_600_000);
      expect(at).toBeLessThanOrEqual(Date.now() + 3_600_000);
    });

    it('set image changes the container image and bumps the generation', async () => {
      const created = await createRollout('ro-image');
      expect(await sluice(['set', 'image', 'ro-image', 'app=example.com/app:v2'])).toEqual({
        code: 0,
        out: 'rollout "ro-image" image updated\n',
        err: '',
      });
      const ro = await readRollout('ro-image');
      expect(ro.spec.template?.spec?.containers).toEqual([
        expect.objectContaining({ name: 'app', image: 'example.com/app:v2' }),
      ]);
      expect(ro.metadata.generation).toBe((created.metadata.generation ?? 0) + 1);
      const missing = await sluice(['set', 'image', 'ro-image', 'web=x']);
      expect(missing).toEqual({ code: 1, out: '', err: 'Error: unable to find container named "web"\n' });
    });

    it('undo restores the previous revision’s pod template from its ReplicaSet', async () => {
      const ro = await createRollout('ro-undo');
      await ownedReplicaSet(ro, 1, 'example.com/app:v0', 0);
      await ownedReplicaSet(ro, 2, 'example.com/app:v1', 0);
      expect(await sluice(['undo', 'ro-undo'])).toEqual({
        code: 0,
        out: "rollout 'ro-undo' undo\n",
        err: '',
      });
      const undone = await readRollout('ro-undo');
      expect(undone.spec.template?.spec?.containers).toEqual([
        expect.objectContaining({ image: 'example.com/app:v0' }),
      ]);
      expect(undone.spec.template?.metadata?.labels).toEqual({ app: 'ro-undo' });
      const again = await sluice(['undo', 'ro-undo', '--to-revision', '1']);
      expect(again).toEqual({
        code: 0,
        out: 'skipped rollback (current template already matches revision 1)\n',
        err: '',
      });
      expect((await sluice(['undo', 'ro-undo', '--to-revision', '9'])).err).toBe(
        'Error: unable to find specified revision 9 in history\n',
      );
    });

    it('status exits 0 when Healthy, 1 when Degraded, 1 on timeout, and follows changes', async () => {
      const ro = await createRollout('ro-status');
      const generation = String(ro.metadata.generation);
      await writeStatus('ro-status', { observedGeneration: generation, phase: 'Healthy' });
      expect(await sluice(['status', 'ro-status'])).toEqual({ code: 0, out: 'Healthy\n', err: '' });
      await writeStatus('ro-status', { phase: 'Progressing', message: 'more replicas need to be updated' });
      const timedOut = await sluice(['status', 'ro-status', '--timeout', '1s']);
      expect(timedOut).toEqual({
        code: 1,
        out: 'Progressing - more replicas need to be updated\n',
        err: 'Error: Rollout status watch exceeded timeout\n',
      });
      const watching = sluiceWatching(['status', 'ro-status', '--timeout', '20s']);
      // The first line is printed after the list; the watch follows from the list's resourceVersion.
      await waitFor(() => watching.out().includes('Progressing'), {
        what: 'status to print the current state',
      });
      await writeStatus('ro-status', {
        phase: 'Degraded',
        message: 'RolloutAborted: Rollout aborted update to revision 2',
      });
      expect(await watching.run).toEqual({
        code: 1,
        out: 'Progressing - more replicas need to be updated\nDegraded - RolloutAborted: Rollout aborted update to revision 2\n',
        err: 'Error: The rollout is in a degraded state with message: RolloutAborted: Rollout aborted update to revision 2\n',
      });
      const missing = await sluice(['status', 'nope']);
      expect(missing.code).toBe(1);
      expect(missing.err).toBe('Error: rollouts.argoproj.io "nope" not found\n');
    });

    it('get rollout shows the tree with the ReplicaSet and its pod; list rollouts shows the row', async () => {
      const ro = await createRollout('ro-get');
      await ownedReplicaSet(ro, 1, 'example.com/app:v1', 1);
      await writeStatus('ro-get', {
        observedGeneration: String(ro.metadata.generation),
        currentStepIndex: 3,
        currentPodHash: 'h1x',
        stableRS: 'h1x',
        replicas: 1,
        updatedReplicas: 1,
        readyReplicas: 1,
        availableReplicas: 1,
        phase: 'Healthy',
      });
      // The ReplicaSet controller creates the pod; wait until it shows up under the ReplicaSet.
      const run = await waitFor(
        async () => {
          const view = await sluice(['get', 'rollout', 'ro-get']);
          return view.out.includes('□ ro-get-h1x-') ? view : undefined;
        },
        { what: 'the pod under the ReplicaSet in `get rollout`' },
      );
      expect(run.code).toBe(0);
      expect(run.out).toContain('Status:          ✔ Healthy\n');
      expect(run.out).toContain('  Step:          3/3\n');
      expect(run.out).toContain('  SetWeight:     100\n');
      expect(run.out).toContain('Images:          example.com/app:v1 (stable)\n');
      expect(run.out).toMatch(/⟳ ro-get +Rollout +✔ Healthy/);
      expect(run.out).toMatch(/└──# revision:1/);
      expect(run.out).toMatch(/└──⧉ ro-get-h1x +ReplicaSet .* stable/);
      expect(run.out).toMatch(/└──□ ro-get-h1x-\w+ +Pod /);
      const list = await sluice(['list', 'rollouts', '--name', 'ro-get']);
      expect(list.code).toBe(0);
      expect(list.out.split('\n')[0]).toMatch(
        /^NAME +STRATEGY +STATUS +STEP +SET-WEIGHT +READY +DESIRED +UP-TO-DATE +AVAILABLE$/,
      );
      expect(list.out.split('\n')[1]).toMatch(/^ro-get +Canary +Healthy +3\/3 +100 +1\/1 +1 +1 +1 *$/);
    });

    it('get rollout --watch prints the view again when the rollout changes (not a TTY)', async () => {
      await createRollout('ro-watch');
      const controller = new AbortController();
      const watching = sluiceWatching(['get', 'rollout', 'ro-watch', '--watch'], controller.signal);
      await waitFor(() => watching.out().includes('Name:            ro-watch\n'), { what: 'the first view' });
      await writeStatus('ro-watch', { phase: 'Paused', message: 'CanaryPauseStep', currentStepIndex: 1 });
      await waitFor(() => watching.out().includes('Status:          ॥ Paused\n'), {
        what: 'the view printed again, Paused',
      });
      controller.abort();
      const run = await watching.run;
      expect(run.code).toBe(0);
      const views = run.out.split('Name:            ro-watch\n');
      expect(views.length).toBeGreaterThanOrEqual(3);
      expect(views.at(-1)).toContain('Status:          ॥ Paused\n');
    });

    it('works as a kubectl plugin: kubectl sluice pause NAME', async () => {
      await createRollout('ro-plugin');
      const dir = await mkdtemp(join(tmpdir(), 'sluice-plugin-'));
      try {
        const plugin = join(dir, 'kubectl-sluice');
        await symlink(join(REPO_ROOT, 'bin', 'sluice.js'), plugin);
        const env = { ...process.env, PATH: `${dir}:${dirname(process.execPath)}:${process.env.PATH ?? ''}` };
        const result = await new Promise<Run>((resolve) => {
          execFile(
            kubectlBinary(),
            ['sluice', 'pause', 'ro-plugin', '-n', ns.name, '--kubeconfig', KUBECONFIG!],
            { env, timeout: 30_000 },
            (error, stdout, stderr) =>
              resolve({ code: error === null ? 0 : Number(error.code ?? 1), out: stdout, err: stderr }),
          );
        });
        expect(result).toEqual({ code: 0, out: "rollout 'ro-plugin' paused\n", err: '' });
        expect((await readRollout('ro-plugin')).spec.paused).toBe(true);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  },
);
