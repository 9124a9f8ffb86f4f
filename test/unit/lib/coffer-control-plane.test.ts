import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, type PolicyValidationPluginReport, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsConfigSchema } from '../../../lambdas/entrypoints/lambda/config.ts';
import {
  CofferControlPlane,
  ENVELOPE_SECRET_ID_PATTERN,
  STORE_TABLE_ACTIONS,
} from '../../../lib/coffer-control-plane.ts';
import { CofferStack, cofferSettingsFromContext } from '../../../lib/coffer-stack.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** The feature flags `cdk synth` uses, so the tests see the template that would be deployed. */
const cdkJsonContext: Record<string, unknown> = JSON.parse(
  fs.readFileSync(path.join(repoRoot, 'cdk.json'), 'utf8'),
).context;

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-'));
  tempDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * An app with the feature flags of `cdk.json`. The broker bundle is skipped (`test/unit/lib/coffer-deployment.test.ts`
 * builds the real one once) and so is the built-in CloudFormation rule check (the `bin/cdk.ts` test runs it): both
 * cost seconds per app and test nothing these tests look at.
 */
function newApp(context: Record<string, unknown> = {}): App {
  return new App({
    outdir: tempDir(),
    context: { ...cdkJsonContext, 'aws:cdk:bundling-stacks': [], ...context },
    builtinCloudFormationValidation: false,
  });
}

interface PolicyStatementJson {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

function asList(value: string | string[]): string[] {
  return Array.isArray(value) ? value : [value];
}

/** Statements of the inline policies attached to the role with this logical-id prefix. */
function statementsOfRole(template: Template, rolePrefix: string): PolicyStatementJson[] {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies)
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref.startsWith(rolePrefix)))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as PolicyStatementJson[]);
}

function nagFindings(scope: App | Stack): PolicyValidationPluginReport['violations'] {
  return new AwsSolutionsChecks().validateScope(scope).violations;
}

