// `sluice lint -f FILE`: validates every Rollout in a (multi-document) YAML or JSON file with the
// controller's own validation (src/api/rollout-validation.ts), so lint rejects what the controller would
// mark InvalidSpec. Like Argo's lint: each problem printed on stdout, then `Error: <first problem>` and
// exit 1; nothing printed and exit 0 when every Rollout is valid. Unparseable YAML is an error naming
// the document and line.

import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import { errorText } from '../../api/errors.ts';
import type { Rollout } from '../../api/rollout.ts';
import { validateRolloutSpec } from '../../api/rollout-validation.ts';
import { commandFlags, examplesHelp } from '../command-table.ts';
import { stringFlag } from '../flags.ts';
import { type CliIo, EXIT_ERROR, EXIT_OK, helpOrUsageExit, parseOrUsage, usageError } from './command.ts';

export const LINT_USAGE = `Lint and validate the Rollouts in a file.

Usage:
  sluice lint -f FILE

Flags:
  -f, --filename FILE   YAML or JSON file to lint (may hold several documents)
  -h, --help            show this help
${examplesHelp('lint')}`;

const FLAGS = commandFlags('lint');

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Problems found in the file's text: each names the document (and Rollout) and the field. */
export function lintText(text: string): string[] {
  const problems: string[] = [];
  const docs = parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, i) => {
    const where = list.length > 1 ? `document ${i + 1}: ` : '';
    if (doc.errors.length > 0) {
      for (const e of doc.errors) problems.push(`${where}YAML: ${e.message.split('\n')[0]}`);
      return;
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return;
    if (!isRecord(value)) {
      problems.push(`${where}not a Kubernetes object (a mapping with apiVersion and kind)`);
      return;
    }
    const apiVersion = typeof value.apiVersion === 'string' ? value.apiVersion : '';
    if (value.kind !== 'Rollout' || !apiVersion.startsWith('argoproj.io/')) return;
    const metadata = isRecord(value.metadata) ? value.metadata : {};
    const name = typeof metadata.name === 'string' ? metadata.name : '';
    const label = `${where}Rollout "${name}": `;
    if (name === '' && typeof metadata.generateName !== 'string') {
      problems.push(`${label}metadata.name: Required value: name or generateName is required`);
    }
    if (!isRecord(value.spec)) {
      problems.push(`${label}spec: Required value: spec is required`);
      return;
    }
    if (value.spec.strategy !== undefined && !isRecord(value.spec.strategy)) {
      problems.push(`${label}spec.strategy: Invalid value: must be an object`);
      return;
    }
    try {
      const error = validateRolloutSpec({
        ...value,
        spec: { strategy: {}, ...value.spec },
      } as unknown as Rollout);
      if (error !== undefined) problems.push(`${label}${error}`);
    } catch (e) {
      // A shape the structural schema would reject (e.g. a string where a list belongs).
      problems.push(`${label}spec: Invalid value: ${errorText(e)}`);
    }
  });
  return problems;
}

export async function runLint(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseOrUsage(argv, FLAGS, LINT_USAGE, io);
  if (args === undefined) return helpOrUsageExit(argv);
  const file = stringFlag(args.values, 'filename');
  if (file === undefined || file === '') return usageError(io, 'lint needs -f FILE', LINT_USAGE);
  if (args.positionals.length > 0)
    return usageError(io, `lint takes no arguments, got "${args.positionals.join(' ')}"`, LINT_USAGE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code;
    io.err(`Error: open ${file}: ${code === 'ENOENT' ? 'no such file or directory' : errorText(error)}\n`);
    return EXIT_ERROR;
  }
  const problems = lintText(text);
  for (const p of problems) io.out(`${p}\n`);
  if (problems.length > 0) {
    io.err(`Error: ${problems[0]}\n`);
    return EXIT_ERROR;
  }
  return EXIT_OK;
}
