import { randomBytes } from 'node:crypto';
import * as z from 'zod';
import { open as openSealed, seal as sealValue } from '../../crypto/envelope.ts';
import { rewrapPartition } from '../../crypto/root-key-rotation.ts';
import { AlreadyExistsError, NotFoundError, ValidationError } from '../../errors.ts';
import type { Clock } from '../../ports/clock.ts';
import type { KeyProvider } from '../../ports/key-provider.ts';
import { ConditionFailedError, type ItemData, queryAll, type Store, type WriteOp } from '../../ports/store.ts';
import type { Principal, PrincipalCeiling } from '../../principal.ts';
import {
  LOCKOUT_METHODS,
  type LoginLockout,
  lockoutRule,
  locksOut,
  UserLockoutConfigSchema,
} from '../../quota/login-lockout.ts';
import { assertGrantable, ceilingsFrom } from '../derived-credentials.ts';
import type { TokenService } from '../token/token-service.ts';
import type { CreatedToken } from '../token/token-types.ts';
import type { AnyAuthMethod, AuthMountRef, LoginContext, LoginOutcome } from './auth-method.ts';
import { LoginFailedError } from './login-error.ts';
import { type AuthMethodType, isAuthMethodType } from './registry.ts';

/** Store partitions of the auth-method framework. */
export const AUTH_MOUNT_PARTITIONS = {
  /** sk = mount path → `AuthMountRecord`. */
  mounts: 'auth-mounts',
  /** `auth-roles#<mount id>`, sk = role name → `StoredRole`. */
  rolesPrefix: 'auth-roles#',
} as const;

/** Paths the built-in methods already answer under `/v1/auth/`: no mount may take them. */
export const RESERVED_MOUNT_PATHS: readonly string[] = ['token', 'iam'];

/** A mount path or role name: one safe path segment (no dots: a mount id is `<path>.<random>`). */
export const MountPathSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, {
    error: 'must be 1-63 characters of a-z, 0-9, _ and -, starting with a letter or digit',
  })
  .refine((path) => !RESERVED_MOUNT_PATHS.includes(path), {
    error: `is reserved (${RESERVED_MOUNT_PATHS.join(', ')})`,
  });
export const RoleNameSchema = z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,127}$/, {
  error: 'must be 1-128 characters of a-z, 0-9, _ . and -, starting with a letter or digit',
});

/** Body of `POST /v1/sys/auth/<mount>`. */
export const EnableAuthSchema = z.strictObject({
  type: z.string().min(1).max(64),
  description: z.string().max(1024).optional(),
  config: z.record(z.string(), z.unknown()).optional(),
  /** Brute-force protection of the mount's logins (Vault's names; on by default: 5 failures lock out for 15m). */
  user_lockout_config: UserLockoutConfigSchema.optional(),
});
export type EnableAuthRequest = z.infer<typeof EnableAuthSchema>;

/** A mounted auth method. */
export interface AuthMountRecord {
  readonly path: string;
  readonly id: string;
  readonly type: AuthMethodType;
  readonly description: string;
  readonly config: ItemData;
  /** Epoch ms. */
  readonly createdAt: number;
  /**
   * The config's credential fields (the method's `sealedConfig`), as one JSON object sealed under the mount's own data
   * key; `config` holds the rest. Absent when the config has none.
   */
  readonly sealedConfig?: { readonly fields: readonly string[]; readonly wrapped: string; readonly blob: string };
  /** As enabled; absent = the defaults. */
  readonly userLockout?: ItemData | undefined;
}

/** A role as stored: the method's role and the authority of its writer, which every token of the role carries. */
interface StoredRole {
  readonly role: ItemData;
  readonly ceilings: readonly PrincipalCeiling[];
}
type MountItem = { [K in keyof AuthMountRecord]: AuthMountRecord[K] };
type RoleItem = { [K in keyof StoredRole]: StoredRole[K] };

/** What a login answers: the minted token, and what the method decided (for the response and the audit log). */
export interface LoginResult {
  readonly mount: AuthMountRecord;
  readonly outcome: LoginOutcome;
  readonly token: CreatedToken;
}

