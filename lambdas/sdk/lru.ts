/**
 * A least-recently-used map bounded by entry count and by total weight (bytes, say). A `Map` keeps insertion order,
 * so re-inserting on access keeps the least recently used entry first, and eviction is O(1).
 * @example
 * const lru = new Lru<string, Buffer>({ maxEntries: 100, maxWeight: 1 << 20, weigh: (b) => b.length });
 */
export class Lru<K, V> {
  private readonly map = new Map<K, { value: V; weight: number }>();
  private readonly maxEntries: number;
  private readonly maxWeight: number;
  private readonly weigh: (value: V) => number;
  private totalWeight = 0;
  /**
   * The most recently used key, when known: reading it again needs no re-insertion. A hot key read in a loop would
   * otherwise delete and re-add a `Map` entry on every read, leaving holes the `Map` must rehash away.
   */
  private newest: K | undefined;
  private hasNewest = false;
  /** Entries dropped to stay within the bounds. */
  evictions = 0;

  constructor(options: { maxEntries: number; maxWeight?: number; weigh?: (value: V) => number }) {
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 0) {
      throw new RangeError('maxEntries must be a whole number ≥ 0');
    }
    this.maxEntries = options.maxEntries;
    this.maxWeight = options.maxWeight ?? Number.POSITIVE_INFINITY;
    this.weigh = options.weigh ?? (() => 0);
  }

  get size(): number {
    return this.map.size;
  }

  get weight(): number {
    return this.totalWeight;
  }

  /** Reads and marks as most recently used. */
  get(key: K): V | undefined {
    const slot = this.map.get(key);
    if (slot === undefined) return undefined;
    if (!this.hasNewest || this.newest !== key) {
      this.map.delete(key);
      this.map.set(key, slot);
      this.newest = key;
      this.hasNewest = true;
    }
    return slot.value;
  }

  /** Reads without changing the order. */
  peek(key: K): V | undefined {
    return this.map.get(key)?.value;
  }

  /** Stores as most recently used, then evicts the least recently used entries beyond the bounds. */
  set(key: K, value: V): void {
    this.delete(key);
    const weight = this.weigh(value);
    // An entry heavier than the whole budget is not kept: it would evict everything and then itself.
    if (weight > this.maxWeight || this.maxEntries === 0) return;
    this.map.set(key, { value, weight });
    this.newest = key;
    this.hasNewest = true;
    this.totalWeight += weight;
    for (const [oldest, slot] of this.map) {
      if (this.map.size <= this.maxEntries && this.totalWeight <= this.maxWeight) break;
      this.map.delete(oldest);
      this.totalWeight -= slot.weight;
      this.evictions++;
    }
  }

  delete(key: K): boolean {
    const slot = this.map.get(key);
    if (slot === undefined) return false;
    this.map.delete(key);
    if (this.hasNewest && this.newest === key) {
      this.newest = undefined;
      this.hasNewest = false;
    }
    this.totalWeight -= slot.weight;
    return true;
  }

  /** Entries from least to most recently used. */
  *entries(): IterableIterator<[K, V]> {
    for (const [key, slot] of this.map) yield [key, slot.value];
  }
}
