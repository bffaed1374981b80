// Shell completion from the command table: the bash, zsh and fish scripts parse in their shells (bash -n,
// zsh -n, fish -n), bash's function answers TAB with the table's verbs, resource types, flags and flag
// values, and the kubectl hook (kubectl_complete-sluice, `sluice __complete`) prints Cobra's format.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { COMMANDS, flagsOf } from '../../../src/cli/command-table.ts';
import {
  cobraFormat,
  complete,
  completionScript,
  DIRECTIVE,
  runCompletionCommand,
  SHELLS,
} from '../../../src/cli/completion.ts';

const dir = mkdtempSync(join(tmpdir(), 'sluice-completion-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function scriptFile(shell: (typeof SHELLS)[number]): string {
  const path = join(dir, `sluice.${shell}`);
  writeFileSync(path, completionScript(shell));
  return path;
}

function hasShell(shell: string): boolean {
  return spawnSync(shell, ['-c', 'exit 0']).status === 0;
}

/** What bash's completion function offers for `line` (the cursor at its end). */
function bashComplete(line: string): string[] {
  const script = scriptFile('bash');
  const driver = `
source ${JSON.stringify(script)}
read -r -a COMP_WORDS <<< ${JSON.stringify(line)}
[[ ${JSON.stringify(line)} == *' ' ]] && COMP_WORDS+=('')
COMP_CWORD=$((\${#COMP_WORDS[@]} - 1))
_sluice_complete
printf '%s\\n' "\${COMPREPLY[@]}"
`;
  return execFileSync('bash', ['-c', driver], { encoding: 'utf8', cwd: dir })
    .split('\n')
    .filter((l) => l !== '');
}

describe('sluice completion', () => {
  it.each(SHELLS)('the %s script parses in its shell', (shell) => {
    // zsh and fish come from .ci/run's apt packages; bash is everywhere.
    expect(hasShell(shell)).toBe(true);
    const check = spawnSync(shell, ['-n', scriptFile(shell)], { encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });

  it.each(SHELLS)('the %s script names every verb and every flag of the table', (shell) => {
    const script = completionScript(shell);
    for (const command of COMMANDS) {
      expect(script).toContain(command.name);
      for (const flag of Object.keys(flagsOf(command))) {
        expect(script).toMatch(shell === 'fish' ? `-l ${flag} ` : `--${flag}`);
      }
    }
  });

  it('bash completes verbs, resource types, flags and flag values', () => {
    expect(bashComplete('sluice ')).toEqual(COMMANDS.map((c) => c.name));
    expect(bashComplete('sluice pro')).toEqual(['promote', 'proxy']);
    expect(bashComplete('sluice get ')).toEqual(['rollout', 'rollouts', 'ro']);
    expect(bashComplete('sluice get rollout ')).toEqual([]);
    expect(bashComplete('sluice get rollout web --w')).toEqual(['--watch']);
    expect(bashComplete('sluice -n shop terminate ')).toEqual([]);
    expect(bashComplete('sluice terminate -n shop ')).toEqual(['analysisrun', 'experiment']);
    expect(bashComplete('sluice controller --log-format ')).toEqual(['text', 'json']);
    expect(bashComplete('sluice proxy --loglevel d')).toEqual(['debug']);
    expect(bashComplete('sluice completion ')).toEqual(['bash', 'zsh', 'fish']);
    expect(bashComplete('sluice controller --')).toContain('--control-token-file');
  });

  it('bash completes the value after --flag= with the = kept', () => {
    // bash splits `--log-format=` into `--log-format` `=`; the reply replaces the `=` word.
    const script = scriptFile('bash');
    const out = execFileSync(
      'bash',
      [
        '-c',
        `source ${JSON.stringify(script)}; COMP_WORDS=(sluice proxy --log-format =); COMP_CWORD=3; _sluice_complete; printf '%s\\n' "\${COMPREPLY[@]}"`,
      ],
      { encoding: 'utf8' },
    );
    expect(out.split('\n').filter(Boolean)).toEqual(['=text', '=json']);
  });

  it('fish completes verbs, resource types and flag values, also for kubectl-sluice', () => {
    const fish = (line: string) =>
      execFileSync('fish', ['-c', `source ${scriptFile('fish')}; complete -C '${line}'`], {
        encoding: 'utf8',
      })
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t')[0]);
    expect(fish('sluice get ')).toEqual(['ro', 'rollout', 'rollouts']);
    expect(fish('sluice controller --log-format ')).toEqual(['json', 'text']);
    expect(fish('kubectl-sluice pro')).toEqual(['promote', 'proxy']);
  });

  it('zsh loads the script under compinit and registers _sluice', () => {
    const out = execFileSync(
      'zsh',
      ['-f', '-c', `autoload -U compinit; compinit -u -D; source ${scriptFile('zsh')}; whence -w _sluice`],
      { encoding: 'utf8', env: { ...process.env, HOME: dir } },
    );
    expect(out.trim()).toBe('_sluice: function');
  });

  it('bash offers file names for a file flag', () => {
    writeFileSync(join(dir, 'routes.yaml'), 'routes: []\n');
    expect(bashComplete('sluice proxy --config rou')).toEqual(['routes.yaml']);
    expect(bashComplete('sluice lint -f rou')).toEqual(['routes.yaml']);
  });

  it('refuses a missing or unknown shell with exit 2', () => {
    const err: string[] = [];
    expect(
      runCompletionCommand(
        [],
        () => {},
        (t) => err.push(t),
      ),
    ).toBe(2);
    expect(
      runCompletionCommand(
        ['tcsh'],
        () => {},
        (t) => err.push(t),
      ),
    ).toBe(2);
    expect(err.join('')).toContain('unsupported shell "tcsh"');
  });
});

describe('the kubectl plugin completion hook', () => {
  it('prints the verbs with their descriptions in Cobra format', () => {
    const text = cobraFormat(complete(['']));
    const lines = text.trimEnd().split('\n');
    expect(lines.at(-1)).toBe(`:${DIRECTIVE.noFileComp}`);
    expect(lines).toContain("get\tthe rollout's revisions, ReplicaSets, pods and analysis runs");
    expect(lines.length).toBe(COMMANDS.length + 1);
  });

  it('completes resource types, flags, values and --flag=value', () => {
    const values = (args: string[]) => complete(args).candidates.map((c) => c.value);
    expect(values(['retry', ''])).toEqual(['rollout', 'experiment']);
    expect(values(['retry', 'rollout', ''])).toEqual([]);
    expect(values(['get', '-n', 'shop', ''])).toEqual(['rollout', 'rollouts', 'ro']);
    expect(values(['promote', 'web', '--f'])).toEqual(['--full']);
    expect(values(['controller', '--loglevel', 'w'])).toEqual(['warn']);
    expect(values(['proxy', '--log-format=j'])).toEqual(['--log-format=json']);
    expect(complete(['proxy', '--config', '']).directive).toBe(DIRECTIVE.default);
    expect(complete(['standalone', '']).directive).toBe(DIRECTIVE.filterDirs);
    expect(complete(['controller', '--leader-elect', '']).candidates).toEqual([]);
  });

  it('runs as kubectl runs it: kubectl_complete-sluice ARGS... CURRENT', () => {
    const bin = fileURLToPath(new URL('../../../bin/kubectl_complete-sluice.js', import.meta.url));
    const out = execFileSync(process.execPath, [bin, 'get', 'r'], { encoding: 'utf8' });
    expect(out).toBe(`rollout\nrollouts\nro\n:${DIRECTIVE.noFileComp}\n`);
  });
});