describe('Class: CofferControlPlane', () => {
  let stack: Stack;
  let plane: CofferControlPlane;
  let template: Template;

  beforeAll(() => {
    const app = newApp();
    stack = new Stack(app, 'Test');
    plane = new CofferControlPlane(stack, 'ControlPlane', { name: 'coffer-test', auditRetentionDays: 400 });
    const principal = new iam.ServicePrincipal('lambda.amazonaws.com');
    plane.grantEnvelope(new iam.Role(stack, 'EnvelopeUser', { assumedBy: principal }));
    plane.grantStore(new iam.Role(stack, 'StoreUser', { assumedBy: principal }));
    template = Template.fromStack(stack);
  });

  describe('keys', () => {
    it('creates a rotating envelope key under alias/<name>/envelope', () => {
      template.hasResourceProperties('AWS::KMS::Key', {
        EnableKeyRotation: true,
        Description: Match.stringLikeRegexp('wraps per-version secret data keys'),
      });
      template.hasResourceProperties('AWS::KMS::Alias', {
        AliasName: 'alias/coffer-test/envelope',
        TargetKeyId: stack.resolve(plane.envelopeKey.keyArn),
      });
    });

    it('turns on rotation for every key it creates', () => {
      const keys = Object.values(template.findResources('AWS::KMS::Key'));
      expect(keys).toHaveLength(2);
      for (const key of keys) expect(key.Properties.EnableKeyRotation).toBe(true);
    });

    it('keeps the envelope key out of table and bucket encryption', () => {
      const envelopeArn = JSON.stringify(stack.resolve(plane.envelopeKey.keyArn));
      const tables = JSON.stringify(template.findResources('AWS::DynamoDB::Table'));
      const buckets = JSON.stringify(template.findResources('AWS::S3::Bucket'));
      expect(tables).not.toContain(envelopeArn);
      expect(buckets).not.toContain(envelopeArn);
    });
  });

  describe('items table', () => {
    it('has the pk/sk string key schema with TTL on expiresAt, billed per request', () => {
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: Match.arrayWith([
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ]),
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        BillingMode: 'PAY_PER_REQUEST',
      });
    });

    it('has point-in-time recovery, deletion protection and SSE with the storage key', () => {
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        DeletionProtectionEnabled: true,
        SSESpecification: {
          SSEEnabled: true,
          SSEType: 'KMS',
          KMSMasterKeyId: stack.resolve(plane.storageKey.keyArn),
        },
      });
    });
  });

  describe('audit bucket', () => {
    const auditBucketId = () => stack.getLogicalId(plane.auditBucket.node.defaultChild as s3.CfnBucket);
    const accessLogBucketId = () => stack.getLogicalId(plane.accessLogBucket.node.defaultChild as s3.CfnBucket);

    it('encrypts with SSE-KMS under the storage key and blocks all public access', () => {
      const bucket = template.toJSON().Resources[auditBucketId()];
      expect(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration).toEqual([
        {
          BucketKeyEnabled: true,
          ServerSideEncryptionByDefault: {
            SSEAlgorithm: 'aws:kms',
            KMSMasterKeyID: stack.resolve(plane.storageKey.keyArn),
          },
        },
      ]);
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
    });

    it('is versioned and Object-Locked in COMPLIANCE mode for the configured days', () => {
      const bucket = template.toJSON().Resources[auditBucketId()];
      expect(bucket.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
      expect(bucket.Properties.ObjectLockEnabled).toBe(true);
      expect(bucket.Properties.ObjectLockConfiguration).toEqual({
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 400 } },
      });
    });

    it('moves objects to Glacier Instant Retrieval at 90 days and expires noncurrent versions after retention', () => {
      const bucket = template.toJSON().Resources[auditBucketId()];
      expect(bucket.Properties.LifecycleConfiguration.Rules).toEqual([
        expect.objectContaining({
          Status: 'Enabled',
          Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 90 }],
          NoncurrentVersionExpiration: { NoncurrentDays: 400 },
        }),
      ]);
    });

    it('denies every request that does not use TLS', () => {
      for (const bucketId of [auditBucketId(), accessLogBucketId()]) {
        template.hasResourceProperties('AWS::S3::BucketPolicy', {
          Bucket: { Ref: bucketId },
          PolicyDocument: {
            Statement: Match.arrayWith([
              Match.objectLike({
                Effect: 'Deny',
                Action: 's3:*',
                Condition: { Bool: { 'aws:SecureTransport': 'false' } },
              }),
            ]),
          },
        });
      }
    });

    it('sends server access logs to a separate encrypted, private access-log bucket', () => {
      const resources = template.toJSON().Resources;
      expect(resources[auditBucketId()].Properties.LoggingConfiguration).toEqual({
        DestinationBucketName: { Ref: accessLogBucketId() },
        LogFilePrefix: 'audit-bucket/',
      });
      const logBucket = resources[accessLogBucketId()];
      expect(logBucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration).toEqual([
        { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
      ]);
      expect(Object.values(logBucket.Properties.PublicAccessBlockConfiguration)).toEqual([true, true, true, true]);
    });
  });

  describe('method: grantEnvelope', () => {
    it('grants only GenerateDataKey and Decrypt on the envelope key, under a secret-ARN encryption context', () => {
      const statements = statementsOfRole(template, 'EnvelopeUser');
      expect(statements).toHaveLength(1);
      const [statement] = statements;
      expect(asList(statement!.Action).sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
      expect(statement!.Resource).toEqual(stack.resolve(plane.envelopeKey.keyArn));
      expect(statement!.Condition).toEqual({
        StringLike: { 'kms:EncryptionContext:secretId': ENVELOPE_SECRET_ID_PATTERN },
        Null: { 'kms:EncryptionContext:versionId': 'false' },
      });
    });
  });

  describe('method: grantStore', () => {
    it('grants only the item-level table actions of the store, on the table', () => {
      const tableStatements = statementsOfRole(template, 'StoreUser').filter((s) =>
        asList(s.Action).some((a) => a.startsWith('dynamodb:')),
      );
      expect(tableStatements).toHaveLength(1);
      expect(asList(tableStatements[0]!.Action).sort()).toEqual([...STORE_TABLE_ACTIONS].sort());
      expect(tableStatements[0]!.Resource).toEqual(stack.resolve(plane.table.tableArn));
    });

    it('grants the storage key only through DynamoDB, and never the envelope key', () => {
      const kmsStatements = statementsOfRole(template, 'StoreUser').filter((s) =>
        asList(s.Action).some((a) => a.startsWith('kms:')),
      );
      expect(kmsStatements).toHaveLength(1);
      expect(kmsStatements[0]!.Resource).toEqual(stack.resolve(plane.storageKey.keyArn));
      expect(kmsStatements[0]!.Condition).toEqual({
        StringEquals: { 'kms:ViaService': stack.resolve(`dynamodb.${stack.region}.amazonaws.com`) },
      });
    });
  });

  it('puts no wildcard action (kms:*, dynamodb:* or any other) in any IAM policy', () => {
    const actions = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p) =>
      (p.Properties.PolicyDocument.Statement as PolicyStatementJson[]).flatMap((s) => asList(s.Action)),
    );
    expect(actions.length).toBeGreaterThan(0);
    expect(actions.filter((a) => a.includes('*'))).toEqual([]);
  });

  it('creates its alarms without actions when no alarm topic is given', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(plane.alarms.length);
    expect(alarms.length).toBeGreaterThanOrEqual(2);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toBeUndefined();
  });

  it('retains keys, table and buckets by default', () => {
    for (const type of ['AWS::KMS::Key', 'AWS::DynamoDB::Table', 'AWS::S3::Bucket']) {
      const resources = Object.values(template.findResources(type));
      expect(resources.length).toBeGreaterThan(0);
      for (const resource of resources) expect(resource.DeletionPolicy).toBe('Retain');
    }
  });

  it('leaves no unacknowledged AwsSolutions error or warning', () => {
    const findings = nagFindings(stack);
    expect(findings.map((f) => `${f.severity} ${f.ruleName}`)).toEqual([]);
  });
});

