import { Mutex } from './mutex.ts';

/**
 * Writes one batch. Resolves with each item's outcome, in batch order: `undefined` when it was committed, anything
 * else is what that item's waiter is rejected with (an item can fail alone, e.g. a record that does not serialise).
 * Resolving with nothing commits them all. Throwing fails every item of the batch with that error.
 */
export type CommitBatch<T> = (batch: readonly T[]) => Promise<BatchOutcomes> | Promise<void>;

/** Per-item outcomes of a batch (see {@link CommitBatch}); `undefined` commits them all. */
export type BatchOutcomes = readonly unknown[] | undefined;

export interface GroupCommitOptions<T> {
  readonly commit: CommitBatch<T>;
  /** Most items in one batch; the rest wait for the next. */
  readonly maxBatch: number;
  /**
   * When a flush starts once an item is queued with none pending. `nextTurn` waits for the event loop's next turn,
   * so every caller of this turn joins the batch; `now` starts it at once (items queued while a batch is being
   * written still form the next one).
   * @default 'nextTurn'
   */
  readonly schedule?: 'nextTurn' | 'now' | undefined;
  /**
   * Runs each flush. Pass a lock that other work on the same resource holds too (reopen, close, a counter update),
   * so a flush never interleaves with it. Calls of `section` must run one at a time.
   * @default one flush at a time, in call order
   */
  readonly exclusive?: (<R>(section: () => Promise<R>) => Promise<R>) | undefined;
}

interface Waiter<T> {
  readonly item: T;
  readonly resolve: () => void;
  readonly reject: (reason: unknown) => void;
}

/**
 * A group-commit queue: callers `add` an item and await it; one writer commits queued items in batches, in the
 * order they were added, so many callers share one write (one fsync, one PutObject, one transaction). An error of a
 * batch reaches every waiter of that batch and no other. `close` writes what is queued before it resolves.
 *
 * @example
 * const commits = new GroupCommit<AuditRecord>({ maxBatch: 1000, commit: async (records) => writeLines(records) });
 * await commits.add(record); // resolved once the batch holding `record` is written
 */
export class GroupCommit<T> {
  readonly #commit: CommitBatch<T>;
  readonly #maxBatch: number;
  readonly #nextTurn: boolean;
  readonly #exclusive: <R>(section: () => Promise<R>) => Promise<R>;
  #queue: Waiter<T>[] = [];
  #flushPending = false;
  #closed = false;

  constructor(options: GroupCommitOptions<T>) {
    if (!(options.maxBatch >= 1)) throw new RangeError('maxBatch must be at least 1');
    this.#commit = options.commit;
    this.#maxBatch = options.maxBatch;
    this.#nextTurn = (options.schedule ?? 'nextTurn') === 'nextTurn';
    const lock = new Mutex();
    this.#exclusive = options.exclusive ?? ((section) => lock.run(section));
  }

  /** Items queued and not yet taken by a flush. */
  get size(): number {
    return this.#queue.length;
  }

  /**
   * Queues `item`; resolves once the batch holding it is committed, rejects with that batch's error or its own.
   * @throws Error (as a rejection) once the queue is closed
   */
  add(item: T): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('the group-commit queue is closed'));
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#scheduleFlush();
    });
  }

  /**
   * Commits everything queued now, batch by batch, without taking the `exclusive` lock: for an owner that already
   * holds it (its own close).
   */
  async drain(): Promise<void> {
    while (this.#queue.length > 0) await this.#commitNext();
  }

  /** Refuses later items and commits every queued one (under the `exclusive` lock) before it resolves. */
  close(): Promise<void> {
    this.#closed = true;
    return this.#exclusive(() => this.drain());
  }

  #scheduleFlush(): void {
    if (this.#flushPending) return;
    this.#flushPending = true;
    const flush = () => void this.#exclusive(() => this.#flush());
    if (this.#nextTurn) setImmediate(flush);
    else flush();
  }

  async #flush(): Promise<void> {
    // Cleared when the flush starts, not when it is scheduled: items added while it waits for the lock join it.
    this.#flushPending = false;
    if (this.#queue.length > this.#maxBatch) this.#scheduleFlush();
    await this.#commitNext();
  }

  async #commitNext(): Promise<void> {
    const batch = this.#queue.splice(0, this.#maxBatch);
    if (batch.length === 0) return;
    let outcomes: BatchOutcomes;
    try {
      outcomes = (await this.#commit(batch.map((waiter) => waiter.item))) ?? undefined;
    } catch (err) {
      for (const waiter of batch) waiter.reject(err);
      return;
    }
    batch.forEach((waiter, index) => {
      const outcome = outcomes?.[index];
      if (outcome === undefined) waiter.resolve();
      else waiter.reject(outcome);
    });
  }
}
