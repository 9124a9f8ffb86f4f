import type { RetryOptions as Backoff } from '../core/retry.ts';

export { backoffDelay, type RetryDeps, realSleep, withRetries } from '../core/retry.ts';

/** Retries with "full jitter" exponential backoff: each wait is uniform in [0, min(cap, base·2^(attempt−1))). */
export interface RetryOptions {
  /** Attempts in all, the first included; 1 turns retries off. @default 3 */
  readonly maxAttempts?: number;
  /** Upper bound of the first wait. @default 100 */
  readonly baseDelayMs?: number;
  /** No wait is longer than this. @default 2000 */
  readonly maxDelayMs?: number;
}

export const DEFAULT_RETRY: Backoff = { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 2000 };
