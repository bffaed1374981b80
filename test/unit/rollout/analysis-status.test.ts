// How a Rollout's status records its AnalysisRuns (canary.currentStepAnalysisRunStatus and friends).

import { describe, expect, it } from 'vitest';
import type { AnalysisPhase, AnalysisRun } from '../../../src/api/analysis-run.ts';
import { runStatusOf } from '../../../src/rollout/analysis.ts';

function run(phase?: AnalysisPhase): AnalysisRun {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AnalysisRun',
    metadata: { name: 'ro-abc-2-1', namespace: 'ns' },
    spec: { metrics: [] },
    ...(phase === undefined ? {} : { status: { phase } }),
  } as unknown as AnalysisRun;
}

describe('runStatusOf', () => {
  it('records a run the analysis controller has not picked up yet as Pending, never an empty status', () => {
    // The CRD requires status; an empty string is dropped on the way to the 1.20 API server, which then
    // refuses the whole Rollout status patch (seen end to end: the rollout never left its analysis step).
    expect(runStatusOf(run())).toEqual({ name: 'ro-abc-2-1', status: 'Pending' });
  });

  it('copies the phase of a run that has one', () => {
    expect(runStatusOf(run('Failed')).status).toBe('Failed');
    expect(runStatusOf(run('Running')).status).toBe('Running');
  });
});
