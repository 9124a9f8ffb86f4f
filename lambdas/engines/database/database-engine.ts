import type { AuditLog } from '../../core/audit/audit-log.ts';
import { InvalidRequestError, NotFoundError, ValidationError } from '../../core/errors.ts';
import type { DynamicProvider, HandleOf, RoleLimits } from '../../core/leases/lease-types.ts';
import type { Clock } from '../../core/ports/clock.ts';
import type { Store } from '../../core/ports/store.ts';
import type { SecretService } from '../../core/secrets/secret-service.ts';
import { generatePassword, renderUsername, validateUsernameTemplate } from './credential-fns.ts';
import {
  AdminCredentialSchema,
  DB_CONFIG_PK,
  DB_ROLE_PK,
  type DbConfig,
  type DbConfigInput,
  DbConfigSchema,
  DbObjectNameSchema,
  type DbRole,
  type DbRoleInput,
  DbRoleSchema,
  DEFAULT_RENEW,
} from './database-types.ts';
import type { DatabasePlugin, Target } from './postgres/postgres-plugin.ts';
import { validateStatementTemplate } from './postgres/sql-template.ts';

export interface DatabaseEngineOptions {
  readonly store: Store;
  readonly clock: Clock;
  /** Reads the admin credential named by a connection config. */
  readonly secrets: Pick<SecretService, 'get'>;
  readonly plugin: DatabasePlugin;
  /** Where each read of an admin credential is recorded, with the grant it was made under. @default not recorded */
  readonly audit?: Pick<AuditLog, 'response'>;
}

/**
 * Who wrote a connection config, in which request: the caller was authorised to read its `admin_secret` then, and
 * the engine reads that credential later (for whoever requests credentials of a role) only under this record.
 */
export interface ConnectionGrant {
  readonly grantedBy: { readonly type: string; readonly id: string; readonly displayName: string };
  readonly requestId: string;
  /** Epoch ms. */
  readonly grantedAt: number;
  /** The admin secret the writer was authorised to read. */
  readonly adminSecret: string;
}

/** A connection config as stored: the config and the grant its admin credential is read under. */
export type StoredDbConfig = DbConfig & { readonly grant?: ConnectionGrant | undefined };

function parse<T>(
  schema: {
    safeParse(
      v: unknown,
    ): { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } };
  },
  value: unknown,
  what: string,
): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const at = issue.path.length === 0 ? '' : ` ${issue.path.map(String).join('.')}`;
    throw new ValidationError(`invalid ${what}${at}: ${issue.message}`);
  }
  return result.data;
}

/**
 * The database secrets engine: connection configs, roles, and the `database` dynamic provider that creates and drops
 * users at the target. Configs and roles hold no secret; the admin credential is read from a Coffer secret on use, so
 * rotating that secret takes effect on the next call.
 *
 * @example
 * ```ts
 * const db = new DatabaseEngine({ store, clock, secrets, plugin: new PostgresPlugin() });
 * await db.putConfig('main', { host: '127.0.0.1', database: 'app', admin_secret: 'db/admin' });
 * await db.putRole('app', { db_name: 'main', default_ttl: '1h', max_ttl: '24h' });
 * ```
 */
export class DatabaseEngine implements DynamicProvider<'database'> {
  readonly kind = 'database' as const;
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly secrets: Pick<SecretService, 'get'>;
  private readonly plugin: DatabasePlugin;
  private readonly audit: Pick<AuditLog, 'response'> | undefined;

  constructor(options: DatabaseEngineOptions) {
    this.store = options.store;
    this.clock = options.clock;
    this.secrets = options.secrets;
    this.plugin = options.plugin;
    this.audit = options.audit;
  }

  /**
   * @param grant who writes the config, in which request: the caller must already be authorised to read its
   *   `admin_secret` (the broker checks it); recorded beside the config
   */
  async putConfig(
    name: string,
    input: DbConfigInput,
    grant: Omit<ConnectionGrant, 'grantedAt' | 'adminSecret'>,
  ): Promise<StoredDbConfig> {
    parse(DbObjectNameSchema, name, 'config name');
    const config = parse(DbConfigSchema, input, 'database config');
    const stored: StoredDbConfig = {
      ...config,
      grant: { ...grant, grantedAt: this.clock.now(), adminSecret: config.admin_secret },
    };
    await this.store.transact([{ type: 'put', pk: DB_CONFIG_PK, sk: name, data: stored }]);
    return stored;
  }

  async getConfig(name: string): Promise<StoredDbConfig> {
    const item = await this.store.get<StoredDbConfig>(DB_CONFIG_PK, parse(DbObjectNameSchema, name, 'config name'));
    if (item === undefined) throw new NotFoundError(`database config ${name} not found`);
    return item.data;
  }

  async listConfigs(): Promise<string[]> {
    return (await this.store.query(DB_CONFIG_PK, { limit: 1000 })).items.map((item) => item.sk);
  }

  async deleteConfig(name: string): Promise<void> {
    await this.getConfig(name);
    await this.store.transact([{ type: 'delete', pk: DB_CONFIG_PK, sk: name }]);
  }

