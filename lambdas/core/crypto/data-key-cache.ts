import { createHash } from 'node:crypto';
import type { Clock } from '../ports/clock.ts';
import type { EncryptionContext, GeneratedDataKey, KeyProvider } from '../ports/key-provider.ts';
import { canonicalContext } from './encryption-context.ts';

export interface CachingKeyProviderOptions {
  /** Source of time for expiry, injected so tests can move it. */
  readonly clock: Clock;
  /** Most plaintext data keys held at once; the least recently used goes first. @default 1000 */
  readonly maxEntries?: number;
  /**
   * How long a data key stays cached after it was unwrapped (or generated), however often it is used since: a hot key
   * is still re-fetched from the provider, so a retired root key or a revoked KMS grant takes effect within this time.
   * @default 300_000
   */
  readonly ttlMs?: number;
}

export interface DataKeyCacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly size: number;
}

interface Entry {
  readonly key: Buffer;
  readonly expiresAt: number;
}

/**
 * A {@link KeyProvider} that remembers plaintext data keys, so reading a secret costs one AES-GCM decryption instead of
 * a provider round trip (a KMS call on AWS).
 *
 * Entries are keyed by a hash of the wrapped key and the canonical encryption context, so a different context never
 * hits an entry: the inner provider is asked and decides. Failed unwraps are not cached. Concurrent misses for the
 * same entry share one call to the inner provider.
 *
 * **Ownership.** `unwrapDataKey` returns the cached Buffer itself, not a copy, to keep the hot path allocation-free.
 * Callers must not mutate or retain it: use it synchronously (before the next `await`), because the cache zeroes a
 * key's bytes when it evicts it. `generateDataKey` caches a copy, so its caller owns (and may zero) the plaintext it
 * gets.
 *
 * @example
 * ```ts
 * const provider = new CachingKeyProvider(keyring, { clock: systemClock });
 * const dataKey = await provider.unwrapDataKey(record.wrappedKey, { secretId, versionId });
 * const value = open(dataKey, record.sealed, { secretId, versionId }); // synchronously, before the next await
 * ```
 */
export class CachingKeyProvider implements KeyProvider {
  readonly #inner: KeyProvider;
  readonly #clock: Clock;
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  /** Map iteration order is insertion order: re-inserting on a hit makes the first entry the least recently used. */
  readonly #entries = new Map<string, Entry>();
  readonly #inFlight = new Map<string, Promise<Buffer>>();
  /** Bumped by `clear()`, so an unwrap that was in flight during it does not refill the cache. */
  #generation = 0;
  /** Expired entries are swept at most once per TTL, so they do not linger in memory while the cache is idle. */
  #nextSweep: number;
  #hits = 0;
  #misses = 0;

  constructor(inner: KeyProvider, options: CachingKeyProviderOptions) {
    const maxEntries = options.maxEntries ?? 1000;
    const ttlMs = options.ttlMs ?? 300_000;
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
    if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError('ttlMs must be a positive number');
    this.#inner = inner;
    this.#clock = options.clock;
    this.#maxEntries = maxEntries;
    this.#ttlMs = ttlMs;
    this.#nextSweep = options.clock.now() + ttlMs;
  }

  describe(): { provider: string; keyId: string } {
    return this.#inner.describe();
  }

  async generateDataKey(context: EncryptionContext): Promise<GeneratedDataKey> {
    const generated = await this.#inner.generateDataKey(context);
    // A copy: the caller owns `generated.plaintext` and is free to zero it once the value is sealed.
    this.#remember(cacheKey(generated.wrapped, context), Buffer.from(generated.plaintext), this.#generation);
    return generated;
  }

  async unwrapDataKey(wrapped: string, context: EncryptionContext): Promise<Buffer> {
    const id = cacheKey(wrapped, context);
    const cached = this.#lookup(id);
    if (cached !== undefined) {
      this.#hits++;
      return cached;
    }
    this.#misses++;
    const pending = this.#inFlight.get(id);
    if (pending !== undefined) return pending;
    const generation = this.#generation;
    const unwrapping = this.#inner
      .unwrapDataKey(wrapped, context)
      .then((key) => {
        this.#remember(id, key, generation);
        return key;
      })
      .finally(() => this.#inFlight.delete(id));
    this.#inFlight.set(id, unwrapping);
    return unwrapping;
  }

  rewrapDataKey(wrapped: string, context: EncryptionContext): Promise<string> {
    return this.#inner.rewrapDataKey(wrapped, context);
  }

  isCurrent(wrapped: string): boolean {
    return this.#inner.isCurrent(wrapped);
  }

  /** Zeroes and drops every cached key (e.g. after a root-key rotation, or on shutdown). */
  clear(): void {
    this.#generation++;
    for (const entry of this.#entries.values()) entry.key.fill(0);
    this.#entries.clear();
  }

  /** Counters since construction; `size` is the number of keys held now. */
  stats(): DataKeyCacheStats {
    return { hits: this.#hits, misses: this.#misses, size: this.#entries.size };
  }

  #lookup(id: string): Buffer | undefined {
    const now = this.#clock.now();
    this.#sweepIfDue(now);
    const entry = this.#entries.get(id);
    if (entry === undefined) return undefined;
    this.#entries.delete(id);
    if (entry.expiresAt <= now) {
      entry.key.fill(0);
      return undefined;
    }
    this.#entries.set(id, entry);
    return entry.key;
  }

  #remember(id: string, key: Buffer, generation: number): void {
    if (generation !== this.#generation) return;
    const now = this.#clock.now();
    this.#sweepIfDue(now);
    const previous = this.#entries.get(id);
    if (previous !== undefined && previous.key !== key) previous.key.fill(0);
    this.#entries.delete(id);
    this.#entries.set(id, { key, expiresAt: now + this.#ttlMs });
    while (this.#entries.size > this.#maxEntries) {
      const [oldest, entry] = this.#entries.entries().next().value as [string, Entry];
      this.#entries.delete(oldest);
      entry.key.fill(0);
    }
  }

  #sweepIfDue(now: number): void {
    if (now < this.#nextSweep) return;
    this.#nextSweep = now + this.#ttlMs;
    for (const [id, entry] of this.#entries) {
      if (entry.expiresAt > now) continue;
      this.#entries.delete(id);
      entry.key.fill(0);
    }
  }
}

/** A fixed-size key that holds neither the wrapped key nor the context in memory twice. */
function cacheKey(wrapped: string, context: EncryptionContext): string {
  return createHash('sha256').update(wrapped).update('\0').update(canonicalContext(context)).digest('base64');
}
