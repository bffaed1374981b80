// `sluice demo-app --listen HOST:PORT`: the demo application (src/demo/app.ts) as a process, the way the
// test cluster's `sluice-demo` pods and the embedded mode run it. Misbehaviour comes from flags or, as in a
// pod, from the environment (ERROR_RATE, LATENCY_MS, LATENCY_JITTER_MS); flags win.

import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { errorText } from '../api/errors.ts';
import { demoSettingsFromEnv, startDemoApp } from '../demo/app.ts';
import { examplesHelp, parseArgsOptions } from './command-table.ts';

export const DEMO_APP_USAGE = `usage: sluice demo-app --listen HOST:PORT [flags]

Serves JSON naming the pod and version on every path, with the header x-demo-version.

  --listen HOST:PORT        address to listen on (port 0 picks a free one; the chosen port is printed)
  --name NAME               pod name to report (default $POD_NAME, else the host name)
  --version TAG             version to report (default $DEMO_VERSION, else "v1")
  --error-rate R            share of requests answered 500, 0..1 (default $ERROR_RATE, else 0)
  --latency-ms MS           added to every response (default $LATENCY_MS, else 0)
  --latency-jitter-ms MS    up to this much more, uniformly (default $LATENCY_JITTER_MS, else 0)
  -h, --help                this text
${examplesHelp('demo-app')}`;

function hostPort(value: string): { host: string; port: number } | undefined {
  const i = value.lastIndexOf(':');
  const port = Number(value.slice(i + 1));
  const host = value.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  if (i <= 0 || value.slice(i + 1) === '' || !Number.isInteger(port) || port < 0 || port > 65_535)
    return undefined;
  return { host, port };
}

export async function runDemoAppCommand(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: parseArgsOptions('demo-app'),
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`sluice demo-app: ${errorText(error)}\n\n${DEMO_APP_USAGE}`);
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(DEMO_APP_USAGE);
    return 0;
  }
  const listen = typeof values.listen === 'string' ? hostPort(values.listen) : undefined;
  if (listen === undefined) {
    process.stderr.write(`sluice demo-app: --listen: expected HOST:PORT, got "${values.listen ?? ''}"\n`);
    return 2;
  }
  const str = (v: string | boolean | undefined) => (typeof v === 'string' ? v : undefined);
  let app: Awaited<ReturnType<typeof startDemoApp>>;
  try {
    const settings = demoSettingsFromEnv({
      ERROR_RATE: str(values['error-rate']) ?? env.ERROR_RATE,
      LATENCY_MS: str(values['latency-ms']) ?? env.LATENCY_MS,
      LATENCY_JITTER_MS: str(values['latency-jitter-ms']) ?? env.LATENCY_JITTER_MS,
    });
    app = await startDemoApp(
      {
        name: str(values.name) ?? env.POD_NAME ?? hostname(),
        version: str(values.version) ?? env.DEMO_VERSION ?? 'v1',
        ...settings,
      },
      listen,
    );
  } catch (error) {
    process.stderr.write(`sluice demo-app: ${errorText(error)}\n`);
    return 1;
  }
  process.stdout.write(`sluice demo-app listening on ${app.host}:${app.port}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  await app.close();
  return 0;
}
