// A sluice-demo container as its own process: what `sluice standalone --state FILE` runs for a demo pod, so
// the pod outlives a standalone that is killed (SIGKILL) and is adopted by the next one. Run by the local
// kubelet (runtime.ts) as `node demo-pod.(ts|js)` with the container in the environment variable
// SLUICE_DEMO_POD: {"config": DemoAppConfig, "listen": [{"host", "port"}, ...]}, one demo app per port.
// SIGTERM or SIGINT closes the servers; output is one line per port listened on.

import { pathToFileURL } from 'node:url';
import { type DemoApp, type DemoAppConfig, startDemoApp } from '../../demo/app.ts';

export const DEMO_POD_ENV = 'SLUICE_DEMO_POD';

export interface DemoPodSpec {
  readonly config: DemoAppConfig;
  readonly listen: readonly { host: string; port: number }[];
}

/** The entry file to run with node (this file, .ts from the sources, .js from the built package). */
export const DEMO_POD_ENTRY = new URL(import.meta.url);

async function main(): Promise<number> {
  const text = process.env[DEMO_POD_ENV];
  if (text === undefined) {
    process.stderr.write(`${DEMO_POD_ENV} is not set: this entry is run by sluice standalone\n`);
    return 2;
  }
  const spec = JSON.parse(text) as DemoPodSpec;
  const apps: DemoApp[] = [];
  try {
    for (const address of spec.listen) {
      const app = await startDemoApp(spec.config, address);
      apps.push(app);
      process.stdout.write(`sluice-demo ${spec.config.version} listening on ${app.host}:${app.port}\n`);
    }
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    await Promise.all(apps.map((app) => app.close()));
    return 1;
  }
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await Promise.all(apps.map((app) => app.close()));
  return 0;
}

if (process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === DEMO_POD_ENTRY.href) {
  process.exitCode = await main();
}
