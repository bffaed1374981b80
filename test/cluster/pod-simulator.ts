// Pod-readiness simulator for the test control plane (there is no kubelet, like KWOK): registers a fake
// Node, binds every unscheduled Pod to it with a fake pod IP, and after a delay writes the status a kubelet
// would (Running + Ready with conditions and containerStatuses). Pods being deleted are force-deleted
// (grace period 0) so ReplicaSet scale-down and namespace deletion complete.
//
// Per-pod behaviour, read from the pod (labels/annotations come from the pod template, so a whole revision
// can be marked):
//   annotation sluice.test/ready-delay-ms: "2500"        delay before Ready (default SLUICE_SIM_READY_DELAY_MS, 1000)
//   label or annotation sluice.test/fail: "true" | "crash-loop"   container crash-loops (CrashLoopBackOff, never Ready)
//   sluice.test/fail: "image-pull"                        ErrImagePull, stays Pending
//   sluice.test/fail: "never-ready"                       Running but the readiness probe never passes
//   image tag ":bad" -> image-pull; ":crash" -> crash-loop; ":unready" -> never-ready
// Pods with restartPolicy Never/OnFailure (e.g. Jobs of the analysis `job` provider) run to completion:
// Succeeded after the delay, or Failed when sluice.test/exit-code is non-zero, the image tag is ":fail", or
// the container's command/args end in `exit N` with N != 0.
//
// Real workloads (demo-pods.ts): a running pod with a `sluice-demo` container gets a real HTTP server on
// podIP:containerPort for as long as the simulator keeps the pod, and becomes Ready only once it listens (a
// listen failure leaves it unready with the error as the Ready condition's message). Pod IPs are in
// 10.244.0.0/16, made local to this host at start when possible (pod-network.ts; the route is removed at
// stop only if this simulator added it). Servers stop when the pod is deleted or forgotten and at stop; a
// restarted simulator starts them again for the settled running demo pods it finds. Without the route demo
// pods become Ready unserved, and the Node's sluice.test/demo-pods annotation says why.
//
// Run as a process: node test/cluster/pod-simulator.ts --kubeconfig PATH
//   (env SLUICE_SIM_READY_DELAY_MS default delay; SLUICE_SIM_WATCH_TIMEOUT_S watch renewal period, default 300)

import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEMO_PODS_ANNOTATION, DemoPodServers, type DemoServerPlan, planDemoServers } from './demo-pods.ts';
import { DEFAULT_WATCH_TIMEOUT_S, KubeApiError, KubeClient, type WatchEvent } from './kube-client.ts';
import { claimPodNetwork, POD_CIDR, type PodNetwork } from './pod-network.ts';

export const SIMULATED_NODE_NAME = 'sluice-node-1';
export const DEFAULT_READY_DELAY_MS = 1_000;
export const FAIL_KEY = 'sluice.test/fail';
export const READY_DELAY_KEY = 'sluice.test/ready-delay-ms';
export const EXIT_CODE_KEY = 'sluice.test/exit-code';
const NODE_IP = '10.250.0.1';
const RELIST_BACKOFF_MS = 1_000;
const CRASH_RESTART_COUNT = 3;

/** Waiting reason of a demo container that could not listen on its pod IP and port. */
export const DEMO_LISTEN_FAILED_REASON = 'DemoListenFailed';
/** Waiting reason of a demo container whose env the simulator cannot read (the kubelet's reason for a bad env reference). */
export const CONTAINER_CONFIG_ERROR_REASON = 'CreateContainerConfigError';

export type PodOutcome =
  | { kind: 'ready' }
  | { kind: 'crash-loop' }
  | { kind: 'image-pull' }
  | { kind: 'never-ready' }
  | { kind: 'complete'; exitCode: number }
  /** One container cannot start or serve: never Ready; the reason and message are on the Ready condition. */
  | {
      kind: 'container-error';
      phase: 'Pending' | 'Running';
      container: string;
      reason: string;
      message: string;
    };

