import * as z from 'zod';
import * as api from '../../api/quotas.ts';
import { QuotaNameSchema, QuotaWriteSchema, type RateLimitQuota } from '../../core/quota/quota-types.ts';
import { requireService } from '../features.ts';
import { defineRoute, type RouteContext, type RouteDef } from '../route.ts';
import { iso } from './wire.ts';

/** Rate-limit quotas, as Vault's `sys/quotas/rate-limit/<name>` (policy paths as the URL paths, without `/v1/`). */

const NameParam = z.object({ name: QuotaNameSchema });
const quotasOf = (ctx: RouteContext) => requireService(ctx.deps, 'quotas');

function describeQuota(quota: RateLimitQuota): api.RateLimitQuota {
  return {
    name: quota.name,
    type: 'rate-limit',
    path: quota.path,
    rate: quota.rate,
    interval: quota.intervalSeconds,
    burst: quota.burst,
    block_interval: quota.blockIntervalSeconds,
    per: quota.per,
    createdAt: iso(quota.createdAt),
    updatedAt: iso(quota.updatedAt),
  };
}

export const quotaRoutes: RouteDef[] = [
  defineRoute({
    operation: 'quota.list',
    method: 'GET',
    path: '/v1/sys/quotas/rate-limit',
    summary: 'List the rate-limit quotas',
    mutating: false,
    response: api.RateLimitQuotaList,
    access: () => ({ path: 'sys/quotas/rate-limit', capability: 'list' }),
    async handle(_input, ctx) {
      return { body: { quotas: (await quotasOf(ctx).list()).map(describeQuota) } };
    },
  }),
  defineRoute({
    operation: 'quota.read',
    method: 'GET',
    path: '/v1/sys/quotas/rate-limit/{name}',
    summary: 'Read a rate-limit quota',
    mutating: false,
    response: api.RateLimitQuota,
    params: NameParam,
    access: ({ params }) => ({ path: `sys/quotas/rate-limit/${params.name}`, capability: 'read' }),
    async handle({ params }, ctx) {
      return { body: describeQuota(await quotasOf(ctx).get(params.name)) };
    },
  }),
  defineRoute({
    operation: 'quota.write',
    method: 'POST',
    path: '/v1/sys/quotas/rate-limit/{name}',
    summary:
      'Create or replace a rate-limit quota: `rate` requests per `interval` under a policy-path prefix, per source, principal or globally',
    mutating: true,
    response: api.RateLimitQuota,
    params: NameParam,
    body: QuotaWriteSchema,
    access: ({ params }) => ({ path: `sys/quotas/rate-limit/${params.name}`, capability: 'update' }),
    async handle({ params, body }, ctx) {
      return { body: describeQuota(await quotasOf(ctx).put(params.name, body)) };
    },
  }),
  defineRoute({
    operation: 'quota.delete',
    method: 'DELETE',
    path: '/v1/sys/quotas/rate-limit/{name}',
    summary: 'Delete a rate-limit quota',
    mutating: true,
    response: api.RateLimitQuotaDeleted,
    params: NameParam,
    access: ({ params }) => ({ path: `sys/quotas/rate-limit/${params.name}`, capability: 'delete' }),
    async handle({ params }, ctx) {
      await quotasOf(ctx).delete(params.name);
      return { body: { name: params.name, deleted: true } };
    },
  }),
];
