import * as z from 'zod';
import { DEFAULT_REPLICA_KMS_KEY } from '../../../core/secrets/replication/replication-rules.ts';
import type { ReplicaStatusView, SecretDescription } from '../../../core/secrets/secret-types.ts';

/**
 * The replication members of the AWS Secrets Manager API (API reference: ReplicateSecretToRegions,
 * RemoveRegionsFromReplication, StopReplicationToReplica, and DescribeSecret's `PrimaryRegion`/`ReplicationStatus`).
 */

/** AWS's `Region` constraint (1–128, `^([a-z]+-)+\d+$`); the core refuses regions the node does not serve. */
const Region = z
  .string()
  .min(1)
  .max(128)
  .regex(/^([a-z]+-)+\d+$/, 'must be a region name');

/** One `ReplicaRegionType`: a region, and the key to encrypt the replica with (default: the default key). */
export const ReplicaRegion = z.looseObject({ Region, KmsKeyId: z.string().min(0).max(2048).optional() });
export const AddReplicaRegions = z.array(ReplicaRegion).min(1);

const SecretId = z.string().min(1).max(2048);

export const ReplicateSecretToRegionsRequest = z.looseObject({
  SecretId,
  AddReplicaRegions,
  ForceOverwriteReplicaSecret: z.boolean().optional(),
});

export const RemoveRegionsFromReplicationRequest = z.looseObject({
  SecretId,
  RemoveReplicaRegions: z.array(Region).min(1),
});

export const StopReplicationToReplicaRequest = z.looseObject({ SecretId });

/** `ReplicationStatus` entries in AWS's member order. */
export function replicationStatusList(replicas: readonly ReplicaStatusView[]) {
  return replicas.map((r) => ({
    Region: r.region,
    // AWS names the default key of a replica by its alias (moto `ReplicaSecret.config`).
    KmsKeyId: r.kmsKeyId ?? DEFAULT_REPLICA_KMS_KEY,
    Status: r.status,
    ...(r.statusMessage === undefined ? {} : { StatusMessage: r.statusMessage }),
    ...(r.lastAccessedDate === undefined ? {} : { LastAccessedDate: r.lastAccessedDate / 1000 }),
  }));
}

/** DescribeSecret's and ListSecrets' replication members: `PrimaryRegion` and `ReplicationStatus`, when they apply. */
export function replicationMembers(d: Pick<SecretDescription, 'region' | 'primaryRegion' | 'replication'>) {
  const replicated = d.replication !== undefined && d.replication.length > 0;
  return {
    // API reference, DescribeSecret: PrimaryRegion is "the Region the secret is in" once it is replicated, and on a
    // replica its primary's.
    ...(d.primaryRegion !== undefined
      ? { PrimaryRegion: d.primaryRegion }
      : replicated
        ? { PrimaryRegion: d.region }
        : {}),
    ...(replicated && d.replication !== undefined ? { ReplicationStatus: replicationStatusList(d.replication) } : {}),
  };
}
