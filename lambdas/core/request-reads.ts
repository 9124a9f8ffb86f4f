import { AsyncLocalStorage } from 'node:async_hooks';
import type { ItemData, Page, QueryOptions, Store, StoredItem, WriteOp } from './ports/store.ts';

/** One request's reads: open while the request runs; work it started that outlives it reads the store afresh. */
interface RequestReads {
  open: boolean;
  readonly items: Map<string, Promise<StoredItem | undefined>>;
}

export interface RequestReadMemoOptions {
  /** The partitions whose items a request reads at most once (their readers never change an item in place). */
  readonly memoize: (pk: string) => boolean;
}

/**
 * A store through which a request reads each item of the chosen partitions once: the broker's resource-policy check
 * and the service that answers then share one read of a secret's metadata instead of two (the GET profile in
 * docs/BENCHMARKS.md). Every write, by anyone in the request, forgets what was read, before and after, so a conditional
 * write's retry reads afresh and a read after a write sees it. Outside a request (`run`), and once it has ended, it is
 * the store itself. Memoized items are frozen, deeply: two readers share one object, so a reader that changed it in
 * place would fail loudly rather than show the other its change.
 *
 * @example
 * ```ts
 * const store = new RequestReadMemo(sqlite, { memoize: isSecretsPartition });
 * await store.run(() => broker.handle(request));
 * ```
 */
export class RequestReadMemo implements Store {
  readonly #inner: Store;
  readonly #memoize: (pk: string) => boolean;
  readonly #scope = new AsyncLocalStorage<RequestReads>();

  constructor(inner: Store, options: RequestReadMemoOptions) {
    this.#inner = inner;
    this.#memoize = options.memoize;
  }

  /** Runs `fn` as one request. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const reads: RequestReads = { open: true, items: new Map() };
    try {
      return await this.#scope.run(reads, fn);
    } finally {
      reads.open = false;
      reads.items.clear();
    }
  }

  get<T extends ItemData = ItemData>(pk: string, sk: string): Promise<StoredItem<T> | undefined> {
    const reads = this.#scope.getStore();
    if (reads?.open !== true || !this.#memoize(pk)) return this.#inner.get<T>(pk, sk);
    const key = `${pk}\u0000${sk}`;
    let read = reads.items.get(key);
    if (read === undefined) {
      read = this.#inner.get(pk, sk).then((item) => (item === undefined ? undefined : deepFreeze(item)));
      reads.items.set(key, read);
      // A failed read is not remembered: the next reader tries again.
      read.catch(() => reads.items.delete(key));
    }
    return read as Promise<StoredItem<T> | undefined>;
  }

  query<T extends ItemData = ItemData>(pk: string, options?: QueryOptions): Promise<Page<T>> {
    return this.#inner.query<T>(pk, options);
  }

  async transact(ops: readonly WriteOp[]): Promise<void> {
    const reads = this.#scope.getStore();
    reads?.items.clear();
    try {
      await this.#inner.transact(ops);
    } finally {
      // Also what was read while the write was in flight: it may predate the write.
      reads?.items.clear();
    }
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
