import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { NotFoundError, ValidationError } from '../../errors.ts';
import type { Clock } from '../../ports/clock.ts';
import { ConditionFailedError, type Store, type WriteOp } from '../../ports/store.ts';
import { retryOnConflict } from '../../retry.ts';
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
import { cidrsOutside, sourceAllowed } from '../methods/cidrs.ts';
import { LoginFailedError } from '../methods/login-error.ts';
import {
  APPROLE_PARTITIONS,
  type AppRoleConfig,
  AppRoleConfigSchema,
  type AppRoleLogin,
  AppRoleLoginSchema,
  type AppRoleRole,
  AppRoleRoleSchema,
  type GeneratedSecretId,
  type GenerateSecretIdRequest,
  type SecretIdRecord,
} from './approle-types.ts';

/** The one answer to every refused AppRole login, so it tells nothing about which part was wrong. */
export const APPROLE_LOGIN_REFUSED =
  'invalid role id or secret id (unknown, expired, used up, or not valid from this address)';
const SECRET_ID_NOT_FOUND = 'secret id not found';
/** 32 random bytes: as strong as a token. */
const SECRET_ID_BYTES = 32;
/**
 * Concurrent logins with one secret id race on its use count; each round lets one of them through, so the bound is
 * only reached under pathological contention, which then fails closed (refused login).
 */
const MAX_SPEND_ATTEMPTS = 64;

type SecretIdItem = { [K in keyof SecretIdRecord]: SecretIdRecord[K] };
type AccessorItem = { hash: string };

/**
 * The AppRole method: role CRUD validation, secret ids (generate, look up, destroy) and login.
 *
 * A secret id is stored under the sha256 of itself (it is 32 random bytes, so no salt or slow hash is needed), and
 * its use count is spent with a revision-conditioned write: two logins racing on a last use cannot both win.
 */
export class AppRoleMethod implements AuthMethod<AppRoleConfig, AppRoleRole, AppRoleLogin> {
  readonly type = 'approle' as const;
  readonly summary = 'role id + secret id, for machines and pipelines (TTL, use counts and CIDR bounds)';
  readonly configSchema = AppRoleConfigSchema;
  readonly roleSchema = AppRoleRoleSchema;
  readonly loginSchema = AppRoleLoginSchema;
  private readonly store: Store;
  private readonly clock: Clock;

  constructor(deps: Pick<AuthMethodDeps, 'store' | 'clock'>) {
    this.store = deps.store;
    this.clock = deps.clock;
  }

  rolePolicies(role: AppRoleRole): readonly string[] {
    return role.token_policies;
  }

  async prepareRole(write: RoleWrite<AppRoleConfig, AppRoleRole>): Promise<PreparedRole<AppRoleRole>> {
    const { mount, name, role, previous } = write;
    const roleId = role.role_id ?? previous?.role_id ?? randomUUID();
    const roleUid = previous?.role_uid ?? randomUUID();
    const ops: WriteOp[] = [];
    if (previous?.role_id !== roleId) {
      // A role id names exactly one role of the mount: the index put fails if another role already has it.
      ops.push({
        type: 'put',
        pk: APPROLE_PARTITIONS.roleIds,
        sk: roleIdKey(mount, roleId),
        data: { role: name },
        condition: { kind: 'absent' },
      });
      if (previous?.role_id !== undefined) {
        ops.push({ type: 'delete', pk: APPROLE_PARTITIONS.roleIds, sk: roleIdKey(mount, previous.role_id) });
      }
    }
    return { role: { ...role, role_id: roleId, role_uid: roleUid }, ops };
  }

  roleDeleteOps(mount: AuthMountRef<AppRoleConfig>, _name: string, role: AppRoleRole): readonly WriteOp[] {
    // The role's secret ids stay behind, unreachable: they are keyed by its uid, which no later role gets.
    return role.role_id === undefined
      ? []
      : [{ type: 'delete', pk: APPROLE_PARTITIONS.roleIds, sk: roleIdKey(mount, role.role_id) }];
  }

  describeRole(role: AppRoleRole): Record<string, unknown> {
    const { role_uid: _uid, role_id: _roleId, ...shown } = role;
    return shown;
  }

