import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import type { AppRoleSecretIdCreated, AuthMount, AuthMountList, AuthRole, LoginResponse } from '../../../api/auth.ts';
import {
  client,
  collect,
  columns,
  integer,
  keyValues,
  listTable,
  NONE,
  nameList,
  print,
  readSecretInput,
  tableOf,
} from '../io.ts';
import { ldapLoginBody, registerLdapCommands } from './ldap.ts';

const DEFAULT_APPROLE_PATH = 'approle';
const enc = encodeURIComponent;

/**
 * How `coffer login --method <m>` builds each method's login body from its flags (credentials from a file or stdin,
 * never argv). A method without an entry is refused with the list of those that have one.
 */
const LOGIN_BODIES: Record<string, (flags: LoginFlags) => Promise<Record<string, unknown>>> = {
  async approle(flags) {
    if (flags.roleId === undefined) throw new CliError('--method approle needs --role-id', ExitCode.usage);
    const secretId = (await readSecretInput(flags.secretIdFile)).toString('utf8');
    if (secretId === '') throw new CliError('the secret id is empty', ExitCode.usage);
    return { role_id: flags.roleId, secret_id: secretId };
  },
  async jwt(flags) {
    if (flags.role === undefined) throw new CliError('--method jwt needs --role', ExitCode.usage);
    const jwt = (await readSecretInput(flags.jwtFile)).toString('utf8').trim();
    if (jwt === '') throw new CliError('the JWT is empty', ExitCode.usage);
    return { role: flags.role, jwt };
  },
  async kubernetes(flags) {
    if (flags.role === undefined) throw new CliError('--method kubernetes needs --role', ExitCode.usage);
    // Where the kubelet mounts a pod's service-account token; `-` reads stdin.
    const file = flags.jwtFile ?? '/var/run/secrets/kubernetes.io/serviceaccount/token';
    const jwt = (await readSecretInput(file)).toString('utf8').trim();
    if (jwt === '') throw new CliError('the service-account token is empty', ExitCode.usage);
    return { role: flags.role, jwt };
  },
  // The credential is the TLS client certificate (--client-cert/--client-key or COFFER_CLIENT_CERT/_KEY), not the body.
  async cert(flags) {
    return flags.name === undefined ? {} : { name: flags.name };
  },
  ldap: (flags) => ldapLoginBody(flags),
};

interface EnableFlags {
  path?: string;
  description?: string;
  configFile?: string;
  userLockoutThreshold?: number;
  userLockoutDuration?: string;
  userLockoutCounterReset?: string;
  userLockoutDisable?: boolean;
}

/** The `--user-lockout-*` flags as the mount's `user_lockout_config` (Vault's `auth tune` flags), if any was given. */
function userLockoutConfig(flags: EnableFlags): Record<string, unknown> | undefined {
  const config = {
    lockout_threshold: flags.userLockoutThreshold,
    lockout_duration: flags.userLockoutDuration,
    lockout_counter_reset: flags.userLockoutCounterReset,
    lockout_disable: flags.userLockoutDisable,
  };
  return Object.values(config).every((value) => value === undefined) ? undefined : config;
}

/** `--config-file`: the mount's configuration, a JSON object the server validates against the method's schema. */
export async function readJsonObject(file: string): Promise<Record<string, unknown>> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new CliError(`--config-file: cannot read ${file}: ${err.code ?? 'error'}`, ExitCode.usage);
  });
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as Record<string, unknown>;
  } catch {
    throw new CliError(`${file} must hold a JSON object`, ExitCode.usage);
  }
}

interface LoginFlags {
  method: string;
  path?: string;
  roleId?: string;
  secretIdFile?: string;
  role?: string;
  jwtFile?: string;
  name?: string;
  clientCert?: string;
  clientKey?: string;
  username?: string;
  passwordFile?: string;
  field?: string;
}

function describeMounts(list: AuthMountList): string {
  if (list.mounts.length === 0) return NONE;
  return listTable(
    ['PATH', 'TYPE', 'ACCESSOR', 'DESCRIPTION'],
    list.mounts.map((m) => [`${m.path}/`, m.type, m.accessor, m.description]),
  );
}

