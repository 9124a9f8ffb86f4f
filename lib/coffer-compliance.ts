import path from 'node:path';
import { Aws, Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { COMPLIANCE_PARTITION } from '../lambdas/core/compliance/stored-report.ts';
import {
  AUDIT_CHAINS_FAILED_METRIC,
  AUDIT_GAPS_METRIC,
  COMPLIANCE_METRICS,
  COMPLIANCE_SERVICE_NAME,
  METRICS_NAMESPACE,
} from '../lambdas/entrypoints/lambda/deployment-names.ts';
import { arnToken } from './audit-outbox-relay.ts';
import { REPO_ROOT } from './broker-bundling.ts';
import { CofferFunction } from './coffer-function.ts';
import { functionRole } from './function-role.ts';

/** The compliance function's entry module. */
export const COMPLIANCE_ENTRY = path.join(REPO_ROOT, 'lambdas/entrypoints/lambda/compliance-handler.ts');
/** What the compliance function may do on the items table: read, nothing else. */
export const COMPLIANCE_TABLE_ACTIONS = ['dynamodb:GetItem', 'dynamodb:Query'] as const;
/**
 * How it stores its report for the broker, on the `compliance` partition only (`dynamodb:LeadingKeys`). The store's
 * single put is an `UpdateItem` (it increments the item's `rev` atomically), not a `PutItem`.
 */
export const COMPLIANCE_REPORT_WRITE_ACTIONS = ['dynamodb:UpdateItem'] as const;
/** Where the audit relay writes its segments (`S3AuditSegments`' default prefix). */
const AUDIT_PREFIX = 'audit/';

export interface CofferComplianceProps {
  readonly tableArn: string;
  readonly tableName: string;
  /** Required by the functions' configuration; the compliance function unwraps no data key (it reads no value). */
  readonly envelopeKeyArn: string;
  /** Encrypts the table, the audit bucket and the audit salt secret. */
  readonly storageKey: kms.IKey;
  readonly auditBucket: s3.IBucket;
  /** The audit HMAC key: tokens are named in the report by their accessor's HMAC, as the audit log names them. */
  readonly auditSaltSecret: secretsmanager.ISecret;
  /** Settings shared with the broker (the rotation ones, so the report has rotation figures). @default none */
  readonly environment?: Readonly<Record<string, string>>;
  /** How often the figures are computed and published. @default 1 hour */
  readonly schedule?: Duration;
  /** The window each report covers (COFFER_COMPLIANCE_WINDOW). @default '1d' */
  readonly window?: string;
  /** Where the alarms notify. @default no action */
  readonly alarmTopic?: sns.ITopic;
  /** @default 'coffer' */
  readonly deploymentName?: string;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /** @default RETAIN (the log group) */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The compliance report on AWS (docs/compliance.md): a function an EventBridge rule runs on a schedule computes the
 * same report as `GET /v1/sys/compliance` on the local node (same core code, the S3 audit log as its audit reader)
 * and publishes each figure as a CloudWatch metric (namespace `Coffer`, dimension `service=compliance`); a dashboard
 * charts them and alarms watch the ones an auditor acts on: rotation compliance below 100 %, audit gaps or a chain that
 * does not verify, an unauthorised-attempt rate of 5 % or more, a certificate expiring within 30 days, and the function
 * failing (no figures is no assurance).
 *
 * Its role reads the items table (GetItem, Query), the audit bucket's segments and the audit salt, and writes one
 * thing: its report, in the table's `compliance` partition, which the broker answers `GET /v1/sys/compliance` from.
 *
 * @example
 * ```ts
 * const compliance = new CofferCompliance(this, 'Compliance', { tableArn, tableName, envelopeKeyArn, storageKey,
 *   auditBucket, auditSaltSecret });
 * ```
 */
export class CofferCompliance extends Construct {
  readonly function: CofferFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly schedule: events.Rule;
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: CofferComplianceProps) {
    super(scope, id);
    const name = props.deploymentName ?? 'coffer';
    const rate = props.schedule ?? Duration.hours(1);

    ({ logGroup: this.logGroup, role: this.role } = functionRole(this, {
      description: `Coffer (${name}): the compliance function`,
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
    }));
    this.grantReads(props);

    this.function = new CofferFunction(this, 'Function', {
      description: `Coffer (${name}): computes the compliance report and publishes its figures`,
      entry: COMPLIANCE_ENTRY,
      memorySize: 1024,
      // A month of audit objects is read in one run.
      timeout: Duration.minutes(5),
      reservedConcurrentExecutions: 1,
      role: this.role,
      logGroup: this.logGroup,
      environment: {
        ...props.environment,
        COFFER_TABLE_NAME: props.tableName,
        COFFER_ENVELOPE_KEY_ARN: props.envelopeKeyArn,
        COFFER_AUDIT_BUCKET: props.auditBucket.bucketName,
        COFFER_AUDIT_SALT_SECRET_ARN: props.auditSaltSecret.secretArn,
        COFFER_DEPLOYMENT_NAME: name,
        COFFER_COMPLIANCE_WINDOW: props.window ?? '1d',
        POWERTOOLS_SERVICE_NAME: COMPLIANCE_SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      },
    });

    this.schedule = new events.Rule(this, 'Schedule', {
      description: `Coffer (${name}): compute and publish the compliance figures`,
      schedule: events.Schedule.rate(rate),
      // The next run publishes fresh figures: a retry would only publish them twice.
      targets: [
        new eventsTargets.LambdaFunction(this.function, { retryAttempts: 0, maxEventAge: Duration.minutes(10) }),
      ],
    });

    // Two runs per period: a run that comes a little late still lands in every period, so an alarm that treats missing
    // data as breaching fires only when runs stop.
    const period = Duration.seconds(rate.toSeconds() * 2);
    const metric = (metricName: string, statistic: string = cloudwatch.Stats.MAXIMUM) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: COMPLIANCE_SERVICE_NAME },
        statistic,
        period,
      });
    const m = COMPLIANCE_METRICS;
    const alarm = (
      alarmId: string,
      description: string,
      props2: Omit<cloudwatch.AlarmProps, 'alarmDescription' | 'evaluationPeriods'>,
    ) =>
      new cloudwatch.Alarm(this, alarmId, {
        ...props2,
        alarmDescription: `Coffer (${name}): ${description}`,
        evaluationPeriods: 1,
      });
    this.alarms = [
      alarm('RotationComplianceAlarm', 'a secret is past its rotation window (rotation compliance below 100 %)', {
        metric: metric(m.rotation_compliance, cloudwatch.Stats.MINIMUM),
        threshold: 100,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        // No figure: no secret has rotation configured.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      alarm('AuditGapsAlarm', 'a request lacks one of its two audit records', {
        metric: metric(AUDIT_GAPS_METRIC),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      }),
      alarm('AuditChainAlarm', 'an audit hash chain of the window does not verify (altered or missing records)', {
        metric: metric(AUDIT_CHAINS_FAILED_METRIC),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      }),
      alarm('UnauthorisedAttemptsAlarm', '5 % or more of the answers refused the caller', {
        metric: metric(m.unauthorised_attempt_rate),
        threshold: 5,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      alarm('ExpiringCertificatesAlarm', 'a certificate the PKI engine issued expires within 30 days', {
        metric: metric(m.expiring_certificates),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      alarm('ComplianceFunctionErrorsAlarm', 'the compliance function failed: its figures are stale', {
        metric: this.function.metricErrors({ period, statistic: cloudwatch.Stats.SUM }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    ];
    if (props.alarmTopic !== undefined) {
      const action = new cloudwatchActions.SnsAction(props.alarmTopic);
      for (const a of this.alarms) a.addAlarmAction(action);
    }

    const graph = (title: string, names: readonly string[], unit: string) =>
      new cloudwatch.GraphWidget({
        title,
        width: 12,
        left: names.map((n) => metric(n)),
        leftYAxis: unit === 'percent' ? { min: 0, max: 100, label: '%' } : { min: 0, label: unit },
      });
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `${name}-compliance`,
      defaultInterval: Duration.days(30),
      widgets: [
        [
          new cloudwatch.TextWidget({
            width: 24,
            height: 2,
            markdown:
              `# Coffer (${name}) compliance\nEvery figure and its definition: docs/compliance.md. ` +
              `Computed every ${rate.toHumanString()} over the last ${props.window ?? '1d'}.`,
          }),
        ],
        [
          graph(
            'Shares (ok = 100 %)',
            [m.rotation_compliance, m.audit_completeness, m.token_expiry_compliance, m.rotation_success_rate],
            'percent',
          ),
          graph('Logins and refusals', [m.authentication_success_rate, m.unauthorised_attempt_rate], 'percent'),
        ],
        [
          graph(
            'Needs attention (ok = 0)',
            [
              m.rotation_overdue,
              m.expiring_certificates,
              m.expired_secrets,
              AUDIT_GAPS_METRIC,
              AUDIT_CHAINS_FAILED_METRIC,
            ],
            'count',
          ),
          graph('Hygiene', [m.stale_secrets, m.secrets_without_owner, m.top_denied_principals], 'count'),
        ],
        [
          graph('Mean time to rotate', [m.mean_time_to_rotate], 'seconds'),
          new cloudwatch.AlarmStatusWidget({ title: 'Compliance alarms', width: 12, alarms: this.alarms }),
        ],
      ],
    });
  }

  /** Reads only: the table's items, the audit bucket's segments, the audit salt, and the storage key for them. */
  private grantReads(props: CofferComplianceProps): void {
    const statements = [
      new iam.PolicyStatement({ actions: [...COMPLIANCE_TABLE_ACTIONS], resources: [props.tableArn] }),
      // IAM cannot name an item, but it can name the partition key: the report's partition and no other.
      new iam.PolicyStatement({
        actions: [...COMPLIANCE_REPORT_WRITE_ACTIONS],
        resources: [props.tableArn],
        conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [COMPLIANCE_PARTITION] } },
      }),
      // The write is to a table under the storage key, so it may need the key as every writer of the table has it
      // (the broker's grantStore); through DynamoDB only, so no S3 object or secret is written with it.
      new iam.PolicyStatement({
        actions: ['kms:Encrypt', 'kms:GenerateDataKey'],
        resources: [props.storageKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${Aws.REGION}.amazonaws.com` } },
      }),
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [props.auditBucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${AUDIT_PREFIX}*`, AUDIT_PREFIX] } },
      }),
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [props.auditBucket.arnForObjects(`${AUDIT_PREFIX}*`)],
      }),
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:DescribeKey'],
        resources: [props.storageKey.keyArn],
        conditions: {
          StringEquals: {
            'kms:ViaService': [
              `dynamodb.${Aws.REGION}.amazonaws.com`,
              `s3.${Aws.REGION}.amazonaws.com`,
              `secretsmanager.${Aws.REGION}.amazonaws.com`,
            ],
          },
        },
      }),
    ];
    for (const statement of statements) this.role.addToPrincipalPolicy(statement);
    props.auditSaltSecret.grantRead(this.role);
    Validations.of(this.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${arnToken(props.auditBucket)}/${AUDIT_PREFIX}*]`,
      reason:
        'Segment keys are generated by the audit relay (audit/<stream>/<seq range>.jsonl): the report reads the ' +
        'segments of its window, GetObject only, under the audit/ prefix.',
    });
  }
}