  async login(
    mount: AuthMountRef<AppRoleConfig>,
    body: AppRoleLogin,
    roles: RoleReader<AppRoleRole>,
    context: LoginContext,
  ): Promise<LoginOutcome> {
    const refuse = (reason: string, role?: string) => new LoginFailedError(APPROLE_LOGIN_REFUSED, reason, role);
    const index = await this.store.get<{ role: string }>(APPROLE_PARTITIONS.roleIds, roleIdKey(mount, body.role_id));
    if (index === undefined) throw refuse('unknown role id');
    const name = index.data.role;
    const role = await roles.get(name);
    if (role === undefined || role.role_id === undefined || !sameText(role.role_id, body.role_id)) {
      throw refuse('unknown role id');
    }
    const refuseRole = (reason: string) => refuse(reason, name);
    if (!sourceAllowed(role.secret_id_bound_cidrs, context.sourceIp)) {
      throw refuseRole('source address outside the role secret_id_bound_cidrs');
    }
    let metadata: Record<string, string> = {};
    if (role.bind_secret_id) {
      if (body.secret_id === undefined) throw refuseRole('no secret id given');
      metadata = await this.spend(secretIdPartition(mount, name, role), body.secret_id, context, refuseRole);
    }
    return {
      role: name,
      policies: role.token_policies,
      ttlSeconds: role.token_ttl === 0 ? undefined : role.token_ttl,
      maxTtlSeconds: role.token_max_ttl === 0 ? undefined : role.token_max_ttl,
      numUses: role.token_num_uses,
      metadata: { ...metadata, role_name: name },
      alias: role.role_id,
      boundCidrs: role.token_bound_cidrs,
    };
  }

  /**
   * Issues a secret id for a role. Its TTL and use count default to the role's and may only be tighter; its CIDRs
   * must lie within the role's `secret_id_bound_cidrs`.
   * @throws ValidationError when the request loosens the role's bounds.
   */
  async generateSecretId(
    mount: AuthMountRef<AppRoleConfig>,
    name: string,
    role: AppRoleRole,
    request: GenerateSecretIdRequest,
  ): Promise<GeneratedSecretId> {
    const ttl = request.ttl ?? role.secret_id_ttl;
    if (role.secret_id_ttl > 0 && (ttl === 0 || ttl > role.secret_id_ttl)) {
      throw new ValidationError(`ttl must be at most the role's secret_id_ttl (${role.secret_id_ttl}s)`);
    }
    const numUses = request.num_uses ?? role.secret_id_num_uses;
    if (role.secret_id_num_uses > 0 && (numUses === 0 || numUses > role.secret_id_num_uses)) {
      throw new ValidationError(`num_uses must be at most the role's secret_id_num_uses (${role.secret_id_num_uses})`);
    }
    const cidrList = request.cidr_list ?? [];
    const outside = cidrsOutside(cidrList, role.secret_id_bound_cidrs);
    if (outside.length > 0) {
      throw new ValidationError(`cidr_list must lie within the role's secret_id_bound_cidrs: ${outside.join(', ')}`, {
        details: { cidrs: outside },
      });
    }
    const now = this.clock.now();
    const secretId = randomBytes(SECRET_ID_BYTES).toString('base64url');
    const accessor = randomUUID();
    const record: SecretIdRecord = {
      accessor,
      metadata: { ...request.metadata },
      cidrList,
      createdAt: now,
      expiresAt: ttl === 0 ? null : now + ttl * 1000,
      numUses,
      usesRemaining: numUses,
    };
    const pk = secretIdPartition(mount, name, role);
    const expiry = record.expiresAt === null ? {} : { expiresAt: record.expiresAt };
    await this.store.transact([
      { type: 'put', pk, sk: hashKey(hashOf(secretId)), data: { ...record }, condition: { kind: 'absent' }, ...expiry },
      {
        type: 'put',
        pk,
        sk: accessorKey(accessor),
        data: { hash: hashOf(secretId) },
        condition: { kind: 'absent' },
        ...expiry,
      },
    ]);
    return { secretId, accessor, record };
  }

  /** Looks up a secret id by itself. @throws NotFoundError when unknown or expired. */
  async lookupSecretId(
    mount: AuthMountRef<AppRoleConfig>,
    name: string,
    role: AppRoleRole,
    secretId: string,
  ): Promise<SecretIdRecord> {
    const item = await this.store.get<SecretIdItem>(secretIdPartition(mount, name, role), hashKey(hashOf(secretId)));
    if (item === undefined || expired(item.data, this.clock.now())) throw new NotFoundError(SECRET_ID_NOT_FOUND);
    return item.data;
  }

