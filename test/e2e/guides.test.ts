// The guides' blue-green example, applied with kubectl as written (only the namespace is the test's own),
// driven through its whole lifecycle by a real controller on the test cluster with the `sluice` verbs.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/cli/kube.ts';
import type { CliIo } from '../../src/cli/rollouts/command.ts';
import { runRolloutVerb } from '../../src/cli/rollouts/index.ts';
import { Controller } from '../../src/kube/controller.ts';
import type { KubeClient } from '../cluster/kube-client.ts';
import { kubectl } from '../cluster/kubectl.ts';
import { createTestNamespace, type TestNamespace, testClient } from '../cluster/namespace.ts';
import { REPO_ROOT } from '../cluster/paths.ts';

const KUBECONFIG = process.env.SLUICE_TEST_KUBECONFIG ?? '';
const API = '/apis/argoproj.io/v1alpha1';
const HASH = 'rollouts-pod-template-hash';

interface Obj {
  metadata: {
    name: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: Record<string, unknown> & { replicas?: number; selector?: Record<string, string> };
  status?: Record<string, unknown> & {
    phase?: string;
    message?: string;
    stableRS?: string;
    currentPodHash?: string;
    availableReplicas?: number;
    replicas?: number;
  };
}

class World {
  client!: KubeClient;
  ns!: TestNamespace;
  controller!: Controller;

  async start(prefix: string): Promise<void> {
    this.client = await testClient();
    this.ns = await createTestNamespace(this.client, prefix);
    this.controller = new Controller({
      kubeconfig: KUBECONFIG,
      namespace: this.ns.name,
      leaderElect: false,
      metricsPort: 0,
      healthzPort: 0,
      listenHost: '127.0.0.1',
      logger: pino({ level: 'warn' }),
    });
    await this.controller.start();
  }

  async stop(): Promise<void> {
    await this.controller?.stop();
    await this.ns?.delete();
    await this.client?.close();
  }

  async apply(yaml: string): Promise<void> {
    const r = await kubectl(KUBECONFIG, ['apply', '-n', this.ns.name, '-f', '-'], { input: yaml });
    expect(r.code, r.stderr).toBe(0);
  }

  async sluice(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const io: CliIo = {
      out: (t) => {
        out += t;
      },
      err: (t) => {
        err += t;
      },
      isTTY: false,
      nowMs: () => Date.now(),
      env: {},
      connect: (flags) => connect(flags, {}),
      signal: new AbortController().signal,
    };
    const code = await runRolloutVerb(
      argv[0]!,
      [...argv.slice(1), '--kubeconfig', KUBECONFIG, '-n', this.ns.name],
      io,
    );
    return { code, out, err };
  }

