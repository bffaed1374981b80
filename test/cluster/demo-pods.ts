// Real workloads in the test cluster: a pod whose container image is `sluice-demo` (any registry, any tag)
// runs the demo application (src/demo/app.ts) on podIP:containerPort for as long as the pod simulator
// keeps the pod, so tests send real HTTP traffic to pods. This file owns what to serve for a pod (a pure
// function of the pod object) and the servers themselves (started and stopped per pod uid).
//
// Per demo container: one server per TCP containerPort (8080 when no ports are declared), answering with
// the pod name and the image tag; ERROR_RATE, LATENCY_MS and LATENCY_JITTER_MS come from `env[].value`.
// A value the simulator cannot read (valueFrom, envFrom, a malformed number) is a container config error on
// the pod, never a silent default.

import {
  type DemoApp,
  type DemoAppConfig,
  demoImageVersion,
  demoSettingsFromEnv,
  isDemoImage,
  startDemoApp,
} from '../../src/demo/app.ts';

/** Port a demo container serves on when it declares none. */
export const DEFAULT_DEMO_PORT = 8080;
/** The demo app's misbehaviour settings, read from the container's env. */
export const DEMO_ENV_NAMES = ['ERROR_RATE', 'LATENCY_MS', 'LATENCY_JITTER_MS'] as const;
/**
 * On the simulated Node: `served` when demo pods get servers, else `not served: <reason>` (the pod network
 * could not be made local). Tests read it to fail (CI) or skip with the reason.
 */
export const DEMO_PODS_ANNOTATION = 'sluice.test/demo-pods';

type Json = Record<string, unknown>;

export interface DemoServerPlan {
  readonly container: string;
  readonly port: number;
  readonly config: DemoAppConfig;
}

export type DemoPlan =
  | { readonly kind: 'none' }
  | { readonly kind: 'serve'; readonly servers: readonly DemoServerPlan[] }
  | { readonly kind: 'invalid'; readonly container: string; readonly message: string };

function record(value: unknown): Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {};
}

function list(value: unknown): Json[] {
  return Array.isArray(value) ? value.map(record) : [];
}

/** The TCP ports a container declares, deduplicated, in order; [8080] when it declares none. */
export function demoPorts(container: Json): number[] {
  const declared = list(container.ports);
  if (declared.length === 0) return [DEFAULT_DEMO_PORT];
  const ports: number[] = [];
  for (const port of declared) {
    const protocol = port.protocol ?? 'TCP';
    const number = port.containerPort;
    if (protocol !== 'TCP' || typeof number !== 'number' || !Number.isInteger(number)) continue;
    if (!ports.includes(number)) ports.push(number);
  }
  return ports;
}

