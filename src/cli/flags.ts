// Argument parsing for the rollout verbs: node:util parseArgs with the kubeconfig flags every verb
// accepts (--kubeconfig, --context, -n/--namespace), plus the verb's own. Errors name the flag the way
// cobra does for Argo's plugin ("unknown flag: --foo", "flag needs an argument: --namespace"), and
// boolean flags also take `--flag=true|false` (cobra's form, e.g. `status --watch=false`).

import { parseArgs } from 'node:util';
import { errorText, SluiceError } from '../api/errors.ts';
import { KUBE_FLAG_DEFS } from './command-table.ts';

/** A command line that cannot be run (unknown flag, bad value): printed with the usage, exit code 2. */
export class UsageError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_USAGE', message);
    this.name = 'UsageError';
  }
}

export interface FlagSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly multiple?: boolean;
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

export const KUBE_FLAGS: FlagSpecs = KUBE_FLAG_DEFS;

export type FlagValue = string | boolean | string[] | undefined;

export type ParsedArgs =
  | { ok: true; values: Readonly<Record<string, FlagValue>>; positionals: string[] }
  | { ok: false; error: string };

const BOOL_VALUE_RE = /^(--([^=]+)|-([a-zA-Z]))=(true|false)$/;

function flagName(message: string): string | undefined {
  const quoted = /'(-{1,2}[^',\s]+)(?:, (--[^'\s]+))?/.exec(message);
  if (quoted === null) return undefined;
  return quoted[2] ?? quoted[1];
}

/** Parses `argv` (after the verb) against the kubeconfig flags plus `flags`. Never throws. */
export function parseVerbArgs(argv: readonly string[], flags: FlagSpecs = {}): ParsedArgs {
  const specs: Record<string, FlagSpec> = {};
  for (const [name, spec] of Object.entries({ ...KUBE_FLAGS, ...flags }))
    specs[name] = {
      type: spec.type,
      ...(spec.short ? { short: spec.short } : {}),
      ...(spec.multiple ? { multiple: true } : {}),
    };
  const explicitFalse = new Set<string>();
  const tokens: string[] = [];
  const byShort = new Map<string, string>();
  for (const [name, spec] of Object.entries(specs)) if (spec.short) byShort.set(spec.short, name);
  let afterDashDash = false;
  for (const token of argv) {
    if (!afterDashDash && token === '--') afterDashDash = true;
    const m: RegExpExecArray | null = afterDashDash ? null : BOOL_VALUE_RE.exec(token);
    const name: string | undefined = m === null ? undefined : (m[2] ?? byShort.get(m[3] ?? ''));
    if (m !== null && name !== undefined && specs[name]?.type === 'boolean') {
      if (m[4] === 'true') tokens.push(`--${name}`);
      else explicitFalse.add(name);
      continue;
    }
    tokens.push(token);
  }
  try {
    const parsed = parseArgs({ args: tokens, options: specs, allowPositionals: true, strict: true });
    const values: Record<string, FlagValue> = { ...(parsed.values as Record<string, FlagValue>) };
    for (const name of explicitFalse) values[name] = false;
    return { ok: true, values, positionals: parsed.positionals };
  } catch (error) {
    const code = (error as { code?: string }).code;
    const message = errorText(error);
    const flag = flagName(message);
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION')
      return { ok: false, error: `unknown flag: ${flag ?? message}` };
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      if (flag !== undefined && specs[flag.replace(/^-+/, '')]?.type === 'boolean') {
        return { ok: false, error: `flag ${flag} takes no value (use ${flag}=true or ${flag}=false)` };
      }
      return { ok: false, error: `flag needs an argument: ${flag ?? message}` };
    }
    return { ok: false, error: message };
  }
}

export function stringFlag(values: Readonly<Record<string, FlagValue>>, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

export function boolFlag(
  values: Readonly<Record<string, FlagValue>>,
  name: string,
  fallback = false,
): boolean {
  const v = values[name];
  return typeof v === 'boolean' ? v : fallback;
}
