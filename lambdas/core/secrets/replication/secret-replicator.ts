import { InvalidRequestError } from '../../errors.ts';
import type { KeyProvider } from '../../ports/key-provider.ts';
import type { KeyRing } from '../../ports/key-ring.ts';
import {
  ConditionFailedError,
  MAX_TRANSACTION_OPS,
  type Store,
  type StoredItem,
  type WriteOp,
} from '../../ports/store.ts';
import { indexCreation, unindexCreation } from '../secret-creation-order.ts';
import { reindexDeletion } from '../secret-deletion-index.ts';
import type { SecretPartitions } from '../secret-partitions.ts';
import { type ReplicaRecord, type SecretRecord, type VersionRecord, versionPartition } from '../secret-types.ts';
import { openVersion, sealVersion, type VersionKeys } from '../version-sealing.ts';
import { regionMarker } from './replica-marking-store.ts';
import { REPLICATION_PARTITION, type ReplicatedPrimary } from './replication-index.ts';
import { nameTakenMessage, REPLICATION_SUCCEEDED } from './replication-rules.ts';

/**
 * Why a replica region cannot be written now, or `undefined` when it can. Locally, the fault injection of
 * `sys/replication/faults`; on AWS a region is down when its table is, which the store's error says instead.
 */
export type ReplicaAvailability = (region: string) => string | undefined;

export interface SecretReplicatorOptions {
  /** The one store every region's partitions live in (locally; on AWS, the global table's local replica). */
  readonly store: Store;
  readonly keyProvider: KeyProvider;
  /**
   * The customer keys: a primary's versions may be sealed under one, and a replica names its own (`KmsKeyId` of
   * `AddReplicaRegions`, an ARN the route resolved with the caller's authority). @default none
   */
  readonly keyRing?: KeyRing | undefined;
  /** Where a region's secrets live (`RegionalSecrets.partitionsOf`). */
  readonly partitionsOf: (region: string) => SecretPartitions;
  /** @default every region is available */
  readonly availability?: ReplicaAvailability | undefined;
  /** Rounds of read → copy → conditional status write before `replicate` leaves the rest to a retry. @default 10 */
  readonly maxRounds?: number | undefined;
}

/** What `replicate` left undone: the regions still behind that a later attempt may bring in sync. */
export interface ReplicationResult {
  readonly behind: readonly string[];
}

/** What `reconcile` left undone: each primary with replicas still behind, and those regions. */
export interface ReconcileResult {
  readonly behind: readonly { readonly region: string; readonly name: string; readonly replicas: readonly string[] }[];
}

type SyncOutcome = Pick<ReplicaRecord, 'status' | 'statusMessage' | 'permanent'>;

/**
 * Brings replicas in line with their primary: the primary's metadata, staging labels and versions are copied into
 * each replica region's partitions, every version re-sealed under the replica's ARN (its encryption binding), versions
 * the primary pruned are removed, and each replica's state is recorded in the primary's record.
 *
 * Durable by construction: every write to a primary marks its replicas `InProgress` in the transaction of the change
 * (`replica-marking-store.ts`), so the work to do is in the store, not in memory. A round copies, then writes the
 * statuses conditional on the primary's revision it copied from; a primary that moved meanwhile is read and copied
 * again. No I/O of its own beyond the store and key provider, so the same code runs in the local runner and in a
 * Lambda (a DynamoDB stream or a schedule calling `replicate` or `reconcile`).
 *
 * @example
 * ```ts
 * const replicator = new SecretReplicator({ store, keyProvider, clock, partitionsOf: (r) => regional.partitionsOf(r) });
 * await replicator.replicate('us-east-1', 'prod/db');
 * ```
 */
export class SecretReplicator {
  private readonly store: Store;
  private readonly keys: VersionKeys;
  private readonly partitionsOf: (region: string) => SecretPartitions;
  private readonly availability: ReplicaAvailability;
  private readonly maxRounds: number;

  constructor(options: SecretReplicatorOptions) {
    this.store = options.store;
    this.keys = { defaultKey: options.keyProvider, keyRing: options.keyRing };
    this.partitionsOf = options.partitionsOf;
    this.availability = options.availability ?? (() => undefined);
    this.maxRounds = options.maxRounds ?? 10;
  }

