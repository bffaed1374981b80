// `sluice demo` (what `npm start` runs): progressive delivery on one machine, no cluster. Flags are parsed
// here; the story is src/standalone/demo/story.ts (standalone in-process, built-in load, the live view).

import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { examplesHelp, parseArgsOptions } from './command-table.ts';
import { UsageError } from './flags.ts';
import { createLogger, logSettings } from './logging.ts';
import { hostPort } from './proxy.ts';
import { untilStopSignal } from './signals.ts';

export const DEMO_USAGE = `usage: sluice demo [options]

Progressive delivery on this machine, no cluster, in under a minute. Starts \`sluice standalone\`
in-process over manifests written to a temp dir: a Rollout "demo" of sluice-demo:v1 (4 replicas, the demo
app on loopback addresses) behind the embedded Sluice proxy with sticky sessions, steps setWeight 10 ->
analysis -> 25 -> analysis -> 50 -> analysis -> 100, each analysis a short sluice/judge run comparing the
canary with the stable revision on the proxy's own measurements. Built-in load (about 200 req/s through
the proxy, half the clients keeping the sticky cookie) runs while:

  1. v2 (healthy) is set as the image, goes through every step and is promoted;
  2. v3 (20% errors, or slow with --scenario latency) is set, caught by the judge and aborted
     automatically: traffic goes back to the stable v2.

The live view (redrawn on a terminal, plain timestamped lines otherwise) shows the step and phase,
desired vs measured traffic share per version, success rate and p95/p99 per version as the load
generator saw them (sticky clients stay on the revision their cookie names while it has weight, so the
measured share of a new canary lags the desired one), and the latest AnalysisRun's measurements. Then
a summary per release: its outcome, how many requests it answered and how many failed, their p99, and
for the aborted one the time from its first request to all traffic back on stable. The load stops by itself; everything started is stopped at the
end. Exit code 0 when v2 was promoted and v3 aborted, 1 otherwise.

  --scenario errors|latency  how v3 is bad (default errors: ERROR_RATE=0.2; latency: LATENCY_MS=300)
  --error-rate N         v3's ERROR_RATE for --scenario errors (0..1, default 0.2)
  --latency-ms N         v3's LATENCY_MS for --scenario latency (default 300)
  --rate N               requests per second of the built-in load (default 200)
  --time-scale N         run the analysis and the waits N times faster (default 1)
  --report-interval DURATION
                         the proxy's histogram interval, the judge's pace (default 250ms)
  --listen HOST:PORT     the proxy's data port (default 127.0.0.1, any free port)
  --summary-json FILE    write the summary as JSON: { releases: [{ version, outcome, requests, failed,
                         abortMs, p99Ms }], durationS, scenario }
  --keep-running         stay up afterwards to play with the CLI (prints the kubeconfig to use:
                         KUBECONFIG=FILE sluice get rollout demo --watch); Ctrl-C stops
  --plain                plain timestamped lines even on a terminal
  --dashboard            serve \`sluice dashboard\` against the demo's standalone (with the proxy's numbers)
                         and print its URL; stays up afterwards as --keep-running does
  --dashboard-listen HOST:PORT
                         the dashboard's address (default 127.0.0.1:3100)
  --verbose              standalone's own log on stderr (also on with --loglevel)
  --log-format text|json that log's format (default text when stderr is a terminal, json otherwise)
  --loglevel LEVEL       that log's level: trace, debug, info, warn, error, fatal (default info)
  -h, --help             this text

The proxy-only demo (two fixed backends, a routes file) is \`sluice demo-proxy\`.
${examplesHelp('demo')}`;

function num(flag: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const v = Number(text);
  if (!Number.isFinite(v) || v < min || v > max)
    throw new UsageError(`${flag}: expected a number between ${min} and ${max}, got "${text}"`);
  return v;
}

