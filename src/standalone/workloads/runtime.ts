// The local kubelet: runs the Pods of an ObjectStore on this machine and writes their status as a kubelet
// would. Each running pod gets its own loopback address (addresses.ts); sluice-demo containers are demo
// app servers in this process, listening on podIP:containerPort; command containers are child processes
// (own process group, killed with it) told PORT (a free port: a process usually listens on every
// interface, so two replicas could not share one) and HOST (the pod address), their output written to the
// log line by line. The port each container port really listens on is recorded on the Pod in the
// `sluice.io/local-ports` annotation ({"8080": 8080}), which the Endpoints controller reads.
//
// Status: podIP, phase Pending -> Running (Failed with a reason for an image that cannot run here, or a
// configuration that cannot be read), Ready once every container listens (a TCP connect to its port),
// containerStatuses with state, ready and restartCount. A process that exits is restarted with back-off
// (CrashLoopBackOff) under restartPolicy Always; under Never / OnFailure the pod ends Succeeded or Failed.

import { type ChildProcess, spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import type { Pod } from '../../api/workloads.ts';
import { type DemoApp, startDemoApp } from '../../demo/app.ts';
import type { ObjectStore } from '../../store/object-store.ts';
import { createMergePatch } from '../../store/patch.ts';
import { type AddressPool, freePort } from './addresses.ts';
import type { WorkloadsLog } from './log.ts';
import { type ContainerPlan, type LocalPodPlan, planLocalPod } from './plan.ts';

/** In every pod process's environment (inherited by its children): the pod's uid. */
export const POD_UID_ENV = 'SLUICE_POD_UID';
/** The standalone instance (its state file) a pod process belongs to, for the leftovers of a killed one. */
export const INSTANCE_ENV = 'SLUICE_STANDALONE_ID';

/** On a Pod: JSON map containerPort -> the port it listens on locally. */
export const LOCAL_PORTS_ANNOTATION = 'sluice.io/local-ports';

const PROBE_INTERVAL_MS = 100;
const MAX_BACKOFF_MS = 30_000;
const LISTEN_ATTEMPTS = 20;

/** The local port of `containerPort` on a pod this runtime runs (the port itself when not recorded). */
export function localPort(pod: Pod, containerPort: number): number {
  const text = pod.metadata.annotations?.[LOCAL_PORTS_ANNOTATION];
  if (text === undefined) return containerPort;
  try {
    const value = (JSON.parse(text) as Record<string, unknown>)[String(containerPort)];
    return typeof value === 'number' ? value : containerPort;
  } catch {
    return containerPort;
  }
}

/** The local port a pod recorded for `containerPort` (before a restart), if any. */
function previousPort(pod: Pod, containerPort: number): number | undefined {
  if (pod.metadata.annotations?.[LOCAL_PORTS_ANNOTATION] === undefined) return undefined;
  return localPort(pod, containerPort);
}

function nowTime(): string {
  return `${new Date().toISOString().slice(0, 19)}Z`;
}

function errorText(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const message = error instanceof Error ? error.message : String(error);
  return code !== undefined && !message.includes(code) ? `${code}: ${message}` : message;
}

/** Whether something accepts TCP connections on host:port. */
export function tcpProbe(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

type ContainerState =
  | { kind: 'waiting'; reason: string; message?: string }
  | { kind: 'running'; startedAt: string }
  | { kind: 'terminated'; exitCode: number; reason: string; startedAt?: string; finishedAt: string };

interface ContainerRun {
  readonly plan: ContainerPlan;
  /** containerPort -> local port. */
  readonly ports: Map<number, number>;
  state: ContainerState;
  lastTerminated?: ContainerState & { kind: 'terminated' };
  ready: boolean;
  started: boolean;
  restartCount: number;
  apps: DemoApp[];
  child?: ChildProcess;
  exited?: Promise<void>;
  restartTimer?: NodeJS.Timeout;
}

interface PodRun {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  ip?: string;
  plan?: LocalPodPlan;
  readonly containers: ContainerRun[];
  stopped: boolean;
  startTime: string;
  readyChangedAt: string;
  wasReady: boolean;
  /** Status writes, one at a time. */
  writing: Promise<void>;
  writePending: boolean;
  started: Promise<void>;
}

export interface PodRuntimeOptions {
  readonly log: WorkloadsLog;
  /** Resolves once this machine's address mode is known. */
  readonly addresses: AddressPool | Promise<AddressPool>;
  /** How long a process gets after SIGTERM before SIGKILL (default 3000 ms). */
  readonly killGraceMs?: number;
  /** First back-off of a restarted process (default 1000 ms, doubling to 30 s). */
  readonly restartBackoffMs?: number;
  /**
   * The instance these pods belong to (standalone: derived from its state file, which only one live
   * standalone holds). Processes carrying it that this runtime did not start were left by a killed
   * predecessor — whose Pods, not persisted, had other uids — and are killed before the first pod starts.
   */
  readonly instanceId?: string;
}

/** Runs pods on this machine; `sync` on every Pod change, `remove` on deletion, `stopAll` at the end. */
export class LocalPodRuntime {
  readonly #store: ObjectStore;
  readonly #log: WorkloadsLog;
  readonly #addressPool: Promise<AddressPool>;
  #addresses!: AddressPool;
  readonly #killGraceMs: number;
  readonly #backoffMs: number;
  readonly #runs = new Map<string, PodRun>();
  readonly #stopping = new Set<Promise<void>>();
  readonly #children = new Set<ChildProcess>();
  #closed = false;
  #leftovers: Promise<Map<string, number[]>> | undefined;
  #instanceLeftovers: Promise<void> | undefined;
  readonly #instanceId: string | undefined;
  readonly #onExit = () => {
    // Last resort when this process exits without stop(): no child outlives it.
    for (const child of this.#children) killGroup(child, 'SIGKILL');
  };

  constructor(store: ObjectStore, options: PodRuntimeOptions) {
    this.#store = store;
    this.#log = options.log;
    this.#instanceId = options.instanceId;
    this.#addressPool = Promise.resolve(options.addresses);
    this.#killGraceMs = options.killGraceMs ?? 3_000;
    this.#backoffMs = options.restartBackoffMs ?? 1_000;
    process.on('exit', this.#onExit);
  }

  /** The pods running (or starting) here, by uid. */
  get running(): number {
    return this.#runs.size;
  }

  /** Starts a pod not yet run here (a pod already running is left as it is: pod specs are immutable). */
  sync(pod: Pod): void {
    if (this.#closed) return;
    const uid = pod.metadata.uid;
    if (uid === undefined || this.#runs.has(uid)) return;
    const phase = pod.status?.phase;
    // A pod that completed (or failed to start) before a restart stays as it is.
    if (phase === 'Succeeded' || phase === 'Failed') return;
    if (pod.metadata.deletionTimestamp !== undefined) return;
    const now = nowTime();
    const run: PodRun = {
      uid,
      namespace: pod.metadata.namespace ?? 'default',
      name: pod.metadata.name,
      containers: [],
      stopped: false,
      startTime: now,
      readyChangedAt: now,
      wasReady: false,
      writing: Promise.resolve(),
      writePending: false,
      started: Promise.resolve(),
    };
    this.#runs.set(uid, run);
    run.started = this.#start(run, pod).catch((error) => {
      this.#log.warn({ module: 'local-workloads', pod: run.name, err: errorText(error) }, 'pod start failed');
    });
  }

  /** Stops a pod's containers (the Pod was deleted); resolves once they are gone. */
  remove(uid: string): Promise<void> {
    const run = this.#runs.get(uid);
    if (run === undefined) return Promise.resolve();
    this.#runs.delete(uid);
    run.stopped = true;
    const stopping = (async () => {
      await run.started;
      await Promise.all(run.containers.map((c) => this.#stopContainer(c)));
      if (run.ip !== undefined) (await this.#addressPool).release(run.ip);
    })();
    this.#stopping.add(stopping);
    void stopping.finally(() => this.#stopping.delete(stopping));
    return stopping;
  }

  /** Stops every pod here; resolves once no server listens and no process runs. */
  async stopAll(): Promise<void> {
    this.#closed = true;
    for (const uid of [...this.#runs.keys()]) void this.remove(uid);
    await Promise.all([...this.#stopping]);
    process.off('exit', this.#onExit);
  }

  async #killInstanceLeftovers(): Promise<void> {
    if (this.#instanceId === undefined) return;
    const pids = (await findLeftovers(INSTANCE_ENV)).get(this.#instanceId) ?? [];
    if (pids.length === 0) return;
    this.#log.info(
      { module: 'local-workloads', pids },
      `killing ${pids.length} pod process(es) left by an earlier run of this standalone`,
    );
    await killLeftovers(pids);
  }

  async #start(run: PodRun, pod: Pod): Promise<void> {
    this.#addresses = await this.#addressPool;
    if (run.stopped) return;
    // Processes of this instance left by a runtime that was killed (SIGKILL), whatever pod they ran.
    this.#instanceLeftovers ??= this.#killInstanceLeftovers();
    await this.#instanceLeftovers;
    if (run.stopped) return;
    // Processes of this pod left by a runtime that was killed (SIGKILL): they would hold its ports.
    this.#leftovers ??= findLeftovers();
    const leftovers = (await this.#leftovers).get(run.uid);
    if (leftovers !== undefined && leftovers.length > 0) {
      this.#log.info(
        { module: 'local-workloads', pod: `${run.namespace}/${run.name}`, pids: leftovers },
        `killing ${leftovers.length} process(es) of pod ${run.name} left by an earlier run`,
      );
      await killLeftovers(leftovers);
      if (run.stopped) return;
    }
    const plan = planLocalPod(pod);
    run.plan = plan;
    if (plan.kind === 'fail') {
      this.#log.warn(
        { module: 'local-workloads', pod: `${run.namespace}/${run.name}`, reason: plan.reason },
        plan.message,
      );
      this.#scheduleWrite(run);
      return;
    }
    for (const containerPlan of plan.containers) {
      run.containers.push({
        plan: containerPlan,
        ports: new Map(),
        state: { kind: 'waiting', reason: 'ContainerCreating' },
        ready: false,
        started: false,
        restartCount: 0,
        apps: [],
      });
    }
    const previousIp =
      typeof (pod.status as { podIP?: unknown } | undefined)?.podIP === 'string'
        ? (pod.status as { podIP: string }).podIP
        : undefined;
    // Demo servers first: when their ports are taken at this address (another program), try another.
    let lastError = '';
    for (let attempt = 0; attempt < LISTEN_ATTEMPTS && !run.stopped; attempt++) {
      const ip = this.#addresses.acquire(attempt === 0 ? previousIp : undefined);
      run.ip = ip;
      const result = await this.#startDemoServers(run, ip, attempt === 0 ? pod : undefined);
      if (result === undefined) break;
      lastError = result;
      this.#addresses.release(ip);
      run.ip = undefined;
      if (this.#addresses.mode === 'shared') break;
    }
    if (run.stopped) return;
    if (run.ip === undefined) {
      for (const c of run.containers) {
        if (c.plan.kind === 'demo')
          c.state = { kind: 'waiting', reason: 'DemoListenFailed', message: lastError };
      }
      this.#log.warn({ module: 'local-workloads', pod: `${run.namespace}/${run.name}` }, lastError);
      this.#scheduleWrite(run);
      return;
    }
    for (const c of run.containers) {
      if (c.plan.kind !== 'process') continue;
      for (const port of c.plan.ports) c.ports.set(port, await freePort(previousPort(pod, port)));
    }
    if (run.stopped) return;
    await this.#recordPorts(run);
    for (const c of run.containers) if (c.plan.kind === 'process') this.#spawn(run, c);
    this.#scheduleWrite(run);
  }

  /** Undefined when every demo server listens, else the error (the servers started are closed). */
  async #startDemoServers(run: PodRun, ip: string, previous: Pod | undefined): Promise<string | undefined> {
    const shared = this.#addresses.mode === 'shared';
    for (const c of run.containers) {
      const plan = c.plan;
      if (plan.kind !== 'demo') continue;
      for (const port of plan.ports) {
        if (run.stopped) return undefined;
        try {
          // Shared address: a port of its own, the one it had before a restart when that is still free.
          const local = shared ? ((previous && previousPort(previous, port)) ?? 0) : port;
          const app = await startDemoApp(plan.config, { host: ip, port: local }).catch((error) => {
            if (!shared || local === 0) throw error;
            return startDemoApp(plan.config, { host: ip, port: 0 });
          });
          c.apps.push(app);
          c.ports.set(port, app.port);
        } catch (error) {
          const message = `sluice-demo container "${c.plan.name}" could not listen on ${ip}:${port}: ${errorText(error)}`;
          await Promise.all(run.containers.flatMap((x) => x.apps.splice(0)).map((app) => app.close()));
          for (const x of run.containers) x.ports.clear();
          return message;
        }
      }
      const now = nowTime();
      c.state = { kind: 'running', startedAt: now };
      c.started = true;
      c.ready = true;
    }
    return undefined;
  }

  async #recordPorts(run: PodRun): Promise<void> {
    const ports: Record<string, number> = {};
    for (const c of run.containers)
      for (const [containerPort, port] of c.ports) ports[containerPort] ??= port;
    try {
      await this.#store.patch('Pod', run.namespace, run.name, {
        metadata: { annotations: { [LOCAL_PORTS_ANNOTATION]: JSON.stringify(ports) } },
      });
    } catch (error) {
      this.#log.warn(
        { module: 'local-workloads', pod: run.name, err: errorText(error) },
        'could not record ports',
      );
    }
  }

  #spawn(run: PodRun, c: ContainerRun): void {
    if (run.stopped || c.plan.kind !== 'process' || run.ip === undefined) return;
    const plan = c.plan;
    const port = c.ports.get(plan.ports[0] ?? 0) ?? 0;
    const [file, ...args] = plan.argv;
    const where = `${run.namespace}/${run.name}/${plan.name}`;
    let child: ChildProcess;
    try {
      child = spawn(file ?? '', args, {
        cwd: plan.workingDir,
        env: {
          ...process.env,
          ...plan.env,
          PORT: String(port),
          HOST: run.ip,
          [POD_UID_ENV]: run.uid,
          ...(this.#instanceId !== undefined ? { [INSTANCE_ENV]: this.#instanceId } : {}),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
    } catch (error) {
      this.#exited(run, c, 127, `could not start ${JSON.stringify(file)}: ${errorText(error)}`);
      return;
    }
    c.child = child;
    this.#children.add(child);
    const startedAt = nowTime();
    c.state = { kind: 'running', startedAt };
    c.started = true;
    c.ready = false;
    for (const [stream, readable] of [
      ['stdout', child.stdout],
      ['stderr', child.stderr],
    ] as const) {
      if (readable === null) continue;
      createInterface({ input: readable }).on('line', (line) => {
        this.#log.info({ module: 'local-workloads', pod: where, stream }, `[${where}] ${line}`);
      });
    }
    let spawnError: string | undefined;
    child.once('error', (error) => {
      spawnError = `could not start ${JSON.stringify(file)}: ${errorText(error)}`;
    });
    c.exited = new Promise<void>((resolve) => {
      child.once('close', (code, signal) => {
        this.#children.delete(child);
        killGroup(child, 'SIGKILL');
        if (c.child === child) c.child = undefined;
        resolve();
        const exitCode = code ?? (signal !== null ? 128 + 9 : 1);
        this.#exited(
          run,
          c,
          spawnError !== undefined ? 127 : exitCode,
          spawnError ?? (signal ? `killed by ${signal}` : undefined),
          startedAt,
        );
      });
    });
    this.#scheduleWrite(run);
    void this.#probe(run, c, child, port);
  }

  async #probe(run: PodRun, c: ContainerRun, child: ChildProcess, port: number): Promise<void> {
    while (!run.stopped && c.child === child && !c.ready) {
      if (await tcpProbe(run.ip ?? '127.0.0.1', port, 500)) {
        if (run.stopped || c.child !== child) return;
        c.ready = true;
        this.#scheduleWrite(run);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, PROBE_INTERVAL_MS));
    }
  }

  #exited(run: PodRun, c: ContainerRun, exitCode: number, message?: string, startedAt?: string): void {
    c.ready = false;
    const terminated = {
      kind: 'terminated' as const,
      exitCode,
      reason: exitCode === 0 ? 'Completed' : 'Error',
      finishedAt: nowTime(),
      ...(startedAt !== undefined ? { startedAt } : {}),
    };
    if (run.stopped) return;
    const policy = run.plan?.kind === 'run' ? run.plan.restartPolicy : 'Always';
    this.#log.info(
      { module: 'local-workloads', pod: `${run.namespace}/${run.name}`, container: c.plan.name, exitCode },
      `container ${c.plan.name} exited with ${exitCode}${message ? `: ${message}` : ''}`,
    );
    if (policy === 'Never' || (policy === 'OnFailure' && exitCode === 0)) {
      c.state = terminated;
      this.#scheduleWrite(run);
      return;
    }
    c.lastTerminated = terminated;
    const backoff = Math.min(MAX_BACKOFF_MS, this.#backoffMs * 2 ** Math.min(c.restartCount, 10));
    c.state = {
      kind: 'waiting',
      reason: 'CrashLoopBackOff',
      message: `back-off ${Math.round(backoff / 1000)}s restarting failed container=${c.plan.name} pod=${run.name}${message ? ` (${message})` : ''}`,
    };
    c.restartCount += 1;
    this.#scheduleWrite(run);
    c.restartTimer = setTimeout(() => {
      c.restartTimer = undefined;
      this.#spawn(run, c);
    }, backoff);
  }

  async #stopContainer(c: ContainerRun): Promise<void> {
    if (c.restartTimer !== undefined) clearTimeout(c.restartTimer);
    c.restartTimer = undefined;
    await Promise.all(c.apps.splice(0).map((app) => app.close()));
    const child = c.child;
    if (child === undefined) return;
    killGroup(child, 'SIGTERM');
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), this.#killGraceMs);
    await c.exited;
    clearTimeout(timer);
  }

  #scheduleWrite(run: PodRun): void {
    if (run.writePending) return;
    run.writePending = true;
    run.writing = run.writing.then(async () => {
      run.writePending = false;
      if (run.stopped) return;
      const current = this.#store.get<Pod>('Pod', run.namespace, run.name);
      if (current === undefined || current.metadata.uid !== run.uid) return;
      const next = this.#status(run);
      const patch = createMergePatch({ status: current.status ?? {} }, { status: next });
      if (patch === undefined) return;
      try {
        await this.#store.patchStatus('Pod', run.namespace, run.name, patch);
      } catch (error) {
        if ((error as { reason?: string }).reason === 'NotFound') return;
        this.#log.warn(
          { module: 'local-workloads', pod: run.name, err: errorText(error) },
          'pod status write failed',
        );
        setTimeout(() => this.#scheduleWrite(run), 200);
      }
    });
  }

  #status(run: PodRun): Record<string, unknown> {
    const plan = run.plan;
    const condition = (type: string, status: boolean, at: string, reason?: string, message?: string) => ({
      type,
      status: status ? 'True' : 'False',
      lastTransitionTime: at,
      ...(reason !== undefined ? { reason } : {}),
      ...(message !== undefined ? { message } : {}),
    });
    if (plan === undefined || plan.kind === 'fail') {
      return {
        phase: plan === undefined ? 'Pending' : 'Failed',
        ...(plan?.kind === 'fail' ? { reason: plan.reason, message: plan.message } : {}),
        hostIP: '127.0.0.1',
        startTime: run.startTime,
        conditions: [
          condition('PodScheduled', true, run.startTime),
          condition('Ready', false, run.startTime, plan?.reason, plan?.message),
        ],
        ...(plan?.kind === 'fail'
          ? {
              containerStatuses: [
                {
                  name: plan.container,
                  image: plan.image,
                  imageID: '',
                  ready: false,
                  started: false,
                  restartCount: 0,
                  state: { waiting: { reason: plan.reason, message: plan.message } },
                },
              ],
            }
          : {}),
      };
    }
    const ready = run.containers.length > 0 && run.containers.every((c) => c.ready);
    if (ready !== run.wasReady) {
      run.wasReady = ready;
      run.readyChangedAt = nowTime();
    }
    const terminated = run.containers.every((c) => c.state.kind === 'terminated');
    const failed = run.containers.some((c) => c.state.kind === 'terminated' && c.state.exitCode !== 0);
    const phase = terminated
      ? failed
        ? 'Failed'
        : 'Succeeded'
      : run.containers.some((c) => c.started)
        ? 'Running'
        : 'Pending';
    const notReady = run.containers.filter((c) => !c.ready).map((c) => c.plan.name);
    const unreadyMessage =
      notReady.length > 0 ? `containers with unready status: [${notReady.join(' ')}]` : undefined;
    const waiting = run.containers.find((c) => c.state.kind === 'waiting' && c.state.message !== undefined);
    return {
      phase,
      hostIP: '127.0.0.1',
      ...(run.ip !== undefined ? { podIP: run.ip, podIPs: [{ ip: run.ip }] } : {}),
      startTime: run.startTime,
      ...(waiting !== undefined && waiting.state.kind === 'waiting'
        ? { message: waiting.state.message }
        : {}),
      conditions: [
        condition('PodScheduled', true, run.startTime),
        condition('Initialized', true, run.startTime),
        condition(
          'ContainersReady',
          ready,
          run.readyChangedAt,
          ready ? undefined : 'ContainersNotReady',
          unreadyMessage,
        ),
        condition(
          'Ready',
          ready,
          run.readyChangedAt,
          ready ? undefined : 'ContainersNotReady',
          unreadyMessage,
        ),
      ],
      containerStatuses: run.containers.map((c) => ({
        name: c.plan.name,
        image: c.plan.image,
        imageID: '',
        ...(c.child?.pid !== undefined ? { containerID: `local://${c.child.pid}` } : {}),
        ready: c.ready,
        started: c.started,
        restartCount: c.restartCount,
        state: stateJson(c.state),
        ...(c.lastTerminated !== undefined ? { lastState: stateJson(c.lastTerminated) } : {}),
      })),
    };
  }
}

function stateJson(state: ContainerState): Record<string, unknown> {
  switch (state.kind) {
    case 'waiting':
      return {
        waiting: { reason: state.reason, ...(state.message !== undefined ? { message: state.message } : {}) },
      };
    case 'running':
      return { running: { startedAt: state.startedAt } };
    case 'terminated':
      return {
        terminated: {
          exitCode: state.exitCode,
          reason: state.reason,
          ...(state.startedAt !== undefined ? { startedAt: state.startedAt } : {}),
          finishedAt: state.finishedAt,
        },
      };
  }
}

/**
 * Processes of this user that carry SLUICE_POD_UID (pod processes a killed runtime left behind), by pod
 * uid. Linux (/proc) only; elsewhere, and on any error, none.
 */
export async function findLeftovers(envName: string = POD_UID_ENV): Promise<Map<string, number[]>> {
  const found = new Map<string, number[]>();
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return found;
  }
  const prefix = `${envName}=`;
  await Promise.all(
    entries
      .filter((e) => /^\d+$/.test(e) && Number(e) !== process.pid)
      .map(async (e) => {
        try {
          const environ = await readFile(`/proc/${e}/environ`, 'utf8');
          const entry = environ.split('\0').find((v) => v.startsWith(prefix));
          if (entry === undefined) return;
          const uid = entry.slice(prefix.length);
          found.set(uid, [...(found.get(uid) ?? []), Number(e)]);
        } catch {
          // gone, or not ours
        }
      }),
  );
  return found;
}

async function killLeftovers(pids: readonly number[]): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  // Wait (briefly) until they are gone or zombies, so their ports are free.
  for (let i = 0; i < 40; i++) {
    const states = await Promise.all(
      pids.map((pid) =>
        readFile(`/proc/${pid}/stat`, 'utf8').then(
          (stat) => stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3),
          () => 'gone',
        ),
      ),
    );
    if (states.every((st) => st === 'gone' || st === 'Z')) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Signals a child's whole process group (it was spawned detached, as its group's leader). */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}
