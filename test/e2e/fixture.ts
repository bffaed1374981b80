// The shared end-to-end fixture (Argo's test/fixtures Given/When/Then, reduced to what our e2e files need):
// one namespace per scenario on the real test cluster, a Sluice controller scoped to it (in-process
// `Controller`, or a `sluice controller` subprocess that a restart test can SIGKILL), manifests applied with
// kubectl exactly as a user would, CLI verbs run in-process through runRolloutVerb, and waits/reads on the
// Rollout's phase, step, conditions and events, its ReplicaSets, Pods, AnalysisRuns and Services.
// Rollout events are collected by a watch started before anything is applied, so their order is the order
// the API server stored them (an aggregated repeat, count N -> N+1, counts as one more occurrence).
// `startWebMetric` is a node:http server on 127.0.0.1 whose JSON answer the test sets.
//
// Usage:
//   const e = await E2e.create('canary-promote');      // namespace + CRDs + in-process controller
//   await e.apply(yaml);                               // kubectl apply -n <ns> -f -
//   await e.waitForPhase('ro', 'Healthy');
//   await e.sluice('set', 'image', 'ro', 'app=img:v2');
//   ...
//   await e.dispose();                                 // controller, watch, namespace, client

import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { parseAllDocuments } from 'yaml';
import type { Rollout, RolloutCondition, RolloutPhase } from '../../src/api/rollout.ts';
import { Controller } from '../../src/controller/lifecycle.ts';
import type { ControllerOptions } from '../../src/controller/options.ts';
import type { KubeClient } from '../cluster/kube-client.ts';
import { kubectl } from '../cluster/kubectl.ts';
import {
  createTestNamespace,
  ensureCrds,
  ROUTER_CRDS_DIR,
  type TestNamespace,
  testClient,
  testKubeconfig,
} from '../cluster/namespace.ts';
import { REPO_ROOT } from '../cluster/paths.ts';
import { runSluice } from '../cluster/sluice-cli.ts';
import { waitFor } from '../cluster/wait.ts';

export const ARGO_API = '/apis/argoproj.io/v1alpha1';
export const GUIDES_DIR = join(REPO_ROOT, 'test', 'fixtures', 'guides');
export const DEFAULT_WAIT_MS = 45_000;
const SUBPROCESS_READY_MS = 20_000;
const SUBPROCESS_READY_POLL_MS = 50;
/** Pause before re-opening the event watch after it failed (not a wait for a condition: a back-off). */
const EVENT_WATCH_RETRY_MS = 200;
const SUBPROCESS_STOP_MS = 12_000;

export type ControllerMode = 'in-process' | 'subprocess' | 'none';

/** The controller's control server for the proxies: on 127.0.0.1:port with this token (in a file for a subprocess). */
export interface E2eControl {
  readonly port: number;
  readonly token: string;
  readonly tokenFile: string;
}

export interface ControllerHandle {
  readonly mode: 'in-process' | 'subprocess';
  /** The in-process Controller (undefined for a subprocess). */
  readonly controller: Controller | undefined;
  /** The subprocess (undefined in-process). */
  readonly child: ChildProcess | undefined;
  /** Output of the subprocess so far (its JSON log lines), for failure messages. */
  output(): string;
  /** Graceful stop (SIGTERM for a subprocess); resolves with the exit code. */
  stop(): Promise<number>;
  /** SIGKILL (subprocess only): no drain, no lease release, in-flight writes cut off. */
  kill(): Promise<void>;
}

export interface ReplicaSetView {
  name: string;
  hash: string;
  revision: string;
  replicas: number;
  readyReplicas: number;
  availableReplicas: number;
  annotations: Record<string, string>;
  image: string | undefined;
}

export interface PodView {
  name: string;
  hash: string;
  phase: string;
  ready: boolean;
  deleting: boolean;
  createdMs: number;
}

export interface AnalysisRunView {
  name: string;
  phase: string;
  hash: string;
  labels: Record<string, string>;
  terminate: boolean;
}

export interface EventView {
  reason: string;
  type: string;
  message: string;
}

