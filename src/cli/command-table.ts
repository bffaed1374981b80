// The one table of `sluice` commands: their names, the flags their parsers accept, what each verb's
// first argument may be, and the examples their --help prints. main.ts lists and dispatches from it, each
// command parses its flags from it, and `sluice completion` / `kubectl_complete-sluice` complete from it,
// so a flag cannot be accepted without being completed. Pure data: it imports no command module (the
// commands import it), so loading it costs nothing for `sluice proxy`.

/** A flag as node:util parseArgs takes it, plus what help and completion need. */
export interface FlagDef {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly multiple?: boolean;
  readonly default?: string;
  /** One line for zsh/fish completion menus. */
  readonly description: string;
  /**
   * How a shell completes the flag's value: file or dir names, or a fixed set of words. Absent on a string
   * flag: free text (nothing offered). `attached`: a string flag given only as `--flag=value` (the
   * controller's `--leader-elect[=BOOL]`), completed like a boolean.
   */
  readonly complete?: 'file' | 'dir' | 'attached' | readonly string[];
}

export type FlagDefs = Readonly<Record<string, FlagDef>>;

export interface Example {
  /** What the example does, printed as a `#` comment above it. */
  readonly what: string;
  readonly command: string;
}

export interface CommandDef {
  readonly name: string;
  /** The lines `sluice --help` lists: [synopsis, what it does]. */
  readonly lines: readonly (readonly [string, string])[];
  readonly group: 'rollout' | 'other';
  /** The words the first argument may be (resource types, sub-commands), completed first. */
  readonly words?: readonly string[];
  /** What the positional arguments after `words` are, for completion. */
  readonly positionals?: 'file' | 'dir';
  /** The command's own flags; --help is every command's (HELP_FLAG). */
  readonly flags: FlagDefs;
  /** Takes --kubeconfig, --context, -n/--namespace (KUBE_FLAG_DEFS). */
  readonly kube?: boolean;
  /** A long-running command: takes --log-format and --loglevel (LOG_FLAG_DEFS). */
  readonly logs?: boolean;
  readonly examples: readonly Example[];
}

export const LOG_FORMATS = ['text', 'json'] as const;
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export const HELP_FLAG = {
  help: { type: 'boolean', short: 'h', description: 'show this help' },
} as const satisfies FlagDefs;

export const KUBE_FLAG_DEFS = {
  kubeconfig: { type: 'string', description: 'path to the kubeconfig file', complete: 'file' },
  context: { type: 'string', description: 'kubeconfig context to use' },
  namespace: { type: 'string', short: 'n', description: 'namespace' },
} as const satisfies FlagDefs;

export const LOG_FLAG_DEFS = {
  'log-format': {
    type: 'string',
    description: 'log format: text (default on a terminal) or json',
    complete: LOG_FORMATS,
  },
  loglevel: { type: 'string', description: 'log level (default info)', complete: LOG_LEVELS },
} as const satisfies FlagDefs;

const FILE = 'file' as const;

