// The `sluice controller` settings: defaults as Argo Rollouts' controller has them, and the options the
// command line (src/cli/controller.ts) and tests pass to a Controller.
import type { Logger } from 'pino';
import type { MetricPluginEntry } from '../analysis/providers/plugin.ts';
import type { ReconcileResult } from '../reconcile/result.ts';
import type { ReconcileDeps } from '../rollout/reconcile.ts';
import type { ObjectStore } from '../store/object-store.ts';

export const VERSION = 'v0.1.0';
export const INSTANCE_ID_LABEL = 'argo-rollouts.argoproj.io/controller-instance-id';
export const DEFAULT_LEASE_NAME = 'sluice-controller-lock';
export const DEFAULT_ROLLOUT_THREADS = 10;
export const DEFAULT_ANALYSIS_THREADS = 30;
export const DEFAULT_EXPERIMENT_THREADS = 10;
export const DEFAULT_RESYNC_MS = 900_000;
export const SHUTDOWN_DRAIN_MS = 10_000;

export type ReconcileFn = (
  store: ObjectStore,
  namespace: string,
  name: string,
  nowMs: number,
  deps: ReconcileDeps,
) => Promise<ReconcileResult>;

/** The proxies' control API (src/control/server.ts), as `--control-*` give it with the files read. */
export interface ControlServerSettings {
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  /** The bearer token every proxy presents. */
  readonly token: string;
  /** TLS with this certificate; with clientCa, mTLS. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer; readonly clientCa?: Buffer };
}

export interface ControllerOptions {
  readonly kubeconfig?: string;
  readonly context?: string;
  /** Watch and reconcile only this namespace. */
  readonly namespace?: string;
  readonly metricsPort?: number;
  readonly healthzPort?: number;
  /** Address the metrics and health servers bind to (default 0.0.0.0). */
  readonly listenHost?: string;
  readonly leaderElect?: boolean;
  readonly leaseName?: string;
  /** Namespace of the Lease (default $POD_NAMESPACE, else --namespace, else "default"). */
  readonly leaseNamespace?: string;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  readonly identity?: string;
  readonly instanceId?: string;
  /** networking.istio.io version (Argo's --istio-api-version); default v1alpha3. */
  readonly istioApiVersion?: string;
  /** split.smi-spec.io version (Argo's --traffic-split-api-version); default: discovered. */
  readonly trafficSplitApiVersion?: string;
  readonly rolloutThreads?: number;
  readonly analysisThreads?: number;
  /** `--metric-plugin NAME=PATH` entries (checked); the ConfigMap's are read at start. */
  readonly metricPlugins?: readonly MetricPluginEntry[];
  readonly experimentThreads?: number;
  readonly resyncMs?: number;
  readonly qps?: number;
  readonly burst?: number;
  readonly logger?: Logger;
  /** Serve the proxies' control API; absent: no control server. */
  readonly control?: ControlServerSettings;
  /**
   * Notifications (src/notifications/): where `argo-rollouts-notification-configmap` and its Secret are read
   * (default $POD_NAMESPACE, else --namespace, else "argo-rollouts"), Argo's
   * --self-service-notification-enabled, and the send retry policy (tests shorten it).
   */
  readonly notifications?: {
    readonly namespace?: string;
    readonly selfService?: boolean;
    readonly retry?: {
      readonly attempts: number;
      readonly initialDelayMs: number;
      readonly maxDelayMs: number;
    };
  };
  /** Overrides the rollout reconciler (tests); default src/rollout/reconcile.ts. */
  readonly reconcileRollout?: ReconcileFn;
}
