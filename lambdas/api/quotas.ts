import * as z from 'zod';
import { Instant } from './common.ts';

/** A rate-limit quota, in the shape of Vault's `sys/quotas/rate-limit/<name>` (durations in seconds) plus `per`. */
export const RateLimitQuota = z.object({
  name: z.string(),
  type: z.literal('rate-limit'),
  path: z.string().describe("The policy-path prefix it limits; '' = every request"),
  rate: z.number().describe('Requests per interval'),
  interval: z.number().describe('Seconds'),
  burst: z.number().describe('Requests a full bucket allows at once'),
  block_interval: z.number().describe('Seconds every request is refused once the quota is exceeded; 0 = none'),
  per: z.enum(['global', 'source', 'principal']).describe('Whose requests share one bucket'),
  createdAt: Instant,
  updatedAt: Instant,
});
export type RateLimitQuota = z.infer<typeof RateLimitQuota>;

export const RateLimitQuotaList = z.object({ quotas: z.array(RateLimitQuota) });

export const RateLimitQuotaDeleted = z.object({ name: z.string(), deleted: z.boolean() });
