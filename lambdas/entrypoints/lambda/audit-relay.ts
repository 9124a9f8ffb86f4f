import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import * as z from 'zod';
import { DynamoDbStore } from '../../adapters/aws/dynamodb-store/dynamodb-store.ts';
import { S3AuditSegments } from '../../adapters/aws/s3-audit/s3-audit-sink.ts';
import { DEFAULT_OUTBOX_SHARDS } from '../../core/audit/outbox/audit-outbox.ts';
import { DEFAULT_RELAY_STREAM, OutboxRelay, type RelayRunResult } from '../../core/audit/outbox/outbox-relay.ts';
import { type Clock, systemClock } from '../../core/ports/clock.ts';
import { LambdaSettings, loadLambdaConfig } from './config.ts';
import { LAG_METRIC, METRICS_NAMESPACE, RELAY_SERVICE_NAME } from './deployment-names.ts';

export const SHIPPED_METRIC = 'AuditRecordsShipped';

/** The relay's environment: the broker's table (holding the outbox) and audit bucket, and the chain's name. */
export const AuditRelayConfigSchema = LambdaSettings.pick({
  COFFER_TABLE_NAME: true,
  COFFER_AUDIT_BUCKET: true,
  AWS_REGION: true,
  AWS_ENDPOINT_URL: true,
})
  .extend({
    /** The chain's name: segments go to `audit/<stream>/`. @default 'outbox' */
    COFFER_AUDIT_STREAM: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,128}$/, 'must be 1-128 letters, digits, ".", "_" or "-"')
      .optional(),
    /** The outbox scope of a replica region's deployment (its region); see `AuditOutboxOptions.scope`. */
    COFFER_AUDIT_OUTBOX_SCOPE: LambdaSettings.shape.COFFER_AUDIT_OUTBOX_SCOPE,
  })
  .transform((env) => ({
    tableName: env.COFFER_TABLE_NAME,
    auditBucket: env.COFFER_AUDIT_BUCKET,
    outboxScope: env.COFFER_AUDIT_OUTBOX_SCOPE,
    // Relays of different scopes share the table's relay partition: each keeps a head of its own.
    streamId:
      env.COFFER_AUDIT_STREAM ??
      (env.COFFER_AUDIT_OUTBOX_SCOPE === undefined
        ? DEFAULT_RELAY_STREAM
        : `${DEFAULT_RELAY_STREAM}-${env.COFFER_AUDIT_OUTBOX_SCOPE}`),
    region: env.AWS_REGION,
    endpoint: env.AWS_ENDPOINT_URL,
  }));

export type AuditRelayConfig = z.output<typeof AuditRelayConfigSchema>;

/**
 * Parses the relay's environment.
 * @throws ValidationError naming the first bad setting, never its value.
 */
export function loadAuditRelayConfig(env: NodeJS.ProcessEnv = process.env): AuditRelayConfig {
  return loadLambdaConfig(AuditRelayConfigSchema, env);
}

export interface AuditRelayClients {
  readonly dynamodb: DynamoDBClient;
  readonly s3: S3Client;
}

/** The part of Powertools `Metrics` the relay uses. */
export interface RelayMetrics {
  addMetric(name: string, unit: (typeof MetricUnit)[keyof typeof MetricUnit], value: number): unknown;
  publishStoredMetrics(): unknown;
}

export interface AuditRelayHandlerOptions {
  /** @default clients of the configured region (and emulator endpoint) */
  readonly clients?: AuditRelayClients;
  /** @default Powertools metrics in namespace `Coffer`, service `audit-relay` */
  readonly metrics?: RelayMetrics;
  /** @default a Powertools logger, service `audit-relay` */
  readonly logger?: Pick<Logger, 'error'>;
  /** @default systemClock */
  readonly clock?: Clock;
}

/** What invokes the relay: a DynamoDB stream batch (a wake-up; its records are not read) or the schedule. */
export type AuditRelayEvent = { readonly Records: readonly unknown[] } | { readonly source?: string };

/**
 * Builds the audit relay's Lambda handler. Every invocation, whether woken by the outbox's DynamoDB stream or by the
 * one-minute schedule, drains the outbox to S3 (see {@link OutboxRelay}) and then publishes
 * `AuditShippingLagSeconds`: the age of the oldest record still unshipped.
 *
 * A failed run from the schedule rejects, so it shows in the function's errors. A failed run from the stream does
 * not: its records are only wake-ups, and failing them would make Lambda retry the batch and hold up the stream,
 * while the schedule retries anyway and the lag metric keeps rising until the records are shipped.
 *
 * @example
 * ```ts
 * export const handler = createAuditRelayHandler(process.env);
 * ```
 * @throws ValidationError naming a bad setting, at construction (cold start).
 */
export function createAuditRelayHandler(
  env: NodeJS.ProcessEnv = process.env,
  options: AuditRelayHandlerOptions = {},
): (event: AuditRelayEvent) => Promise<RelayRunResult & { lagSeconds: number | undefined }> {
  const config = loadAuditRelayConfig(env);
  const clients = options.clients ?? createRelayClients(config);
  const clock = options.clock ?? systemClock;
  const metrics = options.metrics ?? new Metrics({ namespace: METRICS_NAMESPACE, serviceName: RELAY_SERVICE_NAME });
  const logger = options.logger ?? new Logger({ serviceName: RELAY_SERVICE_NAME });
  const relay = new OutboxRelay({
    store: new DynamoDbStore({ client: clients.dynamodb, tableName: config.tableName }),
    segments: new S3AuditSegments({ client: clients.s3, bucket: config.auditBucket, streamId: config.streamId }),
    clock,
    shards: DEFAULT_OUTBOX_SHARDS,
    ...(config.outboxScope !== undefined && { scope: config.outboxScope }),
    streamId: config.streamId,
  });

  return async (event) => {
    let result: RelayRunResult = { segments: 0, records: 0 };
    let failure: unknown;
    try {
      result = await relay.run();
    } catch (err) {
      failure = err;
    }
    let lagSeconds: number | undefined;
    try {
      lagSeconds = (await relay.oldestUnshippedAgeMs()) / 1000;
      metrics.addMetric(LAG_METRIC, MetricUnit.Seconds, lagSeconds);
    } catch (err) {
      // No lag data point: the alarm treats missing data as breaching.
      failure ??= err;
    }
    metrics.addMetric(SHIPPED_METRIC, MetricUnit.Count, result.records);
    metrics.publishStoredMetrics();
    if (failure !== undefined) {
      // Names and messages only: relay and SDK errors never quote record contents.
      const error = failure instanceof Error ? { name: failure.name, message: failure.message } : { name: 'unknown' };
      logger.error('audit relay run failed', { error, shipped: result.records });
      if (!('Records' in event)) throw failure;
    }
    return { ...result, lagSeconds };
  };
}

function createRelayClients(config: AuditRelayConfig): AuditRelayClients {
  const common = { region: config.region, ...(config.endpoint !== undefined && { endpoint: config.endpoint }) };
  return {
    dynamodb: new DynamoDBClient(common),
    s3: new S3Client({ ...common, forcePathStyle: config.endpoint !== undefined }),
  };
}
