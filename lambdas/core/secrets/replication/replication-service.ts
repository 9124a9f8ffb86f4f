import { InvalidRequestError, NotFoundError, ValidationError } from '../../errors.ts';
import type { Store, StoredItem, WriteOp } from '../../ports/store.ts';
import { checkRegion } from '../../regions.ts';
import { retryOnConflict } from '../../retry.ts';
import type { RegionalSecrets } from '../regional-secrets.ts';
import { isPendingDeletion } from '../secret-fns.ts';
import { markedForDeletion } from '../secret-service.ts';
import type { ReplicaRecord, ReplicaStatusView, SecretRecord } from '../secret-types.ts';
import { indexPrimary, unindexPrimary } from './replication-index.ts';
import { assertWritable, INVALID_REPLICA_REGION_MESSAGE, replicationView } from './replication-rules.ts';
import type { SecretReplicator } from './secret-replicator.ts';

export interface ReplicationServiceOptions {
  /** The undecorated store: these operations set replica states themselves. */
  readonly store: Store;
  readonly secrets: RegionalSecrets;
  readonly replicator: SecretReplicator;
  /** Told when a primary has new replicas to bring in sync (the local runner). @default none */
  readonly onChange?: ((region: string, name: string) => void) | undefined;
}

/** A region to replicate to, as AWS's `AddReplicaRegions` entry. */
export interface ReplicaRegionInput {
  readonly region: string;
  readonly kmsKeyId?: string | undefined;
}

export interface ReplicationAnswer {
  readonly arn: string;
  readonly replication: readonly ReplicaStatusView[];
}

/**
 * AWS's replication operations on a primary and its replicas: `ReplicateSecretToRegions` (and CreateSecret's
 * `AddReplicaRegions`), `RemoveRegionsFromReplication` and `StopReplicationToReplica`. Each one is a conditional
 * write of the primary's record (the list of replicas and their states) together with the replication index; the
 * copying itself is the replicator's, asynchronous as in AWS, so a new replica answers `InProgress`.
 */
export class ReplicationService {
  private readonly store: Store;
  private readonly secrets: RegionalSecrets;
  private readonly replicator: SecretReplicator;
  private readonly onChange: (region: string, name: string) => void;

  constructor(options: ReplicationServiceOptions) {
    this.store = options.store;
    this.secrets = options.secrets;
    this.replicator = options.replicator;
    this.onChange = options.onChange ?? (() => undefined);
  }

  /**
   * Replicates a primary of `region` to more regions. A region it already replicates to keeps its replica, unless
   * that replica failed: then it starts over with this request's settings.
   *
   * @throws ValidationError (AWS `InvalidParameterException`) for a replica, the primary's own region, a region the
   *   node does not serve
   * @throws InvalidRequestError when the secret is scheduled for deletion
   */
  async addReplicas(input: {
    region: string;
    secretId: string;
    replicas: readonly ReplicaRegionInput[];
    forceOverwrite?: boolean | undefined;
  }): Promise<ReplicationAnswer> {
    this.checkReplicaRegions(input.region, input.replicas);
    const answer = await this.change(input.region, input.secretId, (secret) => {
      if (isPendingDeletion(secret)) throw markedForDeletion(input.secretId);
      // A failed replica is asked for again (with ForceOverwriteReplicaSecret, say): it starts over.
      const replicas = (secret.replicas ?? []).filter(
        (r) => r.status !== 'Failed' || !input.replicas.some((wanted) => wanted.region === r.region),
      );
      for (const { region, kmsKeyId } of input.replicas) {
        if (replicas.some((r) => r.region === region)) continue;
        replicas.push({
          region,
          ...(kmsKeyId === undefined ? {} : { kmsKeyId }),
          status: 'InProgress',
          ...(input.forceOverwrite === true ? { forceOverwrite: true } : {}),
        });
      }
      return replicas;
    });
    this.onChange(input.region, answer.name);
    return answer;
  }

  /**
   * Checks replica regions before anything is written (CreateSecret checks them before it creates the primary).
   *
   * @throws ValidationError for the primary's own region (AWS: `Invalid replica region.`), or a region not served
   */
  checkReplicaRegions(primaryRegion: string, replicas: readonly ReplicaRegionInput[]): void {
    for (const replica of replicas) {
      checkRegion(replica.region);
      // moto `create_replicas`, from AWS's answer.
      if (replica.region === primaryRegion) throw new ValidationError(INVALID_REPLICA_REGION_MESSAGE);
      this.secrets.in(replica.region);
    }
  }