  /** Brings every replica of one primary that is not in sync up to date, and records each one's state. */
  async replicate(primaryRegion: string, name: string): Promise<ReplicationResult> {
    const pk = this.partitionsOf(primaryRegion).secrets;
    rounds: for (let round = 0; round < this.maxRounds; round++) {
      const primary = await this.store.get<SecretRecord>(pk, name);
      const replicas = primary?.data.replicas ?? [];
      if (primary === undefined || primary.data.primaryRegion !== undefined) return { behind: [] };
      const due = replicas.filter(needsWork);
      if (due.length === 0) return { behind: [] };
      const outcomes = new Map<string, SyncOutcome>();
      for (const replica of due) {
        try {
          outcomes.set(replica.region, await this.sync(primaryRegion, primary, replica));
        } catch (err) {
          // The replica changed under the copy (promoted meanwhile): read the primary again, which says what is due.
          if (err instanceof ConditionFailedError) continue rounds;
          throw err;
        }
      }
      const next = replicas.map((r) => withOutcome(r, outcomes.get(r.region)));
      try {
        await this.store.transact([
          {
            type: 'put',
            pk,
            sk: name,
            data: { ...primary.data, replicas: next },
            condition: { kind: 'rev', rev: primary.rev },
          },
        ]);
      } catch (err) {
        // The primary moved while it was being copied: its replicas are InProgress again, copy the newer state.
        if (err instanceof ConditionFailedError) continue;
        throw err;
      }
      return { behind: next.filter(needsWork).map((r) => r.region) };
    }
    return {
      behind:
        (await this.store.get<SecretRecord>(pk, name))?.data.replicas?.filter(needsWork).map((r) => r.region) ?? [],
    };
  }

  /**
   * Replicates every primary with a replica not in sync: at start-up, as the periodic retry, and as AWS's scheduled
   * sweep. One primary's failure does not stop the others; the first failure is thrown at the end.
   */
  async reconcile(): Promise<ReconcileResult> {
    const behind: { region: string; name: string; replicas: readonly string[] }[] = [];
    let failure: unknown;
    let startAfter: string | undefined;
    do {
      const page = await this.store.query<ReplicatedPrimary>(REPLICATION_PARTITION, {
        limit: 1000,
        ...(startAfter === undefined ? {} : { startAfter }),
      });
      for (const { data } of page.items) {
        try {
          const result = await this.replicate(data.region, data.name);
          if (result.behind.length > 0) behind.push({ region: data.region, name: data.name, replicas: result.behind });
        } catch (err) {
          failure ??= err;
        }
      }
      startAfter = page.lastKey;
    } while (startAfter !== undefined);
    if (failure !== undefined) throw failure;
    return { behind };
  }

