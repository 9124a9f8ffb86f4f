import { ThrottledError } from '../errors.ts';

/** Why a request was refused before it ran, as the audit log's `denied.reason` names it. */
export type RateLimitReason = 'rate_limited' | 'locked_out';

/**
 * A request refused by a rate-limit quota or a login lockout: 429 with `Retry-After` on the native API,
 * `ThrottlingException` on the Secrets Manager API (http-errors.ts). The message names the quota or mount, never a
 * credential, a user name or an address.
 */
export class RateLimitedError extends ThrottledError {
  constructor(
    message: string,
    readonly reason: RateLimitReason,
    /** Whole seconds, rounded up: what `Retry-After` says. */
    readonly retryAfterSeconds: number,
  ) {
    super(message, { details: { reason, retryAfterSeconds } });
  }
}

/** Milliseconds as `Retry-After` seconds: rounded up, at least 1 (0 would invite an immediate retry that fails). */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
