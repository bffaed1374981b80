// The command table against the commands themselves: every command of the table is dispatched and every
// dispatched command is in the table, each `sluice <command> --help` ends with the table's examples and
// names every flag its parser accepts, and every example parses with that command's flags.

import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { COMMANDS, type CommandDef, flagsOf } from '../../../src/cli/command-table.ts';
import { EXIT_CODES, RUNNERS, runSluice, usage } from '../../../src/cli/dispatch.ts';
import { parseVerbArgs } from '../../../src/cli/flags.ts';
import { ROLLOUT_VERBS } from '../../../src/cli/rollouts/index.ts';

/** Runs `sluice ARGV` in this process with stdout and stderr captured. */
async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err += String(chunk);
    return true;
  });
  try {
    const code = await runSluice(argv);
    return { code, out, err };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}

/** Splits an example into words the way sh would for these examples (single and double quotes). */
function words(command: string): string[] {
  return [...command.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

afterEach(() => {
  // runRolloutVerb's processIo adds SIGINT/SIGTERM listeners for the process it expects to be.
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
});

describe('the command table', () => {
  it('is what sluice dispatches: each command has a runner and each runner a command', () => {
    const dispatched = [...Object.keys(ROLLOUT_VERBS), ...Object.keys(RUNNERS)].sort();
    expect(dispatched).toEqual(COMMANDS.map((c) => c.name).sort());
    const rolloutGroup = COMMANDS.filter((c) => c.group === 'rollout').map((c) => c.name);
    expect(rolloutGroup.sort()).toEqual(Object.keys(ROLLOUT_VERBS).sort());
  });

  it('lists every command in sluice --help, with the line of each', async () => {
    const { code, out } = await run(['--help']);
    expect(code).toBe(0);
    expect(out).toBe(usage('sluice'));
    for (const command of COMMANDS)
      for (const [synopsis] of command.lines) expect(out).toContain(`  ${synopsis}`);
    expect(out).toContain('Examples:');
  });

  it.each(COMMANDS.map((c) => [c.name, c] as const))(
    'sluice %s --help exits 0 and ends with its examples, naming every flag it accepts',
    async (name: string, command: CommandDef) => {
      const argv = command.name === 'analysis' ? ['analysis', 'run', '--help'] : [name, '--help'];
      const { code, out, err } = await run(argv);
      expect(err).toBe('');
      expect(code).toBe(0);
      expect(command.examples.length).toBeGreaterThan(0);
      const examples = out.slice(out.lastIndexOf('\nExamples:\n'));
      expect(examples.startsWith('\nExamples:\n')).toBe(true);
      for (const example of command.examples) {
        expect(examples).toContain(`  # ${example.what}\n  ${example.command}\n`);
      }
      for (const flag of Object.keys(flagsOf(command))) expect(out).toContain(`--${flag}`);
    },
  );

  it.each(COMMANDS.flatMap((c) => c.examples.map((e) => [c.name, e.command, c] as const)))(
    'the %s example "%s" parses with the flags of its command',
    (name: string, example: string, command: CommandDef) => {
      const argv = words(example.replace(/\s+#.*$/, ''));
      const start = argv.indexOf(name);
      expect(['sluice', 'kubectl'].includes(argv[0]!) || argv[0] === 'source').toBe(true);
      expect(start).toBeGreaterThan(0);
      // shell redirections and process substitution are not the command's
      const rest = argv
        .slice(start + 1)
        .map((w) => w.replace(/\)$/, ''))
        .filter((w) => w !== '>' && !w.includes('completions/'));
      const parsed = parseVerbArgs(rest, flagsOf(command));
      expect(parsed).toMatchObject({ ok: true });
      if (command.words !== undefined && parsed.ok && parsed.positionals.length > 0) {
        expect(command.words).toContain(parsed.positionals[0]);
      }
    },
  );

  it('documents every exit code in docs/cli.md', () => {
    const doc = readFileSync(new URL('../../../docs/cli.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## Exit codes'));
    for (const code of Object.values(EXIT_CODES))
      expect(section).toMatch(new RegExp(`^\\| ${code} \\| \\S`, 'm'));
  });

  it('refuses an unknown command with exit 2 and the usage', async () => {
    const { code, err } = await run(['frobnicate']);
    expect(code).toBe(2);
    expect(err).toContain('unknown command "frobnicate"');
    expect(err).toContain('usage: sluice <command>');
  });
});
