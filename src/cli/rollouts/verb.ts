// What the rollout verbs would otherwise each write again: the prologue (--help, a bad flag, the NAME
// count, the resource type, with the messages Argo's plugin prints) and the loop of the verbs that change
// each NAME in turn (abort, pause, retry, terminate). command.ts holds the I/O and the API plumbing.

import type { KubeObject } from '../../api/meta.ts';
import type { FlagSpecs } from '../flags.ts';
import type { CliApi, KubeFlags } from '../kube.ts';
import {
  type CliIo,
  EXIT_OK,
  helpOrUsageExit,
  parseOrUsage,
  usageError,
  type VerbArgs,
  withApi,
} from './command.ts';

/** The names Argo's plugin accepts for the Rollout resource type (`get rollout`, `list ro`, `retry rollouts`). */
export const ROLLOUT_ALIASES: ReadonlySet<string> = new Set(['rollout', 'rollouts', 'ro']);

/**
 * parseOrUsage with its exit code, then the ROLLOUT_NAME count: `one` takes exactly one, `some` at least
 * one. Returns the arguments, or the exit code already reported (help 0; a bad flag or count prints
 * `Error: ...` and the usage, 2).
 */
export function parseVerb(
  argv: readonly string[],
  io: CliIo,
  usage: string,
  verb: string,
  spec: { readonly flags?: FlagSpecs; readonly names?: 'one' | 'some' } = {},
): VerbArgs | number {
  const args = parseOrUsage(argv, spec.flags ?? {}, usage, io);
  if (args === undefined) return helpOrUsageExit(argv);
  const count = args.positionals.length;
  if (spec.names === 'one' && count !== 1)
    return usageError(io, `${verb} needs exactly one ROLLOUT_NAME`, usage);
  if (spec.names === 'some' && count === 0) return usageError(io, `${verb} needs a ROLLOUT_NAME`, usage);
  return args;
}

/** A missing or unsupported resource type (`get`, `list`, `retry`, `terminate`): the usage error, exit 2. */
export function resourceTypeError(
  io: CliIo,
  verb: string,
  what: string | undefined,
  supported: readonly string[],
  usage: string,
): number {
  return usageError(
    io,
    what === undefined
      ? `${verb} needs a resource type: ${supported.join(' or ')}`
      : `${verb}: unsupported resource type "${what}" (supported: ${supported.join(', ')})`,
    usage,
  );
}

/**
 * Changes each NAME in order and prints `<noun> '<name>' <done>` after each, as Argo's plugin does; the
 * first failure stops the loop and is printed by withApi (`Error: ...`, exit 1).
 */
export function changeEach(
  io: CliIo,
  kube: KubeFlags,
  names: readonly string[],
  noun: string,
  done: string,
  change: (api: CliApi, name: string) => Promise<KubeObject>,
): Promise<number> {
  return withApi(io, kube, async (api) => {
    for (const name of names) {
      const obj = await change(api, name);
      io.out(`${noun} '${obj.metadata.name}' ${done}\n`);
    }
    return EXIT_OK;
  });
}
