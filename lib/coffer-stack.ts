import { readFileSync } from 'node:fs';
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct, Node } from 'constructs';
import { EgressPolicy } from '../lambdas/core/egress/egress-policy.ts';
import { CofferControlPlane, type CofferControlPlaneProps } from './coffer-control-plane.ts';
import { validateReplicaRegions } from './coffer-key-replicas.ts';

/** Configuration of {@link CofferStack}. */
export interface CofferStackProps
  extends StackProps,
    Omit<CofferControlPlaneProps, 'alarmTopic' | 'cloudHsmKmsUserPasswordSecret'> {
  /** ARN of the Secrets Manager secret holding the CloudHSM `kmsuser` password (with `cloudHsmClusterId`). */
  readonly cloudHsmPasswordSecretArn?: string;
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
  /** `coffer:adminRoleArns`: a JSON array or a comma-separated string of IAM ARNs. @default - none */
  readonly adminRoleArns?: readonly string[];
  /** `coffer:assumableRoleArns`: a JSON array or a comma-separated string of IAM role ARNs. @default - none */
  readonly assumableRoleArns?: readonly string[];
  /** `coffer:egressAllow`: a JSON array or a comma-separated string of egress allow-list entries. @default - none */
  readonly egressAllow?: readonly string[];
  /** `coffer:cloudHsmClusterId`. @default - no CloudHSM */
  readonly cloudHsmClusterId?: string;
  /** Read from the PEM file named by `coffer:cloudHsmTrustAnchorFile`. */
  readonly cloudHsmTrustAnchorCertificate?: string;
  /** `coffer:cloudHsmPasswordSecretArn`. */
  readonly cloudHsmPasswordSecretArn?: string;
  /** `coffer:replicaRegions`: a JSON array or a comma-separated string of AWS regions. @default - none */
  readonly replicaRegions?: readonly string[];
}

const ADMIN_ARN = /^arn:aws[a-z-]*:(?:iam|sts)::\d{12}:[^*\s,]+$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$/;
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
  const adminRoleArns = arnsFromContext(
    node.tryGetContext('coffer:adminRoleArns'),
    ADMIN_ARN,
    'coffer:adminRoleArns must be IAM or STS ARNs without *',
  );
  const assumableRoleArns = arnsFromContext(
    node.tryGetContext('coffer:assumableRoleArns'),
    ROLE_ARN,
    'coffer:assumableRoleArns must be exact IAM role ARNs',
  );
  const egressAllow = egressFromContext(node.tryGetContext('coffer:egressAllow'));
  const alarmTopicArn = node.tryGetContext('coffer:alarmTopicArn');
  const settings = {
    name,
    auditRetentionDays,
    ...(adminRoleArns.length > 0 && { adminRoleArns }),
    ...(assumableRoleArns.length > 0 && { assumableRoleArns }),
    ...(egressAllow.length > 0 && { egressAllow }),
    ...cloudHsmFromContext(node),
    ...replicaRegionsFromContext(node.tryGetContext('coffer:replicaRegions')),
  };
  if (alarmTopicArn === undefined || alarmTopicArn === '') return settings;
  if (typeof alarmTopicArn !== 'string' || !SNS_TOPIC_ARN.test(alarmTopicArn)) {
    throw new Error(`context coffer:alarmTopicArn must be an SNS topic ARN (got ${JSON.stringify(alarmTopicArn)})`);
  }
  return { ...settings, alarmTopicArn };
}

function cloudHsmFromContext(node: Node): Partial<CofferContextSettings> {
  const clusterId = node.tryGetContext('coffer:cloudHsmClusterId');
  if (clusterId === undefined || clusterId === '') return {};
  const file = node.tryGetContext('coffer:cloudHsmTrustAnchorFile');
  const secretArn = node.tryGetContext('coffer:cloudHsmPasswordSecretArn');
  if (typeof clusterId !== 'string' || typeof file !== 'string' || typeof secretArn !== 'string') {
    throw new Error(
      'context coffer:cloudHsmClusterId needs coffer:cloudHsmTrustAnchorFile (a PEM file) and coffer:cloudHsmPasswordSecretArn',
    );
  }
  if (!SECRET_ARN.test(secretArn)) {
    throw new Error(
      `context coffer:cloudHsmPasswordSecretArn must be a Secrets Manager secret ARN (got ${JSON.stringify(secretArn)})`,
    );
  }
  return {
    cloudHsmClusterId: clusterId,
    cloudHsmTrustAnchorCertificate: readFileSync(file, 'utf8'),
    cloudHsmPasswordSecretArn: secretArn,
  };
}

