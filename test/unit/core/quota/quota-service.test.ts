import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MemoryRateLimitCounters } from '../../../../lambdas/adapters/local/rate-limits/memory-rate-limit-counters.ts';
import { MemoryStore } from '../../../../lambdas/adapters/memory/memory-store.ts';
import { ConflictError, NotFoundError } from '../../../../lambdas/core/errors.ts';
import type { RateLimitCounters } from '../../../../lambdas/core/ports/rate-limit-counters.ts';
import { RateLimitedError } from '../../../../lambdas/core/quota/quota-errors.ts';
import { mostSpecific, QuotaService } from '../../../../lambdas/core/quota/quota-service.ts';
import { type QuotaWrite, QuotaWriteSchema, type RateLimitQuota } from '../../../../lambdas/core/quota/quota-types.ts';
import { rejectionOf } from '../../../support/rejection.ts';

const hmac = (value: string) => createHmac('sha256', 'salt').update(value).digest('hex');

function setup(counters: RateLimitCounters = new MemoryRateLimitCounters()) {
  const clock = {
    t: 1_000_000,
    now() {
      return this.t;
    },
  };
  const store = new MemoryStore();
  const quotas = new QuotaService({ store, clock, counters, hmac, refreshMs: 0 });
  const write = (body: Record<string, unknown>): QuotaWrite => QuotaWriteSchema.parse(body);
  return { clock, store, quotas, write };
}

async function admitted(quotas: QuotaService, subject: Parameters<QuotaService['enforce']>[0], count: number) {
  let allowed = 0;
  for (let i = 0; i < count; i++) {
    try {
      await quotas.enforce(subject);
      allowed++;
    } catch (err) {
      if (!(err instanceof RateLimitedError)) throw err;
    }
  }
  return allowed;
}

