// Names of the children a controller creates where a name may already be taken: AnalysisRuns of Rollouts
// and Experiments keep a deterministic base name and count collisions as Argo does.

import type { AnalysisRun } from '../api/analysis-run.ts';

/** Argo's CreateWithCollisionCounter, decided up front: the base name, else `<base>.<N>`. */
export function freeRunName(base: string, runs: readonly AnalysisRun[]): string {
  const taken = new Set(runs.map((r) => r.metadata.name));
  if (!taken.has(base)) return base;
  for (let n = 1; ; n++) if (!taken.has(`${base}.${n}`)) return `${base}.${n}`;
}
