import { AuditUnavailableError } from '../../errors.ts';
import {
  ConditionFailedError,
  type ItemData,
  MAX_TRANSACTION_OPS,
  type Page,
  type QueryOptions,
  type Store,
  type StoredItem,
  type WriteOp,
} from '../../ports/store.ts';
import type { AuditOutbox } from './audit-outbox.ts';

/**
 * A `Store` decorator that makes every change inside a request carry its audit: each `transact` made within
 * {@link AuditOutbox.run} gets one more operation, the put of an outbox item holding the request's pending records
 * (the request record rides with the first change; later changes carry an `audit.change` marker). The change and
 * its records commit in one transaction or not at all. Outside a request it passes calls straight through.
 *
 * A transaction that already uses all {@link MAX_TRANSACTION_OPS} operations has no room for the outbox item. Rather
 * than fail (token-tree revocation and version pruning legitimately fill whole transactions), the records are then
 * written first, in a transaction of their own, with a marker saying the change was not atomic with them: the log
 * may show a change that then failed, never a change it does not show.
 *
 * @example
 * ```ts
 * const store = new OutboxStore(new DynamoDbStore({ client, tableName }), outbox);
 * ```
 */
export class OutboxStore implements Store {
  readonly #inner: Store;
  readonly #outbox: AuditOutbox;

  constructor(inner: Store, outbox: AuditOutbox) {
    this.#inner = inner;
    this.#outbox = outbox;
  }

  get<T extends ItemData = ItemData>(pk: string, sk: string): Promise<StoredItem<T> | undefined> {
    return this.#inner.get<T>(pk, sk);
  }

  query<T extends ItemData = ItemData>(pk: string, options?: QueryOptions): Promise<Page<T>> {
    return this.#inner.query<T>(pk, options);
  }

  async transact(ops: readonly WriteOp[]): Promise<void> {
    const scope = this.#outbox.current();
    if (scope === undefined || ops.length === 0) return this.#inner.transact(ops);
    const atomic = ops.length < MAX_TRANSACTION_OPS;
    const { taken, carried } = this.#outbox.takeForChange(scope, ops.length, atomic);
    const item = this.#outbox.itemOp(scope, carried);
    if (!atomic) {
      try {
        await this.#inner.transact([item]);
      } catch (cause) {
        scope.pending.unshift(...taken);
        throw new AuditUnavailableError('audit outbox unavailable: change refused', { cause });
      }
      return this.#inner.transact(ops);
    }
    try {
      await this.#inner.transact([...ops, item]);
    } catch (err) {
      // Nothing was applied: the records were not written either, so they wait for the next write.
      scope.pending.unshift(...taken);
      if (err instanceof ConditionFailedError && err.index === ops.length) {
        throw new AuditUnavailableError('audit outbox item key already taken', { cause: err });
      }
      throw err;
    }
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
