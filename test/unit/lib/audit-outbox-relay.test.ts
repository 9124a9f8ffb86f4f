import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditOutboxRelay, RELAY_TABLE_ACTIONS } from '../../../lib/audit-outbox-relay.ts';
import { REPO_ROOT } from '../../../lib/broker-bundling.ts';

const cdkJsonContext: Record<string, unknown> = JSON.parse(
  fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8'),
).context;
const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-relay-'));
afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

function foundation(stack: Stack) {
  const storageKey = new kms.Key(stack, 'StorageKey', { enableKeyRotation: true });
  const table = new dynamodb.Table(stack, 'Items', {
    partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
    sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
    encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
    encryptionKey: storageKey,
    stream: dynamodb.StreamViewType.NEW_IMAGE,
  });
  const auditBucket = new s3.Bucket(stack, 'Audit', { encryptionKey: storageKey, objectLockEnabled: true });
  return { storageKey, table, auditBucket };
}

describe('Class: AuditOutboxRelay', () => {
  let stack: Stack;
  let relay: AuditOutboxRelay;
  let template: Template;
  let parts: ReturnType<typeof foundation>;

  beforeAll(() => {
    const app = new App({ outdir, context: cdkJsonContext });
    stack = new Stack(app, 'Relay', { env: { account: '123456789012', region: 'eu-west-1' } });
    parts = foundation(stack);
    const alarmTopic = sns.Topic.fromTopicArn(stack, 'Ops', 'arn:aws:sns:eu-west-1:123456789012:ops');
    relay = new AuditOutboxRelay(stack, 'AuditRelay', { ...parts, alarmTopic });
    template = Template.fromStack(stack);
  });

  function statements(): Statement[] {
    const roleId = stack.getLogicalId(relay.role.node.defaultChild as never);
    return Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
  }

  it('runs nodejs22.x on arm64 with reserved concurrency 1 and the table and bucket in its environment', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      ReservedConcurrentExecutions: 1,
      Environment: {
        Variables: Match.objectLike({
          COFFER_TABLE_NAME: stack.resolve(parts.table.tableName),
          COFFER_AUDIT_BUCKET: stack.resolve(parts.auditBucket.bucketName),
        }),
      },
    });
  });

  it('wakes on outbox inserts only, from the table stream', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: stack.resolve(parts.table.tableStreamArn),
      StartingPosition: 'LATEST',
      FilterCriteria: {
        Filters: [
          {
            Pattern: JSON.stringify({
              eventName: ['INSERT'],
              dynamodb: { Keys: { pk: { S: [{ prefix: 'audit-outbox#' }] } } },
            }),
          },
        ],
      },
    });
  });

  it('also runs every minute', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [Match.objectLike({ Arn: stack.resolve(relay.function.functionArn) })],
    });
  });

  it('alarms on the Coffer AuditShippingLagSeconds metric, treating silence as breaching, to the topic', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'Coffer',
      MetricName: 'AuditShippingLagSeconds',
      Dimensions: [{ Name: 'service', Value: 'audit-relay' }],
      Statistic: 'Maximum',
      Threshold: 300,
      TreatMissingData: 'breaching',
      AlarmActions: ['arn:aws:sns:eu-west-1:123456789012:ops'],
    });
  });

  it('grants item access only to the outbox and relay-head partitions, with no wildcard actions', () => {
    const all = statements();
    expect(all.flatMap((s) => [s.Action].flat()).filter((a) => a.includes('*'))).toEqual([]);
    const table = all.find((s) => [s.Action].flat().includes('dynamodb:Query'))!;
    expect([table.Action].flat().sort()).toEqual([...RELAY_TABLE_ACTIONS].sort());
    expect(table.Resource).toEqual(stack.resolve(parts.table.tableArn));
    expect(table.Condition).toEqual({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['audit-outbox#*', 'audit-relay'] },
    });
    const s3Statement = all.find((s) => [s.Action].flat().includes('s3:PutObject'))!;
    expect([s3Statement.Action].flat().sort()).toEqual(['s3:GetObject', 's3:PutObject']);
    expect(JSON.stringify(s3Statement.Resource)).toContain('/audit/*');
    const key = all.find((s) => [s.Action].flat().includes('kms:Decrypt'))!;
    expect(key.Resource).toEqual(stack.resolve(parts.storageKey.keyArn));
    expect(key.Condition?.StringEquals?.['kms:ViaService']).toBeDefined();
    // No managed policies (AWSLambdaBasicExecutionRole would allow writing to every log group).
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: Match.objectLike({}),
      ManagedPolicyArns: Match.absent(),
    });
  });

  it('leaves no unacknowledged cdk-nag AwsSolutions finding', () => {
    const findings = new AwsSolutionsChecks().validateScope(relay).violations;
    expect(findings.map((f) => `${f.severity} ${f.ruleName} ${JSON.stringify(f.violatingResources)}`)).toEqual([]);
  });

  it('refuses a table without a stream', () => {
    const other = new Stack(new App({ outdir, context: cdkJsonContext }), 'NoStream');
    const { storageKey, auditBucket } = foundation(other);
    const table = dynamodb.Table.fromTableAttributes(other, 'Imported', { tableName: 'coffer-items' });
    expect(() => new AuditOutboxRelay(other, 'AuditRelay', { table, storageKey, auditBucket })).toThrow(
      /needs a stream/,
    );
  });
});