export interface AuthMountServiceOptions {
  readonly store: Store;
  readonly clock: Clock;
  readonly methods: { readonly [K in AuthMethodType]: AnyAuthMethod };
  readonly tokens: Pick<TokenService, 'createForLogin' | 'revokeWhereMeta' | 'revoke'>;
  /** Seals the credential fields of mount configs. Without it, a config holding one is refused (fail closed). */
  readonly keyProvider?: KeyProvider | undefined;
  /** Locks out repeated failed logins (`user_lockout_config`). @default no lockout */
  readonly lockout?: LoginLockout | undefined;
}

/** The token label naming the mount a login token came from. */
export const AUTH_MOUNT_META = 'authMount';

/**
 * Auth mounts, their roles, and logins: the framework every method plugs into (see `AuthMethod`).
 *
 * Roles are validated by their method and stored with the ceilings of their writer: a role never grants a policy its
 * writer lacks (`assertGrantable`), and the tokens it mints carry the writer's authority as a ceiling, so they never
 * do more than the writer could (derived-credentials.ts).
 *
 * @example
 * const mounts = new AuthMountService({ store, clock, methods: buildAuthMethods({ store, clock }), tokens });
 * await mounts.enable('approle', { type: 'approle' });
 * await mounts.putRole(admin, 'approle', 'ci', { token_policies: ['ci'] });
 */
export class AuthMountService {
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly methods: AuthMountServiceOptions['methods'];
  private readonly tokens: AuthMountServiceOptions['tokens'];
  private readonly keyProvider: KeyProvider | undefined;
  private readonly lockout: LoginLockout | undefined;

  constructor(options: AuthMountServiceOptions) {
    this.lockout = options.lockout;
    this.store = options.store;
    this.clock = options.clock;
    this.methods = options.methods;
    this.tokens = options.tokens;
    this.keyProvider = options.keyProvider;
  }

  /**
   * Mounts a method at `path`.
   * @throws ValidationError for an unknown type or an invalid config; AlreadyExistsError when the path is taken.
   */
  async enable(path: string, request: EnableAuthRequest): Promise<AuthMountRecord> {
    const { type } = request;
    if (!isAuthMethodType(type)) {
      throw new ValidationError(
        `unknown auth method ${JSON.stringify(type)}; expected one of ${Object.keys(this.methods).join(', ')}`,
      );
    }
    const method = this.methods[type];
    const parsed = parseOrThrow(method.configSchema, request.config ?? {}, 'config') as ItemData;
    const id = `${path}.${randomBytes(6).toString('hex')}`;
    const { config, sealedConfig } = await this.seal(method, id, parsed);
    // Checked now (its durations), so a login never meets a config it cannot read.
    lockoutRule(request.user_lockout_config);
    if (request.user_lockout_config !== undefined && !locksOut(type)) {
      throw new ValidationError(`user_lockout_config applies to ${LOCKOUT_METHODS.join(', ')} mounts only`);
    }
    const record: AuthMountRecord = {
      path,
      id,
      type,
      description: request.description ?? '',
      config,
      createdAt: this.clock.now(),
      ...(sealedConfig !== undefined && { sealedConfig }),
      ...(request.user_lockout_config !== undefined && { userLockout: { ...request.user_lockout_config } }),
    };
    const data: MountItem = { ...record };
    try {
      await this.store.transact([
        { type: 'put', pk: AUTH_MOUNT_PARTITIONS.mounts, sk: path, data, condition: { kind: 'absent' } },
      ]);
    } catch (err) {
      if (err instanceof ConditionFailedError)
        throw new AlreadyExistsError(`an auth method is already mounted at ${path}`);
      throw err;
    }
    return record;
  }

  /**
   * Replaces a mount's method configuration (Vault's `auth/<mount>/config`): a rotated reviewer token or bind password,
   * a new CA or JWKS URL, without disabling the mount (which would revoke its tokens). Validated and sealed as at
   * enable; roles and issued tokens stay.
   * @throws NotFoundError; ValidationError for a config its method refuses; AlreadyExistsError when the mount changed
   *   meanwhile
   */
  async configure(path: string, body: unknown): Promise<AuthMountRecord> {
    const item = await this.store.get<MountItem>(AUTH_MOUNT_PARTITIONS.mounts, path);
    if (item === undefined) throw new NotFoundError(`no auth method is mounted at ${path}`);
    const method = this.methods[item.data.type];
    const parsed = parseOrThrow(method.configSchema, body ?? {}, 'config') as ItemData;
    const { config, sealedConfig } = await this.seal(method, item.data.id, parsed);
    const { sealedConfig: _previous, ...rest } = item.data;
    const data: MountItem = { ...rest, config, ...(sealedConfig !== undefined && { sealedConfig }) };
    try {
      await this.store.transact([
        { type: 'put', pk: AUTH_MOUNT_PARTITIONS.mounts, sk: path, data, condition: { kind: 'rev', rev: item.rev } },
      ]);
    } catch (err) {
      if (err instanceof ConditionFailedError) {
        throw new AlreadyExistsError(`the mount at ${path} was changed meanwhile; try again`);
      }
      throw err;
    }
    return data as AuthMountRecord;
  }

