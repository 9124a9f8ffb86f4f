/**
 * The storage port: a partitioned, sorted item store with conditional, all-or-nothing transactions.
 *
 * It is shaped after DynamoDB on purpose (partition key + sort key, conditional writes, TransactWriteItems), so the
 * local SQLite adapter and the DynamoDB adapter can both pass `test/contract/store.contract.ts`.
 *
 * Every item carries a revision (`rev`), starting at 1 and incremented by every put. Optimistic concurrency is
 * expressed as a `rev` condition, so a lost update is impossible: a writer that read rev N can only commit if the
 * item is still at rev N.
 */

/** JSON-serialisable item payload. Binary data must be base64-encoded by the caller. */
export type ItemData = Record<string, unknown>;

export interface StoredItem<T extends ItemData = ItemData> {
  readonly pk: string;
  readonly sk: string;
  readonly rev: number;
  readonly data: T;
  /** Epoch milliseconds after which the item may be removed by the store (DynamoDB TTL); informational locally. */
  readonly expiresAt?: number | undefined;
}

export type Condition =
  /** The item must not exist. */
  | { readonly kind: 'absent' }
  /** The item must exist, at any revision. */
  | { readonly kind: 'exists' }
  /** The item must exist at exactly this revision. */
  | { readonly kind: 'rev'; readonly rev: number };

export type WriteOp =
  | {
      readonly type: 'put';
      readonly pk: string;
      readonly sk: string;
      readonly data: ItemData;
      readonly condition?: Condition;
      readonly expiresAt?: number;
    }
  | { readonly type: 'delete'; readonly pk: string; readonly sk: string; readonly condition?: Condition }
  | { readonly type: 'check'; readonly pk: string; readonly sk: string; readonly condition: Condition };

export interface QueryOptions {
  /** Only items whose sort key starts with this prefix. */
  readonly prefix?: string;
  /** Exclusive lower bound on the sort key, for pagination. */
  readonly startAfter?: string;
  /** @default 100 (maximum 1000) */
  readonly limit?: number;
}

export interface Page<T extends ItemData = ItemData> {
  readonly items: StoredItem<T>[];
  /** The sort key to pass as `startAfter` for the next page; absent on the last page. */
  readonly lastKey?: string;
}

/** At most this many operations in one transaction (DynamoDB's TransactWriteItems limit). */
export const MAX_TRANSACTION_OPS = 100;

/** Thrown by `transact` when a condition does not hold. Nothing in the transaction was applied. */
export class ConditionFailedError extends Error {
  override readonly name = 'ConditionFailedError';
  constructor(
    /** Index of the first operation whose condition failed. */
    readonly index: number,
    readonly pk: string,
    readonly sk: string,
  ) {
    super(`condition failed for operation ${index}`);
  }
}

export interface Store {
  get<T extends ItemData = ItemData>(pk: string, sk: string): Promise<StoredItem<T> | undefined>;
  /** Items of one partition in ascending sort-key order. */
  query<T extends ItemData = ItemData>(pk: string, options?: QueryOptions): Promise<Page<T>>;
  /**
   * Applies every operation or none. Resolves only once the write is durable: an acknowledged write survives a
   * process crash. Throws `ConditionFailedError` if any condition fails. At most one operation per (pk, sk).
   */
  transact(ops: readonly WriteOp[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * Every item of one partition (or of one sort-key prefix in it), page after page, in sort-key order. For partitions
 * that stay small (roles, mounts, revocation lists): it holds them all in memory.
 */
export async function queryAll<T extends ItemData = ItemData>(
  store: Store,
  pk: string,
  options: { readonly prefix?: string } = {},
): Promise<StoredItem<T>[]> {
  const items: StoredItem<T>[] = [];
  let startAfter: string | undefined;
  do {
    const page = await store.query<T>(pk, {
      limit: 1000,
      ...(options.prefix !== undefined && { prefix: options.prefix }),
      ...(startAfter !== undefined && { startAfter }),
    });
    items.push(...page.items);
    startAfter = page.lastKey;
  } while (startAfter !== undefined);
  return items;
}