export interface SluiceRun {
  code: number;
  out: string;
  err: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function rec(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}

function strings(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(rec(value))) if (typeof v === 'string') out[k] = v;
  return out;
}

function num(value: unknown): number {
  return typeof value === 'number' ? value : 0;
}

function items(list: Record<string, unknown>): Record<string, unknown>[] {
  return Array.isArray(list.items) ? list.items.filter(isRecord) : [];
}

/** Replaces `namespace:` in every document's metadata (the guides hard-code `e-commerce`). */
export function withNamespace(yamlText: string, namespace: string): string {
  return parseAllDocuments(yamlText)
    .map((doc) => {
      const value: unknown = doc.toJSON();
      if (!isRecord(value)) return '';
      const metadata = rec(value.metadata);
      if (metadata.namespace !== undefined) metadata.namespace = namespace;
      return JSON.stringify(value);
    })
    .filter((s) => s !== '')
    .join('\n');
}

export class E2e {
  readonly client: KubeClient;
  readonly kubeconfig: string;
  readonly ns: TestNamespace;
  handle: ControllerHandle | undefined;
  readonly #events: { rollout: string; reason: string; type: string; message: string }[] = [];
  readonly #eventCounts = new Map<string, number>();
  readonly #watchAbort = new AbortController();
  #watchDone: Promise<void> = Promise.resolve();
  readonly #cleanups: (() => Promise<void> | void)[] = [];

  private constructor(client: KubeClient, kubeconfig: string, ns: TestNamespace) {
    this.client = client;
    this.kubeconfig = kubeconfig;
    this.ns = ns;
  }

  /** A fresh namespace with the CRDs applied, an event watch, and (by default) an in-process controller. */
  /** Set before startController() to serve the proxies' control API (proxy-router tests). */
  control: E2eControl | undefined;

  /** Extra options of the in-process controller (e.g. the routers' API versions). */
  controllerOptions: Partial<ControllerOptions> = {};

  static async create(
    prefix: string,
    options: {
      controller?: ControllerMode;
      control?: E2eControl;
      /** Also apply test/cluster/router-crds/ (Istio, SMI, Gateway API kinds). */
      routerCrds?: boolean;
      controllerOptions?: Partial<ControllerOptions>;
    } = {},
  ): Promise<E2e> {
    const kubeconfig = testKubeconfig();
    await ensureCrds();
    if (options.routerCrds) await ensureCrds(ROUTER_CRDS_DIR);
    const client = await testClient();
    const ns = await createTestNamespace(client, prefix);
    const e = new E2e(client, kubeconfig, ns);
    e.control = options.control;
    e.controllerOptions = options.controllerOptions ?? {};
    await e.#startEventWatch();
    const mode = options.controller ?? 'in-process';
    if (mode !== 'none') await e.startController(mode);
    return e;
  }

  get namespace(): string {
    return this.ns.name;
  }

  /** The in-process controller (throws when the controller is a subprocess or not running). */
  get controller(): Controller {
    const c = this.handle?.controller;
    if (c === undefined) throw new Error('no in-process controller is running');
    return c;
  }

  /** Registers a cleanup run by dispose() (last registered first). */
  defer(fn: () => Promise<void> | void): void {
    this.#cleanups.push(fn);
  }

  async startController(mode: 'in-process' | 'subprocess' = 'in-process'): Promise<ControllerHandle> {
    if (this.handle !== undefined) throw new Error('a controller is already running; stop or kill it first');
    this.handle =
      mode === 'in-process'
        ? await startInProcessController(
            this.kubeconfig,
            this.namespace,
            this.control,
            this.controllerOptions,
          )
        : await startControllerProcess(this.kubeconfig, this.namespace, this.control);
    return this.handle;
  }

  async stopController(): Promise<number | undefined> {
    const h = this.handle;
    this.handle = undefined;
    return h?.stop();
  }

  /** SIGKILL the subprocess controller. */
  async killController(): Promise<void> {
    const h = this.handle;
    if (h === undefined) throw new Error('no controller is running');
    if (h.mode !== 'subprocess') throw new Error('only a subprocess controller can be killed');
    this.handle = undefined;
    await h.kill();
  }

