import type {
  BucketDecision,
  BucketLimit,
  FailureRule,
  RateLimitCounters,
} from '../../../core/ports/rate-limit-counters.ts';
import { takeToken } from '../../../core/quota/token-bucket.ts';

interface Failures {
  count: number;
  /** The count lapses at this time (epoch ms) unless another failure comes first. */
  resetAt: number;
  lockedUntil: number;
}

/** Entries are swept once the maps hold this many, so keys an attacker varies (addresses) cannot grow memory forever. */
const SWEEP_AT = 10_000;

/**
 * The counters of the single local server: two maps in its memory. Each decision is synchronous, so concurrent
 * requests of one process never interleave inside one. They start empty on every start, as Vault's do.
 *
 * @example
 * const counters = new MemoryRateLimitCounters();
 * await counters.take('k', { rate: 10, intervalMs: 1000, burst: 10 }, Date.now()); // { allowed: true }
 */
export class MemoryRateLimitCounters implements RateLimitCounters {
  private readonly buckets = new Map<string, number>();
  private readonly failures = new Map<string, Failures>();

  async take(key: string, limit: BucketLimit, now: number): Promise<BucketDecision> {
    if (this.buckets.size >= SWEEP_AT) this.sweep(now);
    const step = takeToken(this.buckets.get(key), limit, now);
    if (step.tat !== undefined) this.buckets.set(key, step.tat);
    return step.allowed ? { allowed: true } : { allowed: false, retryAfterMs: step.retryAfterMs };
  }

  async lockedUntil(key: string, now: number): Promise<number | undefined> {
    const entry = this.failures.get(key);
    return entry !== undefined && entry.lockedUntil > now ? entry.lockedUntil : undefined;
  }

  async recordFailure(key: string, rule: FailureRule, now: number): Promise<number | undefined> {
    if (this.failures.size >= SWEEP_AT) this.sweep(now);
    const entry = this.failures.get(key);
    const count = entry !== undefined && entry.resetAt > now ? entry.count + 1 : 1;
    if (count >= rule.threshold) {
      const lockedUntil = now + rule.lockoutMs;
      this.failures.set(key, { count: 0, resetAt: now, lockedUntil });
      return lockedUntil;
    }
    this.failures.set(key, { count, resetAt: now + rule.counterResetMs, lockedUntil: 0 });
    return undefined;
  }

  async clearFailures(key: string): Promise<void> {
    this.failures.delete(key);
  }

  /** Forgets full buckets and lapsed, unlocked failure counts: forgetting them changes no decision. */
  private sweep(now: number): void {
    for (const [key, tat] of this.buckets) if (tat <= now) this.buckets.delete(key);
    for (const [key, entry] of this.failures) {
      if (entry.resetAt <= now && entry.lockedUntil <= now) this.failures.delete(key);
    }
  }
}
