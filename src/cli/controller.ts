// `sluice controller`: runs the Rollout, AnalysisRun and Experiment controllers against a Kubernetes API
// server. Flags mirror Argo's rollouts-controller where they overlap. Exits 0 after SIGTERM/SIGINT (in-flight
// reconciles drained, lease released), 1 when leadership is lost or startup fails, 2 on bad flags.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type MetricPluginEntry, parseMetricPluginFlag } from '../analysis/providers/plugin.ts';
import { errorText } from '../api/errors.ts';
import { Controller } from '../controller/lifecycle.ts';
import {
  type ControllerOptions,
  type ControlServerSettings,
  DEFAULT_ANALYSIS_THREADS,
  DEFAULT_EXPERIMENT_THREADS,
  DEFAULT_ROLLOUT_THREADS,
} from '../controller/options.ts';
import { examplesHelp, parseArgsOptions } from './command-table.ts';
import { UsageError } from './flags.ts';
import { createLogger, type LogSettings, logSettings } from './logging.ts';

/**
 * Node flags the controller is meant to run with: deploy/base/deployment.yaml sets them in NODE_OPTIONS,
 * deploy/Dockerfile in the image's ENV, bench/controller.ts on its command line (a test keeps the three
 * equal). V8 sizes the young generation from the machine's memory and grows it under the informers'
 * allocation churn, then never gives it back: with 500 Rollouts the controller measured 228 MiB RSS with
 * V8's default and 112 MiB with 2 MiB semi-spaces (1 MiB measured the same). The flag must be given at
 * start: v8.setFlagsFromString at run time measured no effect.
 */
export const CONTROLLER_NODE_OPTIONS = '--max-semi-space-size=2';

export const CONTROLLER_USAGE = `Usage: sluice controller [flags]

Runs the Sluice controller (Argo Rollouts API: Rollouts, AnalysisRuns, Experiments) against a
Kubernetes cluster. Run it with NODE_OPTIONS=${CONTROLLER_NODE_OPTIONS} (the Deployment and the image
do) to keep its memory bounded.

Flags:
  --kubeconfig PATH          kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)
  --context NAME             kubeconfig context
  -n, --namespace NS         watch and reconcile only this namespace (default: all)
  --metrics-port PORT        Prometheus metrics on :PORT/metrics (default 8090)
  --healthz-port PORT        health on :PORT/healthz (default 8080)
  --listen-host HOST         address of the metrics and health servers (default 0.0.0.0)
  --leader-elect[=BOOL]      elect a leader with a coordination.k8s.io Lease (default true)
  --lease-namespace NS       namespace of the Lease (default $POD_NAMESPACE, else --namespace, else default)
  --instance-id ID           only reconcile objects labelled argo-rollouts.argoproj.io/controller-instance-id=ID
  --rollout-threads N        concurrent Rollout reconciles (default ${DEFAULT_ROLLOUT_THREADS})
  --analysis-threads N       concurrent AnalysisRun reconciles (default ${DEFAULT_ANALYSIS_THREADS})
  --experiment-threads N     concurrent Experiment reconciles (default ${DEFAULT_EXPERIMENT_THREADS})
  --metric-plugin NAME=PATH  serve provider.plugin.NAME from the Node module at PATH (repeatable;
                             also read: argo-rollouts-config's metricProviderPlugins, file:// only)
  --qps N, --burst N         client-side API rate limit (default 40 / 80)
  --istio-api-version V      networking.istio.io version of VirtualService/DestinationRule (default v1alpha3)
  --traffic-split-api-version V
                             split.smi-spec.io version of TrafficSplit: v1alpha1, v1alpha2 or v1alpha3
                             (default: v1alpha1 when the cluster serves it, else the newest it serves)
  --control-listen HOST:PORT serve the proxies' control API (gRPC) here; needs --control-token-file
  --control-token-file FILE  the bearer token every proxy must present (file content, trimmed)
  --control-cert FILE        TLS on the control API with this PEM certificate (needs --control-key)
  --control-key FILE         the PEM private key of --control-cert
  --control-client-ca FILE   mTLS: proxies must present a certificate signed by this PEM CA
  --notifications-namespace NS
                             namespace of argo-rollouts-notification-configmap and -secret (default
                             $POD_NAMESPACE, else --namespace, else argo-rollouts)
  --self-service-notification-enabled
                             also read them in each Rollout's namespace (Argo's flag)
  --log-format text|json    log format (default text on a terminal, json otherwise)
  --loglevel LEVEL           trace, debug, info, warn, error, fatal, silent (default info)
  -h, --help                 show this help
${examplesHelp('controller')}`;

/** The control API flags as given: files are read by loadControlSettings. */
export interface ControlFlags {
  readonly host: string;
  readonly port: number;
  readonly tokenFile: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly clientCaFile?: string;
}

export type ParsedControllerArgs =
  | { ok: true; options: ControllerOptions & { log: LogSettings }; control?: ControlFlags }
  | { ok: false; help?: boolean; error?: string };