function replicaRegionsFromContext(raw: unknown): Pick<CofferContextSettings, 'replicaRegions'> {
  if (raw === undefined || raw === '') return {};
  const list = typeof raw === 'string' ? raw.split(',').map((region) => region.trim()) : raw;
  if (!Array.isArray(list) || list.some((region) => typeof region !== 'string')) {
    throw new Error(
      `context coffer:replicaRegions must be a JSON array or comma-separated (got ${JSON.stringify(raw)})`,
    );
  }
  const regions = list.filter((region: string) => region !== '');
  try {
    validateReplicaRegions(regions, '');
  } catch (err) {
    throw new Error(`context coffer:${err instanceof Error ? err.message : String(err)}`);
  }
  return regions.length === 0 ? {} : { replicaRegions: regions };
}

function egressFromContext(raw: unknown): string[] {
  if (raw === undefined || raw === '') return [];
  const list = typeof raw === 'string' ? raw.split(',').map((entry) => entry.trim()) : raw;
  if (!Array.isArray(list) || list.some((entry) => typeof entry !== 'string')) {
    throw new Error(`context coffer:egressAllow must be a JSON array or comma-separated (got ${JSON.stringify(raw)})`);
  }
  const entries = list.filter((entry: string) => entry !== '');
  try {
    EgressPolicy.parse(entries);
  } catch (err) {
    throw new Error(`context coffer:egressAllow: ${err instanceof Error ? err.message : String(err)}`);
  }
  return entries;
}

function arnsFromContext(raw: unknown, pattern: RegExp, rule: string): string[] {
  if (raw === undefined || raw === '') return [];
  const list = typeof raw === 'string' ? raw.split(',').map((arn) => arn.trim()) : raw;
  if (!Array.isArray(list) || list.some((arn) => typeof arn !== 'string' || !pattern.test(arn))) {
    throw new Error(`context ${rule} (a JSON array or comma-separated; got ${JSON.stringify(raw)})`);
  }
  return list.filter((arn: string) => arn !== '');
}

/**
 * Coffer's AWS deployment: one {@link CofferControlPlane} (keys, items table, audit storage, broker function, REST
 * API, CloudTrail trail, alarms and dashboard) and its outputs.
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
    const { alarmTopicArn: _arn, cloudHsmPasswordSecretArn, ...planeProps } = props;
    const cloudHsmKmsUserPasswordSecret =
      cloudHsmPasswordSecretArn === undefined
        ? undefined
        : secretsmanager.Secret.fromSecretCompleteArn(this, 'CloudHsmPassword', cloudHsmPasswordSecretArn);
    this.controlPlane = new CofferControlPlane(this, 'ControlPlane', {
      ...planeProps,
      alarmTopic,
      cloudHsmKmsUserPasswordSecret,
    });

    new CfnOutput(this, 'TableName', {
      description: 'DynamoDB items table of the store',
      value: this.controlPlane.table.tableName,
    });
    new CfnOutput(this, 'EnvelopeKeyArn', {
      description: 'KMS key that wraps per-version data keys',
      value: this.controlPlane.envelopeKey.keyArn,
    });
    new CfnOutput(this, 'ApiUrl', {
      description: 'Base URL of the Coffer API (native routes under v1/, Secrets Manager protocol at the root)',
      value: this.controlPlane.api.restApi.url,
    });
    new CfnOutput(this, 'AuditBucketName', {
      description: 'Object-Locked S3 bucket for audit log segments',
      value: this.controlPlane.auditBucket.bucketName,
    });
  }
}

/**
 * A multi-region deployment: the primary `CofferStack` in `region` with `replicaRegions`, and one `CofferStack` with
 * `replicaOf` in each replica region (its broker, API, audit log and alarms, over the global table's replica there).
 * The replica stacks take the table name and key ids across regions (`crossRegionReferences`), so both account and
 * region must be explicit.
 *
 * @example
 * cofferMultiRegion(app, { name: 'coffer', replicaRegions: ['us-west-2'] }, { account: '111122223333', region: 'us-east-1' });
 */
export function cofferMultiRegion(
  scope: Construct,
  props: CofferStackProps & { readonly name: string; readonly replicaRegions: readonly string[] },
  env: { readonly account: string; readonly region: string },
): { primary: CofferStack; replicas: CofferStack[] } {
  const primary = new CofferStack(scope, props.name, { ...props, env, crossRegionReferences: true });
  const plane = primary.controlPlane;
  const { replicaRegions: _regions, cloudHsmClusterId: _hsm, ...shared } = props;
  const replicas = props.replicaRegions.map((region) => {
    const replica = new CofferStack(scope, `${props.name}-${region}`, {
      ...shared,
      description: `Coffer (${props.name}): replica region ${region} of ${env.region}`,
      env: { account: env.account, region },
      crossRegionReferences: true,
      replicaOf: {
        primaryRegion: env.region,
        tableName: plane.table.tableName,
        envelopeKeyId: plane.envelopeKey.keyId,
        storageKeyId: plane.storageKey.keyId,
      },
    });
    replica.addStackDependency(primary);
    return replica;
  });
  return { primary, replicas };
}
