import * as z from 'zod';
import * as api from '../../api/index.ts';
import { parseDuration } from '../../core/duration.ts';
import { OAuthConfigSchema, OAuthRoleSchema, Scope } from '../../engines/oauth/oauth-role.ts';
import type { OAuthConfigView } from '../../engines/oauth/oauth-service.ts';
import { ROLE_NAME } from '../../engines/shared/engine-roles.ts';
import type { BrokerDeps } from '../broker-deps.ts';
import { requireService } from '../features.ts';
import { defineRoute, type RouteContext, type RouteDef } from '../route.ts';
import { describeLease, withinCallerToken } from './leases.ts';
import { iso } from './wire.ts';

/**
 * The OAuth engine: policy paths `oauth/config` (the authorisation server and the client credential), `oauth/roles/
 * <name>`, `oauth/creds/<role>` (an access token under a lease).
 */
const RoleName = z.string().regex(ROLE_NAME, 'a role name is 1–128 letters, digits, "_", "." or "-"');
const NameParam = z.object({ name: RoleName });
const RoleParam = z.object({ role: RoleName });

const Scopes = z
  .union([z.array(Scope).max(256), z.string().max(25_000)])
  .transform((v) => (typeof v === 'string' ? v.split(/[\s,]+/).filter(Boolean) : v))
  .pipe(z.array(Scope).max(256))
  .describe('A list, or a space- or comma-separated string; each one allowed by the role');

const CredsBody = z
  .object({
    scopes: Scopes.optional(),
    ttl: z
      .union([z.string().max(32), z.number().int().min(1)])
      .optional()
      .describe("e.g. \"10m\"; capped by the role's max_ttl, the token's own expiry and the calling token's"),
  })
  .strict();

function oauth(deps: BrokerDeps) {
  return requireService(deps, 'oauth');
}

function describeConfig(config: OAuthConfigView) {
  return {
    ...config,
    updated_at: iso(config.updated_at),
    refreshed_at: iso(config.refreshed_at),
  } as z.infer<typeof api.OAuthConfig>;
}

async function issueToken(
  ctx: RouteContext,
  role: string,
  body: { scopes?: string[] | undefined; ttl?: string | number | undefined },
) {
  const { deps, principal } = ctx;
  const r = await oauth(deps).getRole(role);
  const { lease, credential } = await requireService(deps, 'leases').issue({
    kind: 'oauth',
    role,
    principalId: principal?.id ?? 'anonymous',
    ttlSeconds: await withinCallerToken(ctx, body.ttl === undefined ? r.ttl : parseDuration(body.ttl)),
    request: body.scopes === undefined ? {} : { scopes: body.scopes },
  });
  return {
    body: {
      ...describeLease(lease),
      kind: 'oauth' as const,
      leaseDuration: Math.round((lease.expiresAt - deps.clock.now()) / 1000),
      // Up to the token's own expiry: a renewal never outlives the token it stands for.
      renewable: lease.expiresAt < lease.maxExpiresAt,
      access_token: credential.accessToken,
      token_type: credential.tokenType,
      scope: credential.scope,
      ...(credential.expiresAt !== undefined && { token_expires_at: iso(credential.expiresAt) }),
    },
  };
}