  async putRole(name: string, input: DbRoleInput): Promise<DbRole> {
    parse(DbObjectNameSchema, name, 'role name');
    const role = parse(DbRoleSchema, input, 'database role');
    validateUsernameTemplate(role.username_template);
    for (const s of role.creation_statements) {
      validateStatementTemplate(s, ['name', 'password', 'expiration'], 'creation_statements');
    }
    for (const s of role.revocation_statements) validateStatementTemplate(s, ['name'], 'revocation_statements');
    for (const s of role.renew_statements) validateStatementTemplate(s, ['name', 'expiration'], 'renew_statements');
    if (!role.creation_statements.some((s) => s.includes('{{name}}'))) {
      throw new ValidationError('creation_statements must create the user named {{name}}');
    }
    // Renders a sample now, so a template that can never produce a valid name is refused here, not at issue time.
    renderUsername(role.username_template, name, this.clock.now());
    await this.store.transact([{ type: 'put', pk: DB_ROLE_PK, sk: name, data: role }]);
    return role;
  }

  async getRole(name: string): Promise<DbRole> {
    const item = await this.store.get<DbRole>(DB_ROLE_PK, parse(DbObjectNameSchema, name, 'role name'));
    if (item === undefined) throw new NotFoundError(`database role ${name} not found`);
    return item.data;
  }

  async listRoles(): Promise<string[]> {
    return (await this.store.query(DB_ROLE_PK, { limit: 1000 })).items.map((item) => item.sk);
  }

  async deleteRole(name: string): Promise<void> {
    await this.getRole(name);
    await this.store.transact([{ type: 'delete', pk: DB_ROLE_PK, sk: name }]);
  }

  async roleLimits(role: string): Promise<RoleLimits> {
    const r = await this.getRole(role);
    return { defaultTtlSeconds: r.default_ttl, maxTtlSeconds: r.max_ttl, maxLeases: r.max_leases };
  }

  async issue(role: string, _ttlSeconds: number, expiresAt: number) {
    const r = await this.getRole(role);
    const target = await this.target(r.db_name, { role, inRequest: true });
    const username = renderUsername(r.username_template, role, this.clock.now());
    const password = generatePassword(r.password_policy);
    await this.plugin.createUser(target, r.creation_statements, {
      name: username,
      password,
      expiration: new Date(expiresAt).toISOString(),
    });
    return {
      credential: { username, password },
      revokeHandle: { config: r.db_name, role, username },
    };
  }

  async revoke(handle: HandleOf<'database'>): Promise<void> {
    // A deleted role falls back to the default revocation; a deleted config cannot be reached and stays failed.
    const statements = await this.getRole(handle.role).then(
      (r) => (r.db_name === handle.config ? r.revocation_statements : []),
      () => [],
    );
    const target = await this.target(handle.config);
    await this.plugin.revokeUser(target, statements, handle.username);
  }

  async renew(handle: HandleOf<'database'>, expiresAt: number): Promise<void> {
    const statements = await this.getRole(handle.role).then(
      (r) => (r.renew_statements.length > 0 ? r.renew_statements : DEFAULT_RENEW),
      () => DEFAULT_RENEW,
    );
    const target = await this.target(handle.config);
    await this.plugin.renewUser(target, statements, {
      name: handle.username,
      expiration: new Date(expiresAt).toISOString(),
    });
  }

  /**
   * @param use.inRequest the caller is a request the broker audits durably on both sides (an issue); revocation and
   *   renewal may come from the lease sweeper, which has no request record around it
   */
  private async target(configName: string, use: { role?: string; inRequest?: boolean } = {}): Promise<Target> {
    const { role, inRequest = false } = use;
    const config = await this.getConfig(configName);
    if (role !== undefined && !config.allowed_roles.includes('*') && !config.allowed_roles.includes(role)) {
      throw new InvalidRequestError(`role ${role} is not in the allowed_roles of database config ${configName}`);
    }
    // The credential is read with the authority of whoever wrote the config, never with that of the caller asking for
    // credentials (who may not read it) nor with Coffer's own: no recorded grant, no read.
    if (config.grant?.adminSecret !== config.admin_secret) {
      throw new InvalidRequestError(
        `database config ${configName} has no recorded grant for its admin_secret: write it again (db config put) ` +
          'as a caller who may read that secret',
      );
    }
    const secret = await this.secrets.get({ secretId: config.admin_secret });
    await this.audit?.response({
      requestId: `database-${configName}-${this.clock.now()}`,
      operation: 'database.read-admin-secret',
      path: `secrets/${config.admin_secret}`,
      sourceIp: 'internal',
      principal: { type: 'system', id: 'coffer-database', displayName: 'database engine', policies: [] },
      outcome: 'ok',
      grants: [{ path: `secrets/${config.admin_secret}`, capability: 'read' }],
      response: {
        config: configName,
        grantedBy: config.grant.grantedBy,
        grantRequestId: config.grant.requestId,
        grantedAt: new Date(config.grant.grantedAt).toISOString(),
      },
      // Recorded before the credential is used. Within an issue it is not synced on its own: the request's durable
      // record precedes it and the durable response follows it in the same chain, and syncing the response syncs
      // this too, so it is on disk before the caller is answered (a sync here was one of five in a row per issue).
      // Outside a request nothing later would sync it.
      durable: !inRequest,
    });
    if (secret.value.kind !== 'string') {
      throw new InvalidRequestError(
        `admin secret ${config.admin_secret} must be a JSON string {"username","password"}`,
      );
    }
    let admin: unknown;
    try {
      admin = JSON.parse(secret.value.string);
    } catch {
      throw new InvalidRequestError(`admin secret ${config.admin_secret} is not JSON {"username","password"}`);
    }
    const parsed = AdminCredentialSchema.safeParse(admin);
    if (!parsed.success) {
      throw new InvalidRequestError(`admin secret ${config.admin_secret} must hold {"username","password"}`);
    }
    return { name: configName, config, admin: parsed.data, credentialVersion: secret.versionId };
  }

  close(): Promise<void> {
    return this.plugin.close();
  }
}
