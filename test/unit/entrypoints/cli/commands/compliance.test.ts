import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../../../../lambdas/entrypoints/cli/main.ts';

function reportCommand(program: Command): Command {
  const compliance = program.commands.find((c) => c.name() === 'compliance')!;
  return compliance.commands.find((c) => c.name() === 'report')!;
}

describe('Command: coffer compliance report', () => {
  it('leaves the window to the server when --since is not given (on AWS only its function window is reported)', async () => {
    const program = buildProgram();
    let since: unknown = 'not called';
    reportCommand(program).action((flags: { since?: string }) => {
      since = flags.since;
    });

    await program.parseAsync(['compliance', 'report'], { from: 'user' });

    expect(since).toBeUndefined();
  });

  it('sends the window given', async () => {
    const program = buildProgram();
    let since: unknown;
    reportCommand(program).action((flags: { since?: string }) => {
      since = flags.since;
    });

    await program.parseAsync(['compliance', 'report', '--since', '7d'], { from: 'user' });

    expect(since).toBe('7d');
  });
});
