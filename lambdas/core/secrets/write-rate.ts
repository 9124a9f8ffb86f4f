import type { Clock } from '../ports/clock.ts';

/** A sustained rate and the burst allowed above it. */
export interface WriteRate {
  /** Writes per second, sustained. */
  readonly perSecond: number;
  /** Writes allowed at once after a quiet period. @default 2 × perSecond, at least 1 */
  readonly burst?: number | undefined;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * One token bucket per key (a secret's name), on the injected clock. In memory and per process: on Lambda each
 * instance has its own buckets, so the effective limit is the rate times the instances. The store-side version cap
 * bounds what gets through regardless.
 *
 * The map is bounded: past `maxKeys`, buckets that have refilled (they hold no state worth keeping) go first, then
 * the least recently used; forgetting a busy bucket only ever grants one extra burst.
 */
export class WriteRateLimiter {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #clock: Clock;
  readonly #maxKeys: number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(rate: WriteRate, clock: Clock, maxKeys = 10_000) {
    if (!(rate.perSecond > 0) || !Number.isFinite(rate.perSecond)) {
      throw new RangeError('a write rate must be a positive, finite number of writes per second');
    }
    const burst = rate.burst ?? Math.max(1, 2 * rate.perSecond);
    if (!(burst >= 1) || !Number.isFinite(burst)) throw new RangeError('a write burst must be at least 1');
    this.#perMs = rate.perSecond / 1000;
    this.#burst = burst;
    this.#clock = clock;
    this.#maxKeys = maxKeys;
  }

  /** Takes one write for `key`; false when its bucket is empty (the caller refuses rather than queues). */
  tryTake(key: string): boolean {
    const now = this.#clock.now();
    const bucket = this.#buckets.get(key);
    const tokens =
      bucket === undefined ? this.#burst : Math.min(this.#burst, bucket.tokens + (now - bucket.at) * this.#perMs);
    // Re-inserting keeps the map in least-recently-used order for eviction.
    this.#buckets.delete(key);
    if (tokens < 1) {
      this.#buckets.set(key, { tokens, at: now });
      return false;
    }
    this.#buckets.set(key, { tokens: tokens - 1, at: now });
    if (this.#buckets.size > this.#maxKeys) this.#evict(now);
    return true;
  }

  #evict(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + (now - bucket.at) * this.#perMs >= this.#burst) this.#buckets.delete(key);
    }
    // Down to 90%, so a full map of busy buckets does not pay a whole scan on every new key.
    const target = Math.floor(this.#maxKeys * 0.9);
    for (const key of this.#buckets.keys()) {
      if (this.#buckets.size <= target) break;
      this.#buckets.delete(key);
    }
  }
}
