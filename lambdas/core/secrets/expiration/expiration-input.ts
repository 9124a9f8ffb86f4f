import { ValidationError } from '../../errors.ts';
import { DEFAULT_NOTIFY_BEFORE_MS, EXPIRATION_LIMITS, type ExpirationPolicy } from './expiration-policy.ts';

/** An expiration policy as a caller asks for it (durations in seconds, times in epoch milliseconds). */
export interface ExpirationInput {
  /** Absolute expiry. Give this or `ttlSeconds`, not both. */
  readonly expiresAt?: number | undefined;
  /** Expiry this long after the write. */
  readonly ttlSeconds?: number | undefined;
  /** @default 0 */
  readonly graceSeconds?: number | undefined;
  readonly maxReads?: number | undefined;
  /** A secret of the same region whose rotation ends this one. */
  readonly expireWhenRotated?: string | undefined;
  /** A lease whose revocation or expiry ends this secret. */
  readonly expireWhenLeaseRevoked?: string | undefined;
  /** @default 30 days, 7 days, 1 day */
  readonly notifyBeforeSeconds?: readonly number[] | undefined;
}

/**
 * The stored policy for `input`, written at `now`. `watchedVersion` is the AWSCURRENT version of the secret named by
 * `expireWhenRotated` (read by the caller in the same region): the rotation that ends this secret is the one that
 * moves that label.
 *
 * @throws ValidationError naming the rule broken
 */
export function toExpirationPolicy(
  input: ExpirationInput,
  now: number,
  watchedVersion?: string | undefined,
): ExpirationPolicy {
  if (input.expiresAt !== undefined && input.ttlSeconds !== undefined) {
    throw new ValidationError('give expiresAt or ttl, not both');
  }
  const expiresAt = input.ttlSeconds !== undefined ? now + input.ttlSeconds * 1000 : input.expiresAt;
  if (
    expiresAt === undefined &&
    input.maxReads === undefined &&
    input.expireWhenRotated === undefined &&
    input.expireWhenLeaseRevoked === undefined
  ) {
    throw new ValidationError(
      'an expiration policy needs expiresAt, ttl, maxReads, expireWhenRotated or expireWhenLeaseRevoked',
    );
  }
  if (expiresAt !== undefined && (!Number.isSafeInteger(expiresAt) || expiresAt <= now)) {
    throw new ValidationError('expiresAt must be in the future');
  }
  if (input.ttlSeconds !== undefined && input.ttlSeconds <= 0) throw new ValidationError('ttl must be positive');
  if (
    input.maxReads !== undefined &&
    (!Number.isSafeInteger(input.maxReads) || input.maxReads < 1 || input.maxReads > EXPIRATION_LIMITS.maxReads)
  ) {
    throw new ValidationError(`maxReads must be a whole number from 1 to ${EXPIRATION_LIMITS.maxReads}`);
  }
  const graceMs = (input.graceSeconds ?? 0) * 1000;
  if (!Number.isSafeInteger(graceMs) || graceMs < 0 || graceMs > EXPIRATION_LIMITS.maxGraceMs) {
    throw new ValidationError('grace must be between 0 and 365 days');
  }
  const leads = input.notifyBeforeSeconds?.map((s) => s * 1000) ?? [...DEFAULT_NOTIFY_BEFORE_MS];
  if (leads.length > EXPIRATION_LIMITS.maxNotifyLeads) {
    throw new ValidationError(`notifyBefore names at most ${EXPIRATION_LIMITS.maxNotifyLeads} lead times`);
  }
  if (leads.some((lead) => !Number.isSafeInteger(lead) || lead <= 0)) {
    throw new ValidationError('each notifyBefore lead time must be positive');
  }
  return {
    ...(expiresAt === undefined ? {} : { expiresAt }),
    graceMs,
    ...(input.maxReads === undefined ? {} : { maxReads: input.maxReads }),
    ...(input.expireWhenRotated === undefined
      ? {}
      : {
          whenRotated: {
            name: input.expireWhenRotated,
            ...(watchedVersion === undefined ? {} : { versionId: watchedVersion }),
          },
        }),
    ...(input.expireWhenLeaseRevoked === undefined ? {} : { whenLeaseRevoked: input.expireWhenLeaseRevoked }),
    notifyBeforeMs: [...new Set(leads)].sort((a, b) => b - a),
    setAt: now,
  };
}
