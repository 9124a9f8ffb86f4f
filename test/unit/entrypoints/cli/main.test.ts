import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { globals } from '../../../../lambdas/entrypoints/cli/io.ts';
import { buildProgram } from '../../../../lambdas/entrypoints/cli/main.ts';

/**
 * Commands whose output is a stream or a process, not an answer to render: a server's log, a child's stdout, audit
 * lines already in their stored form. Every other command prints data and must honour `--output`.
 */
const STREAMS = new Set(['server', 'init', 'run', 'agent', 'audit tail']);

function leaves(command: Command, path: string[] = []): Array<{ path: string[]; command: Command }> {
  if (command.commands.length === 0) return [{ path, command }];
  return command.commands.flatMap((sub) => leaves(sub, [...path, sub.name()]));
}

/** The smallest argv that reaches the command's action: a placeholder for each required argument and option. */
function minimalArgv(path: readonly string[], command: Command): string[] {
  const args = command.registeredArguments.filter((a) => a.required).map(() => 'x');
  const options = command.options.filter((o) => o.mandatory).flatMap((o) => [o.long ?? o.short ?? '', 'x']);
  return [...path, ...args, ...options];
}

describe('Function: buildProgram', () => {
  const all = leaves(buildProgram());
  const printing = all.filter((leaf) => !STREAMS.has(leaf.path.join(' ')));

  it('names only commands that exist as streams', () => {
    const names = new Set(all.map((leaf) => leaf.path.join(' ')));
    expect([...STREAMS].filter((name) => !names.has(name))).toEqual([]);
    expect(printing.length).toBeGreaterThan(40);
  });

  it('leaves -o/--output to the global option: no command gives it another meaning', () => {
    const shadowing = all
      .filter((leaf) => leaf.command.options.some((o) => o.long === '--output' || o.short === '-o'))
      .map((leaf) => leaf.path.join(' '));
    expect(shadowing).toEqual([]);
  });

  it.each(printing.map((leaf) => [leaf.path.join(' '), leaf.path] as const))(
    '%s honours --output json and table, after or before the command',
    async (_name, path) => {
      for (const [argv, expected] of [
        [(p: string[], c: Command) => [...minimalArgv(p, c), '--output', 'json'], 'json'],
        [(p: string[], c: Command) => ['-o', 'json', ...minimalArgv(p, c)], 'json'],
        [(p: string[], c: Command) => minimalArgv(p, c), 'table'],
      ] as const) {
        const program = buildProgram();
        const leaf = leaves(program).find((l) => l.path.join(' ') === path.join(' '))!;
        let seen: string | undefined;
        // The real action would call a server; what matters here is the output format it would be given.
        leaf.command.action((...args: unknown[]) => {
          seen = globals(args.at(-1) as Command).output;
        });
        await program.parseAsync(argv(path, leaf.command), { from: 'user' });
        expect(seen).toBe(expected);
      }
    },
  );
});
