import path from 'node:path';
import { CustomResource, Duration, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { REPO_ROOT } from './broker-bundling.ts';
import { CofferFunction } from './coffer-function.ts';

const HANDLER_ENTRY = path.join(REPO_ROOT, 'lambdas/entrypoints/custom-resources/cloudhsm-key-store.ts');
const CLUSTER_ID = /^cluster-[2-7a-zA-Z]{11,16}$/;

/** Configuration of {@link CofferCloudHsmKey}. */
export interface CofferCloudHsmKeyProps {
  readonly deploymentName: string;
  /** The CloudHSM cluster (`cluster-…`): ACTIVE, with at least two HSMs in different AZs. */
  readonly clusterId: string;
  /** PEM of the CA certificate that signed the cluster certificate when the cluster was initialised. */
  readonly trustAnchorCertificate: string;
  /** Secret holding the password of the cluster's `kmsuser` crypto user. Read by the custom resource only. */
  readonly kmsUserPasswordSecret: secretsmanager.ISecret;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The envelope key, created in a KMS custom key store backed by a CloudHSM cluster. CloudFormation cannot create a
 * key there (`AWS::KMS::Key` takes no custom key store), so a custom resource does it
 * (`lambdas/entrypoints/custom-resources/cloudhsm-key-store.ts`): it checks the cluster, creates and connects the
 * store, waits for CONNECTED (minutes; the provider framework polls every 30 s for up to an hour), then creates the key
 * under `alias/<name>/envelope` with the same policy shape as the KMS-backed key.
 *
 * Keys in a custom key store have no automatic rotation: rotate by creating a new key and re-wrapping
 * (the broker accepts previous keys for unwrapping).
 */
export class CofferCloudHsmKey extends Construct {
  readonly key: kms.IKey;
  readonly customKeyStoreId: string;
  readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: CofferCloudHsmKeyProps) {
    super(scope, id);
    if (!CLUSTER_ID.test(props.clusterId)) {
      throw new Error(
        `CofferControlPlane: cloudHsmClusterId must look like cluster-xxxxxxxxxxx (got ${JSON.stringify(props.clusterId)})`,
      );
    }
    if (!props.trustAnchorCertificate.includes('-----BEGIN CERTIFICATE-----')) {
      throw new Error('CofferControlPlane: cloudHsmTrustAnchorCertificate must be a PEM certificate');
    }

    const logGroup = new logs.LogGroup(this, 'HandlerLogs', {
      retention: logs.RetentionDays.ONE_YEAR,
      removalPolicy: props.removalPolicy,
    });
    const role = new iam.Role(this, 'HandlerRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Coffer (${props.deploymentName}): creates the CloudHSM-backed envelope key`,
    });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );
    // These actions have no resource-level permissions: the custom key store and the key do not exist yet.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [
          'cloudhsm:DescribeClusters',
          'kms:CreateCustomKeyStore',
          'kms:ConnectCustomKeyStore',
          'kms:DescribeCustomKeyStores',
          'kms:DisconnectCustomKeyStore',
          'kms:DeleteCustomKeyStore',
          'kms:CreateKey',
          'kms:DescribeKey',
          'kms:CreateAlias',
          'kms:PutKeyPolicy',
        ],
        resources: ['*'],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['iam:CreateServiceLinkedRole'],
        resources: ['*'],
        conditions: { StringEquals: { 'iam:AWSServiceName': 'cks.kms.amazonaws.com' } },
      }),
    );
    props.kmsUserPasswordSecret.grantRead(role);
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'cloudhsm:DescribeClusters and the KMS custom-key-store and CreateKey actions support no resource ARNs (the store ' +
        'and key do not exist yet); the service-linked role grant is limited to cks.kms.amazonaws.com.',
    });

    const handler = (handlerName: string) =>
      new CofferFunction(this, `${handlerName}Function`, {
        description: `Coffer (${props.deploymentName}): CloudHSM key store custom resource (${handlerName})`,
        entry: HANDLER_ENTRY,
        handler: handlerName,
        timeout: Duration.minutes(2),
        role,
        logGroup,
      });
    const onEvent = handler('onEvent');
    const isComplete = handler('isComplete');

    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: onEvent,
      isCompleteHandler: isComplete,
      queryInterval: Duration.seconds(30),
      totalTimeout: Duration.hours(1),
    });
    Validations.of(provider).acknowledge(
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: 'The CDK provider framework functions log with the AWS managed basic execution policy.',
      },
      {
        id: 'AwsSolutions-L1',
        reason: 'The provider framework functions use the runtime chosen by aws-cdk-lib.',
      },
      {
        id: 'AwsSolutions-SF1',
        reason: 'The waiter state machine only polls isComplete; its handler logs every call.',
      },
      {
        id: 'AwsSolutions-SF2',
        reason: 'The waiter state machine runs once per deployment; X-Ray adds nothing there.',
      },
    );

    const stack = Stack.of(this);
    // The framework's roles may invoke the handlers' versions (`<function ARN>:*`): one finding per function.
    const functions = [onEvent, isComplete, ...provider.node.findAll().filter((c) => c instanceof lambda.Function)];
    for (const fn of functions) {
      const id = stack.getLogicalId(fn.node.defaultChild as lambda.CfnFunction);
      Validations.of(provider).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${id}.Arn>:*]`,
        reason: 'The CDK provider framework invokes any version of its own handler functions, and nothing else.',
      });
    }
    const keyPolicy = new iam.PolicyDocument({
      statements: [
        // The same shape as a CDK-managed key: the account delegates to IAM, so the broker's identity grant (with its
        // encryption-context condition) is what authorises it.
        new iam.PolicyStatement({
          principals: [new iam.AccountRootPrincipal()],
          actions: ['kms:*'],
          resources: ['*'],
        }),
      ],
    });
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::CofferCloudHsmEnvelopeKey',
      removalPolicy: props.removalPolicy,
      properties: {
        ClusterId: props.clusterId,
        KeyStoreName: `${props.deploymentName}-envelope`,
        TrustAnchorCertificate: props.trustAnchorCertificate,
        KmsUserPasswordSecretArn: props.kmsUserPasswordSecret.secretArn,
        KeyAlias: `alias/${props.deploymentName}/envelope`,
        KeyDescription: `Coffer (${props.deploymentName}): wraps per-version secret data keys (CloudHSM key store)`,
        KeyPolicy: stack.toJsonString(keyPolicy),
      },
    });
    this.key = kms.Key.fromKeyArn(this, 'Key', this.resource.getAttString('KeyArn'));
    this.customKeyStoreId = this.resource.getAttString('CustomKeyStoreId');
  }
}