  /** One replica brought to the primary's state, or why it could not be. */
  private async sync(
    primaryRegion: string,
    primary: StoredItem<SecretRecord>,
    replica: ReplicaRecord,
  ): Promise<SyncOutcome> {
    const unavailable = this.availability(replica.region);
    if (unavailable !== undefined) return { status: 'Failed', statusMessage: unavailable };
    const source = primary.data;
    const partitions = this.partitionsOf(replica.region);
    const arn = arnInRegion(source.arn, replica.region);
    let existing = await this.store.get<SecretRecord>(partitions.secrets, source.name);
    if (existing !== undefined && (existing.data.primaryRegion !== primaryRegion || existing.data.arn !== arn)) {
      if (replica.forceOverwrite !== true) {
        return { status: 'Failed', statusMessage: nameTakenMessage(source.name, replica.region), permanent: true };
      }
      await this.remove(existing, partitions);
      existing = undefined;
    }
    const held = new Set(existing?.data.versions.map((v) => v.versionId) ?? []);
    const wanted = new Set(source.versions.map((v) => v.versionId));
    // Versions first, so the replica's record never names a version its partition lacks.
    const copies: WriteOp[] = [];
    for (const { versionId } of source.versions) {
      if (held.has(versionId)) continue;
      const version = await this.store.get<VersionRecord>(versionPartition(source.arn), versionId);
      // Pruned since the primary was read: the round's conditional status write fails and copies again.
      if (version === undefined) continue;
      let data: VersionRecord;
      try {
        data = await this.reseal(source.arn, arn, version.data, replica.kmsKeyId);
      } catch (err) {
        // The replica's key is gone or disabled: the replica says so, and a later attempt retries.
        if (err instanceof InvalidRequestError)
          return { status: 'Failed', statusMessage: `Replication failed: ${err.message}` };
        throw err;
      }
      copies.push({ type: 'put', pk: versionPartition(arn), sk: versionId, data });
    }
    for (let i = 0; i < copies.length; i += MAX_TRANSACTION_OPS) {
      await this.store.transact(copies.slice(i, i + MAX_TRANSACTION_OPS));
    }
    const { replicas: _replicas, kmsKeyId: _primaryKey, ...metadata } = source;
    const record: SecretRecord = {
      ...metadata,
      arn,
      primaryRegion,
      updatedAt: source.updatedAt,
      // The replica's own key, not the primary's: what its DescribeSecret shows.
      ...(replica.kmsKeyId === undefined ? {} : { kmsKeyId: replica.kmsKeyId }),
    };
    const stale = [...held].filter((id) => !wanted.has(id));
    // A replica carries the primary's deletion date, so it is purged in its region when the primary would be.
    const deletion = reindexDeletion(partitions.deletionIndex, existing?.data, record);
    const first = stale.slice(0, MAX_TRANSACTION_OPS - 3 - deletion.length);
    await this.store.transact([
      {
        type: 'put',
        pk: partitions.secrets,
        sk: source.name,
        data: record,
        // A replica promoted meanwhile (StopReplicationToReplica) is no longer ours to write.
        condition: existing === undefined ? { kind: 'absent' } : { kind: 'rev', rev: existing.rev },
      },
      ...(existing === undefined
        ? [...indexCreation(source.name, source.createdAt, partitions.creationOrder), regionMarker(replica.region)]
        : []),
      ...deletion,
      ...first.map((id): WriteOp => ({ type: 'delete', pk: versionPartition(arn), sk: id })),
    ]);
    for (let i = first.length; i < stale.length; i += MAX_TRANSACTION_OPS) {
      const batch = stale.slice(i, i + MAX_TRANSACTION_OPS);
      await this.store.transact(batch.map((id): WriteOp => ({ type: 'delete', pk: versionPartition(arn), sk: id })));
    }
    return { status: 'InSync', statusMessage: REPLICATION_SUCCEEDED };
  }

  /**
   * Opens a primary's version under the key it records and seals it again under the replica's ARN and key (its
   * `KmsKeyId`, else the default key), so a replica's ciphertext can never be passed off as the primary's (or another
   * region's).
   */
  private async reseal(
    fromArn: string,
    toArn: string,
    version: VersionRecord,
    kmsKeyId: string | undefined,
  ): Promise<VersionRecord> {
    const value = await openVersion(this.keys, fromArn, version);
    try {
      return await sealVersion(this.keys, {
        arn: toArn,
        versionId: version.versionId,
        value,
        now: version.createdAt,
        kmsKeyId,
      });
    } finally {
      if (value.kind === 'binary') value.binary.fill(0);
    }
  }

  /** Removes a secret of a region (a replica taken out of replication, or one ForceOverwriteReplicaSecret replaces). */
  async remove(item: StoredItem<SecretRecord>, partitions: SecretPartitions): Promise<void> {
    const pk = versionPartition(item.data.arn);
    await this.store.transact([
      { type: 'delete', pk: partitions.secrets, sk: item.sk, condition: { kind: 'rev', rev: item.rev } },
      ...unindexCreation(item.data.name, item.data.createdAt, partitions.creationOrder),
      ...reindexDeletion(partitions.deletionIndex, item.data, undefined),
    ]);
    for (;;) {
      const page = await this.store.query(pk, { limit: MAX_TRANSACTION_OPS });
      if (page.items.length === 0) return;
      await this.store.transact(page.items.map((v): WriteOp => ({ type: 'delete', pk, sk: v.sk })));
    }
  }
}

/** A replica the replicator should work on: behind, or failed for a reason a retry may clear. */
export function needsWork(replica: ReplicaRecord): boolean {
  return replica.status !== 'InSync' && replica.permanent !== true;
}

function withOutcome(replica: ReplicaRecord, outcome: SyncOutcome | undefined): ReplicaRecord {
  if (outcome === undefined) return replica;
  const { statusMessage: _m, permanent: _p, ...rest } = replica;
  return {
    ...rest,
    status: outcome.status,
    ...(outcome.statusMessage === undefined ? {} : { statusMessage: outcome.statusMessage }),
    ...(outcome.permanent === true ? { permanent: true } : {}),
  };
}

/** A replica's ARN: the primary's with the region changed, as AWS's replicas keep the suffix. */
export function arnInRegion(arn: string, region: string): string {
  const parts = arn.split(':');
  parts[3] = region;
  return parts.join(':');
}
