/** Retries with "full jitter" exponential backoff: each wait is uniform in [0, min(cap, base·2^(attempt−1))). */

export interface RetryOptions {
  /** Attempts in all, the first included; 1 turns retries off. @default 3 */
  readonly maxAttempts?: number;
  /** Upper bound of the first wait. @default 100 */
  readonly baseDelayMs?: number;
  /** No wait is longer than this. @default 2000 */
  readonly maxDelayMs?: number;
}

export interface RetryDeps {
  readonly sleep: (ms: number) => Promise<void>;
  /** Uniform in [0, 1). */
  readonly random: () => number;
}

export const DEFAULT_RETRY: Required<RetryOptions> = { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 2000 };

export const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The wait before attempt `attempt + 1`. Full jitter spreads the retries of many clients that failed together (a
 * throttled burst, a restarting server) over the whole window instead of synchronising them into new bursts.
 * @example backoffDelay(2, DEFAULT_RETRY, Math.random) // in [0, 200)
 */
export function backoffDelay(attempt: number, options: Required<RetryOptions>, random: () => number): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

/**
 * Runs `fn` until it succeeds, fails with an error `isRetryable` rejects, or attempts run out; the last error is thrown.
 * @example await withRetries((attempt) => send(attempt), (e) => e instanceof CofferThrottledError, DEFAULT_RETRY, deps);
 */
export async function withRetries<T>(
  fn: (attempt: number) => Promise<T>,
  isRetryable: (err: unknown) => boolean,
  options: Required<RetryOptions>,
  deps: RetryDeps,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= options.maxAttempts || !isRetryable(err)) throw err;
      await deps.sleep(backoffDelay(attempt, options, deps.random));
    }
  }
}
