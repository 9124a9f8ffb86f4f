import {
  ConditionFailedError,
  type ItemData,
  type Page,
  type QueryOptions,
  type Store,
  type StoredItem,
  type WriteOp,
} from '../../core/ports/store.ts';
import { compareKeys, holds, validateOps } from '../../core/ports/store-rules.ts';

/**
 * An in-memory `Store` for unit tests. It enforces the same rules as the durable adapters (it passes the store
 * contract suite), so a test that passes here exercises real conditional-write semantics.
 */
export class MemoryStore implements Store {
  private readonly partitions = new Map<string, Map<string, StoredItem>>();

  async get<T extends ItemData = ItemData>(pk: string, sk: string): Promise<StoredItem<T> | undefined> {
    const item = this.partitions.get(pk)?.get(sk);
    return item === undefined ? undefined : (structuredClone(item) as StoredItem<T>);
  }

  async query<T extends ItemData = ItemData>(pk: string, options: QueryOptions = {}): Promise<Page<T>> {
    const limit = Math.min(Math.max(options.limit ?? 100, 1), 1000);
    const partition = this.partitions.get(pk);
    if (partition === undefined) return { items: [] };
    const keys = [...partition.keys()]
      .filter((sk) => options.prefix === undefined || sk.startsWith(options.prefix))
      .filter((sk) => options.startAfter === undefined || compareKeys(sk, options.startAfter) > 0)
      .sort(compareKeys);
    const page = keys.slice(0, limit);
    const items = page.map((sk) => structuredClone(partition.get(sk)) as StoredItem<T>);
    return keys.length > limit ? { items, lastKey: page[page.length - 1]! } : { items };
  }

  async transact(ops: readonly WriteOp[]): Promise<void> {
    validateOps(ops);
    ops.forEach((op, index) => {
      const current = this.partitions.get(op.pk)?.get(op.sk);
      if (op.condition !== undefined && !holds(op.condition, current)) {
        throw new ConditionFailedError(index, op.pk, op.sk);
      }
    });
    for (const op of ops) {
      if (op.type === 'check') continue;
      let partition = this.partitions.get(op.pk);
      if (op.type === 'delete') {
        partition?.delete(op.sk);
        continue;
      }
      if (partition === undefined) {
        partition = new Map();
        this.partitions.set(op.pk, partition);
      }
      const rev = (partition.get(op.sk)?.rev ?? 0) + 1;
      partition.set(op.sk, { pk: op.pk, sk: op.sk, rev, data: structuredClone(op.data), expiresAt: op.expiresAt });
    }
  }

  async close(): Promise<void> {}
}