export function registerAuthCommands(program: Command): void {
  const auth = program.command('auth').description('enable, list and disable auth methods (approle, …)');

  auth
    .command('enable <type>')
    .description('mount an auth method at /v1/auth/<path> (default: its type); a method may be mounted more than once')
    .option('--path <mount>', 'where to mount it (default: the type)')
    .option('--description <text>')
    .option('--config-file <file>', "the method's configuration as a JSON object (jwt: jwks_url, bound_issuer, …)")
    .option(
      '--user-lockout-threshold <n>',
      'failed logins that lock a user or role out (default 5)',
      integer('--user-lockout-threshold'),
    )
    .option('--user-lockout-duration <duration>', 'how long a lockout lasts (default 15m)')
    .option('--user-lockout-counter-reset <duration>', 'failures older than this stop counting (default 15m)')
    .option('--user-lockout-disable', 'no lockout on this mount')
    .action(async (type: string, flags: EnableFlags, command: Command) => {
      const path = flags.path ?? type;
      const config = flags.configFile === undefined ? undefined : await readJsonObject(flags.configFile);
      const mount = await client(command).call<AuthMount>('POST', `/v1/sys/auth/${enc(path)}`, {
        body: { type, description: flags.description, config, user_lockout_config: userLockoutConfig(flags) },
      });
      print(command, mount, () => `enabled ${mount.type} at auth/${mount.path}/`);
    });

  auth
    .command('tune <mount>')
    .description("change a mount's login lockout (AppRole, LDAP): the flags given replace the mount's lockout settings")
    .option(
      '--user-lockout-threshold <n>',
      'failed logins that lock a user or role out (default 5)',
      integer('--user-lockout-threshold'),
    )
    .option('--user-lockout-duration <duration>', 'how long a lockout lasts (default 15m)')
    .option('--user-lockout-counter-reset <duration>', 'failures older than this stop counting (default 15m)')
    .option('--user-lockout-disable', 'no lockout on this mount')
    .action(async (path: string, flags: EnableFlags, command: Command) => {
      const lockout = userLockoutConfig(flags);
      if (lockout === undefined) throw new CliError('give at least one --user-lockout-* flag', ExitCode.usage);
      const mount = await client(command).call<AuthMount>('POST', `/v1/sys/auth/${enc(path)}/tune`, {
        body: { user_lockout_config: lockout },
      });
      print(command, mount, () => `tuned auth/${mount.path}/`);
    });

  auth
    .command('config <mount>')
    .description(
      "show a mount's method configuration, or replace it with --config-file (roles and tokens stay; credentials in it are sealed)",
    )
    .option('--config-file <file>', 'the new configuration as a JSON object (replaces the whole configuration)')
    .action(async (path: string, flags: { configFile?: string }, command: Command) => {
      const api = client(command);
      const mount =
        flags.configFile === undefined
          ? await api.call<AuthMount>('GET', `/v1/auth/${enc(path)}/config`)
          : await api.call<AuthMount>('POST', `/v1/auth/${enc(path)}/config`, {
              body: await readJsonObject(flags.configFile),
            });
      print(command, mount, () =>
        flags.configFile === undefined ? tableOf(mount.config) : `configured auth/${mount.path}/`,
      );
    });

  auth
    .command('list')
    .description('list the mounted auth methods')
    .action(async (_flags: unknown, command: Command) => {
      const list = await client(command).call<AuthMountList>('GET', '/v1/sys/auth');
      print(command, list, () => describeMounts(list));
    });

  auth
    .command('disable <mount>')
    .description('unmount an auth method: its roles and credentials go, and the tokens its logins issued are revoked')
    .action(async (mount: string, _flags: unknown, command: Command) => {
      const result = await client(command).call<{ path: string; revokedTokens: number }>(
        'DELETE',
        `/v1/sys/auth/${enc(mount)}`,
      );
      print(command, result, () => `disabled auth/${result.path}/ (${result.revokedTokens} tokens revoked)`);
    });

  registerAppRoleCommands(program);
  registerJwtCommands(program);
  registerCertCommands(program);
  registerLdapCommands(program);

  program
    .command('login')
    .description(
      'log in with an auth method for a token: prints the token and its accessor (-o json: the whole answer, ' +
        'e.g. export COFFER_TOKEN=$(coffer login … -o json | jq -r .auth.client_token), or --field token)',
    )
    .requiredOption('--method <method>', `the auth method: ${Object.keys(LOGIN_BODIES).join(', ')}`)
    .option('--path <mount>', 'where the method is mounted (default: the method)')
    .option('--role-id <id>', 'approle: the role id')
    .option('--secret-id-file <file>', 'approle: a file holding the secret id (default: stdin)')
    .option('--role <name>', 'jwt, kubernetes: the role to log in with')
    .option(
      '--jwt-file <file>',
      "jwt: a file holding the JWT, e.g. a CI job's OIDC token (default: stdin); kubernetes: the service-account " +
        'token (default: /var/run/secrets/kubernetes.io/serviceaccount/token)',
    )
    .option('--name <role>', 'cert: the role to try (default: every role of the mount, in name order)')
    .option('--client-cert <file>', 'cert: the client certificate (PEM) to present, or COFFER_CLIENT_CERT')
    .option('--client-key <file>', 'cert: the key of --client-cert (PEM), or COFFER_CLIENT_KEY')
    .option('--username <name>', 'ldap: the directory username')
    .option(
      '--password-file <file>',
      'ldap: a file holding the password (default: COFFER_PASSWORD, else a prompt on a terminal, else stdin)',
    )
    .option('--field <name>', 'print only this field of the answer: token or accessor')
    .action(async (flags: LoginFlags, command: Command) => {
      const build = LOGIN_BODIES[flags.method];
      if (build === undefined || !Object.hasOwn(LOGIN_BODIES, flags.method)) {
        throw new CliError(
          `coffer login does not know --method ${flags.method}; expected one of ${Object.keys(LOGIN_BODIES).join(', ')}`,
          ExitCode.usage,
        );
      }
      if (flags.field !== undefined && flags.field !== 'token' && flags.field !== 'accessor') {
        throw new CliError('--field must be token or accessor', ExitCode.usage);
      }
      const body = await build(flags);
      const path = flags.path ?? flags.method;
      const tls = definedOnly({ clientCertFile: flags.clientCert, clientKeyFile: flags.clientKey });
      const answer = await client(command, tls).call<LoginResponse>('POST', `/v1/auth/${enc(path)}/login`, { body });
      const { auth: login } = answer;
      if (flags.field !== undefined) {
        process.stdout.write(`${flags.field === 'token' ? login.client_token : login.accessor}\n`);
        return;
      }
      print(command, answer, () =>
        columns([
          ['token', login.client_token],
          ['accessor', login.accessor],
          ['policies', login.policies.join(',') || NONE],
          ['duration', `${login.lease_duration}s`],
          ['role', `${login.mount_path}/${login.role_name}`],
        ]),
      );
    });
}