/** What to serve for a pod: nothing (no demo container), its servers, or why its config cannot be read. */
export function planDemoServers(pod: Json): DemoPlan {
  const podName = record(pod.metadata).name;
  const name = typeof podName === 'string' ? podName : '';
  const servers: DemoServerPlan[] = [];
  let demo = false;
  for (const container of list(record(pod.spec).containers)) {
    const image = container.image;
    if (typeof image !== 'string' || !isDemoImage(image)) continue;
    demo = true;
    const containerName = typeof container.name === 'string' ? container.name : '';
    const where = `container "${containerName}" (${image})`;
    if (container.envFrom !== undefined && list(container.envFrom).length > 0) {
      return {
        kind: 'invalid',
        container: containerName,
        message: `${where}: envFrom is not resolved by the test cluster's pod simulator; set ${DEMO_ENV_NAMES.join(', ')} with env[].value`,
      };
    }
    // Later entries win, as in the kubelet.
    const env: Record<string, string> = {};
    for (const entry of list(container.env)) {
      const envName = entry.name;
      if (typeof envName !== 'string') continue;
      if (!(DEMO_ENV_NAMES as readonly string[]).includes(envName)) continue;
      if (entry.valueFrom !== undefined) {
        return {
          kind: 'invalid',
          container: containerName,
          message: `${where}: env ${envName} uses valueFrom, which the test cluster's pod simulator does not resolve; give it a value`,
        };
      }
      env[envName] = typeof entry.value === 'string' ? entry.value : '';
    }
    let settings: ReturnType<typeof demoSettingsFromEnv>;
    try {
      settings = demoSettingsFromEnv(env);
    } catch (error) {
      return {
        kind: 'invalid',
        container: containerName,
        message: `${where}: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
    const config: DemoAppConfig = { name, version: demoImageVersion(image), ...settings };
    for (const port of demoPorts(container)) servers.push({ container: containerName, port, config });
  }
  return demo ? { kind: 'serve', servers } : { kind: 'none' };
}

export type DemoStartResult =
  | { readonly kind: 'listening' }
  /** Stopped (pod deleted or forgotten, simulator stopping) before every server listened. */
  | { readonly kind: 'cancelled' }
  | { readonly kind: 'failed'; readonly container: string; readonly message: string };

interface Entry {
  readonly apps: DemoApp[];
  cancelled: boolean;
  started: Promise<DemoStartResult>;
}

function listenError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const message = error instanceof Error ? error.message : String(error);
  return code !== undefined && !message.includes(code) ? `${code}: ${message}` : message;
}

/** The demo servers of the pods the simulator keeps, by pod uid. */
export class DemoPodServers {
  readonly #entries = new Map<string, Entry>();
  readonly #stopping = new Set<Promise<void>>();

  /** Whether servers run (or are starting) for `uid`. */
  has(uid: string): boolean {
    return this.#entries.has(uid);
  }

  /**
   * Starts the servers of a pod on `ip`, all or none: when one cannot listen, those already listening are
   * closed and the result names the container and the error. Starting a pod that has servers returns the
   * first start's result.
   */
  start(uid: string, ip: string, plans: readonly DemoServerPlan[]): Promise<DemoStartResult> {
    const existing = this.#entries.get(uid);
    if (existing !== undefined) return existing.started;
    const entry: Entry = { apps: [], cancelled: false, started: Promise.resolve({ kind: 'cancelled' }) };
    this.#entries.set(uid, entry);
    entry.started = this.#listen(uid, entry, ip, plans);
    return entry.started;
  }

  async #listen(
    uid: string,
    entry: Entry,
    ip: string,
    plans: readonly DemoServerPlan[],
  ): Promise<DemoStartResult> {
    for (const plan of plans) {
      if (entry.cancelled) return { kind: 'cancelled' };
      try {
        entry.apps.push(await startDemoApp(plan.config, { host: ip, port: plan.port }));
      } catch (error) {
        await Promise.all(entry.apps.splice(0).map((app) => app.close()));
        if (this.#entries.get(uid) === entry) this.#entries.delete(uid);
        return {
          kind: 'failed',
          container: plan.container,
          message: `sluice-demo container "${plan.container}" could not listen on ${ip}:${plan.port}: ${listenError(error)}`,
        };
      }
    }
    return entry.cancelled ? { kind: 'cancelled' } : { kind: 'listening' };
  }

  /** Stops the servers of `uid` (waiting for a start in progress); resolves once their ports are closed. */
  stop(uid: string): Promise<void> {
    const entry = this.#entries.get(uid);
    if (entry === undefined) return Promise.resolve();
    this.#entries.delete(uid);
    entry.cancelled = true;
    const stopping = (async () => {
      await entry.started;
      await Promise.all(entry.apps.splice(0).map((app) => app.close()));
    })();
    this.#stopping.add(stopping);
    void stopping.finally(() => this.#stopping.delete(stopping));
    return stopping;
  }

  /** Stops every server, including those of stops still in progress. */
  async stopAll(): Promise<void> {
    for (const uid of [...this.#entries.keys()]) void this.stop(uid);
    await Promise.all([...this.#stopping]);
  }
}
