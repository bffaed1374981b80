// `sluice terminate analysisrun|experiment NAME...` (also `ar|analysisruns`, `exp|experiments`): Argo's
// terminate, a merge patch `{"spec":{"terminate":true}}`; the run or Experiment then ends (Successful
// unless something already failed).

import type { Kind, KubeObject } from '../../api/meta.ts';
import { examplesHelp } from '../command-table.ts';
import { type CliIo, KUBE_FLAGS_USAGE, usageError } from './command.ts';
import { TERMINATE_PATCH } from './patches.ts';
import { changeEach, parseVerb, resourceTypeError } from './verb.ts';

export const TERMINATE_USAGE = `Terminate an AnalysisRun or an Experiment.

Usage:
  sluice terminate analysisrun ANALYSISRUN_NAME...
  sluice terminate experiment EXPERIMENT_NAME...
${KUBE_FLAGS_USAGE}${examplesHelp('terminate')}`;

const TYPES: Readonly<Record<string, { kind: Kind; noun: string }>> = {
  analysisrun: { kind: 'AnalysisRun', noun: 'analysisrun' },
  analysisruns: { kind: 'AnalysisRun', noun: 'analysisrun' },
  ar: { kind: 'AnalysisRun', noun: 'analysisrun' },
  experiment: { kind: 'Experiment', noun: 'experiment' },
  experiments: { kind: 'Experiment', noun: 'experiment' },
  exp: { kind: 'Experiment', noun: 'experiment' },
};

export async function runTerminate(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseVerb(argv, io, TERMINATE_USAGE, 'terminate');
  if (typeof args === 'number') return args;
  const [what, ...names] = args.positionals;
  const type = what !== undefined && Object.hasOwn(TYPES, what) ? TYPES[what] : undefined;
  if (type === undefined) {
    return resourceTypeError(io, 'terminate', what, ['analysisrun', 'experiment'], TERMINATE_USAGE);
  }
  if (names.length === 0) return usageError(io, `terminate ${type.noun} needs a NAME`, TERMINATE_USAGE);
  return changeEach(io, args.kube, names, type.noun, 'terminated', (api, name) =>
    api.patch<KubeObject>(type.kind, api.namespace, name, JSON.parse(TERMINATE_PATCH), 'merge'),
  );
}
