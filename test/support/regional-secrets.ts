import { RegionalSecrets, type RegionalSecretsOptions } from '../../lambdas/core/secrets/regional-secrets.ts';
import { ReplicationService } from '../../lambdas/core/secrets/replication/replication-service.ts';
import {
  type ReplicaAvailability,
  SecretReplicator,
} from '../../lambdas/core/secrets/replication/secret-replicator.ts';

/**
 * The secrets part of `BrokerDeps` as `composeServices` builds it, for harnesses that wire a broker by hand: every
 * region's secrets (home `us-east-1` unless given), the home region's as `secrets`, replication and its replicator.
 */
export function regionalSecretsDeps(
  options: Omit<RegionalSecretsOptions, 'homeRegion'> & {
    readonly homeRegion?: string;
    readonly availability?: ReplicaAvailability;
  },
) {
  const { availability, ...rest } = options;
  const regionalSecrets = new RegionalSecrets({ homeRegion: 'us-east-1', ...rest });
  const replicator = new SecretReplicator({
    store: options.store,
    keyProvider: options.keyProvider,
    keyRing: options.keyRing,
    partitionsOf: (region) => regionalSecrets.partitionsOf(region),
    availability,
  });
  const replication = new ReplicationService({
    store: options.store,
    secrets: regionalSecrets,
    replicator,
    onChange: (region, name) => regionalSecrets.notifyReplicatedWrite(region, name),
  });
  return { secrets: regionalSecrets.home, regionalSecrets, replication, replicator };
}
