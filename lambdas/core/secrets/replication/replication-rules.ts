import { ValidationError } from '../../errors.ts';
import type { ReplicaStatusView, SecretDescription, SecretRecord } from '../secret-types.ts';

/**
 * The rules replication puts on ordinary operations, and the messages AWS answers them with (as moto 5.2.1's
 * `secretsmanager/exceptions.py` and `models.py` record them from real AWS responses). AWS sends them as
 * `InvalidParameterException`, the compatible API's mapping of `ValidationError`.
 */

/** moto `OperationNotPermittedOnReplica`: every write to a replica, which only its primary's replication changes. */
export const REPLICA_WRITE_MESSAGE =
  "Operation not permitted on a replica secret. Call must be made in primary secret's region.";

/** moto `create_replicas`: a replica in the primary's own region. */
export const INVALID_REPLICA_REGION_MESSAGE = 'Invalid replica region.';

/** The status message of a replica brought in sync (moto `ReplicaSecret`). */
export const REPLICATION_SUCCEEDED = 'Replication succeeded';

/** moto `create_replicas`: the replica region already holds a secret of the name (and no ForceOverwriteReplicaSecret). */
export function nameTakenMessage(name: string, region: string): string {
  return `Replication failed: Secret name ${name} already exists in region ${region}.`;
}

/** The key AWS reports for a replica encrypted with the default key (moto `DEFAULT_KMS_KEY_ALIAS`). */
export const DEFAULT_REPLICA_KMS_KEY = 'alias/aws/secretsmanager';

export function isReplica(secret: Pick<SecretRecord, 'primaryRegion'>): boolean {
  return secret.primaryRegion !== undefined;
}

/** @throws ValidationError (AWS's InvalidParameterException) when `secret` is a replica */
export function assertWritable(secret: Pick<SecretRecord, 'primaryRegion'>): void {
  if (isReplica(secret)) throw new ValidationError(REPLICA_WRITE_MESSAGE);
}

/**
 * A replica cannot be deleted (only removed from its primary's replication), and a primary cannot be deleted while it
 * has replicas: AWS answers `You can't delete secret <id> that still has replica regions [<r1>,<r2>]` (moto
 * `delete_secret`), so that no replica is left without the primary that feeds it.
 *
 * @throws ValidationError (InvalidParameterException) in either case
 */
export function assertDeletable(secret: SecretRecord, secretId: string): void {
  assertWritable(secret);
  const regions = (secret.replicas ?? []).map((r) => r.region);
  if (regions.length > 0) {
    throw new ValidationError(
      `You can't delete secret ${secretId} that still has replica regions [${regions.join(',')}]`,
    );
  }
}

/** The region in a secret ARN (`arn:aws:secretsmanager:<region>:...`). */
export function regionOfArn(arn: string): string {
  return arn.split(':')[3] ?? '';
}

/** The replication members of a description: the region, and `primaryRegion` or `replication` where they apply. */
export function replicationView(
  data: SecretRecord,
): Pick<SecretDescription, 'region' | 'primaryRegion' | 'replication'> {
  const replication = data.replicas?.map(
    (r): ReplicaStatusView => ({
      region: r.region,
      ...(r.kmsKeyId === undefined ? {} : { kmsKeyId: r.kmsKeyId }),
      status: r.status,
      ...(r.statusMessage === undefined ? {} : { statusMessage: r.statusMessage }),
    }),
  );
  return {
    region: regionOfArn(data.arn),
    ...(data.primaryRegion === undefined ? {} : { primaryRegion: data.primaryRegion }),
    ...(replication === undefined || replication.length === 0 ? {} : { replication }),
  };
}