  /**
   * Changes a mount's settings that are not its method's (Vault's `sys/auth/<mount>/tune`): the login lockout.
   * @throws NotFoundError; ValidationError for a bad config or a method without lockout; AlreadyExistsError when the
   *   mount changed meanwhile
   */
  async tune(path: string, request: { readonly user_lockout_config: z.infer<typeof UserLockoutConfigSchema> }) {
    const item = await this.store.get<MountItem>(AUTH_MOUNT_PARTITIONS.mounts, path);
    if (item === undefined) throw new NotFoundError(`no auth method is mounted at ${path}`);
    lockoutRule(request.user_lockout_config);
    if (!locksOut(item.data.type)) {
      throw new ValidationError(`user_lockout_config applies to ${LOCKOUT_METHODS.join(', ')} mounts only`);
    }
    const data: MountItem = { ...item.data, userLockout: { ...request.user_lockout_config } };
    try {
      await this.store.transact([
        {
          type: 'put',
          pk: AUTH_MOUNT_PARTITIONS.mounts,
          sk: path,
          data,
          condition: { kind: 'rev', rev: item.rev },
        },
      ]);
    } catch (err) {
      if (err instanceof ConditionFailedError) {
        throw new AlreadyExistsError(`the mount at ${path} was changed meanwhile; try again`);
      }
      throw err;
    }
    return data as AuthMountRecord;
  }

  /**
   * What a sign-in page may show anyone: each mount's path and method, nothing of its configuration, description or
   * roles. It reads no more than a login attempt does (an unknown mount answers 404 to anyone already).
   */
  async loginMethods(): Promise<{ path: string; type: AuthMethodType }[]> {
    return (await this.list()).map((mount) => ({ path: mount.path, type: mount.type }));
  }

  async list(): Promise<AuthMountRecord[]> {
    return (await queryAll<MountItem>(this.store, AUTH_MOUNT_PARTITIONS.mounts)).map((item) => item.data);
  }

  /** A mount's configuration as its method shows it: its sealed credentials only as `<field>_set: true`. */
  shownConfig(mount: AuthMountRecord): ItemData {
    const sealed = mount.sealedConfig?.fields ?? [];
    // The method sees that a sealed field is set (never its value), e.g. to say which mode the mount is in.
    const placeholders = Object.fromEntries(sealed.map((field) => [field, SEALED_PLACEHOLDER]));
    const method = this.methods[mount.type];
    const shown: Record<string, unknown> = {
      ...(method.describeConfig?.({ ...mount.config, ...placeholders }) ?? { ...mount.config, ...placeholders }),
    };
    for (const field of sealed) {
      if (field in shown) {
        delete shown[field];
        shown[`${field}_set`] = true;
      }
    }
    return shown;
  }

  /** Re-wraps the data keys of sealed mount configs under the current root key (after a keyring rotation). */
  async rewrapAll(): Promise<{ rewrapped: number }> {
    if (this.keyProvider === undefined) return { rewrapped: 0 };
    const rewrapped = await rewrapPartition<MountItem>(this.store, this.keyProvider, AUTH_MOUNT_PARTITIONS.mounts, {
      wrappedOf: ({ data }) =>
        data.sealedConfig === undefined
          ? undefined
          : { wrapped: data.sealedConfig.wrapped, context: sealedConfigContext(data.id) },
      withWrapped: (data, wrapped) => ({ ...data, sealedConfig: { ...data.sealedConfig!, wrapped } }),
    });
    return { rewrapped };
  }

