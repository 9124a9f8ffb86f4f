import { describe, expect, it } from 'vitest';
import type { BucketLimit } from '../../../../lambdas/core/ports/rate-limit-counters.ts';
import { takeToken } from '../../../../lambdas/core/quota/token-bucket.ts';

/** Runs `count` requests at `now` against a bucket, returning how many were allowed and the state after. */
function burstAt(tat: number | undefined, limit: BucketLimit, now: number, count: number) {
  let state = tat;
  let allowed = 0;
  let last: ReturnType<typeof takeToken> | undefined;
  for (let i = 0; i < count; i++) {
    last = takeToken(state, limit, now);
    if (last.tat !== undefined) state = last.tat;
    if (last.allowed) allowed++;
  }
  return { allowed, tat: state, last: last! };
}

describe('Function: takeToken', () => {
  const tenPerSecond: BucketLimit = { rate: 10, intervalMs: 1000, burst: 10 };

  it('allows a full burst at once, then refuses with the time until the next token', () => {
    const { allowed, last } = burstAt(undefined, tenPerSecond, 1_000_000, 11);
    expect(allowed).toBe(10);
    expect(last).toEqual({ allowed: false, retryAfterMs: 100, tat: undefined });
  });

  it('refills at the rate: one token per emission interval, never more than the burst', () => {
    const drained = burstAt(undefined, tenPerSecond, 0, 10);
    expect(burstAt(drained.tat, tenPerSecond, 99, 1).allowed).toBe(0);
    expect(burstAt(drained.tat, tenPerSecond, 100, 2).allowed).toBe(1);
    expect(burstAt(drained.tat, tenPerSecond, 500, 10).allowed).toBe(5);
    // Idle for a minute: the bucket holds its burst, not 600 tokens.
    expect(burstAt(drained.tat, tenPerSecond, 60_000, 50).allowed).toBe(10);
  });

  it('keeps a burst smaller than the rate: the bucket size, not the rate, caps a spike', () => {
    const limit: BucketLimit = { rate: 10, intervalMs: 1000, burst: 2 };
    expect(burstAt(undefined, limit, 0, 10).allowed).toBe(2);
  });

  it('admits rate × elapsed + burst over a long run of requests', () => {
    const limit: BucketLimit = { rate: 50, intervalMs: 1000, burst: 5 };
    let tat: number | undefined;
    let allowed = 0;
    for (let now = 0; now < 10_000; now += 2) {
      const step = takeToken(tat, limit, now);
      if (step.tat !== undefined) tat = step.tat;
      if (step.allowed) allowed++;
    }
    expect(allowed).toBe(50 * 10 + 5 - 1);
  });

  it('blocks for block_interval once exceeded, and refusals during the block do not extend it', () => {
    const limit: BucketLimit = { rate: 1, intervalMs: 1000, burst: 1, blockMs: 60_000 };
    const first = takeToken(undefined, limit, 0);
    expect(first.allowed).toBe(true);
    const exceeded = takeToken(first.tat, limit, 10);
    expect(exceeded).toMatchObject({ allowed: false, retryAfterMs: 60_000 });
    const during = takeToken(exceeded.tat, limit, 30_010);
    expect(during).toEqual({ allowed: false, retryAfterMs: 30_000, tat: undefined });
    expect(takeToken(exceeded.tat, limit, 60_009).allowed).toBe(false);
    expect(takeToken(exceeded.tat, limit, 60_010).allowed).toBe(true);
  });
});
