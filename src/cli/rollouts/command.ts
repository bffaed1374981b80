// Shared plumbing of the rollout verbs: the injected I/O (output, TTY, clock, how to connect), flag
// parsing with usage errors, and running a verb body against the API with Argo's error printing
// (`Error: <message>`, exit 1). Usage errors exit 2.

import { errorText } from '../../api/errors.ts';
import { type FlagSpecs, type FlagValue, parseVerbArgs, stringFlag } from '../flags.ts';
import { type CliApi, CliApiError, type ConnectResult, connect, type KubeFlags } from '../kube.ts';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** Whether stdout is a terminal (watch output redraws in place; colours on). */
  readonly isTTY: boolean;
  nowMs(): number;
  readonly env: NodeJS.ProcessEnv;
  connect(flags: KubeFlags): Promise<ConnectResult>;
  /** Aborted on SIGINT/SIGTERM: watches end cleanly. */
  readonly signal: AbortSignal;
}

export function processIo(): CliIo {
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    isTTY: process.stdout.isTTY === true,
    nowMs: () => Date.now(),
    env: process.env,
    connect: (flags) => connect(flags, process.env),
    signal: controller.signal,
  };
}

export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;

export interface VerbArgs {
  values: Readonly<Record<string, FlagValue>>;
  positionals: string[];
  kube: KubeFlags;
}

/** Parses the verb's arguments; on a bad flag prints `Error: ...` and the usage, and returns undefined. */
export function parseOrUsage(
  argv: readonly string[],
  flags: FlagSpecs,
  usage: string,
  io: CliIo,
): VerbArgs | undefined {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out(usage);
    return undefined;
  }
  const parsed = parseVerbArgs(argv, flags);
  if (!parsed.ok) {
    io.err(`Error: ${parsed.error}\n\n${usage}`);
    return undefined;
  }
  const kube: KubeFlags = {};
  const kubeconfig = stringFlag(parsed.values, 'kubeconfig');
  const context = stringFlag(parsed.values, 'context');
  const namespace = stringFlag(parsed.values, 'namespace');
  if (kubeconfig !== undefined) kube.kubeconfig = kubeconfig;
  if (context !== undefined) kube.context = context;
  if (namespace !== undefined) kube.namespace = namespace;
  return { values: parsed.values, positionals: parsed.positionals, kube };
}

/** `--help` exits 0, a bad flag exits 2: tells them apart after parseOrUsage returned undefined. */
export function helpOrUsageExit(argv: readonly string[]): number {
  return argv.includes('--help') || argv.includes('-h') ? EXIT_OK : EXIT_USAGE;
}

export function usageError(io: CliIo, message: string, usage: string): number {
  io.err(`Error: ${message}\n\n${usage}`);
  return EXIT_USAGE;
}

/** Connects, runs `body`, closes; API and connection failures print `Error: <message>` and exit 1. */
export async function withApi(
  io: CliIo,
  kube: KubeFlags,
  body: (api: CliApi) => Promise<number>,
): Promise<number> {
  const connected = await io.connect(kube);
  if (!connected.ok) {
    io.err(`Error: ${connected.error}\n`);
    return EXIT_ERROR;
  }
  try {
    return await body(connected.api);
  } catch (error) {
    if (error instanceof CliApiError) {
      io.err(`Error: ${error.message}\n`);
      return EXIT_ERROR;
    }
    const message = errorText(error);
    io.err(`Error: ${message}\n`);
    return EXIT_ERROR;
  } finally {
    await connected.api.close();
  }
}

export const KUBE_FLAGS_USAGE = `
Global flags (every rollout command):
      --kubeconfig PATH   path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)
      --context NAME      kubeconfig context to use
  -n, --namespace NS      namespace (default: the context's namespace, then "default")
  -h, --help              show this help
`;