function registerAppRoleCommands(program: Command): void {
  const approle = program.command('approle').description('AppRole roles, role ids and secret ids');
  const role = approle.command('role').description('create, read, list and delete AppRole roles');
  const base = (path: string | undefined) => `/v1/auth/${enc(path ?? DEFAULT_APPROLE_PATH)}/role`;

  role
    .command('put <name>')
    .description('create or replace a role (it may grant only policies you hold, and they must exist)')
    .option('--path <mount>', `the AppRole mount (default ${DEFAULT_APPROLE_PATH})`)
    .option('--policy <name>', 'a policy of its tokens, repeatable', collect)
    .option('--token-ttl <duration>')
    .option('--token-max-ttl <duration>')
    .option('--token-num-uses <n>', '0 = unlimited', integer('--token-num-uses'))
    .option('--token-cidr <cidr>', 'its tokens work only from here, repeatable', collect)
    .option('--secret-id-ttl <duration>', '0 = secret ids never expire')
    .option('--secret-id-num-uses <n>', '0 = unlimited', integer('--secret-id-num-uses'))
    .option('--cidr <cidr>', 'logins only from here (secret_id_bound_cidrs), repeatable', collect)
    .option('--no-bind-secret-id', 'log in with the role id alone (needs --cidr or --token-cidr)')
    .action(async (name: string, flags: Record<string, unknown>, command: Command) => {
      await putRole(command, base, name, flags, {
        token_policies: flags.policy,
        token_ttl: flags.tokenTtl,
        token_max_ttl: flags.tokenMaxTtl,
        token_num_uses: flags.tokenNumUses,
        token_bound_cidrs: flags.tokenCidr,
        secret_id_ttl: flags.secretIdTtl,
        secret_id_num_uses: flags.secretIdNumUses,
        secret_id_bound_cidrs: flags.cidr,
        bind_secret_id: flags.bindSecretId,
      });
    });

  registerRoleReads(role, {
    pathOption: ['--path <mount>', `the AppRole mount (default ${DEFAULT_APPROLE_PATH})`],
    base,
    cell: (value) => (Array.isArray(value) ? value.join(',') || NONE : String(value)),
    deleted: 'delete a role: its role id and secret ids stop working',
  });

  approle
    .command('role-id <name>')
    .description("print a role's role id")
    .option('--path <mount>', `the AppRole mount (default ${DEFAULT_APPROLE_PATH})`)
    .action(async (name: string, flags: { path?: string }, command: Command) => {
      const result = await client(command).call<{ role_id: string }>('GET', `${base(flags.path)}/${enc(name)}/role-id`);
      print(command, result, () => result.role_id);
    });

  const secretId = approle.command('secret-id').description('issue and destroy secret ids');
  secretId
    .command('create <name>')
    .description('issue a secret id for a role (shown once): TTL, uses and CIDRs within the role’s')
    .option('--path <mount>', `the AppRole mount (default ${DEFAULT_APPROLE_PATH})`)
    .option('--ttl <duration>')
    .option('--num-uses <n>', '0 = unlimited', integer('--num-uses'))
    .option('--cidr <cidr>', 'logins only from here, repeatable', collect)
    .option('--meta <key=value>', 'metadata its tokens carry, repeatable', collect)
    .action(async (name: string, flags: Record<string, unknown>, command: Command) => {
      const body = {
        ttl: flags.ttl,
        num_uses: flags.numUses,
        cidr_list: flags.cidr,
        metadata: keyValues(flags.meta as string[] | undefined, '--meta'),
      };
      const result = await client(command).call<AppRoleSecretIdCreated>(
        'POST',
        `${base(flags.path as string | undefined)}/${enc(name)}/secret-id`,
        { body },
      );
      print(command, result, () =>
        columns([
          ['secret_id', result.secret_id],
          ['secret_id_accessor', result.secret_id_accessor],
          ['ttl', result.secret_id_ttl === 0 ? 'never expires' : `${result.secret_id_ttl}s`],
          ['num_uses', result.secret_id_num_uses === 0 ? 'unlimited' : String(result.secret_id_num_uses)],
        ]),
      );
    });

  secretId
    .command('destroy <name>')
    .description('destroy a secret id by its accessor')
    .requiredOption('--accessor <accessor>')
    .option('--path <mount>', `the AppRole mount (default ${DEFAULT_APPROLE_PATH})`)
    .action(async (name: string, flags: { accessor: string; path?: string }, command: Command) => {
      await client(command).call('POST', `${base(flags.path)}/${enc(name)}/secret-id-accessor/destroy`, {
        body: { secret_id_accessor: flags.accessor },
      });
      print(command, { destroyed: flags.accessor }, () => 'destroyed');
    });
}

