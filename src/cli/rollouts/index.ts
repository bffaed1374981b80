// The rollout verbs of `sluice` / `kubectl sluice`, with the same verbs and arguments as Argo's plugin.
// dispatch.ts dispatches here for every verb listed in ROLLOUT_VERBS (the command table's rollout group).

import type { CliIo } from './command.ts';

export type VerbRunner = (argv: readonly string[], io: CliIo) => Promise<number>;

// Loaded on use: `sluice proxy` must not pay for the Kubernetes client's memory. Deliberately parallel
// entries: each verb's module path is written out so it is loaded only when that verb runs.
export const ROLLOUT_VERBS: Readonly<Record<string, () => Promise<VerbRunner>>> = {
  get: async () => (await import('./get.ts')).runGet,
  list: async () => (await import('./list.ts')).runList,
  promote: async () => (await import('./promote.ts')).runPromote,
  abort: async () => (await import('./abort.ts')).runAbort,
  retry: async () => (await import('./retry.ts')).runRetry,
  pause: async () => (await import('./pause.ts')).runPause,
  undo: async () => (await import('./undo.ts')).runUndo,
  restart: async () => (await import('./restart.ts')).runRestart,
  set: async () => (await import('./set-image.ts')).runSet,
  status: async () => (await import('./status.ts')).runStatus,
  terminate: async () => (await import('./terminate.ts')).runTerminate,
  lint: async () => (await import('./lint.ts')).runLint,
};

export function isRolloutVerb(verb: string): boolean {
  return Object.hasOwn(ROLLOUT_VERBS, verb);
}

export async function runRolloutVerb(verb: string, argv: readonly string[], io?: CliIo): Promise<number> {
  const out = io ?? (await import('./command.ts')).processIo();
  const load = ROLLOUT_VERBS[verb];
  if (load === undefined) {
    out.err(`sluice: unknown command "${verb}"\n`);
    return 2;
  }
  return (await load())(argv, out);
}