export interface PodPlan {
  outcome: PodOutcome;
  delayMs: number;
  /** Servers of the pod's sluice-demo containers, started while the pod runs (empty for other pods). */
  demoServers: readonly DemoServerPlan[];
}

type Json = Record<string, unknown>;

function record(value: unknown): Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {};
}

function stringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(record(value))) if (typeof v === 'string') out[key] = v;
  return out;
}

function containers(pod: Json): Json[] {
  const list = record(pod.spec).containers;
  return Array.isArray(list) ? list.map(record) : [];
}

function imageTag(image: unknown): string {
  if (typeof image !== 'string') return '';
  const lastSlash = image.lastIndexOf('/');
  const colon = image.indexOf(':', lastSlash + 1);
  return colon >= 0 ? image.slice(colon + 1).replace(/@.*$/, '') : '';
}

function commandExitCode(container: Json): number | undefined {
  const parts = [container.command, container.args].flatMap((v) => (Array.isArray(v) ? v : []));
  const text = parts.filter((p): p is string => typeof p === 'string').join(' ');
  const match = /\bexit\s+(\d+)\s*;?\s*$/.exec(text);
  return match === null ? undefined : Number.parseInt(match[1] ?? '0', 10);
}

/** What the simulator will do with a pod: a pure function of the pod object and the default delay. */
export function planPod(pod: Json, defaultDelayMs: number = DEFAULT_READY_DELAY_MS): PodPlan {
  const metadata = record(pod.metadata);
  const annotations = stringMap(metadata.annotations);
  const labels = stringMap(metadata.labels);
  const delayText = annotations[READY_DELAY_KEY];
  const parsedDelay = delayText === undefined ? Number.NaN : Number(delayText);
  const delayMs = Number.isFinite(parsedDelay) && parsedDelay >= 0 ? parsedDelay : defaultDelayMs;
  const fail = annotations[FAIL_KEY] ?? labels[FAIL_KEY];
  const tags = containers(pod).map((c) => imageTag(c.image));
  const restartPolicy = record(pod.spec).restartPolicy;
  if (restartPolicy === 'Never' || restartPolicy === 'OnFailure') {
    const declared = annotations[EXIT_CODE_KEY];
    let exitCode = declared === undefined ? 0 : Number.parseInt(declared, 10) || 0;
    if (exitCode === 0 && (tags.includes('fail') || fail === 'true')) exitCode = 1;
    if (exitCode === 0) {
      for (const container of containers(pod)) {
        const code = commandExitCode(container);
        if (code !== undefined && code !== 0) exitCode = code;
      }
    }
    if (fail === 'image-pull' || tags.includes('bad'))
      return { outcome: { kind: 'image-pull' }, delayMs, demoServers: [] };
    return { outcome: { kind: 'complete', exitCode }, delayMs, demoServers: [] };
  }
  if (fail === 'image-pull' || tags.includes('bad'))
    return { outcome: { kind: 'image-pull' }, delayMs, demoServers: [] };
  if (fail === 'true' || fail === 'crash-loop' || tags.includes('crash'))
    return { outcome: { kind: 'crash-loop' }, delayMs, demoServers: [] };
  // A running container serves, ready or not.
  const demo = planDemoServers(pod);
  if (demo.kind === 'invalid') {
    const outcome: PodOutcome = {
      kind: 'container-error',
      phase: 'Pending',
      container: demo.container,
      reason: CONTAINER_CONFIG_ERROR_REASON,
      message: demo.message,
    };
    return { outcome, delayMs, demoServers: [] };
  }
  const demoServers = demo.kind === 'serve' ? demo.servers : [];
  if (fail === 'never-ready' || tags.includes('unready'))
    return { outcome: { kind: 'never-ready' }, delayMs, demoServers };
  return { outcome: { kind: 'ready' }, delayMs, demoServers };
}

