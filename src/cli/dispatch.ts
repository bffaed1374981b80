// `sluice ARGS`: the command list and the dispatch to one module per command, both from the command table
// (command-table.ts). Each module is loaded only when its command runs: `sluice proxy` must not pay for the
// Kubernetes client's memory.

import { COMMANDS, commandListHelp, examplesHelp } from './command-table.ts';
import { packageInfo } from './package-root.ts';
import { isRolloutVerb, runRolloutVerb } from './rollouts/index.ts';

/** Exit codes every command keeps (docs/cli.md#exit-codes). */
export const EXIT_CODES = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;

export function usage(program: string): string {
  return `usage: ${program} <command> [args]

rollout commands (as Argo's kubectl plugin; each takes --kubeconfig, --context, -n/--namespace):
${commandListHelp('rollout')}
other commands:
${commandListHelp('other')}
Each command takes --help and prints its flags and examples. Exit codes: 0 done, 1 failed (an API error,
a Degraded rollout, a failed start), 2 a bad command line; \`status\` and \`analysis run\` add their own.

Examples:
  # Watch a rollout (also as \`kubectl sluice get rollout web -w\`)
  ${program} get rollout web --watch

  # Progressive delivery on this machine, no cluster
  ${program} demo

  # Shell completion
  source <(${program} completion bash)
`;
}

const VERSION_USAGE = `usage: sluice version

Prints the version of the installed package (also \`sluice --version\`).

  -h, --help   show this help
${examplesHelp('version')}`;

type Runner = (argv: string[]) => Promise<number>;

/** The runner of every command of the table that is not a rollout verb (rollouts/index.ts has those). */
export const RUNNERS: Readonly<Record<string, () => Promise<Runner>>> = {
  dashboard: async () => (await import('./dashboard.ts')).runDashboardCommand,
  controller: async () => (await import('./controller.ts')).runControllerCommand,
  proxy: async () => (await import('./proxy.ts')).runProxyCommand,
  analysis: async () => (await import('./analysis.ts')).runAnalysisCommand,
  demo: async () => (await import('./demo.ts')).runDemo,
  'demo-proxy': async () => (await import('./demo-proxy.ts')).runDemoProxy,
  'demo-app': async () => (await import('./demo-app.ts')).runDemoAppCommand,
  standalone: async () => (await import('./standalone.ts')).runStandaloneCommand,
  completion: async () => {
    const { runCompletionCommand } = await import('./completion.ts');
    return async (argv) =>
      runCompletionCommand(
        argv,
        (text) => process.stdout.write(text),
        (text) => process.stderr.write(text),
      );
  },
  version: async () => async (argv) => {
    if (argv.includes('--help') || argv.includes('-h')) {
      process.stdout.write(VERSION_USAGE);
      return EXIT_CODES.ok;
    }
    process.stdout.write(`sluice ${packageInfo()?.version ?? 'unknown'}\n`);
    return EXIT_CODES.ok;
  },
};

/** Runs `sluice ARGV` (`program` names it in the usage: `sluice` or `kubectl sluice`); the exit code. */
export async function runSluice(argv: readonly string[], program = 'sluice'): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb !== undefined && isRolloutVerb(verb)) return runRolloutVerb(verb, rest);
  switch (verb) {
    case '__complete': {
      // kubectl_complete-sluice (the kubectl plugin completion hook) and the shells' debugging aid.
      const { cobraFormat, complete } = await import('./completion.ts');
      process.stdout.write(cobraFormat(complete(rest)));
      return EXIT_CODES.ok;
    }
    case '--version':
      return (await RUNNERS.version!())([]);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(usage(program));
      return verb === undefined ? EXIT_CODES.usage : EXIT_CODES.ok;
  }
  const load = COMMANDS.some((c) => c.name === verb) ? RUNNERS[verb] : undefined;
  if (load === undefined) {
    process.stderr.write(`sluice: unknown command "${verb}"\n\n${usage(program)}`);
    return EXIT_CODES.usage;
  }
  return (await load())(rest);
}
