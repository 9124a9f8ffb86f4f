import * as api from '../../api/index.ts';
import { assertPoliciesExist, POLICY_LIST_PATH } from '../../core/auth/derived-credentials.ts';
import {
  CreateTokenRequestSchema,
  LookupTokenRequestSchema,
  RenewSelfRequestSchema,
  RenewTokenRequestSchema,
  RevokeTokenRequestSchema,
  toTokenTarget as target,
} from '../../core/auth/token/token-schema.ts';
import { tokenIdentity } from '../../core/auth/token/token-service.ts';
import type { TokenRecord } from '../../core/auth/token/token-types.ts';
import { InvalidRequestError, ValidationError } from '../../core/errors.ts';
import { defineRoute, type RouteContext, type RouteDef } from '../route.ts';
import { iso } from './wire.ts';

/**
 * The wire form of a token record: never the token itself, never its hash. `displayName` and `meta` are the labels its
 * creator chose; `identity` is who it acts as in policies and audit.
 */
export function describeToken(record: TokenRecord) {
  const identity = tokenIdentity(record);
  return {
    accessor: record.accessor,
    displayName: record.displayName,
    policies: record.policies,
    createdAt: iso(record.createdAt),
    expiresAt: record.expiresAt === null ? null : iso(record.expiresAt),
    maxExpiresAt: record.maxExpiresAt === null ? null : iso(record.maxExpiresAt),
    ttlSeconds: record.ttlSeconds,
    renewable: record.renewable,
    numUses: record.numUses,
    usesRemaining: record.usesRemaining,
    orphan: record.orphan,
    parentAccessor: record.parentAccessor,
    meta: record.meta,
    identity: { name: identity.name, metadata: identity.metadata },
  };
}

async function callerToken(ctx: RouteContext): Promise<TokenRecord> {
  if (ctx.principal?.type !== 'token') {
    throw new InvalidRequestError('this operation needs a token caller');
  }
  return ctx.deps.tokens.lookup({ accessor: ctx.principal.id });
}

export const tokenRoutes: RouteDef[] = [
  defineRoute({
    operation: 'token.create',
    method: 'POST',
    path: '/v1/auth/token/create',
    summary:
      'Create a child token: it acts as the caller’s identity and never does more than the caller (other policies or identity need root)',
    wrappable: true,
    mutating: true,
    response: api.TokenCreated,
    statuses: [201],
    body: CreateTokenRequestSchema,
    sensitive: ['token', 'accessor'],
    access: () => ({ path: 'auth/token/create', capability: 'create' }),
    async handle({ body }, ctx) {
      const parent = await callerToken(ctx);
      await assertPoliciesExist(ctx.deps.policies, parent, body.policies ?? [], 'a token', () =>
        ctx.isAllowed({ path: POLICY_LIST_PATH, capability: 'list' }),
      );
      const { token, record } = await ctx.deps.tokens.create(parent, body);
      return { status: 201, body: { token, ...describeToken(record) } };
    },
  }),
  defineRoute({
    operation: 'token.lookup-self',
    method: 'GET',
    path: '/v1/auth/token/lookup-self',
    summary: 'Describe the calling token',
    mutating: false,
    response: api.TokenDescription,
    sensitive: ['accessor'],
    resource: () => 'auth/token/lookup-self',
    async handle(_input, ctx) {
      return { body: describeToken(await callerToken(ctx)) };
    },
  }),
  defineRoute({
    operation: 'token.lookup',
    method: 'POST',
    path: '/v1/auth/token/lookup',
    summary: 'Describe a token by token or accessor',
    mutating: false,
    response: api.TokenDescription,
    body: LookupTokenRequestSchema,
    sensitive: ['token', 'accessor'],
    access: () => ({ path: 'auth/token/lookup', capability: 'read' }),
    async handle({ body }, { deps }) {
      return { body: describeToken(await deps.tokens.lookup(target(body))) };
    },
  }),
  defineRoute({
    operation: 'token.renew-self',
    method: 'POST',
    path: '/v1/auth/token/renew-self',
    summary: 'Renew the calling token (from now, capped by its max TTL)',
    mutating: true,
    response: api.TokenDescription,
    body: RenewSelfRequestSchema,
    sensitive: ['accessor'],
    resource: () => 'auth/token/renew-self',
    async handle({ body }, ctx) {
      const self = await callerToken(ctx);
      return { body: describeToken(await ctx.deps.tokens.renew({ accessor: self.accessor }, body.increment)) };
    },
  }),
  defineRoute({
    operation: 'token.renew',
    method: 'POST',
    path: '/v1/auth/token/renew',
    summary: 'Renew a token by token or accessor',
    mutating: true,
    response: api.TokenDescription,
    body: RenewTokenRequestSchema,
    sensitive: ['token', 'accessor'],
    access: () => ({ path: 'auth/token/renew', capability: 'update' }),
    async handle({ body }, { deps }) {
      return { body: describeToken(await deps.tokens.renew(target(body), body.increment)) };
    },
  }),
  defineRoute({
    operation: 'token.revoke-self',
    method: 'POST',
    path: '/v1/auth/token/revoke-self',
    summary: 'Revoke the calling token and its children',
    mutating: true,
    response: api.NoContent,
    statuses: [204],
    resource: () => 'auth/token/revoke-self',
    async handle(_input, ctx) {
      const self = await callerToken(ctx);
      await ctx.deps.tokens.revoke({ accessor: self.accessor });
      return { status: 204, body: undefined };
    },
  }),
  defineRoute({
    operation: 'token.revoke',
    method: 'POST',
    path: '/v1/auth/token/revoke',
    summary: 'Revoke a token (and, unless orphan=true, its children) by token or accessor',
    mutating: true,
    response: api.NoContent,
    statuses: [204],
    body: RevokeTokenRequestSchema,
    sensitive: ['token', 'accessor'],
    access: () => ({ path: 'auth/token/revoke', capability: 'update' }),
    async handle({ body }, { deps }) {
      if (body.orphan === true) {
        if (body.accessor === undefined) throw new ValidationError('revoke with orphan=true takes an accessor');
        await deps.tokens.revokeOrphan({ accessor: body.accessor });
      } else {
        await deps.tokens.revoke(target(body));
      }
      return { status: 204, body: undefined };
    },
  }),
];