  rollout(name: string): Promise<Obj> {
    return this.client.get(`${API}/namespaces/${this.ns.name}/rollouts/${name}`) as Promise<Obj>;
  }
  async list(path: string): Promise<Obj[]> {
    const body = (await this.client.get(path.replace('NS', this.ns.name))) as { items: Obj[] };
    return body.items;
  }
  replicaSets(): Promise<Obj[]> {
    return this.list('/apis/apps/v1/namespaces/NS/replicasets');
  }
  async service(name: string): Promise<Obj> {
    return (await this.client.get(`/api/v1/namespaces/${this.ns.name}/services/${name}`)) as Obj;
  }
  async waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        const v = await probe();
        if (v !== undefined && v !== false) return v;
      } catch (error) {
        last = error;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ''}`);
      await sleep(250);
    }
  }
  waitPhase(name: string, phase: string, timeoutMs?: number): Promise<Obj> {
    return this.waitFor(
      `rollout ${name} phase ${phase}`,
      async () => {
        const ro = await this.rollout(name);
        return ro.status?.phase === phase ? ro : undefined;
      },
      timeoutMs,
    );
  }
}

function guide(file: string, namespace: string): string {
  const text = readFileSync(join(REPO_ROOT, 'test/fixtures/guides', file), 'utf8');
  return text.replaceAll('namespace: e-commerce', `namespace: ${namespace}`);
}

describe.skipIf(KUBECONFIG === '')('the guides on a real cluster', () => {
  let w: World | undefined;
  beforeAll(async () => {
    const r = await kubectl(KUBECONFIG, ['apply', '-f', join(REPO_ROOT, 'crds')]);
    expect(r.code, r.stderr).toBe(0);
  });
  afterEach(async () => {
    await w?.stop();
    w = undefined;
  });

  it('blue-green order-processor: preview, manual promote, active switch, delayed scale-down', async () => {
    w = new World();
    await w.start('guide-bg');
    const name = 'order-processor-rollout';
    await w.apply(guide('blue-green-services.yaml', w.ns.name));
    await w.apply(guide('blue-green-rollout.yaml', w.ns.name));
    const v1 = await w.waitPhase(name, 'Healthy', 60_000);
    const stable = v1.status!.stableRS!;
    expect((await w.service('order-processor-active')).spec!.selector![HASH]).toBe(stable);
    expect((await w.service('order-processor-preview')).spec!.selector![HASH]).toBe(stable);

    // update image -> the preview stack comes up at full size; the rollout pauses for a manual gate
    const set = await w.sluice(
      'set',
      'image',
      name,
      'order-worker=internal-registry.enterprise.io/logistics/order-worker:v1.5.0',
    );
    expect(set.code, set.err).toBe(0);
    const paused = await w.waitPhase(name, 'Paused');
    const preview = paused.status!.currentPodHash!;
    expect(preview).not.toBe(stable);
    expect(paused.status!.pauseConditions).toMatchObject([{ reason: 'BlueGreenPause' }]);
    expect((await w.service('order-processor-preview')).spec!.selector![HASH]).toBe(preview);
    expect((await w.service('order-processor-active')).spec!.selector![HASH]).toBe(stable);
    const rsBy = async (hash: string) =>
      (await w!.replicaSets()).find((rs) => rs.metadata.labels?.[HASH] === hash)!;
    expect((await rsBy(preview)).status).toMatchObject({ availableReplicas: 8 });
    expect((await rsBy(stable)).spec!.replicas).toBe(8);

    // promote -> active switched; the old RS keeps its pods for scaleDownDelaySeconds (300 s)
    const promoted = await w.sluice('promote', name);
    expect(promoted.code, promoted.err).toBe(0);
    const switchedAt = Date.now();
    const healthy = await w.waitPhase(name, 'Healthy');
    expect(healthy.status!.stableRS).toBe(preview);
    expect((await w.service('order-processor-active')).spec!.selector![HASH]).toBe(preview);
    const old = await rsBy(stable);
    expect(old.spec!.replicas).toBe(8);
    const deadline = Date.parse(old.metadata.annotations!['scale-down-deadline']!);
    expect(deadline - switchedAt).toBeGreaterThan(290_000);
    expect(deadline - switchedAt).toBeLessThan(310_000);

    // time passes (the deadline is moved, not the clock): the old RS is scaled to zero at its deadline
    await w.client.mergePatch(`/apis/apps/v1/namespaces/${w.ns.name}/replicasets/${old.metadata.name}`, {
      metadata: { annotations: { 'scale-down-deadline': new Date(Date.now() + 1000).toISOString() } },
    });
    await w.waitFor('old RS scaled down', async () =>
      (await rsBy(stable)).spec!.replicas === 0 ? true : undefined,
    );
    expect((await rsBy(preview)).spec!.replicas).toBe(8);

    // a bad revision is aborted: active stays on stable, preview goes back to stable, the new RS goes away
    const set3 = await w.sluice(
      'set',
      'image',
      name,
      'order-worker=internal-registry.enterprise.io/logistics/order-worker:v1.6.0',
    );
    expect(set3.code, set3.err).toBe(0);
    const paused3 = await w.waitPhase(name, 'Paused');
    const bad = paused3.status!.currentPodHash!;
    expect((await w.service('order-processor-preview')).spec!.selector![HASH]).toBe(bad);
    const aborted = await w.sluice('abort', name);
    expect(aborted.code, aborted.err).toBe(0);
    const degraded = await w.waitPhase(name, 'Degraded');
    expect(degraded.status!.message).toBe('RolloutAborted: Rollout aborted update to revision 3');
    expect(degraded.status!.stableRS).toBe(preview);
    expect((await w.service('order-processor-active')).spec!.selector![HASH]).toBe(preview);
    const previewBack = await w.waitFor('preview back on stable', async () => {
      const sel = (await w!.service('order-processor-preview')).spec!.selector![HASH];
      return sel === preview ? sel : undefined;
    });
    expect(previewBack).toBe(preview);
    const badRS = await w.waitFor('abort deadline on the new RS', async () => {
      const rs = await rsBy(bad);
      return rs.metadata.annotations?.['scale-down-deadline'] ? rs : undefined;
    });
    expect(badRS.spec!.replicas).toBe(8);
    await w.client.mergePatch(`/apis/apps/v1/namespaces/${w.ns.name}/replicasets/${badRS.metadata.name}`, {
      metadata: { annotations: { 'scale-down-deadline': new Date(Date.now() + 1000).toISOString() } },
    });
    await w.waitFor('aborted RS scaled down', async () =>
      (await rsBy(bad)).spec!.replicas === 0 ? true : undefined,
    );

    // undo to revision 1: an ordinary update through preview and the manual gate, then promoted
    const undo = await w.sluice('undo', name, '--to-revision', '1');
    expect(undo.code, undo.err).toBe(0);
    const paused4 = await w.waitPhase(name, 'Paused');
    expect(paused4.status!.currentPodHash).toBe(stable);
    expect(paused4.status!.abort ?? false).toBe(false);
    expect((await w.service('order-processor-active')).spec!.selector![HASH]).toBe(preview);
    expect((await w.service('order-processor-preview')).spec!.selector![HASH]).toBe(stable);
    expect((await w.sluice('promote', name)).code).toBe(0);
    const back = await w.waitPhase(name, 'Healthy');
    expect(back.status!.stableRS).toBe(stable);
    expect((await w.service('order-processor-active')).spec!.selector![HASH]).toBe(stable);
    expect((await rsBy(stable)).metadata.annotations?.['rollout.argoproj.io/revision']).toBe('4');
  });
});
