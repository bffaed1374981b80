// Pure phase rules (Argo's analysis/analysis.go assessMetricStatus, assessMetricFailureInconclusiveOrError,
// assessRunStatus and analysisutil.IsWorse). No clock and no I/O: counters in, phase and message out.

import {
  type AnalysisPhase,
  isCompletedPhase,
  type MetricResult,
  type MetricSettings,
  type RunSummary,
} from '../api/analysis-run.ts';

/** Argo's ordering for the run verdict: Successful < Running < Pending < Inconclusive < Error < Failed. */
const PHASE_RANK: Readonly<Record<AnalysisPhase, number>> = {
  Successful: 0,
  Running: 1,
  Pending: 2,
  Inconclusive: 3,
  Error: 4,
  Failed: 5,
};

export function isWorse(current: AnalysisPhase, candidate: AnalysisPhase): boolean {
  return PHASE_RANK[candidate] > PHASE_RANK[current];
}

export interface LimitVerdict {
  readonly phase?: 'Failed' | 'Inconclusive' | 'Error';
  readonly message?: string;
}

type Counters = Pick<MetricResult, 'failed' | 'inconclusive' | 'consecutiveError'>;

/**
 * The three limit checks, in Argo's order; when several trip at once the later check wins, so the
 * precedence is Error > Inconclusive > Failed. failureLimit -1 disables the failure check.
 */
export function assessLimits(settings: MetricSettings, result: Counters): LimitVerdict {
  let verdict: LimitVerdict = {};
  if (settings.failureLimit >= 0 && result.failed > settings.failureLimit) {
    verdict = {
      phase: 'Failed',
      message: `failed (${result.failed}) > failureLimit (${settings.failureLimit})`,
    };
  }
  if (result.inconclusive > settings.inconclusiveLimit) {
    verdict = {
      phase: 'Inconclusive',
      message: `inconclusive (${result.inconclusive}) > inconclusiveLimit (${settings.inconclusiveLimit})`,
    };
  }
  if (result.consecutiveError > settings.consecutiveErrorLimit) {
    verdict = {
      phase: 'Error',
      message: `consecutiveErrors (${result.consecutiveError}) > consecutiveErrorLimit (${settings.consecutiveErrorLimit})`,
    };
  }
  return verdict;
}

/** Argo's assessMetricStatus. `terminating`: the run (or, under --duration, this metric) is stopping. */
export function assessMetricStatus(
  settings: MetricSettings,
  result: MetricResult,
  terminating: boolean,
): { phase: AnalysisPhase; message?: string } {
  if (result.measurements.length === 0) {
    return { phase: terminating ? 'Successful' : 'Pending' };
  }
  const last = result.measurements[result.measurements.length - 1]!;
  if (!isCompletedPhase(last.phase)) return { phase: 'Running' };
  const limits = assessLimits(settings, result);
  if (limits.phase !== undefined)
    return { phase: limits.phase, ...(limits.message ? { message: limits.message } : {}) };
  if (settings.consecutiveSuccessLimit > 0 && result.consecutiveSuccess >= settings.consecutiveSuccessLimit) {
    return { phase: 'Successful' };
  }
  if (settings.effectiveCount !== undefined && result.count >= settings.effectiveCount) {
    const failureApplicable = settings.failureLimit >= 0;
    const successApplicable = settings.consecutiveSuccessLimit > 0;
    // Both limits were checked above and not reached.
    if (failureApplicable && successApplicable) return { phase: 'Inconclusive' };
    if (!failureApplicable && successApplicable) return { phase: 'Failed' };
    return { phase: 'Successful' };
  }
  // Unbounded metric: runs until the run terminates.
  return { phase: terminating ? 'Successful' : 'Running' };
}

export interface RunMetricInput {
  readonly settings: MetricSettings;
  readonly dryRun: boolean;
  /** Whether this metric is stopping (run terminating, or --duration elapsed for an unbounded metric). */
  readonly terminating: boolean;
}

export interface MetricTransition {
  readonly metricName: string;
  readonly from: AnalysisPhase;
  readonly to: AnalysisPhase;
}