describe('Class: CofferControlPlane (options)', () => {
  let template: Template;

  beforeAll(() => {
    const stack = new Stack(newApp(), 'Options');
    const topic = sns.Topic.fromTopicArn(stack, 'Topic', 'arn:aws:sns:eu-west-1:123456789012:coffer-alarms');
    new CofferControlPlane(stack, 'ControlPlane', {
      auditRetentionDays: 30,
      removalPolicy: RemovalPolicy.DESTROY,
      alarmTopic: topic,
    });
    template = Template.fromStack(stack);
  });

  it('uses the default name in the key aliases', () => {
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/coffer/envelope' });
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/coffer/storage' });
  });

  it('applies the removal policy and drops deletion protection when asked to destroy', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ DeletionProtectionEnabled: false }),
    });
    for (const bucket of Object.values(template.findResources('AWS::S3::Bucket'))) {
      expect(bucket.DeletionPolicy).toBe('Delete');
    }
  });

  it('uses the configured retention for the Object Lock default', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockConfiguration: {
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 30 } },
      },
    });
  });

  it('sends every alarm to the alarm topic', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    // 10, and the compliance function's 6.
    expect(alarms).toHaveLength(16);
    for (const alarm of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual(['arn:aws:sns:eu-west-1:123456789012:coffer-alarms']);
    }
  });

  it.each([
    ['a name with a slash', { name: 'a/b' }],
    ['an empty name', { name: '' }],
    ['zero retention days', { auditRetentionDays: 0 }],
    ['fractional retention days', { auditRetentionDays: 1.5 }],
    ['retention beyond 100 years', { auditRetentionDays: 36_501 }],
  ])('rejects %s', (_label, props) => {
    const stack = new Stack(newApp(), 'Invalid');
    expect(() => new CofferControlPlane(stack, 'ControlPlane', props)).toThrow(/CofferControlPlane:/);
  });
});

describe('cdk-nag: AwsSolutions', () => {
  it('reports an error for a bare bucket, so a clean report above means something', () => {
    const app = newApp();
    new s3.Bucket(new Stack(app, 'Bad'), 'Bad');
    Template.fromStack(app.node.findChild('Bad') as Stack);
    const errors = nagFindings(app).filter((f) => f.severity === 'error');
    expect(errors.map((f) => f.ruleName)).toEqual(expect.arrayContaining(['AwsSolutions-S1', 'AwsSolutions-S10']));
  });

  it('fails synthesis of an app with an unacknowledged finding when registered as a plugin', () => {
    const app = newApp();
    new s3.Bucket(new Stack(app, 'Bad'), 'Bad');
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-S1/);
  });

  it('lets an app holding CofferStack synthesise with the plugin registered', () => {
    const app = newApp();
    new CofferStack(app, 'coffer');
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const assembly = app.synth();
    expect(assembly.getStackByName('coffer').template.Resources).toBeDefined();
  });
});

