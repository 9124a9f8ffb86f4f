import * as z from 'zod';
import { MAX_DURATION_SECONDS, parseDuration } from '../duration.ts';

/** Store partition of the rate-limit quota definitions: sk = quota name → `RateLimitQuota`. */
export const RATE_LIMIT_QUOTA_PARTITION = 'rate-limit-quotas';

/** Whose requests share one bucket of a quota. */
export const QUOTA_DIMENSIONS = ['global', 'source', 'principal'] as const;
export type QuotaDimension = (typeof QUOTA_DIMENSIONS)[number];

export const QuotaNameSchema = z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,127}$/, {
  error: 'must be 1-128 characters of a-z, 0-9, _ . and -, starting with a letter or digit',
});

/**
 * A policy-path prefix: '' for every request, `auth/<mount>/` for the logins and roles of an auth mount,
 * `secrets/prod/` for a folder. No wildcards: the longest matching prefix wins, as Vault's path beats mount beats
 * global.
 */
export const QuotaPathSchema = z
  .string()
  .max(512)
  .regex(/^(?!\/)[^\s*]*$/, { error: 'must be a policy path prefix without a leading /, spaces or *' });

const PositiveDuration = (what: string, max: number) =>
  z.union([z.string(), z.number()]).transform((value, ctx) => {
    try {
      const seconds = parseDuration(value);
      if (seconds > 0 && seconds <= max) return seconds;
      ctx.addIssue({ code: 'custom', message: `${what} must be between 1 second and ${max} seconds` });
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
    return z.NEVER;
  });

/** Body of `POST /v1/sys/quotas/rate-limit/<name>`, as Vault's `sys/quotas/rate-limit/<name>` plus `per`. */
export const QuotaWriteSchema = z.strictObject({
  path: QuotaPathSchema.default(''),
  /** Requests per `interval`. */
  rate: z.number().positive().max(1_000_000),
  /** @default 1s */
  interval: PositiveDuration('interval', 86_400).default(1),
  /** Requests a full bucket allows at once. @default the rate, rounded up */
  burst: z.number().int().positive().max(1_000_000).optional(),
  /** Once exceeded, refuse everything for this long. @default none */
  block_interval: PositiveDuration('block_interval', MAX_DURATION_SECONDS).optional(),
  /** One bucket for everyone (`global`), per source address (`source`, Vault's), or per principal. @default source */
  per: z.enum(QUOTA_DIMENSIONS).default('source'),
});
export type QuotaWrite = z.infer<typeof QuotaWriteSchema>;

/** A stored quota. */
export interface RateLimitQuota {
  readonly name: string;
  readonly path: string;
  readonly rate: number;
  readonly intervalSeconds: number;
  readonly burst: number;
  /** 0 = no block. */
  readonly blockIntervalSeconds: number;
  readonly per: QuotaDimension;
  /** Epoch ms. */
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** What a request is, for the quotas. */
export interface QuotaSubject {
  /** The request's policy path (`secrets/prod/db`, `auth/approle/login`). */
  readonly path: string;
  readonly sourceIp: string;
  /** The authenticated principal; absent for requests that need none (logins). */
  readonly principalId?: string | undefined;
}
