import { randomBytes } from 'node:crypto';
import type * as z from 'zod';
import { InternalError, ValidationError } from '../../errors.ts';
import { LdapBindRejectedError, type LdapDirectory, type LdapSession } from '../../ports/ldap-directory.ts';
import type { ItemData } from '../../ports/store.ts';
import type {
  AuthMethod,
  AuthMethodDeps,
  AuthMethodFactory,
  AuthMountRef,
  LoginContext,
  LoginOutcome,
  PreparedRole,
  RoleReader,
  RoleWrite,
} from '../methods/auth-method.ts';
import { LoginFailedError } from '../methods/login-error.ts';
import {
  LDAP_LIMITS,
  type LdapEntry,
  type LdapEntryKind,
  LdapEntrySchema,
  type LdapLogin,
  LdapLoginSchema,
  type LdapMountConfig,
  LdapMountConfigSchema,
} from './ldap-config.ts';
import { escapeDnValue, escapeFilterValue, groupNameOf, renderFilter } from './ldap-syntax.ts';

/** What every refused credential answers, whichever part was wrong: a login is no oracle for who exists. */
export const INVALID_CREDENTIALS = 'invalid username or password';
export const NO_GROUPS = "user is in none of the mount's groups";
/** Why `auth enable ldap` is refused where the runtime cannot reach a directory (the broker Lambda outside a VPC). */
export const DEFAULT_LDAP_UNAVAILABLE =
  'this runtime cannot reach an LDAP directory: on AWS, LDAP needs the broker in a VPC (deploy CofferStack with ldap: { vpc })';

/** Where a stored group or user entry lives among the mount's roles. */
export function entryKey(config: Pick<LdapMountConfig, 'case_sensitive_names'>, kind: LdapEntryKind, name: string) {
  return `${kind}s/${normalise(config, name)}`;
}

function normalise(config: Pick<LdapMountConfig, 'case_sensitive_names'>, name: string): string {
  return config.case_sensitive_names ? name : name.toLowerCase();
}

/**
 * The LDAP / Active Directory method: a user logs in with the directory's username and password, Coffer binds as
 * that user (directly, search-then-bind with a service account, or as `user@upndomain`), reads the user's groups
 * (a group search, which also covers `memberOf` on the user entry), and grants the union of the policies of the
 * mount's groups the user is in and of the user's own entry.
 *
 * Groups and users are the framework's roles of this method, stored at `groups/<name>` and `users/<name>` (Vault's
 * paths), so each write is checked like any role's (the writer holds the policies) and carries its writer's ceiling.
 */
export class LdapMethod implements AuthMethod<LdapMountConfig, LdapEntry, LdapLogin> {
  readonly type = 'ldap' as const;
  readonly summary = 'LDAP / Active Directory users: bind as the user, groups (group search or memberOf) → policies';
  readonly configSchema: z.ZodType<LdapMountConfig>;
  readonly roleSchema = LdapEntrySchema;
  readonly loginSchema = LdapLoginSchema;
  /** The service account's password is a credential: sealed in the store, shown only as `bindpass_set`. */
  readonly sealedConfig = ['bindpass'] as const;
  readonly #directory: LdapDirectory | undefined;

  constructor(deps: Pick<AuthMethodDeps, 'ldap' | 'ldapUnavailable'>) {
    this.#directory = deps.ldap;
    const unavailable = deps.ldapUnavailable ?? DEFAULT_LDAP_UNAVAILABLE;
    // A mount that could never log anyone in is refused when it is enabled, not at its first login.
    this.configSchema =
      deps.ldap === undefined
        ? LdapMountConfigSchema.superRefine((_config, ctx) => ctx.addIssue({ code: 'custom', message: unavailable }))
        : LdapMountConfigSchema;
  }

  rolePolicies(entry: LdapEntry): readonly string[] {
    return entry.policies;
  }

  async prepareRole(write: RoleWrite<LdapMountConfig, LdapEntry>): Promise<PreparedRole<LdapEntry>> {
    // Written through auth/<mount>/groups|users only: a name from the generic role route would never be looked up.
    if (!write.name.startsWith(`${write.role.kind}s/`)) {
      throw new ValidationError(
        `an LDAP ${write.role.kind} is written at auth/${write.mount.path}/${write.role.kind}s/<name>`,
      );
    }
    return { role: write.role, ops: [] };
  }

