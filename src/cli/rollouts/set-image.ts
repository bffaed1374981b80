// `sluice set image NAME CONTAINER=IMAGE`: Argo's set image. Reads the Rollout, sets the image of the
// named init/regular/ephemeral container (`*` = all), and writes the whole object back (PUT), retrying
// up to 5 times on a conflict. A Rollout with a workloadRef to a Deployment has the Deployment's pod
// template updated instead, as newer Argo plugins do.

import type { Rollout } from '../../api/rollout.ts';
import type { Deployment } from '../../api/workloads.ts';
import { examplesHelp } from '../command-table.ts';
import { type CliApi, CliApiError } from '../kube.ts';
import { type CliIo, EXIT_ERROR, EXIT_OK, KUBE_FLAGS_USAGE, usageError, withApi } from './command.ts';
import { parseContainerImage, setTemplateImage } from './patches.ts';
import { parseVerb } from './verb.ts';

export const SET_IMAGE_USAGE = `Update the image of a rollout.

Usage:
  sluice set image ROLLOUT_NAME CONTAINER=IMAGE

  CONTAINER may be '*' to set the image of every container.
${KUBE_FLAGS_USAGE}${examplesHelp('set')}`;

export const SET_IMAGE_MAX_ATTEMPTS = 5;

type Attempt = { ok: true } | { ok: false; error: string };

async function setImageOnce(api: CliApi, name: string, container: string, image: string): Promise<Attempt> {
  const ro = await api.get<Rollout>('Rollout', api.namespace, name);
  const ref = ro.spec.workloadRef;
  if (ref !== undefined && ro.spec.template === undefined) {
    if (ref.kind !== 'Deployment' || ref.name === undefined) {
      return {
        ok: false,
        error: `set image: workloadRef kind "${ref.kind ?? ''}" is not supported (only Deployment)`,
      };
    }
    const deploy = await api.get<Deployment>('Deployment', api.namespace, ref.name);
    const updated = setTemplateImage(deploy.spec.template, container, image);
    if (!updated.ok) return { ok: false, error: updated.error };
    await api.update<Deployment>('Deployment', api.namespace, ref.name, {
      ...deploy,
      spec: { ...deploy.spec, template: updated.value },
    });
    return { ok: true };
  }
  const updated = setTemplateImage(ro.spec.template, container, image);
  if (!updated.ok) return { ok: false, error: updated.error };
  await api.update<Rollout>('Rollout', api.namespace, name, {
    ...ro,
    spec: { ...ro.spec, template: updated.value },
  });
  return { ok: true };
}

export async function runSet(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseVerb(argv, io, SET_IMAGE_USAGE, 'set');
  if (typeof args === 'number') return args;
  const [what, ...rest] = args.positionals;
  if (what !== 'image') {
    return usageError(
      io,
      what === undefined
        ? 'set needs a subcommand: image'
        : `set: unknown subcommand "${what}" (supported: image)`,
      SET_IMAGE_USAGE,
    );
  }
  if (rest.length !== 2)
    return usageError(io, 'set image needs ROLLOUT_NAME and CONTAINER=IMAGE', SET_IMAGE_USAGE);
  const name = rest[0]!;
  const pair = parseContainerImage(rest[1]!);
  if (pair === undefined) {
    return usageError(io, `set image: "${rest[1]}" is not CONTAINER=IMAGE`, SET_IMAGE_USAGE);
  }
  return withApi(io, args.kube, async (api) => {
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await setImageOnce(api, name, pair.container, pair.image);
        if (!result.ok) {
          io.err(`Error: ${result.error}\n`);
          return EXIT_ERROR;
        }
        break;
      } catch (error) {
        if (error instanceof CliApiError && error.status === 409 && attempt < SET_IMAGE_MAX_ATTEMPTS)
          continue;
        throw error;
      }
    }
    io.out(`rollout "${name}" image updated\n`);
    return EXIT_OK;
  });
}
