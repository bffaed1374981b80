// `cluster:up` and `cluster:down` as a user runs them (the scripts, in a separate state directory so the
// shared test cluster is untouched): up twice reuses the running cluster, down stops every process it
// recorded and removes the state, and down twice is harmless.

import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterState, clusterAnswers, stopCluster } from '../../cluster/control-plane.ts';
import { KubeClient } from '../../cluster/kube-client.ts';
import { REPO_ROOT } from '../../cluster/paths.ts';
import { waitFor, waitOut } from '../../cluster/wait.ts';

const run = promisify(execFile);
const SCRIPT_TIMEOUT_MS = 120_000;
const WATCH_TIMEOUT_S = 2;
const READY_TIMEOUT_MS = 20_000;

let parent: string;
let stateDir: string;

async function script(name: 'up' | 'down'): Promise<{ stdout: string; stderr: string }> {
  return await run(process.execPath, [join(REPO_ROOT, 'test', 'cluster', `${name}.ts`), '--dir', stateDir], {
    timeout: SCRIPT_TIMEOUT_MS,
    cwd: REPO_ROOT,
    // The simulator inherits this: its pod watch expires every 2 s, so the test below sees it re-watch.
    env: { ...process.env, SLUICE_SIM_WATCH_TIMEOUT_S: String(WATCH_TIMEOUT_S) },
  });
}

/** Running (a zombie waiting for init to reap it has already exited). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), 'sluice-cluster-lifecycle-'));
  stateDir = join(parent, 'cluster');
});

afterAll(async () => {
  // Whatever happened above, leave nothing running.
  await stopCluster(stateDir, () => undefined);
  await rm(parent, { recursive: true, force: true });
});

describe('cluster:up and cluster:down', () => {
  it('start a working cluster, reuse it on a second up, and stop every process on down (twice is fine)', async () => {
    const first = await script('up');
    expect(first.stdout).toMatch(/cluster started in [\d.]+ s/);
    const state = JSON.parse(await readFile(join(stateDir, 'state.json'), 'utf8')) as ClusterState;
    expect(state.processes.map((p) => p.name)).toEqual([
      'etcd',
      'kube-apiserver',
      'kube-controller-manager',
      'pod-simulator',
    ]);
    expect(new URL(state.server).hostname).toBe('127.0.0.1');
    for (const proc of state.processes) expect(alive(proc.pid), proc.name).toBe(true);
    expect(await clusterAnswers(stateDir)).toBe(true);

    const client = await KubeClient.fromKubeconfig(join(stateDir, 'kubeconfig'));
    try {
      const namespaces = await client.get('/api/v1/namespaces');
      expect((namespaces.items as { metadata: { name: string } }[]).map((n) => n.metadata.name)).toContain(
        'default',
      );
      // After several watch expiries the simulator still sees new pods and makes them Ready.
      await waitOut(WATCH_TIMEOUT_S * 2_500, "two and a half of the simulator's watch periods expire");
      await client.create('/api/v1/namespaces/default/pods', {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'after-rewatch' },
        spec: { containers: [{ name: 'app', image: 'example.com/app:v1' }] },
      });
      const ready = await waitFor(
        async () => {
          const pod = await client.get('/api/v1/namespaces/default/pods/after-rewatch');
          const status = (pod.status ?? {}) as { phase?: unknown; podIP?: unknown };
          return status.phase === 'Running' && typeof status.podIP === 'string';
        },
        {
          what: 'the pod created after the re-watches Running with an IP',
          timeoutMs: READY_TIMEOUT_MS,
          intervalMs: 200,
        },
      );
      expect(ready).toBe(true);
      // Each expiry ended the stream cleanly and was followed by a re-watch: no watch failures logged.
      const simulatorLog = await readFile(join(stateDir, 'logs', 'pod-simulator.log'), 'utf8');
      expect(simulatorLog).not.toContain('"level":"warn"');
    } finally {
      await client.close();
    }

    const second = await script('up');
    expect(second.stdout).toMatch(/cluster already running/);
    const again = JSON.parse(await readFile(join(stateDir, 'state.json'), 'utf8')) as ClusterState;
    expect(again.processes.map((p) => p.pid)).toEqual(state.processes.map((p) => p.pid));

    await script('down');
    for (const proc of state.processes) expect(alive(proc.pid), proc.name).toBe(false);
    expect(existsSync(stateDir)).toBe(false);
    const secondDown = await script('down');
    expect(secondDown.stdout).toMatch(/cluster stopped/);
  });
});
