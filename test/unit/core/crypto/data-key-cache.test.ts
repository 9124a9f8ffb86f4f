import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CachingKeyProvider } from '../../../../lambdas/core/crypto/data-key-cache.ts';
import { canonicalContext } from '../../../../lambdas/core/crypto/encryption-context.ts';
import { DecryptionFailureError } from '../../../../lambdas/core/errors.ts';
import type { Clock } from '../../../../lambdas/core/ports/clock.ts';
import type { EncryptionContext, GeneratedDataKey, KeyProvider } from '../../../../lambdas/core/ports/key-provider.ts';

/** Remembers each generated key with its context and counts calls; enforces context binding like a real provider. */
class CountingKeyProvider implements KeyProvider {
  readonly calls = { generate: 0, unwrap: 0, rewrap: 0 };
  /** When set, the next unwrap fails with it (once). */
  failNext: Error | undefined;
  /** When set, unwraps wait for it before answering. */
  gate: Promise<void> | undefined;
  readonly #keys = new Map<string, { key: Buffer; context: string }>();
  #next = 0;

  describe(): { provider: string; keyId: string } {
    return { provider: 'counting', keyId: 'k1' };
  }

  async generateDataKey(context: EncryptionContext): Promise<GeneratedDataKey> {
    this.calls.generate++;
    const wrapped = `w${this.#next++}`;
    const key = randomBytes(32);
    this.#keys.set(wrapped, { key, context: canonicalContext(context) });
    return { plaintext: Buffer.from(key), wrapped };
  }

  async unwrapDataKey(wrapped: string, context: EncryptionContext): Promise<Buffer> {
    this.calls.unwrap++;
    if (this.gate !== undefined) await this.gate;
    const failure = this.failNext;
    this.failNext = undefined;
    if (failure !== undefined) throw failure;
    const entry = this.#keys.get(wrapped);
    if (entry === undefined || entry.context !== canonicalContext(context)) {
      throw new DecryptionFailureError('wrong context');
    }
    return Buffer.from(entry.key);
  }

  async rewrapDataKey(wrapped: string): Promise<string> {
    this.calls.rewrap++;
    return `${wrapped}-rewrapped`;
  }

  isCurrent(wrapped: string): boolean {
    return wrapped.endsWith('-rewrapped');
  }

  keyOf(wrapped: string): Buffer {
    return this.#keys.get(wrapped)!.key;
  }
}

class FakeClock implements Clock {
  time = 1_000_000;
  now(): number {
    return this.time;
  }
}

const ctx = (versionId: string): EncryptionContext => ({ secretId: 'secret-a', versionId });

async function setup(options: { maxEntries?: number; ttlMs?: number } = {}) {
  const inner = new CountingKeyProvider();
  const clock = new FakeClock();
  const cache = new CachingKeyProvider(inner, { clock, ...options });
  return { inner, clock, cache };
}

