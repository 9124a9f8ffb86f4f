import type { Command, Option } from 'commander';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';

/** The shells `coffer completion` writes a script for. */
export const COMPLETION_SHELLS = ['bash', 'zsh', 'fish'] as const;
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

/** One command of the tree as completion sees it: its words, and which of its flags swallow the next word. */
interface CompletionNode {
  /** The command's words from the program down, space-separated: `coffer secret get`. */
  readonly path: string;
  readonly description: string;
  readonly subcommands: readonly CompletionNode[];
  /** Long flags offered after `-`. */
  readonly flags: readonly { readonly long: string; readonly description: string; readonly takesValue: boolean }[];
  /**
   * Every spelling (long and short) of a flag that takes a value, here or on an ancestor: commander accepts the
   * program's options after a subcommand, so `coffer secret get -o json x` must not read `json` as a command.
   */
  readonly valued: readonly string[];
}

const takesValue = (option: Option) => option.required || option.optional;

function completionTree(command: Command, parent?: CompletionNode): CompletionNode {
  const visible = command.options.filter((option) => !option.hidden);
  const valued = [
    ...(parent?.valued ?? []),
    ...visible.filter(takesValue).flatMap((option) => [option.long, option.short].filter((f) => f !== undefined)),
  ];
  const flags = [
    ...visible.flatMap((option) =>
      option.long === undefined
        ? []
        : [{ long: option.long, description: option.description, takesValue: takesValue(option) }],
    ),
    // commander adds --help to every command when it parses, not when the command is declared.
    { long: '--help', description: 'display help for command', takesValue: false },
  ];
  const node = {
    path: parent === undefined ? command.name() : `${parent.path} ${command.name()}`,
    description: command.description(),
    flags,
    valued,
    subcommands: [] as CompletionNode[],
  };
  node.subcommands.push(...command.commands.map((sub) => completionTree(sub, node)));
  return node;
}

function nodes(root: CompletionNode): CompletionNode[] {
  return [root, ...root.subcommands.flatMap(nodes)];
}

/** The word that names a command: the last of its path. */
const word = (node: CompletionNode) => node.path.split(' ').at(-1)!;
const names = (node: CompletionNode) => node.subcommands.map(word);

/**
 * A POSIX-shell function shared by bash and zsh: for a command path it sets the words completed after it. Only
 * the path is matched: a word is taken as a subcommand when the current command has one of that name, so option
 * values and arguments never move it.
 */
function shellWordsFunction(root: CompletionNode): string {
  const cases = nodes(root).map(
    (node) =>
      `    '${node.path}') subcommands='${names(node).join(' ')}' flags='${node.flags.map((f) => f.long).join(' ')}' valued=' ${node.valued.join(' ')} ' ;;`,
  );
  return [
    `_${root.path}_words() {`,
    '  case "$1" in',
    ...cases,
    `    *) subcommands='' flags='' valued=' ' ;;`,
    '  esac',
    '}',
  ].join('\n');
}

/** The loop that walks the words before the cursor to the command they name; `$1` is the first word's index. */
function shellWalk(root: CompletionNode, words: string, current: string): string {
  return `  _${root.path}_words "$cmdpath"
  for ((i = $1; i < ${current}; i++)); do
    word="\${${words}[i]}"
    if ((skip)); then skip=0; continue; fi
    case "$word" in
      --*=*) ;;
      -*) [[ "$valued" == *" $word "* ]] && skip=1 ;;
      *) if [[ " $subcommands " == *" $word "* ]]; then cmdpath="$cmdpath $word"; _${root.path}_words "$cmdpath"; fi ;;
    esac
  done`;
}

function bashScript(root: CompletionNode): string {
  const name = root.path;
  return `# bash completion for ${name}: source <(${name} completion bash)
${shellWordsFunction(root)}
_${name}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmdpath='${name}' subcommands flags valued word i skip=0
  set -- 1
${shellWalk(root, 'COMP_WORDS', 'COMP_CWORD')}
  COMPREPLY=()
  # The value of a flag, or an argument: bash falls back to file names (complete -o default).
  ((skip)) && return 0
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$subcommands" -- "$cur"))
  fi
}
complete -o default -F _${name} ${name}
`;
}

