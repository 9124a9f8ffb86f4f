import path from 'node:path';
import { Aws, Duration, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { outboxPartitionPrefix } from '../lambdas/core/audit/outbox/audit-outbox.ts';
import { RELAY_PARTITION } from '../lambdas/core/audit/outbox/outbox-relay.ts';
import { LAG_METRIC, METRICS_NAMESPACE, RELAY_SERVICE_NAME } from '../lambdas/entrypoints/lambda/deployment-names.ts';
import { REPO_ROOT } from './broker-bundling.ts';
import { CofferFunction } from './coffer-function.ts';

/** The relay Lambda's entry module. */
export const AUDIT_RELAY_ENTRY = path.join(REPO_ROOT, 'lambdas/entrypoints/lambda/audit-relay-handler.ts');
/** Key prefix of the audit segments (the relay's `S3AuditSegments` default). */
export const AUDIT_SEGMENT_PREFIX = 'audit/';
/**
 * Item actions of the relay: read the outbox and its head, conditionally update the head, delete shipped items
 * (a transaction is authorised per item by these).
 */
export const RELAY_TABLE_ACTIONS: readonly string[] = [
  'dynamodb:GetItem',
  'dynamodb:Query',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
];

export interface AuditOutboxRelayProps {
  /** The items table holding the outbox. Its stream must be enabled (`NEW_IMAGE` is enough). */
  readonly table: dynamodb.ITable;
  /** The Object-Locked audit bucket the chain is written to. */
  readonly auditBucket: s3.IBucket;
  /** The key encrypting the table (and its stream) and the bucket. */
  readonly storageKey: kms.IKey;
  /**
   * Where the lag alarm notifies.
   * @default - no action; the alarm still shows in the CloudWatch console
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Audit-shipping lag, in seconds, above which (for 3 consecutive minutes) the alarm fires.
   * @default 300
   */
  readonly lagAlarmSeconds?: number;
  /**
   * The writers' outbox scope: set in a replica region's deployment (to its region), whose global table also holds
   * the other regions' outboxes (`AuditOutboxOptions.scope`). @default none
   */
  readonly outboxScope?: string;
  /** @default 'coffer' (used in descriptions) */
  readonly deploymentName?: string;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /** @default RETAIN (the log group) */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The audit outbox relay: a Lambda that ships audit records from the items table's outbox to the hash-chained S3
 * log (`OutboxRelay`). It wakes on the table's stream when outbox items are inserted (filtered on the outbox
 * partitions, so the relay's own deletes and head updates do not wake it) and every minute as a backstop. Reserved
 * concurrency 1 keeps it a single writer (the relay's conditional head update keeps the chain linear even without).
 *
 * Its role can read and write only the outbox and relay-head partitions (`dynamodb:LeadingKeys`), read the table's
 * stream, and put/get objects under `audit/`. `AuditShippingLagSeconds` (namespace `Coffer`) is alarmed; missing
 * data counts as breaching, since a relay that stops running stops reporting.
 *
 * @example
 * ```ts
 * new AuditOutboxRelay(this, 'AuditRelay', { table, auditBucket, storageKey, alarmTopic });
 * ```
 */
export class AuditOutboxRelay extends Construct {
  readonly function: CofferFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly schedule: events.Rule;
  readonly lagAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: AuditOutboxRelayProps) {
    super(scope, id);
    const name = props.deploymentName ?? 'coffer';
    const streamArn = props.table.tableStreamArn;
    if (streamArn === undefined) {
      throw new Error('AuditOutboxRelay: the table needs a stream (stream: NEW_IMAGE) to wake the relay');
    }

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      ...(props.removalPolicy !== undefined && { removalPolicy: props.removalPolicy }),
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Coffer (${name}): the audit outbox relay`,
    });
    this.grantMinimum(props, streamArn);

    this.function = new CofferFunction(this, 'Function', {
      description: `Coffer (${name}): ships the audit outbox to the S3 audit log`,
      entry: AUDIT_RELAY_ENTRY,
      memorySize: 512,
      // A run writes at most 25 segments (a few round trips each); the schedule picks up what is left.
      timeout: Duration.seconds(60),
      reservedConcurrentExecutions: 1,
      role: this.role,
      logGroup: this.logGroup,
      environment: {
        COFFER_TABLE_NAME: props.table.tableName,
        COFFER_AUDIT_BUCKET: props.auditBucket.bucketName,
        ...(props.outboxScope !== undefined && { COFFER_AUDIT_OUTBOX_SCOPE: props.outboxScope }),
      },
    });
    const outboxPrefix = outboxPartitionPrefix(props.outboxScope);

    this.function.addEventSourceMapping('OutboxInserts', {
      eventSourceArn: streamArn,
      startingPosition: lambda.StartingPosition.LATEST,
      batchSize: 100,
      // Coalesces a burst of writes into one run.
      maxBatchingWindow: Duration.seconds(2),
      // The records are wake-ups; the handler does not fail them, and the schedule retries anyway.
      retryAttempts: 0,
      filters: [
        lambda.FilterCriteria.filter({
          eventName: lambda.FilterRule.isEqual('INSERT'),
          dynamodb: { Keys: { pk: { S: lambda.FilterRule.beginsWith(outboxPrefix) } } },
        }),
      ],
    });

    this.schedule = new events.Rule(this, 'Schedule', {
      description: `Coffer (${name}): backstop run of the audit outbox relay`,
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [
        new eventsTargets.LambdaFunction(this.function, { retryAttempts: 2, maxEventAge: Duration.minutes(5) }),
      ],
    });

    this.lagAlarm = new cloudwatch.Alarm(this, 'LagAlarm', {
      alarmDescription: `Coffer (${name}): audit records are waiting in the outbox longer than expected (S3 or the relay is failing)`,
      metric: new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: LAG_METRIC,
        dimensionsMap: { service: RELAY_SERVICE_NAME },
        statistic: cloudwatch.Stats.MAXIMUM,
        period: Duration.minutes(1),
      }),
      threshold: props.lagAlarmSeconds ?? 300,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    if (props.alarmTopic !== undefined) this.lagAlarm.addAlarmAction(new cloudwatchActions.SnsAction(props.alarmTopic));
  }

  private grantMinimum(props: AuditOutboxRelayProps, streamArn: string): void {
    const statements = [
      // Its own log group only: no AWSLambdaBasicExecutionRole (logs:CreateLogGroup on every group).
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
      new iam.PolicyStatement({
        actions: [...RELAY_TABLE_ACTIONS],
        resources: [props.table.tableArn],
        conditions: {
          'ForAllValues:StringLike': {
            'dynamodb:LeadingKeys': [`${outboxPartitionPrefix(props.outboxScope)}*`, RELAY_PARTITION],
          },
        },
      }),
      new iam.PolicyStatement({
        actions: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'],
        resources: [streamArn],
      }),
      new iam.PolicyStatement({ actions: ['dynamodb:ListStreams'], resources: ['*'] }),
      new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:GetObject'],
        resources: [props.auditBucket.arnForObjects(`${AUDIT_SEGMENT_PREFIX}*`)],
      }),
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
        resources: [props.storageKey.keyArn],
        conditions: {
          StringEquals: {
            'kms:ViaService': [`dynamodb.${Aws.REGION}.amazonaws.com`, `s3.${Aws.REGION}.amazonaws.com`],
          },
        },
      }),
    ];
    for (const statement of statements) this.role.addToPrincipalPolicy(statement);
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'dynamodb:ListStreams has no resource-level permissions; it lists stream ARNs only, no data.',
    });
    Validations.of(this.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${arnToken(props.auditBucket)}/${AUDIT_SEGMENT_PREFIX}*]`,
      reason:
        'Segment keys are generated by the relay (audit/<stream>/<seq range>.jsonl); the grant is PutObject and ' +
        'GetObject (read-back after a conditional-write conflict) under the audit/ prefix, and Object Lock forbids ' +
        'overwriting.',
    });
  }
}

/** How cdk-nag names the bucket's ARN in a finding: `<LogicalId.Arn>` for a bucket of this app, else the ARN. */
export function arnToken(bucket: s3.IBucket): string {
  const resolved = Stack.of(bucket).resolve(bucket.bucketArn) as unknown;
  const getAtt = (resolved as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
  if (getAtt !== undefined) return `<${getAtt[0]}.${getAtt[1]}>`;
  return typeof resolved === 'string' ? resolved : JSON.stringify(resolved);
}
