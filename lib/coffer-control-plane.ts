import { Aws, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { EgressPolicy } from '../lambdas/core/egress/egress-policy.ts';
import { HOME_PARTITIONS, secretPartitionsFor } from '../lambdas/core/secrets/secret-partitions.ts';
import { CUSTOMER_KEY_TAG } from '../lambdas/entrypoints/lambda/deployment-names.ts';
import { AuditOutboxRelay } from './audit-outbox-relay.ts';
import { allowConsoleOrigin, CofferApi, type CofferMtlsDomainProps } from './coffer-api.ts';
import { CofferAuditTrail } from './coffer-audit-trail.ts';
import { type BrokerNetwork, CofferBroker } from './coffer-broker.ts';
import { CofferCloudHsmKey } from './coffer-cloudhsm-key.ts';
import { CofferCompliance } from './coffer-compliance.ts';
import { CofferConsole, type CofferConsoleProps } from './coffer-console.ts';
import { CofferExpirySweeper } from './coffer-expiry-sweeper.ts';
import { acknowledgeCustomResourceProvider, CofferKeyReplicas, replicaKeyArn } from './coffer-key-replicas.ts';
import { CofferLeaseSweeper } from './coffer-lease-sweeper.ts';
import { CofferMonitoring } from './coffer-monitoring.ts';
import { CofferReplicator } from './coffer-replicator.ts';
import { CofferRotation } from './coffer-rotation.ts';
import { CofferExtensionLayer } from './extension-layer.ts';

/**
 * Item-level DynamoDB actions the Coffer store adapter performs. `TransactWriteItems` is not an IAM action: a
 * transaction is authorised per item by the put/delete/condition-check actions it contains.
 */
export const STORE_TABLE_ACTIONS: readonly string[] = [
  'dynamodb:GetItem',
  'dynamodb:Query',
  // The DynamoDB store writes every put as a conditional UpdateItem (atomic revision increment), also in
  // transactions, so PutItem is not needed.
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:ConditionCheckItem',
];

/** KMS actions the envelope layer needs: make a data key, and unwrap it later. Nothing else. */
export const ENVELOPE_KEY_ACTIONS: readonly string[] = ['kms:GenerateDataKey', 'kms:Decrypt'];

/**
 * What re-wrapping a data key under the current envelope key needs (`ReEncrypt`, so the plaintext key never leaves
 * KMS): both halves, as KMS authorises the source and destination key separately.
 */
export const ENVELOPE_REWRAP_ACTIONS: readonly string[] = ['kms:ReEncryptFrom', 'kms:ReEncryptTo'];

/**
 * The shape every Coffer encryption context's `secretId` must have: a Secrets Manager style secret ARN. Requiring it
 * in the grant binds every use of the envelope key to a secret ARN, which CloudTrail then records with the call.
 */
export const ENVELOPE_SECRET_ID_PATTERN = 'arn:*:secretsmanager:*:*:secret:*';

/**
 * Audit segments are read mostly while fresh (investigations, verification). Glacier Instant Retrieval stores them for
 * less and still answers in milliseconds, so verifying the hash chain over old segments keeps working.
 */
const GLACIER_IR_AFTER_DAYS = 90;
const MAX_AUDIT_RETENTION_DAYS = 36_500;
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** What {@link CofferControlPlaneProps.console} may set of the console's deployment. */
export type CofferConsoleSettings = Pick<CofferConsoleProps, 'consoleDir' | 'webAclId'>;

/** Configuration of {@link CofferControlPlane}. */
export interface CofferControlPlaneProps {
  /**
   * Short name of this Coffer deployment. It appears in the KMS alias names (`alias/<name>/envelope`), so two
   * deployments in one account and region need different names. Letters, digits, `_` and `-`, at most 64.
   * @default 'coffer'
   */
  readonly name?: string;
  /**
   * How long, in whole days, every audit object is immutable (S3 Object Lock in COMPLIANCE mode: nobody, not even
   * the account root, can delete or overwrite it earlier). Also how long superseded object versions are kept.
   * @default 365
   */
  readonly auditRetentionDays?: number;
  /**
   * What CloudFormation does with the keys, table and buckets when they leave the stack. Anything but `DESTROY` also
   * turns on the table's deletion protection. Audit objects stay locked until their retention ends whatever this says.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Where the table's alarms (server-side errors, throttling) notify.
   * @default - the alarms are created without actions; they still show in the CloudWatch console.
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * IAM principals (exact role, user or assumed-role ARNs) that get Coffer's built-in `root` policy: the first
   * admins of a fresh deployment, who then map everyone else (`coffer iam map ...`). A role ARN also covers its STS
   * sessions. Passed to the broker as `COFFER_BOOTSTRAP_ADMIN_ARNS`.
   * @default none - then nobody can administer Coffer until one is given
   */
  readonly adminRoleArns?: readonly string[];
  /**
   * IAM roles the broker may assume for `aws/<role>` dynamic credentials (exact role ARNs; each role's trust policy
   * must also trust the broker's role).
   * @default none - no `sts:AssumeRole` grant
   */
  readonly assumableRoleArns?: readonly string[];
  /**
   * Where engines may connect: API-key providers and the database hosts of rotation and dynamic credentials (host
   * names, `*.domain`, addresses or CIDRs, each optionally `:port`; see `lambdas/core/egress/egress-policy.ts`).
   * Loopback and link-local addresses (the instance metadata service among them) need an entry naming the address.
   * Passed to the broker, rotation and lease sweeper functions as `COFFER_EGRESS_ALLOW`.
   * @default none - engines cannot connect anywhere
   */
  readonly egressAllow?: readonly string[];
  /**
   * Runs the broker in a VPC, so LDAP auth methods can reach a directory there (allow its host:port in `egressAllow`
   * too). Without it, `coffer auth enable ldap` is refused with a 400 saying so. @default the broker runs outside a VPC
   */
  readonly ldap?: BrokerNetwork;
  /** API Gateway stage name; the API's base URL ends with it. @default 'prod' */
  readonly stageName?: string;
  /** Steady-state API requests per second, across the stage. @default 1000 */
  readonly throttlingRateLimit?: number;
  /** API burst size. @default 2000 */
  readonly throttlingBurstLimit?: number;
  /** Steady-state requests per second to each login method (open to anyone). @default 50 */
  readonly loginThrottlingRateLimit?: number;
  /** Burst size of each login method. @default 100 */
  readonly loginThrottlingBurstLimit?: number;
  /** Retention of the broker and API access log groups. @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /** Memory of the broker function, in MB (CPU scales with it). @default 1024 */
  readonly brokerMemorySize?: number;
  /** Alarm when unshipped audit records are older than this many seconds. @default 300 */
  readonly auditLagThresholdSeconds?: number;
  /**
   * Create API Gateway's account-wide CloudWatch logging role. Turn off if the account already has one.
   * @default true
   */
  readonly apiCloudWatchRole?: boolean;
  /** A custom domain with mutual TLS (an S3 truststore), for certificate login on AWS. @default none */
  readonly apiMtlsDomain?: CofferMtlsDomainProps;
  /**
   * Deploy the web console (`CofferConsole`: S3 and CloudFront) with this API's URL and region in its `config.json`,
   * and allow its origin, and only it, by CORS on the API (preflights, gateway errors and the broker's answers). Its
   * users sign in with AWS credentials (SigV4, `execute-api:Invoke`). `true`, or the console's own settings.
   * @default false
   */
  readonly console?: boolean | CofferConsoleSettings;
  /**
   * Log the items table's data events in CloudTrail (about two per secret read, $0.10 per 100,000: see docs/COST.md).
   * @default true
   */
  readonly trailTableDataEvents?: boolean;
  /**
   * Put the envelope key in a KMS custom key store backed by this CloudHSM cluster (ACTIVE, at least two HSMs in
   * different AZs; checked at deploy time). Needs `cloudHsmTrustAnchorCertificate` and `cloudHsmKmsUserPasswordSecret`.
   * @default - the envelope key is an ordinary KMS key
   */
  readonly cloudHsmClusterId?: string;
  /** PEM of the CA certificate that signed the cluster certificate (the cluster's trust anchor). */
  readonly cloudHsmTrustAnchorCertificate?: string;
  /** Secret holding the cluster's `kmsuser` password; never a literal. */
  readonly cloudHsmKmsUserPasswordSecret?: secretsmanager.ISecret;
  /**
   * Regions this deployment's secrets can be replicated to (Secrets Manager `AddReplicaRegions`,
   * `ReplicateSecretToRegions`). The items table becomes a DynamoDB global table with a replica in each region, and
   * the envelope and storage keys KMS multi-region keys with a replica in each (`CofferKeyReplicas`); a replica
   * region then gets its own broker, API and audit log from a deployment with `replicaOf` (see
   * `bin/cdk.ts`, `coffer:replicaRegions`). Chosen at the first deployment: KMS cannot make an existing key
   * multi-region, and a CloudHSM key store holds no multi-region keys.
   * @default none - a single-region deployment
   */
  readonly replicaRegions?: readonly string[];
  /**
   * Makes this deployment the broker of a replica region of a deployment with `replicaRegions`: it uses that
   * deployment's global table (its replica in this region) and the replicas of its keys instead of creating its own,
   * and keeps its audit records in an outbox of its own, shipped to its own bucket. Needs an explicit region.
   * @default none - the deployment owns its table and keys
   */
  readonly replicaOf?: CofferReplicaOf;
}

/** What a replica region's deployment takes from the primary's (`CofferControlPlane.replicaOf`). */
export interface CofferReplicaOf {
  /** The primary deployment's region: its secrets keep the table's original partition names. */
  readonly primaryRegion: string;
  /** The global table's name (the same in every region). */
  readonly tableName: string;
  /** The key id (`mrk-…`) of the multi-region envelope key: its replica here has the same id. */
  readonly envelopeKeyId: string;
  /** The key id (`mrk-…`) of the multi-region storage key. */
  readonly storageKeyId: string;
}

/**
 * The data, key and audit-storage foundation of a Coffer deployment on AWS.
 *
 * - `envelopeKey`: a KMS key used only to generate and unwrap per-version data keys, always under an encryption
 *   context naming the secret ARN and version (see {@link CofferControlPlane.grantEnvelope}).
 * - `storageKey`: a second KMS key for at-rest encryption of the items table and the audit bucket (see below why it
 *   is not the envelope key).
 * - `table`: the single items table (`pk`/`sk`, TTL on `expiresAt`) behind the DynamoDB store adapter.
 * - `auditBucket`: versioned, Object-Locked (COMPLIANCE) storage for audit log segments, with server access logs
 *   going to `accessLogBucket`.
 *
 * @example
 * const plane = new CofferControlPlane(this, 'ControlPlane', { name: 'coffer', auditRetentionDays: 400 });
 * plane.grantStore(brokerFunction);
 * plane.grantEnvelope(brokerFunction);
 */
export class CofferControlPlane extends Construct {
  /** Wraps per-version data keys (envelope encryption). Used for nothing else. */
  readonly envelopeKey: kms.IKey;
  /** The CloudHSM-backed key store and its custom resource, when `cloudHsmClusterId` is set. */
  readonly cloudHsm?: CofferCloudHsmKey;
  /** Encrypts the items table and the audit bucket at rest (service-side SSE). */
  readonly storageKey: kms.IKey;
  /** The items table: a global table when `replicaRegions` is set, this region's replica of one with `replicaOf`. */
  readonly table: dynamodb.ITable;
  /** The replicas of the keys in `replicaRegions`, when set. */
  readonly keyReplicas?: CofferKeyReplicas;
  /** Replicates secrets to their replica regions, in a multi-region deployment (either side). */
  readonly replicator?: CofferReplicator;
  /** Object-Locked audit log storage. */
  readonly auditBucket: s3.Bucket;
  /** Receives the audit bucket's server access logs. */
  readonly accessLogBucket: s3.Bucket;
  /** Every alarm of the deployment (table, API, broker, KMS, audit lag), notifying `alarmTopic` when one was given. */
  readonly alarms: readonly cloudwatch.Alarm[];
  /** The broker function, its role, log group and audit salt secret. */
  readonly broker: CofferBroker;
  /** The REST API in front of the broker. */
  readonly api: CofferApi;
  /** The web console, when `console` is set. */
  readonly console?: CofferConsole;
  /** The CloudTrail trail and its bucket. */
  readonly trail: CofferAuditTrail;
  /** Alarms and dashboard of the request path. */
  readonly monitoring: CofferMonitoring;
  /** Ships the audit outbox to the bucket as a hash chain. */
  readonly auditRelay: AuditOutboxRelay;
  /** Revokes expired leases of dynamic credentials, every minute. */
  readonly leaseSweeper: CofferLeaseSweeper;
  /** Publishes the expiry events of secrets and certificates (docs/expiration.md). */
  readonly expirySweeper: CofferExpirySweeper;
  /** Secret rotation: the Step Functions workflow, its Lambda, the schedule group, breach and sweep rules. */
  readonly rotation: CofferRotation;
  /** The scheduled compliance report: its figures as CloudWatch metrics, a dashboard and alarms (docs/compliance.md). */
  readonly compliance: CofferCompliance;
  /** The Lambda extension (Parameters and Secrets protocol) for functions that read Coffer secrets. */
  readonly extensionLayer: CofferExtensionLayer;
  /** The resolved deployment name. */
  readonly deploymentName: string;
  /** The resolved audit retention, in days. */
  readonly auditRetentionDays: number;

  constructor(scope: Construct, id: string, props: CofferControlPlaneProps = {}) {
    super(scope, id);
    const name = props.name ?? 'coffer';
    const retentionDays = props.auditRetentionDays ?? 365;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    validateName(name);
    validateRetentionDays(retentionDays);
    this.deploymentName = name;
    this.auditRetentionDays = retentionDays;

    const replicaRegions = props.replicaRegions ?? [];
    const multiRegion = replicaRegions.length > 0;
    if (multiRegion && props.replicaOf !== undefined) {
      throw new Error('CofferControlPlane: a deployment has replicaRegions or is replicaOf another, not both');
    }
    if (multiRegion && props.cloudHsmClusterId !== undefined) {
      throw new Error(
        'CofferControlPlane: replicaRegions needs multi-region KMS keys, which a CloudHSM key store cannot hold',
      );
    }
    const replicaOf = props.replicaOf;
    const region = Stack.of(this).region;
    if (replicaOf !== undefined && Token.isUnresolved(region)) {
      throw new Error('CofferControlPlane: replicaOf needs a stack with an explicit region (env.region)');
    }
    const keyInThisRegion = (keyId: string) => `arn:${Aws.PARTITION}:kms:${region}:${Aws.ACCOUNT_ID}:key/${keyId}`;

    if (replicaOf !== undefined) {
      this.envelopeKey = kms.Key.fromKeyArn(this, 'EnvelopeKey', keyInThisRegion(replicaOf.envelopeKeyId));
    } else if (props.cloudHsmClusterId !== undefined) {
      if (props.cloudHsmTrustAnchorCertificate === undefined || props.cloudHsmKmsUserPasswordSecret === undefined) {
        throw new Error(
          'CofferControlPlane: cloudHsmClusterId needs cloudHsmTrustAnchorCertificate and cloudHsmKmsUserPasswordSecret',
        );
      }
      this.cloudHsm = new CofferCloudHsmKey(this, 'CloudHsmEnvelopeKey', {
        deploymentName: name,
        clusterId: props.cloudHsmClusterId,
        trustAnchorCertificate: props.cloudHsmTrustAnchorCertificate,
        kmsUserPasswordSecret: props.cloudHsmKmsUserPasswordSecret,
        removalPolicy,
      });
      this.envelopeKey = this.cloudHsm.key;
    } else {
      this.envelopeKey = new kms.Key(this, 'EnvelopeKey', {
        description: `Coffer (${name}): wraps per-version secret data keys; usable only with a secretId encryption context`,
        enableKeyRotation: true,
        ...(multiRegion && { multiRegion: true }),
        alias: `alias/${name}/envelope`,
        pendingWindow: Duration.days(30),
        removalPolicy,
      });
    }

    // A separate key for service-side encryption. DynamoDB and S3 call KMS with their own encryption contexts
    // (aws:dynamodb:*, aws:s3:arn), so any principal reading the table or the bucket would need a grant on the
    // envelope key WITHOUT Coffer's secretId condition, and the envelope key's "only under a secret's context" rule
    // would no longer hold. With two keys, the envelope key's identity grants can all carry that condition, and
    // at-rest access (operators reading audit logs, backups) never implies the power to unwrap data keys.
    this.storageKey =
      replicaOf !== undefined
        ? kms.Key.fromKeyArn(this, 'StorageKey', keyInThisRegion(replicaOf.storageKeyId))
        : new kms.Key(this, 'StorageKey', {
            description: `Coffer (${name}): at-rest encryption of the items table and the audit bucket`,
            enableKeyRotation: true,
            ...(multiRegion && { multiRegion: true }),
            alias: `alias/${name}/storage`,
            pendingWindow: Duration.days(30),
            removalPolicy,
          });

    if (multiRegion) {
      const keys = [this.envelopeKey, this.storageKey].filter((key): key is kms.Key => key instanceof kms.Key);
      this.keyReplicas = new CofferKeyReplicas(this, 'KeyReplicas', {
        keys,
        regions: replicaRegions,
        deploymentName: name,
      });
      this.table = this.createGlobalTable(replicaRegions, removalPolicy);
      this.table.node.addDependency(this.keyReplicas);
    } else if (replicaOf !== undefined) {
      this.table = dynamodb.Table.fromTableAttributes(this, 'ItemsTable', {
        tableName: replicaOf.tableName,
        encryptionKey: this.storageKey,
        tableStreamArn: this.replicaStreamArn(replicaOf.tableName),
      });
    } else
      this.table = new dynamodb.Table(this, 'ItemsTable', {
        partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
        sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
        timeToLiveAttribute: 'expiresAt',
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        // Deletion protection would make a requested DESTROY fail at stack deletion, so it follows the removal policy.
        deletionProtection: removalPolicy !== RemovalPolicy.DESTROY,
        encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryptionKey: this.storageKey,
        // The audit outbox relay wakes on new outbox items.
        stream: dynamodb.StreamViewType.NEW_IMAGE,
        removalPolicy,
      });

    this.accessLogBucket = new s3.Bucket(this, 'AccessLogBucket', {
      // S3 server access logging delivers only to buckets with SSE-S3 default encryption, not SSE-KMS. This bucket
      // needs no access logs of its own (cdk-nag's S1 accepts a log destination): logging it would need another.
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      lifecycleRules: [
        {
          id: 'expire-access-logs',
          expiration: Duration.days(retentionDays),
          noncurrentVersionExpiration: Duration.days(1),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
      removalPolicy,
    });

    this.auditBucket = new s3.Bucket(this, 'AuditBucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.storageKey,
      // One KMS call per bucket key rather than per object: audit segments are many and small.
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      objectLockEnabled: true,
      objectLockDefaultRetention: s3.ObjectLockRetention.compliance(Duration.days(retentionDays)),
      lifecycleRules: [
        {
          id: 'tier-and-expire-noncurrent',
          transitions: [
            {
              storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
              transitionAfter: Duration.days(GLACIER_IR_AFTER_DAYS),
            },
          ],
          // Object Lock already forbids removing a version before its retention ends; this removes it right after.
          noncurrentVersionExpiration: Duration.days(retentionDays),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: 'audit-bucket/',
      removalPolicy,
    });

    const tableAlarms = this.createTableAlarms(props.alarmTopic);

    this.broker = new CofferBroker(this, 'Broker', {
      deploymentName: name,
      tableName: this.table.tableName,
      envelopeKeyArn: this.envelopeKey.keyArn,
      auditBucketName: this.auditBucket.bucketName,
      storageKey: this.storageKey,
      adminRoleArns: props.adminRoleArns,
      assumableRoleArns: props.assumableRoleArns,
      memorySize: props.brokerMemorySize,
      logRetention: props.logRetention,
      removalPolicy,
      ...(props.ldap !== undefined && { network: props.ldap }),
    });
    this.grantStore(this.broker.role);
    this.grantEnvelope(this.broker.role, { rewrap: true });
    this.grantCustomerKeys(this.broker.role);
    // No S3 grant: the broker's audit records go to the table's outbox with each change, and the audit relay
    // (`AuditOutboxRelay`) ships them to the bucket.

    this.api = new CofferApi(this, 'Api', {
      deploymentName: name,
      handler: this.broker.function,
      stageName: props.stageName,
      throttlingRateLimit: props.throttlingRateLimit,
      throttlingBurstLimit: props.throttlingBurstLimit,
      loginThrottlingRateLimit: props.loginThrottlingRateLimit,
      loginThrottlingBurstLimit: props.loginThrottlingBurstLimit,
      logRetention: props.logRetention,
      cloudWatchRole: props.apiCloudWatchRole,
      removalPolicy,
      ...(props.apiMtlsDomain !== undefined && { mtlsDomain: props.apiMtlsDomain }),
    });
    // The CRL URL in issued certificates. Built from the API's id and the literal stage name, not `restApi.url`: that
    // names the Stage resource, which depends (through the deployment and methods) on the broker function: a cycle.
    const publicUrl = `https://${this.api.restApi.restApiId}.execute-api.${Aws.REGION}.${Aws.URL_SUFFIX}/${props.stageName ?? 'prod'}`;
    this.broker.function.addEnvironment('COFFER_PUBLIC_URL', publicUrl);
    if (props.console !== undefined && props.console !== false) {
      this.console = new CofferConsole(this, 'Console', {
        ...(props.console === true ? {} : props.console),
        // Not `restApi.url` (the Stage): the API's CORS names the distribution, whose CSP names this URL (a cycle).
        apiUrl: `${publicUrl}/`,
        region: Aws.REGION,
        accessLogBucket: this.accessLogBucket,
      });
      allowConsoleOrigin(this.api, this.console.origin);
      this.broker.function.addEnvironment('COFFER_CONSOLE_ORIGIN', this.console.origin);
    }

    this.leaseSweeper = new CofferLeaseSweeper(this, 'LeaseSweeper', {
      tableName: this.table.tableName,
      envelopeKeyArn: this.envelopeKey.keyArn,
      deploymentName: name,
      logRetention: props.logRetention,
      removalPolicy,
    });
    this.grantStore(this.leaseSweeper.role);
    this.grantEnvelope(this.leaseSweeper.role);
    this.grantCustomerKeys(this.leaseSweeper.role);

    this.expirySweeper = new CofferExpirySweeper(this, 'ExpirySweeper', {
      tableName: this.table.tableName,
      envelopeKeyArn: this.envelopeKey.keyArn,
      deploymentName: name,
      logRetention: props.logRetention,
      removalPolicy,
    });
    this.grantStore(this.expirySweeper.role);

    this.rotation = new CofferRotation(this, 'Rotation', {
      deploymentName: name,
      tableName: this.table.tableName,
      envelopeKeyArn: this.envelopeKey.keyArn,
      auditBucketName: this.auditBucket.bucketName,
      auditSaltSecret: this.broker.auditSaltSecret,
      alarmTopic: props.alarmTopic,
      logRetention: props.logRetention,
      removalPolicy,
    });
    this.grantStore(this.rotation.role);
    this.grantEnvelope(this.rotation.role);
    this.grantCustomerKeys(this.rotation.role);
    // The broker starts on-demand rotations and keeps each secret's schedule in step with its rotation config.
    this.rotation.grantControl(this.broker.role);
    for (const [key, value] of Object.entries(this.rotation.environment)) {
      this.broker.function.addEnvironment(key, value);
    }
    // Certificate rotation re-issues from the PKI engine: the same CRL URL as the broker's.
    this.rotation.function.addEnvironment('COFFER_PUBLIC_URL', publicUrl);

    this.compliance = new CofferCompliance(this, 'Compliance', {
      deploymentName: name,
      tableArn: this.table.tableArn,
      tableName: this.table.tableName,
      envelopeKeyArn: this.envelopeKey.keyArn,
      storageKey: this.storageKey,
      auditBucket: this.auditBucket,
      auditSaltSecret: this.broker.auditSaltSecret,
      // The rotation settings: the report reads rotation configs and history (it starts nothing).
      environment: this.rotation.environment,
      alarmTopic: props.alarmTopic,
      logRetention: props.logRetention,
      removalPolicy,
    });
    if (replicaOf !== undefined) {
      // Every region's items are in the global table: this region's audit records keep to an outbox of its own, and
      // every region names the partitions of each region's secrets alike.
      const readers = [
        this.broker.function,
        this.rotation.function,
        this.leaseSweeper.function,
        this.compliance.function,
      ];
      for (const fn of readers) {
        fn.addEnvironment('COFFER_AUDIT_OUTBOX_SCOPE', region);
        fn.addEnvironment('COFFER_STORE_REGION', replicaOf.primaryRegion);
      }
    }
    if (multiRegion || replicaOf !== undefined) {
      const storeRegion = replicaOf?.primaryRegion ?? region;
      this.replicator = new CofferReplicator(this, 'Replicator', {
        table: this.table,
        envelopeKeyArn: this.envelopeKey.keyArn,
        secretsPartition: Token.isUnresolved(region)
          ? HOME_PARTITIONS.secrets
          : secretPartitionsFor(region, storeRegion).secrets,
        environment: replicaOf === undefined ? {} : { COFFER_STORE_REGION: replicaOf.primaryRegion },
        deploymentName: name,
        logRetention: props.logRetention,
        removalPolicy,
      });
      this.grantStore(this.replicator.role);
      this.grantEnvelope(this.replicator.role);
      this.grantCustomerKeys(this.replicator.role);
    }
    const egressAllow = (props.egressAllow ?? []).join(',');
    // Refused at synth, with the entry named, rather than at the first cold start.
    EgressPolicy.parse(egressAllow);
    if (egressAllow !== '') {
      for (const fn of [this.broker.function, this.rotation.function, this.leaseSweeper.function]) {
        fn.addEnvironment('COFFER_EGRESS_ALLOW', egressAllow);
      }
    }

    this.trail = new CofferAuditTrail(this, 'Trail', {
      deploymentName: name,
      tableArn: this.table.tableArn,
      auditBucketArn: this.auditBucket.bucketArn,
      accessLogBucket: this.accessLogBucket,
      tableDataEvents: props.trailTableDataEvents,
      retentionDays,
      removalPolicy,
    });

    this.auditRelay = new AuditOutboxRelay(this, 'AuditRelay', {
      table: this.table,
      ...(replicaOf !== undefined && { outboxScope: region }),
      auditBucket: this.auditBucket,
      storageKey: this.storageKey,
      alarmTopic: props.alarmTopic,
      lagAlarmSeconds: props.auditLagThresholdSeconds,
      deploymentName: name,
      logRetention: props.logRetention,
      removalPolicy,
    });

    this.extensionLayer = new CofferExtensionLayer(this, 'ExtensionLayer', { removalPolicy });

    this.monitoring = new CofferMonitoring(this, 'Monitoring', {
      deploymentName: name,
      api: this.api.restApi,
      brokerFunction: this.broker.function,
      table: this.table,
      extraAlarms: [...tableAlarms, this.auditRelay.lagAlarm, this.rotation.failedAlarm],
      alarmTopic: props.alarmTopic,
    });
    this.alarms = [
      ...tableAlarms,
      this.auditRelay.lagAlarm,
      this.rotation.failedAlarm,
      ...this.monitoring.alarms,
      ...this.compliance.alarms,
    ];
  }

  /**
   * The items table as a DynamoDB global table (`AWS::DynamoDB::GlobalTable`) with a replica in each region, each
   * replica encrypted with that region's replica of the storage key. Streams carry both images, as global tables
   * require; the audit relay reads the new one.
   */
  private createGlobalTable(regions: readonly string[], removalPolicy: RemovalPolicy): dynamodb.TableV2 {
    return new dynamodb.TableV2(this, 'ItemsTable', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: 'expiresAt',
      billing: dynamodb.Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: removalPolicy !== RemovalPolicy.DESTROY,
      encryption: dynamodb.TableEncryptionV2.customerManagedKey(
        this.storageKey,
        Object.fromEntries(regions.map((region) => [region, replicaKeyArn(this.storageKey, region)])),
      ),
      dynamoStream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
      replicas: regions.map((region) => ({
        region,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      })),
      removalPolicy,
    });
  }

  /**
   * The stream of this region's replica of a global table, for the audit relay: only known once the table exists,
   * so it is read at deploy time.
   */
  private replicaStreamArn(tableName: string): string {
    const tableArn = `arn:${Aws.PARTITION}:dynamodb:${Aws.REGION}:${Aws.ACCOUNT_ID}:table/${tableName}`;
    const lookup = new cr.AwsCustomResource(this, 'ReplicaStreamLookup', {
      onUpdate: {
        service: 'DynamoDB',
        action: 'describeTable',
        parameters: { TableName: tableName },
        physicalResourceId: cr.PhysicalResourceId.of(tableArn),
        outputPaths: ['Table.LatestStreamArn'],
      },
      installLatestAwsSdk: false,
      policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: [tableArn] }),
    });
    acknowledgeCustomResourceProvider(this);
    return lookup.getResponseField('Table.LatestStreamArn');
  }

  /**
   * Lets `grantee` generate and unwrap envelope data keys, and nothing else: only `kms:GenerateDataKey` and
   * `kms:Decrypt`, and only when the encryption context names a secret ARN (`secretId`) and a `versionId`. KMS
   * authenticates the context, so a wrapped key can only be unwrapped with the secret and version it was made for.
   *
   * With `rewrap`, also `kms:ReEncryptFrom`/`kms:ReEncryptTo` under the same conditions, for moving data keys to the
   * current key without exposing them.
   *
   * @example
   * plane.grantEnvelope(brokerFunction);
   */
  grantEnvelope(grantee: iam.IGrantable, options: { readonly rewrap?: boolean } = {}): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: [...ENVELOPE_KEY_ACTIONS, ...(options.rewrap === true ? ENVELOPE_REWRAP_ACTIONS : [])],
      resourceArns: [this.envelopeKey.keyArn],
      conditions: {
        StringLike: { 'kms:EncryptionContext:secretId': ENVELOPE_SECRET_ID_PATTERN },
        Null: { 'kms:EncryptionContext:versionId': 'false' },
      },
    });
  }

  /**
   * Lets `role` use the customer-managed KMS keys secrets name (`KmsKeyId`): `kms:DescribeKey` to resolve an alias or
   * key id, and `kms:GenerateDataKey`/`kms:Decrypt` under the same encryption-context conditions as the envelope key,
   * only on keys tagged `coffer:secrets=<deployment name>`. Which callers may name which key is Coffer's policy
   * (`read` on `sys/keyring/keys/<alias>`); this is the account owner's consent that Coffer may use the key at all.
   *
   * @example
   * plane.grantCustomerKeys(brokerRole);
   */
  grantCustomerKeys(role: iam.IRole): void {
    const tagged = { StringEquals: { [`aws:ResourceTag/${CUSTOMER_KEY_TAG}`]: this.deploymentName } };
    iam.Grant.addToPrincipal({ grantee: role, actions: ['kms:DescribeKey'], resourceArns: ['*'], conditions: tagged });
    iam.Grant.addToPrincipal({
      grantee: role,
      actions: [...ENVELOPE_KEY_ACTIONS],
      resourceArns: ['*'],
      conditions: {
        ...tagged,
        StringLike: { 'kms:EncryptionContext:secretId': ENVELOPE_SECRET_ID_PATTERN },
        Null: { 'kms:EncryptionContext:versionId': 'false' },
      },
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        "Customer keys are the account owner's, named by secrets at run time: kms:DescribeKey, kms:GenerateDataKey " +
        `and kms:Decrypt apply only to keys tagged ${CUSTOMER_KEY_TAG}=<deployment>, the last two only with a ` +
        'secret ARN and version as encryption context.',
    });
  }

  /**
   * Lets `grantee` read and write items the way the store adapter does (get, query, put, delete, condition checks
   * inside transactions), plus the storage-key use that reading and writing the encrypted table needs, restricted to
   * calls made through DynamoDB. No table administration, no scans, no streams.
   *
   * @example
   * plane.grantStore(brokerFunction);
   */
  grantStore(grantee: iam.IGrantable): iam.Grant {
    const tableGrant = iam.Grant.addToPrincipal({
      grantee,
      actions: [...STORE_TABLE_ACTIONS],
      resourceArns: [this.table.tableArn],
    });
    const keyGrant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
      resourceArns: [this.storageKey.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${Aws.REGION}.amazonaws.com` } },
    });
    return tableGrant.combine(keyGrant);
  }

  private createTableAlarms(topic: sns.ITopic | undefined): cloudwatch.Alarm[] {
    const operations = [
      dynamodb.Operation.GET_ITEM,
      dynamodb.Operation.QUERY,
      dynamodb.Operation.PUT_ITEM,
      dynamodb.Operation.DELETE_ITEM,
      dynamodb.Operation.TRANSACT_WRITE_ITEMS,
    ];
    const period = Duration.minutes(5);
    const alarms = [
      new cloudwatch.Alarm(this, 'TableSystemErrorsAlarm', {
        alarmDescription: `Coffer (${this.deploymentName}): DynamoDB returned server-side errors for the items table`,
        metric: this.table.metricSystemErrorsForOperations({ operations, period }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      new cloudwatch.Alarm(this, 'TableThrottlesAlarm', {
        alarmDescription: `Coffer (${this.deploymentName}): requests to the items table were throttled`,
        metric: this.table.metricThrottledRequestsForOperations({ operations, period }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    ];
    if (topic) {
      const action = new cloudwatchActions.SnsAction(topic);
      for (const alarm of alarms) alarm.addAlarmAction(action);
    }
    return alarms;
  }
}

function validateName(name: string): void {
  if (Token.isUnresolved(name) || !NAME_PATTERN.test(name)) {
    throw new Error(
      `CofferControlPlane: name must be 1-64 letters, digits, '_' or '-', starting with a letter or digit (got ${JSON.stringify(name)})`,
    );
  }
}

function validateRetentionDays(days: number): void {
  if (Token.isUnresolved(days) || !Number.isInteger(days) || days < 1 || days > MAX_AUDIT_RETENTION_DAYS) {
    throw new Error(
      `CofferControlPlane: auditRetentionDays must be a whole number of days from 1 to ${MAX_AUDIT_RETENTION_DAYS} (got ${days})`,
    );
  }
}
