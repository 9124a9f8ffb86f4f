/**
 * Token records recently presented, so the hot path of a request need not read the store for a token it saw a moment
 * ago (the token read was 7.5% of an audited GET's CPU in docs/BENCHMARKS.md).
 *
 * It is only as fresh as the writes it is told about: every write of a token record, by this process, forgets that
 * record before and after it commits, and a read that overlapped a write is not remembered (the generation check),
 * so a revocation here is seen by the very next request. A write by another process (another Lambda instance) is not
 * seen until the entry's `ttlMs` runs out: the runtime that composes the service decides whether that is acceptable
 * (the local node is the only writer of its store; on AWS the cache is off unless the operator turns it on).
 *
 * Only unlimited-use tokens are remembered; a use-limited token writes a use on every presentation anyway. Expiry and
 * bound CIDRs are checked on every presentation against the remembered record, exactly as against a fresh read.
 *
 * @example
 * ```ts
 * const cache = new PresentedTokens({ ttlMs: 30_000, maxEntries: 10_000 });
 * const generation = cache.generation;
 * const found = await read(hash);
 * cache.remember(hash, found, generation, now);
 * ```
 */
export class PresentedTokens<T extends object> {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #entries = new Map<string, { readonly until: number; readonly value: T }>();
  #generation = 0;

  constructor(options: { readonly ttlMs: number; readonly maxEntries?: number }) {
    this.#ttlMs = options.ttlMs;
    this.#maxEntries = options.maxEntries ?? 10_000;
  }

  /** Whether anything is remembered at all (a TTL of 0 switches the cache off). */
  get enabled(): boolean {
    return this.#ttlMs > 0;
  }

  /** Changes whenever a token record is written: a read that started under another generation may be stale. */
  get generation(): number {
    return this.#generation;
  }

  lookup(hash: string, now: number): T | undefined {
    const entry = this.#entries.get(hash);
    if (entry === undefined) return undefined;
    if (now < entry.until) return entry.value;
    this.#entries.delete(hash);
    return undefined;
  }

  /** Remembers `value`, read while the generation was `readAt`, unless a token write happened meanwhile. */
  remember(hash: string, value: T, readAt: number, now: number): void {
    if (!this.enabled || readAt !== this.#generation) return;
    // Bounded memory: a burst of distinct tokens starts the cache afresh rather than growing without limit.
    if (this.#entries.size >= this.#maxEntries) this.#entries.clear();
    this.#entries.set(hash, { until: now + this.#ttlMs, value: deepFreeze(value) });
  }

  /** Forgets the records behind `hashes`, and makes every read in flight unrememberable. */
  forget(hashes: Iterable<string>): void {
    this.#generation++;
    for (const hash of hashes) this.#entries.delete(hash);
  }
}

/** Shared between requests, so frozen: a reader that changed it in place would fail loudly, not leak its change. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
