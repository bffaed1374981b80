// `sluice completion bash|zsh|fish` and the kubectl plugin completion hook, all from the command table
// (command-table.ts). The shell scripts are static: a TAB costs no Node start. The hook is dynamic because
// kubectl runs `kubectl_complete-sluice ARGS... CURRENT` and reads Cobra's format: one candidate per line
// (`value<TAB>description`), then `:<directive>` (kubectl staging/src/k8s.io/kubectl/pkg/cmd/plugin/
// plugin_completion.go).

import {
  COMMANDS,
  type CommandDef,
  commandDef,
  examplesHelp,
  type FlagDef,
  flagsOf,
} from './command-table.ts';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

/** Cobra's ShellCompDirective bits (cobra/completions.go). */
export const DIRECTIVE = { default: 0, noFileComp: 4, filterDirs: 16 } as const;

export interface Candidate {
  readonly value: string;
  readonly description?: string;
}

export interface Completion {
  readonly candidates: readonly Candidate[];
  readonly directive: number;
}

export const COMPLETION_USAGE = `usage: sluice completion bash|zsh|fish

Prints a completion script for sluice and kubectl-sluice, generated from the command table: verbs, their
resource types, flags, and flag values that are files or fixed words. kubectl (1.26+) completes
\`kubectl sluice ...\` through the kubectl_complete-sluice executable this package installs next to
kubectl-sluice; keep both on PATH.

  -h, --help   show this help
${examplesHelp('completion')}`;

function takesValue(def: FlagDef): boolean {
  return def.type === 'string' && def.complete !== 'attached';
}

/** The flag a token names (`--watch`, `-w`, `--timeout=5m` → timeout), if the command has it. */
function flagOfToken(flags: Readonly<Record<string, FlagDef>>, token: string): FlagDef | undefined {
  if (token.startsWith('--')) return flags[token.slice(2).split('=')[0]!];
  if (token.startsWith('-') && token.length === 2)
    return Object.values(flags).find((d) => d.short === token[1]);
  return undefined;
}

function byPrefix(candidates: readonly Candidate[], prefix: string): Candidate[] {
  return candidates.filter((c) => c.value.startsWith(prefix));
}

function valueCompletion(def: FlagDef, current: string, prefix = ''): Completion {
  const c = def.complete;
  if (c === 'file') return { candidates: [], directive: DIRECTIVE.default };
  if (c === 'dir') return { candidates: [], directive: DIRECTIVE.filterDirs };
  if (Array.isArray(c))
    return {
      candidates: byPrefix(
        (c as readonly string[]).map((w) => ({ value: `${prefix}${w}` })),
        current,
      ),
      directive: DIRECTIVE.noFileComp,
    };
  return { candidates: [], directive: DIRECTIVE.noFileComp };
}

/**
 * What completes the last of `args` (the words after `sluice`; the last is the word being typed, '' for a
 * new one), as the kubectl hook and `sluice __complete` print it.
 */
export function complete(args: readonly string[]): Completion {
  const current = args.at(-1) ?? '';
  if (args.length <= 1) {
    const verbs = COMMANDS.map((c) => ({ value: c.name, description: c.lines[0]![1] }));
    return { candidates: byPrefix(verbs, current), directive: DIRECTIVE.noFileComp };
  }
  const command = commandDef(args[0]!);
  if (command === undefined) return { candidates: [], directive: DIRECTIVE.noFileComp };
  const flags = flagsOf(command);
  const previous = args.length > 2 ? args.at(-2)! : '';
  const previousFlag = previous.includes('=') ? undefined : flagOfToken(flags, previous);
  if (previousFlag !== undefined && takesValue(previousFlag)) return valueCompletion(previousFlag, current);
  if (current.startsWith('-')) {
    const eq = current.indexOf('=');
    if (eq > 0) {
      const def = flagOfToken(flags, current.slice(0, eq));
      if (def !== undefined) return valueCompletion(def, current, current.slice(0, eq + 1));
    }
    const all = Object.entries(flags).map(([name, def]) => ({
      value: `--${name}`,
      description: def.description,
    }));
    return { candidates: byPrefix(all, current), directive: DIRECTIVE.noFileComp };
  }
  let positionals = 0;
  for (let i = 1; i < args.length - 1; i++) {
    const token = args[i]!;
    if (!token.startsWith('-') || token === '-') positionals++;
    else if (!token.includes('=')) {
      const def = flagOfToken(flags, token);
      if (def !== undefined && takesValue(def)) i++;
    }
  }
  if (positionals === 0 && command.words !== undefined)
    return {
      candidates: byPrefix(
        command.words.map((value) => ({ value })),
        current,
      ),
      directive: DIRECTIVE.noFileComp,
    };
  if (command.positionals === 'file') return { candidates: [], directive: DIRECTIVE.default };
  if (command.positionals === 'dir') return { candidates: [], directive: DIRECTIVE.filterDirs };
  return { candidates: [], directive: DIRECTIVE.noFileComp };
}

