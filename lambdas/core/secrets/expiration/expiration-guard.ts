import { ConflictError, ExpiredError } from '../../errors.ts';
import { LEASE_PK, type LeaseRecord } from '../../leases/lease-types.ts';
import type { Clock } from '../../ports/clock.ts';
import type { ConditionFailedError, Store, WriteOp } from '../../ports/store.ts';
import { retryOnConflict } from '../../retry.ts';
import { isExpired, isPendingDeletion } from '../secret-fns.ts';
import { AWSCURRENT, type SecretRecord } from '../secret-types.ts';
import {
  type ExpirationFacts,
  type ExpirationPolicy,
  type ExpirationStatus,
  type ExpiryNotice,
  expirationStatus,
  expiredEvent,
  hasCondition,
} from './expiration-policy.ts';
import { EXPIRY_EVENTS, type ExpiryEventPublisher } from './expiry-events.ts';
import { expiryEntry, type ReadCountItem, readCountKey, type WatchItem, watchKey } from './expiry-index.ts';

export interface ExpirationPartitions {
  readonly secrets: string;
  readonly expiryIndex: string;
  readonly expiryState: string;
}

/**
 * A read budget is one item per secret that every read of it updates conditionally: under many concurrent readers the
 * losers retry, so this allows more attempts than a metadata write does. One that still loses answers `ConflictError`
 * (retry), never a read beyond the budget.
 */
const READ_COUNT_ATTEMPTS = 60;

/**
 * Enforces a secret's expiration policy on each read of its value, and observes its conditions: what the read path
 * and the sweep share. A read is refused once the policy says `expired`; counted (one conditional write, committed
 * before the value is returned) under `maxReads`; answered with a notice while `expiring` or in `grace`, where it
 * also publishes `SecretReadDuringGrace`.
 */
export class ExpirationGuard {
  constructor(
    private readonly options: {
      readonly store: Store;
      readonly clock: Clock;
      readonly partitions: ExpirationPartitions;
      readonly region: string;
      readonly events?: ExpiryEventPublisher | undefined;
      /** Told when a grace-period event could not be published; the read still succeeds with its warning. */
      readonly onEventError?: ((err: unknown) => void) | undefined;
    },
  ) {}

  /**
   * Admits one read of `record`'s value, or refuses it.
   *
   * @throws ExpiredError when the policy has ended the secret
   * @throws ConflictError when the read budget's counter kept losing races (retry)
   */
  async admit(record: SecretRecord): Promise<ExpiryNotice | undefined> {
    const policy = record.expiration;
    if (policy === undefined) return undefined;
    const now = this.options.clock.now();
    // A replica carries its primary's policy, but what a condition names lives in the primary's region: observed there.
    const facts =
      hasCondition(policy) && record.primaryRegion === undefined ? await this.observe(record, policy, now) : {};
    // Time and conditions first: a refused read is not counted.
    const status = expirationStatus(policy, now, facts);
    if (status.state === 'expired') throw expired(record.name, status);
    const readsLeft = policy.maxReads === undefined ? undefined : await this.countRead(record, policy, now);
    if (status.state === 'active') return undefined;
    const notice: ExpiryNotice = {
      state: status.state,
      expiresAt: status.expiresAt!,
      graceEndsAt: status.graceEndsAt!,
      ...(readsLeft === undefined ? {} : { readsLeft }),
    };
    if (status.state === 'grace') await this.publishGraceRead(record, notice, now);
    return notice;
  }

  /**
   * The facts of a policy's conditions: when one was first seen met, stamped on the secret's watch item (with the
   * `SecretExpired` index entry, in one transaction) so that the grace period runs from one fixed time however many
   * readers and sweeps observe it.
   */
  async observe(record: SecretRecord, policy: ExpirationPolicy, now: number): Promise<ExpirationFacts> {
    const { store, partitions } = this.options;
    const sk = watchKey(record.name);
    return retryOnConflict(
      async () => {
        const watch = await store.get<WatchItem>(partitions.expiryState, sk);
        const current = watch !== undefined && watch.data.arn === record.arn && watch.data.setAt === policy.setAt;
        if (current && watch.data.triggeredAt !== undefined) {
          return { triggeredAt: watch.data.triggeredAt, trigger: watch.data.trigger };
        }
        const trigger = await this.conditionMet(policy, now);
        if (trigger === undefined) return {};
        const stamped: WatchItem = {
          name: record.name,
          arn: record.arn,
          setAt: policy.setAt,
          triggeredAt: now,
          trigger,
        };
        const ops: WriteOp[] = [
          {
            type: 'put',
            pk: partitions.expiryState,
            sk,
            data: stamped,
            condition: watch === undefined ? { kind: 'absent' } : { kind: 'rev', rev: watch.rev },
          },
          expiryEntry(partitions.expiryIndex, {
            subject: record.name,
            arn: record.arn,
            event: expiredEvent(trigger),
            due: now,
          }),
        ];
        await store.transact(ops);
        return { triggeredAt: now, trigger };
      },
      {
        maxAttempts: 10,
        onExhausted: (last: ConditionFailedError) =>
          new ConflictError(`too many concurrent observers of secret ${record.name}; retry`, { cause: last }),
      },
    );
  }