const DEFAULT_JWT_PATH = 'jwt';

/**
 * `coffer jwt role put|get|list|delete`: JWT roles. A role's bindings are maps and lists (bound_claims with several
 * values, claim_mappings), so `--file` takes the whole role as JSON and the flags cover the common fields, overriding
 * the file's.
 */
function registerJwtCommands(program: Command): void {
  const jwt = program.command('jwt').description('JWT/OIDC roles (GitHub Actions, GitLab, any OIDC issuer)');
  const role = jwt.command('role').description('create, read, list and delete JWT roles');
  const base = (path: string | undefined) => `/v1/auth/${enc(path ?? DEFAULT_JWT_PATH)}/role`;
  const pathOption = ['--path <mount>', `the JWT mount (default ${DEFAULT_JWT_PATH})`] as const;

  role
    .command('put <name>')
    .description(
      'create or replace a role (it must bind an audience, subject or claim; it may grant only policies you hold)',
    )
    .option(...pathOption)
    .option('--file <file>', 'the role as a JSON object; the flags below override its fields')
    .option('--policy <name>', 'a policy of its tokens, repeatable', collect)
    .option('--audience <aud>', 'bound_audiences, repeatable', collect)
    .option('--subject <sub>', 'bound_subject')
    .option(
      '--bound-claim <claim=value>',
      'bound_claims (one value per claim here; lists via --file), repeatable',
      collect,
    )
    .option('--glob', 'bound_claims_type glob: * in a bound value matches any characters')
    .option('--claim-mapping <claim=key>', 'claim_mappings: a claim into token metadata, repeatable', collect)
    .option('--user-claim <claim>', 'the claim naming the workload (default sub)')
    .option('--token-ttl <duration>')
    .option('--token-max-ttl <duration>')
    .action(async (name: string, flags: Record<string, unknown>, command: Command) => {
      await putRole(command, base, name, flags, {
        token_policies: flags.policy,
        bound_audiences: flags.audience,
        bound_subject: flags.subject,
        bound_claims: keyValues(flags.boundClaim as string[] | undefined, '--bound-claim'),
        bound_claims_type: flags.glob === true ? 'glob' : undefined,
        claim_mappings: keyValues(flags.claimMapping as string[] | undefined, '--claim-mapping'),
        user_claim: flags.userClaim,
        token_ttl: flags.tokenTtl,
        token_max_ttl: flags.tokenMaxTtl,
      });
    });

  registerRoleReads(role, {
    pathOption,
    base,
    cell: (value) => (typeof value === 'string' ? value : JSON.stringify(value)),
    deleted: 'delete a role: logins with it stop working',
  });
}