describe('Class: QuotaService', () => {
  it('stores quotas with Vault defaults: interval 1s, burst = rate rounded up, per source, no block', async () => {
    const { quotas, write } = setup();
    const quota = await quotas.put('api', write({ rate: 2.5 }));
    expect(quota).toMatchObject({ path: '', rate: 2.5, intervalSeconds: 1, burst: 3, per: 'source' });
    expect(quota.blockIntervalSeconds).toBe(0);
    expect(await quotas.get('api')).toEqual(quota);
    expect((await quotas.list()).map((q) => q.name)).toEqual(['api']);
    await quotas.delete('api');
    await expect(quotas.get('api')).rejects.toBeInstanceOf(NotFoundError);
    await expect(quotas.delete('api')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('answers a lost race between two writers of one quota with a conflict, never a lost update', async () => {
    const { quotas, write } = setup();
    const results = await Promise.allSettled([
      quotas.put('q', write({ rate: 1 })),
      quotas.put('q', write({ rate: 2 })),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(
      ConflictError,
    );
  });

  it('refuses a quota that cannot work: zero rate, a wildcard path, an unknown dimension, a bad duration', () => {
    for (const body of [
      { rate: 0 },
      { rate: 1, path: 'secrets/*' },
      { rate: 1, path: '/v1/secrets' },
      { rate: 1, per: 'user' },
      { rate: 1, interval: '0s' },
      { rate: 1, interval: 'soon' },
      { rate: 1, block_interval: -1 },
    ]) {
      expect(QuotaWriteSchema.safeParse(body).success, JSON.stringify(body)).toBe(false);
    }
    expect(QuotaWriteSchema.parse({ rate: 1, interval: '1m', block_interval: '5m' })).toMatchObject({
      interval: 60,
      block_interval: 300,
    });
  });

  it('refuses the request past the burst with a message naming the quota and Retry-After rounded up', async () => {
    const { quotas, write } = setup();
    await quotas.put('reads', write({ path: 'secrets/', rate: 3, interval: '1m', per: 'global' }));
    const subject = { path: 'secrets/app/db', sourceIp: '10.0.0.1' };
    expect(await admitted(quotas, subject, 3)).toBe(3);
    const err = await rejectionOf(quotas.enforce(subject));
    expect(err).toBeInstanceOf(RateLimitedError);
    const limited = err as RateLimitedError;
    expect(limited.reason).toBe('rate_limited');
    expect(limited.retryAfterSeconds).toBe(20);
    expect(limited.code).toBe('throttled');
    expect(limited.message).toContain('quota reads');
    expect(limited.message).not.toContain('10.0.0.1');
  });

  it('refills with time from the clock', async () => {
    const { quotas, write, clock } = setup();
    await quotas.put('reads', write({ rate: 2, per: 'global' }));
    const subject = { path: 'secrets/x', sourceIp: '10.0.0.1' };
    expect(await admitted(quotas, subject, 5)).toBe(2);
    clock.t += 500;
    expect(await admitted(quotas, subject, 5)).toBe(1);
    clock.t += 10_000;
    expect(await admitted(quotas, subject, 5)).toBe(2);
  });

  it('applies the most specific quota only: a path beats a mount beats the global one', async () => {
    const { quotas, write } = setup();
    await quotas.put('global', write({ rate: 100, per: 'global' }));
    await quotas.put('mount', write({ path: 'auth/approle/', rate: 5, per: 'global' }));
    await quotas.put('login', write({ path: 'auth/approle/login', rate: 2, per: 'global' }));
    expect(await admitted(quotas, { path: 'auth/approle/login', sourceIp: 'a' }, 10)).toBe(2);
    expect(await admitted(quotas, { path: 'auth/approle/role/ci', sourceIp: 'a' }, 10)).toBe(5);
    expect(await admitted(quotas, { path: 'secrets/app', sourceIp: 'a' }, 10)).toBe(10);
  });

  it('keeps one bucket per source, per principal (logins per source), or one for everyone', async () => {
    const { quotas, write } = setup();
    await quotas.put('by-source', write({ path: 'a/', rate: 1 }));
    await quotas.put('by-principal', write({ path: 'b/', rate: 1, per: 'principal' }));
    await quotas.put('shared', write({ path: 'c/', rate: 1, per: 'global' }));
    expect(await admitted(quotas, { path: 'a/x', sourceIp: '1' }, 2)).toBe(1);
    expect(await admitted(quotas, { path: 'a/x', sourceIp: '2' }, 2)).toBe(1);
    expect(await admitted(quotas, { path: 'b/x', sourceIp: '1', principalId: 'p1' }, 2)).toBe(1);
    expect(await admitted(quotas, { path: 'b/x', sourceIp: '1', principalId: 'p2' }, 2)).toBe(1);
    expect(await admitted(quotas, { path: 'b/login', sourceIp: '3' }, 2)).toBe(1);
    expect(await admitted(quotas, { path: 'c/x', sourceIp: '1', principalId: 'p1' }, 2)).toBe(1);
    expect(await admitted(quotas, { path: 'c/x', sourceIp: '2', principalId: 'p2' }, 2)).toBe(0);
  });

  it('never limits the health probe or the quotas themselves, so a quota set too low can be lifted', async () => {
    const { quotas, write } = setup();
    await quotas.put('everything', write({ rate: 1, per: 'global' }));
    expect(await admitted(quotas, { path: 'sys/quotas/rate-limit/everything', sourceIp: 'a' }, 5)).toBe(5);
    expect(await admitted(quotas, { path: 'sys/health', sourceIp: 'a' }, 5)).toBe(5);
  });

  it('gives a replaced quota a fresh bucket of its new size', async () => {
    const { quotas, write, clock } = setup();
    await quotas.put('q', write({ rate: 1, per: 'global' }));
    expect(await admitted(quotas, { path: 'x', sourceIp: 'a' }, 3)).toBe(1);
    clock.t += 1;
    await quotas.put('q', write({ rate: 3, per: 'global' }));
    expect(await admitted(quotas, { path: 'x', sourceIp: 'a' }, 5)).toBe(3);
  });

  it('hands the counters only HMAC keys: no address or principal id in clear', async () => {
    const keys: string[] = [];
    const memory = new MemoryRateLimitCounters();
    const spy: RateLimitCounters = {
      take: (key, limit, now) => {
        keys.push(key);
        return memory.take(key, limit, now);
      },
      lockedUntil: (key, now) => memory.lockedUntil(key, now),
      recordFailure: (key, rule, now) => memory.recordFailure(key, rule, now),
      clearFailures: (key) => memory.clearFailures(key),
    };
    const { quotas, write } = setup(spy);
    await quotas.put('q', write({ rate: 5, per: 'principal' }));
    await quotas.enforce({ path: 'x', sourceIp: '192.0.2.7', principalId: 'accessor-abc' });
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reads the quota list once per refresh interval, and at once after its own writes', async () => {
    const clock = {
      t: 0,
      now() {
        return this.t;
      },
    };
    const store = new MemoryStore();
    let queries = 0;
    const query = store.query.bind(store);
    store.query = (...args) => {
      queries++;
      return query(...args);
    };
    const quotas = new QuotaService({ store, clock, counters: new MemoryRateLimitCounters(), hmac, refreshMs: 1000 });
    await quotas.enforce({ path: 'x', sourceIp: 'a' });
    await quotas.enforce({ path: 'x', sourceIp: 'a' });
    expect(queries).toBe(1);
    await quotas.put('q', QuotaWriteSchema.parse({ rate: 1, per: 'global' }));
    await quotas.enforce({ path: 'x', sourceIp: 'a' });
    await expect(quotas.enforce({ path: 'x', sourceIp: 'a' })).rejects.toBeInstanceOf(RateLimitedError);
    expect(queries).toBe(2);
    clock.t += 1000;
    await expect(quotas.enforce({ path: 'x', sourceIp: 'a' })).resolves.toBeUndefined();
    expect(queries).toBe(3);
  });
});

describe('Function: mostSpecific', () => {
  const quota = (name: string, path: string) => ({ name, path }) as RateLimitQuota;
  it('picks the longest matching prefix and ignores quotas of other paths', () => {
    const all = [quota('g', ''), quota('s', 'secrets/'), quota('p', 'secrets/prod/'), quota('o', 'pki/')];
    expect(mostSpecific(all, 'secrets/prod/db')?.name).toBe('p');
    expect(mostSpecific(all, 'secrets/dev/db')?.name).toBe('s');
    expect(mostSpecific(all, 'auth/approle/login')?.name).toBe('g');
    expect(mostSpecific(all.slice(1), 'auth/approle/login')).toBeUndefined();
  });
});
