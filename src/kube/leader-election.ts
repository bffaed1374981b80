// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it: try to acquire
// every retryPeriod (2 s, jittered); a held lease is taken over only after leaseDuration (15 s) has passed
// since this candidate last *observed* it change (its own clock, so clock skew between nodes is harmless);
// the leader renews every retryPeriod and gives up when it could not renew for renewDeadline (10 s); on
// shutdown the leader releases the lease (empty holder, 1 s duration) so a standby takes over at once.
// All Lease access goes through ObjectStore.read/create/update (never cached).

import { errorText } from '../api/errors.ts';
import type { KubeObject } from '../api/meta.ts';
import { abortableSleep } from '../api/sleep.ts';
import { type ObjectStore, StoreError } from '../store/object-store.ts';

export const DEFAULT_LEASE_DURATION_MS = 15_000;
export const DEFAULT_RENEW_DEADLINE_MS = 10_000;
export const DEFAULT_RETRY_PERIOD_MS = 2_000;
const JITTER_FACTOR = 1.2;

export interface Lease extends KubeObject {
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export interface LeaderElectionClock {
  now(): number;
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export interface LeaderElectionOptions {
  readonly store: ObjectStore;
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  readonly clock?: LeaderElectionClock;
  readonly onStartedLeading: () => void;
  /** Called once leadership is lost (renew deadline passed) or released. */
  readonly onStoppedLeading: () => void;
  readonly onNewLeader?: (identity: string) => void;
  readonly log?: (fields: Record<string, unknown>, message: string) => void;
}

const systemClock: LeaderElectionClock = {
  now: () => Date.now(),
  sleep: abortableSleep,
};

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 23)}000Z`;
}

export class LeaderElector {
  readonly #o: LeaderElectionOptions;
  readonly #clock: LeaderElectionClock;
  readonly #leaseDurationMs: number;
  readonly #renewDeadlineMs: number;
  readonly #retryPeriodMs: number;
  readonly #abort = new AbortController();
  /** The lease as last seen, and when (our clock) it last changed. */
  #observed: Lease | undefined;
  #observedAtMs = 0;
  #leading = false;
  #lastLeader: string | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: LeaderElectionOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#leaseDurationMs = options.leaseDurationMs ?? DEFAULT_LEASE_DURATION_MS;
    this.#renewDeadlineMs = options.renewDeadlineMs ?? DEFAULT_RENEW_DEADLINE_MS;
    this.#retryPeriodMs = options.retryPeriodMs ?? DEFAULT_RETRY_PERIOD_MS;
    if (!(this.#leaseDurationMs > this.#renewDeadlineMs && this.#renewDeadlineMs > this.#retryPeriodMs)) {
      throw new Error(
        'leader election: leaseDuration must exceed renewDeadline, which must exceed retryPeriod',
      );
    }
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  /** Runs acquire -> renew until stop() or until leadership is lost. */
  start(): Promise<void> {
    this.#loop ??= this.#run();
    return this.#loop;
  }

  /** Stops campaigning; a leader releases the lease first. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    // Acquire.
    while (!signal.aborted) {
      if (await this.#tryAcquireOrRenew()) break;
      await this.#clock.sleep(this.#retryPeriodMs * (1 + Math.random() * (JITTER_FACTOR - 1)), signal);
    }
    if (signal.aborted) return;
    this.#leading = true;
    this.#o.log?.({ lease: this.#o.name, identity: this.#o.identity }, 'became leader');
    this.#o.onStartedLeading();
    // Renew until the deadline passes without a successful renewal, or until stopped.
    let lastRenewMs = this.#clock.now();
    while (!signal.aborted) {
      await this.#clock.sleep(this.#retryPeriodMs, signal);
      if (signal.aborted) break;
      if (await this.#tryAcquireOrRenew()) {
        lastRenewMs = this.#clock.now();
        continue;
      }
      if (this.#clock.now() - lastRenewMs >= this.#renewDeadlineMs || !this.#holdsObserved()) {
        this.#o.log?.({ lease: this.#o.name, identity: this.#o.identity }, 'leadership lost');
        this.#leading = false;
        this.#o.onStoppedLeading();
        return;
      }
    }
    await this.#release();
    this.#leading = false;
    this.#o.onStoppedLeading();
  }

  #holdsObserved(): boolean {
    return this.#observed?.spec?.holderIdentity === this.#o.identity;
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const { store, namespace, name, identity } = this.#o;
    const nowMs = this.#clock.now();
    const desired = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.round(this.#leaseDurationMs / 1000),
      acquireTime: microTime(nowMs),
      renewTime: microTime(nowMs),
      leaseTransitions: 0,
    };
    try {
      const current = await store.read<Lease>('Lease', namespace, name);
      if (current === undefined) {
        const created = await store.create<Lease>({
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace },
          spec: desired,
        });
        this.#observe(created, nowMs);
        return true;
      }
      if (JSON.stringify(current.spec) !== JSON.stringify(this.#observed?.spec))
        this.#observe(current, nowMs);
      const holder = current.spec?.holderIdentity ?? '';
      const durationMs = (current.spec?.leaseDurationSeconds ?? 0) * 1000;
      if (holder !== '' && holder !== identity && this.#observedAtMs + durationMs > nowMs) return false;
      const spec = { ...desired };
      if (holder === identity) {
        spec.acquireTime = current.spec?.acquireTime ?? desired.acquireTime;
        spec.leaseTransitions = current.spec?.leaseTransitions ?? 0;
      } else {
        spec.leaseTransitions = (current.spec?.leaseTransitions ?? 0) + 1;
      }
      const updated = await store.update<Lease>({ ...structuredClone(current), spec });
      this.#observe(updated, nowMs);
      return true;
    } catch (error) {
      if (!(error instanceof StoreError)) {
        this.#o.log?.({ err: errorText(error) }, 'lease request failed');
      } else if (error.reason !== 'Conflict' && error.reason !== 'AlreadyExists') {
        this.#o.log?.({ err: error.message, reason: error.reason }, 'lease request failed');
      }
      return false;
    }
  }

  #observe(lease: Lease, nowMs: number): void {
    this.#observed = lease;
    this.#observedAtMs = nowMs;
    const holder = lease.spec?.holderIdentity ?? '';
    if (holder !== '' && holder !== this.#lastLeader) {
      this.#lastLeader = holder;
      this.#o.onNewLeader?.(holder);
    }
  }

  async #release(): Promise<void> {
    const { store, namespace, name } = this.#o;
    try {
      const current = await store.read<Lease>('Lease', namespace, name);
      if (current?.spec?.holderIdentity !== this.#o.identity) return;
      const nowMs = this.#clock.now();
      await store.update<Lease>({
        ...structuredClone(current),
        spec: {
          ...current.spec,
          holderIdentity: '',
          leaseDurationSeconds: 1,
          renewTime: microTime(nowMs),
          acquireTime: microTime(nowMs),
        },
      });
      this.#o.log?.({ lease: name }, 'released lease');
    } catch (error) {
      this.#o.log?.({ err: errorText(error) }, 'lease release failed');
    }
  }
}
