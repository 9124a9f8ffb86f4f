import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { CliError, ExitCode } from '../../../../../lambdas/agent/exit-codes.ts';
import { registerDevCommands } from '../../../../../lambdas/entrypoints/cli/commands/dev.ts';

/** Parses `argv` as `coffer dev postgres …` would, and returns the flags its action would get. */
async function flagsOf(argv: string[]): Promise<{ dataDir: string; port: number }> {
  const program = new Command('coffer').exitOverride();
  registerDevCommands(program);
  const postgres = program.commands.find((c) => c.name() === 'dev')!.commands.find((c) => c.name() === 'postgres')!;
  let seen: { dataDir: string; port: number } | undefined;
  // The real action starts PostgreSQL (the e2e test runs it); here only the parsed flags matter.
  postgres.action((flags: { dataDir: string; port: number }) => {
    seen = flags;
  });
  await program.parseAsync(['dev', 'postgres', ...argv], { from: 'user' });
  return seen!;
}

describe('Command: coffer dev postgres', () => {
  it('defaults to .coffer-postgres and port 5433 (beside a system PostgreSQL on 5432)', async () => {
    expect(await flagsOf([])).toEqual({ dataDir: '.coffer-postgres', port: 5433 });
  });

  it('takes --data-dir and --port, 0 included', async () => {
    expect(await flagsOf(['--data-dir', '/srv/pg', '--port', '0'])).toEqual({ dataDir: '/srv/pg', port: 0 });
  });

  it.each([['70000'], ['-1'], ['5433x'], ['']])('refuses --port %j as a usage error', async (port) => {
    const err = await flagsOf(['--port', port]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(ExitCode.usage);
  });
});
