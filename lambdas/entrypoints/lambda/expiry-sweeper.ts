import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import * as z from 'zod';
import { DynamoDbStore } from '../../adapters/aws/dynamodb-store/dynamodb-store.ts';
import { EventBridgeRotationEvents } from '../../adapters/aws/rotation/eventbridge-events.ts';
import { type Clock, systemClock } from '../../core/ports/clock.ts';
import type { Store } from '../../core/ports/store.ts';
import type { ExpirySweepOutcome } from '../../core/secrets/expiration/expiry-sweep.ts';
import { RegionalSecrets } from '../../core/secrets/regional-secrets.ts';
import { composeExpirySweep } from '../expiry-sweep.ts';
import { accountOf, EVENT_BUS, LambdaSettings, loadLambdaConfig } from './config.ts';
import { type PassLogger, scheduledPass, sdkClientOptions } from './scheduled-pass.ts';
import { kmsVersionKeys } from './version-keys.ts';

/** The `service` name of the expiry sweeper's logs. */
export const EXPIRY_SWEEPER_SERVICE_NAME = 'expiry-sweeper';

/**
 * The expiry sweeper's environment: the broker's table and the bus rotation publishes to. The envelope key only
 * names the account and builds the secrets' services: the sweep reads records and indexes, never a value.
 */
export const ExpirySweeperConfigSchema = LambdaSettings.pick({
  COFFER_TABLE_NAME: true,
  COFFER_ENVELOPE_KEY_ARN: true,
  COFFER_ACCOUNT_ID: true,
  COFFER_STORE_REGION: true,
  AWS_REGION: true,
  AWS_ENDPOINT_URL: true,
})
  .extend({
    COFFER_EVENT_BUS_NAME: z.string().regex(EVENT_BUS, 'must be an event bus name or ARN').optional(),
  })
  .transform((env) => ({
    tableName: env.COFFER_TABLE_NAME,
    envelopeKeyArn: env.COFFER_ENVELOPE_KEY_ARN,
    account: accountOf(env),
    region: env.AWS_REGION,
    storeRegion: env.COFFER_STORE_REGION ?? env.AWS_REGION,
    endpoint: env.AWS_ENDPOINT_URL,
    eventBusName: env.COFFER_EVENT_BUS_NAME ?? 'default',
  }));

export type ExpirySweeperConfig = z.output<typeof ExpirySweeperConfigSchema>;

/** @throws ValidationError naming the first bad setting, never its value. */
export function loadExpirySweeperConfig(env: NodeJS.ProcessEnv = process.env): ExpirySweeperConfig {
  return loadLambdaConfig(ExpirySweeperConfigSchema, env);
}

export interface ExpirySweeperClients {
  readonly dynamodb: DynamoDBClient;
  readonly kms: KMSClient;
  readonly eventBridge: EventBridgeClient;
}

export interface ExpirySweeperHandlerOptions {
  /** @default clients of the configured region (and emulator endpoint) */
  readonly clients?: ExpirySweeperClients;
  /** @default the DynamoDB table of the configuration */
  readonly store?: Store;
  readonly logger?: PassLogger;
  /** @default systemClock */
  readonly clock?: Clock;
}

/**
 * Builds the expiry sweeper's Lambda handler: AWS's counterpart of the local node's expiry timer. Each invocation, from
 * a one-minute schedule, runs one `ExpirySweep` pass over every region's secrets and the issued certificates, and
 * publishes on EventBridge what fell due. A pass whose publications failed resolves (the entries are retried once
 * their claims lapse); a pass that cannot run rejects, so it shows in the errors metric.
 *
 * @example
 * ```ts
 * export const handler = createExpirySweeperHandler(process.env);
 * ```
 */
export function createExpirySweeperHandler(
  env: NodeJS.ProcessEnv = process.env,
  options: ExpirySweeperHandlerOptions = {},
): (event?: unknown) => Promise<ExpirySweepOutcome> {
  const config = loadExpirySweeperConfig(env);
  const clients = options.clients ?? createClients(config);
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? new Logger({ serviceName: EXPIRY_SWEEPER_SERVICE_NAME });
  const store = options.store ?? new DynamoDbStore({ client: clients.dynamodb, tableName: config.tableName });
  const { keyProvider, keyRing } = kmsVersionKeys(clients.kms, config, clock);
  const secrets = new RegionalSecrets({
    store,
    keyProvider,
    keyRing,
    clock,
    homeRegion: config.region,
    storeRegion: config.storeRegion,
    account: config.account,
  });
  const sweep = composeExpirySweep({
    store,
    clock,
    secrets,
    events: new EventBridgeRotationEvents({ client: clients.eventBridge, eventBusName: config.eventBusName }),
    onError: (err) =>
      logger.error('expiry event not published', {
        error: err instanceof Error ? { name: err.name, message: err.message } : { name: 'unknown' },
      }),
  });
  return scheduledPass(logger, 'expiry sweep', () => sweep.sweep());
}

function createClients(config: ExpirySweeperConfig): ExpirySweeperClients {
  const common = sdkClientOptions(config);
  return {
    dynamodb: new DynamoDBClient(common),
    kms: new KMSClient(common),
    eventBridge: new EventBridgeClient(common),
  };
}
