// Runs Debian's kubectl 1.20 (from the build cache) against the test cluster, bounded in time.

import { execFile } from 'node:child_process';
import { kubectlBinary } from './paths.ts';

const DEFAULT_KUBECTL_TIMEOUT_MS = 30_000;

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** kubectl --kubeconfig KUBECONFIG ...args, with optional stdin; resolves whatever the exit code. */
export function kubectl(
  kubeconfig: string,
  args: string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      kubectlBinary(),
      ['--kubeconfig', kubeconfig, ...args],
      { timeout: options.timeoutMs ?? DEFAULT_KUBECTL_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') {
          reject(new Error(`kubectl ${args.join(' ')}: ${error.message}\n${stderr}`));
          return;
        }
        resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}