export async function runDemo(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    const parsed = parseArgs({
      args: argv,
      allowPositionals: false,
      strict: true,
      options: parseArgsOptions('demo'),
    });
    values = parsed.values;
  } catch (error) {
    process.stderr.write(
      `sluice demo: ${error instanceof Error ? error.message : String(error)}\n\n${DEMO_USAGE}`,
    );
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(DEMO_USAGE);
    return 0;
  }
  let options: import('../standalone/demo/story.ts').DemoOptions;
  let dashboardListen: { host: string; port: number } | undefined;
  try {
    if (typeof values['dashboard-listen'] === 'string')
      dashboardListen = hostPort('dashboard-listen', values['dashboard-listen']);
    const scenario = (values.scenario as string | undefined) ?? 'errors';
    if (scenario !== 'errors' && scenario !== 'latency')
      throw new UsageError(`--scenario: expected errors or latency, got "${scenario}"`);
    let reportIntervalMs = 250;
    if (typeof values['report-interval'] === 'string') {
      const { parseDuration } = await import('../api/duration.ts');
      const d = parseDuration(values['report-interval']);
      if (!d.ok || d.ms < 250)
        throw new UsageError(
          `--report-interval: expected a duration of at least 250ms, got "${values['report-interval']}"`,
        );
      reportIntervalMs = d.ms;
    }
    const logTo = logSettings(values, process.stderr.isTTY === true);
    const log =
      values.verbose === true || values.loglevel !== undefined
        ? createLogger(logTo, {}, process.stderr)
        : undefined;
    options = {
      scenario,
      timeScale: num('--time-scale', values['time-scale'] as string | undefined, 1, 0.1, 20),
      ratePerSec: num('--rate', values.rate as string | undefined, 200, 1, 5_000),
      reportIntervalMs,
      errorRate: num('--error-rate', values['error-rate'] as string | undefined, 0.2, 0, 1),
      latencyMs: num('--latency-ms', values['latency-ms'] as string | undefined, 300, 0, 60_000),
      ...(typeof values.listen === 'string' ? { proxyListen: hostPort('--listen', values.listen) } : {}),
      ...(log !== undefined ? { log } : {}),
    };
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`sluice demo: ${error.message}\n`);
    return 2;
  }

  const { runDemoStory } = await import('../standalone/demo/story.ts');
  const { createView } = await import('../standalone/demo/view.ts');
  const { formatSummary } = await import('../standalone/demo/summary.ts');
  const { rm } = await import('node:fs/promises');
  const view = createView(process.stdout, process.stdout.isTTY === true && values.plain !== true);
  // Ctrl-C during the story stops it cleanly: the load, standalone, its temp dir.
  const interrupted = new AbortController();
  const onSignal = (): void => interrupted.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let result: Awaited<ReturnType<typeof runDemoStory>>;
  let dashboard: import('./dashboard.ts').OpenDashboard | undefined;
  const withDashboard = values.dashboard === true || typeof values['dashboard-listen'] === 'string';
  try {
    result = await runDemoStory({
      ...options,
      ...(withDashboard
        ? {
            onStarted: async (standalone, kubeconfig) => {
              const { openDashboard } = await import('./dashboard.ts');
              const admin = standalone.adminAddress;
              dashboard = await openDashboard({
                kube: { kubeconfig, namespace: 'default' },
                listen: dashboardListen ?? { host: '127.0.0.1', port: 3100 },
                allNamespaces: false,
                readOnly: false,
                proxyAdmin: `${admin.host}:${admin.port}`,
              });
              // Written before the live view's first frame, so it stays above it on a terminal.
              process.stdout.write(`Dashboard: ${dashboard.url}#/rollouts/default/demo\n\n`);
            },
          }
        : {}),
      onState: view.update,
      onEvent: view.event,
      signal: interrupted.signal,
    });
  } catch (error) {
    view.close();
    await dashboard?.close();
    if (!interrupted.signal.aborted) throw error;
    process.stderr.write('\nsluice demo: interrupted; everything it started is stopped\n');
    return 130;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  view.close();
  process.stdout.write(formatSummary(result.summary));
  if (typeof values['summary-json'] === 'string')
    await writeFile(values['summary-json'], `${JSON.stringify(result.summary, null, 2)}\n`);
  const [v2, v3] = result.summary.releases;
  const ok = v2?.outcome === 'promoted' && v3?.outcome === 'aborted';
  if (values['keep-running'] === true || dashboard !== undefined) {
    const p = result.standalone.proxyAddress;
    process.stdout.write(
      `\nStill running (Ctrl-C stops): proxy on http://${p.host}:${p.port}, manifests in ${result.dir}/manifests\n` +
        (dashboard !== undefined ? `  dashboard on ${dashboard.url}\n` : '') +
        `  export KUBECONFIG=${result.kubeconfig}\n` +
        '  node src/cli/main.ts get rollout demo --watch     # or: sluice get rollout demo --watch\n' +
        '  node src/cli/main.ts retry rollout demo; node src/cli/main.ts set image demo app=sluice-demo:v4\n' +
        `  curl -si http://${p.host}:${p.port}/\n`,
    );
    await untilStopSignal();
  }
  await dashboard?.close();
  await result.standalone.stop();
  await rm(result.dir, { recursive: true, force: true });
  return ok ? 0 : 1;
}
