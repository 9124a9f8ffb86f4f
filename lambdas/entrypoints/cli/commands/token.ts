import type { Command } from 'commander';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import { client, collect, columns, integer, keyValues, print } from '../io.ts';

type TokenInfo = Record<string, unknown> & {
  accessor: string;
  policies: string[];
  expiresAt: string | null;
  /** Absent from servers older than identities. */
  identity?: { name: string };
};

function describe(info: TokenInfo): string {
  return columns([
    ['accessor', info.accessor],
    ...(info.identity === undefined ? [] : [['identity', info.identity.name]]),
    ['policies', info.policies.join(',')],
    ['expires', info.expiresAt ?? 'never'],
    ['uses remaining', String(info.numUses === 0 ? 'unlimited' : info.usesRemaining)],
    ['renewable', String(info.renewable)],
  ]);
}

export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('create, inspect, renew and revoke tokens');

  token
    .command('create')
    .description('create a child of the calling token')
    .option('--policy <name>', 'repeatable; default: the caller’s policies', collect)
    .option('--ttl <duration>', 'e.g. 1h, 30m, 3600')
    .option('--explicit-max-ttl <duration>')
    .option('--num-uses <n>', '0 = unlimited', integer('--num-uses'))
    .option('--no-renewable', 'the token cannot be renewed')
    .option('--orphan', 'no parent: survives revocation of the caller (root only)')
    .option('--display-name <name>', 'a label shown by lookups; the token still acts as the caller’s identity')
    .option('--meta <key=value>', 'a label shown by lookups, repeatable', collect)
    .option('--identity <name>', 'act as another identity (root only)')
    .option('--identity-meta <key=value>', 'metadata of --identity, repeatable', collect)
    .action(async (flags: Record<string, unknown>, command: Command) => {
      const identityMeta = keyValues(flags.identityMeta as string[] | undefined, '--identity-meta');
      if (identityMeta !== undefined && flags.identity === undefined) {
        throw new CliError('--identity-meta needs --identity', ExitCode.usage);
      }
      const body = {
        policies: flags.policy,
        ttl: flags.ttl,
        explicitMaxTtl: flags.explicitMaxTtl,
        numUses: flags.numUses,
        renewable: flags.renewable,
        noParent: flags.orphan === true ? true : undefined,
        displayName: flags.displayName,
        meta: keyValues(flags.meta as string[] | undefined, '--meta'),
        identity: flags.identity === undefined ? undefined : { name: flags.identity, metadata: identityMeta },
      };
      const created = await client(command).call<TokenInfo & { token: string }>('POST', '/v1/auth/token/create', {
        body,
      });
      print(command, created, () => `token     ${created.token}\n${describe(created)}`);
    });

  token
    .command('lookup')
    .description('describe the calling token, or another by --accessor')
    .option('--accessor <accessor>')
    .action(async (flags: { accessor?: string }, command: Command) => {
      const api = client(command);
      const info =
        flags.accessor === undefined
          ? await api.call<TokenInfo>('GET', '/v1/auth/token/lookup-self')
          : await api.call<TokenInfo>('POST', '/v1/auth/token/lookup', { body: { accessor: flags.accessor } });
      print(command, info, () => describe(info));
    });

  token
    .command('renew')
    .description('renew the calling token, or another by --accessor')
    .option('--accessor <accessor>')
    .option('--increment <duration>')
    .action(async (flags: { accessor?: string; increment?: string }, command: Command) => {
      const api = client(command);
      const info =
        flags.accessor === undefined
          ? await api.call<TokenInfo>('POST', '/v1/auth/token/renew-self', { body: { increment: flags.increment } })
          : await api.call<TokenInfo>('POST', '/v1/auth/token/renew', {
              body: { accessor: flags.accessor, increment: flags.increment },
            });
      print(command, info, () => describe(info));
    });

  token
    .command('revoke')
    .description('revoke the calling token, or another by --accessor (children too, unless --orphan)')
    .option('--accessor <accessor>')
    .option('--orphan', 'keep the children, as orphans')
    .action(async (flags: { accessor?: string; orphan?: boolean }, command: Command) => {
      const api = client(command);
      if (flags.accessor === undefined) await api.call('POST', '/v1/auth/token/revoke-self');
      else
        await api.call('POST', '/v1/auth/token/revoke', { body: { accessor: flags.accessor, orphan: flags.orphan } });
      print(command, { revoked: true }, () => 'revoked');
    });
}
