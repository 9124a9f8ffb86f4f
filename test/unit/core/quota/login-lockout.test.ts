import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MemoryRateLimitCounters } from '../../../../lambdas/adapters/local/rate-limits/memory-rate-limit-counters.ts';
import { ValidationError } from '../../../../lambdas/core/errors.ts';
import { LoginLockout, lockoutRule, locksOut } from '../../../../lambdas/core/quota/login-lockout.ts';
import { RateLimitedError } from '../../../../lambdas/core/quota/quota-errors.ts';
import { rejectionOf } from '../../../support/rejection.ts';

const hmac = (value: string) => createHmac('sha256', 'salt').update(value).digest('hex');

describe('Function: lockoutRule', () => {
  it("has Vault's defaults: 5 failures, 15m lock, 15m counter reset", () => {
    expect(lockoutRule(undefined)).toEqual({ threshold: 5, lockoutMs: 900_000, counterResetMs: 900_000 });
  });
  it('reads the mount config and turns off with lockout_disable', () => {
    expect(lockoutRule({ lockout_threshold: 3, lockout_duration: '1h', lockout_counter_reset: 30 })).toEqual({
      threshold: 3,
      lockoutMs: 3_600_000,
      counterResetMs: 30_000,
    });
    expect(lockoutRule({ lockout_disable: true })).toBeUndefined();
    expect(() => lockoutRule({ lockout_duration: 'a while' })).toThrow(ValidationError);
  });
});

describe('Class: LoginLockout', () => {
  const rule = { threshold: 3, lockoutMs: 60_000, counterResetMs: 10_000 };
  const attempt = (now: number, body: unknown = { role_id: 'r1' }, sourceIp = '10.0.0.1') => ({
    mountId: 'approle.abc',
    mountPath: 'approle',
    body,
    sourceIp,
    now,
  });

  async function fail(lockout: LoginLockout, now: number, body?: unknown, sourceIp?: string) {
    const key = await lockout.check(attempt(now, body, sourceIp));
    return lockout.failed(key, rule, now);
  }

  it('locks a key out at the threshold, for the lock duration, then lets it try again', async () => {
    const lockout = new LoginLockout({ counters: new MemoryRateLimitCounters(), hmac });
    expect(await fail(lockout, 0)).toBeUndefined();
    expect(await fail(lockout, 1)).toBeUndefined();
    expect(await fail(lockout, 2)).toBe(60_002);
    const err = await rejectionOf(lockout.check(attempt(3)));
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).reason).toBe('locked_out');
    expect((err as RateLimitedError).retryAfterSeconds).toBe(60);
    expect(err.message).not.toContain('r1');
    await expect(lockout.check(attempt(60_001))).rejects.toBeInstanceOf(RateLimitedError);
    await expect(lockout.check(attempt(60_002))).resolves.toMatch(/^[0-9a-f]{64}$/);
  });

  it('counts per subject and per source address: another role or address is not locked', async () => {
    const lockout = new LoginLockout({ counters: new MemoryRateLimitCounters(), hmac });
    for (let i = 0; i < 3; i++) await fail(lockout, i);
    await expect(lockout.check(attempt(5))).rejects.toBeInstanceOf(RateLimitedError);
    await expect(lockout.check(attempt(5, { role_id: 'r2' }))).resolves.toBeDefined();
    await expect(lockout.check(attempt(5, { role_id: 'r1' }, '10.0.0.2'))).resolves.toBeDefined();
    await expect(lockout.check(attempt(5, { username: 'r1' }))).resolves.toBeDefined();
  });

  it('forgets failures older than the counter reset, and a success clears the count', async () => {
    const lockout = new LoginLockout({ counters: new MemoryRateLimitCounters(), hmac });
    await fail(lockout, 0);
    await fail(lockout, 1);
    expect(await fail(lockout, 20_000)).toBeUndefined();
    expect(await fail(lockout, 20_001)).toBeUndefined();
    await lockout.succeeded(await lockout.check(attempt(20_002)));
    expect(await fail(lockout, 20_003)).toBeUndefined();
    expect(await fail(lockout, 20_004)).toBeUndefined();
    expect(await fail(lockout, 20_005)).toBe(80_005);
  });
});

describe('Function: locksOut', () => {
  it('locks out the methods with guessable secrets only, as Vault does', () => {
    expect(['approle', 'ldap', 'userpass'].map(locksOut)).toEqual([true, true, true]);
    expect(['jwt', 'kubernetes', 'cert'].map(locksOut)).toEqual([false, false, false]);
  });
});
