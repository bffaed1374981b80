// Runs a `sluice` rollout verb in process against a cluster, exactly as `sluice VERB ARGS --kubeconfig K
// -n NS` would, capturing its output (and when the first output came, for latency measurements). Shared
// by the e2e fixture, the CLI integration tests and bench/controller.ts.

import { connect } from '../../src/cli/kube.ts';
import type { CliIo } from '../../src/cli/rollouts/command.ts';
import { runRolloutVerb } from '../../src/cli/rollouts/index.ts';

export interface SluiceRun {
  code: number;
  out: string;
  err: string;
  /** performance.now() of the first stdout write (NaN when nothing was written). */
  outAtMs: number;
}

export async function runSluice(
  argv: readonly string[],
  target: {
    kubeconfig: string;
    namespace: string;
    signal?: AbortSignal;
    /** Sees each stdout write as it happens (a watching verb's output so far, for a test to wait on). */
    onOut?: (text: string) => void;
  },
): Promise<SluiceRun> {
  let out = '';
  let err = '';
  let outAtMs = Number.NaN;
  const io: CliIo = {
    out: (t) => {
      if (Number.isNaN(outAtMs)) outAtMs = performance.now();
      out += t;
      target.onOut?.(t);
    },
    err: (t) => {
      err += t;
    },
    isTTY: false,
    nowMs: () => Date.now(),
    env: {},
    connect: (flags) => connect(flags, {}),
    signal: target.signal ?? new AbortController().signal,
  };
  const code = await runRolloutVerb(
    argv[0]!,
    [...argv.slice(1), '--kubeconfig', target.kubeconfig, '-n', target.namespace],
    io,
  );
  return { code, out, err, outAtMs };
}
