// The kubeconfig that points the `sluice` CLI (or kubectl) at the standalone API server
// (`sluice standalone --kubeconfig-out FILE`, issue 11): one cluster, one user with the bearer token, one
// context made current, in the fields src/kube/kubeconfig.ts reads (server, token, namespace). The file
// holds a credential, so it is written with mode 0600, also over an existing file.

import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { stringify } from 'yaml';

export interface KubeconfigOptions {
  /** Name of the cluster, user and context (default `sluice-standalone`). */
  readonly name?: string;
  /** The context's namespace (default: none, so the CLI uses `default` unless -n is given). */
  readonly namespace?: string;
}

export const DEFAULT_KUBECONFIG_NAME = 'sluice-standalone';

/** The kubeconfig YAML for the API server at `url` with bearer `token`. */
export function kubeconfigFor(url: string, token: string, options: KubeconfigOptions = {}): string {
  const name = options.name ?? DEFAULT_KUBECONFIG_NAME;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server: url } }],
    users: [{ name, user: { token } }],
    contexts: [
      {
        name,
        context: {
          cluster: name,
          user: name,
          ...(options.namespace !== undefined && options.namespace !== ''
            ? { namespace: options.namespace }
            : {}),
        },
      },
    ],
    'current-context': name,
    preferences: {},
  });
}

/**
 * Writes kubeconfigFor(url, token, options) to `file` with mode 0600 (through a temporary file renamed
 * into place, so a reader never sees half a file); creates the parent directory when missing.
 */
export async function writeKubeconfig(
  file: string,
  url: string,
  token: string,
  options: KubeconfigOptions = {},
): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, kubeconfigFor(url, token, options), { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, file);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}
