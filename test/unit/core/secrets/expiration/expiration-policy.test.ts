import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../../../lambdas/core/errors.ts';
import { toExpirationPolicy } from '../../../../../lambdas/core/secrets/expiration/expiration-input.ts';
import {
  DAY_MS,
  type ExpirationPolicy,
  expirationState,
  expirationStatus,
  scheduledExpiryEvents,
} from '../../../../../lambdas/core/secrets/expiration/expiration-policy.ts';

const T = Date.UTC(2026, 5, 1);
const HOUR = 3_600_000;

const timed = (over: Partial<ExpirationPolicy> = {}): ExpirationPolicy => ({
  expiresAt: T + 40 * DAY_MS,
  graceMs: HOUR,
  notifyBeforeMs: [30 * DAY_MS, 7 * DAY_MS, DAY_MS],
  setAt: T,
  ...over,
});

describe('Function: expirationState', () => {
  it('is active without a policy', () => {
    expect(expirationState(undefined, T)).toBe('active');
  });

  it('moves from active to expiring at the longest lead time, to grace at the expiry, to expired after grace', () => {
    const policy = timed();
    const expiresAt = policy.expiresAt!;
    expect(expirationState(policy, expiresAt - 30 * DAY_MS - 1)).toBe('active');
    expect(expirationState(policy, expiresAt - 30 * DAY_MS)).toBe('expiring');
    expect(expirationState(policy, expiresAt - 1)).toBe('expiring');
    expect(expirationState(policy, expiresAt)).toBe('grace');
    expect(expirationState(policy, expiresAt + HOUR - 1)).toBe('grace');
    expect(expirationState(policy, expiresAt + HOUR)).toBe('expired');
  });

  it('has no grace state when the grace period is 0', () => {
    const policy = timed({ graceMs: 0 });
    expect(expirationState(policy, policy.expiresAt!)).toBe('expired');
  });

  it('expires at once when the read budget is spent, whatever the grace', () => {
    const policy = timed({ maxReads: 3 });
    expect(expirationStatus(policy, T, { reads: 2 })).toMatchObject({ state: 'active', readsLeft: 1 });
    expect(expirationStatus(policy, T, { reads: 3 })).toMatchObject({ state: 'expired', reason: 'reads' });
  });

  it('expires at the first of the time and a condition met, with grace from the condition', () => {
    const policy = timed();
    const status = expirationStatus(policy, T + HOUR / 2, { triggeredAt: T, trigger: 'lease' });
    expect(status).toMatchObject({ state: 'grace', reason: 'lease', expiresAt: T, graceEndsAt: T + HOUR });
    expect(expirationState(policy, T + HOUR, { triggeredAt: T, trigger: 'lease' })).toBe('expired');
  });
});

describe('Function: scheduledExpiryEvents', () => {
  it('schedules one expiring event per lead time and the expiry, leaving out lead times already past', () => {
    const policy = timed({ expiresAt: T + 10 * DAY_MS });
    expect(scheduledExpiryEvents(policy)).toEqual([
      { due: T + 3 * DAY_MS, event: `expiring:${7 * DAY_MS}` },
      { due: T + 9 * DAY_MS, event: `expiring:${DAY_MS}` },
      { due: T + 10 * DAY_MS, event: 'expired:time' },
    ]);
  });

  it('schedules nothing without a time', () => {
    expect(scheduledExpiryEvents(timed({ expiresAt: undefined, maxReads: 1 }))).toEqual([]);
  });
});

describe('Function: toExpirationPolicy', () => {
  it('computes a TTL at the write, with the default lead times', () => {
    expect(toExpirationPolicy({ ttlSeconds: 3600, graceSeconds: 60 }, T)).toEqual({
      expiresAt: T + HOUR,
      graceMs: 60_000,
      notifyBeforeMs: [30 * DAY_MS, 7 * DAY_MS, DAY_MS],
      setAt: T,
    });
  });

  it('sorts and deduplicates lead times', () => {
    const policy = toExpirationPolicy({ maxReads: 1, notifyBeforeSeconds: [60, 3600, 60] }, T);
    expect(policy.notifyBeforeMs).toEqual([HOUR, 60_000]);
  });

  it.each([
    [{}, /needs expiresAt/],
    [{ expiresAt: T + 1, ttlSeconds: 1 }, /not both/],
    [{ expiresAt: T - 1 }, /future/],
    [{ maxReads: 0 }, /maxReads/],
    [{ maxReads: 1.5 }, /maxReads/],
    [{ ttlSeconds: 60, graceSeconds: 400 * 86_400 }, /grace/],
    [{ ttlSeconds: 60, notifyBeforeSeconds: [0] }, /positive/],
  ])('refuses %j', (input, message) => {
    expect(() => toExpirationPolicy(input, T)).toThrow(ValidationError);
    expect(() => toExpirationPolicy(input, T)).toThrow(message);
  });
});
