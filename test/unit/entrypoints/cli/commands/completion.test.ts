import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { COMPLETION_SHELLS, completionScript } from '../../../../../lambdas/entrypoints/cli/commands/completion.ts';
import { buildProgram } from '../../../../../lambdas/entrypoints/cli/main.ts';

/** Every command of the tree with its words from the program down, walked independently of the generator. */
function commandPaths(command: Command, parent: string[] = []): { words: string[]; command: Command }[] {
  const words = [...parent, command.name()];
  return [{ words, command }, ...command.commands.flatMap((sub) => commandPaths(sub, words))];
}

const installed = (shell: string) => spawnSync('sh', ['-c', `command -v ${shell}`]).status === 0;

/** What bash completes for the words typed so far (the last one is the word under the cursor). */
function bashCompletes(typed: string[]): string[] {
  const script = completionScript(buildProgram(), 'bash');
  const words = typed.map((word) => `'${word}'`).join(' ');
  // On stdin, not `-c`: the script outgrows the kernel's limit on one argument (128 KiB, E2BIG).
  const run = spawnSync('bash', ['-s'], {
    input: `${script}\nCOMP_WORDS=(${words}); COMP_CWORD=${typed.length - 1}; _coffer; printf '%s\\n' "\${COMPREPLY[@]}"`,
    encoding: 'utf8',
  });
  expect(run.error).toBeUndefined();
  expect(run.stderr).toBe('');
  return run.stdout.split('\n').filter((line) => line !== '');
}

describe('coffer completion', () => {
  const program = buildProgram();
  const paths = commandPaths(program);

  it('walks a tree with nested commands (the walk below is not vacuous)', () => {
    expect(paths.some(({ words }) => words.join(' ') === 'coffer secret get')).toBe(true);
    expect(paths.some(({ words }) => words.join(' ') === 'coffer completion')).toBe(true);
  });

  for (const shell of COMPLETION_SHELLS) {
    it(`names every command and subcommand, and every long option, in the ${shell} script`, () => {
      const script = completionScript(program, shell);
      for (const { words, command } of paths) {
        expect(script, words.join(' ')).toContain(words.join(' '));
        for (const option of command.options) {
          if (option.long !== undefined)
            expect(script, `${words.join(' ')} ${option.long}`).toContain(option.long.slice(2));
        }
      }
    });
  }

  it('writes a bash script that bash parses', () => {
    const check = spawnSync('bash', ['-n'], { input: completionScript(program, 'bash'), encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });

  it.each(['zsh', 'fish'] as const)('writes a %s script that the shell parses (where it is installed)', (shell) => {
    const script = completionScript(program, shell);
    if (installed(shell)) {
      // A file, not stdin: fish reads a script to check only from a file.
      const dir = mkdtempSync(path.join(tmpdir(), 'coffer-completion-'));
      try {
        const file = path.join(dir, `coffer.${shell}`);
        writeFileSync(file, script);
        const check = spawnSync(shell, ['-n', file], { encoding: 'utf8' });
        expect(check.stderr).toBe('');
        expect(check.status).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    } else if (shell === 'zsh') {
      expect(script.startsWith('#compdef coffer\n')).toBe(true);
      expect(script).toContain('compdef _coffer coffer');
    } else {
      // One `complete` line per subcommand offered under its parent.
      for (const { words } of paths.slice(1)) {
        const parent = words.slice(0, -1).join(' ');
        expect(script).toContain(`-n '__coffer_at \\'${parent}\\'' -f -a '${words.at(-1)}'`);
      }
    }
  });

  // fish is installed by .ci/run, as the other real clients the tests use are.
  it('completes subcommands and options in fish', () => {
    expect(installed('fish'), 'fish is not installed: apt-get install fish (.ci/run does)').toBe(true);
    const script = completionScript(program, 'fish');
    // Sourced from a file, not given to `-c`: the script outgrows the kernel's limit on one argument (128 KiB, E2BIG).
    const dir = mkdtempSync(path.join(tmpdir(), 'coffer-fish-'));
    const file = path.join(dir, 'coffer.fish');
    writeFileSync(file, script);
    const fishCompletes = (line: string) => {
      const run = spawnSync('fish', ['-c', `source '${file}'; complete -C '${line}'`], { encoding: 'utf8' });
      expect(run.error).toBeUndefined();
      expect(run.stderr).toBe('');
      return run.stdout.split('\n').map((candidate) => candidate.split('\t')[0]);
    };
    expect(fishCompletes('coffer -o json secret g')).toEqual(['get', '']);
    expect(fishCompletes('coffer secret get --ver')).toEqual(['--version-id', '']);
    // The value of --output is left to fish's file names: no command is offered there.
    expect(fishCompletes('coffer --output ')).not.toContain('secret');
    rmSync(dir, { recursive: true, force: true });
  });

  it('completes the commands, then the subcommands of the command typed', () => {
    expect(bashCompletes(['coffer', 'se'])).toEqual(['server', 'secret']);
    expect(bashCompletes(['coffer', 'secret', ''])).toEqual(
      program.commands.find((c) => c.name() === 'secret')!.commands.map((c) => c.name()),
    );
    expect(bashCompletes(['coffer', 'completion', ''])).toEqual([]);
  });

  it("completes a command's long options, and skips the value of an option that takes one", () => {
    expect(bashCompletes(['coffer', 'secret', 'get', '--ver'])).toEqual(['--version-id']);
    // `secret` here is the value of --address, not the command: the program's commands are still offered.
    expect(bashCompletes(['coffer', '--address', 'secret', 'se'])).toEqual(['server', 'secret']);
    expect(bashCompletes(['coffer', '-o', 'json', 'secret', 'ge'])).toEqual(['get']);
    // The value of a flag is left to bash's file names.
    expect(bashCompletes(['coffer', 'secret', 'put', 'x', '--file', ''])).toEqual([]);
  });
});
