// The dashboard's view of the cluster: Rollouts, ReplicaSets, Pods and AnalysisRuns of one namespace (or
// all), each kept by a list-then-watch (../rollouts/list-watch.ts, as `sluice get rollout --watch`), so
// pages are answered from memory and pushed to browsers on change: the API server is watched once per
// dashboard, however many tabs are open, and nothing is polled. Changes are coalesced for COALESCE_MS
// so a rollout step (a dozen object updates) reaches the browsers as one update.

import type { KubeObject } from '../../api/meta.ts';
import type { Rollout } from '../../api/rollout.ts';
import type { ReplicaSet } from '../../api/workloads.ts';
import type { CliApi } from '../kube.ts';
import type { AnalysisRunObject } from '../rollouts/info.ts';
import { ListWatch } from '../rollouts/list-watch.ts';
import type { Objects } from './views.ts';

export const COALESCE_MS = 100;

/** Where the server reads objects from and learns of changes; tests substitute a fixed set. */
export interface ObjectSource {
  objects(): Objects;
  /** Calls `onChange` after changes (coalesced); returns the unsubscribe. */
  subscribe(onChange: () => void): () => void;
}

export class WatchCache implements ObjectSource {
  readonly #rollouts: ListWatch<Rollout>;
  readonly #replicaSets: ListWatch<ReplicaSet>;
  readonly #pods: ListWatch<KubeObject>;
  readonly #runs: ListWatch<AnalysisRunObject>;
  readonly #listeners = new Set<() => void>();
  readonly #controller = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #loops: { done: Promise<void> }[] = [];

  /** `namespace` undefined: every namespace. */
  constructor(api: CliApi, namespace: string | undefined) {
    const changed = (): void => this.#changed();
    this.#rollouts = new ListWatch<Rollout>(api, 'Rollout', namespace, {}, changed);
    this.#replicaSets = new ListWatch<ReplicaSet>(api, 'ReplicaSet', namespace, {}, changed);
    this.#pods = new ListWatch<KubeObject>(api, 'Pod', namespace, {}, changed);
    this.#runs = new ListWatch<AnalysisRunObject>(api, 'AnalysisRun', namespace, {}, changed);
  }

  /** Lists everything once (errors propagate: a bad kubeconfig fails the command), then watches. */
  async start(): Promise<void> {
    this.#loops = await Promise.all(
      [this.#rollouts, this.#replicaSets, this.#pods, this.#runs].map((lw) =>
        lw.start(this.#controller.signal),
      ),
    );
  }

  async stop(): Promise<void> {
    this.#controller.abort();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await Promise.all(this.#loops.map((l) => l.done));
  }

  #changed(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      for (const listener of [...this.#listeners]) listener();
    }, COALESCE_MS);
  }

  objects(): Objects {
    return {
      rollouts: this.#rollouts.values(),
      replicaSets: this.#replicaSets.values(),
      pods: this.#pods.values(),
      analysisRuns: this.#runs.values(),
    };
  }

  subscribe(onChange: () => void): () => void {
    this.#listeners.add(onChange);
    return () => this.#listeners.delete(onChange);
  }
}
