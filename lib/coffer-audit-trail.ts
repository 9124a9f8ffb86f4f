import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as cloudtrail from 'aws-cdk-lib/aws-cloudtrail';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

/** Configuration of {@link CofferAuditTrail}. */
export interface CofferAuditTrailProps {
  readonly deploymentName: string;
  /** The items table: its data events (GetItem, Query, UpdateItem, ...) are logged. */
  readonly tableArn: string;
  /** The audit bucket: its object-level events (PutObject, GetObject, DeleteObject) are logged. */
  readonly auditBucketArn: string;
  /** Receives the trail bucket's server access logs. */
  readonly accessLogBucket: s3.IBucket;
  /**
   * Log the table's data events (one per item-level call: about two per secret read). They cost $0.10 per 100,000;
   * see docs/COST.md. Management events, KMS calls included, are always logged.
   * @default true
   */
  readonly tableDataEvents?: boolean;
  /** How long trail log files are kept. */
  readonly retentionDays: number;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * A CloudTrail trail for the deployment: every management event (which includes every KMS call on the envelope and
 * storage keys: `GenerateDataKey`, `Decrypt`, `ReEncrypt` are management events in CloudTrail, there is no KMS data
 * event type), plus the data events of the items table and the audit bucket. Log-file validation is on, so a digest
 * chain proves the log files were not changed after delivery.
 *
 * One trail selects with advanced event selectors only (CloudTrail refuses basic and advanced on one trail).
 */
export class CofferAuditTrail extends Construct {
  readonly trail: cloudtrail.Trail;
  readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: CofferAuditTrailProps) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      // SSE-S3: CloudTrail writes with its service principal, and a KMS key here would need `kms:GenerateDataKey*` for
      // CloudTrail in a key policy. Integrity comes from log-file validation, not from the key.
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      lifecycleRules: [
        {
          id: 'expire-trail-logs',
          expiration: Duration.days(props.retentionDays),
          noncurrentVersionExpiration: Duration.days(1),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
      serverAccessLogsBucket: props.accessLogBucket,
      serverAccessLogsPrefix: 'trail-bucket/',
      removalPolicy: props.removalPolicy,
    });

    this.trail = new cloudtrail.Trail(this, 'Trail', {
      bucket: this.bucket,
      enableFileValidation: true,
      includeGlobalServiceEvents: true,
      isMultiRegionTrail: true,
      sendToCloudWatchLogs: false,
    });
    const cfnTrail = this.trail.node.defaultChild as cloudtrail.CfnTrail;
    // The L2 renders an empty basic selector list; CloudTrail takes one kind of selector per trail.
    cfnTrail.addPropertyDeletionOverride('EventSelectors');
    const tableSelector: cloudtrail.CfnTrail.AdvancedEventSelectorProperty = {
      name: 'Items table data events',
      fieldSelectors: [
        { field: 'eventCategory', equalTo: ['Data'] },
        { field: 'resources.type', equalTo: ['AWS::DynamoDB::Table'] },
        { field: 'resources.ARN', equalTo: [props.tableArn] },
      ],
    };
    cfnTrail.advancedEventSelectors = [
      {
        name: 'All management events, KMS included',
        fieldSelectors: [{ field: 'eventCategory', equalTo: ['Management'] }],
      },
      ...(props.tableDataEvents === false ? [] : [tableSelector]),
      {
        name: 'Audit bucket object events',
        fieldSelectors: [
          { field: 'eventCategory', equalTo: ['Data'] },
          { field: 'resources.type', equalTo: ['AWS::S3::Object'] },
          { field: 'resources.ARN', startsWith: [`${props.auditBucketArn}/`] },
        ],
      },
    ];
  }
}