  /** Moves the method's credential fields out of `config`, sealed. */
  private async seal(
    method: AnyAuthMethod,
    mountId: string,
    parsed: ItemData,
  ): Promise<{ config: ItemData; sealedConfig?: AuthMountRecord['sealedConfig'] }> {
    const config: Record<string, unknown> = { ...parsed };
    const secret: Record<string, unknown> = {};
    for (const field of method.sealedConfig ?? []) {
      if (config[field] === undefined) continue;
      secret[field] = config[field];
      delete config[field];
    }
    const fields = Object.keys(secret);
    if (fields.length === 0) return { config };
    if (this.keyProvider === undefined) {
      throw new ValidationError(`this runtime cannot seal ${fields.join(', ')}: no envelope key`);
    }
    const { plaintext, wrapped } = await this.keyProvider.generateDataKey(sealedConfigContext(mountId));
    try {
      const { blob } = sealValue(plaintext, Buffer.from(JSON.stringify(secret), 'utf8'), sealedConfigBinding(mountId));
      return { config, sealedConfig: { fields, wrapped, blob } };
    } finally {
      plaintext.fill(0);
    }
  }

  /** The mount's whole config, sealed fields opened: only for the method's login. */
  private async unsealedConfig(mount: AuthMountRecord): Promise<ItemData> {
    const sealed = mount.sealedConfig;
    if (sealed === undefined) return mount.config;
    if (this.keyProvider === undefined) throw new Error('a sealed mount config needs the envelope key');
    const dataKey = await this.keyProvider.unwrapDataKey(sealed.wrapped, sealedConfigContext(mount.id));
    const opened = openSealed(dataKey, { blob: sealed.blob }, sealedConfigBinding(mount.id));
    try {
      return { ...mount.config, ...(JSON.parse(opened.toString('utf8')) as ItemData) };
    } finally {
      opened.fill(0);
    }
  }

  /** @throws NotFoundError when nothing is mounted at `path`. */
  async get(path: string): Promise<AuthMountRecord> {
    const item = await this.store.get<MountItem>(AUTH_MOUNT_PARTITIONS.mounts, path);
    if (item === undefined) throw new NotFoundError(`no auth method is mounted at ${path}`);
    return item.data;
  }

  /**
   * Unmounts `path` and revokes the tokens its logins issued. Its roles and method state stay behind, unreachable:
   * their keys start with the mount's id, which no later mount gets.
   * @returns how many tokens were revoked.
   * @throws NotFoundError when nothing is mounted at `path`.
   */
  async disable(path: string): Promise<{ revokedTokens: number }> {
    const mount = await this.get(path);
    // The mount goes first, so no login can mint a token the scan below would miss.
    await this.store.transact([
      { type: 'delete', pk: AUTH_MOUNT_PARTITIONS.mounts, sk: path, condition: { kind: 'exists' } },
    ]);
    return { revokedTokens: await this.tokens.revokeWhereMeta(AUTH_MOUNT_META, mount.id) };
  }

  /**
   * Creates or replaces a role. The writer must hold every policy the role grants (or root), and `policiesExist`
   * (`assertPoliciesExist`, which needs the request's own authorisation) checks that they exist.
   * @throws ValidationError for a role its method refuses; PermissionDeniedError for policies the writer lacks.
   */
  async putRole(
    writer: Principal,
    path: string,
    name: string,
    body: unknown,
    policiesExist: (policies: readonly string[]) => Promise<void> = async () => {},
  ): Promise<ItemData> {
    const { mount, method } = await this.mounted(path);
    const ref = refOf(mount);
    const role = parseOrThrow(method.roleSchema, body, 'role') as ItemData;
    const policies = method.rolePolicies(role);
    await policiesExist(policies);
    assertGrantable(writer, policies, 'a role');
    const ceilings = ceilingsFrom(writer);
    const pk = rolePartition(mount);
    const previousItem = await this.store.get<RoleItem>(pk, name);
    const prepared =
      method.prepareRole === undefined
        ? { role, ops: [] }
        : await method.prepareRole({ mount: ref, name, role, previous: previousItem?.data.role });
    const data: RoleItem = { role: prepared.role, ceilings };
    const ops: WriteOp[] = [
      {
        type: 'put',
        pk,
        sk: name,
        data,
        condition: previousItem === undefined ? { kind: 'absent' } : { kind: 'rev', rev: previousItem.rev },
      },
      // The mount must still be there: a role written into a mount being disabled would outlive it unseen.
      { type: 'check', pk: AUTH_MOUNT_PARTITIONS.mounts, sk: path, condition: { kind: 'exists' } },
      ...prepared.ops,
    ];
    try {
      await this.store.transact(ops);
    } catch (err) {
      if (err instanceof ConditionFailedError) {
        if (err.index >= 2) throw new AlreadyExistsError('another role of this mount already has that role id');
        throw new AlreadyExistsError(`role ${name} was changed or the mount removed meanwhile; read it and try again`);
      }
      throw err;
    }
    return describe(method, prepared.role);
  }

