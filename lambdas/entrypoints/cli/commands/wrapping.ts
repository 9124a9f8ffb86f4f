import type { Command } from 'commander';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import { client, print, readSecretInput } from '../io.ts';

/**
 * `coffer unwrap` and `coffer wrapping lookup`: the receiving end of `--wrap-ttl`. The wrapping token is read from
 * stdin unless given (an argument shows up in process listings); it is the only credential these need.
 */
export function registerWrappingCommands(program: Command): void {
  program
    .command('unwrap [token]')
    .description('open a response-wrapped answer, once (the token from stdin when not given)')
    .action(async (token: string | undefined, _opts: unknown, command: Command) => {
      const wrappingToken = await tokenFrom(token);
      print(command, await client(command).call('POST', '/v1/sys/wrapping/unwrap', { body: { token: wrappingToken } }));
    });
  program
    .command('wrapping')
    .description('response wrapping')
    .command('lookup [token]')
    .description('when and by which operation a wrapping token was made, without using it up')
    .action(async (token: string | undefined, _opts: unknown, command: Command) => {
      const wrappingToken = await tokenFrom(token);
      print(command, await client(command).call('POST', '/v1/sys/wrapping/lookup', { body: { token: wrappingToken } }));
    });
}

async function tokenFrom(given: string | undefined): Promise<string> {
  if ((given === undefined || given === '-') && process.stdin.isTTY) {
    throw new CliError('no wrapping token: pass it or pipe it on stdin', ExitCode.usage);
  }
  const token =
    given !== undefined && given !== '-' ? given : (await readSecretInput(undefined)).toString('utf8').trim();
  if (token === '') throw new CliError('no wrapping token: pass it or pipe it on stdin', ExitCode.usage);
  return token;
}
