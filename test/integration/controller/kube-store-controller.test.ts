// The `sluice controller` process pieces end to end on the real control plane: a Controller (leader
// election on, metrics and health on port 0) reconciles an AnalysisRun whose `job` metric runs a real
// batch/v1 Job (completed by the test cluster's pod simulator), exposes the run in its metrics, and
// releases its Lease on shutdown. Needs SLUICE_TEST_KUBECONFIG (see kube-store.test.ts).

import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Controller } from '../../../src/controller/lifecycle.ts';
import type { KubeClient } from '../../../src/kube/client.ts';
import { controllerClient, useNamespace } from '../../cluster/namespace.ts';
import { waitFor } from '../../cluster/wait.ts';

const KUBECONFIG = process.env.SLUICE_TEST_KUBECONFIG;
const SKIP_REASON =
  'needs SLUICE_TEST_KUBECONFIG (run `npm run cluster:up`, then export SLUICE_TEST_KUBECONFIG=$PWD/.cluster/kubeconfig)';
if (!KUBECONFIG) console.warn(`controller integration tests skipped: ${SKIP_REASON}`);

function jobRun(name: string, namespace: string, image: string) {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AnalysisRun',
    metadata: { name, namespace },
    spec: {
      metrics: [
        {
          name: 'smoke',
          provider: {
            job: {
              spec: {
                backoffLimit: 0,
                template: { spec: { restartPolicy: 'Never', containers: [{ name: 'check', image }] } },
              },
            },
          },
        },
      ],
    },
  };
}

describe.skipIf(!KUBECONFIG)(`sluice controller on a real API server`, () => {
  let client: KubeClient;
  let controller: Controller;
  const ns = useNamespace('controller', { crds: true });
  let namespace: string;

  beforeAll(async () => {
    namespace = ns.name;
    client = await controllerClient();
    controller = new Controller({
      kubeconfig: KUBECONFIG!,
      namespace,
      leaseNamespace: namespace,
      metricsPort: 0,
      healthzPort: 0,
      listenHost: '127.0.0.1',
      logger: pino({ level: 'warn' }),
      // The Rollout reconciler is another test's concern; this one exercises the AnalysisRun path.
      reconcileRollout: async () => ({}),
    });
    await controller.start();
  });

  afterAll(async () => {
    await controller?.stop();
    await client?.close();
  });

  it('runs a job metric to a verdict, serves metrics and health, and releases the lease on shutdown', async () => {
    await waitFor(async () => (controller.isLeader ? true : undefined), { what: 'leadership' });
    for (const [name, image] of [
      ['passes', 'busybox:ok'],
      ['fails', 'busybox:fail'],
    ]) {
      const res = await client.request(
        'POST',
        `/apis/argoproj.io/v1alpha1/namespaces/${namespace}/analysisruns`,
        {
          body: jobRun(name!, namespace, image!),
        },
      );
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
    const phaseOf = async (name: string) => {
      const res = await client.request(
        'GET',
        `/apis/argoproj.io/v1alpha1/namespaces/${namespace}/analysisruns/${name}`,
      );
      const phase = (res.body as { status?: { phase?: string } }).status?.phase;
      return phase === 'Successful' || phase === 'Failed' || phase === 'Error' ? phase : undefined;
    };
    expect(await waitFor(() => phaseOf('passes'), { what: 'passes completes' })).toBe('Successful');
    expect(await waitFor(() => phaseOf('fails'), { what: 'fails completes' })).toBe('Failed');
    const jobs = await client.request('GET', `/apis/batch/v1/namespaces/${namespace}/jobs`);
    const items = (
      jobs.body as { items: { metadata: { name: string; ownerReferences: { kind: string }[] } }[] }
    ).items;
    expect(items).toHaveLength(2);
    expect(items.every((j) => j.metadata.ownerReferences[0]?.kind === 'AnalysisRun')).toBe(true);

    const metrics = await waitFor(
      async () => {
        const text = await (await fetch(`http://127.0.0.1:${controller.metricsPort}/metrics`)).text();
        return text.includes(`analysis_run_info{namespace="${namespace}",name="fails",phase="Failed"} 1`)
          ? text
          : undefined;
      },
      { what: 'metrics show the verdicts' },
    );
    expect(metrics).toContain(
      `analysis_run_info{namespace="${namespace}",name="passes",phase="Successful"} 1`,
    );
    expect(metrics).toContain(
      `analysis_run_metric_type{namespace="${namespace}",name="passes",metric="smoke",type="Job"} 1`,
    );
    expect(metrics).toMatch(
      /controller_clientset_k8s_request_total\{kind="jobs",namespace="[^"]+",name="[^"]+",verb="Create",status_code="201"\} \d+/,
    );
    expect(metrics).toContain('sluice_controller_leader 1');
    expect((await fetch(`http://127.0.0.1:${controller.healthzPort}/healthz`)).status).toBe(200);

    expect(await controller.stop()).toBe(0);
    const lease = await client.request(
      'GET',
      `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/sluice-controller-lock`,
    );
    expect((lease.body as { spec: { holderIdentity?: string } }).spec.holderIdentity ?? '').toBe('');
  });
});
