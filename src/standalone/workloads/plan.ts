// What the local pod runtime does with a Pod: a pure function of the Pod object. A container whose image
// is `sluice-demo` (any registry, any tag) is served in-process by the demo app (src/demo/app.ts) with its
// env's ERROR_RATE / LATENCY_MS / LATENCY_JITTER_MS and the image tag as version; a container with a
// `command` runs as a local child process (command + args, env[].value, workingDir); anything else cannot
// run on this machine and the Pod fails with a message naming the image.

import type { Pod } from '../../api/workloads.ts';
import { type DemoAppConfig, demoImageVersion, demoSettingsFromEnv, isDemoImage } from '../../demo/app.ts';

/** The port a container listens on when it declares none. */
export const DEFAULT_CONTAINER_PORT = 8080;
/** Pod (and container) reason when an image cannot run locally. */
export const UNRUNNABLE_IMAGE_REASON = 'ImageNotRunnableLocally';
/** Container reason for a configuration the runtime cannot read (as the kubelet's). */
export const CONFIG_ERROR_REASON = 'CreateContainerConfigError';

type Json = Record<string, unknown>;

export interface DemoContainerPlan {
  readonly kind: 'demo';
  readonly name: string;
  readonly image: string;
  /** Declared TCP containerPorts, or [8080]. */
  readonly ports: readonly number[];
  readonly config: DemoAppConfig;
}

export interface ProcessContainerPlan {
  readonly kind: 'process';
  readonly name: string;
  readonly image: string;
  /** command followed by args. */
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly workingDir?: string;
  /** Declared TCP containerPorts, or [8080]; the first is PORT and the readiness probe's port. */
  readonly ports: readonly number[];
}

export type ContainerPlan = DemoContainerPlan | ProcessContainerPlan;

export type LocalPodPlan =
  | {
      readonly kind: 'run';
      readonly containers: readonly ContainerPlan[];
      /** Never / OnFailure: containers run to completion (Succeeded or Failed); Always: restarted. */
      readonly restartPolicy: 'Always' | 'OnFailure' | 'Never';
    }
  | {
      readonly kind: 'fail';
      readonly container: string;
      readonly image: string;
      readonly reason: string;
      readonly message: string;
    };

function record(value: unknown): Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {};
}

function list(value: unknown): Json[] {
  return Array.isArray(value) ? value.map(record) : [];
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.map((v) => (typeof v === 'string' ? v : String(v))) : [];
}

/** The TCP ports a container declares, deduplicated, in order; [8080] when it declares none. */
export function containerPorts(container: Json): number[] {
  const ports: number[] = [];
  for (const port of list(container.ports)) {
    const protocol = port.protocol ?? 'TCP';
    const number = port.containerPort;
    if (protocol !== 'TCP' || typeof number !== 'number' || !Number.isInteger(number)) continue;
    if (!ports.includes(number)) ports.push(number);
  }
  return ports.length === 0 ? [DEFAULT_CONTAINER_PORT] : ports;
}

type EnvResult = { ok: true; env: Record<string, string> } | { ok: false; message: string };

function containerEnv(container: Json): EnvResult {
  if (list(container.envFrom).length > 0)
    return { ok: false, message: 'envFrom is not resolved locally; set env[].value' };
  // Later entries win, as in the kubelet.
  const env: Record<string, string> = {};
  for (const entry of list(container.env)) {
    if (typeof entry.name !== 'string') continue;
    if (entry.valueFrom !== undefined)
      return { ok: false, message: `env ${entry.name} uses valueFrom, which is not resolved locally` };
    env[entry.name] = typeof entry.value === 'string' ? entry.value : '';
  }
  return { ok: true, env };
}

/** The local plan of a pod: its containers' plans, or why it cannot run here. */
export function planLocalPod(pod: Pod): LocalPodPlan {
  const spec = record(pod.spec);
  const plans: ContainerPlan[] = [];
  const podName = pod.metadata.name;
  for (const container of list(spec.containers)) {
    const name = typeof container.name === 'string' ? container.name : '';
    const image = typeof container.image === 'string' ? container.image : '';
    const argv = [...strings(container.command), ...strings(container.args)];
    const fail = (reason: string, message: string): LocalPodPlan => ({
      kind: 'fail',
      container: name,
      image,
      reason,
      message,
    });
    if (isDemoImage(image)) {
      const env = containerEnv(container);
      if (!env.ok) return fail(CONFIG_ERROR_REASON, `container "${name}" (${image}): ${env.message}`);
      let settings: ReturnType<typeof demoSettingsFromEnv>;
      try {
        settings = demoSettingsFromEnv(env.env);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        return fail(CONFIG_ERROR_REASON, `container "${name}" (${image}): ${message}`);
      }
      plans.push({
        kind: 'demo',
        name,
        image,
        ports: containerPorts(container),
        config: { name: podName, version: demoImageVersion(image), ...settings },
      });
    } else if (strings(container.command).length > 0) {
      const env = containerEnv(container);
      if (!env.ok) return fail(CONFIG_ERROR_REASON, `container "${name}" (${image}): ${env.message}`);
      plans.push({
        kind: 'process',
        name,
        image,
        argv,
        env: env.env,
        ports: containerPorts(container),
        ...(typeof container.workingDir === 'string' ? { workingDir: container.workingDir } : {}),
      });
    } else {
      return fail(
        UNRUNNABLE_IMAGE_REASON,
        `image ${image === '' ? '(none)' : JSON.stringify(image)} of container "${name}" cannot run locally: use a sluice-demo image or a command`,
      );
    }
  }
  if (plans.length === 0)
    return {
      kind: 'fail',
      container: '',
      image: '',
      reason: 'NoContainers',
      message: 'pod has no containers',
    };
  const policy = spec.restartPolicy;
  const restartPolicy = policy === 'Never' || policy === 'OnFailure' ? policy : 'Always';
  return { kind: 'run', containers: plans, restartPolicy };
}
