import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct, Node } from 'constructs';
import { CofferControlPlane, type CofferControlPlaneProps } from './coffer-control-plane.ts';

/** Configuration of {@link CofferStack}. */
export interface CofferStackProps extends StackProps, Omit<CofferControlPlaneProps, 'alarmTopic'> {
  /**
   * ARN of an existing SNS topic the stack's alarms notify.
   * @default - alarms without actions
   */
  readonly alarmTopicArn?: string;
}

/** The settings `bin/cdk.ts` reads from CDK context (`cdk.json` or `-c key=value`). */
export interface CofferContextSettings {
  /** `coffer:name`. @default 'coffer' */
  readonly name: string;
  /** `coffer:auditRetentionDays`. @default 365 */
  readonly auditRetentionDays: number;
  /** `coffer:alarmTopicArn`. @default - none */
  readonly alarmTopicArn?: string;
}

const SNS_TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/;

/**
 * Reads and checks Coffer's settings from CDK context. Values given on the command line (`-c coffer:auditRetentionDays=30`)
 * arrive as strings, values from `cdk.json` as JSON types; both are accepted. A bad value fails synthesis with a
 * message naming the key, rather than surfacing later as a CloudFormation error.
 *
 * @example
 * const settings = cofferSettingsFromContext(app.node);
 */
export function cofferSettingsFromContext(node: Node): CofferContextSettings {
  const name = node.tryGetContext('coffer:name') ?? 'coffer';
  if (typeof name !== 'string' || name.length === 0) {
    throw new Error(`context coffer:name must be a non-empty string (got ${JSON.stringify(name)})`);
  }
  const rawDays = node.tryGetContext('coffer:auditRetentionDays') ?? 365;
  const auditRetentionDays = typeof rawDays === 'string' && /^\d+$/.test(rawDays) ? Number(rawDays) : rawDays;
  if (typeof auditRetentionDays !== 'number' || !Number.isInteger(auditRetentionDays) || auditRetentionDays < 1) {
    throw new Error(
      `context coffer:auditRetentionDays must be a positive whole number of days (got ${JSON.stringify(rawDays)})`,
    );
  }
  const alarmTopicArn = node.tryGetContext('coffer:alarmTopicArn');
  if (alarmTopicArn === undefined || alarmTopicArn === '') return { name, auditRetentionDays };
  if (typeof alarmTopicArn !== 'string' || !SNS_TOPIC_ARN.test(alarmTopicArn)) {
    throw new Error(`context coffer:alarmTopicArn must be an SNS topic ARN (got ${JSON.stringify(alarmTopicArn)})`);
  }
  return { name, auditRetentionDays, alarmTopicArn };
}

/**
 * Coffer's AWS deployment. For now it holds the control-plane foundation (keys, items table, audit storage); the API
 * and broker functions join it once their bundles exist.
 *
 * @example
 * new CofferStack(app, 'coffer', { name: 'coffer', auditRetentionDays: 365 });
 */
export class CofferStack extends Stack {
  readonly controlPlane: CofferControlPlane;

  constructor(scope: Construct, id: string, props: CofferStackProps = {}) {
    super(scope, id, props);
    const alarmTopic = props.alarmTopicArn
      ? sns.Topic.fromTopicArn(this, 'AlarmTopic', props.alarmTopicArn)
      : undefined;
    this.controlPlane = new CofferControlPlane(this, 'ControlPlane', {
      name: props.name,
      auditRetentionDays: props.auditRetentionDays,
      removalPolicy: props.removalPolicy,
      alarmTopic,
    });

    new CfnOutput(this, 'TableName', {
      description: 'DynamoDB items table of the store',
      value: this.controlPlane.table.tableName,
    });
    new CfnOutput(this, 'EnvelopeKeyArn', {
      description: 'KMS key that wraps per-version data keys',
      value: this.controlPlane.envelopeKey.keyArn,
    });
    new CfnOutput(this, 'AuditBucketName', {
      description: 'Object-Locked S3 bucket for audit log segments',
      value: this.controlPlane.auditBucket.bucketName,
    });
  }
}
