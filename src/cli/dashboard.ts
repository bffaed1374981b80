// `sluice dashboard`: the web UI (src/cli/dashboard/: server.ts, views.ts, watch-cache.ts, proxy-stats.ts,
// assets/), as Argo's `kubectl argo rollouts dashboard`, on 127.0.0.1:3100 by default. It uses the CLI's
// Kubernetes access (the kubeconfig flags, the namespace they resolve to, or every namespace with -A) and
// the verbs' own code for its actions. `openDashboard` is also what `sluice demo --dashboard` starts.

import { parseArgs } from 'node:util';
import { examplesHelp, parseArgsOptions } from './command-table.ts';
import { UsageError } from './flags.ts';
import { connect, type KubeFlags } from './kube.ts';
import { hostPort } from './proxy.ts';
import { untilStopSignal } from './signals.ts';

export const DASHBOARD_USAGE = `usage: sluice dashboard [--listen HOST:PORT] [-A] [--read-only] [--proxy-admin HOST:PORT]

A web UI for Rollouts: the list by namespace (phase, strategy, step, weights), and a page per Rollout
with its steps, revisions (ReplicaSets, pods, AnalysisRuns with every measurement and its conditions),
the traffic weights, the Sluice proxy's per-revision success rate and latency (with --proxy-admin) and
the actions promote, promote --full, abort, retry, restart and undo, each after a confirmation. Pages
update live: the dashboard watches the API server and pushes changes to the browser (server-sent events).

Flags:
      --listen HOST:PORT      address to serve on (default 127.0.0.1:3100; loopback unless you say so)
  -A, --all-namespaces        every namespace (default: the --namespace / context namespace)
      --read-only             hide the actions; the server refuses them (403)
      --proxy-admin HOST:PORT a Sluice proxy's admin port: its per-revision numbers for proxy-routed Rollouts
      --kubeconfig PATH       path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)
      --context NAME          kubeconfig context to use
  -n, --namespace NS          namespace (default: the context's namespace, then "default")
  -h, --help                  show this help
${examplesHelp('dashboard')}`;

export interface OpenDashboardOptions {
  readonly kube: KubeFlags;
  readonly listen: { host: string; port: number };
  readonly allNamespaces: boolean;
  readonly readOnly: boolean;
  readonly proxyAdmin?: string;
  readonly env?: NodeJS.ProcessEnv;
}

export interface OpenDashboard {
  readonly url: string;
  /** The namespace shown; undefined: every namespace. */
  readonly namespace: string | undefined;
  close(): Promise<void>;
}

/** Connects, lists and watches, and serves; throws when the kubeconfig or the API server fails. */
export async function openDashboard(o: OpenDashboardOptions): Promise<OpenDashboard> {
  const [{ WatchCache }, { startDashboard }, { ProxyScraper }] = await Promise.all([
    import('./dashboard/watch-cache.ts'),
    import('./dashboard/server.ts'),
    import('./dashboard/proxy-stats.ts'),
  ]);
  const connected = await connect(o.kube, o.env ?? process.env);
  if (!connected.ok) throw new Error(connected.error);
  const api = connected.api;
  const namespace = o.allNamespaces ? undefined : api.namespace;
  const cache = new WatchCache(api, namespace);
  try {
    await cache.start();
    const server = await startDashboard({
      source: cache,
      api,
      host: o.listen.host,
      port: o.listen.port,
      readOnly: o.readOnly,
      namespace,
      ...(o.proxyAdmin !== undefined ? { proxy: new ProxyScraper(o.proxyAdmin) } : {}),
    });
    return {
      url: server.url,
      namespace,
      close: async () => {
        await server.close();
        await cache.stop();
        await api.close();
      },
    };
  } catch (error) {
    await cache.stop();
    await api.close();
    throw error;
  }
}

export async function runDashboardCommand(argv: string[]): Promise<number> {
  let options: OpenDashboardOptions;
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: parseArgsOptions('dashboard'),
    });
    if (values.help === true) {
      process.stdout.write(DASHBOARD_USAGE);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const kube: KubeFlags = {};
    if (values.kubeconfig !== undefined) kube.kubeconfig = values.kubeconfig;
    if (values.context !== undefined) kube.context = values.context;
    if (values.namespace !== undefined) kube.namespace = values.namespace;
    let proxyAdmin: string | undefined;
    if (values['proxy-admin'] !== undefined) {
      const a = hostPort('proxy-admin', values['proxy-admin']);
      proxyAdmin = `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
    }
    options = {
      kube,
      listen: hostPort('listen', values.listen ?? '127.0.0.1:3100'),
      allNamespaces: values['all-namespaces'] === true,
      readOnly: values['read-only'] === true,
      ...(proxyAdmin !== undefined ? { proxyAdmin } : {}),
    };
  } catch (error) {
    process.stderr.write(
      `Error: ${error instanceof Error ? error.message : String(error)}\n\n${DASHBOARD_USAGE}`,
    );
    return 2;
  }
  let dashboard: OpenDashboard;
  try {
    dashboard = await openDashboard(options);
  } catch (error) {
    process.stderr.write(`Error: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  process.stdout.write(
    `Sluice dashboard on ${dashboard.url} (${dashboard.namespace === undefined ? 'all namespaces' : `namespace ${dashboard.namespace}`}${options.readOnly ? ', read-only' : ''}); Ctrl-C stops\n`,
  );
  await untilStopSignal();
  await dashboard.close();
  return 0;
}
