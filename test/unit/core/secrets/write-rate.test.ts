import { describe, expect, it } from 'vitest';
import { WriteRateLimiter } from '../../../../lambdas/core/secrets/write-rate.ts';
import { FakeClock } from './fixtures.ts';

describe('Class: WriteRateLimiter', () => {
  it('allows the burst at once, then the rate as time passes', () => {
    const clock = new FakeClock();
    const limiter = new WriteRateLimiter({ perSecond: 2, burst: 3 }, clock);
    expect([1, 2, 3, 4].map(() => limiter.tryTake('a'))).toEqual([true, true, true, false]);
    clock.advance(499);
    expect(limiter.tryTake('a')).toBe(false);
    clock.advance(1);
    expect(limiter.tryTake('a')).toBe(true);
    expect(limiter.tryTake('a')).toBe(false);
    // A refused attempt costs nothing: the bucket keeps refilling.
    clock.advance(500);
    expect(limiter.tryTake('a')).toBe(true);
  });

  it('never holds more than the burst, however long the quiet', () => {
    const clock = new FakeClock();
    const limiter = new WriteRateLimiter({ perSecond: 1, burst: 2 }, clock);
    limiter.tryTake('a');
    clock.advance(3_600_000);
    expect([1, 2, 3].map(() => limiter.tryTake('a'))).toEqual([true, true, false]);
  });

  it('keeps one budget per key', () => {
    const limiter = new WriteRateLimiter({ perSecond: 1, burst: 1 }, new FakeClock());
    expect(limiter.tryTake('a')).toBe(true);
    expect(limiter.tryTake('a')).toBe(false);
    expect(limiter.tryTake('b')).toBe(true);
  });

  it('forgets idle keys first when it holds too many, and keeps busy ones', () => {
    const clock = new FakeClock();
    const limiter = new WriteRateLimiter({ perSecond: 1, burst: 1 }, clock, 10);
    expect(limiter.tryTake('busy')).toBe(true);
    clock.advance(1000);
    for (let i = 0; i < 9; i++) limiter.tryTake(`idle-${i}`);
    clock.advance(1000);
    // 'busy' refilled too, so drain it again; the next new keys overflow the map, and the refilled idle keys go.
    expect(limiter.tryTake('busy')).toBe(true);
    for (let i = 0; i < 5; i++) limiter.tryTake(`more-${i}`);
    expect(limiter.tryTake('busy')).toBe(false);
  });

  it('drops the least recently used keys when none is idle, so memory stays bounded', () => {
    const clock = new FakeClock();
    const limiter = new WriteRateLimiter({ perSecond: 1, burst: 1 }, clock, 10);
    expect(limiter.tryTake('first')).toBe(true);
    for (let i = 0; i < 1000; i++) limiter.tryTake(`key-${i}`);
    // Forgotten, so it starts again with a full bucket: at most one extra burst for a key pushed out.
    expect(limiter.tryTake('first')).toBe(true);
    expect(limiter.tryTake('key-999')).toBe(false);
  });

  it('refuses rates that make no sense', () => {
    const clock = new FakeClock();
    for (const rate of [{ perSecond: 0 }, { perSecond: -1 }, { perSecond: Number.POSITIVE_INFINITY }]) {
      expect(() => new WriteRateLimiter(rate, clock)).toThrow(RangeError);
    }
    expect(() => new WriteRateLimiter({ perSecond: 1, burst: 0.5 }, clock)).toThrow(RangeError);
  });
});
