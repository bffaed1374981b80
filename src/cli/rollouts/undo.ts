// `sluice undo NAME [--to-revision N]`: Argo's undo. Finds the ReplicaSet of revision N (default: the
// previous revision) among the ReplicaSets the Rollout controls, and unless the current template already
// matches it, restores its pod template (minus the pod-template-hash label) with a JSON patch replacing
// /spec/template, on the Rollout or on its workloadRef Deployment.

import { errorText } from '../../api/errors.ts';
import { REVISION_ANNOTATION, type Rollout } from '../../api/rollout.ts';
import type { Deployment, LabelSelector, ReplicaSet } from '../../api/workloads.ts';
import { commandFlags, examplesHelp } from '../command-table.ts';
import { stringFlag } from '../flags.ts';
import {
  type CliIo,
  EXIT_ERROR,
  EXIT_OK,
  helpOrUsageExit,
  KUBE_FLAGS_USAGE,
  parseOrUsage,
  usageError,
  withApi,
} from './command.ts';
import { pickRevision, type RevisionCandidate, templatesEqualIgnoringHash, undoPatch } from './patches.ts';

export const UNDO_USAGE = `Undo a rollout: roll back to the previous revision.

Usage:
  sluice undo ROLLOUT_NAME [--to-revision N]

Flags:
      --to-revision N   the revision to roll back to (default 0: the previous revision)
${KUBE_FLAGS_USAGE}${examplesHelp('undo')}`;

const FLAGS = commandFlags('undo');

/** matchLabels (and In/Exists expressions) as a label selector query string. */
export function selectorQuery(selector: LabelSelector | undefined): string {
  const parts = Object.entries(selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of selector?.matchExpressions ?? []) {
    const values = (e.values ?? []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.join(',');
}

function parseRevision(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}

export async function runUndo(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseOrUsage(argv, FLAGS, UNDO_USAGE, io);
  if (args === undefined) return helpOrUsageExit(argv);
  if (args.positionals.length !== 1) return usageError(io, 'undo needs exactly one ROLLOUT_NAME', UNDO_USAGE);
  const name = args.positionals[0]!;
  const toRevisionFlag = stringFlag(args.values, 'to-revision');
  let toRevision = 0;
  if (toRevisionFlag !== undefined) {
    if (!/^\d+$/.test(toRevisionFlag)) {
      return usageError(
        io,
        `--to-revision: must be a non-negative integer, got "${toRevisionFlag}"`,
        UNDO_USAGE,
      );
    }
    toRevision = Number(toRevisionFlag);
  }
  return withApi(io, args.kube, async (api) => {
    const ro = await api.get<Rollout>('Rollout', api.namespace, name);
    const ref = ro.spec.workloadRef;
    let deploy: Deployment | undefined;
    if (ref !== undefined && ro.spec.template === undefined) {
      if (ref.kind !== 'Deployment' || ref.name === undefined) {
        io.err(`Error: undo: workloadRef kind "${ref.kind ?? ''}" is not supported (only Deployment)\n`);
        return EXIT_ERROR;
      }
      deploy = await api.get<Deployment>('Deployment', api.namespace, ref.name);
    }
    const selector = ro.spec.selector ?? deploy?.spec.selector;
    const listed = await api.list<ReplicaSet>('ReplicaSet', api.namespace, {
      labelSelector: selectorQuery(selector),
    });
    const owned = listed.items.filter((rs) =>
      (rs.metadata.ownerReferences ?? []).some((o) => o.controller === true && o.uid === ro.metadata.uid),
    );
    const candidates: RevisionCandidate[] = owned.map((rs) => ({
      name: rs.metadata.name,
      revision: parseRevision(rs.metadata.annotations?.[REVISION_ANNOTATION]),
      template: rs.spec.template,
    }));
    const picked = pickRevision(name, candidates, toRevision);
    if (!picked.ok) {
      io.err(`Error: ${picked.error}\n`);
      return EXIT_ERROR;
    }
    const current = deploy !== undefined ? deploy.spec.template : ro.spec.template;
    const revision = picked.candidate.revision ?? 0;
    if (templatesEqualIgnoringHash(current, picked.candidate.template)) {
      io.out(`skipped rollback (current template already matches revision ${revision})\n`);
      return EXIT_OK;
    }
    const patch = undoPatch(picked.candidate.template);
    try {
      if (deploy !== undefined)
        await api.patch('Deployment', api.namespace, deploy.metadata.name, patch, 'json');
      else await api.patch('Rollout', api.namespace, name, patch, 'json');
    } catch (error) {
      const message = errorText(error);
      io.err(`Error: failed restoring revision ${revision}: ${message}\n`);
      return EXIT_ERROR;
    }
    io.out(`rollout '${ro.metadata.name}' undo\n`);
    return EXIT_OK;
  });
}