  /** The mount's configuration as `GET /v1/sys/auth` shows it: without the service account's password. */
  describeConfig(config: LdapMountConfig): ItemData {
    const { bindpass, ...shown } = config;
    return bindpass === undefined ? shown : { ...shown, bindpass_set: true };
  }

  async login(
    mount: AuthMountRef<LdapMountConfig>,
    body: LdapLogin,
    roles: RoleReader<LdapEntry>,
    _context: LoginContext,
  ): Promise<LoginOutcome> {
    const config = mount.config;
    if (body.password === '' && config.deny_null_bind) {
      throw new LoginFailedError(INVALID_CREDENTIALS, 'empty password refused before any bind (deny_null_bind)');
    }
    const directory = this.#directory;
    if (directory === undefined) throw new InternalError('the LDAP method has no directory connector on this runtime');
    const session = await directory.open({
      urls: config.url.split(','),
      startTls: config.starttls,
      caPem: config.certificate,
      insecureTls: config.insecure_tls,
      timeoutMs: config.request_timeout * 1000,
    });
    let found: { userDn: string; groups: string[] };
    try {
      found = await findUser(session, config, body.username, body.password);
    } finally {
      await session.close();
    }
    const username = normalise(config, body.username);
    const user = asKind(await roles.get(entryKey(config, 'user', username)), 'user');
    const groupNames = [...new Set([...found.groups, ...(user?.groups ?? [])].map((g) => normalise(config, g)))]
      .slice(0, LDAP_LIMITS.groups)
      .sort();
    const groups = (
      await Promise.all(
        groupNames.map(async (name) => ({
          name,
          entry: asKind(await roles.get(entryKey(config, 'group', name)), 'group'),
        })),
      )
    ).flatMap(({ name, entry }) => (entry === undefined ? [] : [{ name, entry }]));
    if (user === undefined && groups.length === 0) {
      const seen = groupNames.length === 0 ? 'none' : `${groupNames.length}`;
      throw new LoginFailedError(
        NO_GROUPS,
        `the user's directory groups (${seen}) match no group or user entry of the mount`,
      );
    }
    const policies = [...new Set([...(user?.policies ?? []), ...groups.flatMap((g) => g.entry.policies)])].sort();
    return {
      role: username,
      policies,
      ttlSeconds: config.token_ttl === 0 ? undefined : config.token_ttl,
      maxTtlSeconds: config.token_max_ttl === 0 ? undefined : config.token_max_ttl,
      numUses: config.token_num_uses,
      metadata: { username, groups: boundedList(groups.map((g) => g.name)) },
      alias: config.username_as_alias ? username : found.userDn,
      boundCidrs: config.token_bound_cidrs,
      grantedBy: [
        ...(user === undefined ? [] : [entryKey(config, 'user', username)]),
        ...groups.map((g) => entryKey(config, 'group', g.name)),
      ],
    };
  }
}

function asKind<K extends LdapEntryKind>(
  entry: LdapEntry | undefined,
  kind: K,
): Extract<LdapEntry, { kind: K }> | undefined {
  return entry?.kind === kind ? (entry as Extract<LdapEntry, { kind: K }>) : undefined;
}

/** Comma-joined, cut to the metadata bound with a marker, so a member of hundreds of groups still gets a token. */
function boundedList(names: readonly string[]): string {
  const joined = [...names].sort().join(',');
  if (joined.length <= LDAP_LIMITS.groupsMetadata) return joined;
  const cut = joined.slice(0, LDAP_LIMITS.groupsMetadata - 4);
  return `${cut.slice(0, cut.lastIndexOf(','))},...`;
}

/**
 * Binds as the user (proving the password) and reads the user's DN and directory groups, as Vault's LDAP method:
 * - search-then-bind when `binddn` is set (or `discoverdn`): find the one entry `userfilter` matches under `userdn`;
 * - otherwise bind as `user@upndomain` (Active Directory) or as `<userattr>=<username>,<userdn>`.
 * With `upndomain`, the user's entry is then found by `userPrincipalName`. Groups are searched as the service account
 * when there is one, else as the user.
 */
