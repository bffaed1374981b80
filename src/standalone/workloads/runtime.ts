// The local kubelet: runs the Pods of an ObjectStore on this machine and writes their status as a kubelet
// would. Each running pod gets its own loopback address (addresses.ts); sluice-demo containers are demo
// app servers in this process, listening on podIP:containerPort; command containers are child processes
// (own process group, killed with it) told PORT (a free port: a process usually listens on every
// interface, so two replicas could not share one) and HOST (the pod address), their output written to the
// log line by line. The port each container port really listens on is recorded on the Pod in the
// `sluice.io/local-ports` annotation ({"8080": 8080}), which the Endpoints controller reads.
//
// Durable pods (standalone with a state file, which keeps the Pods): every container is a process,
// sluice-demo ones too (demo-pod.ts), writing to a log file that is followed, so the pods outlive a
// standalone that is killed and keep serving while it is down. The next runtime adopts the processes of
// the Pods it finds running (containerID local://PID, checked against the pod uid in the process's
// environment where /proc tells), restarts the containers whose process is gone (restartCount + 1), and
// kills the rest.
//
// Status: podIP, phase Pending -> Running (Failed with a reason for an image that cannot run here, or a
// configuration that cannot be read), Ready once every container listens (a TCP connect to its port),
// containerStatuses with state, ready and restartCount. A process that exits is restarted with back-off
// (CrashLoopBackOff) under restartPolicy Always; under Never / OnFailure the pod ends Succeeded or Failed.

import { unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Pod } from '../../api/workloads.ts';
import { type DemoApp, startDemoApp } from '../../demo/app.ts';
import type { ObjectStore } from '../../store/object-store.ts';
import { createMergePatch } from '../../store/patch.ts';
import { type AddressPool, freePort, portFree } from './addresses.ts';
import { DEMO_POD_ENTRY, DEMO_POD_ENV, type DemoPodSpec } from './demo-pod.ts';
import type { WorkloadsLog } from './log.ts';
import { type ContainerPlan, type LocalPodPlan, planLocalPod } from './plan.ts';
import {
  adoptProcess,
  environValue,
  findByEnv,
  isRunning,
  killPids,
  type LocalProcess,
  processGroup,
  spawnProcess,
} from './processes.ts';

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
  /** sluice-demo servers in this process (pods that are not durable). */
  apps: DemoApp[];
  proc?: LocalProcess;
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
   * standalone holds). Processes carrying it that belong to no Pod of the store were left by a killed
   * predecessor, and are killed before the first pod starts.
   */
  readonly instanceId?: string;
  /**
   * Pods that outlive this runtime when it is killed (standalone with a state file, which keeps the
   * Pods): every container a process with its output in a log file in `logDir`, adopted by the next
   * runtime. A graceful stopAll() still stops them all.
   */
  readonly durable?: { readonly logDir: string };
}

interface RecordedContainer {
  readonly pid: number;
  readonly startedAt?: string;
  readonly restartCount: number;
}

/** What a Pod's status says ran for `container` before a restart (a running local://PID), if anything. */
function recordedContainer(pod: Pod, container: string): RecordedContainer | undefined {
  const statuses = (pod.status as { containerStatuses?: unknown } | undefined)?.containerStatuses;
  if (!Array.isArray(statuses)) return undefined;
  const status = statuses.find((s) => (s as { name?: unknown }).name === container) as
    | { containerID?: unknown; restartCount?: unknown; state?: { running?: { startedAt?: unknown } } }
    | undefined;
  const pid = Number(/^local:\/\/(\d+)$/.exec(String(status?.containerID ?? ''))?.[1]);
  if (status?.state?.running === undefined || !Number.isInteger(pid) || pid <= 1) return undefined;
  const startedAt = status.state.running.startedAt;
  return {
    pid,
    ...(typeof startedAt === 'string' ? { startedAt } : {}),
    restartCount: typeof status.restartCount === 'number' ? status.restartCount : 0,
  };
}

