// Rendering deploy/ for the deploy tests: which kustomizations there are, the kubectl binaries that can
// build them, and the rendered objects, typed as far as the tests read them.
//
// Two kustomize generations matter. kubectl 1.20 (the test cluster's, from the build cache) embeds
// kustomize v2.0.3, which everything but the sidecar Component must still render with; Components need
// kustomize >= 3.7 (kubectl >= 1.21), found as `kubectl` on PATH or $SLUICE_KUSTOMIZE_KUBECTL.

import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { kubectlBinary, REPO_ROOT } from '../../cluster/paths.ts';

const run = promisify(execFile);
const RENDER_TIMEOUT_MS = 30_000;

export const DEPLOY_DIR = join(REPO_ROOT, 'deploy');

/** Components are rendered through the example that uses them, never alone. */
export type KustomizationKind = 'kustomization' | 'component';

export interface DeployKustomization {
  /** Relative to deploy/. */
  readonly dir: string;
  readonly kind: KustomizationKind;
  /** Renders with kubectl 1.20's kustomize v2.0.3 too. */
  readonly legacy: boolean;
}

/** Every kustomization under deploy/ (render.test.ts fails when one is missing here). */
export const KUSTOMIZATIONS: readonly DeployKustomization[] = [
  { dir: 'aggregate-roles', kind: 'kustomization', legacy: true },
  { dir: 'base', kind: 'kustomization', legacy: true },
  { dir: 'install', kind: 'kustomization', legacy: false },
  { dir: 'namespace-install', kind: 'kustomization', legacy: false },
  { dir: 'observability', kind: 'kustomization', legacy: false },
  { dir: 'pdb', kind: 'kustomization', legacy: true },
  { dir: 'network-policy', kind: 'kustomization', legacy: true },
  { dir: 'proxy/gateway', kind: 'kustomization', legacy: true },
  { dir: 'proxy/sidecar', kind: 'component', legacy: false },
  { dir: 'examples/sidecar', kind: 'kustomization', legacy: false },
  { dir: 'examples/control-tls', kind: 'kustomization', legacy: false },
];

export interface Kustomizers {
  /** A kubectl whose kustomize renders Components (>= 3.7), with its version. */
  modern?: { binary: string; kustomizeVersion: string };
  /** The test cluster's kubectl 1.20 (kustomize v2.0.3), when the cache has it. */
  legacy?: { binary: string };
  /** Why one of them is missing, for the skip message. */
  missing: string[];
}

function kustomizeVersionOf(binary: string): string | undefined {
  try {
    const out = execFileSync(binary, ['version', '--client', '-o', 'json'], {
      timeout: RENDER_TIMEOUT_MS,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return (JSON.parse(out.toString()) as { kustomizeVersion?: string }).kustomizeVersion;
  } catch {
    return undefined;
  }
}

/** v3.7.0 or later: the first kustomize with `kind: Component`. */
export function supportsComponents(version: string): boolean {
  const m = /^v?(\d+)\.(\d+)/.exec(version);
  if (m === null) return false;
  const major = Number(m[1]);
  return major > 3 || (major === 3 && Number(m[2]) >= 7);
}

export function findKustomizers(): Kustomizers {
  const found: Kustomizers = { missing: [] };
  const candidate = process.env.SLUICE_KUSTOMIZE_KUBECTL ?? 'kubectl';
  const version = kustomizeVersionOf(candidate);
  if (version !== undefined && supportsComponents(version))
    found.modern = { binary: candidate, kustomizeVersion: version };
  else
    found.missing.push(
      `no kubectl with kustomize >= 3.7 (\`${candidate}\` reports ${version ?? 'no kustomize version'}; set SLUICE_KUSTOMIZE_KUBECTL)`,
    );
  const legacy = kubectlBinary();
  if (existsSync(legacy)) found.legacy = { binary: legacy };
  else found.missing.push(`no kubectl 1.20 at ${legacy} (test/cluster/build.sh puts it there)`);
  return found;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    secretKeyRef?: { name: string; key: string; optional?: boolean };
  };
}

export interface Probe {
  httpGet?: { path: string; port: string | number };
}

export interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  fsGroup?: number;
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  capabilities?: { drop?: string[] };
  seccompProfile?: { type: string };
}

export interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: EnvVar[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: SecurityContext;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

export interface Volume {
  name: string;
  secret?: { secretName: string; items?: { key: string; path: string }[]; defaultMode?: number };
}

export interface PodTemplate {
  metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    serviceAccountName?: string;
    automountServiceAccountToken?: boolean;
    securityContext?: SecurityContext;
    containers: Container[];
    volumes?: Volume[];
  };
}

export interface Workload extends Manifest {
  spec: { replicas?: number; selector: { matchLabels: Record<string, string> }; template: PodTemplate };
}

export interface ServicePort {
  name?: string;
  port: number;
  targetPort?: string | number;
  appProtocol?: string;
}

export interface Service extends Manifest {
  spec: { selector: Record<string, string>; ports: ServicePort[] };
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: unknown[];
}

export interface NetworkPolicyPeer {
  namespaceSelector?: LabelSelector;
  podSelector?: LabelSelector;
  ipBlock?: unknown;
}

export interface NetworkPolicy extends Manifest {
  spec: {
    podSelector: LabelSelector;
    policyTypes?: string[];
    ingress?: { ports?: { protocol?: string; port: string | number }[]; from?: NetworkPolicyPeer[] }[];
  };
}

/** `kubectl kustomize DIR` with the given binary, as parsed objects. */
export async function render(binary: string, dir: string): Promise<Manifest[]> {
  const { stdout } = await run(binary, ['kustomize', dir], {
    timeout: RENDER_TIMEOUT_MS,
    maxBuffer: 16 * 1024 * 1024,
  });
  return parseAllDocuments(stdout)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

export function find<T extends Manifest>(objects: readonly Manifest[], kind: string, name: string): T {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (found === undefined) {
    const have = objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ');
    throw new Error(`no ${kind}/${name} in the rendered objects (${have})`);
  }
  return found as T;
}

export function container(workload: Workload, name: string): Container {
  const found = workload.spec.template.spec.containers.find((c) => c.name === name);
  if (found === undefined) throw new Error(`${workload.metadata.name} has no container ${name}`);
  return found;
}

/** The value of `--flag=value` in args (the form every manifest here uses); undefined when absent. */
export function flag(args: readonly string[] | undefined, name: string): string | undefined {
  const prefix = `--${name}=`;
  return args?.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

/** Every value of a repeatable `--flag=value`. */
export function flags(args: readonly string[] | undefined, name: string): string[] {
  const prefix = `--${name}=`;
  return (args ?? []).filter((a) => a.startsWith(prefix)).map((a) => a.slice(prefix.length));
}

/** True when every matchLabels entry is among the labels (matchExpressions are not used in deploy/). */
export function selects(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (selector === undefined) return false;
  if (selector.matchExpressions !== undefined) throw new Error('matchExpressions: not evaluated here');
  return Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
}

/** The port a container serves under this name. */
export function namedPort(c: Container, name: string): number {
  const port = c.ports?.find((p) => p.name === name)?.containerPort;
  if (port === undefined) throw new Error(`container ${c.name} has no port named ${name}`);
  return port;
}