describe('Class: CachingKeyProvider', () => {
  it('answers a second unwrap from the cache without calling the inner provider', async () => {
    const { inner, cache } = await setup();
    const { wrapped } = await inner.generateDataKey(ctx('v1'));

    const first = await cache.unwrapDataKey(wrapped, ctx('v1'));
    const second = await cache.unwrapDataKey(wrapped, ctx('v1'));

    expect(inner.calls.unwrap).toBe(1);
    expect(first.equals(inner.keyOf(wrapped))).toBe(true);
    expect(second.equals(inner.keyOf(wrapped))).toBe(true);
    expect(cache.stats()).toEqual({ hits: 1, misses: 1, size: 1 });
  });

  it('caches a generated data key, and a copy of it, so the caller may zero its plaintext', async () => {
    const { inner, cache } = await setup();
    const generated = await cache.generateDataKey(ctx('v1'));
    const expected = Buffer.from(generated.plaintext);
    generated.plaintext.fill(0);

    const unwrapped = await cache.unwrapDataKey(generated.wrapped, ctx('v1'));

    expect(inner.calls.unwrap).toBe(0);
    expect(unwrapped.equals(expected)).toBe(true);
  });

  it('hits regardless of the order of the context keys', async () => {
    const { inner, cache } = await setup();
    const { wrapped } = await inner.generateDataKey({ secretId: 's', versionId: 'v1' });
    await cache.unwrapDataKey(wrapped, { secretId: 's', versionId: 'v1' });
    await cache.unwrapDataKey(wrapped, { versionId: 'v1', secretId: 's' });
    expect(inner.calls.unwrap).toBe(1);
  });

  it('misses for a different context and lets the inner provider decide', async () => {
    const { inner, cache } = await setup();
    const { wrapped } = await inner.generateDataKey(ctx('v1'));
    await cache.unwrapDataKey(wrapped, ctx('v1'));

    await expect(cache.unwrapDataKey(wrapped, ctx('v2'))).rejects.toBeInstanceOf(DecryptionFailureError);
    await expect(cache.unwrapDataKey(wrapped, { ...ctx('v1'), extra: 'x' })).rejects.toBeInstanceOf(
      DecryptionFailureError,
    );
    expect(inner.calls.unwrap).toBe(3);
  });

  it('does not cache a failed unwrap', async () => {
    const { inner, cache } = await setup();
    const { wrapped } = await inner.generateDataKey(ctx('v1'));
    inner.failNext = new DecryptionFailureError('transient');

    await expect(cache.unwrapDataKey(wrapped, ctx('v1'))).rejects.toBeInstanceOf(DecryptionFailureError);
    expect(cache.stats().size).toBe(0);
    const key = await cache.unwrapDataKey(wrapped, ctx('v1'));

    expect(inner.calls.unwrap).toBe(2);
    expect(key.equals(inner.keyOf(wrapped))).toBe(true);
  });

  it('evicts the least recently used key beyond maxEntries, and zeroes it', async () => {
    const { inner, cache } = await setup({ maxEntries: 2 });
    const a = (await inner.generateDataKey(ctx('a'))).wrapped;
    const b = (await inner.generateDataKey(ctx('b'))).wrapped;
    const c = (await inner.generateDataKey(ctx('c'))).wrapped;
    await cache.unwrapDataKey(a, ctx('a'));
    const cachedB = await cache.unwrapDataKey(b, ctx('b'));
    await cache.unwrapDataKey(a, ctx('a')); // a is now more recent than b
    await cache.unwrapDataKey(c, ctx('c'));

    expect(cache.stats().size).toBe(2);
    expect(cachedB.equals(Buffer.alloc(32))).toBe(true);
    const callsBefore = inner.calls.unwrap;
    await cache.unwrapDataKey(a, ctx('a'));
    expect(inner.calls.unwrap).toBe(callsBefore);
    await cache.unwrapDataKey(b, ctx('b'));
    expect(inner.calls.unwrap).toBe(callsBefore + 1);
    expect(cache.stats().size).toBe(2);
  });

  it('expires a key after ttlMs, counted from when it was cached, and zeroes it', async () => {
    const { inner, clock, cache } = await setup({ ttlMs: 1000 });
    const { wrapped } = await inner.generateDataKey(ctx('v1'));
    const cached = await cache.unwrapDataKey(wrapped, ctx('v1'));

    clock.time += 999;
    await cache.unwrapDataKey(wrapped, ctx('v1')); // a hit does not extend the lifetime
    expect(inner.calls.unwrap).toBe(1);

    clock.time += 1;
    const fresh = await cache.unwrapDataKey(wrapped, ctx('v1'));
    expect(inner.calls.unwrap).toBe(2);
    expect(cached.equals(Buffer.alloc(32))).toBe(true);
    expect(fresh.equals(inner.keyOf(wrapped))).toBe(true);
  });

  it('sweeps expired keys out of memory when other keys are used', async () => {
    const { inner, clock, cache } = await setup({ ttlMs: 1000 });
    const a = (await inner.generateDataKey(ctx('a'))).wrapped;
    const b = (await inner.generateDataKey(ctx('b'))).wrapped;
    const cachedA = await cache.unwrapDataKey(a, ctx('a'));

    clock.time += 1000;
    await cache.unwrapDataKey(b, ctx('b'));

    expect(cache.stats().size).toBe(1);
    expect(cachedA.equals(Buffer.alloc(32))).toBe(true);
  });

  it('shares one inner call among concurrent misses for the same key', async () => {
    const { inner, cache } = await setup();
    const { wrapped } = await inner.generateDataKey(ctx('v1'));
    let open = (): void => undefined;
    inner.gate = new Promise<void>((resolve) => {
      open = resolve;
    });

    const both = Promise.all([cache.unwrapDataKey(wrapped, ctx('v1')), cache.unwrapDataKey(wrapped, ctx('v1'))]);
    open();
    const [first, second] = await both;

    expect(inner.calls.unwrap).toBe(1);
    expect(first.equals(second)).toBe(true);
  });

  it('clear() zeroes and drops every key, including one whose unwrap was in flight', async () => {
    const { inner, cache } = await setup();
    const a = (await inner.generateDataKey(ctx('a'))).wrapped;
    const b = (await inner.generateDataKey(ctx('b'))).wrapped;
    const cachedA = await cache.unwrapDataKey(a, ctx('a'));
    let open = (): void => undefined;
    inner.gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const pendingB = cache.unwrapDataKey(b, ctx('b'));

    cache.clear();
    open();
    await pendingB;

    expect(cachedA.equals(Buffer.alloc(32))).toBe(true);
    expect(cache.stats().size).toBe(0);
    inner.gate = undefined;
    await cache.unwrapDataKey(a, ctx('a'));
    expect(inner.calls.unwrap).toBe(3);
  });

  it('delegates describe, rewrapDataKey and isCurrent to the inner provider', async () => {
    const { inner, cache } = await setup();
    expect(cache.describe()).toEqual({ provider: 'counting', keyId: 'k1' });
    const rewrapped = await cache.rewrapDataKey('w0', ctx('v1'));
    expect(rewrapped).toBe('w0-rewrapped');
    expect(inner.calls.rewrap).toBe(1);
    expect(cache.isCurrent(rewrapped)).toBe(true);
    expect(cache.isCurrent('w0')).toBe(false);
  });

  it('refuses a non-positive maxEntries or ttlMs', () => {
    const inner = new CountingKeyProvider();
    const clock = new FakeClock();
    expect(() => new CachingKeyProvider(inner, { clock, maxEntries: 0 })).toThrow(RangeError);
    expect(() => new CachingKeyProvider(inner, { clock, ttlMs: 0 })).toThrow(RangeError);
  });
});