describe('Class: CofferStack', () => {
  let template: Template;

  beforeAll(() => {
    const stack = new CofferStack(newApp(), 'coffer', {
      alarmTopicArn: 'arn:aws:sns:us-east-1:123456789012:ops',
      egressAllow: ['*.db.example.com:5432', '10.0.0.0/8'],
    });
    template = Template.fromStack(stack);
  });

  it('gives the broker, rotation and lease sweeper functions the egress allow-list, and nothing else', () => {
    const functions = Object.values(template.findResources('AWS::Lambda::Function'));
    const withList = functions.filter(
      (fn) => fn.Properties.Environment?.Variables?.COFFER_EGRESS_ALLOW === '*.db.example.com:5432,10.0.0.0/8',
    );
    expect(withList).toHaveLength(3);
    const all = functions.filter((fn) => fn.Properties.Environment?.Variables?.COFFER_EGRESS_ALLOW !== undefined);
    expect(all).toHaveLength(3);
  });

  it('outputs the table name, envelope key ARN and audit bucket name', () => {
    const outputs = template.toJSON().Outputs;
    expect(Object.keys(outputs).sort()).toEqual(['ApiUrl', 'AuditBucketName', 'EnvelopeKeyArn', 'TableName']);
    expect(outputs.TableName.Value).toEqual({ Ref: expect.stringMatching(/^ControlPlaneItemsTable/) });
    expect(outputs.EnvelopeKeyArn.Value).toEqual({
      'Fn::GetAtt': [expect.stringMatching(/^ControlPlaneEnvelopeKey/), 'Arn'],
    });
    expect(outputs.AuditBucketName.Value).toEqual({ Ref: expect.stringMatching(/^ControlPlaneAuditBucket/) });
  });

  it('wires alarmTopicArn to the alarms', () => {
    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toEqual(['arn:aws:sns:us-east-1:123456789012:ops']);
    }
  });
});

describe('Class: CofferStack (ldap: the broker in a VPC)', () => {
  const brokerOf = (template: Template) =>
    Object.values(template.findResources('AWS::Lambda::Function')).find((fn) =>
      String(fn.Properties.Description).includes('the broker behind API Gateway'),
    )!;

  it('places only the broker in the VPC, tells it so, and lets its role manage the network interfaces', () => {
    const stack = new Stack(newApp(), 'coffer');
    // Flow logs on: the test's own VPC must pass cdk-nag too, so any finding left is the control plane's.
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, flowLogs: { all: {} } });
    new CofferControlPlane(stack, 'ControlPlane', { name: 'coffer-test', auditRetentionDays: 400, ldap: { vpc } });
    const template = Template.fromStack(stack);
    const broker = brokerOf(template);
    expect(broker.Properties.VpcConfig.SubnetIds).toHaveLength(2);
    expect(broker.Properties.Environment.Variables.COFFER_BROKER_IN_VPC).toBe('true');
    const inVpc = Object.values(template.findResources('AWS::Lambda::Function')).filter(
      (fn) => fn.Properties.VpcConfig !== undefined,
    );
    expect(inVpc).toHaveLength(1);
    const statements = statementsOfRole(template, 'ControlPlaneBrokerRole');
    expect(statements.some((st) => asList(st.Action).includes('ec2:CreateNetworkInterface'))).toBe(true);
    // The config schema the broker parses accepts the flag it is given.
    expect(AwsConfigSchema.in.shape.COFFER_BROKER_IN_VPC.safeParse('true').success).toBe(true);
    expect(nagFindings(stack).map((f) => `${f.severity} ${f.ruleName}`)).toEqual([]);
  });

  it('without it, the broker is outside any VPC and may not enable LDAP mounts', () => {
    const stack = new Stack(newApp(), 'coffer');
    new CofferControlPlane(stack, 'ControlPlane', { name: 'coffer-test', auditRetentionDays: 400 });
    const broker = brokerOf(Template.fromStack(stack));
    expect(broker.Properties.VpcConfig).toBeUndefined();
    expect(broker.Properties.Environment.Variables.COFFER_BROKER_IN_VPC).toBeUndefined();
  });
});

