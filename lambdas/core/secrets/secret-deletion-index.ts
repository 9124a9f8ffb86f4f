import type { WriteOp } from '../ports/store.ts';

/**
 * The deletion-date index: one small item per secret scheduled for deletion (`{ name, deletionDate }`), keyed by the
 * date, so that the purge reads only the secrets that are due instead of every secret's record at every sweep
 * (at 100,000 secrets that read took 1.2 s of CPU a minute and was what moved the GET p99; docs/BENCHMARKS.md).
 *
 * Written in the same transaction as the record that schedules, restores or purges, by every writer of a record's
 * `deletionDate` (the secret service, and the replicator for replicas). An entry whose record no longer carries its
 * date is stale and the purge removes it; a record without its entry would never be purged, so a store from before
 * the index is indexed once (`SecretService.indexDeletions`), which then writes `DELETION_INDEX_COMPLETE`.
 */
export const DELETION_INDEX_PARTITION = 'secrets-by-deletion';
/** The marker item: every secret of the partition's region that was scheduled for deletion has its entry. */
export const DELETION_INDEX_COMPLETE = 'complete';

export type DeletionIndexItem = { name: string; deletionDate: number };

/** Epoch milliseconds have 13 digits until the year 2286. */
const WIDTH = 13;
const KEY = /^(\d{13})\/(.+)$/;

/** The key of a secret's entry: its deletion date first, so entries sort by when they fall due. */
export function deletionIndexKey(name: string, deletionDate: number): string {
  return `${String(Math.trunc(deletionDate)).padStart(WIDTH, '0')}/${name}`;
}

/** The date and name of an entry's key, or undefined for the marker (which sorts after every date). */
export function parseDeletionIndexKey(key: string): DeletionIndexItem | undefined {
  const match = KEY.exec(key);
  return match === null ? undefined : { deletionDate: Number(match[1]), name: match[2]! };
}

/**
 * The writes that move a secret's entry from what `before` recorded to what `after` records (either may be absent or
 * carry no deletion date): none when the date is unchanged, to add to the transaction that writes `after`.
 */
export function reindexDeletion(
  partition: string,
  before: { name: string; deletionDate?: number | undefined } | undefined,
  after: { name: string; deletionDate?: number | undefined } | undefined,
): WriteOp[] {
  const from = before?.deletionDate === undefined ? undefined : deletionIndexKey(before.name, before.deletionDate);
  const to = after?.deletionDate === undefined ? undefined : deletionIndexKey(after.name, after.deletionDate);
  if (from === to) return [];
  const ops: WriteOp[] = [];
  if (from !== undefined) ops.push({ type: 'delete', pk: partition, sk: from });
  if (to !== undefined) {
    const data: DeletionIndexItem = { name: after!.name, deletionDate: Math.trunc(after!.deletionDate!) };
    ops.push({ type: 'put', pk: partition, sk: to, data });
  }
  return ops;
}