const DEFAULT_CERT_PATH = 'cert';

function registerCertCommands(program: Command): void {
  const cert = program.command('cert').description('TLS certificate roles (mTLS clients, SPIFFE IDs)');
  const role = cert.command('role').description('create, read, list and delete certificate roles');
  const base = (path: string | undefined) => `/v1/auth/${enc(path ?? DEFAULT_CERT_PATH)}/role`;
  const pathOption = ['--path <mount>', `the certificate mount (default ${DEFAULT_CERT_PATH})`] as const;

  role
    .command('put <name>')
    .description('create or replace a role: the CA its clients chain to, the names they must carry, their policies')
    .option(...pathOption)
    .option('--file <file>', 'the role as a JSON object; the flags below override its fields')
    .option('--certificate-file <file>', 'the CA (or pinned client) certificates, PEM')
    .option('--policy <name>', 'a policy of its tokens, repeatable', collect)
    .option('--common-name <glob>', 'allowed_common_names, repeatable', collect)
    .option('--dns-san <glob>', 'allowed_dns_sans, repeatable', collect)
    .option('--email-san <glob>', 'allowed_email_sans, repeatable', collect)
    .option('--uri-san <glob>', 'allowed_uri_sans, e.g. spiffe://example.org/ns/*/sa/web, repeatable', collect)
    .option('--ou <glob>', 'allowed_organizational_units, repeatable', collect)
    .option('--required-extension <oid>', 'required_extensions, repeatable', collect)
    .option(
      '--crl-file <file>',
      "crls: a CRL (PEM) of the role's CA, for CAs other than Coffer's PKI, repeatable",
      collect,
    )
    .option('--token-ttl <duration>')
    .option('--token-max-ttl <duration>')
    .action(async (name: string, flags: Record<string, unknown>, command: Command) => {
      const certificateFile = flags.certificateFile as string | undefined;
      const certificate =
        certificateFile === undefined
          ? undefined
          : await readFile(certificateFile, 'utf8').catch((err: NodeJS.ErrnoException) => {
              throw new CliError(
                `--certificate-file: cannot read ${certificateFile}: ${err.code ?? 'error'}`,
                ExitCode.usage,
              );
            });
      const crlFiles = flags.crlFile as string[] | undefined;
      const crls =
        crlFiles === undefined
          ? undefined
          : await Promise.all(
              crlFiles.map((file) =>
                readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
                  throw new CliError(`--crl-file: cannot read ${file}: ${err.code ?? 'error'}`, ExitCode.usage);
                }),
              ),
            );
      await putRole(command, base, name, flags, {
        certificate,
        crls,
        token_policies: flags.policy,
        allowed_common_names: flags.commonName,
        allowed_dns_sans: flags.dnsSan,
        allowed_email_sans: flags.emailSan,
        allowed_uri_sans: flags.uriSan,
        allowed_organizational_units: flags.ou,
        required_extensions: flags.requiredExtension,
        token_ttl: flags.tokenTtl,
        token_max_ttl: flags.tokenMaxTtl,
      });
    });

  registerRoleReads(role, {
    pathOption,
    base,
    // PEM would fill the screen: a table shows how many certificates and CRLs the role holds (-o json: all of it).
    cell: (value) =>
      typeof value === 'string' && value.includes('-----BEGIN CERTIFICATE-----')
        ? `${value.split('-----BEGIN CERTIFICATE-----').length - 1} certificate(s)`
        : typeof value === 'string'
          ? value
          : Array.isArray(value) && value.some((item) => typeof item === 'string' && item.includes('CRL-----'))
            ? `${value.length} CRL(s)`
            : JSON.stringify(value),
    deleted: 'delete a role: logins with it stop working',
  });
}

