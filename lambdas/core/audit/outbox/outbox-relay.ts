import { ValidationError } from '../../errors.ts';
import { type Clock, systemClock } from '../../ports/clock.ts';
import {
  ConditionFailedError,
  MAX_TRANSACTION_OPS,
  type Store,
  type StoredItem,
  type WriteOp,
} from '../../ports/store.ts';
import type { AuditRecord } from '../audit-types.ts';
import { type ChainHead, chainRecord, GENESIS_HASH, serialise } from '../hash-chain.ts';
import { checkShards, DEFAULT_OUTBOX_SHARDS, type OutboxItemData, outboxPartition } from './audit-outbox.ts';

/** Partition of the relay's chain heads (one item per stream). */
export const RELAY_PARTITION = 'audit-relay';
/** @see OutboxRelayOptions.streamId */
export const DEFAULT_RELAY_STREAM = 'outbox';

/**
 * Where the relay writes chain segments: immutable objects named by the seq range they hold (the S3 adapter is
 * `S3AuditSegments`, `<prefix><streamId>/<first>-<last>.jsonl`, the layout `verifyS3AuditStream` checks).
 */
export interface AuditSegmentStore {
  /** Creates the segment of seqs `first`..`last` unless one already exists under that name (never overwrites). */
  create(first: number, last: number, body: string): Promise<'created' | 'exists'>;
  /** The body of the segment of seqs `first`..`last`, or undefined when there is none. */
  read(first: number, last: number): Promise<string | undefined>;
}

export interface OutboxRelayOptions {
  /** The underlying store (never an `OutboxStore`: the relay's writes are not requests). */
  readonly store: Store;
  readonly segments: AuditSegmentStore;
  /** @default systemClock */
  readonly clock?: Clock;
  /** Must match the writers' `AuditOutbox` shards. @default 4 */
  readonly shards?: number;
  /** The writers' `AuditOutbox` scope. @default none */
  readonly scope?: string;
  /** Names the chain (and its head item). Letters, digits, `.`, `_`, `-`. @default 'outbox' */
  readonly streamId?: string;
  /**
   * Most outbox items per segment. The commit deletes them in one transaction with the head update, so at most 99.
   * @default 99
   */
  readonly batchItems?: number;
  /**
   * Most segments one `run` writes, so an invocation ends well within its timeout; the next run carries on.
   * @default 25
   */
  readonly maxSegments?: number;
}

/** The chain could not be continued safely: a segment exists with other content, or the head is unreadable. */
export class AuditRelayError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AuditRelayError';
  }
}

export interface RelayRunResult {
  /** Segments this run committed. */
  readonly segments: number;
  /** Records in those segments. */
  readonly records: number;
}

/** An outbox item named by its key. */
interface ItemKey {
  readonly pk: string;
  readonly sk: string;
}

/** The segment the relay is shipping: recorded in the head before S3 is written, so a crash can be resumed. */
interface PendingSegment {
  readonly first: number;
  readonly last: number;
  readonly hash: string;
  readonly items: readonly ItemKey[];
}

interface HeadData extends Record<string, unknown> {
  readonly seq: number;
  readonly hash: string;
  readonly pending?: PendingSegment;
}

interface Segment {
  readonly first: number;
  readonly last: number;
  readonly hash: string;
  readonly body: string;
}

const STREAM_ID = /^[A-Za-z0-9._-]{1,128}$/;
const GENESIS: ChainHead = { seq: 0, hash: GENESIS_HASH };

/**
 * Ships the audit outbox to the hash-chained log: drains the outbox shards merged in sort-key order, chains their
 * records after the stored head, writes them as one segment, then advances the head and deletes the shipped items
 * in ONE transaction. Records therefore reach the log at least once and, thanks to the steps below, exactly once.
 *
 * 1. The head records the segment about to be written (`pending`: its seq range, last hash and the exact outbox
 *    keys) with a conditional write. Two relays racing here cannot both win, so the chain never forks.
 * 2. The segment is created under a deterministic name that is never overwritten. If it already exists (a crash
 *    after the write, or a racing relay resuming the same pending segment), it is read back and must be byte-for-byte
 *    what this relay would write; otherwise the relay stops with {@link AuditRelayError}.
 * 3. The head moves to the segment's last record and the items are deleted, atomically (conditional on the head's
 *    revision). A crash before this step leaves `pending` in place: the next run rebuilds the same bytes from the
 *    same items and finishes the job, with no gap and no duplicate.
 *
 * Outbox sort keys are time-ordered per writer, but writers' clocks and commit latencies differ, so a record can
 * arrive with an earlier key than one already shipped. The chain's order is shipping order; `time` inside each
 * record says when it happened.
 *
 * @example
 * ```ts
 * const relay = new OutboxRelay({ store, segments: new S3AuditSegments({ client, bucket }) });
 * await relay.run();
 * const lagMs = await relay.oldestUnshippedAgeMs();
 * ```
 */