function zshScript(root: CompletionNode): string {
  const name = root.path;
  return `#compdef ${name}
# zsh completion for ${name}: source <(${name} completion zsh), after compinit
${shellWordsFunction(root)}
_${name}() {
  # zsh's $path is the array behind $PATH: the walk keeps the command's words in cmdpath.
  local cmdpath='${name}' subcommands flags valued word i skip=0
  set -- 2
${shellWalk(root, 'words', 'CURRENT')}
  if ((skip)); then _files; return; fi
  if [[ "\${words[CURRENT]}" == -* ]]; then
    compadd -- \${=flags}
  elif [[ -n "$subcommands" ]]; then
    compadd -- \${=subcommands}
  else
    _files
  fi
}
if [[ "\${funcstack[1]}" == _${name} ]]; then _${name} "$@"; else compdef _${name} ${name}; fi
`;
}

/** A single-quoted fish string. */
const fishQuote = (text: string) => `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;

function fishScript(root: CompletionNode): string {
  const name = root.path;
  const all = nodes(root);
  const caseLines = (pick: (node: CompletionNode) => readonly string[]) =>
    all.map(
      (node) =>
        `        case ${fishQuote(node.path)}\n            printf '%s\\n' ${pick(node).map(fishQuote).join(' ')}`,
    );
  const lines = [
    `# fish completion for ${name}: ${name} completion fish | source`,
    `function __${name}_subcommands`,
    '    switch $argv[1]',
    ...caseLines(names),
    '    end',
    'end',
    `function __${name}_valued`,
    '    switch $argv[1]',
    ...caseLines((node) => node.valued),
    '    end',
    'end',
    '# The command the words before the cursor name; option values and arguments never move it.',
    `function __${name}_path`,
    '    set -l tokens (commandline -opc)',
    '    set -e tokens[1]',
    `    set -l cmdpath ${name}`,
    '    set -l skip 0',
    '    for word in $tokens',
    '        if test $skip = 1',
    '            set skip 0',
    '            continue',
    '        end',
    '        switch $word',
    "            case '--*=*'",
    "            case '-*'",
    `                contains -- $word (__${name}_valued $cmdpath); and set skip 1`,
    "            case '*'",
    `                contains -- $word (__${name}_subcommands $cmdpath); and set cmdpath "$cmdpath $word"`,
    '        end',
    '    end',
    '    # The word under the cursor is the value of a flag: no command is offered there.',
    '    test $skip = 1; and set cmdpath "$cmdpath <value>"',
    '    echo $cmdpath',
    'end',
    `function __${name}_at`,
    `    test (__${name}_path) = $argv[1]`,
    'end',
  ];
  for (const node of all) {
    const at = `-n ${fishQuote(`__${name}_at ${fishQuote(node.path)}`)}`;
    for (const sub of node.subcommands) {
      lines.push(`complete -c ${name} ${at} -f -a ${fishQuote(word(sub))} -d ${fishQuote(sub.description)}`);
    }
    for (const flag of node.flags) {
      lines.push(
        `complete -c ${name} ${at} -l ${flag.long.slice(2)}${flag.takesValue ? ' -r' : ''} -d ${fishQuote(flag.description)}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

const SCRIPTS: Record<CompletionShell, (root: CompletionNode) => string> = {
  bash: bashScript,
  zsh: zshScript,
  fish: fishScript,
};

/**
 * The completion script for `shell`, generated from the program's command tree as it is when called, so every
 * command registered before parsing is completed without listing it here.
 */
export function completionScript(program: Command, shell: CompletionShell): string {
  return SCRIPTS[shell](completionTree(program));
}

export function registerCompletionCommand(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script (bash, zsh or fish)')
    .argument('<shell>', COMPLETION_SHELLS.join(', '))
    .addHelpText(
      'after',
      `
Load it in the current shell, or add the line to your shell's start-up file:
  bash  source <(coffer completion bash)                   (~/.bashrc)
  zsh   source <(coffer completion zsh)                    (~/.zshrc, after compinit)
  fish  coffer completion fish | source                    (~/.config/fish/config.fish)
or install it once:
  bash  coffer completion bash > ~/.local/share/bash-completion/completions/coffer
  zsh   coffer completion zsh > "\${fpath[1]}/_coffer"
  fish  coffer completion fish > ~/.config/fish/completions/coffer.fish`,
    )
    .action((shell: string) => {
      if (!(COMPLETION_SHELLS as readonly string[]).includes(shell)) {
        throw new CliError(`unknown shell ${shell}: use ${COMPLETION_SHELLS.join(', ')}`, ExitCode.usage);
      }
      process.stdout.write(completionScript(program, shell as CompletionShell));
    });
}
