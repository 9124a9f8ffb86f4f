import * as z from 'zod';
import * as api from '../../api/index.ts';
import { parseDuration } from '../../core/duration.ts';
import { InvalidRequestError } from '../../core/errors.ts';
import type { LeaseView } from '../../core/leases/lease-types.ts';
import type { BrokerDeps } from '../broker-deps.ts';
import { requireService } from '../features.ts';
import { defineRoute, type RouteContext, type RouteDef } from '../route.ts';
import { iso, Pagination, QueryBool } from './wire.ts';

const LeaseId = z.string().min(1).max(512).describe('e.g. database/creds/app/1f2e…');
const Prefix = z.string().min(1).max(512).describe('e.g. database/creds/app/');

export function describeLease(lease: LeaseView) {
  return {
    leaseId: lease.leaseId,
    kind: lease.kind,
    state: lease.state,
    issuedAt: iso(lease.issuedAt),
    expiresAt: iso(lease.expiresAt),
    maxExpiresAt: iso(lease.maxExpiresAt),
    attempts: lease.attempts,
    ...(lease.lastError === undefined ? {} : { lastError: lease.lastError, lastAttemptAt: iso(lease.lastAttemptAt) }),
  };
}

/**
 * A TTL no longer than what is left of the calling token: a credential handed out under a lease must not outlive the
 * credential that asked for it (an SSH certificate cannot be called back once signed; an access token lives on at its
 * server until revoked).
 */
export async function withinCallerToken(ctx: RouteContext, ttlSeconds: number): Promise<number> {
  if (ctx.principal?.type !== 'token') return ttlSeconds;
  const token = await ctx.deps.tokens.lookup({ accessor: ctx.principal.id });
  if (token.expiresAt === null) return ttlSeconds;
  const left = Math.floor((token.expiresAt - ctx.deps.clock.now()) / 1000);
  if (left <= 0) throw new InvalidRequestError('the calling token has expired');
  return Math.min(ttlSeconds, left);
}

function leases(deps: BrokerDeps) {
  return requireService(deps, 'leases');
}

/** Listing `database/creds/app/` needs `list` on `sys/leases/lookup/database/creds/app`. */
const lookupPath = (prefix: string | undefined) =>
  prefix === undefined || prefix === '' ? 'sys/leases/lookup' : `sys/leases/lookup/${prefix.replace(/\/+$/, '')}`;

const ListQuery = Pagination.extend({ prefix: z.string().max(512).optional(), failed: QueryBool.optional() }).strict();

export const leaseRoutes: RouteDef[] = [
  defineRoute({
    operation: 'lease.list',
    method: 'GET',
    path: '/v1/sys/leases',
    summary: 'List leases under a prefix; failed=true keeps revocations that failed (with last error and attempts)',
    mutating: false,
    response: api.LeaseList,
    query: ListQuery,
    access: ({ query }) => ({ path: lookupPath(query.prefix), capability: 'list' }),
    async handle({ query }, { deps }) {
      const page = await leases(deps).list({
        prefix: query.prefix,
        failed: query.failed,
        limit: query.limit,
        cursor: query.cursor,
      });
      return { body: { leases: page.leases.map(describeLease), nextCursor: page.nextCursor } };
    },
  }),
  defineRoute({
    operation: 'lease.lookup',
    method: 'POST',
    path: '/v1/sys/leases/lookup',
    summary: 'Describe one lease',
    mutating: false,
    response: api.LeaseDescription,
    body: z.object({ leaseId: LeaseId }).strict(),
    access: ({ body }) => ({ path: `sys/leases/lookup/${body.leaseId}`, capability: 'read' }),
    async handle({ body }, { deps }) {
      return { body: describeLease(await leases(deps).lookup(body.leaseId)) };
    },
  }),
  defineRoute({
    operation: 'lease.renew',
    method: 'POST',
    path: '/v1/sys/leases/renew',
    summary: 'Extend a lease from now by increment (default: its TTL), capped by its max TTL',
    mutating: true,
    response: api.LeaseRenewed,
    body: z
      .object({ leaseId: LeaseId, increment: z.union([z.string().max(32), z.number().int().min(1)]).optional() })
      .strict(),
    access: ({ body }) => ({ path: `sys/leases/renew/${body.leaseId}`, capability: 'update' }),
    async handle({ body }, { deps }) {
      const renewed = await leases(deps).renew(
        body.leaseId,
        body.increment === undefined ? undefined : parseDuration(body.increment),
      );
      return {
        body: {
          ...describeLease(renewed),
          leaseDuration: Math.round((renewed.expiresAt - deps.clock.now()) / 1000),
          capped: renewed.capped,
        },
      };
    },
  }),
  defineRoute({
    operation: 'lease.revoke',
    method: 'POST',
    path: '/v1/sys/leases/revoke',
    summary: 'Revoke a lease at its target; 202 when the target failed and the revocation will be retried',
    mutating: true,
    response: api.LeaseRevoked,
    statuses: [200, 202],
    body: z.object({ leaseId: LeaseId }).strict(),
    access: ({ body }) => ({ path: `sys/leases/revoke/${body.leaseId}`, capability: 'update' }),
    async handle({ body }, { deps }) {
      const outcome = await leases(deps).revoke(body.leaseId);
      return outcome.revoked
        ? { body: { leaseId: outcome.leaseId, revoked: true } }
        : { status: 202, body: { revoked: false, ...describeLease(outcome.lease!) } };
    },
  }),
  defineRoute({
    operation: 'lease.revoke-prefix',
    method: 'POST',
    path: '/v1/sys/leases/revoke-prefix',
    summary: 'Revoke every lease under a prefix, in batches; failures stay listed and are retried',
    mutating: true,
    response: api.LeasesRevoked,
    statuses: [200, 202],
    body: z.object({ prefix: Prefix }).strict(),
    access: ({ body }) => ({ path: `sys/leases/revoke-prefix/${body.prefix.replace(/\/+$/, '')}`, capability: 'sudo' }),
    async handle({ body }, { deps }) {
      const outcome = await leases(deps).revokePrefix(body.prefix);
      return { status: outcome.failed === 0 ? 200 : 202, body: { prefix: body.prefix, ...outcome } };
    },
  }),
];
