import { Aws, Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';

/** An AWS region name (`us-east-1`, `eu-central-2`, `us-gov-west-1`). */
const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d$/;

/** Checks a list of replica regions at synth time: well-formed, no duplicates, not the deployment's own region. */
export function validateReplicaRegions(regions: readonly string[], ownRegion: string): void {
  const seen = new Set<string>();
  for (const region of regions) {
    if (!REGION.test(region)) throw new Error(`replicaRegions: '${region}' is not an AWS region name`);
    if (seen.has(region)) throw new Error(`replicaRegions: '${region}' is listed twice`);
    if (!Token.isUnresolved(ownRegion) && region === ownRegion) {
      throw new Error(`replicaRegions: '${region}' is this deployment's own region`);
    }
    seen.add(region);
  }
}

/** Configuration of {@link CofferKeyReplicas}. */
export interface CofferKeyReplicasProps {
  /** Multi-region primary keys (`multiRegion: true`) to replicate. */
  readonly keys: readonly kms.Key[];
  /** The regions that get a replica of each key. */
  readonly regions: readonly string[];
  readonly deploymentName: string;
}

/**
 * Replicas of KMS multi-region keys in other regions, made from the primary's region by `kms:ReplicateKey` (the call
 * is made on the primary key, so one stack owns every replica, and the replica exists before the global table replica
 * that is encrypted with it). A replica shares its primary's key id and key material: a data key wrapped in the
 * primary region unwraps in a replica region without a cross-region call, which is what a replica region's broker
 * does with the versions Coffer's replicator copies there.
 *
 * Removing the construct schedules the replicas' deletion (30 days, the longest window), as deleting the stack does
 * for the primary key.
 */
export class CofferKeyReplicas extends Construct {
  constructor(scope: Construct, id: string, props: CofferKeyReplicasProps) {
    super(scope, id);
    validateReplicaRegions(props.regions, Stack.of(this).region);
    props.keys.forEach((key, index) => {
      for (const region of props.regions) {
        const replicaArn = replicaKeyArn(key, region);
        const resource = new cr.AwsCustomResource(this, `Key${index}${pascal(region)}`, {
          onCreate: {
            service: 'KMS',
            action: 'replicateKey',
            parameters: {
              KeyId: key.keyArn,
              ReplicaRegion: region,
              Description: `Coffer (${props.deploymentName}): replica in ${region}`,
            },
            physicalResourceId: cr.PhysicalResourceId.of(replicaArn),
          },
          onDelete: {
            service: 'KMS',
            action: 'scheduleKeyDeletion',
            region,
            parameters: { KeyId: replicaArn, PendingWindowInDays: 30 },
          },
          installLatestAwsSdk: false,
          policy: cr.AwsCustomResourcePolicy.fromStatements([
            new iam.PolicyStatement({
              // ReplicateKey needs CreateKey and TagResource in the replica region besides the primary's permission.
              actions: ['kms:ReplicateKey', 'kms:CreateKey', 'kms:TagResource', 'kms:ScheduleKeyDeletion'],
              resources: [key.keyArn, replicaArn],
            }),
            new iam.PolicyStatement({
              actions: ['kms:CreateKey'],
              resources: ['*'],
              conditions: { StringEquals: { 'aws:RequestedRegion': region } },
            }),
          ]),
        });
        resource.node.addDependency(key);
        Validations.of(resource).acknowledge({
          id: 'AwsSolutions-IAM5[Resource::*]',
          reason:
            'kms:ReplicateKey needs kms:CreateKey, which has no resource to scope to; it is limited to the replica region',
        });
      }
    });
    acknowledgeCustomResourceProvider(this);
  }
}

/**
 * Acknowledges what cdk-nag finds in the one provider function every `AwsCustomResource` of a stack shares (CDK's own
 * singleton): its role has the AWS-managed basic execution policy, which only lets it write its logs.
 */
export function acknowledgeCustomResourceProvider(scope: Construct): void {
  const provider = Stack.of(scope).node.tryFindChild(
    `AWS${cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace(/-/g, '')}`,
  );
  if (provider === undefined) return;
  Validations.of(provider).acknowledge({
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    reason: "CDK's AwsCustomResource provider: the managed policy only lets it write its own logs",
  });
}

/** The ARN of `key`'s replica in `region`: a multi-region replica keeps its primary's key id. */
export function replicaKeyArn(key: kms.IKey, region: string): string {
  return `arn:${Aws.PARTITION}:kms:${region}:${Aws.ACCOUNT_ID}:key/${key.keyId}`;
}

function pascal(region: string): string {
  return region
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}