async function findUser(
  session: LdapSession,
  config: LdapMountConfig,
  username: string,
  password: string,
): Promise<{ userDn: string; groups: string[] }> {
  const upn = config.upndomain === undefined ? undefined : `${username}@${config.upndomain}`;
  let bindDn: string;
  if (config.binddn !== undefined || config.discoverdn) {
    if (config.binddn !== undefined) await serviceBind(session, config);
    // As Vault: with a UPN domain, the user filter looks for userPrincipalName=<username>@<domain>.
    const filter =
      upn === undefined
        ? renderFilter(config.userfilter, { UserAttr: config.userattr, Username: username })
        : renderFilter(config.userfilter, { UserAttr: 'userPrincipalName', Username: upn });
    const entries = await session.search({
      base: config.userdn,
      scope: 'sub',
      filter,
      attributes: ['dn'],
      sizeLimit: 2,
    });
    if (entries.length !== 1) {
      // A bind that cannot succeed, so an unknown user takes the round trip a wrong password takes: the answer's
      // timing must not tell who exists either.
      await session.bind(`cn=${randomBytes(16).toString('hex')},${config.userdn}`, password).catch(() => {});
      throw new LoginFailedError(
        INVALID_CREDENTIALS,
        entries.length === 0 ? 'no directory entry matches the username' : 'the username matches more than one entry',
      );
    }
    bindDn = entries[0]!.dn;
  } else if (upn !== undefined) {
    bindDn = `${escapeDnValue(username)}@${config.upndomain}`;
  } else {
    bindDn = `${config.userattr}=${escapeDnValue(username)}${config.userdn === '' ? '' : `,${config.userdn}`}`;
  }
  try {
    await session.bind(bindDn, password);
  } catch (err) {
    if (err instanceof LdapBindRejectedError)
      throw new LoginFailedError(INVALID_CREDENTIALS, `user bind refused: ${err.reason}`);
    throw err;
  }
  if (config.binddn !== undefined) await serviceBind(session, config);
  let userDn = bindDn;
  if (upn !== undefined && config.binddn === undefined && !config.discoverdn) {
    const entries = await session.search({
      base: config.userdn,
      scope: 'sub',
      filter: `(userPrincipalName=${escapeFilterValue(upn)})`,
      attributes: ['dn'],
      sizeLimit: 2,
    });
    if (entries.length !== 1) {
      throw new InternalError(
        `the user bound as a UPN but ${entries.length} entries under userdn carry that userPrincipalName`,
      );
    }
    userDn = entries[0]!.dn;
  }
  return { userDn, groups: await directoryGroups(session, config, username, userDn) };
}

async function serviceBind(session: LdapSession, config: LdapMountConfig): Promise<void> {
  try {
    await session.bind(config.binddn!, config.bindpass!);
  } catch (err) {
    if (err instanceof LdapBindRejectedError) {
      throw new InternalError(
        `the directory at ${session.url} refused the mount's service account (binddn): ${err.reason}`,
      );
    }
    throw err;
  }
}

/**
 * The user's groups: every `groupattr` value of the entries `groupfilter` matches under `groupdn`, each a name or a
 * DN whose `cn` is taken. `memberOf` is the same search pointed at the user: `groupdn` = the users' base,
 * `groupfilter` = `(uid={{.Username}})`, `groupattr` = `memberOf`. No `groupdn`: no directory groups.
 */
async function directoryGroups(
  session: LdapSession,
  config: LdapMountConfig,
  username: string,
  userDn: string,
): Promise<string[]> {
  if (config.groupdn === '') return [];
  const filter = renderFilter(config.groupfilter, { Username: username, UserDN: userDn });
  const attribute = config.groupattr.toLowerCase();
  const entries = await session.search({
    base: config.groupdn,
    scope: 'sub',
    filter,
    attributes: [config.groupattr],
    sizeLimit: LDAP_LIMITS.groups,
  });
  const names = entries.flatMap((entry) => entry.attributes[attribute] ?? []).map((value) => groupNameOf(value));
  return [...new Set(names)].slice(0, LDAP_LIMITS.groups);
}

/** The registry's entry for `ldap`. */
export const LDAP_METHOD = {
  type: 'ldap',
  create: (deps) => new LdapMethod(deps),
} as const satisfies AuthMethodFactory<LdapMountConfig, LdapEntry, LdapLogin> & { readonly type: 'ldap' };
