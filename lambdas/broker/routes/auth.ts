import * as z from 'zod';
import * as api from '../../api/auth.ts';
import { NoContent } from '../../api/common.ts';
import type { AppRoleMethod } from '../../core/auth/approle/approle-method.ts';
import type { SecretIdRecord } from '../../core/auth/approle/approle-types.ts';
import {
  type AppRoleRole,
  GenerateSecretIdSchema,
  SecretIdAccessorSchema,
  SecretIdLookupSchema,
} from '../../core/auth/approle/approle-types.ts';
import { assertPoliciesExist, POLICY_LIST_PATH } from '../../core/auth/derived-credentials.ts';
import type { AuthMountRef } from '../../core/auth/methods/auth-method.ts';
import {
  type AuthMountRecord,
  EnableAuthSchema,
  type LoginResult,
  MountPathSchema,
  RoleNameSchema,
} from '../../core/auth/methods/auth-mount-service.ts';
import { UnauthenticatedError } from '../../core/errors.ts';
import { UserLockoutConfigSchema } from '../../core/quota/login-lockout.ts';
import { requireService } from '../features.ts';
import { defineRoute, type RouteContext, type RouteDef } from '../route.ts';
import { iso } from './wire.ts';

/**
 * Auth methods, as Vault operators know them: mounts under `sys/auth/<mount>`, each method's roles and login under
 * `auth/<mount>/…` (policy paths as the URL paths, without `/v1/`).
 */

const MountParam = z.object({ mount: MountPathSchema });
const RoleParams = z.object({ mount: MountPathSchema, name: RoleNameSchema });
/** A role body is the method's to validate (each method has its own fields). */
const RoleBody = z.record(z.string(), z.unknown());
/**
 * Every field a login of any method takes (approle, jwt and kubernetes, cert, ldap). Any other key is refused before
 * the request is audited: the body meets its method's own schema only once the mount is looked up, after the request
 * record is written, and a key the audit does not redact (`secret_id` with a stray character, say) would otherwise be
 * logged with its value as sent.
 */
export const LOGIN_FIELDS = ['role_id', 'secret_id', 'role', 'jwt', 'name', 'username', 'password'] as const;
const LoginBody = z.partialRecord(z.enum(LOGIN_FIELDS), z.unknown());

const mountsOf = (ctx: RouteContext) => requireService(ctx.deps, 'authMounts');
const rolePath = (p: { mount: string; name: string }) => `auth/${p.mount}/role/${p.name}`;

function describeMount(ctx: RouteContext, mount: AuthMountRecord): api.AuthMount {
  return {
    path: mount.path,
    type: mount.type,
    description: mount.description,
    config: mountsOf(ctx).shownConfig(mount),
    accessor: mount.id,
    createdAt: iso(mount.createdAt),
    ...(mount.userLockout !== undefined && { user_lockout_config: mount.userLockout }),
  };
}

/** The AppRole mount at `mount`, and the stored role `name` of it. */
async function appRole(ctx: RouteContext, params: { mount: string; name: string }) {
  const mounts = mountsOf(ctx);
  const { mount, method } = await mounts.mountOf(params.mount, 'approle');
  const role = (await mounts.storedRole(params.mount, params.name)) as AppRoleRole;
  return { mount: mount as AuthMountRef<Record<string, never>>, approle: method as unknown as AppRoleMethod, role };
}

function describeSecretId(record: SecretIdRecord) {
  return {
    secret_id_accessor: record.accessor,
    metadata: record.metadata,
    cidr_list: record.cidrList,
    creation_time: iso(record.createdAt),
    expiration_time: record.expiresAt === null ? null : iso(record.expiresAt),
    secret_id_num_uses: record.numUses,
    secret_id_uses_remaining: record.usesRemaining,
  };
}

/**
 * A login's answer in Vault's shape, and what the broker audits and counts of it (`login`): for every login route
 * (`auth.login`, LDAP's `login/<username>`).
 */