/**
 * `get`, `list` and `delete` of a login method's roles: the same routes (`/v1/auth/<mount>/role[/<name>]`) for every
 * method; only how a setting is shown in a table differs.
 */
export function registerRoleReads(
  role: Command,
  options: {
    pathOption: readonly [string, string];
    base: (path: string | undefined) => string;
    cell: (value: unknown) => string;
    deleted: string;
  },
): void {
  const { pathOption, base } = options;
  role
    .command('get <name>')
    .description('read a role')
    .option(...pathOption)
    .action(async (name: string, flags: { path?: string }, command: Command) => {
      const result = await client(command).call<AuthRole>('GET', `${base(flags.path)}/${enc(name)}`);
      print(command, result, () =>
        columns(Object.entries(result.role).map(([key, value]) => [key, options.cell(value)])),
      );
    });

  role
    .command('list')
    .description('list the roles of a mount')
    .option(...pathOption)
    .action(async (flags: { path?: string }, command: Command) => {
      const result = await client(command).call<{ roles: string[] }>('GET', base(flags.path));
      print(command, result, () => nameList(result.roles));
    });

  role
    .command('delete <name>')
    .description(options.deleted)
    .option(...pathOption)
    .action(async (name: string, flags: { path?: string }, command: Command) => {
      await client(command).call('DELETE', `${base(flags.path)}/${enc(name)}`);
      print(command, { deleted: name }, () => `deleted role ${name}`);
    });
}

/**
 * `role put` of every login method: the role in `--file` (when given) with the flags' fields over it, written to
 * `<base>/<name>`.
 */
export async function putRole(
  command: Command,
  base: (path: string | undefined) => string,
  name: string,
  flags: Record<string, unknown>,
  fields: Record<string, unknown>,
): Promise<void> {
  const body = {
    ...(flags.file === undefined ? {} : await readJsonObject(flags.file as string)),
    ...definedOnly(fields),
  };
  const path = `${base(flags.path as string | undefined)}/${enc(name)}`;
  const result = await client(command).call<AuthRole>('PUT', path, { body });
  print(command, result, () => `wrote role ${result.mount}/${result.name}`);
}

export function definedOnly(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}
