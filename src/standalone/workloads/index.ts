// The local stand-in for kube-controller-manager and the kubelet over an ObjectStore (the embedded mode's
// in-memory store has neither): a ReplicaSet controller (replica-sets.ts), a pod runtime that runs Pods on
// this machine (runtime.ts: sluice-demo images in-process, commands as child processes, each pod on its
// own loopback address; or every container a process that outlives standalone, when pods are durable) and an Endpoints controller (endpoints.ts). startLocalWorkloads watches the store
// and reconciles continuously until stop(), which leaves no server listening and no process running.

import type { Pod, Service } from '../../api/workloads.ts';
import type { ObjectStore } from '../../store/object-store.ts';
import { type AddressMode, AddressPool, detectAddressMode } from './addresses.ts';
import { syncEndpoints } from './endpoints.ts';
import type { WorkloadsLog } from './log.ts';
import { WorkQueue } from './queue.ts';
import { syncReplicaSet } from './replica-sets.ts';
import { LocalPodRuntime } from './runtime.ts';

export { type AddressMode, AddressPool, detectAddressMode } from './addresses.ts';
export { endpointSubsets, resolveTargetPort, syncEndpoints } from './endpoints.ts';
export { silentLog, type WorkloadsLog } from './log.ts';
export {
  CONFIG_ERROR_REASON,
  DEFAULT_CONTAINER_PORT,
  type LocalPodPlan,
  planLocalPod,
  UNRUNNABLE_IMAGE_REASON,
} from './plan.ts';
export { deletionOrder, syncReplicaSet } from './replica-sets.ts';
export {
  findLeftovers,
  INSTANCE_ENV,
  LOCAL_PORTS_ANNOTATION,
  LocalPodRuntime,
  localPort,
  POD_UID_ENV,
  tcpProbe,
} from './runtime.ts';

export interface LocalWorkloadsOptions {
  readonly log: WorkloadsLog;
  /**
   * "loopback": a pod per 127.0.0.x address on its declared ports; "shared": every pod on 127.0.0.1 with
   * its own free port. Default: loopback where this machine allows it (Linux), else shared (logged).
   */
  readonly addressMode?: AddressMode;
  /** The first pod address in loopback mode (default 127.0.0.2). */
  readonly firstAddress?: string;
  /** How long a process gets after SIGTERM before SIGKILL (default 3000 ms). */
  readonly killGraceMs?: number;
  /** First restart back-off of a process that exited (default 1000 ms, doubling to 30 s). */
  readonly restartBackoffMs?: number;
  /** Period of the full resync (default 10 s). */
  readonly resyncMs?: number;
  /** See PodRuntimeOptions.instanceId: whose leftover processes a restart kills. */
  readonly instanceId?: string;
  /** See PodRuntimeOptions.durable: pods that outlive a killed standalone, adopted by the next. */
  readonly durable?: { readonly logDir: string };
}

export interface LocalWorkloads {
  /** How pods get their addresses here (known once this machine was probed). */
  readonly addressMode: Promise<AddressMode>;
  /** Stops the controllers and every pod; resolves once nothing listens and no process runs. */
  stop(): Promise<void>;
}

function splitKey(key: string): [string, string] {
  const slash = key.indexOf('/');
  return [key.slice(0, slash), key.slice(slash + 1)];
}

function keyOf(obj: { metadata: { namespace?: string; name: string } }): string {
  return `${obj.metadata.namespace ?? 'default'}/${obj.metadata.name}`;
}

/** Starts the local workload controllers over `store`; they run until stop(). */
export function startLocalWorkloads(store: ObjectStore, options: LocalWorkloadsOptions): LocalWorkloads {
  const { log } = options;
  const addressMode =
    options.addressMode !== undefined
      ? Promise.resolve(options.addressMode)
      : detectAddressMode().then((mode) => {
          if (mode === 'shared') {
            log.warn(
              { module: 'local-workloads' },
              'this machine does not let a process listen on 127.0.0.x other than 127.0.0.1: every pod listens on 127.0.0.1 on a port of its own',
            );
          }
          return mode;
        });
  const runtime = new LocalPodRuntime(store, {
    log,
    addresses: addressMode.then((mode) => new AddressPool(mode, options.firstAddress)),
    ...(options.killGraceMs !== undefined ? { killGraceMs: options.killGraceMs } : {}),
    ...(options.restartBackoffMs !== undefined ? { restartBackoffMs: options.restartBackoffMs } : {}),
    ...(options.instanceId !== undefined ? { instanceId: options.instanceId } : {}),
    ...(options.durable !== undefined ? { durable: options.durable } : {}),
  });

  const replicaSets = new WorkQueue(
    'replicaset',
    async (key) => {
      const [ns, name] = splitKey(key);
      const result = await syncReplicaSet(store, ns, name);
      if (result.requeueAfterMs !== undefined) replicaSets.add(key, result.requeueAfterMs);
    },
    log,
  );
  const endpoints = new WorkQueue(
    'endpoints',
    async (key) => {
      const [ns, name] = splitKey(key);
      await syncEndpoints(store, ns, name);
    },
    log,
  );

  const servicesOf = (namespace: string) => {
    for (const service of store.list<Service>('Service', namespace)) endpoints.add(keyOf(service));
  };
  const ownerOf = (pod: Pod) => {
    for (const ref of pod.metadata.ownerReferences ?? []) {
      if (ref.kind === 'ReplicaSet' && ref.controller === true)
        replicaSets.add(`${pod.metadata.namespace ?? 'default'}/${ref.name}`);
    }
  };

  const unwatch = [
    store.watch('ReplicaSet', (_type, obj) => replicaSets.add(keyOf(obj))),
    store.watch('Pod', (type, obj) => {
      const pod = obj as Pod;
      if (type === 'DELETED') {
        if (pod.metadata.uid !== undefined) void runtime.remove(pod.metadata.uid);
      } else {
        runtime.sync(pod);
      }
      ownerOf(pod);
      servicesOf(pod.metadata.namespace ?? 'default');
    }),
    store.watch('Service', (_type, obj) => endpoints.add(keyOf(obj))),
    store.watch('Endpoints', (_type, obj) => endpoints.add(keyOf(obj))),
  ];

  const resync = () => {
    for (const rs of store.list('ReplicaSet')) replicaSets.add(keyOf(rs));
    for (const pod of store.list<Pod>('Pod')) runtime.sync(pod);
    for (const service of store.list('Service')) endpoints.add(keyOf(service));
  };
  resync();
  const timer = setInterval(resync, options.resyncMs ?? 10_000);
  timer.unref();

  let stopped: Promise<void> | undefined;
  return {
    addressMode,
    stop: () => {
      stopped ??= (async () => {
        clearInterval(timer);
        for (const off of unwatch) off();
        await Promise.all([replicaSets.stop(), endpoints.stop()]);
        await runtime.stopAll();
      })();
      return stopped;
    },
  };
}
