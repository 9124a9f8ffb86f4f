import type { WriteOp } from '../../ports/store.ts';
import type { SecretRecord } from '../secret-types.ts';
import { type ExpirationPolicy, hasCondition, scheduledExpiryEvents } from './expiration-policy.ts';

/**
 * The expiry index: one small item per event still to publish, keyed by when it falls due, so that a sweep reads only
 * what is due (a range read from the start of the partition) instead of every secret's record. Secrets and PKI
 * certificates each have one (`secrets-by-expiry`, `pki#cert-expiry`); the sweep (`expiry-sweep.ts`) claims, publishes
 * and deletes an entry, so each is published once.
 */
export const EXPIRY_INDEX_PARTITION = 'secrets-by-expiry';

/**
 * Per-secret state of a policy that only reads or observations advance: `reads/<arn>` (the read count, under
 * `maxReads`) and `watch/<name>` (a condition to observe: another secret's rotation, a lease's end, and when it was
 * seen met). The sweep reads the `watch/` items, which exist only for secrets with a condition.
 */
export const EXPIRY_STATE_PARTITION = 'secret-expiry-state';

/** One entry of an expiry index. `subject` is a secret's name or a certificate's serial. */
export type ExpiryIndexItem = {
  subject: string;
  /** Of the secret the entry was written for: a recreated secret of the same name is another. */
  arn?: string;
  event: string;
  due: number;
  /** Set by a sweep that is publishing it; another sweep leaves it alone until the claim is old. */
  claimedAt?: number;
};

export type ReadCountItem = { arn: string; name: string; reads: number; setAt: number };

export type WatchItem = {
  name: string;
  arn: string;
  setAt: number;
  triggeredAt?: number;
  trigger?: 'rotation' | 'lease';
};

/** Epoch milliseconds have 13 digits until the year 2286. */
const WIDTH = 13;
const KEY = /^(\d{13})\/(.+)#([^#]+)$/;

/** An entry's key: its due time first, so entries sort by when they fall due. `#` is in no name and no serial. */
export function expiryIndexKey(subject: string, due: number, event: string): string {
  return `${String(Math.max(0, Math.trunc(due))).padStart(WIDTH, '0')}/${subject}#${event}`;
}

export function parseExpiryIndexKey(key: string): { due: number; subject: string; event: string } | undefined {
  const match = KEY.exec(key);
  return match === null ? undefined : { due: Number(match[1]), subject: match[2]!, event: match[3]! };
}

/** The put of one index entry (idempotent: the same event of the same subject has one key). */
export function expiryEntry(partition: string, item: ExpiryIndexItem): WriteOp {
  return { type: 'put', pk: partition, sk: expiryIndexKey(item.subject, item.due, item.event), data: item };
}

export const readCountKey = (arn: string): string => `reads/${arn}`;
export const watchKey = (name: string): string => `watch/${name}`;
export const WATCH_PREFIX = 'watch/';

type Indexed = Pick<SecretRecord, 'name' | 'arn'> & { expiration?: ExpirationPolicy | undefined };

/**
 * The writes that move a secret's expiry items from what `before` recorded to what `after` records (either may be
 * absent, or carry no policy), to add to the transaction that writes `after`: none when the policy is unchanged.
 * A rewritten policy starts afresh: its read count and observed conditions go.
 */
export function reindexExpiry(
  partitions: { expiryIndex: string; expiryState: string },
  before: Indexed | undefined,
  after: Indexed | undefined,
): WriteOp[] {
  const was = before?.expiration;
  const is = after?.expiration;
  if (was?.setAt === is?.setAt && before?.arn === after?.arn) return [];
  const keyOf = (r: Indexed, e: { due: number; event: string }) => expiryIndexKey(r.name, e.due, e.event);
  const from = new Set(before === undefined ? [] : scheduledExpiryEvents(was).map((e) => keyOf(before, e)));
  const ops: WriteOp[] = [];
  const kept = new Set<string>();
  if (after !== undefined) {
    for (const e of scheduledExpiryEvents(is)) {
      const sk = keyOf(after, e);
      kept.add(sk);
      const data: ExpiryIndexItem = { subject: after.name, arn: after.arn, event: e.event, due: e.due };
      ops.push({ type: 'put', pk: partitions.expiryIndex, sk, data });
    }
  }
  for (const sk of from) if (!kept.has(sk)) ops.push({ type: 'delete', pk: partitions.expiryIndex, sk });
  if (before !== undefined && was?.maxReads !== undefined) {
    ops.push({ type: 'delete', pk: partitions.expiryState, sk: readCountKey(before.arn) });
  }
  if (after !== undefined && hasCondition(is)) {
    const watch: WatchItem = { name: after.name, arn: after.arn, setAt: is!.setAt };
    ops.push({ type: 'put', pk: partitions.expiryState, sk: watchKey(after.name), data: watch });
  } else if (before !== undefined && hasCondition(was)) {
    ops.push({ type: 'delete', pk: partitions.expiryState, sk: watchKey(before.name) });
  }
  return ops;
}