  /** Which condition of the policy holds now, if any. */
  private async conditionMet(policy: ExpirationPolicy, now: number): Promise<'rotation' | 'lease' | undefined> {
    const { store, partitions } = this.options;
    if (policy.whenRotated !== undefined) {
      const watched = await store.get<SecretRecord>(partitions.secrets, policy.whenRotated.name);
      // A secret deleted (or scheduled for it) will not rotate again: what depended on it is done too.
      if (watched === undefined || isPendingDeletion(watched.data) || isExpired(watched.data, now)) return 'rotation';
      if (watched.data.stages[AWSCURRENT] !== policy.whenRotated.versionId) return 'rotation';
    }
    if (policy.whenLeaseRevoked !== undefined) {
      const lease = await store.get<LeaseRecord>(LEASE_PK, policy.whenLeaseRevoked);
      // A revoked lease is deleted once its credential is gone; one being revoked, or past its end, is over too.
      if (lease === undefined || lease.data.state === 'revoking' || lease.data.expiresAt <= now) return 'lease';
    }
    return undefined;
  }

  /** Counts one read, committed before the value is returned; returns the reads left. */
  private async countRead(record: SecretRecord, policy: ExpirationPolicy, now: number): Promise<number> {
    const { store, partitions } = this.options;
    const max = policy.maxReads!;
    const sk = readCountKey(record.arn);
    return retryOnConflict(
      async () => {
        const item = await store.get<ReadCountItem>(partitions.expiryState, sk);
        // A count kept for an earlier policy does not spend this one's budget.
        const reads = item !== undefined && item.data.setAt === policy.setAt ? item.data.reads : 0;
        if (reads >= max) throw expired(record.name, expirationStatus(policy, now, { reads }));
        const next: ReadCountItem = { arn: record.arn, name: record.name, reads: reads + 1, setAt: policy.setAt };
        const ops: WriteOp[] = [
          {
            type: 'put',
            pk: partitions.expiryState,
            sk,
            data: next,
            condition: item === undefined ? { kind: 'absent' } : { kind: 'rev', rev: item.rev },
          },
        ];
        // The read that spends the budget is the one whose write announces it: exactly one writer can commit it.
        if (reads + 1 === max) {
          ops.push(
            expiryEntry(partitions.expiryIndex, {
              subject: record.name,
              arn: record.arn,
              event: expiredEvent('reads'),
              due: now,
            }),
          );
        }
        await store.transact(ops);
        return max - reads - 1;
      },
      {
        maxAttempts: READ_COUNT_ATTEMPTS,
        baseDelayMs: 1,
        maxDelayMs: 20,
        onExhausted: (last: ConditionFailedError) =>
          new ConflictError(`too many concurrent reads of secret ${record.name}; retry`, { cause: last }),
      },
    );
  }

  private async publishGraceRead(record: SecretRecord, notice: ExpiryNotice, now: number): Promise<void> {
    const events = this.options.events;
    if (events === undefined) return;
    try {
      await events.publish(EXPIRY_EVENTS.secretReadDuringGrace, {
        secretName: record.name,
        secretArn: record.arn,
        region: this.options.region,
        readAt: new Date(now).toISOString(),
        expiredAt: new Date(notice.expiresAt).toISOString(),
        graceEndsAt: new Date(notice.graceEndsAt).toISOString(),
      });
    } catch (err) {
      // The read keeps its warning; an unavailable bus must not turn a readable secret into an outage.
      this.options.onEventError?.(err);
    }
  }
}

/** The refusal of a read past its policy: names the secret, the reason and the times, never a value. */
export function expired(name: string, status: ExpirationStatus): ExpiredError {
  const iso = (ms: number) => new Date(ms).toISOString();
  const why =
    status.reason === 'reads'
      ? 'its read limit is spent'
      : status.reason === 'rotation'
        ? 'the secret it depends on rotated'
        : status.reason === 'lease'
          ? 'the lease it depends on ended'
          : 'its expiration time passed';
  const { expiresAt, graceEndsAt } = status;
  const when =
    status.reason === 'reads' || expiresAt === undefined
      ? ''
      : ` at ${iso(expiresAt)}${graceEndsAt !== undefined && graceEndsAt > expiresAt ? ` and its grace period ended at ${iso(graceEndsAt)}` : ''}`;
  return new ExpiredError(`secret ${name} has expired: ${why}${when}`, {
    details: {
      reason: 'secret_expired',
      expiry: status.reason ?? 'time',
      ...(expiresAt === undefined ? {} : { expiredAt: iso(expiresAt) }),
    },
  });
}
