import type { Command } from 'commander';
import type * as z from 'zod';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import type * as api from '../../../api/index.ts';
import { addRoleReadCommands, client, columns, print, readSecretInput } from '../io.ts';

type Token = z.infer<typeof api.OAuthToken>;
type Config = z.infer<typeof api.OAuthConfig>;

/** Scopes as one list, however they were given: repeated flags, commas or spaces. */
const scopes = (value: string, previous: string[] = []): string[] => [
  ...previous,
  ...value.split(/[\s,]+/).filter(Boolean),
];

const role = (name: string) => encodeURIComponent(name);

export function registerOAuthCommands(program: Command): void {
  const oauth = program
    .command('oauth')
    .description('OAuth engine: short-lived access tokens from an authorisation server, under leases');

  oauth
    .command('config')
    .description(
      'show the config, or (with --issuer and --client-id) configure the authorisation server and the client ' +
        'credential Coffer holds. The client secret is read from stdin or --client-secret-file, never from the ' +
        'command line (it would show in `ps`)',
    )
    .option('--issuer <url>', 'the issuer (https; its metadata is discovered)')
    .option('--client-id <id>')
    .option('--client-secret-file <path>', 'a file holding the client secret; default: stdin')
    .option('--client-auth-method <method>', 'client_secret_basic or client_secret_post', 'client_secret_basic')
    .option('--refresh-token-file <path>', 'a refresh token for roles of the refresh_token grant (rotated on use)')
    .action(
      async (
        flags: {
          issuer?: string;
          clientId?: string;
          clientSecretFile?: string;
          clientAuthMethod: string;
          refreshTokenFile?: string;
        },
        command: Command,
      ) => {
        if (flags.issuer === undefined && flags.clientId === undefined) {
          const shown = await client(command).call<Config>('GET', '/v1/oauth/config');
          print(command, shown, () => describeConfig(shown));
          return;
        }
        if (flags.issuer === undefined || flags.clientId === undefined) {
          throw new CliError('give both --issuer and --client-id (or neither, to show the config)', ExitCode.usage);
        }
        if (flags.refreshTokenFile === '-' && (flags.clientSecretFile ?? '-') === '-') {
          throw new CliError('stdin holds the client secret: give the refresh token with a file', ExitCode.usage);
        }
        const secret = (await readSecretInput(flags.clientSecretFile)).toString('utf8').trim();
        const refreshToken =
          flags.refreshTokenFile === undefined
            ? undefined
            : (await readSecretInput(flags.refreshTokenFile)).toString('utf8').trim();
        const saved = await client(command).call<Config>('PUT', '/v1/oauth/config', {
          body: {
            issuer: flags.issuer,
            client_id: flags.clientId,
            client_secret: secret,
            client_auth_method: flags.clientAuthMethod,
            ...(refreshToken !== undefined && { refresh_token: refreshToken }),
          },
        });
        print(command, saved, () => describeConfig(saved));
      },
    );
  oauth
    .command('config-delete')
    .description('delete the config and its sealed credential (nothing is issued until a new one is written)')
    .action(async (_flags: unknown, command: Command) => {
      print(command, await client(command).call('DELETE', '/v1/oauth/config'), () => 'deleted');
    });

  const roles = oauth.command('role').description('OAuth roles');
  roles
    .command('create <name>')
    .alias('put')
    .description('create or replace a role')
    .option('--grant <grant>', 'client_credentials or refresh_token', 'client_credentials')
    .option('--allowed-scopes <scopes>', 'the scopes a token may carry (commas or spaces; repeatable)', scopes)
    .option('--default-scopes <scopes>', 'asked for when the caller names none', scopes)
    .option('--audience <audience>', 'the audience parameter (Auth0, Okta)')
    .option('--resource <url>', 'an RFC 8707 resource indicator; repeatable', (v: string, p: string[] = []) => [
      ...p,
      v,
    ])
    .option('--ttl <duration>')
    .option('--max-ttl <duration>')
    .action(async (name: string, flags: Record<string, unknown>, command: Command) => {
      const saved = await client(command).call('PUT', `/v1/oauth/roles/${role(name)}`, {
        body: {
          grant: flags.grant,
          allowed_scopes: flags.allowedScopes,
          default_scopes: flags.defaultScopes,
          audience: flags.audience,
          resource: flags.resource,
          ttl: flags.ttl,
          max_ttl: flags.maxTtl,
        },
      });
      print(command, saved, () => `saved role ${name}`);
    });
  addRoleReadCommands(roles, '/v1/oauth/roles');

  oauth
    .command('creds <role>')
    .description('an access token under a lease (revoking the lease revokes the token at the server)')
    .option('--scope <scopes>', "scopes to ask for (commas or spaces; repeatable); default: the role's", scopes)
    .option('--ttl <duration>', "e.g. 10m; capped by the token's expiry and the role's max_ttl")
    .action(async (roleName: string, flags: { scope?: string[]; ttl?: string }, command: Command) => {
      const issued = await client(command).call<Token>('POST', `/v1/oauth/creds/${role(roleName)}`, {
        body: { scopes: flags.scope, ttl: flags.ttl },
      });
      print(command, issued, () =>
        columns([
          ['lease', issued.leaseId],
          ['access_token', issued.access_token],
          ['token_type', issued.token_type],
          ['scope', issued.scope],
          ['expires', issued.expiresAt],
          ['token_expires', issued.token_expires_at ?? '-'],
        ]),
      );
    });
}

function describeConfig(config: Config): string {
  return columns([
    ['issuer', config.issuer],
    ['client_id', config.client_id],
    ['client_auth_method', config.client_auth_method],
    ['client_secret', 'set (sealed)'],
    ['refresh_token', config.refresh_token_set ? 'set (sealed)' : 'not set'],
    ['token_endpoint', config.token_endpoint],
    ['revocation_endpoint', config.revocation_endpoint ?? '- (tokens end at their expiry)'],
  ]);
}
