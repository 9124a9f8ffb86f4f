import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { STSClient } from '@aws-sdk/client-sts';
import type * as z from 'zod';
import { DynamoDbStore } from '../../adapters/aws/dynamodb-store/dynamodb-store.ts';
import type { SweepOutcome } from '../../core/leases/lease-service.ts';
import { type Clock, systemClock } from '../../core/ports/clock.ts';
import { secretPartitionsFor } from '../../core/secrets/secret-partitions.ts';
import { SecretService } from '../../core/secrets/secret-service.ts';
import { composeDynamicSecrets } from './compose.ts';
import { accountOf, egressAllowOf, LambdaSettings, loadLambdaConfig } from './config.ts';
import { type PassLogger, scheduledPass, sdkClientOptions } from './scheduled-pass.ts';
import { kmsVersionKeys } from './version-keys.ts';

/** The `service` name of the sweeper's logs. */
export const SWEEPER_SERVICE_NAME = 'lease-sweeper';

/**
 * The sweeper's environment: the broker's table, envelope key (to read a database connection's admin secret) and
 * account (part of secret ARNs, hence of the envelope key's encryption context), and the broker's egress allow-list
 * (revocations connect to database hosts).
 */
export const LeaseSweeperConfigSchema = LambdaSettings.pick({
  COFFER_TABLE_NAME: true,
  COFFER_ENVELOPE_KEY_ARN: true,
  COFFER_ACCOUNT_ID: true,
  COFFER_STORE_REGION: true,
  AWS_REGION: true,
  AWS_ENDPOINT_URL: true,
  COFFER_EGRESS_ALLOW: true,
}).transform((env) => ({
  tableName: env.COFFER_TABLE_NAME,
  envelopeKeyArn: env.COFFER_ENVELOPE_KEY_ARN,
  account: accountOf(env),
  region: env.AWS_REGION,
  storeRegion: env.COFFER_STORE_REGION ?? env.AWS_REGION,
  endpoint: env.AWS_ENDPOINT_URL,
  egressAllow: egressAllowOf(env),
}));

export type LeaseSweeperConfig = z.output<typeof LeaseSweeperConfigSchema>;

/**
 * Parses the sweeper's environment.
 * @throws ValidationError naming the first bad setting, never its value.
 */
export function loadLeaseSweeperConfig(env: NodeJS.ProcessEnv = process.env): LeaseSweeperConfig {
  return loadLambdaConfig(LeaseSweeperConfigSchema, env);
}

export interface LeaseSweeperClients {
  readonly dynamodb: DynamoDBClient;
  readonly kms: KMSClient;
  readonly sts: STSClient;
}

export interface LeaseSweeperHandlerOptions {
  /** @default clients of the configured region (and emulator endpoint) */
  readonly clients?: LeaseSweeperClients;
  /** @default a Powertools logger, service `lease-sweeper` */
  readonly logger?: PassLogger;
  /** @default systemClock */
  readonly clock?: Clock;
}

/**
 * Builds the lease sweeper's Lambda handler: AWS's expiry enforcement (the local node runs a timer instead). Each
 * invocation, from the one-minute schedule, runs one pass of `LeaseService.sweep`: resumes interrupted revoke-prefix
 * jobs, revokes leases that expired, retries failed revocations that are due, and abandons issues a crash
 * interrupted. A pass whose revocations failed still resolves (the failures stay listed, `lease list --failed`, and
 * are retried with backoff by later passes); a pass that cannot run at all rejects, so it shows in the errors metric.
 *
 * Composed once per cold start: database connection pools and cached data keys live across invocations.
 *
 * @example
 * ```ts
 * export const handler = createLeaseSweeperHandler(process.env);
 * ```
 * @throws ValidationError naming a bad setting, at construction (cold start).
 */
export function createLeaseSweeperHandler(
  env: NodeJS.ProcessEnv = process.env,
  options: LeaseSweeperHandlerOptions = {},
): (event?: unknown) => Promise<SweepOutcome> {
  const config = loadLeaseSweeperConfig(env);
  const clients = options.clients ?? createSweeperClients(config);
  const clock = options.clock ?? systemClock;
  const logger: PassLogger = options.logger ?? new Logger({ serviceName: SWEEPER_SERVICE_NAME });
  // The plain store, not the audit outbox: nothing here runs inside a request.
  const store = new DynamoDbStore({ client: clients.dynamodb, tableName: config.tableName });
  // A connection's admin secret may be sealed under a customer key (KmsKeyId): the sweeper reads it like the broker.
  const { keyProvider, keyRing } = kmsVersionKeys(clients.kms, config, clock);
  const secrets = new SecretService({
    store,
    keyProvider,
    keyRing,
    clock,
    region: config.region,
    // This region's secrets, named as every region of a global table names them.
    partitions: secretPartitionsFor(config.region, config.storeRegion),
    account: config.account,
  });
  const { leases } = composeDynamicSecrets({ store, secrets, clients, config, clock, keyProvider });

  return scheduledPass(logger, 'lease sweep', () => leases.sweep());
}

function createSweeperClients(config: LeaseSweeperConfig): LeaseSweeperClients {
  const common = sdkClientOptions(config);
  return { dynamodb: new DynamoDBClient(common), kms: new KMSClient(common), sts: new STSClient(common) };
}