/** The outcome of a pod whose demo server could not listen: running, never Ready, with the error. */
export function demoListenFailed(container: string, message: string): PodOutcome {
  return { kind: 'container-error', phase: 'Running', container, reason: DEMO_LISTEN_FAILED_REASON, message };
}

function condition(type: string, status: boolean, now: string, reason?: string, message?: string): Json {
  return {
    type,
    status: status ? 'True' : 'False',
    lastProbeTime: null,
    lastTransitionTime: now,
    ...(reason === undefined ? {} : { reason }),
    ...(message === undefined ? {} : { message }),
  };
}

function containerStatus(
  container: Json,
  index: number,
  uid: string,
  outcome: PodOutcome,
  now: string,
  startTime: string,
): Json {
  const base = {
    name: container.name,
    image: container.image,
    imageID: `docker-pullable://${String(container.image)}@sha256:${'0'.repeat(64)}`,
    containerID: `containerd://${uid.replaceAll('-', '')}${index}`,
  };
  switch (outcome.kind) {
    case 'ready':
      return {
        ...base,
        ready: true,
        started: true,
        restartCount: 0,
        state: { running: { startedAt: startTime } },
      };
    case 'never-ready':
      return {
        ...base,
        ready: false,
        started: true,
        restartCount: 0,
        state: { running: { startedAt: startTime } },
      };
    case 'crash-loop':
      return {
        ...base,
        ready: false,
        started: false,
        restartCount: CRASH_RESTART_COUNT,
        state: {
          waiting: {
            reason: 'CrashLoopBackOff',
            message: `back-off 40s restarting failed container=${String(container.name)}`,
          },
        },
        lastState: { terminated: { exitCode: 1, reason: 'Error', startedAt: startTime, finishedAt: now } },
      };
    case 'image-pull':
      return {
        name: container.name,
        image: container.image,
        imageID: '',
        ready: false,
        started: false,
        restartCount: 0,
        state: {
          waiting: {
            reason: 'ErrImagePull',
            message: `rpc error: code = NotFound desc = failed to pull image "${String(container.image)}"`,
          },
        },
      };
    case 'container-error':
      if (container.name !== outcome.container) {
        return {
          ...base,
          ready: false,
          started: true,
          restartCount: 0,
          state: { running: { startedAt: startTime } },
        };
      }
      return {
        name: container.name,
        image: container.image,
        imageID: base.imageID,
        ready: false,
        started: false,
        restartCount: 0,
        state: { waiting: { reason: outcome.reason, message: outcome.message } },
      };
    case 'complete':
      return {
        ...base,
        ready: false,
        started: false,
        restartCount: 0,
        state: {
          terminated: {
            exitCode: outcome.exitCode,
            reason: outcome.exitCode === 0 ? 'Completed' : 'Error',
            startedAt: startTime,
            finishedAt: now,
          },
        },
      };
  }
}

/** The pod status a kubelet would report for the plan's outcome (a pure function of its inputs). */
export function simulatedStatus(
  pod: Json,
  outcome: PodOutcome,
  podIp: string,
  now: string,
  startTime: string,
): Json {
  const uid = typeof record(pod.metadata).uid === 'string' ? (record(pod.metadata).uid as string) : 'pod';
  const containerStatuses = containers(pod).map((container, index) =>
    containerStatus(container, index, uid, outcome, now, startTime),
  );
  const ready = outcome.kind === 'ready';
  const phase =
    outcome.kind === 'image-pull'
      ? 'Pending'
      : outcome.kind === 'container-error'
        ? outcome.phase
        : outcome.kind === 'complete'
          ? outcome.exitCode === 0
            ? 'Succeeded'
            : 'Failed'
          : 'Running';
  const notReadyReason =
    outcome.kind === 'complete'
      ? 'PodCompleted'
      : outcome.kind === 'container-error'
        ? outcome.reason
        : 'ContainersNotReady';
  const notReadyMessage = outcome.kind === 'container-error' ? outcome.message : undefined;
  return {
    phase,
    hostIP: NODE_IP,
    podIP: podIp,
    podIPs: [{ ip: podIp }],
    startTime,
    qosClass: 'BestEffort',
    conditions: [
      condition('Initialized', true, now),
      condition('Ready', ready, now, ready ? undefined : notReadyReason, notReadyMessage),
      condition('ContainersReady', ready, now, ready ? undefined : notReadyReason, notReadyMessage),
      condition('PodScheduled', true, startTime),
    ],
    containerStatuses,
  };
}