  /** Looks up a secret id by its accessor. @throws NotFoundError when unknown or expired. */
  async lookupSecretIdAccessor(
    mount: AuthMountRef<AppRoleConfig>,
    name: string,
    role: AppRoleRole,
    accessor: string,
  ): Promise<SecretIdRecord> {
    const pk = secretIdPartition(mount, name, role);
    const index = await this.store.get<AccessorItem>(pk, accessorKey(accessor));
    const item = index === undefined ? undefined : await this.store.get<SecretIdItem>(pk, hashKey(index.data.hash));
    if (item === undefined || expired(item.data, this.clock.now())) throw new NotFoundError(SECRET_ID_NOT_FOUND);
    return item.data;
  }

  /** Destroys a secret id by its accessor. @throws NotFoundError when unknown. */
  async destroySecretIdAccessor(
    mount: AuthMountRef<AppRoleConfig>,
    name: string,
    role: AppRoleRole,
    accessor: string,
  ): Promise<void> {
    const pk = secretIdPartition(mount, name, role);
    const index = await this.store.get<AccessorItem>(pk, accessorKey(accessor));
    if (index === undefined) throw new NotFoundError(SECRET_ID_NOT_FOUND);
    await this.store.transact([
      { type: 'delete', pk, sk: accessorKey(accessor) },
      { type: 'delete', pk, sk: hashKey(index.data.hash) },
    ]);
  }

  /** Spends one use of a secret id, atomically; answers its metadata. */
  private async spend(
    pk: string,
    secretId: string,
    context: LoginContext,
    refuse: (reason: string) => LoginFailedError,
  ): Promise<Record<string, string>> {
    const hash = hashOf(secretId);
    return retryOnConflict(
      async () => {
        const item = await this.store.get<SecretIdItem>(pk, hashKey(hash));
        if (item === undefined) throw refuse('unknown secret id');
        const record = item.data;
        const now = this.clock.now();
        const revision = { kind: 'rev', rev: item.rev } as const;
        const removal: WriteOp[] = [
          { type: 'delete', pk, sk: hashKey(hash), condition: revision },
          { type: 'delete', pk, sk: accessorKey(record.accessor) },
        ];
        if (expired(record, now)) {
          await this.store.transact(removal).catch(ignoreConflict);
          throw refuse('secret id expired');
        }
        if (!sourceAllowed(record.cidrList, context.sourceIp)) {
          throw refuse('source address outside the secret id cidr_list');
        }
        if (record.numUses > 0) {
          if (record.usesRemaining <= 1) await this.store.transact(removal);
          else {
            const next: SecretIdItem = { ...record, usesRemaining: record.usesRemaining - 1 };
            await this.store.transact([
              {
                type: 'put',
                pk,
                sk: hashKey(hash),
                data: next,
                condition: revision,
                ...(record.expiresAt === null ? {} : { expiresAt: record.expiresAt }),
              },
            ]);
          }
        }
        return record.metadata;
      },
      {
        maxAttempts: MAX_SPEND_ATTEMPTS,
        onExhausted: () => refuse('secret id contended beyond the retry bound'),
      },
    );
  }
}

/** The registry's entry for AppRole. */
export const APPROLE_METHOD = {
  type: 'approle' as const,
  create: (deps: AuthMethodDeps) => new AppRoleMethod(deps),
} satisfies AuthMethodFactory<AppRoleConfig, AppRoleRole, AppRoleLogin>;

function roleIdKey(mount: AuthMountRef<unknown>, roleId: string): string {
  return `${mount.id}#${roleId}`;
}

/** @throws NotFoundError for a role stored before it had a uid (cannot happen: `prepareRole` always sets it). */
function secretIdPartition(mount: AuthMountRef<unknown>, name: string, role: AppRoleRole): string {
  if (role.role_uid === undefined) throw new NotFoundError('role not found');
  return `${APPROLE_PARTITIONS.secretIdsPrefix}${mount.id}#${name}#${role.role_uid}`;
}

const hashKey = (hash: string) => `h#${hash}`;
const accessorKey = (accessor: string) => `a#${accessor}`;

function hashOf(secretId: string): string {
  return createHash('sha256').update(secretId, 'utf8').digest('hex');
}

function expired(record: SecretIdRecord, now: number): boolean {
  return record.expiresAt !== null && now >= record.expiresAt;
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

function ignoreConflict(err: unknown): void {
  if (!(err instanceof ConditionFailedError)) throw err;
}
