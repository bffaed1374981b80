// Real traffic in cluster tests: the pod simulator serves every running `sluice-demo` pod on
// podIP:containerPort (demo-pods.ts), and this file is how a test reaches them. `requireDemoPods` first
// (fails in CI, skips with the reason elsewhere when the simulator could not make the pod network local),
// then `podAddresses` for the pods' IPs and `demoGet` for a request. There is no kube-proxy: reach pods by
// their IP (or a Service's Endpoints), never by a Service's ClusterIP.
//
//   it('answers with the version of its image', async (ctx) => {
//     await requireDemoPods(ctx, client);
//     ...
//     const reply = await demoGet(pod.ip);          // GET http://<podIP>:8080/
//     expect(reply.version).toBe('v2');
//   });

import { Agent, request } from 'undici';
import type { TestContext } from 'vitest';
import { DEMO_VERSION_HEADER } from '../../src/demo/app.ts';
import { DEFAULT_DEMO_PORT, DEMO_PODS_ANNOTATION } from './demo-pods.ts';
import type { KubeClient } from './kube-client.ts';
import { SIMULATED_NODE_NAME } from './pod-simulator.ts';

export { DEFAULT_DEMO_PORT } from './demo-pods.ts';

const CONNECT_TIMEOUT_MS = 5_000;
const RESPONSE_TIMEOUT_MS = 30_000;

type Json = Record<string, unknown>;

function record(value: unknown): Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {};
}

export interface DemoContainerOptions {
  /** Image tag, reported as the version (`sluice-demo:<tag>`). */
  tag: string;
  name?: string;
  /** Share of requests answered 500, 0..1 (ERROR_RATE). */
  errorRate?: number;
  latencyMs?: number;
  latencyJitterMs?: number;
  /** TCP ports to serve on (default: none declared, which serves 8080). */
  ports?: number[];
}

/** A pod template container running the demo app, with its misbehaviour as env values. */
export function demoContainer(options: DemoContainerOptions): Json {
  const env: { name: string; value: string }[] = [];
  if (options.errorRate !== undefined) env.push({ name: 'ERROR_RATE', value: String(options.errorRate) });
  if (options.latencyMs !== undefined) env.push({ name: 'LATENCY_MS', value: String(options.latencyMs) });
  if (options.latencyJitterMs !== undefined)
    env.push({ name: 'LATENCY_JITTER_MS', value: String(options.latencyJitterMs) });
  return {
    name: options.name ?? 'app',
    image: `sluice-demo:${options.tag}`,
    ...(env.length === 0 ? {} : { env }),
    ...(options.ports === undefined
      ? {}
      : { ports: options.ports.map((containerPort) => ({ containerPort, protocol: 'TCP' })) }),
  };
}

export type DemoPodsServing = { served: true } | { served: false; reason: string };

/** Whether the cluster's pod simulator serves demo pods, from its Node's sluice.test/demo-pods annotation. */
export async function demoPodsServing(client: KubeClient): Promise<DemoPodsServing> {
  const node = await client.get(`/api/v1/nodes/${SIMULATED_NODE_NAME}`);
  const value = record(record(node.metadata).annotations)[DEMO_PODS_ANNOTATION];
  if (value === 'served') return { served: true };
  if (typeof value === 'string') return { served: false, reason: value.replace(/^not served:\s*/, '') };
  return {
    served: false,
    reason: `the Node ${SIMULATED_NODE_NAME} has no ${DEMO_PODS_ANNOTATION} annotation: the cluster's pod simulator predates demo pods; restart the cluster (npm run cluster:down && npm run cluster:up)`,
  };
}

/** CI=true (or 1): a test that cannot run there is a failure, not a skip. */
export function inCi(): boolean {
  return /^(true|1)$/i.test(process.env.CI ?? '');
}

/**
 * Call first in a test that sends traffic to demo pods: returns when they are served; otherwise fails the
 * test in CI and skips it elsewhere, with the reason (typically: not root, so the route for the pod network
 * could not be added).
 */
