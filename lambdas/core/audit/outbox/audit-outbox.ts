import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash, randomUUID } from 'node:crypto';
import { AuditUnavailableError, ValidationError } from '../../errors.ts';
import { type Clock, systemClock } from '../../ports/clock.ts';
import type { Store, WriteOp } from '../../ports/store.ts';
import type { AuditRecord } from '../audit-types.ts';

/**
 * The audit outbox: audit records are written to the items table, in the same transaction as the change they
 * describe, and shipped to the hash-chained S3 log later by the relay (`outbox-relay.ts`). A change and its record
 * therefore commit together or not at all; S3 being down delays shipping, it never loses or splits a record.
 *
 * Items live in `audit-outbox#<shard>` partitions (a request's items all go to one shard, chosen by a hash of its
 * request id, so there is no single hot partition), sorted by `<epoch ms>#<request id>#<item seq>`.
 */

/** Partition prefix of outbox items; the shard number follows. */
export const OUTBOX_PARTITION_PREFIX = 'audit-outbox#';
/** Outbox scopes: letters, digits and `-` (a region name). */
const OUTBOX_SCOPE = /^[a-z0-9-]{1,64}$/;
/** @see AuditOutboxOptions.shards */
export const DEFAULT_OUTBOX_SHARDS = 4;
export const MAX_OUTBOX_SHARDS = 64;
/** Operation of the `system` record an outbox item carries for a change made when no record was pending. */
export const AUDIT_CHANGE = 'audit.change';

const MS_DIGITS = 15;
const SEQ_DIGITS = 6;

/** What one outbox item holds. */
export interface OutboxItemData extends Record<string, unknown> {
  readonly requestId: string;
  /** Epoch milliseconds when the item was built; the relay's lag is measured from it. */
  readonly createdAt: number;
  /** In the order they were appended. */
  readonly records: readonly AuditRecord[];
}

export interface AuditOutboxOptions {
  /** The underlying store (not the {@link OutboxStore} wrapping it). */
  readonly store: Store;
  /** @default systemClock */
  readonly clock?: Clock;
  /**
   * Number of outbox partitions. The relay must be configured with the same number.
   * @default 4
   */
  readonly shards?: number;
  /**
   * Keeps this writer's items apart from other writers sharing the table: a replica region's broker writes to a
   * DynamoDB global table whose items every region sees, and each region's relay must ship only its own region's
   * records (to its own bucket), or two relays would race on the same items. The relay takes the same scope.
   * @default none - the `audit-outbox#<shard>` partitions
   */
  readonly scope?: string;
}

/** The audit state of one request, carried through its async calls by `AsyncLocalStorage`. */
export interface RequestAudit {
  readonly requestId: string;
  readonly shard: number;
  /** Records appended but not yet in the store. */
  readonly pending: AuditRecord[];
  /** Items written so far: the last part of the sort key. */
  items: number;
  /** Changes (transactions) made so far. */
  changes: number;
  /** Sort keys never go backwards within a request, even if the clock does. */
  lastMs: number;
}

/**
 * The partition prefix of a scope's outbox: `audit-outbox#` unscoped, `audit-outbox@<scope>#` scoped (which does not
 * begin with the unscoped prefix, so a stream filter on one never wakes the other's relay).
 */
export function outboxPartitionPrefix(scope?: string): string {
  if (scope === undefined) return OUTBOX_PARTITION_PREFIX;
  if (!OUTBOX_SCOPE.test(scope)) throw new ValidationError('outbox scope must be 1-64 lower-case letters, digits or -');
  return `audit-outbox@${scope}#`;
}

/** The partition of outbox shard `shard` (of `scope`'s outbox). */
export function outboxPartition(shard: number, scope?: string): string {
  return `${outboxPartitionPrefix(scope)}${shard}`;
}

/** The shard holding every outbox item of `requestId`. */
export function outboxShard(requestId: string, shards: number): number {
  return createHash('sha256').update(requestId).digest().readUInt32BE(0) % shards;
}

/** Checks a shard count (the relay and the writers must agree on it). */
export function checkShards(shards: number): number {
  if (!Number.isSafeInteger(shards) || shards < 1 || shards > MAX_OUTBOX_SHARDS) {
    throw new ValidationError(`outbox shards must be a whole number from 1 to ${MAX_OUTBOX_SHARDS}`);
  }
  return shards;
}

/**
 * Holds each request's audit records until they can ride with a change, and writes them to the outbox. Shared by
 * {@link OutboxAuditSink} (which appends) and {@link OutboxStore} (which adds the records to every transaction made
 * inside a request); {@link AuditOutbox.run} opens the per-request scope.
 *
 * @example
 * ```ts
 * const outbox = new AuditOutbox({ store: dynamoStore });
 * const store = new OutboxStore(dynamoStore, outbox);
 * const audit = new AuditLog({ sink: new OutboxAuditSink(outbox), hasher });
 * const response = await outbox.run(requestId, () => handle(request));
 * ```
 */