/** Cobra's output: `value\tdescription` lines, then `:<directive>`. */
export function cobraFormat(completion: Completion): string {
  const lines = completion.candidates.map((c) =>
    c.description === undefined ? c.value : `${c.value}\t${c.description}`,
  );
  return `${[...lines, `:${completion.directive}`].join('\n')}\n`;
}

/** A word in single quotes for sh, bash, zsh and fish (fish also reads \' inside quotes, so it is avoided). */
function quote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

function fishQuote(text: string): string {
  return `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

interface FlagForm {
  readonly forms: readonly string[];
  readonly def: FlagDef;
}

function flagForms(command: CommandDef): FlagForm[] {
  return Object.entries(flagsOf(command)).map(([name, def]) => ({
    forms: def.short === undefined ? [`--${name}`] : [`--${name}`, `-${def.short}`],
    def,
  }));
}

function bashScript(): string {
  const branches = COMMANDS.map((command) => {
    const forms = flagForms(command);
    const valueCases = forms
      .filter((f) => takesValue(f.def))
      .map((f) => {
        const c = f.def.complete;
        const action =
          c === 'file'
            ? 'compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -P "$eq" -- "$cur")'
            : c === 'dir'
              ? 'compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -d -P "$eq" -- "$cur")'
              : Array.isArray(c)
                ? `mapfile -t COMPREPLY < <(compgen -W ${quote((c as readonly string[]).join(' '))} -P "$eq" -- "$cur")`
                : ':';
        return `        ${f.forms.join('|')}) ${action}; return 0 ;;`;
      });
    const values = forms.filter((f) => takesValue(f.def)).flatMap((f) => f.forms);
    return [
      `    ${command.name})`,
      `      flags=${quote(forms.flatMap((f) => f.forms).join(' '))}`,
      `      values=${quote(` ${values.join(' ')} `)}`,
      `      words=${quote((command.words ?? []).join(' '))}`,
      `      positionals=${quote(command.positionals ?? '')}`,
      '      case $prev in',
      ...valueCases,
      '      esac',
      '      ;;',
    ].join('\n');
  });
  return `# bash completion for sluice and kubectl-sluice, generated by \`sluice completion bash\` from the
# command table. Load it with: source <(sluice completion bash)
_sluice_complete() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
  local verb=\${COMP_WORDS[1]} flags='' values='' words='' positionals='' eq='' i w npos=0
  COMPREPLY=()
  # bash splits --flag=value at '=': complete the value of the flag before it (the '=' word is replaced
  # by the reply, so the reply keeps it).
  if [[ $cur == '=' ]]; then cur='' eq='='; elif [[ $prev == '=' ]]; then prev=\${COMP_WORDS[COMP_CWORD-2]}; fi
  if ((COMP_CWORD == 1)); then
    mapfile -t COMPREPLY < <(compgen -W ${quote(COMMANDS.map((c) => c.name).join(' '))} -- "$cur")
    return 0
  fi
  case $verb in
${branches.join('\n')}
    *) return 0 ;;
  esac
  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$flags" -- "$cur")
    return 0
  fi
  for ((i = 2; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    if [[ \${COMP_WORDS[i+1]} == '=' ]]; then i=$((i + 2)); continue; fi
    case $w in
      -*) [[ $values == *" $w "* ]] && i=$((i + 1)) ;;
      *) npos=$((npos + 1)) ;;
    esac
  done
  if ((npos == 0)) && [[ -n $words ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
  elif [[ $positionals == file ]]; then
    compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur")
  elif [[ $positionals == dir ]]; then
    compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -d -- "$cur")
  fi
  return 0
}
complete -F _sluice_complete sluice kubectl-sluice
`;
}

function zshScript(): string {
  const verbs = COMMANDS.map((c) => quote(`${c.name}:${c.lines[0]![1]}`)).join(' ');
  const branches = COMMANDS.map((command) => {
    const forms = flagForms(command);
    const described = forms.flatMap((f) => f.forms.map((form) => quote(`${form}:${f.def.description}`)));
    const valueCases = forms
      .filter((f) => takesValue(f.def) && f.def.complete !== undefined)
      .map((f) => {
        const c = f.def.complete;
        const action =
          c === 'file'
            ? '_files'
            : c === 'dir'
              ? '_files -/'
              : `compadd -- ${(c as readonly string[]).map(quote).join(' ')}`;
        return `        ${f.forms.join('|')}) ${action}; return ;;`;
      });
    const values = forms.filter((f) => takesValue(f.def)).flatMap((f) => f.forms);
    return [
      `    ${command.name})`,
      `      flags=(${described.join(' ')})`,
      `      values=(${values.join(' ')})`,
      `      wordlist=(${(command.words ?? []).join(' ')})`,
      `      positionals=${quote(command.positionals ?? '')}`,
      '      case $prev in',
      ...valueCases,
      '      esac',
      '      ;;',
    ].join('\n');
  });
  return `#compdef sluice kubectl-sluice