const TABLE = [
  {
    name: 'get',
    group: 'rollout',
    lines: [['get rollout NAME [-w]', "the rollout's revisions, ReplicaSets, pods and analysis runs"]],
    words: ['rollout', 'rollouts', 'ro'],
    kube: true,
    flags: {
      watch: { type: 'boolean', short: 'w', description: 'watch live updates to the rollout' },
      'no-color': { type: 'boolean', description: 'do not colorize output' },
      'timeout-seconds': { type: 'string', description: 'with --watch, stop after N seconds (0: never)' },
    },
    examples: [
      {
        what: 'The revisions, ReplicaSets, pods, analysis runs and traffic weights of a rollout',
        command: 'sluice get rollout web -n shop',
      },
      { what: 'Watch it progress, redrawn in place', command: 'sluice get rollout web --watch' },
      { what: 'The same through kubectl', command: 'kubectl sluice get rollout web -w' },
    ],
  },
  {
    name: 'list',
    group: 'rollout',
    lines: [['list rollouts [-A] [-w]', 'list rollouts']],
    words: ['rollouts', 'rollout', 'ro'],
    kube: true,
    flags: {
      'all-namespaces': { type: 'boolean', short: 'A', description: 'include all namespaces' },
      name: { type: 'string', description: 'only show the rollout with this name' },
      watch: { type: 'boolean', short: 'w', description: 'watch for changes' },
      timestamps: { type: 'boolean', description: 'print timestamps on updates' },
    },
    examples: [
      { what: 'Rollouts in the current namespace', command: 'sluice list rollouts' },
      { what: 'In every namespace, updated as they change', command: 'sluice list rollouts -A --watch' },
    ],
  },
  {
    name: 'promote',
    group: 'rollout',
    lines: [['promote NAME [--full]', 'promote a paused rollout (--full: skip all remaining steps)']],
    kube: true,
    flags: {
      full: { type: 'boolean', description: 'skip the remaining steps, pauses and analysis' },
      'skip-current-step': { type: 'boolean', short: 'c', description: '(deprecated) skip the current step' },
      'skip-all-steps': { type: 'boolean', short: 'a', description: '(deprecated, use --full)' },
    },
    examples: [
      { what: 'Resume a rollout paused at a step', command: 'sluice promote web' },
      { what: 'Skip every remaining step, pause and analysis', command: 'sluice promote web --full' },
    ],
  },
  {
    name: 'abort',
    group: 'rollout',
    lines: [['abort NAME', 'abort a rollout: traffic back to stable']],
    kube: true,
    flags: {},
    examples: [{ what: 'Send all traffic back to the stable revision', command: 'sluice abort web -n shop' }],
  },
  {
    name: 'retry',
    group: 'rollout',
    lines: [
      ['retry rollout NAME', 'retry an aborted rollout'],
      ['retry experiment NAME', 'restart a finished experiment'],
    ],
    words: ['rollout', 'experiment'],
    kube: true,
    flags: {},
    examples: [
      { what: 'Start an aborted rollout again from its first step', command: 'sluice retry rollout web' },
      { what: 'Run a finished experiment again', command: 'sluice retry experiment web-exp' },
    ],
  },
  {
    name: 'pause',
    group: 'rollout',
    lines: [['pause NAME', 'pause a rollout']],
    kube: true,
    flags: {},
    examples: [{ what: 'Hold a rollout where it is', command: 'sluice pause web' }],
  },
  {
    name: 'undo',
    group: 'rollout',
    lines: [['undo NAME [--to-revision N]', 'roll back to the previous (or given) revision']],
    kube: true,
    flags: {
      'to-revision': { type: 'string', description: 'the revision to roll back to (default: the previous)' },
    },
    examples: [
      { what: 'Roll back to the previous revision', command: 'sluice undo web' },
      { what: 'Roll back to revision 3', command: 'sluice undo web --to-revision 3' },
    ],
  },
  {
    name: 'restart',
    group: 'rollout',
    lines: [['restart NAME [--in 30s]', 'restart the pods of a rollout']],
    kube: true,
    flags: { in: { type: 'string', short: 'i', description: 'time before the restart (e.g. 30s, 5m)' } },
    examples: [
      { what: 'Restart the pods now', command: 'sluice restart web' },
      { what: 'Restart them in ten minutes', command: 'sluice restart web --in 10m' },
    ],
  },
  {
    name: 'set',
    group: 'rollout',
    lines: [['set image NAME CONTAINER=IMAGE', 'update the image of a rollout']],
    words: ['image'],
    kube: true,
    flags: {},
    examples: [
      {
        what: 'Start a release: a new image for the container app',
        command: 'sluice set image web app=registry.example.com/web:v2',
      },
      {
        what: 'The same image for every container',
        command: "sluice set image web '*=registry.example.com/web:v2'",
      },
    ],
  },
  {
    name: 'status',
    group: 'rollout',
    lines: [['status NAME [--timeout 5m]', 'wait until Healthy (exit 0) or Degraded/timeout (exit 1)']],
    kube: true,
    flags: {
      watch: {
        type: 'boolean',
        short: 'w',
        description: 'watch until done (default true; --watch=false: once)',
      },
      timeout: { type: 'string', short: 't', description: 'give up after this long, e.g. 5m' },
    },
    examples: [
      {
        what: 'A CI gate: exit 0 when Healthy, 1 when Degraded or after 5 minutes',
        command: 'sluice status web --timeout 5m',
      },
      { what: 'Print the status once', command: 'sluice status web --watch=false' },
    ],
  },
  {
    name: 'terminate',
    group: 'rollout',
    lines: [['terminate analysisrun|experiment NAME', 'end an AnalysisRun or Experiment']],
    words: ['analysisrun', 'experiment'],
    kube: true,
    flags: {},
    examples: [
      {
        what: 'Stop an AnalysisRun (judged as Argo judges a terminated run)',
        command: 'sluice terminate analysisrun web-6f9c7-2',
      },
      { what: 'Stop an Experiment', command: 'sluice terminate experiment web-exp' },
    ],
  },
  {
    name: 'lint',
    group: 'rollout',
    lines: [['lint -f FILE', 'validate the Rollouts in a file']],
    flags: {
      filename: { type: 'string', short: 'f', description: 'YAML or JSON file to lint', complete: FILE },
    },
    examples: [
      {
        what: 'Validate as the controller would (InvalidSpec otherwise)',
        command: 'sluice lint -f rollout.yaml',
      },
    ],
  },
  {
    name: 'dashboard',
    group: 'other',
    lines: [['dashboard', 'a web UI: Rollouts, their revision tree and analysis, live, with the actions']],
    kube: true,
    flags: {
      listen: { type: 'string', default: '127.0.0.1:3100', description: 'address to serve on HOST:PORT' },
      'all-namespaces': { type: 'boolean', short: 'A', description: 'show Rollouts of every namespace' },
      'read-only': { type: 'boolean', description: 'no actions: they are hidden and refused (403)' },
      'proxy-admin': {
        type: 'string',
        description: "a Sluice proxy's admin HOST:PORT, for its per-revision success rate and latency",
      },
    },
    examples: [
      { what: "The current context's namespace on http://127.0.0.1:3100/", command: 'sluice dashboard' },
      {
        what: 'Every namespace, read-only, on another port',
        command: 'sluice dashboard -A --read-only --listen 127.0.0.1:3200',
      },
      {
        what: "With the proxy's live numbers (its admin port)",
        command: 'sluice dashboard -n shop --proxy-admin 127.0.0.1:9901',
      },
    ],
  },
  {
    name: 'controller',
    group: 'other',
    lines: [['controller', 'run the Rollout controller']],
    kube: true,
    logs: true,
    flags: {
      'metrics-port': { type: 'string', description: 'Prometheus metrics port (default 8090)' },
      'healthz-port': { type: 'string', description: 'health port (default 8080)' },
      'listen-host': { type: 'string', description: 'address of the metrics and health servers' },
      'leader-elect': {
        type: 'string',
        description: 'elect a leader with a Lease (default true)',
        complete: 'attached',
      },
      'lease-namespace': { type: 'string', description: 'namespace of the Lease' },
      'instance-id': {
        type: 'string',
        description: 'only reconcile objects with this controller-instance-id',
      },
      'istio-api-version': {
        type: 'string',
        description: 'networking.istio.io version',
        complete: ['v1alpha3', 'v1beta1', 'v1'],
      },
      'traffic-split-api-version': {
        type: 'string',
        description: 'split.smi-spec.io version of TrafficSplit',
        complete: ['v1alpha1', 'v1alpha2', 'v1alpha3'],
      },
      'rollout-threads': { type: 'string', description: 'concurrent Rollout reconciles' },
      'analysis-threads': { type: 'string', description: 'concurrent AnalysisRun reconciles' },
      'metric-plugin': {
        type: 'string',
        multiple: true,
        description: 'metric provider plugin NAME=PATH (a Node module)',
      },
      'experiment-threads': { type: 'string', description: 'concurrent Experiment reconciles' },
      qps: { type: 'string', description: 'client-side API rate limit (default 40)' },
      burst: { type: 'string', description: 'client-side API burst (default 80)' },
      'control-listen': { type: 'string', description: "serve the proxies' control API (gRPC) on HOST:PORT" },
      'control-token-file': {
        type: 'string',
        description: 'the bearer token proxies present',
        complete: FILE,
      },
      'control-cert': {
        type: 'string',
        description: 'TLS certificate (PEM) of the control API',
        complete: FILE,
      },
      'control-key': { type: 'string', description: 'private key (PEM) of --control-cert', complete: FILE },
      'control-client-ca': { type: 'string', description: 'mTLS: CA (PEM) of the proxies', complete: FILE },
      'notifications-namespace': {
        type: 'string',
        description: 'namespace of argo-rollouts-notification-configmap and its Secret',
      },
      'self-service-notification-enabled': {
        type: 'boolean',
        description: "also read the notification ConfigMap and Secret in each Rollout's namespace",
      },
    },
    examples: [
      {
        what: 'In a cluster (the Deployment runs this), or against the current kubeconfig context',
        command: 'sluice controller',
      },
      {
        what: 'One namespace, no leader election, debug logs as JSON',
        command: 'sluice controller -n shop --leader-elect=false --loglevel debug --log-format json',
      },
      {
        what: "Also serve the proxies' control API",
        command: 'sluice controller --control-listen :8443 --control-token-file /var/run/sluice/token',
      },
    ],
  },
  {
    name: 'proxy',
    group: 'other',
    lines: [['proxy', 'run the weighted-routing proxy']],
    logs: true,
    flags: {
      config: { type: 'string', description: 'routes file (watched)', complete: FILE },
      control: { type: 'string', description: 'subscribe to a control plane at HOST:PORT' },
      'token-file': { type: 'string', description: 'bearer token for the control plane', complete: FILE },
      'control-ca': { type: 'string', description: 'CA bundle to verify the control plane', complete: FILE },
      'control-cert': { type: 'string', description: 'client certificate for mTLS', complete: FILE },
      'control-key': { type: 'string', description: 'client key for mTLS', complete: FILE },
      'proxy-id': { type: 'string', description: 'identity told to the control plane' },
      route: { type: 'string', multiple: true, description: 'a route this proxy serves ([NAMESPACE/]NAME)' },
      'all-routes': { type: 'boolean', description: 'serve every route the control plane publishes' },
      'report-interval': { type: 'string', description: 'histogram interval (default 1s)' },
      listen: { type: 'string', default: '127.0.0.1:8080', description: 'data port HOST:PORT' },
      admin: { type: 'string', default: '127.0.0.1:9901', description: 'admin port HOST:PORT' },
      'tls-cert': { type: 'string', description: 'serve the data port over TLS', complete: FILE },
      'tls-key': { type: 'string', description: 'key of --tls-cert', complete: FILE },
      'cookie-keys': { type: 'string', description: 'sticky-session signing keys', complete: FILE },
      'upstream-ca': { type: 'string', description: 'extra CAs to verify https:// backends', complete: FILE },
      'max-connections': { type: 'string', description: 'client connection cap (default 10000)' },
      'max-body-bytes': { type: 'string', description: 'largest request body' },
      'allow-methods': { type: 'string', description: 'methods forwarded (default: all but TRACE, TRACK)' },
      'trust-forwarded': { type: 'boolean', description: "keep the client's X-Forwarded-Proto/-Host" },
      'drain-timeout': { type: 'string', description: 'graceful shutdown deadline in seconds (default 10)' },
      workers: {
        type: 'string',
        description: 'worker processes sharing the data port (default: one per core)',
      },
    },
    examples: [
      {
        what: 'Route by a routes file, applied again whenever it changes',
        command: 'sluice proxy --config routes.yaml --listen 0.0.0.0:8080',
      },
      {
        what: 'Take the routes of the Rollout shop/web from the controller',
        command:
          'sluice proxy --control sluice-controller.sluice:8443 --token-file /var/run/sluice/token --route shop/web',
      },
      {
        what: 'Debug logs as JSON',
        command: 'sluice proxy --config routes.yaml --loglevel debug --log-format json',
      },
    ],
  },
  {
    name: 'analysis',
    group: 'other',
    lines: [['analysis run', 'run an AnalysisTemplate locally to completion']],
    words: ['run'],
    flags: {
      file: {
        type: 'string',
        short: 'f',
        description: 'manifest (YAML or JSON; - reads stdin)',
        complete: FILE,
      },
      name: { type: 'string', description: 'which template or run in the file to run' },
      arg: { type: 'string', multiple: true, description: 'set argument K=V' },
      secret: { type: 'string', multiple: true, description: 'Secret value N/K=V for secretKeyRef args' },
      prometheus: { type: 'string', description: 'Prometheus address for every prometheus metric' },
      kayenta: { type: 'string', description: 'Kayenta address for every kayenta metric' },
      'metric-plugin': {
        type: 'string',
        multiple: true,
        description: 'metric provider plugin NAME=PATH (a Node module)',
      },
      'plugin-config': {
        type: 'string',
        description: 'argo-rollouts-config ConfigMap file with metricProviderPlugins',
        complete: FILE,
      },
      'interval-scale': { type: 'string', description: 'multiply every interval by X' },
      duration: { type: 'string', description: 'stop metrics without a count after D' },
      output: { type: 'string', short: 'o', description: 'text or json', complete: ['text', 'json'] },
    },
    examples: [
      {
        what: 'Run a template against a local Prometheus',
        command:
          'sluice analysis run -f analysis-template.yaml --arg service-name=web --prometheus http://127.0.0.1:9090',
      },
      {
        what: 'Ten times faster, the final AnalysisRun as JSON',
        command: 'sluice analysis run -f run.yaml --interval-scale 0.1 -o json',
      },
    ],
  },
  {
    name: 'demo',
    group: 'other',
    lines: [['demo', 'progressive delivery on this machine: v2 promoted, a bad v3 aborted (npm start)']],
    logs: true,
    flags: {
      scenario: { type: 'string', description: 'how v3 is bad', complete: ['errors', 'latency'] },
      'error-rate': { type: 'string', description: "v3's ERROR_RATE (0..1, default 0.2)" },
      'latency-ms': { type: 'string', description: "v3's LATENCY_MS (default 300)" },
      rate: { type: 'string', description: 'requests per second of the built-in load' },
      'time-scale': { type: 'string', description: 'run the analysis and the waits N times faster' },
      'report-interval': { type: 'string', description: "the proxy's histogram interval" },
      listen: { type: 'string', description: "the proxy's data port HOST:PORT" },
      'summary-json': { type: 'string', description: 'write the summary as JSON', complete: FILE },
      'keep-running': { type: 'boolean', description: 'stay up afterwards to play with the CLI' },
      plain: { type: 'boolean', description: 'plain timestamped lines even on a terminal' },
      verbose: { type: 'boolean', description: "standalone's own log on stderr" },
      dashboard: { type: 'boolean', description: 'serve `sluice dashboard` on the demo (and stay up)' },
      'dashboard-listen': {
        type: 'string',
        description: "the dashboard's HOST:PORT (default 127.0.0.1:3100)",
      },
    },
    examples: [
      { what: 'The whole story in under a minute', command: 'sluice demo' },
      {
        what: 'v3 is slow instead of failing, four times faster',
        command: 'sluice demo --scenario latency --time-scale 4',
      },
      {
        what: 'Stay up afterwards with the log on stderr',
        command: 'sluice demo --keep-running --loglevel info',
      },
      {
        what: 'Watch it in a browser (npm start -- --dashboard): the dashboard on http://127.0.0.1:3100/',
        command: 'sluice demo --dashboard',
      },
    ],
  },
  {
    name: 'demo-proxy',
    group: 'other',
    lines: [['demo-proxy [ROUTES_FILE]', 'start two demo backends and the proxy in front of them']],
    positionals: FILE,
    logs: true,
    flags: {},
    examples: [
      { what: 'The example routes (deploy/examples/routes.yaml)', command: 'sluice demo-proxy' },
      {
        what: 'Your own routes file, logs as JSON',
        command: 'sluice demo-proxy my-routes.yaml --log-format json',
      },
    ],
  },
  {
    name: 'demo-app',
    group: 'other',
    lines: [['demo-app --listen HOST:PORT', 'run the demo application']],
    flags: {
      listen: { type: 'string', description: 'address to listen on HOST:PORT' },
      name: { type: 'string', description: 'pod name to report' },
      version: { type: 'string', description: 'version to report' },
      'error-rate': { type: 'string', description: 'share of requests answered 500 (0..1)' },
      'latency-ms': { type: 'string', description: 'added to every response' },
      'latency-jitter-ms': { type: 'string', description: 'up to this much more' },
    },
    examples: [
      { what: 'A healthy v2', command: 'sluice demo-app --listen 127.0.0.1:9001 --version v2' },
      {
        what: 'A bad release: one request in five fails',
        command: 'sluice demo-app --listen 127.0.0.1:9002 --version v3 --error-rate 0.2',
      },
    ],
  },
  {
    name: 'standalone',
    group: 'other',
    lines: [
      ['standalone DIR', 'the controller, workloads, the proxy and an API subset over a folder of manifests'],
    ],
    positionals: 'dir',
    logs: true,
    flags: {
      state: { type: 'string', description: 'keep every object here across restarts', complete: FILE },
      listen: { type: 'string', description: "the proxy's data port HOST:PORT" },
      admin: { type: 'string', description: "the proxy's admin port HOST:PORT" },
      'api-listen': { type: 'string', description: 'the Kubernetes API subset HOST:PORT' },
      'kubeconfig-out': {
        type: 'string',
        description: 'write a kubeconfig for the API subset',
        complete: FILE,
      },
      'report-interval': { type: 'string', description: "the proxy's histogram interval" },
    },
    examples: [
      {
        what: 'Run the manifests in ./manifests; the CLI talks to it through the written kubeconfig',
        command: 'sluice standalone ./manifests --kubeconfig-out /tmp/sluice.kubeconfig',
      },
      {
        what: 'Keep the state across restarts, debug logs',
        command: 'sluice standalone ./manifests --state state.json --loglevel debug',
      },
    ],
  },
  {
    name: 'completion',
    group: 'other',
    lines: [['completion bash|zsh|fish', 'print a shell completion script']],
    words: ['bash', 'zsh', 'fish'],
    flags: {},
    examples: [
      { what: 'bash, this shell only', command: 'source <(sluice completion bash)' },
      {
        what: 'zsh, every new shell',
        command: 'sluice completion zsh > ~/.zsh/completions/_sluice  # a folder on $fpath',
      },
      { what: 'fish', command: 'sluice completion fish > ~/.config/fish/completions/sluice.fish' },
    ],
  },
  {
    name: 'version',
    group: 'other',
    lines: [['version', 'print the version']],
    flags: {},
    examples: [{ what: 'The installed version', command: 'sluice version' }],
  },
] as const satisfies readonly CommandDef[];