export function loginAnswer({ mount, outcome, token }: LoginResult) {
  const { record } = token;
  return {
    body: {
      auth: {
        client_token: token.token,
        accessor: record.accessor,
        policies: record.policies,
        token_policies: record.policies,
        metadata: { ...outcome.metadata },
        lease_duration: record.ttlSeconds,
        renewable: record.renewable,
        num_uses: record.numUses,
        mount_type: mount.type,
        mount_path: mount.path,
        role_name: outcome.role,
      },
    },
    login: { method: mount.type, mount: mount.path, role: outcome.role, alias: outcome.alias },
  };
}

export const authRoutes: RouteDef[] = [
  defineRoute({
    operation: 'auth.mount.list',
    method: 'GET',
    path: '/v1/sys/auth',
    summary: 'List the mounted auth methods',
    mutating: false,
    response: api.AuthMountList,
    access: () => ({ path: 'sys/auth', capability: 'list' }),
    async handle(_input, ctx) {
      return { body: { mounts: (await mountsOf(ctx).list()).map((mount) => describeMount(ctx, mount)) } };
    },
  }),
  defineRoute({
    operation: 'auth.mount.enable',
    method: 'POST',
    path: '/v1/sys/auth/{mount}',
    summary: 'Mount an auth method (approle, …) at /v1/auth/<mount>; a method may be mounted at several paths',
    mutating: true,
    response: api.AuthMount,
    statuses: [201],
    params: MountParam,
    body: EnableAuthSchema,
    // A mount's configuration may hold a credential of its own (Kubernetes' reviewer token, LDAP's bindpass).
    sensitive: ['token_reviewer_jwt', 'bindpass'],
    access: ({ params }) => ({ path: `sys/auth/${params.mount}`, capability: 'update' }),
    async handle({ params, body }, ctx) {
      return { status: 201, body: describeMount(ctx, await mountsOf(ctx).enable(params.mount, body)) };
    },
  }),
  defineRoute({
    operation: 'auth.mount.config.write',
    method: 'POST',
    path: '/v1/auth/{mount}/config',
    summary:
      "Replace a mount's method configuration (a rotated reviewer token or bind password, a new CA or JWKS URL); roles and tokens stay",
    mutating: true,
    response: api.AuthMount,
    params: MountParam,
    body: z.record(z.string(), z.unknown()),
    sensitive: ['token_reviewer_jwt', 'bindpass'],
    // The configuration decides who may log in: the same authority as enabling the mount.
    access: ({ params }) => ({ path: `sys/auth/${params.mount}`, capability: 'update' }),
    async handle({ params, body }, ctx) {
      return { body: describeMount(ctx, await mountsOf(ctx).configure(params.mount, body)) };
    },
  }),
  defineRoute({
    operation: 'auth.mount.config.read',
    method: 'GET',
    path: '/v1/auth/{mount}/config',
    summary: "A mount's method configuration, its credentials shown only as <field>_set",
    mutating: false,
    response: api.AuthMount,
    params: MountParam,
    access: ({ params }) => ({ path: `sys/auth/${params.mount}`, capability: 'read' }),
    async handle({ params }, ctx) {
      return { body: describeMount(ctx, await mountsOf(ctx).get(params.mount)) };
    },
  }),
  defineRoute({
    operation: 'auth.mount.tune',
    method: 'POST',
    path: '/v1/sys/auth/{mount}/tune',
    summary: "Change a mount's login lockout (user_lockout_config: lockout_threshold, lockout_duration, …)",
    mutating: true,
    response: api.AuthMount,
    params: MountParam,
    body: z.strictObject({ user_lockout_config: UserLockoutConfigSchema }),
    // Tuning rewrites the mount's record: the same authority as enabling it.
    access: ({ params }) => ({ path: `sys/auth/${params.mount}`, capability: 'update' }),
    async handle({ params, body }, ctx) {
      return { body: describeMount(ctx, await mountsOf(ctx).tune(params.mount, body)) };
    },
  }),
  defineRoute({
    operation: 'auth.mount.disable',
    method: 'DELETE',
    path: '/v1/sys/auth/{mount}',
    summary: 'Unmount an auth method: its roles and credentials go, and the tokens its logins issued are revoked',
    mutating: true,
    response: api.AuthMountDisabled,
    params: MountParam,
    access: ({ params }) => ({ path: `sys/auth/${params.mount}`, capability: 'delete' }),
    async handle({ params }, ctx) {
      const { revokedTokens } = await mountsOf(ctx).disable(params.mount);
      return { body: { path: params.mount, revokedTokens } };
    },
  }),
  defineRoute({
    operation: 'auth.login-methods',
    method: 'GET',
    path: '/v1/sys/login-methods',
    summary:
      'The enabled login mounts (path and method only), for sign-in pages such as the web console; no token needed',
    auth: 'none',
    mutating: false,
    response: api.LoginMethods,
    // Vault's `sys/internal/ui/mounts` without a token: what a login attempt at `auth/<mount>/login` tells anyone
    // already (an unknown mount answers 404), and nothing of a mount's configuration, roles or description.
    resource: () => 'sys/login-methods',
    async handle(_input, ctx) {
      return { body: { methods: await mountsOf(ctx).loginMethods() } };
    },
  }),
  defineRoute({
    operation: 'auth.login',
    method: 'POST',
    path: '/v1/auth/{mount}/login',
    summary:
      "Log in with the mount's method (approle: role_id + secret_id; jwt, kubernetes: role + jwt; cert: name? and the TLS client certificate; ldap: username + password) for a token with the matched role's policies; no token needed",
    auth: 'none',
    mutating: true,
    response: api.LoginResponse,
    params: MountParam,
    body: LoginBody,
    // Credentials and the token are HMAC'd in the audit log; the role id too, as it half-identifies a credential.
    sensitive: ['role_id', 'secret_id', 'jwt', 'client_token', 'accessor', 'password', 'username'],
    resource: ({ params }) => `auth/${params.mount}/login`,
    async handle({ params, body }, ctx) {
      const { mount, outcome, token } = await mountsOf(ctx).login(params.mount, body, {
        ...ctx.request,
        clientCertificate: ctx.clientCertificate,
      });
      return loginAnswer({ mount, outcome, token });
    },
  }),
  defineRoute({
    operation: 'auth.role.list',
    method: 'GET',
    path: '/v1/auth/{mount}/role',
    summary: 'List the roles of an auth mount (names only)',
    mutating: false,
    response: api.AuthRoleList,
    params: MountParam,
    access: ({ params }) => ({ path: `auth/${params.mount}/role`, capability: 'list' }),
    async handle({ params }, ctx) {
      return { body: { roles: await mountsOf(ctx).listRoles(params.mount) } };
    },
  }),
  defineRoute({
    operation: 'auth.role.put',
    method: 'PUT',
    path: '/v1/auth/{mount}/role/{name}',
    summary:
      'Create or replace a role of an auth mount; it may grant only policies its writer holds, and they must exist',
    mutating: true,
    response: api.AuthRole,
    params: RoleParams,
    body: RoleBody,
    access: ({ params }) => ({ path: rolePath(params), capability: 'update' }),
    async handle({ params, body }, ctx) {
      const writer = ctx.principal;
      if (writer === undefined) throw new UnauthenticatedError('authentication required');
      const role = await mountsOf(ctx).putRole(writer, params.mount, params.name, body, (policies) =>
        assertPoliciesExist(ctx.deps.policies, writer, policies, 'a role', () =>
          ctx.isAllowed({ path: POLICY_LIST_PATH, capability: 'list' }),
        ),
      );
      return { body: { name: params.name, mount: params.mount, role } };
    },
  }),
  defineRoute({
    operation: 'auth.role.get',
    method: 'GET',
    path: '/v1/auth/{mount}/role/{name}',
    summary: 'Read a role of an auth mount',
    mutating: false,
    response: api.AuthRole,
    params: RoleParams,
    access: ({ params }) => ({ path: rolePath(params), capability: 'read' }),
    async handle({ params }, ctx) {
      const role = await mountsOf(ctx).getRole(params.mount, params.name);
      return { body: { name: params.name, mount: params.mount, role } };
    },
  }),
  defineRoute({
    operation: 'auth.role.delete',
    method: 'DELETE',
    path: '/v1/auth/{mount}/role/{name}',
    summary: 'Delete a role of an auth mount; its credentials stop working (tokens already issued live on)',
    mutating: true,
    response: NoContent,
    statuses: [204],
    params: RoleParams,
    access: ({ params }) => ({ path: rolePath(params), capability: 'delete' }),
    async handle({ params }, ctx) {
      await mountsOf(ctx).deleteRole(params.mount, params.name);
      return { status: 204, body: undefined };
    },
  }),
  defineRoute({
    operation: 'approle.role-id.read',
    method: 'GET',
    path: '/v1/auth/{mount}/role/{name}/role-id',
    summary: "Read an AppRole role's role id (which role a login names; not a secret on its own)",
    mutating: false,
    response: api.AppRoleRoleId,
    params: RoleParams,
    sensitive: ['role_id'],
    access: ({ params }) => ({ path: `${rolePath(params)}/role-id`, capability: 'read' }),
    async handle({ params }, ctx) {
      const { role } = await appRole(ctx, params);
      return { body: { role_id: role.role_id ?? '' } };
    },
  }),
  defineRoute({
    operation: 'approle.secret-id.create',
    method: 'POST',
    path: '/v1/auth/{mount}/role/{name}/secret-id',
    summary:
      "Generate a secret id for an AppRole role (shown once; only its hash is kept); TTL, uses and CIDRs within the role's",
    wrappable: true,
    mutating: true,
    response: api.AppRoleSecretIdCreated,
    params: RoleParams,
    body: GenerateSecretIdSchema,
    sensitive: ['secret_id'],
    access: ({ params }) => ({ path: `${rolePath(params)}/secret-id`, capability: 'update' }),
    async handle({ params, body }, ctx) {
      const { mount, approle, role } = await appRole(ctx, params);
      const created = await approle.generateSecretId(mount, params.name, role, body);
      const { record } = created;
      return {
        body: {
          secret_id: created.secretId,
          secret_id_accessor: created.accessor,
          secret_id_ttl: record.expiresAt === null ? 0 : Math.round((record.expiresAt - record.createdAt) / 1000),
          secret_id_num_uses: record.numUses,
        },
      };
    },
  }),
  defineRoute({
    operation: 'approle.secret-id.lookup',
    method: 'POST',
    path: '/v1/auth/{mount}/role/{name}/secret-id/lookup',
    summary: 'Describe a secret id, given itself (never answers the secret id)',
    mutating: false,
    response: api.AppRoleSecretIdDescription,
    params: RoleParams,
    body: SecretIdLookupSchema,
    sensitive: ['secret_id'],
    access: ({ params }) => ({ path: `${rolePath(params)}/secret-id/lookup`, capability: 'update' }),
    async handle({ params, body }, ctx) {
      const { mount, approle, role } = await appRole(ctx, params);
      return { body: describeSecretId(await approle.lookupSecretId(mount, params.name, role, body.secret_id)) };
    },
  }),
  defineRoute({
    operation: 'approle.secret-id-accessor.lookup',
    method: 'POST',
    path: '/v1/auth/{mount}/role/{name}/secret-id-accessor/lookup',
    summary: 'Describe a secret id by its accessor',
    mutating: false,
    response: api.AppRoleSecretIdDescription,
    params: RoleParams,
    body: SecretIdAccessorSchema,
    access: ({ params }) => ({ path: `${rolePath(params)}/secret-id-accessor/lookup`, capability: 'update' }),
    async handle({ params, body }, ctx) {
      const { mount, approle, role } = await appRole(ctx, params);
      const record = await approle.lookupSecretIdAccessor(mount, params.name, role, body.secret_id_accessor);
      return { body: describeSecretId(record) };
    },
  }),
  defineRoute({
    operation: 'approle.secret-id-accessor.destroy',
    method: 'POST',
    path: '/v1/auth/{mount}/role/{name}/secret-id-accessor/destroy',
    summary: 'Destroy a secret id by its accessor: it no longer logs in',
    mutating: true,
    response: NoContent,
    statuses: [204],
    params: RoleParams,
    body: SecretIdAccessorSchema,
    access: ({ params }) => ({ path: `${rolePath(params)}/secret-id-accessor/destroy`, capability: 'update' }),
    async handle({ params, body }, ctx) {
      const { mount, approle, role } = await appRole(ctx, params);
      await approle.destroySecretIdAccessor(mount, params.name, role, body.secret_id_accessor);
      return { status: 204, body: undefined };
    },
  }),
];