# zsh completion for sluice and kubectl-sluice, generated by \`sluice completion zsh\` from the command
# table. Put it in a folder on $fpath as _sluice, or: source <(sluice completion zsh)
_sluice() {
  local verb=\${words[2]} cur=\${words[CURRENT]} prev=\${words[CURRENT-1]} positionals=''
  local -a verbs flags values wordlist
  local i skip=0 npos=0
  if (( CURRENT == 2 )); then
    verbs=(${verbs})
    _describe -t commands 'sluice command' verbs
    return
  fi
  case $verb in
${branches.join('\n')}
    *) return 1 ;;
  esac
  # a flag that takes a free-text value: nothing to offer
  if (( \${values[(Ie)$prev]} )); then return 0; fi
  if [[ $cur == -* ]]; then
    _describe -t flags 'flag' flags
    return
  fi
  for (( i = 3; i < CURRENT; i++ )); do
    if (( skip )); then skip=0; continue; fi
    case \${words[i]} in
      -*=*) ;;
      -*) (( \${values[(Ie)\${words[i]}]} )) && skip=1 ;;
      *) (( npos++ )) ;;
    esac
  done
  if (( npos == 0 && \${#wordlist} )); then
    compadd -a wordlist
  elif [[ $positionals == file ]]; then
    _files
  elif [[ $positionals == dir ]]; then
    _files -/
  fi
}
if [[ \${funcstack[1]} == _sluice ]]; then
  _sluice "$@"
else
  compdef _sluice sluice kubectl-sluice
fi
`;
}

function fishScript(): string {
  const lines = [
    '# fish completion for sluice and kubectl-sluice, generated by `sluice completion fish` from the command',
    '# table. Save it as ~/.config/fish/completions/sluice.fish',
    'complete -c sluice -f',
    'complete -c kubectl-sluice -w sluice',
  ];
  const verbNames = COMMANDS.map((c) => c.name).join(' ');
  for (const command of COMMANDS) {
    lines.push(
      `complete -c sluice -n ${fishQuote(`not __fish_seen_subcommand_from ${verbNames}`)} -a ${command.name} -d ${fishQuote(command.lines[0]![1])}`,
    );
    const seen = `__fish_seen_subcommand_from ${command.name}`;
    for (const { forms, def } of flagForms(command)) {
      const [long, short] = forms;
      const parts = [`complete -c sluice -n ${fishQuote(seen)}`, `-l ${long!.slice(2)}`];
      if (short !== undefined) parts.push(`-s ${short.slice(1)}`);
      if (takesValue(def)) {
        if (def.complete === 'file') parts.push('-r -F');
        else if (def.complete === 'dir') parts.push(`-x -a ${fishQuote('(__fish_complete_directories)')}`);
        else if (Array.isArray(def.complete))
          parts.push(`-x -a ${fishQuote((def.complete as readonly string[]).join(' '))}`);
        else parts.push('-x');
      }
      parts.push(`-d ${fishQuote(def.description)}`);
      lines.push(parts.join(' '));
    }
    if (command.words !== undefined) {
      const words = command.words.join(' ');
      lines.push(
        `complete -c sluice -n ${fishQuote(`${seen}; and not __fish_seen_subcommand_from ${words}`)} -a ${fishQuote(words)}`,
      );
    }
    if (command.positionals === 'file') lines.push(`complete -c sluice -n ${fishQuote(seen)} -F`);
    if (command.positionals === 'dir')
      lines.push(`complete -c sluice -n ${fishQuote(seen)} -a ${fishQuote('(__fish_complete_directories)')}`);
  }
  return `${lines.join('\n')}\n`;
}

export function completionScript(shell: Shell): string {
  if (shell === 'bash') return bashScript();
  if (shell === 'zsh') return zshScript();
  return fishScript();
}

/** `sluice completion SHELL`: the script on stdout; exit 2 on a missing or unknown shell. */
export function runCompletionCommand(
  argv: readonly string[],
  out: (text: string) => void,
  err: (text: string) => void,
): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    out(COMPLETION_USAGE);
    return 0;
  }
  const shell = argv[0];
  if (argv.length !== 1 || !(SHELLS as readonly string[]).includes(shell ?? '')) {
    err(
      `sluice completion: ${shell === undefined ? 'needs a shell' : `unsupported shell "${argv.join(' ')}"`} (bash, zsh or fish)\n\n${COMPLETION_USAGE}`,
    );
    return 2;
  }
  out(completionScript(shell as Shell));
  return 0;
}