/** Every command, in the order `sluice --help` lists them. */
export const COMMANDS: readonly CommandDef[] = TABLE;

export type CommandName = (typeof TABLE)[number]['name'];

type DefOf<N extends CommandName> = Extract<(typeof TABLE)[number], { readonly name: N }>;

/** The parseArgs options of command N, typed from the table so parseArgs types the values. */
export type OptionsOf<N extends CommandName> = DefOf<N>['flags'] &
  (DefOf<N> extends { readonly kube: true } ? typeof KUBE_FLAG_DEFS : unknown) &
  (DefOf<N> extends { readonly logs: true } ? typeof LOG_FLAG_DEFS : unknown) &
  typeof HELP_FLAG;

export function commandDef(name: string): CommandDef | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** The command's own flags (without the kubeconfig, log and help flags). */
export function commandFlags<N extends CommandName>(name: N): DefOf<N>['flags'] {
  return commandDef(name)!.flags as DefOf<N>['flags'];
}

/** Every flag the command accepts: its own, the kubeconfig and log flags when it takes them, and --help. */
export function flagsOf(command: CommandDef): FlagDefs {
  return {
    ...(command.kube ? KUBE_FLAG_DEFS : {}),
    ...command.flags,
    ...(command.logs ? LOG_FLAG_DEFS : {}),
    ...HELP_FLAG,
  };
}

/**
 * The command's flags as node:util parseArgs options (parseArgs ignores the table's other fields: the
 * description and how a value completes).
 */
export function parseArgsOptions<N extends CommandName>(name: N): OptionsOf<N> {
  return flagsOf(commandDef(name)!) as unknown as OptionsOf<N>;
}

/** The Examples section every command's --help ends with. */
export function examplesHelp(name: string): string {
  const command = commandDef(name);
  if (command === undefined) return '';
  return `\nExamples:\n${command.examples.map((e) => `  # ${e.what}\n  ${e.command}\n`).join('\n')}`;
}

/** The command list of `sluice --help`. */
export function commandListHelp(group: CommandDef['group']): string {
  const lines = COMMANDS.filter((c) => c.group === group).flatMap((c) => c.lines);
  const width = Math.max(...lines.map(([synopsis]) => synopsis.length)) + 2;
  return lines.map(([synopsis, what]) => `  ${synopsis.padEnd(width)}${what}\n`).join('');
}
