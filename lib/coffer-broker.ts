import { Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { CA_KEY_TAG, METRICS_NAMESPACE, SERVICE_NAME } from '../lambdas/entrypoints/lambda/deployment-names.ts';
import { BROKER_ENTRY } from './broker-bundling.ts';
import { CofferFunction } from './coffer-function.ts';
import { functionRole } from './function-role.ts';

/** An exact IAM/STS ARN, as `COFFER_BOOTSTRAP_ADMIN_ARNS` accepts it (checked again by the function at cold start). */
const ADMIN_ARN = /^arn:aws[a-z-]*:(?:iam|sts)::\d{12}:[^*\s,]+$/;
/** An exact IAM role ARN the STS engine may assume (`aws/<role>` dynamic credentials). */
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
/** The tags `KmsCaKeyStore` puts on a CA key it creates: the deployment's and the CA's label. */
const CA_KEY_TAG_KEYS = [CA_KEY_TAG, 'coffer:pki-ca'];

/** What the broker needs from the rest of the control plane. */
export interface CofferBrokerProps {
  /** The deployment name, used in descriptions. */
  readonly deploymentName: string;
  readonly tableName: string;
  readonly envelopeKeyArn: string;
  readonly auditBucketName: string;
  /** Encrypts the audit salt secret. */
  readonly storageKey: kms.IKey;
  /** IAM principals mapped to Coffer's `root` policy (see `COFFER_BOOTSTRAP_ADMIN_ARNS`). @default none */
  readonly adminRoleArns?: readonly string[];
  /** @default 1024 (more memory is also more CPU: a faster cold start) */
  readonly memorySize?: number;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /** @default - unreserved */
  readonly reservedConcurrentExecutions?: number;
  /**
   * IAM roles the STS engine may assume for `aws/<role>` dynamic credentials (exact role ARNs).
   * @default none - no `sts:AssumeRole` grant, and issuing `aws/<role>` credentials fails with access denied
   */
  readonly assumableRoleArns?: readonly string[];
  readonly removalPolicy: RemovalPolicy;
  /** Where the broker runs when it must reach a private network (LDAP directories). @default no VPC */
  readonly network?: BrokerNetwork;
}

/**
 * The broker's place in a VPC: the one way an LDAP auth method can reach a directory (which is never on the public
 * internet). Its subnets need a route to AWS's APIs (NAT or VPC endpoints for DynamoDB, KMS, Secrets Manager, STS).
 */
export interface BrokerNetwork {
  readonly vpc: ec2.IVpc;
  /** @default the VPC's private subnets */
  readonly subnets?: ec2.SubnetSelection;
  /** @default a group CDK creates, allowing all outbound traffic */
  readonly securityGroups?: ec2.ISecurityGroup[];
}

/**
 * The broker Lambda (nodejs22.x, arm64, esbuild ESM bundle of `lambdas/entrypoints/lambda/handler.ts`) with its own
 * role, log group and the audit-salt secret. The role starts empty except for writing its own logs and reading the
 * salt: {@link CofferControlPlane} grants the table and envelope-key access (audit records go to the table's outbox).
 */
export class CofferBroker extends Construct {
  readonly function: CofferFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  /** 64 random alphanumeric characters (valid base64 of 48 bytes) keying the audit HMACs. */
  readonly auditSaltSecret: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: CofferBrokerProps) {
    super(scope, id);
    const adminArns = [...(props.adminRoleArns ?? [])];
    for (const arn of adminArns) {
      if (!ADMIN_ARN.test(arn)) {
        throw new Error(
          `CofferControlPlane: adminRoleArns must be exact IAM or STS ARNs without * (got ${JSON.stringify(arn)})`,
        );
      }
    }

    this.auditSaltSecret = new secretsmanager.Secret(this, 'AuditSalt', {
      description: `Coffer (${props.deploymentName}): key of the audit log HMACs; read by the broker at cold start`,
      encryptionKey: props.storageKey,
      // 64 characters of [A-Za-z0-9] are valid base64 (no padding needed) of 48 bytes with ~381 bits of entropy.
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
      removalPolicy: props.removalPolicy,
    });
    Validations.of(this.auditSaltSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The audit salt keys the HMACs already written to Object-Locked audit logs; rotating it would make old and new ' +
        'hashes of the same value differ and break searching the log. It is never shown to callers.',
    });

    ({ logGroup: this.logGroup, role: this.role } = functionRole(this, {
      description: `Coffer (${props.deploymentName}): the broker function`,
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
    }));
    this.auditSaltSecret.grantRead(this.role);
    this.grantPki(props.deploymentName);
    this.grantAssumeRoles(props.assumableRoleArns ?? []);

    this.function = new CofferFunction(this, 'Function', {
      description: `Coffer (${props.deploymentName}): the broker behind API Gateway`,
      entry: BROKER_ENTRY,
      // Mapping a stack trace costs on the request path, and the broker's environment holds only its config's settings.
      sourceMapStackTraces: false,
      memorySize: props.memorySize ?? 1024,
      // API Gateway gives up at 29 s; a broker call is a few DynamoDB/KMS/S3 round trips.
      timeout: Duration.seconds(15),
      role: this.role,
      logGroup: this.logGroup,
      ...(props.reservedConcurrentExecutions !== undefined && {
        reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      }),
      ...(props.network !== undefined && {
        vpc: props.network.vpc,
        ...(props.network.subnets !== undefined && { vpcSubnets: props.network.subnets }),
        ...(props.network.securityGroups !== undefined && { securityGroups: props.network.securityGroups }),
      }),
      environment: {
        COFFER_TABLE_NAME: props.tableName,
        COFFER_ENVELOPE_KEY_ARN: props.envelopeKeyArn,
        COFFER_AUDIT_BUCKET: props.auditBucketName,
        COFFER_AUDIT_SALT_SECRET_ARN: this.auditSaltSecret.secretArn,
        ...(adminArns.length > 0 && { COFFER_BOOTSTRAP_ADMIN_ARNS: adminArns.join(',') }),
        COFFER_DEPLOYMENT_NAME: props.deploymentName,
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        // Only a broker in a VPC may enable LDAP mounts (lambdas/entrypoints/lambda/config.ts).
        ...(props.network !== undefined && { COFFER_BROKER_IN_VPC: 'true' }),
      },
    });
    if (props.network !== undefined) this.grantVpcAccess();
  }

  /**
   * The network interfaces Lambda manages for a function in a VPC (what AWSLambdaVPCAccessExecutionRole grants; the
   * role is our own, so CDK does not attach that managed policy). EC2 cannot scope these actions to resources.
   */
  private grantVpcAccess(): void {
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'VpcNetworkInterfaces',
        actions: [
          'ec2:CreateNetworkInterface',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeSubnets',
          'ec2:DeleteNetworkInterface',
          'ec2:AssignPrivateIpAddresses',
          'ec2:UnassignPrivateIpAddresses',
        ],
        resources: ['*'],
      }),
    );
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Lambda creates and deletes the VPC network interfaces of the function; EC2 offers no resource scoping here.',
    });
  }

  /**
   * The PKI engine's CA keys are KMS asymmetric keys it creates itself. `kms:CreateKey` (and `kms:TagResource`, which
   * tagging at creation needs) cannot name a key that does not exist yet, so they are granted on `*` but only for a
   * request that tags the key `coffer:ca=<deployment name>` and no tag keys but Coffer's; CreateKey also only for
   * SIGN_VERIFY keys. Signing, reading the public key and describing are granted only on keys carrying that tag.
   */
  private grantPki(deploymentName: string): void {
    const requestTags = {
      StringEquals: { [`aws:RequestTag/${CA_KEY_TAG}`]: deploymentName },
      'ForAllValues:StringEquals': { 'aws:TagKeys': CA_KEY_TAG_KEYS },
    };
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'CreateCaKeys',
        actions: ['kms:CreateKey'],
        resources: ['*'],
        conditions: {
          ...requestTags,
          StringEquals: { ...requestTags.StringEquals, 'kms:KeyUsage': 'SIGN_VERIFY' },
        },
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'TagCaKeysAtCreation',
        actions: ['kms:TagResource'],
        resources: ['*'],
        conditions: requestTags,
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'UseCaKeys',
        actions: ['kms:Sign', 'kms:GetPublicKey', 'kms:DescribeKey'],
        resources: ['*'],
        conditions: { StringEquals: { [`aws:ResourceTag/${CA_KEY_TAG}`]: deploymentName } },
      }),
    );
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'CA keys are created by the broker at run time, so kms:CreateKey/kms:TagResource cannot name them: both ' +
        `require the request tag ${CA_KEY_TAG}=<deployment> and only Coffer's tag keys (CreateKey: SIGN_VERIFY ` +
        `only); kms:Sign/GetPublicKey/DescribeKey apply only to keys tagged ${CA_KEY_TAG}=<deployment>.`,
    });
  }

  /** `sts:AssumeRole` on exactly the given roles (none when the list is empty). */
  private grantAssumeRoles(roleArns: readonly string[]): void {
    for (const arn of roleArns) {
      if (!ROLE_ARN.test(arn)) {
        throw new Error(
          `CofferControlPlane: assumableRoleArns must be exact IAM role ARNs (got ${JSON.stringify(arn)})`,
        );
      }
    }
    if (roleArns.length === 0) return;
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'AssumeDynamicRoles', actions: ['sts:AssumeRole'], resources: [...roleArns] }),
    );
  }
}
