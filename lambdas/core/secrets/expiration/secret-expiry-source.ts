import type { Clock } from '../../ports/clock.ts';
import { ConditionFailedError, type Store } from '../../ports/store.ts';
import type { RegionalSecrets } from '../regional-secrets.ts';
import { isPendingDeletion } from '../secret-fns.ts';
import type { SecretRecord } from '../secret-types.ts';
import { ExpirationGuard, type ExpirationPartitions } from './expiration-guard.ts';
import { hasCondition, parseExpiryEvent, scheduledExpiryEvents } from './expiration-policy.ts';
import { secretExpiryEvent } from './expiry-events.ts';
import { type ExpiryIndexItem, WATCH_PREFIX, type WatchItem } from './expiry-index.ts';
import type { ExpirySource } from './expiry-sweep.ts';

/**
 * One region's secrets as an expiry source: before the index is read, every watched condition (another secret's
 * rotation, a lease's end) is observed, which puts the `SecretExpired` entry of a condition met; then each due entry
 * is checked against the secret's record as it is now. Only secrets with a condition have a watch item, so this reads
 * those and what is due, never every record.
 */
export function secretExpirySource(options: {
  readonly store: Store;
  readonly clock: Clock;
  readonly partitions: ExpirationPartitions;
  readonly region: string;
}): ExpirySource {
  const { store, clock, partitions, region } = options;
  // Observing writes only the expiry partitions (never a secret's record), so the plain store serves.
  const guard = new ExpirationGuard({ store, clock, partitions, region });
  const recordOf = async (name: string, arn: string | undefined) => {
    const item = await store.get<SecretRecord>(partitions.secrets, name);
    if (item === undefined || (arn !== undefined && item.data.arn !== arn)) return undefined;
    return item;
  };
  return {
    partition: partitions.expiryIndex,
    async beforeSweep() {
      let startAfter: string | undefined;
      do {
        const page = await store.query<WatchItem>(partitions.expiryState, {
          prefix: WATCH_PREFIX,
          limit: 100,
          ...(startAfter === undefined ? {} : { startAfter }),
        });
        for (const watch of page.items) {
          if (watch.data.triggeredAt !== undefined) continue;
          const record = await recordOf(watch.data.name, watch.data.arn);
          const policy = record?.data.expiration;
          if (record === undefined || !hasCondition(policy) || policy!.setAt !== watch.data.setAt) {
            // Left by a policy or a secret that is gone.
            await store
              .transact([
                {
                  type: 'delete',
                  pk: partitions.expiryState,
                  sk: watch.sk,
                  condition: { kind: 'rev', rev: watch.rev },
                },
              ])
              .catch((err: unknown) => {
                if (!(err instanceof ConditionFailedError)) throw err;
              });
            continue;
          }
          if (isPendingDeletion(record.data)) continue;
          await guard.observe(record.data, policy!, clock.now());
        }
        startAfter = page.lastKey;
      } while (startAfter !== undefined);
    },
    async resolve(entry: ExpiryIndexItem) {
      const record = await recordOf(entry.subject, entry.arn);
      const policy = record?.data.expiration;
      // A secret being deleted is not announced; nor is an entry its current policy would not have written.
      if (record === undefined || policy === undefined || isPendingDeletion(record.data)) return undefined;
      const parsed = parseExpiryEvent(entry.event);
      if (parsed === undefined) return undefined;
      const current =
        parsed.kind === 'expiring' || parsed.reason === 'time'
          ? scheduledExpiryEvents(policy).some((e) => e.event === entry.event && e.due === entry.due)
          : parsed.reason === 'reads'
            ? policy.maxReads !== undefined && entry.due >= policy.setAt
            : hasCondition(policy) && entry.due >= policy.setAt;
      if (!current) return undefined;
      return secretExpiryEvent({
        name: record.data.name,
        arn: record.data.arn,
        region,
        event: entry.event,
        due: entry.due,
        expiresAt: parsed.kind === 'expiring' || parsed.reason === 'time' ? policy.expiresAt : entry.due,
        graceMs: policy.graceMs,
      });
    },
  };
}

/**
 * Every region's secrets as expiry sources, home first: what the expiry sweep reads on either runtime. Built apart from
 * the secret services, so the broker, which never sweeps, carries none of it.
 */
export async function secretExpirySources(
  secrets: Pick<RegionalSecrets, 'regions' | 'partitionsOf'>,
  store: Store,
  clock: Clock,
): Promise<ExpirySource[]> {
  return (await secrets.regions()).map((region) =>
    secretExpirySource({ store, clock, partitions: secrets.partitionsOf(region), region }),
  );
}