  /** The method-specific view of a stored role. @throws NotFoundError */
  async getRole(path: string, name: string): Promise<ItemData> {
    const { method } = await this.mounted(path);
    return describe(method, await this.storedRole(path, name));
  }

  /** A stored role as its method holds it (with generated fields). @throws NotFoundError */
  async storedRole(path: string, name: string): Promise<ItemData> {
    const { mount } = await this.mounted(path);
    const item = await this.store.get<RoleItem>(rolePartition(mount), name);
    if (item === undefined) throw new NotFoundError(`role ${name} not found at auth/${path}`);
    return item.data.role;
  }

  /** @param prefix only the roles whose names start with it (LDAP's `groups/`, `users/`) */
  async listRoles(path: string, prefix?: string): Promise<string[]> {
    const { mount } = await this.mounted(path);
    return (await queryAll<RoleItem>(this.store, rolePartition(mount), prefix === undefined ? {} : { prefix })).map(
      (item) => item.sk,
    );
  }

  /** @throws NotFoundError */
  async deleteRole(path: string, name: string): Promise<void> {
    const { mount, method } = await this.mounted(path);
    const pk = rolePartition(mount);
    const item = await this.store.get<RoleItem>(pk, name);
    if (item === undefined) throw new NotFoundError(`role ${name} not found at auth/${path}`);
    await this.store.transact([
      { type: 'delete', pk, sk: name, condition: { kind: 'rev', rev: item.rev } },
      ...(method.roleDeleteOps?.(refOf(mount), name, item.data.role) ?? []),
    ]);
  }

  /** The mount at `path` and its method, checked to be of `type` (for method-specific operations). @throws NotFoundError */
  async mountOf<T extends AuthMethodType>(
    path: string,
    type: T,
  ): Promise<{ mount: AuthMountRef<ItemData>; method: AnyAuthMethod }> {
    const { mount, method } = await this.mounted(path);
    if (mount.type !== type) throw new NotFoundError(`the auth method at ${path} is ${mount.type}, not ${type}`);
    return { mount: refOf(mount), method };
  }

