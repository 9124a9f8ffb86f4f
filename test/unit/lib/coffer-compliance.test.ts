import fs from 'node:fs';
import path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AUDIT_CHAINS_FAILED_METRIC,
  AUDIT_GAPS_METRIC,
  COMPLIANCE_METRICS,
} from '../../../lambdas/entrypoints/lambda/deployment-names.ts';
import { REPO_ROOT } from '../../../lib/broker-bundling.ts';
import {
  COMPLIANCE_REPORT_WRITE_ACTIONS,
  COMPLIANCE_TABLE_ACTIONS,
  CofferCompliance,
} from '../../../lib/coffer-compliance.ts';
import { CofferStack } from '../../../lib/coffer-stack.ts';

const cdkJsonContext: Record<string, unknown> = JSON.parse(
  fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8'),
).context;
const TABLE_ARN = 'arn:aws:dynamodb:us-east-1:123456789012:table/coffer-items';
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:coffer-alarms';

function newApp(): App {
  return new App({
    context: { ...cdkJsonContext, 'aws:cdk:bundling-stacks': [] },
    builtinCloudFormationValidation: false,
  });
}

// biome-ignore lint/suspicious/noExplicitAny: synthesised CloudFormation JSON, asserted field by field.
type Resources = Record<string, { Type: string; Properties: Record<string, any> }>;

describe('Construct: CofferCompliance', () => {
  let stack: Stack;
  let compliance: CofferCompliance;
  let template: Template;
  let resources: Resources;

  beforeAll(() => {
    stack = new Stack(newApp(), 'Compliance', { env: { account: '123456789012', region: 'us-east-1' } });
    const storageKey = new kms.Key(stack, 'StorageKey', { enableKeyRotation: true });
    const auditBucket = new s3.Bucket(stack, 'AuditBucket', {
      encryptionKey: storageKey,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      serverAccessLogsPrefix: 'access/',
    });
    const auditSaltSecret = new secretsmanager.Secret(stack, 'Salt', { encryptionKey: storageKey });
    compliance = new CofferCompliance(stack, 'Compliance', {
      tableArn: TABLE_ARN,
      tableName: 'coffer-items',
      envelopeKeyArn: 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555',
      storageKey,
      auditBucket,
      auditSaltSecret,
      environment: { COFFER_ROTATION_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:x' },
      alarmTopic: sns.Topic.fromTopicArn(stack, 'Topic', TOPIC),
    });
    template = Template.fromStack(stack);
    resources = template.toJSON().Resources as Resources;
  });

  it('runs the function every hour over the last day, one run at a time, with the settings it reads', () => {
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 hour)' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      ReservedConcurrentExecutions: 1,
      Environment: {
        Variables: Match.objectLike({
          COFFER_TABLE_NAME: 'coffer-items',
          COFFER_COMPLIANCE_WINDOW: '1d',
          COFFER_ROTATION_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:x',
          POWERTOOLS_SERVICE_NAME: 'compliance',
          POWERTOOLS_METRICS_NAMESPACE: 'Coffer',
        }),
      },
    });
  });

  it('reads table GetItem/Query, audit segments, the salt, and writes nothing but its report', () => {
    const statements = Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Condition?: unknown }[]);
    const actionsOf = (s: { Action: string | string[] }) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
    const actions = statements.flatMap(actionsOf);
    expect(actions).toEqual(expect.arrayContaining([...COMPLIANCE_TABLE_ACTIONS, 's3:GetObject', 's3:ListBucket']));
    const writes = statements.filter((s) =>
      actionsOf(s).some((a) =>
        /^(dynamodb:(Put|Delete|Update|TransactWrite|BatchWrite)|s3:(Put|Delete)|kms:(Encrypt|GenerateDataKey))/.test(
          a,
        ),
      ),
    );
    expect(writes).toEqual([
      {
        Effect: 'Allow',
        Action: 'dynamodb:UpdateItem',
        Resource: TABLE_ARN,
        Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['compliance'] } },
      },
      {
        Effect: 'Allow',
        Action: ['kms:Encrypt', 'kms:GenerateDataKey'],
        Resource: expect.anything(),
        Condition: {
          StringEquals: {
            'kms:ViaService': { 'Fn::Join': ['', ['dynamodb.', { Ref: 'AWS::Region' }, '.amazonaws.com']] },
          },
        },
      },
    ]);
    expect(COMPLIANCE_REPORT_WRITE_ACTIONS).toEqual(['dynamodb:UpdateItem']);
  });

  it('alarms on rotation compliance below 100 %, audit gaps and chains, refusals of 5 %, expiring certificates', () => {
    const alarms = Object.values(resources)
      .filter((r) => r.Type === 'AWS::CloudWatch::Alarm')
      .map((r) => r.Properties);
    const byMetric = (name: string) => alarms.find((a) => a.MetricName === name);
    // Two hourly runs per period: one a little late does not leave a period without data.
    for (const alarm of alarms) expect(alarm.Period).toBe(7200);
    expect(byMetric(COMPLIANCE_METRICS.rotation_compliance)).toMatchObject({
      Threshold: 100,
      ComparisonOperator: 'LessThanThreshold',
      Namespace: 'Coffer',
      Dimensions: [{ Name: 'service', Value: 'compliance' }],
    });
    expect(byMetric(AUDIT_GAPS_METRIC)).toMatchObject({
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'breaching',
    });
    expect(byMetric(AUDIT_CHAINS_FAILED_METRIC)).toMatchObject({ Threshold: 0, TreatMissingData: 'breaching' });
    expect(byMetric(COMPLIANCE_METRICS.unauthorised_attempt_rate)).toMatchObject({
      Threshold: 5,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
    expect(byMetric(COMPLIANCE_METRICS.expiring_certificates)).toMatchObject({ Threshold: 0 });
    expect(byMetric('Errors')).toMatchObject({ Namespace: 'AWS/Lambda' });
    expect(compliance.alarms).toHaveLength(6);
    for (const alarm of alarms) expect(alarm.AlarmActions).toEqual([TOPIC]);
  });

  it('charts every published figure on one dashboard', () => {
    const [dashboard] = Object.values(resources).filter((r) => r.Type === 'AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(stack.resolve(dashboard!.Properties.DashboardBody));
    for (const name of [...Object.values(COMPLIANCE_METRICS), AUDIT_GAPS_METRIC, AUDIT_CHAINS_FAILED_METRIC]) {
      expect(body, name).toContain(name);
    }
  });

  it('leaves no unacknowledged AwsSolutions finding', () => {
    expect(new AwsSolutionsChecks().validateScope(compliance).violations.map((v) => v.ruleName)).toEqual([]);
  });
});

describe('Stack: CofferStack with the compliance function', () => {
  it('wires it to the control plane: the table, the audit bucket, the salt, the rotation settings', () => {
    const stack = new CofferStack(newApp(), 'Coffer', {
      env: { account: '123456789012', region: 'us-east-1' },
      adminRoleArns: ['arn:aws:iam::123456789012:role/admin'],
    } as ConstructorParameters<typeof CofferStack>[2]);
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('computes the compliance report'),
      Environment: {
        Variables: Match.objectLike({
          COFFER_AUDIT_BUCKET: Match.anyValue(),
          COFFER_AUDIT_SALT_SECRET_ARN: Match.anyValue(),
          COFFER_ROTATION_STATE_MACHINE_ARN: Match.anyValue(),
        }),
      },
    });
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'coffer-compliance' });
  });
});
