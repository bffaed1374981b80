// `sluice terminate analysisrun|experiment NAME...` (also `ar|analysisruns`, `exp|experiments`): Argo's
// terminate, a merge patch `{"spec":{"terminate":true}}`; the run or Experiment then ends (Successful
// unless something already failed).

import type { Kind, KubeObject } from '../../api/meta.ts';
import {
  type CliIo,
  EXIT_OK,
  helpOrUsageExit,
  KUBE_FLAGS_USAGE,
  parseOrUsage,
  usageError,
  withApi,
} from './command.ts';
import { TERMINATE_PATCH } from './patches.ts';

export const TERMINATE_USAGE = `Terminate an AnalysisRun or an Experiment.

Usage:
  sluice terminate analysisrun ANALYSISRUN_NAME...
  sluice terminate experiment EXPERIMENT_NAME...
${KUBE_FLAGS_USAGE}`;

const TYPES: Readonly<Record<string, { kind: Kind; noun: string }>> = {
  analysisrun: { kind: 'AnalysisRun', noun: 'analysisrun' },
  analysisruns: { kind: 'AnalysisRun', noun: 'analysisrun' },
  ar: { kind: 'AnalysisRun', noun: 'analysisrun' },
  experiment: { kind: 'Experiment', noun: 'experiment' },
  experiments: { kind: 'Experiment', noun: 'experiment' },
  exp: { kind: 'Experiment', noun: 'experiment' },
};

export async function runTerminate(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseOrUsage(argv, {}, TERMINATE_USAGE, io);
  if (args === undefined) return helpOrUsageExit(argv);
  const [what, ...names] = args.positionals;
  if (what === undefined) {
    return usageError(io, 'terminate needs a resource type: analysisrun or experiment', TERMINATE_USAGE);
  }
  const type = Object.hasOwn(TYPES, what) ? TYPES[what] : undefined;
  if (type === undefined) {
    return usageError(
      io,
      `terminate: unsupported resource type "${what}" (supported: analysisrun, experiment)`,
      TERMINATE_USAGE,
    );
  }
  if (names.length === 0) return usageError(io, `terminate ${type.noun} needs a NAME`, TERMINATE_USAGE);
  return withApi(io, args.kube, async (api) => {
    for (const name of names) {
      const obj = await api.patch<KubeObject>(
        type.kind,
        api.namespace,
        name,
        JSON.parse(TERMINATE_PATCH),
        'merge',
      );
      io.out(`${type.noun} '${obj.metadata.name}' terminated\n`);
    }
    return EXIT_OK;
  });
}