describe('Function: cofferSettingsFromContext', () => {
  const settingsFor = (context: Record<string, unknown>) => cofferSettingsFromContext(new App({ context }).node);

  it('reads admin role ARNs from a comma-separated string or a JSON array', () => {
    const a = 'arn:aws:iam::123456789012:role/admin';
    const b = 'arn:aws:sts::123456789012:assumed-role/ops/alice';
    expect(settingsFor({ 'coffer:adminRoleArns': `${a}, ${b}` }).adminRoleArns).toEqual([a, b]);
    expect(settingsFor({ 'coffer:adminRoleArns': [a] }).adminRoleArns).toEqual([a]);
  });

  it('reads assumable role ARNs for the STS engine, refusing anything but exact role ARNs', () => {
    const a = 'arn:aws:iam::123456789012:role/reports-reader';
    const b = 'arn:aws:iam::123456789012:role/team/deployer';
    expect(settingsFor({ 'coffer:assumableRoleArns': `${a},${b}` }).assumableRoleArns).toEqual([a, b]);
    expect(settingsFor({}).assumableRoleArns).toBeUndefined();
    expect(() => settingsFor({ 'coffer:assumableRoleArns': 'arn:aws:iam::123456789012:role/*' })).toThrow(
      /^context coffer:assumableRoleArns must be exact IAM role ARNs/,
    );
  });

  it('reads the egress allow-list, refusing an entry the functions would refuse', () => {
    expect(settingsFor({ 'coffer:egressAllow': 'db.example.com:5432, 10.0.0.0/8' }).egressAllow).toEqual([
      'db.example.com:5432',
      '10.0.0.0/8',
    ]);
    expect(settingsFor({}).egressAllow).toBeUndefined();
    expect(() => settingsFor({ 'coffer:egressAllow': 'db.*.example.com' })).toThrow(
      /^context coffer:egressAllow: invalid egress allow-list entry "db\.\*\.example\.com"/,
    );
  });

  it('reads the CloudHSM cluster, trust anchor file and password secret ARN together', () => {
    const pem = path.join(tempDir(), 'customerCA.crt');
    fs.writeFileSync(pem, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:kmsuser-AbCdEf';
    expect(
      settingsFor({
        'coffer:cloudHsmClusterId': 'cluster-igklspoyj5v',
        'coffer:cloudHsmTrustAnchorFile': pem,
        'coffer:cloudHsmPasswordSecretArn': arn,
      }),
    ).toMatchObject({
      cloudHsmClusterId: 'cluster-igklspoyj5v',
      cloudHsmTrustAnchorCertificate: expect.stringContaining('BEGIN CERTIFICATE'),
      cloudHsmPasswordSecretArn: arn,
    });
    expect(() => settingsFor({ 'coffer:cloudHsmClusterId': 'cluster-igklspoyj5v' })).toThrow(
      'coffer:cloudHsmTrustAnchorFile',
    );
  });

  it('defaults to name coffer, 365 days and no alarm topic', () => {
    expect(settingsFor({})).toEqual({ name: 'coffer', auditRetentionDays: 365 });
  });

  it('accepts retention days given as a command-line string', () => {
    expect(settingsFor({ 'coffer:auditRetentionDays': '30' }).auditRetentionDays).toBe(30);
  });

  it('passes an SNS topic ARN through', () => {
    const arn = 'arn:aws:sns:eu-west-1:123456789012:alarms';
    expect(settingsFor({ 'coffer:alarmTopicArn': arn }).alarmTopicArn).toBe(arn);
  });

  it.each([
    ['coffer:auditRetentionDays', 'ten'],
    ['coffer:auditRetentionDays', 0],
    ['coffer:auditRetentionDays', 2.5],
    ['coffer:name', ''],
    ['coffer:name', 7],
    ['coffer:alarmTopicArn', 'arn:aws:sqs:eu-west-1:123456789012:q'],
    ['coffer:adminRoleArns', 'arn:aws:iam::123456789012:role/*'],
    ['coffer:adminRoleArns', [7]],
  ])('rejects %s = %j, naming the key', (key, value) => {
    expect(() => settingsFor({ [key]: value })).toThrow(key);
  });
});

describe('App: bin/cdk.ts', () => {
  // The real `cdk synth` path, esbuild bundling included. CDK's built-in CloudFormation rule check (about 30 s of
  // WebAssembly on a small machine) is left to `npx cdk synth` itself.
  it('synthesises offline from context, with no AWS credentials, and reports no cdk-nag findings', {
    timeout: 240_000,
  }, () => {
    const outdir = tempDir();
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      CDK_OUTDIR: outdir,
      CDK_VALIDATION: 'false',
      CDK_CONTEXT_JSON: JSON.stringify({
        ...cdkJsonContext,
        'coffer:name': 'coffer-bin',
        'coffer:auditRetentionDays': '45',
        'coffer:adminRoleArns': 'arn:aws:iam::123456789012:role/admin',
      }),
    };
    execFileSync(process.execPath, ['--import', 'tsx', 'bin/cdk.ts'], { cwd: repoRoot, env, stdio: 'pipe' });

    const synthesised = JSON.parse(fs.readFileSync(path.join(outdir, 'coffer-bin.template.json'), 'utf8'));
    const template = Template.fromJSON(synthesised);
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/coffer-bin/envelope' });
    template.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockConfiguration: {
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 45 } },
      },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ COFFER_BOOTSTRAP_ADMIN_ARNS: 'arn:aws:iam::123456789012:role/admin' }),
      },
    });
    const report = JSON.parse(fs.readFileSync(path.join(outdir, 'validation-report.json'), 'utf8'));
    expect(JSON.stringify(report.pluginReports)).not.toContain('AwsSolutions-');
  });
});