export interface PodSimulatorOptions {
  defaultDelayMs?: number;
  /** Server-side watch timeout; each expiry re-watches from the last resourceVersion. */
  watchTimeoutS?: number;
  log?: (line: string) => void;
  /**
   * Makes the pod network local so sluice-demo pods are served (default: claimPodNetwork, which adds the
   * route when it is missing); false never serves them.
   */
  podNetwork?: (() => Promise<PodNetwork>) | false;
}

export interface PodSimulator {
  /** Resolves once the Node exists and the initial pod list has been processed. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

function podPath(namespace: string, name: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`;
}

/** Registers the Node (or refreshes it) with the demo-pods annotation saying whether demo pods are served. */
async function ensureNode(client: KubeClient, demoPods: string): Promise<void> {
  const now = new Date().toISOString();
  const existing = await client.raw('GET', `/api/v1/nodes/${SIMULATED_NODE_NAME}`);
  if (existing.status === 404) {
    await client.create('/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: SIMULATED_NODE_NAME,
        labels: {
          'kubernetes.io/hostname': SIMULATED_NODE_NAME,
          'kubernetes.io/os': 'linux',
          type: 'sluice-simulated',
        },
      },
      spec: {},
    });
  }
  await client.mergePatch(`/api/v1/nodes/${SIMULATED_NODE_NAME}`, {
    metadata: { annotations: { [DEMO_PODS_ANNOTATION]: demoPods } },
  });
  await client.mergePatch(`/api/v1/nodes/${SIMULATED_NODE_NAME}/status`, {
    status: {
      capacity: { cpu: '64', memory: '256Gi', pods: '10000' },
      allocatable: { cpu: '64', memory: '256Gi', pods: '10000' },
      addresses: [
        { type: 'InternalIP', address: NODE_IP },
        { type: 'Hostname', address: SIMULATED_NODE_NAME },
      ],
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'KubeletReady',
          message: 'simulated by sluice',
          lastHeartbeatTime: now,
          lastTransitionTime: now,
        },
      ],
      nodeInfo: {
        kubeletVersion: 'v1.20.2-sluice-sim',
        kubeProxyVersion: 'v1.20.2-sluice-sim',
        operatingSystem: 'linux',
        architecture: 'amd64',
        containerRuntimeVersion: 'sluice-sim://1',
        kernelVersion: '',
        osImage: 'sluice simulated node',
        machineID: '',
        systemUUID: '',
        bootID: '',
      },
    },
  });
}

