import type { Command } from 'commander';
import type * as z from 'zod';
import type * as api from '../../../api/index.ts';
import { client, collect, columns, listTable, print } from '../io.ts';

type Mapping = z.infer<typeof api.IamMapping>;

/** `coffer iam map|list|unmap`: which IAM callers of the AWS deployment get which Coffer policies. */
export function registerIamCommands(program: Command): void {
  const iam = program.command('iam').description('map IAM callers (AWS deployment) to Coffer policies');

  iam
    .command('map <pattern>')
    .description('give callers whose ARN matches the pattern (a trailing * matches a prefix) these policies')
    .requiredOption('--policy <name>', 'repeatable', collect)
    .action(async (pattern: string, flags: { policy: string[] }, command: Command) => {
      const mapped = await client(command).call<Mapping>('PUT', '/v1/auth/iam/mappings', {
        body: { pattern, policies: flags.policy },
      });
      print(command, mapped, () => columns([[mapped.pattern, mapped.policies.join(',')]]));
    });

  iam
    .command('list')
    .description('list the mappings')
    .action(async (_flags: unknown, command: Command) => {
      const { mappings } = await client(command).call<{ mappings: Mapping[] }>('GET', '/v1/auth/iam/mappings');
      print(command, { mappings }, () =>
        listTable(
          ['PATTERN', 'POLICIES'],
          mappings.map((m) => [m.pattern, m.policies.join(',')]),
        ),
      );
    });

  iam
    .command('unmap <pattern>')
    .description('remove the mapping of a pattern')
    .action(async (pattern: string, _flags: unknown, command: Command) => {
      await client(command).call('DELETE', '/v1/auth/iam/mappings', { query: { pattern } });
      print(command, { unmapped: pattern }, () => `unmapped ${pattern}`);
    });
}
