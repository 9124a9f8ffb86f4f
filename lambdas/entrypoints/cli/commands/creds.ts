import type { Command } from 'commander';
import type * as z from 'zod';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import type * as api from '../../../api/index.ts';
import { client, columns, print } from '../io.ts';

type Issued = z.infer<typeof api.DatabaseCredential> | z.infer<typeof api.AwsCredential>;

/** `db/<role>` or `aws/<role>` → the engine's creds path. */
function credsPath(target: string): string {
  const match = /^(db|database|aws)\/([a-z0-9][a-z0-9_-]{0,62})$/.exec(target);
  if (match === null) throw new CliError(`expected db/<role> or aws/<role>, got "${target}"`, ExitCode.usage);
  return match[1] === 'aws' ? `/v1/aws/creds/${match[2]}` : `/v1/database/creds/${match[2]}`;
}

export function registerCredsCommands(program: Command): void {
  const creds = program.command('creds').description('issue dynamic credentials under a lease');
  creds
    .command('get <target>')
    .description(
      'issue credentials, e.g. `coffer creds get db/app` or `coffer creds get aws/deploy`, with a lease id and TTL',
    )
    .option('--ttl <duration>', 'e.g. 15m; default and cap come from the role')
    .action(async (target: string, flags: { ttl?: string }, command: Command) => {
      const api = client(command);
      const path = credsPath(target);
      const issued =
        flags.ttl === undefined
          ? await api.call<Issued>('GET', path)
          : await api.call<Issued>('POST', path, { body: { ttl: flags.ttl } });
      print(command, issued, () =>
        columns([
          ...('username' in issued
            ? [
                ['username', issued.username],
                ['password', issued.password],
              ]
            : [
                ['access_key_id', issued.accessKeyId],
                ['secret_access_key', issued.secretAccessKey],
                ['session_token', issued.sessionToken],
              ]),
          ['lease_id', issued.leaseId],
          ['lease_duration', `${issued.leaseDuration}s`],
          ['expires', issued.expiresAt],
          ['max_expires', issued.maxExpiresAt],
        ]),
      );
    });
}