  async dispose(): Promise<void> {
    for (const fn of this.#cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch {}
    }
    await this.stopController().catch(() => undefined);
    this.#watchAbort.abort();
    await this.#watchDone.catch(() => undefined);
    await this.ns.delete().catch(() => undefined);
    await this.client.close();
  }

  // ---- Given / When ----

  /** kubectl apply -n NS -f - (YAML or objects). Throws with kubectl's stderr on failure. */
  async apply(manifest: string | Record<string, unknown> | Record<string, unknown>[]): Promise<void> {
    const input =
      typeof manifest === 'string'
        ? manifest
        : (Array.isArray(manifest) ? manifest : [manifest]).map((m) => JSON.stringify(m)).join('\n');
    const result = await kubectl(this.kubeconfig, ['apply', '-n', this.namespace, '-f', '-'], { input });
    if (result.code !== 0) throw new Error(`kubectl apply failed: ${result.stderr}`);
  }

  /** Applies a file from test/fixtures/guides unchanged except for metadata.namespace (theirs is e-commerce). */
  async applyGuide(file: string): Promise<void> {
    await this.apply(withNamespace(await readFile(join(GUIDES_DIR, file), 'utf8'), this.namespace));
  }

  /** Runs kubectl in the namespace; resolves whatever the exit code. */
  kubectl(...args: string[]) {
    return kubectl(this.kubeconfig, [...args, '-n', this.namespace]);
  }

  /** A rollout verb in-process exactly as `sluice VERB ARGS -n NS` (e.g. sluice('promote', 'ro', '--full')). */
  async sluice(verb: string, ...args: string[]): Promise<SluiceRun> {
    const { code, out, err } = await runSluice([verb, ...args], {
      kubeconfig: this.kubeconfig,
      namespace: this.namespace,
    });
    return { code, out, err };
  }

  /** A verb that must succeed (exit 0); throws with its output otherwise. */
  async sluiceOk(verb: string, ...args: string[]): Promise<string> {
    const run = await this.sluice(verb, ...args);
    if (run.code !== 0)
      throw new Error(`sluice ${verb} ${args.join(' ')} exited ${run.code}: ${run.err}${run.out}`);
    return run.out;
  }

  /** Merge-patches the Rollout's spec (or any field) as `kubectl patch --type merge` would. */
  async patchRollout(name: string, patch: Record<string, unknown>): Promise<void> {
    await this.client.mergePatch(`${ARGO_API}/namespaces/${this.namespace}/rollouts/${name}`, patch);
  }

  /** Sets the image of the first container (a spec change: new revision). */
  async setImage(name: string, image: string): Promise<void> {
    const raw = await this.client.get(`${ARGO_API}/namespaces/${this.namespace}/rollouts/${name}`);
    const containers = rec(rec(rec(rec(raw.spec).template).spec)).containers;
    const first = Array.isArray(containers) ? rec(containers[0]).name : undefined;
    const container = typeof first === 'string' ? first : undefined;
    if (container === undefined) throw new Error(`rollout ${name} has no container to update`);
    await this.sluiceOk('set', 'image', name, `${container}=${image}`);
  }

  // ---- reads ----

  async rollout(name: string): Promise<Rollout> {
    return (await this.client.get(
      `${ARGO_API}/namespaces/${this.namespace}/rollouts/${name}`,
    )) as unknown as Rollout;
  }

  async replicaSets(rolloutName?: string): Promise<ReplicaSetView[]> {
    const list = await this.client.get(`/apis/apps/v1/namespaces/${this.namespace}/replicasets`);
    return items(list)
      .filter((rs) => {
        if (rolloutName === undefined) return true;
        const owners = rec(rs.metadata).ownerReferences;
        return (
          Array.isArray(owners) &&
          owners.some((o) => rec(o).kind === 'Rollout' && rec(o).name === rolloutName)
        );
      })
      .map((rs) => {
        const meta = rec(rs.metadata);
        const labels = strings(meta.labels);
        const annotations = strings(meta.annotations);
        const spec = rec(rs.spec);
        const status = rec(rs.status);
        const containers = rec(rec(spec.template).spec).containers;
        const first = Array.isArray(containers) ? rec(containers[0]) : {};
        return {
          name: String(meta.name),
          hash: labels['rollouts-pod-template-hash'] ?? '',
          revision: annotations['rollout.argoproj.io/revision'] ?? '',
          replicas: num(spec.replicas),
          readyReplicas: num(status.readyReplicas),
          availableReplicas: num(status.availableReplicas),
          annotations,
          image: typeof first.image === 'string' ? first.image : undefined,
        };
      })
      .sort((a, b) => Number(a.revision) - Number(b.revision));
  }