function podIp(pod: Pod): string | undefined {
  const ip = (pod.status as { podIP?: unknown } | undefined)?.podIP;
  return typeof ip === 'string' ? ip : undefined;
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
  readonly #procs = new Set<LocalProcess>();
  #closed = false;
  #podProcesses: Promise<Map<string, number[]>> | undefined;
  #instanceLeftovers: Promise<void> | undefined;
  readonly #instanceId: string | undefined;
  readonly #durable: { readonly logDir: string } | undefined;
  readonly #onExit = () => {
    // Last resort when this process exits without stop(): no child outlives it (unless durable).
    for (const proc of this.#procs) proc.kill('SIGKILL');
  };

  constructor(store: ObjectStore, options: PodRuntimeOptions) {
    this.#store = store;
    this.#log = options.log;
    this.#instanceId = options.instanceId;
    this.#durable = options.durable;
    this.#addressPool = Promise.resolve(options.addresses);
    this.#killGraceMs = options.killGraceMs ?? 3_000;
    this.#backoffMs = options.restartBackoffMs ?? 1_000;
    if (this.#durable === undefined) process.on('exit', this.#onExit);
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
    const startTime = (pod.status as { startTime?: unknown } | undefined)?.startTime;
    const run: PodRun = {
      uid,
      namespace: pod.metadata.namespace ?? 'default',
      name: pod.metadata.name,
      containers: [],
      stopped: false,
      startTime: this.#durable !== undefined && typeof startTime === 'string' ? startTime : now,
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
      await Promise.all(run.containers.map((c) => this.#stopContainer(run, c)));
      if (run.ip !== undefined) (await this.#addressPool).release(run.ip);
    })();
    this.#stopping.add(stopping);
    void stopping.finally(() => this.#stopping.delete(stopping));
    return stopping;
  }

  /** Stops every pod here; resolves once no server listens and no process runs. */
  async stopAll(): Promise<void> {
    this.#closed = true;
    const runs = [...this.#runs.values()];
    for (const uid of [...this.#runs.keys()]) void this.remove(uid);
    await Promise.all([...this.#stopping]);
    // Durable pods are kept in the state file: say their processes are gone, so that the next start
    // starts them again instead of looking for processes to adopt (a pid may be reused meanwhile).
    if (this.#durable !== undefined) await Promise.all(runs.map((run) => this.#writeStopped(run)));
    process.off('exit', this.#onExit);
  }

  async #writeStopped(run: PodRun): Promise<void> {
    await run.writing;
    if (run.plan === undefined || run.plan.kind === 'fail') return;
    for (const c of run.containers) {
      c.state = { kind: 'waiting', reason: 'ContainerCreating', message: 'stopped with sluice standalone' };
      c.ready = false;
      c.started = false;
    }
    const current = this.#store.get<Pod>('Pod', run.namespace, run.name);
    if (current === undefined || current.metadata.uid !== run.uid) return;
    const patch = createMergePatch({ status: current.status ?? {} }, { status: this.#status(run) });
    if (patch === undefined) return;
    await this.#store.patchStatus('Pod', run.namespace, run.name, patch).catch((error) => {
      this.#log.warn(
        { module: 'local-workloads', pod: run.name, err: errorText(error) },
        'pod status write failed',
      );
    });
  }

  /** Pod processes of this user by pod uid (looked up once per runtime). */
  #processesByPod(): Promise<Map<string, number[]>> {
    this.#podProcesses ??= findByEnv(POD_UID_ENV);
    return this.#podProcesses;
  }

  /** Kills the processes of this instance that belong to no Pod of the store (a killed predecessor's). */
  async #killInstanceLeftovers(): Promise<void> {
    if (this.#instanceId === undefined) return;
    const pids = (await findByEnv(INSTANCE_ENV)).get(this.#instanceId) ?? [];
    if (pids.length === 0) return;
    const live = new Set(
      this.#store
        .list<Pod>('Pod')
        .filter((p) => p.metadata.deletionTimestamp === undefined)
        .map((p) => p.metadata.uid),
    );
    const byPod = await this.#processesByPod();
    const owned = new Set([...byPod].filter(([uid]) => live.has(uid)).flatMap(([, p]) => p));
    const strays = pids.filter((pid) => !owned.has(pid));
    if (strays.length === 0) return;
    this.#log.info(
      { module: 'local-workloads', pids: strays },
      `killing ${strays.length} pod process(es) left by an earlier run of this standalone`,
    );
    await killPids(strays);
  }

  async #start(run: PodRun, pod: Pod): Promise<void> {
    this.#addresses = await this.#addressPool;
    if (run.stopped) return;
    // A durable pod's address is taken back before anything else waits: no new pod may take it first.
    const previousIp = podIp(pod);
    const kept =
      this.#durable !== undefined && previousIp !== undefined
        ? this.#addresses.acquire(previousIp)
        : undefined;
    if (kept !== undefined) run.ip = kept;
    // Processes of this instance left by a runtime that was killed (SIGKILL), whatever pod they ran.
    this.#instanceLeftovers ??= this.#killInstanceLeftovers();
    await this.#instanceLeftovers;
    if (run.stopped) return;
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
    if (this.#durable !== undefined) await this.#startDurable(run, pod, kept === previousIp);
    else await this.#startEphemeral(run, pod, previousIp);
  }

  /** A pod whose processes outlive this runtime: adopts the ones still running, starts the others. */
  async #startDurable(run: PodRun, pod: Pod, sameAddress: boolean): Promise<void> {
    run.ip ??= this.#addresses.acquire();
    const adopted = new Set<number>();
    for (const c of run.containers) {
      const recorded = sameAddress ? recordedContainer(pod, c.plan.name) : undefined;
      if (recorded !== undefined && (await this.#adopt(run, c, pod, recorded))) adopted.add(recorded.pid);
      else if (recorded !== undefined) {
        // It ran, and is gone (ended while no standalone watched it): a restart, as a kubelet counts one.
        c.restartCount = recorded.restartCount + 1;
        c.lastTerminated = {
          kind: 'terminated',
          exitCode: 137,
          reason: 'ContainerStatusUnknown',
          finishedAt: nowTime(),
          ...(recorded.startedAt !== undefined ? { startedAt: recorded.startedAt } : {}),
        };
        this.#log.info(
          { module: 'local-workloads', pod: `${run.namespace}/${run.name}`, pid: recorded.pid },
          `container ${c.plan.name} of pod ${run.name} ended while standalone was down: starting it again`,
        );
      }
      if (run.stopped) return;
    }
    // Anything else of this pod still running (a container whose record was lost) would hold its ports.
    const strays: number[] = [];
    for (const pid of (await this.#processesByPod()).get(run.uid) ?? []) {
      const group = await processGroup(pid);
      if (group === undefined || !adopted.has(group)) strays.push(pid);
    }
    if (strays.length > 0) {
      this.#log.info(
        { module: 'local-workloads', pod: `${run.namespace}/${run.name}`, pids: strays },
        `killing ${strays.length} process(es) of pod ${run.name} left by an earlier run`,
      );
      await killPids(strays);
    }
    if (run.stopped) return;
    const loopback = this.#addresses.mode === 'loopback';
    if (loopback && adopted.size === 0) {
      // Its demo servers listen on the pod's address at their declared ports: another program (another
      // standalone, whose addresses start at the same 127.0.0.2) may hold one there; then another address.
      const demoPorts = run.containers.flatMap((c) => (c.plan.kind === 'demo' ? c.plan.ports : []));
      for (let attempt = 1; attempt < LISTEN_ATTEMPTS && !run.stopped; attempt++) {
        const ip = run.ip;
        const free = await Promise.all(demoPorts.map((port) => portFree(ip, port)));
        if (free.every(Boolean)) break;
        this.#addresses.release(ip);
        run.ip = this.#addresses.acquire();
      }
    }
    for (const c of run.containers) {
      if (c.proc !== undefined) continue;
      for (const port of c.plan.ports) {
        // A demo server listens on the pod's address only: its declared port there, as in a cluster.
        const local = c.plan.kind === 'demo' && loopback ? port : await freePort(previousPort(pod, port));
        c.ports.set(port, local);
      }
    }
    if (run.stopped) return;
    await this.#recordPorts(run);
    for (const c of run.containers) if (c.proc === undefined) this.#spawn(run, c);
    this.#scheduleWrite(run);
  }

  /** Takes over a container's process left running by a killed runtime, when it is still this pod's. */
  async #adopt(run: PodRun, c: ContainerRun, pod: Pod, recorded: RecordedContainer): Promise<boolean> {
    const carries = await environValue(recorded.pid, POD_UID_ENV);
    // null: the process does not carry this pod's uid (gone, or the pid was reused); undefined: no /proc.
    if (carries === null || (carries !== undefined && carries !== run.uid)) return false;
    if (!(await isRunning(recorded.pid))) return false;
    for (const port of c.plan.ports) c.ports.set(port, localPort(pod, port));
    const where = `${run.namespace}/${run.name}/${c.plan.name}`;
    const proc = adoptProcess(recorded.pid, this.#logFile(run, c), (line) => this.#line(where, 'log', line));
    const startedAt = recorded.startedAt ?? nowTime();
    c.proc = proc;
    c.state = { kind: 'running', startedAt };
    c.started = true;
    c.restartCount = recorded.restartCount;
    this.#procs.add(proc);
    this.#log.info(
      { module: 'local-workloads', pod: where, pid: recorded.pid },
      `adopted the running process of ${where}`,
    );
    this.#watch(run, c, proc, startedAt);
    void this.#probe(run, c, proc);
    return true;
  }

  /** A pod that dies with this runtime: demo servers in this process, commands as children. */
  async #startEphemeral(run: PodRun, pod: Pod, previousIp: string | undefined): Promise<void> {
    // Processes of this pod left by a runtime that was killed (SIGKILL): they would hold its ports.
    const leftovers = (await this.#processesByPod()).get(run.uid);
    if (leftovers !== undefined && leftovers.length > 0) {
      this.#log.info(
        { module: 'local-workloads', pod: `${run.namespace}/${run.name}`, pids: leftovers },
        `killing ${leftovers.length} process(es) of pod ${run.name} left by an earlier run`,
      );
      await killPids(leftovers);
      if (run.stopped) return;
    }
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

  #logFile(run: PodRun, c: ContainerRun): string | undefined {
    if (this.#durable === undefined) return undefined;
    return join(this.#durable.logDir, `${run.namespace}_${run.name}_${c.plan.name}.log`);
  }

  #line(where: string, stream: string, line: string): void {
    this.#log.info({ module: 'local-workloads', pod: where, stream }, `[${where}] ${line}`);
  }

  #spawn(run: PodRun, c: ContainerRun): void {
    if (run.stopped || run.ip === undefined) return;
    const plan = c.plan;
    if (plan.kind === 'demo' && this.#durable === undefined) return;
    const where = `${run.namespace}/${run.name}/${plan.name}`;
    const identity = {
      [POD_UID_ENV]: run.uid,
      ...(this.#instanceId !== undefined ? { [INSTANCE_ENV]: this.#instanceId } : {}),
    };
    let argv: readonly string[];
    let env: NodeJS.ProcessEnv;
    let cwd: string | undefined;
    if (plan.kind === 'process') {
      argv = plan.argv;
      cwd = plan.workingDir;
      const port = c.ports.get(plan.ports[0] ?? 0) ?? 0;
      env = { ...process.env, ...plan.env, PORT: String(port), HOST: run.ip, ...identity };
    } else {
      const spec: DemoPodSpec = {
        config: plan.config,
        listen: plan.ports.map((port) => ({ host: run.ip!, port: c.ports.get(port) ?? port })),
      };
      argv = [process.execPath, fileURLToPath(DEMO_POD_ENTRY)];
      env = { ...process.env, [DEMO_POD_ENV]: JSON.stringify(spec), ...identity };
    }
    let proc: LocalProcess;
    try {
      proc = spawnProcess(argv, {
        ...(cwd !== undefined ? { cwd } : {}),
        env,
        ...(this.#durable !== undefined ? { logFile: this.#logFile(run, c)! } : {}),
        onLine: (stream, line) => this.#line(where, stream, line),
      });
    } catch (error) {
      this.#exited(run, c, 127, `could not start ${JSON.stringify(argv[0])}: ${errorText(error)}`);
      return;
    }
    c.proc = proc;
    this.#procs.add(proc);
    const startedAt = nowTime();
    c.state = { kind: 'running', startedAt };
    c.started = true;
    c.ready = false;
    this.#watch(run, c, proc, startedAt);
    this.#scheduleWrite(run);
    void this.#probe(run, c, proc);
  }

  #watch(run: PodRun, c: ContainerRun, proc: LocalProcess, startedAt: string): void {
    void proc.exited.then((status) => {
      this.#procs.delete(proc);
      if (c.proc === proc) c.proc = undefined;
      // An adopted process is no child of this one: how it ended is not known.
      const code = status.spawnError !== undefined ? 127 : (status.code ?? (status.signal ? 137 : 1));
      const message =
        status.spawnError ??
        (status.signal
          ? `killed by ${status.signal}`
          : proc.adopted
            ? 'the adopted process ended (exit status unknown)'
            : undefined);
      this.#exited(run, c, code, message, startedAt);
    });
  }

  async #probe(run: PodRun, c: ContainerRun, proc: LocalProcess): Promise<void> {
    const port = c.ports.get(c.plan.ports[0] ?? 0) ?? 0;
    while (!run.stopped && c.proc === proc && !c.ready) {
      if (await tcpProbe(run.ip ?? '127.0.0.1', port, 500)) {
        if (run.stopped || c.proc !== proc) return;
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

  async #stopContainer(run: PodRun, c: ContainerRun): Promise<void> {
    if (c.restartTimer !== undefined) clearTimeout(c.restartTimer);
    c.restartTimer = undefined;
    await Promise.all(c.apps.splice(0).map((app) => app.close()));
    const proc = c.proc;
    if (proc !== undefined) {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), this.#killGraceMs);
      await proc.exited;
      clearTimeout(timer);
    }
    const logFile = this.#logFile(run, c);
    if (logFile !== undefined) await unlink(logFile).catch(() => {});
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
        ...(c.proc !== undefined ? { containerID: `local://${c.proc.pid}` } : {}),
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
export function findLeftovers(envName: string = POD_UID_ENV): Promise<Map<string, number[]>> {
  return findByEnv(envName);
}
