/**
 * The counters behind rate-limit quotas and login lockout. Each runtime keeps them where every instance of the broker
 * sees the same ones: in memory for the single local server, in DynamoDB (one conditional `UpdateItem` per decision)
 * across Lambda instances. Keys are opaque and already HMAC'd by the caller: an adapter never sees a principal, a
 * user name or an address in clear.
 */

/** A token bucket: `rate` tokens per `intervalMs`, holding at most `burst` (a full bucket allows `burst` at once). */
export interface BucketLimit {
  readonly rate: number;
  readonly intervalMs: number;
  readonly burst: number;
  /** Once the bucket runs dry, refuse everything for this long (Vault's `block_interval`). @default 0 */
  readonly blockMs?: number | undefined;
}

export type BucketDecision =
  | { readonly allowed: true }
  | {
      readonly allowed: false;
      /** When the next request would be allowed, from now. */
      readonly retryAfterMs: number;
    };

/** When failed logins lock a key out. */
export interface FailureRule {
  /** Failures that lock the key. */
  readonly threshold: number;
  /** A failure counts only while the previous one is younger than this (Vault's `lockout_counter_reset`). */
  readonly counterResetMs: number;
  /** How long a lock lasts. */
  readonly lockoutMs: number;
}

export interface RateLimitCounters {
  /** Takes one token from the bucket `key`, atomically across every caller sharing the counters. */
  take(key: string, limit: BucketLimit, now: number): Promise<BucketDecision>;
  /** Until when `key` is locked out (epoch ms), or `undefined` when it is not. */
  lockedUntil(key: string, now: number): Promise<number | undefined>;
  /**
   * Counts one failure of `key`.
   * @returns until when `key` is now locked out, when this failure reached the threshold; otherwise `undefined`.
   */
  recordFailure(key: string, rule: FailureRule, now: number): Promise<number | undefined>;
  /** Forgets the failures of `key` (a successful login). */
  clearFailures(key: string): Promise<void>;
}
