import { ConditionFailedError } from './ports/store.ts';

/** Retries with "full jitter" exponential backoff: each wait is uniform in [0, min(cap, base·2^(attempt−1))). */
export interface RetryOptions {
  /** Attempts in all, the first included; 1 turns retries off. */
  readonly maxAttempts: number;
  /** Upper bound of the first wait. */
  readonly baseDelayMs: number;
  /** No wait is longer than this. */
  readonly maxDelayMs: number;
}

export interface RetryDeps {
  readonly sleep: (ms: number) => Promise<void>;
  /** Uniform in [0, 1). */
  readonly random: () => number;
}

export const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The wait before attempt `attempt + 1`. Full jitter spreads the retries of many writers that failed together over
 * the whole window instead of synchronising them into new collisions.
 * @example backoffDelay(2, { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 2000 }, Math.random) // in [0, 200)
 */
export function backoffDelay(attempt: number, options: RetryOptions, random: () => number): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

/**
 * Runs `fn` until it succeeds, fails with an error `isRetryable` rejects, or attempts run out; the last error is thrown.
 * @example await withRetries((attempt) => send(attempt), (e) => e instanceof ThrottledError, options, deps);
 */
export async function withRetries<T>(
  fn: (attempt: number) => Promise<T>,
  isRetryable: (err: unknown) => boolean,
  options: RetryOptions,
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

export interface RetryOnConflictOptions extends Partial<RetryOptions>, Partial<RetryDeps> {
  /** Which conflicts are worth another read-modify-write; the others are thrown at once. @default every one */
  readonly retryIf?: ((conflict: ConditionFailedError) => boolean) | undefined;
  /** What is thrown once attempts run out. @default the last conflict itself */
  readonly onExhausted?: ((lastConflict: ConditionFailedError) => Error) | undefined;
}

/**
 * Store conflicts are resolved within a few re-reads, so the waits stay short: a request is waiting on them.
 * Ten attempts with waits capped at 50 ms give up after well under half a second of contention.
 */
export const CONFLICT_RETRY: RetryOptions = { maxAttempts: 10, baseDelayMs: 2, maxDelayMs: 50 };

/**
 * Runs a read-modify-write again while the store refuses its conditional write (`ConditionFailedError`: another
 * writer got there first), with jittered exponential backoff, at most `maxAttempts` times. Each attempt must re-read
 * what it writes. Other errors, and conflicts `retryIf` rejects, are thrown at once.
 * @example
 * await retryOnConflict(async () => {
 *   const item = await store.get(pk, sk);
 *   await store.transact([{ type: 'put', pk, sk, data: next(item), condition: { kind: 'rev', rev: item.rev } }]);
 * }, { maxAttempts: 20 });
 */
export async function retryOnConflict<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOnConflictOptions = {},
): Promise<T> {
  const settings: RetryOptions = {
    maxAttempts: options.maxAttempts ?? CONFLICT_RETRY.maxAttempts,
    baseDelayMs: options.baseDelayMs ?? CONFLICT_RETRY.baseDelayMs,
    maxDelayMs: options.maxDelayMs ?? CONFLICT_RETRY.maxDelayMs,
  };
  const retryIf = options.retryIf ?? (() => true);
  try {
    return await withRetries(fn, (err) => err instanceof ConditionFailedError && retryIf(err), settings, {
      sleep: options.sleep ?? realSleep,
      random: options.random ?? Math.random,
    });
  } catch (err) {
    if (err instanceof ConditionFailedError && options.onExhausted !== undefined && retryIf(err)) {
      throw options.onExhausted(err);
    }
    throw err;
  }
}