  /**
   * Logs in at `path` with the method's credential and mints an orphan token for the matched role.
   * @throws LoginFailedError (403) for any refused credential; ValidationError (400) for a malformed body or a mount
   *   that does not exist (told apart from bad credentials: a mount path is not a secret).
   */
  async login(path: string, body: unknown, context: LoginContext): Promise<LoginResult> {
    const item = await this.store.get<MountItem>(AUTH_MOUNT_PARTITIONS.mounts, path);
    if (item === undefined) throw new ValidationError(`no auth method is mounted at ${path}`);
    const mount = item.data;
    const method = this.methods[mount.type];
    const parsed = method.loginSchema.safeParse(body);
    if (!parsed.success) {
      // Field names only: a login body holds credentials, which a message must never echo.
      const fields = [...new Set(parsed.error.issues.map((issue) => issue.path.join('.') || 'body'))];
      throw new ValidationError(`invalid login: check ${fields.join(', ')}`);
    }
    const pk = rolePartition(mount);
    let ceilings: readonly PrincipalCeiling[] = [];
    const ceilingsOf = new Map<string, readonly PrincipalCeiling[]>();
    const roles = {
      // A method that tries several roles (certificate login) returns the last one it read: the ceilings are its.
      get: async (name: string) => {
        const role = await this.store.get<RoleItem>(pk, name);
        if (role !== undefined) {
          ceilings = role.data.ceilings;
          ceilingsOf.set(name, role.data.ceilings);
        }
        return role?.data.role;
      },
      list: async () => (await queryAll<RoleItem>(this.store, pk)).map((item) => item.sk),
    };
    // Brute-force protection: a locked key is refused before its credential is looked at.
    const rule = this.lockout === undefined || !locksOut(mount.type) ? undefined : lockoutRule(mount.userLockout);
    const attempt = { mountId: mount.id, mountPath: path, body, sourceIp: context.sourceIp, now: context.now };
    const lockKey = rule === undefined ? undefined : await this.lockout!.check(attempt);
    const config = await this.unsealedConfig(mount);
    const outcome = await method
      .login({ ...refOf(mount), config }, parsed.data, roles, context)
      .catch(async (err: unknown) => {
        if (!(err instanceof LoginFailedError)) throw err;
        if (lockKey !== undefined) await this.lockout!.failed(lockKey, rule!, context.now);
        throw err.at(mount);
      });
    if (outcome.grantedBy !== undefined) ceilings = unitedCeilings(outcome.grantedBy, ceilingsOf);
    const token = await this.tokens
      .createForLogin({
        policies: outcome.policies,
        ttlSeconds: outcome.ttlSeconds,
        maxTtlSeconds: outcome.maxTtlSeconds,
        numUses: outcome.numUses,
        displayName: `${path}-${outcome.role}`,
        identity: { name: `${path}/${outcome.role}`, metadata: { ...outcome.metadata } },
        meta: { [AUTH_MOUNT_META]: mount.id, role: outcome.role },
        ceilings,
        boundCidrs: outcome.boundCidrs,
      })
      .catch((err: unknown) => {
        if (!(err instanceof ValidationError)) throw err;
        throw new LoginFailedError(
          'the role grants a token the server cannot issue (check its TTLs)',
          err.message,
          outcome.role,
          mount,
        );
      });
    // A mount disabled while this login ran may have scanned the tokens before this one was written: look again,
    // and take the token back if the mount (this enable of it) is gone.
    const still = await this.store.get<MountItem>(AUTH_MOUNT_PARTITIONS.mounts, path);
    if (still?.data.id !== mount.id) {
      await this.tokens.revoke({ accessor: token.record.accessor });
      throw new ValidationError(`no auth method is mounted at ${path}`);
    }
    if (lockKey !== undefined) await this.lockout!.succeeded(lockKey);
    return { mount, outcome, token };
  }

  private async mounted(path: string): Promise<{ mount: AuthMountRecord; method: AnyAuthMethod }> {
    const mount = await this.get(path);
    return { mount, method: this.methods[mount.type] };
  }
}

/** What a method's `describeConfig` sees in place of a sealed field's value. */
const SEALED_PLACEHOLDER = '(sealed)';

function sealedConfigContext(mountId: string) {
  return { purpose: 'auth-mount-config', mount: mountId };
}

function sealedConfigBinding(mountId: string) {
  return { secretId: `auth-mount/${mountId}`, versionId: 'config' };
}

/**
 * The ceilings of every role a login's grant came from, each writer's once: the token may do only what all of them
 * could. A role the login did not read grants nothing, so it is a method's bug, refused rather than ignored.
 */
function unitedCeilings(
  names: readonly string[],
  ceilingsOf: ReadonlyMap<string, readonly PrincipalCeiling[]>,
): PrincipalCeiling[] {
  const united = new Map<string, PrincipalCeiling>();
  for (const name of names) {
    const ceilings = ceilingsOf.get(name);
    if (ceilings === undefined) throw new Error(`login outcome names role ${name}, which the login did not read`);
    for (const ceiling of ceilings) united.set(JSON.stringify(ceiling), ceiling);
  }
  return [...united.values()];
}

function refOf(mount: AuthMountRecord): AuthMountRef<ItemData> {
  return { path: mount.path, id: mount.id, config: mount.config };
}

function rolePartition(mount: AuthMountRecord): string {
  return `${AUTH_MOUNT_PARTITIONS.rolesPrefix}${mount.id}`;
}

function describe(method: AnyAuthMethod, role: ItemData): ItemData {
  return method.describeRole?.(role) ?? role;
}

function parseOrThrow<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const shown = result.error.issues
    .slice(0, 5)
    .map((issue) => (issue.path.length === 0 ? issue.message : `${issue.path.join('.')}: ${issue.message}`));
  throw new ValidationError(`invalid ${what}: ${shown.join('; ')}`, { cause: result.error });
}