/** Starts the simulator against `client`; the caller owns the client and closes it after stop(). */
export function startPodSimulator(client: KubeClient, options: PodSimulatorOptions = {}): PodSimulator {
  const defaultDelayMs = options.defaultDelayMs ?? DEFAULT_READY_DELAY_MS;
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const abort = new AbortController();
  const timers = new Map<string, NodeJS.Timeout>();
  /** uid -> pod IP: allocated here, or found on a pod an earlier simulator settled */
  const podIps = new Map<string, string>();
  /** Every IP in podIps: a restarted simulator never hands out one an existing pod has. */
  const ipsInUse = new Set<string>();
  /** uids whose final status has been written */
  const settled = new Set<string>();
  const deleting = new Set<string>();
  const demoServers = new DemoPodServers();
  let network: PodNetwork | undefined;
  let nextIp = 2;
  let stopped = false;

  const allocateIp = (uid: string): string => {
    const existing = podIps.get(uid);
    if (existing !== undefined) return existing;
    let ip: string;
    do {
      const n = nextIp++;
      ip = `10.244.${Math.floor(n / 250) % 250}.${(n % 250) + 2}`;
    } while (ipsInUse.has(ip));
    podIps.set(uid, ip);
    ipsInUse.add(ip);
    return ip;
  };

  const info = (msg: string, fields: Json = {}) => log(JSON.stringify({ level: 'info', msg, ...fields }));

  const warn = (what: string, error: unknown) => {
    if (stopped) return;
    log(
      JSON.stringify({
        level: 'warn',
        msg: what,
        error: error instanceof Error ? error.message : String(error),
      }),
    );
  };

  const forget = (uid: string) => {
    const timer = timers.get(uid);
    if (timer !== undefined) clearTimeout(timer);
    timers.delete(uid);
    const ip = podIps.get(uid);
    if (ip !== undefined) ipsInUse.delete(ip);
    podIps.delete(uid);
    settled.delete(uid);
    deleting.delete(uid);
    void demoServers.stop(uid);
  };

  /**
   * A settled running demo pod found at start (an earlier simulator served it): its servers again, on the
   * same IP. A pod whose demo container was not running (it failed to listen or to read its env) stays as is.
   */
  const resumeDemoServers = (pod: Json, uid: string, path: string, ip: string): void => {
    if (network?.served !== true) return;
    const plan = planPod(pod, defaultDelayMs);
    if (plan.demoServers.length === 0) return;
    const status = record(pod.status);
    const statuses = Array.isArray(status.containerStatuses) ? status.containerStatuses.map(record) : [];
    const running = plan.demoServers.every((server) =>
      statuses.some((c) => c.name === server.container && record(c.state).running !== undefined),
    );
    if (!running) return;
    const podName = `${String(record(pod.metadata).namespace)}/${String(record(pod.metadata).name)}`;
    void demoServers.start(uid, ip, plan.demoServers).then((result) => {
      if (result.kind === 'listening') {
        info('demo servers restarted', { pod: podName, ip });
        return;
      }
      if (result.kind !== 'failed' || stopped) return;
      warn(`demo servers of ${podName}`, new Error(result.message));
      const now = new Date().toISOString();
      const startTime = typeof status.startTime === 'string' ? status.startTime : now;
      const outcome = demoListenFailed(result.container, result.message);
      client
        .mergePatch(`${path}/status`, { status: simulatedStatus(pod, outcome, ip, now, startTime) })
        .catch((error: unknown) => warn(`status (listen failed) ${podName}`, error));
    });
  };

  const handlePod = (pod: Json): void => {
    const metadata = record(pod.metadata);
    const uid = typeof metadata.uid === 'string' ? metadata.uid : '';
    const namespace = typeof metadata.namespace === 'string' ? metadata.namespace : '';
    const name = typeof metadata.name === 'string' ? metadata.name : '';
    if (uid === '' || namespace === '' || name === '') return;
    const path = podPath(namespace, name);

    if (metadata.deletionTimestamp !== undefined && metadata.deletionTimestamp !== null) {
      if (deleting.has(uid)) return;
      deleting.add(uid);
      const timer = timers.get(uid);
      if (timer !== undefined) clearTimeout(timer);
      timers.delete(uid);
      // Force-deleted with grace period 0: its containers stop now.
      void demoServers.stop(uid);
      client.delete(path, { gracePeriodSeconds: 0 }).catch((error: unknown) => {
        deleting.delete(uid);
        warn(`force-delete ${namespace}/${name}`, error);
      });
      return;
    }

    const spec = record(pod.spec);
    if (typeof spec.nodeName !== 'string' || spec.nodeName === '') {
      client
        .create(`${path}/binding`, {
          apiVersion: 'v1',
          kind: 'Binding',
          metadata: { name, namespace },
          target: { apiVersion: 'v1', kind: 'Node', name: SIMULATED_NODE_NAME },
        })
        .catch((error: unknown) => {
          if (error instanceof KubeApiError && (error.status === 409 || error.status === 404)) return;
          warn(`bind ${namespace}/${name}`, error);
        });
      return;
    }
    if (spec.nodeName !== SIMULATED_NODE_NAME || settled.has(uid) || timers.has(uid)) return;

    const status = record(pod.status);
    // A final status carries the pod IP (the Pending one does not): written by this or an earlier simulator.
    if (status.phase === 'Succeeded' || status.phase === 'Failed' || typeof status.podIP === 'string') {
      settled.add(uid);
      if (typeof status.podIP === 'string') {
        podIps.set(uid, status.podIP);
        ipsInUse.add(status.podIP);
        if (status.phase === 'Running') resumeDemoServers(pod, uid, path, status.podIP);
      }
      return;
    }
    const plan = planPod(pod, defaultDelayMs);
    const ip = allocateIp(uid);
    const startTime = new Date().toISOString();
    // Pending with an IP at once (as the kubelet reports ContainerCreating), the final status after the delay.
    client
      .mergePatch(`${path}/status`, {
        status: {
          phase: 'Pending',
          hostIP: NODE_IP,
          startTime,
          conditions: [condition('PodScheduled', true, startTime), condition('Initialized', true, startTime)],
          containerStatuses: containers(pod).map((c) => ({
            name: c.name,
            image: c.image,
            imageID: '',
            ready: false,
            started: false,
            restartCount: 0,
            state: { waiting: { reason: 'ContainerCreating' } },
          })),
        },
      })
      .catch((error: unknown) => warn(`status (pending) ${namespace}/${name}`, error));
    const demo =
      plan.demoServers.length === 0 ? undefined : network?.served === true ? 'served' : 'not served';
    // The demo containers start now and listen while the ready delay runs; the pod is Ready only once they
    // listen. undefined: the servers were stopped first (pod deleted or forgotten, simulator stopping).
    const outcome: Promise<PodOutcome | undefined> =
      demo === 'served'
        ? demoServers.start(uid, ip, plan.demoServers).then((result) => {
            if (result.kind === 'cancelled') return undefined;
            if (result.kind === 'listening') return plan.outcome;
            warn(`demo servers of ${namespace}/${name}`, new Error(result.message));
            return demoListenFailed(result.container, result.message);
          })
        : Promise.resolve(plan.outcome);
    const timer = setTimeout(() => {
      timers.delete(uid);
      if (stopped) return;
      // Settled before the patch: its own MODIFIED event must not schedule the pod again.
      settled.add(uid);
      void outcome.then((final) => {
        if (final === undefined || stopped || deleting.has(uid) || !podIps.has(uid)) return;
        const now = new Date().toISOString();
        client
          .mergePatch(`${path}/status`, { status: simulatedStatus(pod, final, ip, now, startTime) })
          .then(() => {
            info('pod status', {
              pod: `${namespace}/${name}`,
              outcome: final.kind,
              ...(demo === undefined ? {} : { demo, ip }),
              ...(final.kind === 'container-error' ? { reason: final.reason, message: final.message } : {}),
            });
          })
          .catch((error: unknown) => {
            if (error instanceof KubeApiError && error.status === 404) return;
            settled.delete(uid);
            warn(`status ${namespace}/${name}`, error);
          });
      });
    }, plan.delayMs);
    timers.set(uid, timer);
  };

  const handleEvent = (event: WatchEvent): string | undefined => {
    const rv = record(event.object.metadata).resourceVersion;
    if (event.type === 'ERROR') {
      const code = event.object.code;
      if (code === 410) return 'expired';
      warn('watch error event', new Error(JSON.stringify(event.object)));
      return 'expired';
    }
    if (event.type === 'DELETED') {
      const uid = record(event.object.metadata).uid;
      if (typeof uid === 'string') forget(uid);
    } else if (event.type === 'ADDED' || event.type === 'MODIFIED') {
      handlePod(event.object);
    }
    return typeof rv === 'string' ? rv : undefined;
  };

  let resolveReady: () => void = () => undefined;
  let rejectReady: (error: unknown) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });

  const loop = async () => {
    const claim = options.podNetwork ?? claimPodNetwork;
    network =
      claim === false ? { served: false, reason: 'disabled', release: async () => undefined } : await claim();
    if (network.served) info('demo pods served', { podNetwork: POD_CIDR, routeAdded: network.addedRoute });
    else log(JSON.stringify({ level: 'warn', msg: 'demo pods not served', reason: network.reason }));
    const demoPods = network.served ? 'served' : `not served: ${network.reason}`;
    let first = true;
    while (!stopped) {
      try {
        await ensureNode(client, demoPods);
        const list = await client.get('/api/v1/pods');
        const items = (Array.isArray(list.items) ? list.items : []).map(record);
        // Pods deleted while the watch was down sent no DELETED event: forget them (and stop their servers).
        const listed = new Set(items.map((item) => record(item.metadata).uid));
        for (const uid of new Set([...podIps.keys(), ...settled, ...deleting, ...timers.keys()]))
          if (!listed.has(uid)) forget(uid);
        for (const item of items) handlePod(item);
        let resourceVersion = String(record(list.metadata).resourceVersion ?? '');
        if (first) {
          first = false;
          resolveReady();
        }
        let expired = false;
        while (!stopped && !expired) {
          await client.watch(
            '/api/v1/pods',
            resourceVersion,
            (event) => {
              const rv = handleEvent(event);
              if (rv === 'expired') expired = true;
              else if (rv !== undefined) resourceVersion = rv;
            },
            abort.signal,
            options.watchTimeoutS,
          );
        }
      } catch (error) {
        if (stopped) break;
        warn('pod watch failed; relisting', error);
        await new Promise((resolve) => setTimeout(resolve, RELIST_BACKOFF_MS));
      }
    }
    if (first) rejectReady(new Error('pod simulator stopped before it was ready'));
  };
  const running = loop();

  return {
    ready,
    async stop() {
      stopped = true;
      abort.abort();
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      await running;
      // Servers first: the route goes only once nothing listens on the pod network.
      await demoServers.stopAll();
      await network?.release();
    },
  };
}