export const oauthRoutes: RouteDef[] = [
  defineRoute({
    operation: 'oauth.config.write',
    method: 'PUT',
    path: '/v1/oauth/config',
    summary:
      'Configure the authorisation server (discovered from its issuer, through the egress allow-list) and the client credential Coffer holds (sealed)',
    mutating: true,
    response: api.OAuthConfig,
    body: OAuthConfigSchema,
    sensitive: ['client_secret', 'refresh_token'],
    access: () => ({ path: 'oauth/config', capability: 'update' }),
    async handle({ body }, { deps }) {
      return { body: describeConfig(await oauth(deps).putConfig(body)) };
    },
  }),
  defineRoute({
    operation: 'oauth.config.read',
    method: 'GET',
    path: '/v1/oauth/config',
    summary: 'The OAuth config: issuer, client id and endpoints; whether a secret and a refresh token are held',
    mutating: false,
    response: api.OAuthConfig,
    access: () => ({ path: 'oauth/config', capability: 'read' }),
    async handle(_input, { deps }) {
      return { body: describeConfig(await oauth(deps).config()) };
    },
  }),
  defineRoute({
    operation: 'oauth.config.delete',
    method: 'DELETE',
    path: '/v1/oauth/config',
    summary: 'Delete the OAuth config and its sealed credential: nothing is issued until a new one is written',
    mutating: true,
    response: api.NoContent,
    statuses: [204],
    access: () => ({ path: 'oauth/config', capability: 'delete' }),
    async handle(_input, { deps }) {
      await oauth(deps).deleteConfig();
      return { status: 204, body: undefined };
    },
  }),
  defineRoute({
    operation: 'oauth.role.list',
    method: 'GET',
    path: '/v1/oauth/roles',
    summary: 'List OAuth roles (names only)',
    mutating: false,
    response: api.OAuthRoleList,
    access: () => ({ path: 'oauth/roles', capability: 'list' }),
    async handle(_input, { deps }) {
      return { body: { roles: await oauth(deps).listRoles() } };
    },
  }),
  defineRoute({
    operation: 'oauth.role.write',
    method: 'PUT',
    path: '/v1/oauth/roles/{name}',
    summary: 'Create or replace an OAuth role: grant, allowed and default scopes, audience or resource, TTLs',
    mutating: true,
    response: api.OAuthRole,
    params: NameParam,
    body: OAuthRoleSchema,
    access: ({ params }) => ({ path: `oauth/roles/${params.name}`, capability: 'update' }),
    async handle({ params, body }, { deps }) {
      return { body: { name: params.name, ...(await oauth(deps).putRole(params.name, body)) } };
    },
  }),
  defineRoute({
    operation: 'oauth.role.read',
    method: 'GET',
    path: '/v1/oauth/roles/{name}',
    summary: 'Read an OAuth role',
    mutating: false,
    response: api.OAuthRole,
    params: NameParam,
    access: ({ params }) => ({ path: `oauth/roles/${params.name}`, capability: 'read' }),
    async handle({ params }, { deps }) {
      return { body: { name: params.name, ...(await oauth(deps).getRole(params.name)) } };
    },
  }),
  defineRoute({
    operation: 'oauth.role.delete',
    method: 'DELETE',
    path: '/v1/oauth/roles/{name}',
    summary: 'Delete an OAuth role (its live leases stay listed and revocable)',
    mutating: true,
    response: api.NoContent,
    statuses: [204],
    params: NameParam,
    access: ({ params }) => ({ path: `oauth/roles/${params.name}`, capability: 'delete' }),
    async handle({ params }, { deps }) {
      await oauth(deps).deleteRole(params.name);
      return { status: 204, body: undefined };
    },
  }),
  defineRoute({
    operation: 'oauth.creds.read',
    method: 'GET',
    path: '/v1/oauth/creds/{role}',
    summary: "An access token with the role's default scopes, under a new lease (revoking it revokes the token)",
    mutating: true,
    wrappable: true,
    feature: ['oauth', 'leases'],
    response: api.OAuthToken,
    params: RoleParam,
    sensitive: ['access_token'],
    access: ({ params }) => ({ path: `oauth/creds/${params.role}`, capability: 'read' }),
    async handle({ params }, ctx) {
      return issueToken(ctx, params.role, {});
    },
  }),
  defineRoute({
    operation: 'oauth.creds.issue',
    method: 'POST',
    path: '/v1/oauth/creds/{role}',
    summary: 'An access token under a new lease, with the scopes asked for (each allowed by the role) and a TTL',
    mutating: true,
    wrappable: true,
    feature: ['oauth', 'leases'],
    response: api.OAuthToken,
    params: RoleParam,
    body: CredsBody,
    sensitive: ['access_token'],
    access: ({ params }) => ({ path: `oauth/creds/${params.role}`, capability: 'update' }),
    async handle({ params, body }, ctx) {
      return issueToken(ctx, params.role, body);
    },
  }),
];
