import type { Command } from 'commander';
import type * as z from 'zod';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import type * as api from '../../../api/index.ts';
import { client, columns, listTable, print } from '../io.ts';
import { progressOf } from '../progress.ts';

type Lease = z.infer<typeof api.LeaseDescription>;

function table(leases: readonly Lease[], failed: boolean): string {
  const header = failed ? ['LEASE', 'STATE', 'ATTEMPTS', 'LAST ERROR'] : ['LEASE', 'STATE', 'EXPIRES'];
  const rows = leases.map((l) =>
    failed ? [l.leaseId, l.state, String(l.attempts), l.lastError ?? ''] : [l.leaseId, l.state, l.expiresAt],
  );
  return listTable(header, rows);
}

export function registerLeaseCommands(program: Command): void {
  const lease = program.command('lease').description('list, renew and revoke the leases of dynamic credentials');

  lease
    .command('list')
    .description('list leases (all pages)')
    .option('--prefix <prefix>', 'e.g. database/creds/app/')
    .option('--failed', 'only revocations that failed: last error and attempt count')
    .action(async (flags: { prefix?: string; failed?: boolean }, command: Command) => {
      const api = client(command);
      const leases: Lease[] = [];
      let cursor: string | undefined;
      do {
        const page = await api.call<{ leases: Lease[]; nextCursor?: string }>('GET', '/v1/sys/leases', {
          query: { prefix: flags.prefix, failed: flags.failed === true ? 'true' : undefined, limit: 1000, cursor },
        });
        leases.push(...page.leases);
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      print(command, { leases }, () => table(leases, flags.failed === true));
    });

  lease
    .command('lookup <leaseId>')
    .description('describe one lease')
    .action(async (leaseId: string, _flags: unknown, command: Command) => {
      const info = await client(command).call<Lease>('POST', '/v1/sys/leases/lookup', { body: { leaseId } });
      print(command, info, () => table([info], info.attempts > 0));
    });

  lease
    .command('renew <leaseId>')
    .description('extend a lease from now (capped by its max TTL)')
    .option('--increment <duration>', 'default: the TTL it was issued with')
    .action(async (leaseId: string, flags: { increment?: string }, command: Command) => {
      const info = await client(command).call<Lease & { leaseDuration: number; capped: boolean }>(
        'POST',
        '/v1/sys/leases/renew',
        { body: { leaseId, increment: flags.increment } },
      );
      print(command, info, () =>
        columns([
          ['lease_id', info.leaseId],
          ['lease_duration', `${info.leaseDuration}s${info.capped ? ' (capped by max TTL)' : ''}`],
          ['expires', info.expiresAt],
        ]),
      );
    });

  lease
    .command('revoke [leaseId]')
    .description('revoke a lease, or every lease under --prefix')
    .option('--prefix <prefix>', 'revoke a whole subtree, e.g. database/creds/app/')
    .action(async (leaseId: string | undefined, flags: { prefix?: string }, command: Command) => {
      if ((leaseId === undefined) === (flags.prefix === undefined)) {
        throw new CliError('give a lease id or --prefix (not both)', ExitCode.usage);
      }
      const api = client(command);
      if (flags.prefix !== undefined) {
        // One call revokes the whole subtree in batches (the server reports only the final counts): a spinner and
        // the time taken meanwhile, so a big subtree does not read as a hang.
        const out = await progressOf(command, `revoking leases under ${flags.prefix}`).run(
          () =>
            api.call<{ revoked: number; failed: number }>('POST', '/v1/sys/leases/revoke-prefix', {
              body: { prefix: flags.prefix },
            }),
          (counts) => `${counts.revoked} revoked${counts.failed > 0 ? `, ${counts.failed} failed (will retry)` : ''}`,
        );
        print(
          command,
          out,
          () => `revoked ${out.revoked}${out.failed > 0 ? `, ${out.failed} failed (will retry)` : ''}`,
        );
        return;
      }
      const out = await api.call<{ revoked: boolean; lastError?: string; attempts?: number }>(
        'POST',
        '/v1/sys/leases/revoke',
        { body: { leaseId } },
      );
      if (!out.revoked) process.stderr.write(`revocation failed and will be retried: ${out.lastError ?? ''}\n`);
      print(command, out, () => (out.revoked ? `revoked ${leaseId}` : `pending ${leaseId}`));
    });
}