/** A non-negative number from the environment; undefined when unset or malformed. */
function envNumber(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text.trim() === '') return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) {
    process.stderr.write(`pod-simulator: ignoring ${name}=${text} (not a non-negative number)\n`);
    return undefined;
  }
  return value;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { kubeconfig: { type: 'string' } } });
  const kubeconfig = values.kubeconfig ?? process.env.KUBECONFIG;
  if (kubeconfig === undefined) {
    process.stderr.write('pod-simulator: --kubeconfig PATH is required\n');
    process.exit(2);
  }
  const client = await KubeClient.fromKubeconfig(kubeconfig);
  const simulator = startPodSimulator(client, {
    defaultDelayMs: envNumber('SLUICE_SIM_READY_DELAY_MS') ?? DEFAULT_READY_DELAY_MS,
    watchTimeoutS: envNumber('SLUICE_SIM_WATCH_TIMEOUT_S') ?? DEFAULT_WATCH_TIMEOUT_S,
  });
  const shutdown = async () => {
    await simulator.stop();
    await client.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown());
  process.once('SIGINT', () => void shutdown());
  await simulator.ready;
  process.stdout.write(
    `${JSON.stringify({ level: 'info', msg: 'pod simulator ready', node: SIMULATED_NODE_NAME })}\n`,
  );
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `pod-simulator: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  });
}