function port(value: string | undefined, flag: string, fallback: number): number | string {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) > 65_535)
    return `${flag}: must be a port number (0-65535), got "${value}"`;
  return Number(value);
}

function positive(value: string | undefined, flag: string): number | string | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) return `${flag}: must be a positive integer, got "${value}"`;
  return Number(value);
}

/** HOST:PORT, [IPv6]:PORT or :PORT (all interfaces). */
function hostPort(value: string, flag: string): { host: string; port: number } | string {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]*)):(\d{1,5})$/.exec(value);
  if (m === null || Number(m[3]) > 65_535) return `${flag}: must be HOST:PORT, got "${value}"`;
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port: Number(m[3]) };
}

/** The control API flags: listen needs the token file; cert and key go together; a client CA needs a cert. */
function controlFlags(str: (k: string) => string | undefined): ControlFlags | string | undefined {
  const listen = str('control-listen');
  const tokenFile = str('control-token-file');
  const certFile = str('control-cert');
  const keyFile = str('control-key');
  const clientCaFile = str('control-client-ca');
  for (const [flag, value] of [
    ['--control-listen', listen],
    ['--control-token-file', tokenFile],
    ['--control-cert', certFile],
    ['--control-key', keyFile],
    ['--control-client-ca', clientCaFile],
  ] as const) {
    if (value === '') return `${flag}: must not be empty`;
  }
  if (listen === undefined) {
    const stray = [
      ['--control-token-file', tokenFile],
      ['--control-cert', certFile],
      ['--control-key', keyFile],
      ['--control-client-ca', clientCaFile],
    ].find(([, v]) => v !== undefined);
    return stray === undefined ? undefined : `${stray[0]}: needs --control-listen`;
  }
  const address = hostPort(listen, '--control-listen');
  if (typeof address === 'string') return address;
  if (tokenFile === undefined)
    return '--control-listen: needs --control-token-file (the control API is authenticated)';
  if (certFile !== undefined && keyFile === undefined) return '--control-cert: needs --control-key';
  if (keyFile !== undefined && certFile === undefined) return '--control-key: needs --control-cert';
  if (clientCaFile !== undefined && certFile === undefined)
    return '--control-client-ca: needs --control-cert and --control-key (mTLS is on top of TLS)';
  return {
    ...address,
    tokenFile,
    ...(certFile !== undefined ? { certFile } : {}),
    ...(keyFile !== undefined ? { keyFile } : {}),
    ...(clientCaFile !== undefined ? { clientCaFile } : {}),
  };
}

/** Reads the control API's token and certificate files; errors name the flag. */
export function loadControlSettings(
  flags: ControlFlags,
  read: (path: string) => Buffer = (path) => readFileSync(path),
): { ok: true; settings: ControlServerSettings } | { ok: false; error: string } {
  const files: Record<string, Buffer> = {};
  for (const [flag, path] of [
    ['--control-token-file', flags.tokenFile],
    ['--control-cert', flags.certFile],
    ['--control-key', flags.keyFile],
    ['--control-client-ca', flags.clientCaFile],
  ] as const) {
    if (path === undefined) continue;
    try {
      files[flag] = read(path);
    } catch (error) {
      return { ok: false, error: `${flag}: cannot read ${path}: ${errorText(error)}` };
    }
  }
  // Secrets mounted as files often end in a newline; the token is what is between the blanks.
  const token = files['--control-token-file']!.toString('utf8').trim();
  if (token === '') return { ok: false, error: `--control-token-file: ${flags.tokenFile} is empty` };
  if (!/^[\x21-\x7e]+$/.test(token))
    return {
      ok: false,
      error: `--control-token-file: the token in ${flags.tokenFile} must be printable ASCII without blanks`,
    };
  const cert = files['--control-cert'];
  const key = files['--control-key'];
  const clientCa = files['--control-client-ca'];
  return {
    ok: true,
    settings: {
      host: flags.host,
      port: flags.port,
      token,
      ...(cert !== undefined && key !== undefined
        ? { tls: { cert, key, ...(clientCa !== undefined ? { clientCa } : {}) } }
        : {}),
    },
  };
}