  /**
   * Stops replicating a primary to `regions` and deletes its replicas there. A region it does not replicate to is
   * ignored, as AWS does (moto `remove_regions_from_replication`).
   */
  async removeReplicas(input: {
    region: string;
    secretId: string;
    regions: readonly string[];
  }): Promise<ReplicationAnswer> {
    for (const region of input.regions) checkRegion(region);
    const answer = await this.change(input.region, input.secretId, (secret) =>
      (secret.replicas ?? []).filter((r) => !input.regions.includes(r.region)),
    );
    // After the primary stopped naming them, so the replicator can no longer write them back.
    for (const region of input.regions) {
      if (region === input.region) continue;
      const partitions = this.secrets.partitionsOf(region);
      const replica = await this.store.get<SecretRecord>(partitions.secrets, answer.name);
      if (replica !== undefined && replica.data.primaryRegion === input.region) {
        await this.replicator.remove(replica, partitions);
      }
    }
    return answer;
  }

  /**
   * Promotes a replica of `region` to a standalone secret (AWS StopReplicationToReplica, called in the replica's
   * region): its primary stops replicating to it, then it stops being read-only.
   *
   * @throws InvalidRequestError when the secret is not a replica
   */
  async stopReplication(input: { region: string; secretId: string }): Promise<{ arn: string }> {
    const { name } = await this.secrets.in(input.region).describe({ secretId: input.secretId });
    const pk = this.secrets.partitionsOf(input.region).secrets;
    return retryOnConflict(async () => {
      const replica = await this.store.get<SecretRecord>(pk, name);
      if (replica === undefined) throw new NotFoundError(`secret ${input.secretId} not found`);
      const primaryRegion = replica.data.primaryRegion;
      // Coffer's wording: AWS's answer for a secret that is no replica is not documented.
      if (primaryRegion === undefined)
        throw new InvalidRequestError(`secret ${input.secretId} is not a replica secret`);
      const primaryPk = this.secrets.partitionsOf(primaryRegion).secrets;
      const primary = await this.store.get<SecretRecord>(primaryPk, name);
      const ops: WriteOp[] = [];
      const listed = primary?.data.replicas;
      if (primary !== undefined && listed?.some((r) => r.region === input.region)) {
        const replicas = listed.filter((r) => r.region !== input.region);
        ops.push(primaryPut(primaryPk, primary, replicas));
        if (replicas.length === 0) ops.push(unindexPrimary(primaryRegion, name));
      }
      const { primaryRegion: _primary, ...promoted } = replica.data;
      ops.push({ type: 'put', pk, sk: name, data: promoted, condition: { kind: 'rev', rev: replica.rev } });
      await this.store.transact(ops);
      return { arn: replica.data.arn };
    });
  }

  /** A read-modify-write of a primary's replica list (and the index), conditional on the record's revision. */
  private async change(
    region: string,
    secretId: string,
    next: (secret: SecretRecord) => ReplicaRecord[],
  ): Promise<ReplicationAnswer & { name: string }> {
    const { name } = await this.secrets.in(region).describe({ secretId });
    const pk = this.secrets.partitionsOf(region).secrets;
    return retryOnConflict(async () => {
      const item = await this.store.get<SecretRecord>(pk, name);
      // Purged between the lookup and this read.
      if (item === undefined) throw new NotFoundError(`secret ${secretId} not found`);
      assertWritable(item.data);
      const replicas = next(item.data);
      const before = item.data.replicas?.length ?? 0;
      const ops: WriteOp[] = [primaryPut(pk, item, replicas)];
      if (before === 0 && replicas.length > 0) ops.push(indexPrimary(region, name));
      if (before > 0 && replicas.length === 0) ops.push(unindexPrimary(region, name));
      await this.store.transact(ops);
      const view = replicationView({ ...item.data, replicas });
      return { arn: item.data.arn, name, replication: view.replication ?? [] };
    });
  }
}

function primaryPut(pk: string, item: StoredItem<SecretRecord>, replicas: ReplicaRecord[]): WriteOp {
  const { replicas: _replicas, ...rest } = item.data;
  const data: SecretRecord = replicas.length === 0 ? rest : { ...rest, replicas };
  return { type: 'put', pk, sk: item.sk, data, condition: { kind: 'rev', rev: item.rev } };
}