export class OutboxRelay {
  readonly streamId: string;
  readonly #store: Store;
  readonly #segments: AuditSegmentStore;
  readonly #clock: Clock;
  readonly #shards: number;
  readonly #scope: string | undefined;
  readonly #batchItems: number;
  readonly #maxSegments: number;

  constructor(options: OutboxRelayOptions) {
    this.#store = options.store;
    this.#segments = options.segments;
    this.#clock = options.clock ?? systemClock;
    this.#shards = checkShards(options.shards ?? DEFAULT_OUTBOX_SHARDS);
    this.#scope = options.scope;
    outboxPartition(0, this.#scope); // refuses a bad scope at construction
    this.streamId = options.streamId ?? DEFAULT_RELAY_STREAM;
    this.#batchItems = options.batchItems ?? MAX_TRANSACTION_OPS - 1;
    this.#maxSegments = options.maxSegments ?? 25;
    if (!STREAM_ID.test(this.streamId)) {
      throw new ValidationError('relay stream id must be 1-128 letters, digits, ".", "_" or "-"');
    }
    if (!Number.isSafeInteger(this.#batchItems) || this.#batchItems < 1 || this.#batchItems >= MAX_TRANSACTION_OPS) {
      throw new ValidationError(`batchItems must be a whole number from 1 to ${MAX_TRANSACTION_OPS - 1}`);
    }
    if (!Number.isSafeInteger(this.#maxSegments) || this.#maxSegments < 1) {
      throw new ValidationError('maxSegments must be a positive whole number');
    }
  }

  /** The sort key of this stream's head item in {@link RELAY_PARTITION}. */
  get headKey(): string {
    return `head#${this.streamId}`;
  }

  /**
   * Ships until the outbox is empty or `maxSegments` segments were written, finishing first any segment a crashed
   * or concurrent run left pending.
   * @throws AuditRelayError when the log holds a segment this relay would not have written; store and segment-store
   *   errors propagate (nothing is lost: the outbox keeps every unshipped record)
   */
  async run(): Promise<RelayRunResult> {
    let segments = 0;
    let records = 0;
    for (let attempt = 0; attempt < this.#maxSegments * 2 && segments < this.#maxSegments; attempt++) {
      const head = await this.#readHead();
      let pending = head?.data.pending;
      let rev = head?.rev;
      if (pending === undefined) {
        const batch = await this.#nextBatch();
        if (batch.length === 0) break;
        const segment = buildSegment(
          head?.data ?? GENESIS,
          batch.flatMap((item) => item.data.records),
        );
        pending = { first: segment.first, last: segment.last, hash: segment.hash, items: batch.map(keyOf) };
        const data: HeadData = { ...chainHeadOf(head?.data), pending };
        try {
          await this.#store.transact([this.#headPut(data, rev)]);
        } catch (err) {
          // Another relay moved the head first: read it again and help finish what it started.
          if (err instanceof ConditionFailedError) continue;
          throw err;
        }
        rev = (rev ?? 0) + 1;
      }
      const shipped = await this.#complete(head?.data ?? GENESIS, pending, rev!);
      if (shipped !== undefined) {
        segments++;
        records += shipped;
      }
    }
    return { segments, records };
  }

  /**
   * Milliseconds since the oldest record still in the outbox was written, or 0 when the outbox is empty: the
   * audit-shipping lag (`AuditShippingLagSeconds`).
   */
  async oldestUnshippedAgeMs(): Promise<number> {
    const firsts = await Promise.all(
      this.shardPartitions().map((pk) => this.#store.query<OutboxItemData>(pk, { limit: 1 })),
    );
    const times = firsts.flatMap((page) => page.items.map((item) => item.data.createdAt));
    if (times.length === 0) return 0;
    return Math.max(0, this.#clock.now() - Math.min(...times));
  }

  /** The last record shipped, or undefined before the first segment. */
  async head(): Promise<ChainHead | undefined> {
    const head = await this.#readHead();
    return head === undefined || head.data.seq === 0 ? undefined : chainHeadOf(head.data);
  }

  shardPartitions(): string[] {
    return Array.from({ length: this.#shards }, (_, shard) => outboxPartition(shard, this.#scope));
  }

  /** Writes the pending segment (or finds it written) and commits it. Returns its record count, or undefined if
   * another relay committed it first. */
  async #complete(from: ChainHead, pending: PendingSegment, rev: number): Promise<number | undefined> {
    const items = await Promise.all(pending.items.map((key) => this.#store.get<OutboxItemData>(key.pk, key.sk)));
    if (items.some((item) => item === undefined)) {
      // Only a commit deletes items, and it clears `pending` in the same transaction: someone else touched them.
      const current = await this.#readHead();
      if (current?.rev !== rev) return undefined;
      throw new AuditRelayError('an outbox item of the pending segment is missing; the outbox was altered');
    }
    const segment = buildSegment(
      from,
      items.flatMap((item) => item!.data.records),
    );
    if (segment.first !== pending.first || segment.last !== pending.last || segment.hash !== pending.hash) {
      throw new AuditRelayError(`segment ${pending.first}-${pending.last} does not rebuild identically`);
    }
    const outcome = await this.#segments.create(segment.first, segment.last, segment.body);
    if (outcome === 'exists') {
      const existing = await this.#segments.read(segment.first, segment.last);
      if (existing !== segment.body) {
        throw new AuditRelayError(
          `segment ${segment.first}-${segment.last} already exists with other content: the chain would fork`,
        );
      }
    }
    const ops: WriteOp[] = [
      this.#headPut({ seq: segment.last, hash: segment.hash }, rev),
      ...pending.items.map((key): WriteOp => ({ type: 'delete', pk: key.pk, sk: key.sk })),
    ];
    try {
      await this.#store.transact(ops);
    } catch (err) {
      if (err instanceof ConditionFailedError) return undefined;
      throw err;
    }
    return segment.last - segment.first + 1;
  }

  /** The oldest `batchItems` items across the shards, by sort key. */
  async #nextBatch(): Promise<StoredItem<OutboxItemData>[]> {
    const pages = await Promise.all(
      this.shardPartitions().map((pk) => this.#store.query<OutboxItemData>(pk, { limit: this.#batchItems })),
    );
    return pages
      .flatMap((page) => page.items)
      .sort((a, b) => (a.sk < b.sk ? -1 : a.sk > b.sk ? 1 : a.pk < b.pk ? -1 : 1))
      .slice(0, this.#batchItems);
  }

  async #readHead(): Promise<StoredItem<HeadData> | undefined> {
    const head = await this.#store.get<HeadData>(RELAY_PARTITION, this.headKey);
    if (head !== undefined && !isHead(head.data)) throw new AuditRelayError('the relay head item is malformed');
    return head;
  }

  #headPut(data: HeadData, rev: number | undefined): WriteOp {
    return {
      type: 'put',
      pk: RELAY_PARTITION,
      sk: this.headKey,
      data,
      condition: rev === undefined ? { kind: 'absent' } : { kind: 'rev', rev },
    };
  }
}

/**
 * Chains `records` after `from` and serialises them as a segment body, one JSON line per record, exactly as
 * `S3AuditSink` writes its objects.
 */
export function buildSegment(from: ChainHead, records: readonly AuditRecord[]): Segment {
  let last: ChainHead | undefined = from.seq === 0 ? undefined : from;
  const lines: string[] = [];
  for (const record of records) {
    const chained = chainRecord(last, record);
    lines.push(serialise(chained));
    last = { seq: chained.seq, hash: chained.hash };
  }
  if (last === undefined || lines.length === 0) throw new AuditRelayError('a segment needs at least one record');
  return { first: from.seq + 1, last: last.seq, hash: last.hash, body: `${lines.join('\n')}\n` };
}

function chainHeadOf(data: HeadData | undefined): ChainHead {
  return data === undefined ? GENESIS : { seq: data.seq, hash: data.hash };
}

function keyOf(item: StoredItem): ItemKey {
  return { pk: item.pk, sk: item.sk };
}

function isHead(data: unknown): data is HeadData {
  const { seq, hash, pending } = data as Partial<HeadData>;
  if (!Number.isSafeInteger(seq) || (seq as number) < 0 || typeof hash !== 'string') return false;
  if (pending === undefined) return true;
  return (
    Number.isSafeInteger(pending.first) &&
    Number.isSafeInteger(pending.last) &&
    typeof pending.hash === 'string' &&
    Array.isArray(pending.items)
  );
}