  /** The ReplicaSet of a revision ("1", "2", ...). */
  async replicaSetOfRevision(rolloutName: string, revision: number): Promise<ReplicaSetView | undefined> {
    return (await this.replicaSets(rolloutName)).find((rs) => rs.revision === String(revision));
  }

  /** Pods of the namespace (optionally of one pod-template hash), including terminating ones. */
  async pods(hash?: string): Promise<PodView[]> {
    const list = await this.client.get(`/api/v1/namespaces/${this.namespace}/pods`);
    return items(list)
      .map((pod) => {
        const meta = rec(pod.metadata);
        const status = rec(pod.status);
        const conditions = Array.isArray(status.conditions) ? status.conditions.map(rec) : [];
        return {
          name: String(meta.name),
          hash: strings(meta.labels)['rollouts-pod-template-hash'] ?? '',
          phase: String(status.phase ?? ''),
          ready: conditions.some((c) => c.type === 'Ready' && c.status === 'True'),
          deleting: meta.deletionTimestamp !== undefined,
          createdMs: Date.parse(String(meta.creationTimestamp ?? '')),
        };
      })
      .filter((p) => hash === undefined || p.hash === hash);
  }

  /** Pod counts by revision ("1" -> 3), counting pods not being deleted. */
  async podCountsByRevision(rolloutName: string): Promise<Record<string, number>> {
    const rss = await this.replicaSets(rolloutName);
    const pods = (await this.pods()).filter((p) => !p.deleting);
    const out: Record<string, number> = {};
    for (const rs of rss) out[rs.revision] = pods.filter((p) => p.hash === rs.hash).length;
    return out;
  }

  async analysisRuns(rolloutName?: string): Promise<AnalysisRunView[]> {
    const list = await this.client.get(`${ARGO_API}/namespaces/${this.namespace}/analysisruns`);
    return items(list)
      .filter((run) => {
        if (rolloutName === undefined) return true;
        const owners = rec(run.metadata).ownerReferences;
        return (
          Array.isArray(owners) &&
          owners.some((o) => rec(o).kind === 'Rollout' && rec(o).name === rolloutName)
        );
      })
      .map((run) => {
        const meta = rec(run.metadata);
        const labels = strings(meta.labels);
        return {
          name: String(meta.name),
          phase: String(rec(run.status).phase ?? ''),
          hash: labels['rollouts-pod-template-hash'] ?? '',
          labels,
          terminate: rec(run.spec).terminate === true,
          createdMs: Date.parse(String(meta.creationTimestamp ?? '')),
        };
      })
      .sort((a, b) => a.createdMs - b.createdMs || a.name.localeCompare(b.name))
      .map(({ createdMs: _c, ...rest }) => rest);
  }