export async function requireDemoPods(ctx: Pick<TestContext, 'skip'>, client: KubeClient): Promise<void> {
  const serving = await demoPodsServing(client);
  if (serving.served) return;
  const message = `sluice-demo pods are not served on this host: ${serving.reason} (see docs/testing.md, "Real traffic in cluster tests")`;
  if (inCi()) throw new Error(message);
  ctx.skip(message);
}

export interface PodAddress {
  name: string;
  /** The pod IP (undefined before the simulator schedules it). */
  ip: string | undefined;
  ready: boolean;
  deleting: boolean;
}

/** The pods of a namespace (optionally matching a label selector) with their IPs and readiness. */
export async function podAddresses(
  client: KubeClient,
  namespace: string,
  labelSelector?: string,
): Promise<PodAddress[]> {
  const query = labelSelector === undefined ? '' : `?labelSelector=${encodeURIComponent(labelSelector)}`;
  const list = await client.get(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods${query}`);
  return (Array.isArray(list.items) ? list.items : []).map((item) => {
    const pod = record(item);
    const metadata = record(pod.metadata);
    const status = record(pod.status);
    const conditions = Array.isArray(status.conditions) ? status.conditions.map(record) : [];
    return {
      name: String(metadata.name),
      ip: typeof status.podIP === 'string' ? status.podIP : undefined,
      ready: conditions.some((c) => c.type === 'Ready' && c.status === 'True'),
      deleting: metadata.deletionTimestamp !== undefined && metadata.deletionTimestamp !== null,
    };
  });
}

/** The ready addresses of a Service's Endpoints (sorted). */
export async function endpointAddresses(
  client: KubeClient,
  namespace: string,
  service: string,
): Promise<string[]> {
  const endpoints = await client.get(
    `/api/v1/namespaces/${encodeURIComponent(namespace)}/endpoints/${encodeURIComponent(service)}`,
  );
  const subsets = Array.isArray(endpoints.subsets) ? endpoints.subsets.map(record) : [];
  return subsets
    .flatMap((subset) => (Array.isArray(subset.addresses) ? subset.addresses.map(record) : []))
    .map((address) => String(address.ip))
    .sort();
}

export interface DemoReply {
  status: number;
  /** The x-demo-version header: the image tag of the pod that answered. */
  version: string | undefined;
  /** The JSON body: { pod, version, path, error? }. */
  body: Json;
}

/** GET http://ip:port/path on a fresh connection (so a stopped server is never hidden by a pooled one). */
export async function demoGet(ip: string, port: number = DEFAULT_DEMO_PORT, path = '/'): Promise<DemoReply> {
  const agent = new Agent({
    connect: { timeout: CONNECT_TIMEOUT_MS },
    headersTimeout: RESPONSE_TIMEOUT_MS,
    bodyTimeout: RESPONSE_TIMEOUT_MS,
  });
  try {
    const response = await request(`http://${ip}:${port}${path}`, { dispatcher: agent });
    const text = await response.body.text();
    let body: Json;
    try {
      body = record(JSON.parse(text));
    } catch {
      throw new Error(
        `GET http://${ip}:${port}${path}: not JSON (${response.statusCode}): ${text.slice(0, 200)}`,
      );
    }
    const version = response.headers[DEMO_VERSION_HEADER];
    return { status: response.statusCode, version: typeof version === 'string' ? version : undefined, body };
  } finally {
    await agent.close();
  }
}

/** The connection error code of a GET (ECONNREFUSED when nothing listens), or undefined when it was answered. */
export async function connectError(
  ip: string,
  port: number = DEFAULT_DEMO_PORT,
): Promise<string | undefined> {
  try {
    await demoGet(ip, port);
    return undefined;
  } catch (error) {
    const code =
      (error as NodeJS.ErrnoException).code ?? ((error as Error).cause as NodeJS.ErrnoException)?.code;
    if (typeof code === 'string') return code;
    throw error;
  }
}
