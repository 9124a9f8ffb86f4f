import type { Command } from 'commander';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import * as api from '../../../api/index.ts';
import { namePath } from '../../../sdk/name-path.ts';
import { client, collect, print } from '../io.ts';

function replicationTable(arn: string, replication: readonly api.ReplicaState[]): string {
  const lines = replication.map((r) =>
    `${r.region.padEnd(16)} ${r.status.padEnd(11)} ${r.statusMessage ?? ''}`.trimEnd(),
  );
  return [arn, ...(lines.length === 0 ? ['(no replicas)'] : lines)].join('\n');
}

/**
 * `coffer secret replicate|unreplicate|promote`: replication between regions, acting in `--region` (the primary's
 * region for the first two, the replica's for `promote`), as AWS's ReplicateSecretToRegions,
 * RemoveRegionsFromReplication and StopReplicationToReplica do.
 */
export function registerSecretReplication(secret: Command): void {
  secret
    .command('replicate <name>')
    .description('replicate a secret of --region to more regions (asynchronous: see `coffer secret describe`)')
    .requiredOption('--to <region>', 'a replica region, repeatable', collect)
    .option('--kms-key-id <key>', "the replicas' key (default: the default key)")
    .option('--force-overwrite', 'replace a secret of the same name in a replica region')
    .action(async (name: string, flags: { to: string[]; kmsKeyId?: string; forceOverwrite?: boolean }, command) => {
      const regions = flags.to.map((region) => ({
        region,
        ...(flags.kmsKeyId === undefined ? {} : { kmsKeyId: flags.kmsKeyId }),
      }));
      const answer = api.SecretReplication.parse(
        await client(command).call('POST', `/v1/secret/replicate/${namePath(name)}`, {
          body: { regions, ...(flags.forceOverwrite === true ? { forceOverwrite: true } : {}) },
        }),
      );
      print(command, answer, () => replicationTable(answer.arn, answer.replication));
    });

  secret
    .command('unreplicate <name>')
    .description('stop replicating a secret of --region to regions, deleting its replicas there')
    .requiredOption('--from <region>', 'a replica region, repeatable', collect)
    .action(async (name: string, flags: { from: string[] }, command: Command) => {
      if (flags.from.length === 0) throw new CliError('give at least one --from region', ExitCode.usage);
      const answer = api.SecretReplication.parse(
        await client(command).call('POST', `/v1/secret/unreplicate/${namePath(name)}`, {
          body: { regions: flags.from },
        }),
      );
      print(command, answer, () => replicationTable(answer.arn, answer.replication));
    });

  secret
    .command('promote <name>')
    .description('promote the replica in --region to a standalone secret (its primary stops replicating to it)')
    .action(async (name: string, _flags: unknown, command: Command) => {
      const answer = api.SecretPromoted.parse(
        await client(command).call('POST', `/v1/secret/promote/${namePath(name)}`),
      );
      print(command, answer, () => `promoted ${answer.arn}`);
    });
}