export class AuditOutbox {
  readonly store: Store;
  readonly shards: number;
  readonly #clock: Clock;
  readonly #scope = new AsyncLocalStorage<RequestAudit>();
  /**
   * Item seq of the next record appended outside a request. Each such record gets a scope of its own, so without it
   * two records of one request id written in the same millisecond would claim the same outbox key, and the second
   * append would fail.
   */
  #looseItems = 0;
  readonly #prefix: string;

  constructor(options: AuditOutboxOptions) {
    this.store = options.store;
    this.#clock = options.clock ?? systemClock;
    this.shards = checkShards(options.shards ?? DEFAULT_OUTBOX_SHARDS);
    this.#prefix = outboxPartitionPrefix(options.scope);
  }

  /**
   * Runs `fn` as request `requestId`: records appended and transactions made inside it share one audit scope. Records
   * still pending when `fn` settles are written before this resolves.
   * @throws AuditUnavailableError when those records cannot be written (the caller must not report success)
   */
  async run<T>(requestId: string, fn: () => Promise<T>): Promise<T> {
    const scope = this.#newScope(requestId);
    let result: T;
    try {
      result = await this.#scope.run(scope, fn);
    } catch (err) {
      // The failure is what the caller sees; what was pending is still written if it can be.
      await this.flush(scope).catch(() => undefined);
      throw err;
    }
    await this.flush(scope);
    return result;
  }

  /** The scope of the request running now, if any. */
  current(): RequestAudit | undefined {
    return this.#scope.getStore();
  }

  /**
   * Appends one record. Inside a request it is held until a change takes it, or until the response record, which
   * writes everything pending as an outbox item of its own (reads and refusals have no change to ride with).
   * Outside a request it is written at once.
   */
  async append(record: AuditRecord): Promise<void> {
    const scope = this.current();
    if (scope === undefined) {
      const scope = this.#newScope(record.requestId || randomUUID());
      scope.items = this.#looseItems;
      this.#looseItems = (this.#looseItems + 1) % 10 ** SEQ_DIGITS;
      await this.store.transact([this.itemOp(scope, [record])]);
      return;
    }
    scope.pending.push(record);
    if (record.type === 'response') await this.flush(scope);
  }

  /**
   * Writes the records pending in `scope` as one outbox item. On failure the records stay pending, except response
   * records: the caller will report a failure instead, and record that.
   */
  async flush(scope: RequestAudit): Promise<void> {
    if (scope.pending.length === 0) return;
    const records = scope.pending.splice(0);
    try {
      await this.store.transact([this.itemOp(scope, records)]);
    } catch (cause) {
      scope.pending.unshift(...records.filter((record) => record.type !== 'response'));
      throw new AuditUnavailableError('audit outbox unavailable: request refused', { cause });
    }
  }

  /** Takes what a change made now must carry: the pending records, or a marker of the change when none are. */
  takeForChange(scope: RequestAudit, ops: number, atomic: boolean): { taken: AuditRecord[]; carried: AuditRecord[] } {
    const taken = scope.pending.splice(0);
    const change = scope.changes++;
    if (taken.length > 0 && atomic) return { taken, carried: taken };
    const marker: AuditRecord = {
      type: 'system',
      time: new Date(this.#clock.now()).toISOString(),
      requestId: scope.requestId,
      operation: AUDIT_CHANGE,
      path: taken[0]?.path ?? '',
      sourceIp: taken[0]?.sourceIp ?? '',
      details: { change, ops, atomic },
    };
    return { taken, carried: [...taken, marker] };
  }

  /** The put of a new outbox item holding `records`, created only if its key is free. */
  itemOp(scope: RequestAudit, records: readonly AuditRecord[]): WriteOp {
    const now = Math.max(this.#clock.now(), scope.lastMs);
    scope.lastMs = now;
    const sk = outboxSortKey(now, scope.requestId, scope.items++);
    const data: OutboxItemData = { requestId: scope.requestId, createdAt: now, records: [...records] };
    return { type: 'put', pk: `${this.#prefix}${scope.shard}`, sk, data, condition: { kind: 'absent' } };
  }

  #newScope(requestId: string): RequestAudit {
    return {
      requestId,
      shard: outboxShard(requestId, this.shards),
      pending: [],
      items: 0,
      changes: 0,
      lastMs: 0,
    };
  }
}

/** `<epoch ms, 15 digits>#<request id>#<item seq, 6 digits>`: time-ordered, unique per request and item. */
export function outboxSortKey(epochMs: number, requestId: string, seq: number): string {
  return `${String(epochMs).padStart(MS_DIGITS, '0')}#${requestId}#${String(seq).padStart(SEQ_DIGITS, '0')}`;
}
