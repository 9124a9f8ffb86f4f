import * as z from 'zod';
import type * as api from '../../api/index.ts';
import { DurationSchema } from '../../core/duration.ts';
import type { ExpirationInput } from '../../core/secrets/expiration/expiration-input.ts';
import { EXPIRATION_LIMITS, type ExpiryNotice } from '../../core/secrets/expiration/expiration-policy.ts';
import { SecretNameSchema } from '../../core/secrets/secret-schema.ts';
import type { SecretDescription } from '../../core/secrets/secret-types.ts';
import type { AccessCheck } from '../route.ts';
import { iso } from './wire.ts';

/** An expiration policy on the wire (`docs/expiration.md`): times as ISO-8601, durations as `30d`, `1h30m` or seconds. */
export const ExpirationBody = z
  .object({
    expiresAt: z.iso.datetime({ offset: true }).optional().describe('Absolute expiry'),
    ttl: DurationSchema.optional().describe('Expiry this long after the write (computed once, at the write)'),
    grace: DurationSchema.optional().describe('Reads still succeed this long after the expiry, with a warning'),
    maxReads: z.number().int().min(1).max(EXPIRATION_LIMITS.maxReads).optional(),
    expireWhenRotated: SecretNameSchema.optional().describe('Expires when this secret rotates; needs read on it'),
    expireWhenLeaseRevoked: z
      .string()
      .min(1)
      .max(512)
      .optional()
      .describe('Expires when this lease is revoked or expires; needs read on sys/leases/lookup/<lease>'),
    notifyBefore: z
      .array(DurationSchema)
      .min(1)
      .max(EXPIRATION_LIMITS.maxNotifyLeads)
      .optional()
      .describe('Lead times of SecretExpiring events (default 30d, 7d, 1d)'),
  })
  .strict()
  .refine((e) => !(e.expiresAt !== undefined && e.ttl !== undefined), 'give expiresAt or ttl, not both');

export function toExpirationInput(body: z.output<typeof ExpirationBody>): ExpirationInput {
  return {
    expiresAt: body.expiresAt === undefined ? undefined : Date.parse(body.expiresAt),
    ttlSeconds: body.ttl,
    graceSeconds: body.grace,
    maxReads: body.maxReads,
    expireWhenRotated: body.expireWhenRotated,
    expireWhenLeaseRevoked: body.expireWhenLeaseRevoked,
    notifyBeforeSeconds: body.notifyBefore,
  };
}

/**
 * What a policy names is a resource of the request: a secret whose rotation it watches (`read`: the policy observes its
 * versions) and a lease whose end it watches (`read` on the lease's own lookup path). Without this, a narrow token
 * could learn whether a secret or lease exists, or when it changes, by hooking a secret of its own onto it.
 */
export function expirationReferences(body: z.output<typeof ExpirationBody> | null | undefined): AccessCheck[] {
  if (body === undefined || body === null) return [];
  return [
    ...(body.expireWhenRotated === undefined
      ? []
      : [{ path: `secrets/${body.expireWhenRotated}`, capability: 'read' as const }]),
    ...(body.expireWhenLeaseRevoked === undefined
      ? []
      : [{ path: `sys/leases/lookup/${body.expireWhenLeaseRevoked}`, capability: 'read' as const }]),
  ];
}

/** The policy and its state as describe answers them. */
export function expirationView(expiration: SecretDescription['expiration']): api.SecretDescribed['expiration'] {
  if (expiration === undefined) return undefined;
  const { policy, status } = expiration;
  return {
    expiresAt: iso(policy.expiresAt),
    grace: Math.round(policy.graceMs / 1000),
    maxReads: policy.maxReads,
    expireWhenRotated: policy.whenRotated?.name,
    expireWhenLeaseRevoked: policy.whenLeaseRevoked,
    notifyBefore: policy.notifyBeforeMs.map((ms) => Math.round(ms / 1000)),
    setAt: iso(policy.setAt),
    state: status.state,
    effectiveExpiresAt: iso(status.expiresAt),
    graceEndsAt: iso(status.graceEndsAt),
    readsLeft: status.readsLeft,
    reason: status.reason,
  };
}

/**
 * A read's warning: the `expiry` and `warnings` fields of the answer, and the same as an RFC 7234 `Warning` header
 * (code 299, "miscellaneous persistent warning") with `X-Coffer-Expiry` for machines.
 */
export function expiryWarning(name: string, notice: ExpiryNotice | undefined) {
  if (notice === undefined) return { fields: {}, headers: undefined };
  const expiresAt = iso(notice.expiresAt);
  const graceEndsAt = iso(notice.graceEndsAt);
  const text =
    notice.state === 'grace'
      ? `secret ${name} expired at ${expiresAt}; reads are refused from ${graceEndsAt}`
      : `secret ${name} expires at ${expiresAt}`;
  return {
    fields: {
      expiry: {
        state: notice.state,
        expiresAt,
        graceEndsAt,
        ...(notice.readsLeft === undefined ? {} : { readsLeft: notice.readsLeft }),
      },
      warnings: [text],
    },
    headers: {
      warning: `299 coffer ${JSON.stringify(text)}`,
      'x-coffer-expiry': `${notice.state}; expires-at=${expiresAt}; grace-ends-at=${graceEndsAt}`,
    },
  };
}