export interface RunAssessment {
  readonly phase: AnalysisPhase;
  readonly message: string;
  readonly metricResults: MetricResult[];
  readonly runSummary: RunSummary;
  readonly dryRunSummary: RunSummary;
  readonly transitions: MetricTransition[];
}

function emptySummary(): {
  count: number;
  successful: number;
  failed: number;
  inconclusive: number;
  error: number;
} {
  return { count: 0, successful: 0, failed: 0, inconclusive: 0, error: 0 };
}

/**
 * Argo's assessRunStatus: updates each metric result's phase (and message on transition), builds the
 * summaries, and returns the run phase: Running until every metric is complete, then the worst
 * non-dry-run phase; when terminating, the worst so far or Successful if nothing completed.
 */
export function assessRunStatus(
  metrics: readonly RunMetricInput[],
  results: readonly MetricResult[],
  runTerminating: boolean,
  terminateRequested: boolean,
): RunAssessment {
  let worst: AnalysisPhase | undefined;
  let worstMessage = terminateRequested ? 'Run Terminated' : '';
  let everythingCompleted = true;
  const runSummary = emptySummary();
  const dryRunSummary = emptySummary();
  const byName = new Map(results.map((r) => [r.name, r]));
  const transitions: MetricTransition[] = [];
  for (const input of metrics) {
    const name = input.settings.name;
    const summary = input.dryRun ? dryRunSummary : runSummary;
    summary.count++;
    let result = byName.get(name);
    if (result === undefined) {
      if (!input.terminating || runTerminating) {
        everythingCompleted = false;
        continue;
      }
      // A metric stopped by --duration before its first measurement: judged like Argo's terminated
      // metric with no measurements (Successful), so the run can complete.
      result = emptyResult(name, input.dryRun);
    }
    const assessed = assessMetricStatus(input.settings, result, input.terminating);
    if (result.phase !== assessed.phase) {
      transitions.push({ metricName: name, from: result.phase, to: assessed.phase });
      const last = result.measurements[result.measurements.length - 1];
      const message = last?.message;
      const { message: _old, ...rest } = result;
      result = { ...rest, phase: assessed.phase, ...(message ? { message } : {}) };
    }
    if (!isCompletedPhase(assessed.phase)) {
      everythingCompleted = false;
    } else {
      const limits = assessLimits(input.settings, result);
      if (!input.dryRun) {
        if (worst === undefined || isWorse(worst, assessed.phase)) {
          worst = assessed.phase;
          if (limits.message !== undefined) {
            worstMessage = `Metric "${name}" assessed ${assessed.phase} due to ${limits.message}`;
            if (result.message) worstMessage += `: "Error Message: ${result.message}"`;
          }
        }
      } else if (limits.message !== undefined && !result.message?.startsWith('Metric assessed ')) {
        const failureMessage = `Metric assessed ${assessed.phase} due to ${limits.message}`;
        result = {
          ...result,
          message: result.message ? `${failureMessage}: "Error Message: ${result.message}"` : failureMessage,
        };
      }
      switch (assessed.phase) {
        case 'Successful':
          summary.successful++;
          break;
        case 'Failed':
          summary.failed++;
          break;
        case 'Inconclusive':
          summary.inconclusive++;
          break;
        case 'Error':
          summary.error++;
          break;
        default:
          break;
      }
    }
    byName.set(name, result);
  }
  const metricResults = metrics
    .map((m) => byName.get(m.settings.name))
    .filter((r): r is MetricResult => r !== undefined);
  const base = { metricResults, runSummary, dryRunSummary, transitions };
  if (runTerminating) {
    return { ...base, phase: worst ?? 'Successful', message: worstMessage.trim() };
  }
  if (!everythingCompleted || worst === undefined) return { ...base, phase: 'Running', message: '' };
  return { ...base, phase: worst, message: worstMessage.trim() };
}

export function emptyResult(name: string, dryRun: boolean): MetricResult {
  return {
    name,
    phase: 'Running',
    measurements: [],
    count: 0,
    successful: 0,
    failed: 0,
    inconclusive: 0,
    error: 0,
    consecutiveError: 0,
    consecutiveSuccess: 0,
    ...(dryRun ? { dryRun: true } : {}),
  };
}
