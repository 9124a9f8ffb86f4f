import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import type * as z from 'zod';
import { DynamoDbStore } from '../../adapters/aws/dynamodb-store/dynamodb-store.ts';
import { type Clock, systemClock } from '../../core/ports/clock.ts';
import { type ReplicationResult, SecretReplicator } from '../../core/secrets/replication/secret-replicator.ts';
import { secretPartitionsFor } from '../../core/secrets/secret-partitions.ts';
import { accountOf, LambdaSettings, loadLambdaConfig } from './config.ts';
import { kmsVersionKeys } from './version-keys.ts';

/** The `service` name of the replicator's logs. */
export const REPLICATOR_SERVICE_NAME = 'replicator';

/** The replicator's environment: the table, the envelope key, and the region that names the table's partitions. */
export const ReplicatorConfigSchema = LambdaSettings.pick({
  COFFER_TABLE_NAME: true,
  COFFER_ENVELOPE_KEY_ARN: true,
  COFFER_ACCOUNT_ID: true,
  COFFER_STORE_REGION: true,
  AWS_REGION: true,
  AWS_ENDPOINT_URL: true,
}).transform((env) => ({
  tableName: env.COFFER_TABLE_NAME,
  envelopeKeyArn: env.COFFER_ENVELOPE_KEY_ARN,
  account: accountOf(env),
  region: env.AWS_REGION,
  storeRegion: env.COFFER_STORE_REGION ?? env.AWS_REGION,
  endpoint: env.AWS_ENDPOINT_URL,
}));

export type ReplicatorConfig = z.output<typeof ReplicatorConfigSchema>;

/**
 * What wakes the replicator: a batch of this region's secret-record changes from the table's stream (`Keys` only are
 * read: the record is read again from the table, so a stale image never replicates), or the one-minute schedule.
 */
export type ReplicatorEvent =
  | { readonly Records: readonly { readonly dynamodb?: { readonly Keys?: Record<string, { S?: string }> } }[] }
  | { readonly source?: string };

export interface ReplicatorHandlerOptions {
  /** @default clients of the configured region (and emulator endpoint) */
  readonly clients?: { readonly dynamodb: DynamoDBClient; readonly kms: KMSClient };
  /** @default a Powertools logger, service `replicator` */
  readonly logger?: Pick<Logger, 'info' | 'error'>;
  /** @default systemClock */
  readonly clock?: Clock;
}

/**
 * Builds the replicator's Lambda handler (`lib/coffer-replicator.ts`): the same `SecretReplicator` the local node runs
 * in process. A stream batch replicates each secret it names (of this region: the stream filter keeps to this
 * region's secrets partition); the schedule reconciles every replicated primary whose replicas are not in sync.
 * Replicas still behind (a region down) stay `InProgress`/`Failed` in the table and are retried by the next run.
 *
 * Composed once per cold start. The plain store, not the audit outbox: replication is not a request.
 *
 * @throws ValidationError naming a bad setting, at construction (cold start).
 */
export function createReplicatorHandler(
  env: NodeJS.ProcessEnv = process.env,
  options: ReplicatorHandlerOptions = {},
): (event: ReplicatorEvent) => Promise<ReplicationResult> {
  const config = loadLambdaConfig(ReplicatorConfigSchema, env);
  const common = { region: config.region, ...(config.endpoint !== undefined && { endpoint: config.endpoint }) };
  const clients = options.clients ?? { dynamodb: new DynamoDBClient(common), kms: new KMSClient(common) };
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? new Logger({ serviceName: REPLICATOR_SERVICE_NAME });
  const replicator = new SecretReplicator({
    store: new DynamoDbStore({ client: clients.dynamodb, tableName: config.tableName }),
    ...kmsVersionKeys(clients.kms, config, clock),
    partitionsOf: (region) => secretPartitionsFor(region, config.storeRegion),
  });
  const ownSecrets = secretPartitionsFor(config.region, config.storeRegion).secrets;

  return async (event) => {
    try {
      if (!('Records' in event)) {
        const { behind } = await replicator.reconcile();
        logger.info('replicas reconciled', { behind: behind.length });
        return { behind: behind.flatMap((b) => b.replicas.map((r) => `${b.region}/${b.name}→${r}`)) };
      }
      const names = new Set<string>();
      for (const record of event.Records) {
        const keys = record.dynamodb?.Keys;
        if (keys?.pk?.S === ownSecrets && keys.sk?.S !== undefined) names.add(keys.sk.S);
      }
      const behind: string[] = [];
      for (const name of names) {
        const result = await replicator.replicate(config.region, name);
        behind.push(...result.behind.map((region) => `${config.region}/${name}→${region}`));
      }
      logger.info('secrets replicated', { secrets: names.size, behind: behind.length });
      return { behind };
    } catch (err) {
      // Names and messages only: replication errors never quote values.
      const error = err instanceof Error ? { name: err.name, message: err.message } : { name: 'unknown' };
      logger.error('replication failed', { error });
      throw err;
    }
  };
}
