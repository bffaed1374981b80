// The `sluice` command (also installed as the kubectl plugin `kubectl-sluice`): dispatches to one
// file per verb.

import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { isRolloutVerb, ROLLOUT_VERBS_USAGE, runRolloutVerb } from './rollouts/index.ts';

// Installed as the kubectl plugin `kubectl-sluice`, the same binary is run as `kubectl sluice ...`.
const PROGRAM = basename(process.argv[1] ?? '').startsWith('kubectl-sluice') ? 'kubectl sluice' : 'sluice';

const USAGE = `usage: ${PROGRAM} <command> [args]

rollout commands (as Argo's kubectl plugin; each takes --kubeconfig, --context, -n/--namespace):
${ROLLOUT_VERBS_USAGE}
other commands:
  controller       run the Rollout controller (sluice controller --help)
  proxy            run the weighted-routing proxy (sluice proxy --help)
  analysis run     run an AnalysisTemplate locally to completion (sluice analysis run --help)
  demo             progressive delivery on this machine: v2 promoted, a bad v3 aborted by the judge
                   (what \`npm start\` runs; sluice demo --help)
  demo-proxy       start two demo backends and the proxy in front of them (sluice demo-proxy --help)
  demo-app         run the demo application (sluice demo-app --help)
  standalone       run the controller, local workloads, the proxy and a Kubernetes API subset on one
                   machine over a folder of manifests (sluice standalone --help)
  version          print the version
`;

/** The package's version, from the nearest package.json above this file (sources or dist/). */
function packageVersion(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'sluice' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not at this level
    }
  }
  return 'unknown';
}

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb !== undefined && isRolloutVerb(verb)) return runRolloutVerb(verb, rest);
  switch (verb) {
    case 'controller': {
      const { runControllerCommand } = await import('./controller.ts');
      return runControllerCommand(rest);
    }
    case 'proxy': {
      if (rest.includes('--help') || rest.includes('-h')) {
        const { PROXY_USAGE } = await import('./proxy.ts');
        process.stdout.write(PROXY_USAGE);
        return 0;
      }
      const { runProxyCommand } = await import('./proxy.ts');
      return runProxyCommand(rest);
    }
    case 'analysis': {
      const { runAnalysisCommand } = await import('./analysis.ts');
      return runAnalysisCommand(rest);
    }
    case 'demo': {
      const { runDemo } = await import('./demo.ts');
      return runDemo(rest);
    }
    case 'demo-proxy': {
      const { runDemoProxy } = await import('./demo-proxy.ts');
      return runDemoProxy(rest);
    }
    case 'standalone': {
      const { runStandaloneCommand } = await import('./standalone.ts');
      return runStandaloneCommand(rest);
    }
    case 'demo-app': {
      const { runDemoAppCommand } = await import('./demo-app.ts');
      return runDemoAppCommand(rest);
    }
    case 'version':
    case '--version': {
      process.stdout.write(`sluice ${packageVersion()}\n`);
      return 0;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return verb === undefined ? 2 : 0;
    default:
      process.stderr.write(`sluice: unknown command "${verb}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`sluice: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
