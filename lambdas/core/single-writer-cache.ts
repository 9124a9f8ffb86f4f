import type { ItemData, Page, QueryOptions, Store, StoredItem, WriteOp } from './ports/store.ts';

export interface SingleWriterCacheOptions {
  /** The partitions whose items are kept (their readers never change an item in place). */
  readonly cache: (pk: string) => boolean;
  /** At most this many items are kept; the oldest goes first. @default 4_096 */
  readonly maxItems?: number;
}

/**
 * A store that keeps the items it read, for a runtime whose store has no other writer (the local node: one process
 * owns its SQLite file). Every write through it forgets the items it touches before it starts and after it ends, and
 * a read that overlapped any write is not kept, so a reader never sees an item older than the last write it could
 * have observed. The hot GET reads a secret's metadata and version from here instead of SQLite (the profile in
 * docs/BENCHMARKS.md). Kept items are frozen, deeply, because readers share them.
 *
 * It must not be used where another process writes the same store (the AWS runtime's DynamoDB table): nothing would
 * tell it about their writes.
 *
 * @example
 * ```ts
 * const store = new SingleWriterCache(sqlite, { cache: isSecretsPartition });
 * ```
 */
export class SingleWriterCache implements Store {
  readonly #inner: Store;
  readonly #cache: (pk: string) => boolean;
  readonly #maxItems: number;
  readonly #items = new Map<string, StoredItem | undefined>();
  #generation = 0;

  constructor(inner: Store, options: SingleWriterCacheOptions) {
    this.#inner = inner;
    this.#cache = options.cache;
    this.#maxItems = options.maxItems ?? 4_096;
  }

  async get<T extends ItemData = ItemData>(pk: string, sk: string): Promise<StoredItem<T> | undefined> {
    if (!this.#cache(pk)) return this.#inner.get<T>(pk, sk);
    const key = keyOf(pk, sk);
    if (this.#items.has(key)) return this.#items.get(key) as StoredItem<T> | undefined;
    const readAt = this.#generation;
    const item = await this.#inner.get<T>(pk, sk);
    if (readAt !== this.#generation) return item;
    if (this.#items.size >= this.#maxItems) this.#items.delete(this.#items.keys().next().value!);
    // Absence is kept too: a GET of a name that does not exist is as common as one that does.
    this.#items.set(key, item === undefined ? undefined : deepFreeze(item));
    return item;
  }

  query<T extends ItemData = ItemData>(pk: string, options?: QueryOptions): Promise<Page<T>> {
    return this.#inner.query<T>(pk, options);
  }

  async transact(ops: readonly WriteOp[]): Promise<void> {
    this.#forget(ops);
    try {
      await this.#inner.transact(ops);
    } finally {
      this.#forget(ops);
    }
  }

  close(): Promise<void> {
    this.#items.clear();
    return this.#inner.close();
  }

  #forget(ops: readonly WriteOp[]): void {
    this.#generation++;
    for (const op of ops) this.#items.delete(keyOf(op.pk, op.sk));
  }
}

function keyOf(pk: string, sk: string): string {
  return `${pk}\u0000${sk}`;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
