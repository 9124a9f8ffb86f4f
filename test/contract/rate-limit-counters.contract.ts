import { describe, expect, it } from 'vitest';
import type { BucketLimit, FailureRule, RateLimitCounters } from '../../lambdas/core/ports/rate-limit-counters.ts';

/**
 * Two handles on the same counters: two broker instances (two Lambdas) sharing them. An in-process adapter answers
 * the same object twice.
 */
export type RateLimitCountersFactory = () => Promise<{ first: RateLimitCounters; second: RateLimitCounters }>;

let keys = 0;
/** A key of its own per test: adapters that persist (DynamoDB) keep earlier runs' counters. */
const freshKey = (what: string) => `${what}-${process.pid}-${Date.now()}-${keys++}`;

/**
 * The behaviour every {@link RateLimitCounters} adapter must share (memory locally, DynamoDB on AWS): token buckets
 * that refill at their rate and never admit more than their burst, blocks, failed-login counts that lock a key out,
 * and all of it holding when several instances decide at once.
 *
 * @example
 * describeRateLimitCountersContract('MemoryRateLimitCounters', async () => {
 *   const counters = new MemoryRateLimitCounters();
 *   return { first: counters, second: counters };
 * });
 */
export function describeRateLimitCountersContract(name: string, factory: RateLimitCountersFactory): void {
  describe(`RateLimitCounters contract: ${name}`, () => {
    const perSecond: BucketLimit = { rate: 5, intervalMs: 1000, burst: 3 };
    const t0 = 1_800_000_000_000;

    it('admits a full burst, then refuses with the time until the next token', async () => {
      const { first } = await factory();
      const key = freshKey('burst');
      const decisions = [];
      for (let i = 0; i < 4; i++) decisions.push(await first.take(key, perSecond, t0));
      expect(decisions.slice(0, 3)).toEqual([{ allowed: true }, { allowed: true }, { allowed: true }]);
      expect(decisions[3]).toEqual({ allowed: false, retryAfterMs: expect.closeTo(200, 3) });
    });

    it('refills at its rate, up to the burst only', async () => {
      const { first } = await factory();
      const key = freshKey('refill');
      for (let i = 0; i < 3; i++) await first.take(key, perSecond, t0);
      expect(await first.take(key, perSecond, t0 + 100)).toMatchObject({ allowed: false });
      expect(await first.take(key, perSecond, t0 + 200)).toEqual({ allowed: true });
      const later = [];
      for (let i = 0; i < 5; i++) later.push((await first.take(key, perSecond, t0 + 60_000)).allowed);
      expect(later).toEqual([true, true, true, false, false]);
    });

    it('blocks for the block interval once exceeded, without extending it on refusals', async () => {
      const { first } = await factory();
      const key = freshKey('block');
      const limit: BucketLimit = { rate: 1, intervalMs: 1000, burst: 1, blockMs: 30_000 };
      expect(await first.take(key, limit, t0)).toEqual({ allowed: true });
      expect(await first.take(key, limit, t0 + 1)).toEqual({ allowed: false, retryAfterMs: 30_000 });
      expect(await first.take(key, limit, t0 + 10_001)).toEqual({ allowed: false, retryAfterMs: 20_000 });
      expect(await first.take(key, limit, t0 + 30_001)).toEqual({ allowed: true });
    });

    it('admits exactly the burst when two instances take concurrently', async () => {
      const { first, second } = await factory();
      const key = freshKey('race');
      const limit: BucketLimit = { rate: 1, intervalMs: 3_600_000, burst: 10 };
      const decisions = await Promise.all(
        Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? first : second).take(key, limit, t0)),
      );
      expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
    });

    const rule: FailureRule = { threshold: 3, counterResetMs: 10_000, lockoutMs: 60_000 };

    it('locks a key at the threshold of failures, for the lockout duration', async () => {
      const { first, second } = await factory();
      const key = freshKey('lock');
      expect(await first.recordFailure(key, rule, t0)).toBeUndefined();
      expect(await second.recordFailure(key, rule, t0 + 1)).toBeUndefined();
      expect(await first.lockedUntil(key, t0 + 1)).toBeUndefined();
      expect(await second.recordFailure(key, rule, t0 + 2)).toBe(t0 + 60_002);
      expect(await first.lockedUntil(key, t0 + 3)).toBe(t0 + 60_002);
      expect(await first.lockedUntil(key, t0 + 60_002)).toBeUndefined();
    });

    it('lets failures lapse after the counter reset, and forgets them on clear', async () => {
      const { first } = await factory();
      const key = freshKey('lapse');
      await first.recordFailure(key, rule, t0);
      await first.recordFailure(key, rule, t0 + 1);
      expect(await first.recordFailure(key, rule, t0 + 20_000)).toBeUndefined();
      await first.clearFailures(key);
      expect(await first.recordFailure(key, rule, t0 + 20_001)).toBeUndefined();
      expect(await first.recordFailure(key, rule, t0 + 20_002)).toBeUndefined();
      expect(await first.recordFailure(key, rule, t0 + 20_003)).toBe(t0 + 80_003);
    });

    it('counts every concurrent failure: a burst of guesses across instances locks the key', async () => {
      const { first, second } = await factory();
      const key = freshKey('guesses');
      const results = await Promise.all(
        Array.from({ length: 3 }, (_, i) => (i % 2 === 0 ? first : second).recordFailure(key, rule, t0)),
      );
      expect(results.filter((until) => until !== undefined)).toHaveLength(1);
      expect(await second.lockedUntil(key, t0 + 1)).toBe(t0 + 60_000);
    });
  });
}
