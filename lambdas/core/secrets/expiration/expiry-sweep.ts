import type { Clock } from '../../ports/clock.ts';
import { ConditionFailedError, type Store, type StoredItem } from '../../ports/store.ts';
import type { ExpiryEventPublisher } from './expiry-events.ts';
import { type ExpiryIndexItem, parseExpiryIndexKey } from './expiry-index.ts';

/** The event an entry stands for, or `undefined` when the entry is stale (its subject changed or is gone). */
export type ExpiryResolver = (
  entry: ExpiryIndexItem,
) => Promise<{ detailType: string; detail: Record<string, unknown> } | undefined>;

/** One expiry index and how to read its entries. */
export interface ExpirySource {
  readonly partition: string;
  readonly resolve: ExpiryResolver;
  /** Runs before the index is read (a secret's conditions are observed into it). @default nothing */
  readonly beforeSweep?: () => Promise<void>;
}

export interface ExpirySweepOutcome {
  /** Events published. */
  readonly published: number;
  /** Entries dropped because their subject changed or went. */
  readonly dropped: number;
  /** Entries whose publication failed; their claim lapses and a later sweep publishes them. */
  readonly failed: number;
}

/** Entries read per page: a sweep beside live requests yields between pages. */
const PAGE = 100;

/**
 * A sweep that claims an entry is given this long to publish it and delete it; after that another sweep may claim it
 * again (the first one died between the two). A consumer tells the rare duplicate by the event's `eventId`.
 */
export const CLAIM_MS = 5 * 60_000;

/**
 * Publishes the events of expiry indexes as they fall due: reads each index from its start up to now (what is due,
 * never a scan of the records), and for each entry claims it (a conditional write, so concurrent sweeps publish it
 * once), publishes its event, and deletes it. Runs from the local node's timer and the AWS scheduled function alike.
 *
 * @example
 * ```ts
 * const sweep = new ExpirySweep({ store, clock, events, sources: () => [secretSource, certificateSource] });
 * await sweep.sweep(); // { published: 2, dropped: 0, failed: 0 }
 * ```
 */
export class ExpirySweep {
  constructor(
    private readonly options: {
      readonly store: Store;
      readonly clock: Clock;
      readonly events: ExpiryEventPublisher;
      /** The indexes to sweep (one per region's secrets, one for certificates), asked at each sweep. */
      readonly sources: () => Promise<readonly ExpirySource[]>;
      /** Told about an event whose publication failed. @default ignored (the entry is retried) */
      readonly onError?: ((err: unknown) => void) | undefined;
    },
  ) {}

  async sweep(): Promise<ExpirySweepOutcome> {
    const totals = { published: 0, dropped: 0, failed: 0 };
    for (const source of await this.options.sources()) {
      await source.beforeSweep?.();
      await this.sweepIndex(source, totals);
    }
    return totals;
  }

  private async sweepIndex(
    source: ExpirySource,
    totals: { published: number; dropped: number; failed: number },
  ): Promise<void> {
    const { store, clock } = this.options;
    const now = clock.now();
    let startAfter: string | undefined;
    for (;;) {
      const page = await store.query<ExpiryIndexItem>(source.partition, {
        limit: PAGE,
        ...(startAfter === undefined ? {} : { startAfter }),
      });
      for (const entry of page.items) {
        const key = parseExpiryIndexKey(entry.sk);
        // Entries sort by due time: nothing further is due.
        if (key !== undefined && key.due > now) return;
        await this.settle(source, entry, now, totals);
      }
      if (page.lastKey === undefined) return;
      startAfter = page.lastKey;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private async settle(
    source: ExpirySource,
    entry: StoredItem<ExpiryIndexItem>,
    now: number,
    totals: { published: number; dropped: number; failed: number },
  ): Promise<void> {
    const { store } = this.options;
    const claimedAt = entry.data.claimedAt;
    if (claimedAt !== undefined && now - claimedAt < CLAIM_MS) return;
    try {
      await store.transact([
        {
          type: 'put',
          pk: source.partition,
          sk: entry.sk,
          data: { ...entry.data, claimedAt: now },
          condition: { kind: 'rev', rev: entry.rev },
        },
      ]);
    } catch (err) {
      // Another sweep claimed it (or a write replaced it): that one decides.
      if (err instanceof ConditionFailedError) return;
      throw err;
    }
    const claimed = entry.rev + 1;
    const event = await source.resolve(entry.data);
    if (event === undefined) {
      totals.dropped++;
    } else {
      try {
        await this.options.events.publish(event.detailType, event.detail);
        totals.published++;
      } catch (err) {
        // The claim lapses after CLAIM_MS and a later sweep publishes it.
        totals.failed++;
        this.options.onError?.(err);
        return;
      }
    }
    try {
      await store.transact([
        { type: 'delete', pk: source.partition, sk: entry.sk, condition: { kind: 'rev', rev: claimed } },
      ]);
    } catch (err) {
      // Rewritten meanwhile (the policy set again with the same time): the new entry stands.
      if (!(err instanceof ConditionFailedError)) throw err;
    }
  }
}
