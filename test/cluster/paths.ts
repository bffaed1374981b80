// Where the test control plane lives: the binary cache outside the repo (built by build.sh) and the state
// directory of a running cluster (`.cluster/` in the repo, gitignored), with its kubeconfig and state file.

import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

/** Cache of the built binaries (kube-apiserver, kube-controller-manager, Debian's kubectl). */
export function cacheDir(): string {
  return process.env.SLUICE_K8S_CACHE ?? join(homedir(), '.cache', 'sluice-k8s');
}

export function binDir(): string {
  return join(cacheDir(), 'bin');
}

export function kubeApiserverBinary(): string {
  return join(binDir(), 'kube-apiserver');
}

export function kubeControllerManagerBinary(): string {
  return join(binDir(), 'kube-controller-manager');
}

/** Debian's kubectl 1.20 from the cache, matching the apiserver's version. */
export function kubectlBinary(): string {
  return process.env.SLUICE_KUBECTL ?? join(binDir(), 'kubectl');
}

export function etcdBinary(): string {
  return process.env.SLUICE_ETCD ?? '/usr/bin/etcd';
}

export const BUILD_SCRIPT = join(REPO_ROOT, 'test', 'cluster', 'build.sh');

/** State of the shared cluster started by `npm run cluster:up` (and by the vitest global setup). */
export function defaultStateDir(): string {
  return process.env.SLUICE_CLUSTER_DIR ?? join(REPO_ROOT, '.cluster');
}

export function kubeconfigPath(stateDir: string): string {
  return join(stateDir, 'kubeconfig');
}

export function stateFilePath(stateDir: string): string {
  return join(stateDir, 'state.json');
}