/** Parses the flags; errors name the flag. */
export function parseControllerArgs(
  argv: readonly string[],
  isTTY = process.stdout.isTTY === true,
  env: NodeJS.ProcessEnv = process.env,
): ParsedControllerArgs {
  // --leader-elect alone means true; parseArgs wants a value for string options.
  const args = argv.map((a) => (a === '--leader-elect' ? '--leader-elect=true' : a));
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      allowPositionals: false,
      options: parseArgsOptions('controller'),
    }));
  } catch (error) {
    return { ok: false, error: errorText(error) };
  }
  if (values.help) return { ok: false, help: true };
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const metricsPort = port(str('metrics-port'), '--metrics-port', 8090);
  if (typeof metricsPort === 'string') return { ok: false, error: metricsPort };
  const healthzPort = port(str('healthz-port'), '--healthz-port', 8080);
  if (typeof healthzPort === 'string') return { ok: false, error: healthzPort };
  const elect = str('leader-elect') ?? 'true';
  if (elect !== 'true' && elect !== 'false')
    return { ok: false, error: `--leader-elect: must be true or false, got "${elect}"` };
  const numbers: Record<string, number | undefined> = {};
  for (const flag of ['rollout-threads', 'analysis-threads', 'experiment-threads', 'qps', 'burst']) {
    const v = positive(str(flag), `--${flag}`);
    if (typeof v === 'string') return { ok: false, error: v };
    numbers[flag] = v;
  }
  let log: LogSettings;
  try {
    log = logSettings(values, isTTY, env);
  } catch (error) {
    if (error instanceof UsageError) return { ok: false, error: error.message };
    throw error;
  }
  const namespace = str('namespace');
  if (namespace === '') return { ok: false, error: '--namespace: must not be empty' };
  const metricPlugins: MetricPluginEntry[] = [];
  for (const text of (values['metric-plugin'] as string[] | undefined) ?? []) {
    const entry = parseMetricPluginFlag(text);
    if (!entry.ok) return { ok: false, error: entry.error };
    metricPlugins.push(entry.value);
  }
  const control = controlFlags(str);
  if (typeof control === 'string') return { ok: false, error: control };
  return {
    ok: true,
    ...(control !== undefined ? { control } : {}),
    options: {
      log,
      metricsPort,
      healthzPort,
      leaderElect: elect === 'true',
      ...(str('kubeconfig') !== undefined ? { kubeconfig: str('kubeconfig') } : {}),
      ...(str('context') !== undefined ? { context: str('context') } : {}),
      ...(namespace !== undefined ? { namespace } : {}),
      ...(str('listen-host') !== undefined ? { listenHost: str('listen-host') } : {}),
      ...(str('lease-namespace') !== undefined ? { leaseNamespace: str('lease-namespace') } : {}),
      ...(str('instance-id') ? { instanceId: str('instance-id') } : {}),
      ...(str('istio-api-version') ? { istioApiVersion: str('istio-api-version') } : {}),
      ...(str('traffic-split-api-version')
        ? { trafficSplitApiVersion: str('traffic-split-api-version') }
        : {}),
      ...(numbers['rollout-threads'] !== undefined ? { rolloutThreads: numbers['rollout-threads'] } : {}),
      ...(numbers['analysis-threads'] !== undefined ? { analysisThreads: numbers['analysis-threads'] } : {}),
      ...(numbers['experiment-threads'] !== undefined
        ? { experimentThreads: numbers['experiment-threads'] }
        : {}),
      ...(metricPlugins.length > 0 ? { metricPlugins } : {}),
      ...(numbers.qps !== undefined ? { qps: numbers.qps } : {}),
      ...(numbers.burst !== undefined ? { burst: numbers.burst } : {}),
      ...(str('notifications-namespace') !== undefined || values['self-service-notification-enabled'] === true
        ? {
            notifications: {
              ...(str('notifications-namespace') !== undefined
                ? { namespace: str('notifications-namespace') }
                : {}),
              ...(values['self-service-notification-enabled'] === true ? { selfService: true } : {}),
            },
          }
        : {}),
    },
  };
}

/** Runs the controller until SIGTERM/SIGINT; resolves with the exit code. */
export async function runControllerCommand(argv: string[]): Promise<number> {
  const parsed = parseControllerArgs(argv);
  if (!parsed.ok) {
    if (parsed.help) {
      process.stdout.write(CONTROLLER_USAGE);
      return 0;
    }
    process.stderr.write(`sluice controller: ${parsed.error}\n\n${CONTROLLER_USAGE}`);
    return 2;
  }
  const { log, ...options } = parsed.options;
  let control: ControlServerSettings | undefined;
  if (parsed.control !== undefined) {
    const loaded = loadControlSettings(parsed.control);
    if (!loaded.ok) {
      process.stderr.write(`sluice controller: ${loaded.error}\n`);
      return 2;
    }
    control = loaded.settings;
  }
  const logger = createLogger(log, { base: { component: 'sluice-controller' } });
  const controller = new Controller({ ...options, ...(control !== undefined ? { control } : {}), logger });
  const nodeFlags = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
  if (!nodeFlags.includes('--max-semi-space-size'))
    logger.info(
      { recommended: `NODE_OPTIONS=${CONTROLLER_NODE_OPTIONS}` },
      'running with V8 default young-generation size; memory grows with the caches churn',
    );
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'signal received');
    void controller.stop(0);
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    await controller.start();
  } catch (error) {
    logger.error({ err: errorText(error) }, 'startup failed');
    process.stderr.write(`sluice controller: ${errorText(error)}\n`);
    await controller.stop(1);
    return 1;
  }
  const code = await controller.done;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  return code;
}
