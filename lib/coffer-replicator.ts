import path from 'node:path';
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { REPO_ROOT } from './broker-bundling.ts';
import { CofferFunction } from './coffer-function.ts';
import { functionRole } from './function-role.ts';

/** The replicator Lambda's entry module. */
export const REPLICATOR_ENTRY = path.join(REPO_ROOT, 'lambdas/entrypoints/lambda/replicator-handler.ts');

export interface CofferReplicatorProps {
  /** The global items table (this region's replica). Its stream wakes the replicator. */
  readonly table: dynamodb.ITable;
  /** The envelope key: each version is re-sealed under its replica's ARN. */
  readonly envelopeKeyArn: string;
  /** The store partition of this region's secret records: only writes to it are this region's to replicate. */
  readonly secretsPartition: string;
  /** Environment the store needs to name partitions alike in every region (`COFFER_STORE_HOME_REGION`). */
  readonly environment?: Record<string, string>;
  /** @default 'coffer' (used in descriptions) */
  readonly deploymentName?: string;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /** @default RETAIN (the log group) */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Secrets Manager replication on AWS: the same `SecretReplicator` the local node runs in process, woken by the global
 * table's stream when a secret record of THIS region changes (each region replicates the primaries it holds, so two
 * regions never copy the same secret), and by a one-minute schedule that reconciles whatever is still behind (a
 * region that was down, a stream batch that failed). A write to a replicated primary marks its replicas `InProgress`
 * in the same transaction, so nothing depends on the stream being delivered: the schedule finds the work in the
 * table.
 *
 * Its role starts with its own log group; {@link CofferControlPlane} grants the table and the envelope key.
 */
export class CofferReplicator extends Construct {
  readonly function: CofferFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly schedule: events.Rule;

  constructor(scope: Construct, id: string, props: CofferReplicatorProps) {
    super(scope, id);
    const name = props.deploymentName ?? 'coffer';
    const streamArn = props.table.tableStreamArn;
    if (streamArn === undefined) throw new Error('CofferReplicator: the table needs a stream');

    ({ logGroup: this.logGroup, role: this.role } = functionRole(this, {
      description: `Coffer (${name}): the secret replicator`,
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
    }));

    this.function = new CofferFunction(this, 'Function', {
      description: `Coffer (${name}): replicates secrets to their replica regions`,
      entry: REPLICATOR_ENTRY,
      memorySize: 512,
      timeout: Duration.seconds(60),
      role: this.role,
      logGroup: this.logGroup,
      environment: {
        COFFER_TABLE_NAME: props.table.tableName,
        COFFER_ENVELOPE_KEY_ARN: props.envelopeKeyArn,
        ...props.environment,
      },
    });

    this.function.addEventSourceMapping('SecretWrites', {
      eventSourceArn: streamArn,
      startingPosition: lambda.StartingPosition.LATEST,
      batchSize: 100,
      maxBatchingWindow: Duration.seconds(1),
      // A failed batch is not retried from the stream: the schedule reconciles from the table.
      retryAttempts: 0,
      filters: [
        lambda.FilterCriteria.filter({
          dynamodb: { Keys: { pk: { S: lambda.FilterRule.isEqual(props.secretsPartition) } } },
        }),
      ],
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'],
        resources: [streamArn],
      }),
    );
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['dynamodb:ListStreams'], resources: ['*'] }));

    this.schedule = new events.Rule(this, 'Schedule', {
      description: `Coffer (${name}): reconcile replicas that are behind`,
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [
        new eventsTargets.LambdaFunction(this.function, { retryAttempts: 0, maxEventAge: Duration.minutes(1) }),
      ],
    });
  }
}
