import type { Command } from 'commander';
import type * as z from 'zod';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import type * as api from '../../../api/index.ts';
import { client, collect, columns, listTable, print, readSecretInput } from '../io.ts';

/** The secret access key is in the answer to create only. */
type AccessKeyInfo = z.infer<typeof api.AccessKeyDescription> & { secretAccessKey?: string };

export function registerAccessKeyCommands(program: Command): void {
  const keys = program.command('access-key').description('SigV4 access keys for AWS clients');

  keys
    .command('create')
    .description('create a key pair for a principal, or import one with --access-key-id (secret on stdin)')
    .option('--principal <name>', 'who holds the key, e.g. ci-pipeline (root only); default: your own identity')
    .option('--policy <name>', 'repeatable', collect)
    .option(
      '--access-key-id <id>',
      'import an existing pair; its secret access key is read from stdin or --secret-file',
    )
    .option('--secret-access-key <secret>', 'import: the secret inline (visible in shell history; prefer stdin)')
    .option('--secret-file <path>', 'import: read the secret access key from a file')
    .action(async (flags: Record<string, string | string[] | undefined>, command: Command) => {
      let secretAccessKey = flags.secretAccessKey as string | undefined;
      if (flags.accessKeyId !== undefined && secretAccessKey === undefined) {
        secretAccessKey = (await readSecretInput(flags.secretFile as string | undefined)).toString('utf8');
      }
      if (flags.accessKeyId === undefined && secretAccessKey !== undefined) {
        throw new CliError('--secret-access-key needs --access-key-id', ExitCode.usage);
      }
      const body = {
        principal: flags.principal,
        policies: flags.policy,
        accessKeyId: flags.accessKeyId,
        secretAccessKey,
      };
      const created = await client(command).call<AccessKeyInfo>('POST', '/v1/sys/access-keys', { body });
      print(command, created, () =>
        columns([
          ['access key id', created.accessKeyId],
          ['secret access key', created.secretAccessKey ?? ''],
          ['principal', created.principal],
          ['policies', created.policies.join(',')],
        ]),
      );
    });

  keys.command('list').action(async (_flags: unknown, command: Command) => {
    const listed = await client(command).call<{ accessKeys: AccessKeyInfo[] }>('GET', '/v1/sys/access-keys');
    print(command, listed, () =>
      listTable(
        ['ACCESS KEY ID', 'PRINCIPAL', 'STATUS', 'POLICIES'],
        listed.accessKeys.map((k) => [k.accessKeyId, k.principal, k.status, k.policies.join(',')]),
      ),
    );
  });

  keys.command('delete <accessKeyId>').action(async (accessKeyId: string, _flags: unknown, command: Command) => {
    await client(command).call('DELETE', `/v1/sys/access-keys/${encodeURIComponent(accessKeyId)}`);
    print(command, { deleted: accessKeyId }, () => `deleted ${accessKeyId}`);
  });
}
