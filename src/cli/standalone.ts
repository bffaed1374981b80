// `sluice standalone DIR`: the controller, local workloads, the proxy and a Kubernetes API subset on one
// machine (src/standalone/). Flags are parsed once here; errors name the flag (exit code 2).

import { parseArgs } from 'node:util';
import { parseDuration } from '../api/duration.ts';
import { examplesHelp, parseArgsOptions } from './command-table.ts';
import { UsageError } from './flags.ts';
import { createLogger, logSettings } from './logging.ts';
import { hostPort } from './proxy.ts';
import { untilStopSignal } from './signals.ts';

export const STANDALONE_USAGE = `usage: sluice standalone DIR [options]

Runs the real reconcilers on this machine, no cluster: the manifests in DIR (Rollouts, AnalysisTemplates,
ClusterAnalysisTemplates, Services, Experiments; the same YAML as in a cluster) are applied like
\`kubectl apply\`, again whenever a file changes. Pods of sluice-demo images run as demo-app servers on
loopback addresses; a container with a command runs as a local process with PORT in its environment.
A canary with canaryService and stableService is routed by the embedded Sluice proxy.

  --state FILE           keep every object here across restarts (a corrupted file is refused); the
                         proxy and the pods then run as processes that outlive a killed standalone
                         and are adopted by the next start (FILE.d/ holds their record and logs)
  --listen HOST:PORT     the proxy's data port (default 127.0.0.1:8080)
  --admin HOST:PORT      the proxy's admin port (default 127.0.0.1:9901)
  --api-listen HOST:PORT the Kubernetes API subset for the sluice CLI (default 127.0.0.1:0, any port)
  --kubeconfig-out FILE  write a kubeconfig for it: KUBECONFIG=FILE sluice get rollout NAME --watch
  --report-interval DURATION
                         the proxy's histogram interval (default 1s, at least 250ms)
  --log-format text|json log format (default text on a terminal, json otherwise)
  --loglevel LEVEL       trace, debug, info, warn, error, fatal, silent (default $SLUICE_LOG_LEVEL, else info)
  -h, --help             this text
${examplesHelp('standalone')}`;

export async function runStandaloneCommand(argv: string[]): Promise<number> {
  let options: import('../standalone/standalone.ts').StandaloneOptions;
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: parseArgsOptions('standalone'),
    });
    if (values.help) {
      process.stdout.write(STANDALONE_USAGE);
      return 0;
    }
    if (positionals.length !== 1)
      throw new UsageError('expected one folder of manifests: sluice standalone DIR');
    let reportIntervalMs: number | undefined;
    if (values['report-interval'] !== undefined) {
      const d = parseDuration(values['report-interval']);
      if (!d.ok || d.ms < 250)
        throw new UsageError(
          `--report-interval: expected a duration of at least 250ms, got "${values['report-interval']}"`,
        );
      reportIntervalMs = d.ms;
    }
    options = {
      dir: positionals[0]!,
      log: createLogger(logSettings(values, process.stdout.isTTY === true), { name: 'sluice-standalone' }),
      ...(values.state !== undefined ? { stateFile: values.state } : {}),
      ...(values.listen !== undefined ? { proxyListen: hostPort('listen', values.listen) } : {}),
      ...(values.admin !== undefined ? { adminListen: hostPort('admin', values.admin) } : {}),
      ...(values['api-listen'] !== undefined
        ? { apiListen: hostPort('api-listen', values['api-listen']) }
        : {}),
      ...(values['kubeconfig-out'] !== undefined ? { kubeconfigOut: values['kubeconfig-out'] } : {}),
      ...(reportIntervalMs !== undefined ? { reportIntervalMs } : {}),
    };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`sluice standalone: ${message}\n\n${STANDALONE_USAGE}`);
    return 2;
  }
  const { startStandalone } = await import('../standalone/standalone.ts');
  let running: Awaited<ReturnType<typeof startStandalone>>;
  try {
    running = await startStandalone(options);
  } catch (err) {
    process.stderr.write(`sluice standalone: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  process.stdout.write(
    `sluice standalone: proxy on http://${running.proxyAddress.host}:${running.proxyAddress.port}, ` +
      `admin on http://${running.adminAddress.host}:${running.adminAddress.port}, API on ${running.apiUrl}` +
      `${options.kubeconfigOut !== undefined ? ` (kubeconfig ${options.kubeconfigOut})` : ''}\n`,
  );
  await untilStopSignal();
  await running.stop();
  return 0;
}
