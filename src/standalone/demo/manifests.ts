// The demo's manifests, the same YAML a cluster would take (JSON is YAML): a Rollout of sluice-demo:v1
// with 4 replicas behind a stable and a canary Service, routed by the embedded proxy with sticky sessions,
// and a short sluice/judge AnalysisTemplate comparing the canary revision with the stable one, run as an
// analysis step after each setWeight.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const DEMO_ROLLOUT = 'demo';
export const DEMO_NAMESPACE = 'default';
export const DEMO_COOKIE = 'sluice-demo';
export const DEMO_TEMPLATE = 'judge';
export const DEMO_REPLICAS = 4;
export const DEMO_WEIGHTS = [10, 25, 50] as const;

export interface DemoManifestOptions {
  /** The judge's interval between measurements, and how many it takes per analysis step. */
  readonly analysisIntervalMs: number;
  readonly analysisCount: number;
}

export function demoContainer(
  tag: string,
  env: Readonly<Record<string, string>> = {},
): Record<string, unknown> {
  return {
    name: 'app',
    image: `sluice-demo:${tag}`,
    ports: [{ containerPort: 8080 }],
    ...(Object.keys(env).length > 0
      ? { env: Object.entries(env).map(([name, value]) => ({ name, value })) }
      : {}),
  };
}

const analysisStep = {
  analysis: {
    templates: [{ templateName: DEMO_TEMPLATE }],
    args: [
      { name: 'canary-hash', valueFrom: { podTemplateHashValue: 'Latest' } },
      { name: 'stable-hash', valueFrom: { podTemplateHashValue: 'Stable' } },
    ],
  },
};

export function demoManifests(o: DemoManifestOptions): Record<string, Record<string, unknown>> {
  const service = (name: string) => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: DEMO_NAMESPACE },
    spec: { selector: { app: DEMO_ROLLOUT }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  });
  return {
    'services.yaml': service(`${DEMO_ROLLOUT}-stable`),
    'services-canary.yaml': service(`${DEMO_ROLLOUT}-canary`),
    'analysis-template.yaml': {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'AnalysisTemplate',
      metadata: { name: DEMO_TEMPLATE, namespace: DEMO_NAMESPACE },
      spec: {
        args: [{ name: 'canary-hash' }, { name: 'stable-hash' }],
        metrics: [
          {
            name: 'judge',
            interval: `${o.analysisIntervalMs}ms`,
            count: o.analysisCount,
            failureLimit: 0,
            provider: {
              plugin: {
                'sluice/judge': {
                  route: DEMO_ROLLOUT,
                  canary: '{{args.canary-hash}}',
                  baseline: '{{args.stable-hash}}',
                  alpha: 0.05,
                  onNoData: 'Successful',
                  metrics: [{ name: 'error-rate' }, { name: 'latency' }],
                },
              },
            },
          },
        ],
      },
    },
    'rollout.yaml': {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Rollout',
      metadata: { name: DEMO_ROLLOUT, namespace: DEMO_NAMESPACE },
      spec: {
        replicas: DEMO_REPLICAS,
        selector: { matchLabels: { app: DEMO_ROLLOUT } },
        template: {
          metadata: { labels: { app: DEMO_ROLLOUT } },
          spec: { containers: [demoContainer('v1')] },
        },
        strategy: {
          canary: {
            canaryService: `${DEMO_ROLLOUT}-canary`,
            stableService: `${DEMO_ROLLOUT}-stable`,
            trafficRouting: {
              plugins: { 'sluice/proxy': { route: DEMO_ROLLOUT, stickySessions: { cookie: DEMO_COOKIE } } },
            },
            steps: DEMO_WEIGHTS.flatMap((w) => [{ setWeight: w }, analysisStep]),
          },
        },
      },
    },
  };
}

/** Writes the manifests into `dir` (created if needed); returns the file paths. */
export async function writeDemoManifests(dir: string, o: DemoManifestOptions): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (const [name, obj] of Object.entries(demoManifests(o))) {
    const file = join(dir, name);
    await writeFile(file, `${JSON.stringify(obj, null, 2)}\n`);
    files.push(file);
  }
  return files;
}