  /** A namespaced object by API path suffix (`apis/networking.k8s.io/v1/ingresses/x`); undefined when absent. */
  async object(group: string, plural: string, name: string): Promise<Record<string, unknown> | undefined> {
    const base = group === '' ? '/api/v1' : `/apis/${group}`;
    const res = await this.client.raw('GET', `${base}/namespaces/${this.namespace}/${plural}/${name}`);
    if (res.status === 404) return undefined;
    if (res.status !== 200)
      throw new Error(`GET ${plural}/${name}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as Record<string, unknown>;
  }

  /** Waits until the object exists and `check` answers true on it; returns it. */
  waitForObject(
    group: string,
    plural: string,
    name: string,
    what: string,
    check: (obj: Record<string, unknown>) => boolean,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<Record<string, unknown>> {
    return waitFor(
      async () => {
        const obj = await this.object(group, plural, name);
        return obj !== undefined && check(obj) ? obj : undefined;
      },
      {
        what: `${plural}/${name}: ${what}`,
        timeoutMs,
        intervalMs: 100,
        describe: async () => JSON.stringify(await this.object(group, plural, name)),
      },
    );
  }

  async serviceSelector(name: string): Promise<Record<string, string>> {
    const svc = await this.client.get(`/api/v1/namespaces/${this.namespace}/services/${name}`);
    return strings(rec(svc.spec).selector);
  }

  /** The Rollout's events in the order the API server stored them (repeats included). */
  events(rolloutName: string): EventView[] {
    return this.#events
      .filter((e) => e.rollout === rolloutName)
      .map(({ reason, type, message }) => ({ reason, type, message }));
  }

  eventReasons(rolloutName: string): string[] {
    return this.events(rolloutName).map((e) => e.reason);
  }

  // ---- Then (waits) ----

  /**
   * Polls `fn` until it returns a value other than undefined (or false); the error names `what` and the
   * last state. The cluster tests' one wait helper (test/cluster/wait.ts) with the e2e default timeout.
   */
  waitFor<T>(
    what: string,
    fn: () => Promise<T | undefined | false>,
    timeoutMs = DEFAULT_WAIT_MS,
    describeState?: () => Promise<string>,
  ): Promise<T> {
    return waitFor(fn, { what, timeoutMs, ...(describeState ? { describe: describeState } : {}) });
  }

  /** Waits until the Rollout satisfies `predicate`; returns it. */
  waitForRollout(
    name: string,
    what: string,
    predicate: (ro: Rollout) => boolean,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<Rollout> {
    return this.waitFor(
      `rollout ${name}: ${what}`,
      async () => {
        const ro = await this.rollout(name);
        return predicate(ro) ? ro : undefined;
      },
      timeoutMs,
      () => this.describe(name),
    );
  }

  /** Waits for status.phase (and the observed generation to be current, as Argo's client does). */
  waitForPhase(name: string, phase: RolloutPhase, timeoutMs = DEFAULT_WAIT_MS): Promise<Rollout> {
    return this.waitForRollout(
      name,
      `phase ${phase}`,
      (ro) => ro.status?.phase === phase && ro.status.observedGeneration === String(ro.metadata.generation),
      timeoutMs,
    );
  }

  waitForStep(name: string, stepIndex: number, timeoutMs = DEFAULT_WAIT_MS): Promise<Rollout> {
    return this.waitForRollout(
      name,
      `currentStepIndex ${stepIndex}`,
      (ro) => ro.status?.currentStepIndex === stepIndex,
      timeoutMs,
    );
  }

  waitForCondition(
    name: string,
    type: string,
    match: Partial<Pick<RolloutCondition, 'status' | 'reason'>>,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<Rollout> {
    return this.waitForRollout(
      name,
      `condition ${type} ${JSON.stringify(match)}`,
      (ro) =>
        (ro.status?.conditions ?? []).some(
          (c) =>
            c.type === type &&
            (match.status === undefined || c.status === match.status) &&
            (match.reason === undefined || c.reason === match.reason),
        ),
      timeoutMs,
    );
  }

  /** Waits until the non-terminating pods per revision equal `expected` (e.g. {'1': 3, '2': 1}). */
  waitForPodCounts(
    name: string,
    expected: Record<string, number>,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<Record<string, number>> {
    const want = JSON.stringify(Object.entries(expected).sort());
    return this.waitFor(
      `rollout ${name}: pods per revision ${JSON.stringify(expected)}`,
      async () => {
        const counts = await this.podCountsByRevision(name);
        const seen = Object.fromEntries(Object.entries(counts).filter(([rev]) => rev in expected));
        for (const rev of Object.keys(expected)) seen[rev] ??= 0;
        const others = Object.entries(counts).filter(([rev, n]) => !(rev in expected) && n > 0);
        return JSON.stringify(Object.entries(seen).sort()) === want && others.length === 0
          ? counts
          : undefined;
      },
      timeoutMs,
      async () =>
        `pods per revision: ${JSON.stringify(await this.podCountsByRevision(name))}\n${await this.describe(name)}`,
    );
  }

  /** Waits until `spec.replicas` per revision equal `expected` (revisions not named must be 0). */
  waitForReplicaSetSpecs(
    name: string,
    expected: Record<string, number>,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<ReplicaSetView[]> {
    return this.waitFor(
      `rollout ${name}: ReplicaSet spec.replicas per revision ${JSON.stringify(expected)}`,
      async () => {
        const rss = await this.replicaSets(name);
        const ok = rss.every((rs) => rs.replicas === (expected[rs.revision] ?? 0));
        const allThere = Object.keys(expected).every((rev) => rss.some((rs) => rs.revision === rev));
        return ok && allThere ? rss : undefined;
      },
      timeoutMs,
      () => this.describe(name),
    );
  }

  waitForServiceSelector(
    service: string,
    hash: string,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<Record<string, string>> {
    return this.waitFor(
      `service ${service} selecting rollouts-pod-template-hash=${hash}`,
      async () => {
        const sel = await this.serviceSelector(service);
        return sel['rollouts-pod-template-hash'] === hash ? sel : undefined;
      },
      timeoutMs,
    );
  }

  waitForAnalysisRuns(
    name: string,
    what: string,
    predicate: (runs: AnalysisRunView[]) => boolean,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<AnalysisRunView[]> {
    return this.waitFor(
      `rollout ${name}: analysis runs ${what}`,
      async () => {
        const runs = await this.analysisRuns(name);
        return predicate(runs) ? runs : undefined;
      },
      timeoutMs,
      async () => `runs: ${JSON.stringify(await this.analysisRuns(name))}\n${await this.describe(name)}`,
    );
  }

  waitForEvent(
    name: string,
    reason: string,
    occurrences = 1,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<EventView[]> {
    return this.waitFor(
      `rollout ${name}: event ${reason} x${occurrences}`,
      async () => {
        const events = this.events(name);
        return events.filter((e) => e.reason === reason).length >= occurrences ? events : undefined;
      },
      timeoutMs,
      async () => `events: ${this.eventReasons(name).join(', ')}`,
    );
  }

  /**
   * Waits until the clock is past the creation second of `pods`: restartAt has second resolution and only
   * pods created before it restart, so a restart issued within that second would leave them running.
   */
  waitPastCreationSecond(pods: readonly PodView[], timeoutMs = DEFAULT_WAIT_MS): Promise<true> {
    const dueMs = Math.max(...pods.map((p) => p.createdMs)) + 1_000;
    return this.waitFor(
      `the clock past the creation second of ${pods.map((p) => p.name).join(', ')}`,
      async () => Date.now() >= dueMs || undefined,
      timeoutMs,
    );
  }

  /** A Rollout created from scratch goes Healthy (the initial deploy skips steps). */
  async healthyRollout(manifest: string | Record<string, unknown>, name: string): Promise<Rollout> {
    await this.apply(manifest);
    return this.waitForPhase(name, 'Healthy');
  }

  /** A one-paragraph state dump for failure messages. */
  async describe(name: string): Promise<string> {
    const lines: string[] = [];
    try {
      const ro = await this.rollout(name);
      const s = ro.status ?? {};
      lines.push(
        `rollout ${name}: gen ${ro.metadata.generation} observed ${s.observedGeneration} phase ${s.phase} (${s.message ?? ''}) step ${s.currentStepIndex} abort ${s.abort ?? false} stable ${s.stableRS} current ${s.currentPodHash} pause ${JSON.stringify(s.pauseConditions ?? [])} controllerPause ${s.controllerPause}`,
      );
      for (const c of s.conditions ?? []) lines.push(`  ${c.type}=${c.status} ${c.reason}: ${c.message}`);
      for (const rs of await this.replicaSets(name))
        lines.push(
          `  rs rev ${rs.revision} ${rs.name} spec ${rs.replicas} ready ${rs.readyReplicas} avail ${rs.availableReplicas}`,
        );
      lines.push(`  events: ${this.eventReasons(name).join(', ')}`);
    } catch (error) {
      lines.push(`(describe failed: ${String(error)})`);
    }
    if (this.handle?.mode === 'subprocess')
      lines.push(`controller output:\n${this.handle.output().slice(-3000)}`);
    return lines.join('\n');
  }

  async #startEventWatch(): Promise<void> {
    const path = `/api/v1/namespaces/${this.namespace}/events`;
    const list = await this.client.get(path);
    let resourceVersion = String(rec(list.metadata).resourceVersion ?? '');
    const onEvent = (type: string, obj: Record<string, unknown>) => {
      const meta = rec(obj.metadata);
      if (typeof meta.resourceVersion === 'string') resourceVersion = meta.resourceVersion;
      if (type !== 'ADDED' && type !== 'MODIFIED') return;
      const involved = rec(obj.involvedObject);
      if (involved.kind !== 'Rollout') return;
      const key = String(meta.name);
      const count = typeof obj.count === 'number' ? obj.count : 1;
      const before = this.#eventCounts.get(key) ?? 0;
      this.#eventCounts.set(key, Math.max(before, count));
      for (let i = before; i < count; i++) {
        this.#events.push({
          rollout: String(involved.name),
          reason: String(obj.reason ?? ''),
          type: String(obj.type ?? ''),
          message: String(obj.message ?? ''),
        });
      }
    };
    const signal = this.#watchAbort.signal;
    this.#watchDone = (async () => {
      while (!signal.aborted) {
        try {
          await this.client.watch(path, resourceVersion, (e) => onEvent(e.type, e.object), signal, 60);
        } catch {
          if (signal.aborted) return;
          await sleep(EVENT_WATCH_RETRY_MS);
        }
      }
    })();
  }
}

async function startInProcessController(
  kubeconfig: string,
  namespace: string,
  control?: E2eControl,
  extra: Partial<ControllerOptions> = {},
): Promise<ControllerHandle> {
  const controller = new Controller({
    ...extra,
    kubeconfig,
    namespace,
    ...(control ? { control: { host: '127.0.0.1', port: control.port, token: control.token } } : {}),
    leaderElect: false,
    metricsPort: 0,
    healthzPort: 0,
    listenHost: '127.0.0.1',
    logger: pino({ level: process.env.SLUICE_E2E_DEBUG ? 'debug' : 'warn' }),
  });
  await controller.start();
  return {
    mode: 'in-process',
    controller,
    child: undefined,
    output: () => '',
    stop: () => controller.stop(),
    kill: async () => {
      throw new Error('an in-process controller cannot be killed; use a subprocess controller');
    },
  };
}

/** `node src/cli/main.ts controller ...` scoped to the namespace; resolves once its caches are synced. */
export async function startControllerProcess(
  kubeconfig: string,
  namespace: string,
  control?: E2eControl,
): Promise<ControllerHandle> {
  const child = spawn(
    process.execPath,
    [
      join(REPO_ROOT, 'src', 'cli', 'main.ts'),
      'controller',
      '--kubeconfig',
      kubeconfig,
      '--namespace',
      namespace,
      '--leader-elect=false',
      '--metrics-port',
      '0',
      '--healthz-port',
      '0',
      '--listen-host',
      '127.0.0.1',
      '--loglevel',
      process.env.SLUICE_E2E_DEBUG ? 'debug' : 'info',
      ...(control
        ? ['--control-listen', `127.0.0.1:${control.port}`, '--control-token-file', control.tokenFile]
        : []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: REPO_ROOT },
  );
  let output = '';
  const append = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<number>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? (signal === null ? 0 : 128)));
  });
  let exitCode: number | undefined;
  void exited.then((code) => {
    exitCode = code;
  });
  const ready = await waitFor(
    () => (exitCode !== undefined ? 'exited' : output.includes('caches synced') ? 'synced' : undefined),
    {
      what: 'the controller subprocess to sync its caches',
      timeoutMs: SUBPROCESS_READY_MS,
      intervalMs: SUBPROCESS_READY_POLL_MS,
    },
  ).catch(async (error: unknown) => {
    child.kill('SIGKILL');
    await exited;
    throw new Error(`${String(error)}:\n${output}`);
  });
  if (ready === 'exited') throw new Error(`controller exited ${exitCode} during startup:\n${output}`);
  return {
    mode: 'subprocess',
    controller: undefined,
    child,
    output: () => output,
    async stop() {
      if (exitCode !== undefined) return exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), SUBPROCESS_STOP_MS);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    async kill() {
      if (exitCode !== undefined) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

// ---- a web metric the test controls ----

export interface WebMetricServer {
  /** e.g. http://127.0.0.1:41234/metric */
  readonly url: string;
  /** Every request answers `{"value": value}` from now on (status 200), or the given status. */
  set(value: unknown, status?: number): void;
  /** Requests served so far. */
  readonly requests: number;
  stop(): Promise<void>;
}

/** A node:http server on 127.0.0.1:0 answering `{"value": <current>}`; use jsonPath `{$.value}`. */
export async function startWebMetric(initial: unknown = 1): Promise<WebMetricServer> {
  let value = initial;
  let status = 200;
  let requests = 0;
  const server: Server = createServer((req, res) => {
    requests++;
    req.resume();
    const body = JSON.stringify({ value });
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/metric`,
    set(next, nextStatus = 200) {
      value = next;
      status = nextStatus;
    },
    get requests() {
      return requests;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * An AnalysisTemplate with one web metric against `url` (`{$.value}`), passing while the value is 1:
 * successCondition `result == 1`, failureLimit 0 unless given, `count` measurements `intervalS` apart.
 */
export function webMetricTemplate(
  name: string,
  url: string,
  options: { count?: number; intervalS?: number; failureLimit?: number; metricName?: string } = {},
): Record<string, unknown> {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AnalysisTemplate',
    metadata: { name },
    spec: {
      metrics: [
        {
          name: options.metricName ?? 'web-check',
          ...(options.count === undefined ? {} : { count: options.count }),
          interval: `${options.intervalS ?? 1}s`,
          failureLimit: options.failureLimit ?? 0,
          successCondition: 'result == 1',
          provider: { web: { url, jsonPath: '{$.value}' } },
        },
      ],
    },
  };
}

export interface CanaryRolloutOptions {
  replicas?: number;
  image?: string;
  steps?: Record<string, unknown>[];
  /** Extra fields merged into spec.strategy.canary. */
  canary?: Record<string, unknown>;
  /** Extra fields merged into spec. */
  spec?: Record<string, unknown>;
  /** Pod template annotations (e.g. sluice.test/ready-delay-ms). */
  podAnnotations?: Record<string, string>;
  readyDelayMs?: number;
}

/** A small canary Rollout (container `app`), pods ready after readyDelayMs (default 300 ms). */
export function canaryRollout(name: string, options: CanaryRolloutOptions = {}): Record<string, unknown> {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name },
    spec: {
      replicas: options.replicas ?? 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: {
          labels: { app: name },
          annotations: {
            'sluice.test/ready-delay-ms': String(options.readyDelayMs ?? 300),
            ...options.podAnnotations,
          },
        },
        spec: { containers: [{ name: 'app', image: options.image ?? 'example.com/app:v1' }] },
      },
      strategy: { canary: { steps: options.steps ?? [{ setWeight: 50 }, { pause: {} }], ...options.canary } },
      ...options.spec,
    },
  };
}

/** A plain Service selecting app=<app>. */
export function service(name: string, app: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name },
    spec: { selector: { app }, ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] },
  };
}

/** A networking.k8s.io/v1 Ingress sending `host`/ to the Service `service` port 80. */
export function ingress(
  name: string,
  service: string,
  host = `${name}.example.com`,
): Record<string, unknown> {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, annotations: { 'kubernetes.io/ingress.class': 'nginx' } },
    spec: {
      rules: [
        {
          host,
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: { service: { name: service, port: { number: 80 } } },
              },
            ],
          },
        },
      ],
    },
  };
}

/** Scrapes the in-process controller's /metrics. */
export async function scrapeMetrics(controller: Controller): Promise<string> {
  const port = controller.metricsPort;
  if (port === undefined) throw new Error('controller has no metrics port');
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  return res.text();
}
