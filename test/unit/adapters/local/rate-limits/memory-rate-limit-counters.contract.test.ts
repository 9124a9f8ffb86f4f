import { describe, expect, it } from 'vitest';
import { MemoryRateLimitCounters } from '../../../../../lambdas/adapters/local/rate-limits/memory-rate-limit-counters.ts';
import { describeRateLimitCountersContract } from '../../../../contract/rate-limit-counters.contract.ts';

describeRateLimitCountersContract('MemoryRateLimitCounters', async () => {
  const counters = new MemoryRateLimitCounters();
  return { first: counters, second: counters };
});

describe('Class: MemoryRateLimitCounters', () => {
  it('forgets full buckets once it holds many, so varied keys cannot grow memory without bound', async () => {
    const counters = new MemoryRateLimitCounters();
    const limit = { rate: 1, intervalMs: 1000, burst: 1 };
    for (let i = 0; i < 10_000; i++) await counters.take(`k${i}`, limit, 0);
    // Every earlier bucket is full again by now: the next take sweeps them, and their keys start afresh.
    await counters.take('late', limit, 2_000);
    const buckets = (counters as unknown as { buckets: Map<string, number> }).buckets;
    expect(buckets.size).toBe(1);
  });
});
