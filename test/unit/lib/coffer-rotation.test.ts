import fs from 'node:fs';
import path from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ROTATION_STEPS,
  RotationStepError,
  TransientRotationError,
} from '../../../lambdas/core/rotation/rotation-types.ts';
import {
  ROTATION_EVENTS,
  ROTATION_STATES,
  type RotationExecutionInput,
  type StepTaskInput,
} from '../../../lambdas/core/rotation/rotation-workflow.ts';
import { REPO_ROOT } from '../../../lib/broker-bundling.ts';
import { ENVELOPE_KEY_ACTIONS, STORE_TABLE_ACTIONS } from '../../../lib/coffer-control-plane.ts';
import {
  CofferRotation,
  ROTATION_ENV,
  ROTATION_RETRY_ERRORS,
  ROTATION_SCHEDULE_ACTIONS,
  rotationResourceName,
} from '../../../lib/coffer-rotation.ts';
import { CofferStack } from '../../../lib/coffer-stack.ts';
import {
  type AslDefinition,
  ROTATION_ASL_PATH,
  ROTATION_FUNCTION_PLACEHOLDER_ARN,
  rotationDefinitionFromTemplate,
  synthesiseRotationDefinition,
} from '../../../lib/rotation-definition.ts';

const cdkJsonContext: Record<string, unknown> = JSON.parse(
  fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8'),
).context;
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:coffer-alarms';
const SALT = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:coffer-salt-AbCdEf';

/** No bundling (the deployment test builds the real bundles) and no CloudFormation rule check: seconds per app. */
function newApp(): App {
  return new App({
    context: { ...cdkJsonContext, 'aws:cdk:bundling-stacks': [] },
    builtinCloudFormationValidation: false,
  });
}

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}
// biome-ignore lint/suspicious/noExplicitAny: synthesised CloudFormation JSON, asserted field by field.
type Resources = Record<string, { Type: string; Properties: Record<string, any> }>;
const asList = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

function statementsOfRole(resources: Resources, roleId: string): Statement[] {
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy')
    .filter((p) => p.Properties.Roles.some((role: { Ref: string }) => role.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

/** `{"Fn::Join": ["", [...]]}` → a string with pseudo parameters as `<AWS::...>` and other tokens as `<Id.Attr>`. */
function flat(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as { 'Fn::Join'?: [string, unknown[]]; Ref?: string; 'Fn::GetAtt'?: [string, string] };
  if (v['Fn::Join']) return v['Fn::Join'][1].map(flat).join(v['Fn::Join'][0]);
  if (v.Ref) return `<${v.Ref}>`;
  if (v['Fn::GetAtt']) return `<${v['Fn::GetAtt'].join('.')}>`;
  throw new Error(`unexpected token ${JSON.stringify(value)}`);
}

describe('Class: CofferRotation', () => {
  let stack: Stack;
  let rotation: CofferRotation;
  let resources: Resources;
  let definition: AslDefinition;
  const idOf = (construct: { node: { defaultChild?: unknown } }) =>
    stack.getLogicalId(construct.node.defaultChild as lambda.CfnFunction);

  beforeAll(() => {
    stack = new Stack(newApp(), 'Rotation');
    rotation = new CofferRotation(stack, 'Rotation', {
      tableName: 'coffer-items',
      envelopeKeyArn: 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555',
      auditBucketName: 'coffer-audit',
      auditSaltSecret: secretsmanager.Secret.fromSecretCompleteArn(stack, 'Salt', SALT),
      alarmTopic: sns.Topic.fromTopicArn(stack, 'Topic', TOPIC),
    });
    const template = Template.fromStack(stack).toJSON();
    resources = template.Resources;
    definition = rotationDefinitionFromTemplate(template);
  });

  describe('state machine', () => {
    const stepStates = () => ROTATION_STEPS.map((step) => [step, definition.States[ROTATION_STATES[step]]!] as const);

    it('starts at resumeOrStart, which goes to rollback only when ResumeAt is present and "rollback"', () => {
      expect(definition.StartAt).toBe(ROTATION_STATES.resume);
      expect(definition.States[ROTATION_STATES.resume]).toEqual({
        Type: 'Choice',
        Choices: [
          {
            And: [
              { Variable: '$.ResumeAt', IsPresent: true },
              { Variable: '$.ResumeAt', StringEquals: 'rollback' },
            ],
            Next: ROTATION_STATES.rollback,
          },
        ],
        Default: ROTATION_STATES.createSecret,
      });
    });

    it('has exactly the states of ROTATION_STATES', () => {
      expect(Object.keys(definition.States).sort()).toEqual(Object.values(ROTATION_STATES).sort());
    });

    it('chains createSecret → setSecret → testSecret → finishSecret → Rotated', () => {
      const next = stepStates().map(([, state]) => state.Next);
      expect(next).toEqual(['setSecret', 'testSecret', 'finishSecret', ROTATION_STATES.succeeded]);
      expect(definition.States[ROTATION_STATES.succeeded]).toEqual({ Type: 'Succeed' });
    });

    it('invokes the rotation function directly with { Step, Rotation.$: $ } and discards the result', () => {
      for (const [step, state] of stepStates()) {
        expect(state).toMatchObject({
          Type: 'Task',
          Resource: ROTATION_FUNCTION_PLACEHOLDER_ARN,
          Parameters: { Step: step, 'Rotation.$': '$' },
          ResultPath: null,
          TimeoutSeconds: 150,
        });
      }
    });

    it('retries transient and Lambda service errors with full-jitter backoff, then catches everything into rollback', () => {
      for (const [, state] of stepStates()) {
        expect(state.Retry).toEqual([
          {
            ErrorEquals: [...ROTATION_RETRY_ERRORS],
            IntervalSeconds: 2,
            BackoffRate: 2,
            MaxAttempts: 4,
            JitterStrategy: 'FULL',
          },
        ]);
        expect(state.Catch).toEqual([
          { ErrorEquals: ['States.ALL'], ResultPath: '$.Error', Next: ROTATION_STATES.rollback },
        ]);
      }
      expect(ROTATION_RETRY_ERRORS).toContain('TransientRotationError');
      expect(ROTATION_RETRY_ERRORS).toContain('Lambda.TooManyRequestsException');
    });

    it('rolls back with retries into $.Failure, and reports even a failed rollback', () => {
      expect(definition.States[ROTATION_STATES.rollback]).toMatchObject({
        Type: 'Task',
        Resource: ROTATION_FUNCTION_PLACEHOLDER_ARN,
        Parameters: { Step: 'rollback', 'Rotation.$': '$' },
        ResultPath: '$.Failure',
        Retry: [expect.objectContaining({ ErrorEquals: ['States.ALL'], MaxAttempts: 5 })],
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.RollbackError', Next: ROTATION_STATES.publishFailure }],
        Next: ROTATION_STATES.publishFailure,
      });
    });

    it('publishes Coffer Rotation Failed with the whole state as detail, then fails', () => {
      expect(definition.States[ROTATION_STATES.publishFailure]).toMatchObject({
        Type: 'Task',
        Resource: 'arn:aws:states:::events:putEvents',
        Parameters: {
          Entries: [{ Source: ROTATION_EVENTS.source, DetailType: ROTATION_EVENTS.failed, 'Detail.$': '$' }],
        },
        ResultPath: null,
        Next: ROTATION_STATES.failed,
      });
      expect(definition.States[ROTATION_STATES.failed]).toMatchObject({ Type: 'Fail', Error: 'RotationFailed' });
    });

    it('is traced, logs ALL without execution data, and times out', () => {
      const [, machine] = Object.entries(resources).find(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine')!;
      expect(machine.Properties).toMatchObject({
        StateMachineName: 'coffer-rotation',
        TracingConfiguration: { Enabled: true },
        LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: false },
      });
      expect(JSON.stringify(machine.Properties.LoggingConfiguration)).toContain(idOf(rotation.stateMachineLogGroup));
      expect(definition.TimeoutSeconds).toBe(3600);
    });
  });

  describe('rotation function', () => {
    const fn = () => resources[idOf(rotation.function)]!.Properties;

    it('is a named nodejs22.x arm64 function with reserved concurrency', () => {
      expect(fn()).toMatchObject({
        FunctionName: 'coffer-rotation',
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        ReservedConcurrentExecutions: 10,
        Timeout: 120,
      });
    });

    it('gets the broker settings and where the rotation machinery lives', () => {
      const env = fn().Environment.Variables as Record<string, unknown>;
      expect(env).toMatchObject({
        COFFER_TABLE_NAME: 'coffer-items',
        COFFER_AUDIT_BUCKET: 'coffer-audit',
        COFFER_AUDIT_SALT_SECRET_ARN: SALT,
        COFFER_DEPLOYMENT_NAME: 'coffer',
        [ROTATION_ENV.scheduleGroup]: 'coffer-rotation',
        [ROTATION_ENV.eventBusName]: 'default',
      });
      expect(flat(env[ROTATION_ENV.stateMachineArn])).toBe(
        'arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:stateMachine:coffer-rotation',
      );
      // Its own ARN by name: a reference to itself would be a cycle.
      expect(flat(env[ROTATION_ENV.targetArn])).toBe(
        'arn:<AWS::Partition>:lambda:<AWS::Region>:<AWS::AccountId>:function:coffer-rotation',
      );
      expect(env[ROTATION_ENV.schedulerRoleArn]).toEqual({ 'Fn::GetAtt': [idOf(rotation.schedulerRole), 'Arn'] });
    });

    it('exposes the same settings for the broker, pointing the target at the function', () => {
      const env = stack.resolve(rotation.environment) as Record<string, unknown>;
      expect(Object.keys(env).sort()).toEqual(Object.values(ROTATION_ENV).sort());
      expect(env[ROTATION_ENV.targetArn]).toEqual({ 'Fn::GetAtt': [idOf(rotation.function), 'Arn'] });
    });
  });

  describe('IAM', () => {
    const roleStatements = () => statementsOfRole(resources, idOf(rotation.role));
    const bySid = (sid: string) => roleStatements().find((s) => s.Sid === sid)!;

    it('puts no wildcard action in any policy', () => {
      const actions = Object.values(resources)
        .filter((r) => r.Type === 'AWS::IAM::Policy')
        .flatMap((p) => (p.Properties.PolicyDocument.Statement as Statement[]).flatMap((s) => asList(s.Action)));
      expect(actions.length).toBeGreaterThan(0);
      expect(actions.filter((a) => a.includes('*'))).toEqual([]);
    });

    it('lets the function start and describe executions of the rotation state machine only', () => {
      expect(bySid('StartRotations')).toMatchObject({ Action: 'states:StartExecution' });
      expect(flat(bySid('StartRotations').Resource)).toBe(
        'arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:stateMachine:coffer-rotation',
      );
      expect(bySid('DescribeRotations')).toMatchObject({ Action: 'states:DescribeExecution' });
      expect(flat(bySid('DescribeRotations').Resource)).toBe(
        'arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:coffer-rotation:*',
      );
      const states = roleStatements().filter((s) => asList(s.Action).some((a) => a.startsWith('states:')));
      expect(states).toHaveLength(2);
    });

    it('scopes the schedule actions to the schedules of the rotation group', () => {
      const schedules = roleStatements().filter((s) => asList(s.Action).some((a) => a.startsWith('scheduler:')));
      expect(schedules).toHaveLength(1);
      expect(asList(schedules[0]!.Action).sort()).toEqual([...ROTATION_SCHEDULE_ACTIONS].sort());
      expect(flat(schedules[0]!.Resource)).toBe(
        'arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/coffer-rotation/*',
      );
      expect(resources[idOf(rotation.scheduleGroup)]!.Properties).toEqual({ Name: 'coffer-rotation' });
    });

    it('passes only the scheduler role, and only to EventBridge Scheduler', () => {
      const passes = Object.values(resources)
        .filter((r) => r.Type === 'AWS::IAM::Policy')
        .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[])
        .filter((s) => asList(s.Action).includes('iam:PassRole'));
      expect(passes).toHaveLength(1);
      expect(passes[0]!.Resource).toEqual({ 'Fn::GetAtt': [idOf(rotation.schedulerRole), 'Arn'] });
      expect(passes[0]!.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } });
    });

    it('publishes only coffer.rotation events, to the default bus', () => {
      const publish = bySid('PublishRotationEvents');
      expect(publish.Action).toBe('events:PutEvents');
      expect(flat(publish.Resource)).toBe(
        'arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:event-bus/default',
      );
      expect(publish.Condition).toEqual({ StringEquals: { 'events:source': ROTATION_EVENTS.source } });
    });

    it('uses CA keys only when tagged with the deployment', () => {
      expect(bySid('UseCaKeys').Condition).toEqual({ StringEquals: { 'aws:ResourceTag/coffer:ca': 'coffer' } });
      for (const s of roleStatements().filter((st) => st.Resource === '*')) expect(s.Sid).toBe('UseCaKeys');
    });

    it('lets Scheduler assume its role only for the rotation group, and invoke only the rotation function', () => {
      const role = resources[idOf(rotation.schedulerRole)]!.Properties;
      expect(role.AssumeRolePolicyDocument.Statement).toEqual([
        {
          Action: 'sts:AssumeRole',
          Effect: 'Allow',
          Principal: { Service: 'scheduler.amazonaws.com' },
          Condition: {
            StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
            ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [idOf(rotation.scheduleGroup), 'Arn'] } },
          },
        },
      ]);
      expect(statementsOfRole(resources, idOf(rotation.schedulerRole))).toEqual([
        {
          Action: 'lambda:InvokeFunction',
          Effect: 'Allow',
          Resource: { 'Fn::GetAtt': [idOf(rotation.function), 'Arn'] },
        },
      ]);
    });

    it('lets the state machine invoke only the rotation function and put events only on the default bus', () => {
      const statements = statementsOfRole(resources, idOf(rotation.stateMachine.role));
      const invoke = statements.find((s) => s.Action === 'lambda:InvokeFunction')!;
      expect(asList(invoke.Resource).map(flat)).toEqual([
        `<${idOf(rotation.function)}.Arn>`,
        `<${idOf(rotation.function)}.Arn>:*`,
      ]);
      const put = statements.find((s) => s.Action === 'events:PutEvents')!;
      expect(flat(put.Resource)).toMatch(/:event-bus\/default$/);
    });
  });

  describe('triggers and notifications', () => {
    const rules = () => Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Events::Rule');
    const fnArn = () => ({ 'Fn::GetAtt': [idOf(rotation.function), 'Arn'] });

    it('sends breach reports to the rotation function', () => {
      const rule = resources[idOf(rotation.breachRule)]!.Properties;
      expect(rule.EventPattern).toEqual({
        source: [ROTATION_EVENTS.breachSource],
        'detail-type': [ROTATION_EVENTS.breachReported],
      });
      expect(rule.Targets).toEqual([expect.objectContaining({ Arn: fnArn() })]);
    });

    it('runs a revocation sweep every minute', () => {
      const rule = resources[idOf(rotation.sweepRule)]!.Properties;
      expect(rule.ScheduleExpression).toBe('rate(1 minute)');
      expect(rule.Targets).toEqual([expect.objectContaining({ Arn: fnArn(), Input: '{"action":"sweep"}' })]);
    });

    it('lets EventBridge invoke the function for exactly its two rules', () => {
      const permissions = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Permission');
      expect(permissions.map((p) => p.Properties.Principal)).toEqual(['events.amazonaws.com', 'events.amazonaws.com']);
      expect(permissions.map((p) => p.Properties.SourceArn).sort((a, b) => flat(a).localeCompare(flat(b)))).toEqual(
        [
          { 'Fn::GetAtt': [idOf(rotation.breachRule), 'Arn'] },
          { 'Fn::GetAtt': [idOf(rotation.sweepRule), 'Arn'] },
        ].sort((a, b) => flat(a).localeCompare(flat(b))),
      );
    });

    it('forwards Coffer Rotation Failed events to the alarm topic through a publishing role', () => {
      const rule = resources[idOf(rotation.failureRule!)]!.Properties;
      expect(rule.EventPattern).toEqual({ source: [ROTATION_EVENTS.source], 'detail-type': [ROTATION_EVENTS.failed] });
      expect(rule.Targets).toEqual([expect.objectContaining({ Arn: TOPIC, RoleArn: expect.anything() })]);
      expect(rules()).toHaveLength(3);
    });

    it('alarms on failed executions, notifying the topic', () => {
      expect(resources[idOf(rotation.failedAlarm)]!.Properties).toMatchObject({
        Namespace: 'AWS/States',
        MetricName: 'ExecutionsFailed',
        Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: idOf(rotation.stateMachine) } }],
        Threshold: 1,
        AlarmActions: [TOPIC],
      });
    });

    it('creates no failure rule and an alarm without actions when there is no topic', () => {
      const bare = new Stack(newApp(), 'Bare');
      const plain = new CofferRotation(bare, 'Rotation', {
        deploymentName: 'bare',
        tableName: 'coffer-items',
        envelopeKeyArn: 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555',
        auditBucketName: 'coffer-audit',
        auditSaltSecret: secretsmanager.Secret.fromSecretCompleteArn(bare, 'Salt', SALT),
      });
      expect(plain.failureRule).toBeUndefined();
      const template = Template.fromStack(bare);
      template.resourceCountIs('AWS::Events::Rule', 2);
      const [alarm] = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
      expect(alarm!.Properties.AlarmActions).toBeUndefined();
      template.hasResourceProperties('AWS::Scheduler::ScheduleGroup', { Name: 'bare-rotation' });
    });
  });

  it('leaves no unacknowledged AwsSolutions finding, and every acknowledgment gives a reason', () => {
    expect(new AwsSolutionsChecks().validateScope(stack).violations.map((v) => v.ruleName)).toEqual([]);
    const acknowledgments = rotation.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
      .flatMap((m) => Object.entries(m.data as Record<string, string>));
    // The run-time-named resources are acknowledged one by one, not with a blanket IAM5.
    expect(acknowledgments.map(([id]) => id)).toEqual(
      expect.arrayContaining([
        'Annotation::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/coffer-rotation/*]',
        'Annotation::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:coffer-rotation:*]',
      ]),
    );
    expect(acknowledgments.map(([id]) => id)).not.toContain('Annotation::AwsSolutions-IAM5');
    for (const [id, reason] of acknowledgments) expect(reason.length, id).toBeGreaterThan(40);
  });
});

describe('Function: rotationResourceName', () => {
  it('is <deployment>-rotation, shortened with a hash when Lambda would refuse the length', () => {
    expect(rotationResourceName('coffer')).toBe('coffer-rotation');
    const a = rotationResourceName(`${'a'.repeat(60)}1`);
    const b = rotationResourceName(`${'a'.repeat(60)}2`);
    for (const name of [a, b]) {
      expect(name.length).toBeLessThanOrEqual(64);
      expect(name).toMatch(/^a+-[0-9a-f]{8}-rotation$/);
    }
    expect(a).not.toBe(b);
  });
});

describe('Class: CofferControlPlane (rotation wiring)', () => {
  let stack: CofferStack;
  let resources: Resources;
  const idOf = (construct: { node: { defaultChild?: unknown } }) =>
    stack.getLogicalId(construct.node.defaultChild as lambda.CfnFunction);

  beforeAll(() => {
    stack = new CofferStack(newApp(), 'coffer', { alarmTopicArn: TOPIC });
    resources = Template.fromStack(stack).toJSON().Resources;
  });

  it('gives the broker the rotation settings', () => {
    const plane = stack.controlPlane;
    const env = resources[idOf(plane.broker.function)]!.Properties.Environment.Variables;
    expect(env).toMatchObject({
      [ROTATION_ENV.scheduleGroup]: 'coffer-rotation',
      [ROTATION_ENV.eventBusName]: 'default',
      [ROTATION_ENV.targetArn]: { 'Fn::GetAtt': [idOf(plane.rotation.function), 'Arn'] },
      [ROTATION_ENV.schedulerRoleArn]: { 'Fn::GetAtt': [idOf(plane.rotation.schedulerRole), 'Arn'] },
    });
    expect(flat(env[ROTATION_ENV.stateMachineArn])).toMatch(/:stateMachine:coffer-rotation$/);
  });

  it('gives the rotation function the broker CRL URL, for re-issued certificates', () => {
    const plane = stack.controlPlane;
    const urlOf = (fn: lambda.IFunction) =>
      resources[idOf(fn)]!.Properties.Environment.Variables.COFFER_PUBLIC_URL as unknown;
    expect(urlOf(plane.rotation.function)).toEqual(urlOf(plane.broker.function));
    expect(flat(urlOf(plane.rotation.function))).toMatch(/\.execute-api\..*\/prod$/);
  });

  it('lets the broker start rotations, manage the group schedules and pass the scheduler role', () => {
    const plane = stack.controlPlane;
    const statements = statementsOfRole(resources, idOf(plane.broker.role));
    const sids = statements.map((s) => s.Sid);
    for (const sid of ['StartRotations', 'DescribeRotations', 'ManageRotationSchedules', 'PassSchedulerRole']) {
      expect(sids).toContain(sid);
    }
    const schedules = statements.find((s) => s.Sid === 'ManageRotationSchedules')!;
    expect(flat(schedules.Resource)).toMatch(/:schedule\/coffer-rotation\/\*$/);
  });

  it('grants the rotation function the store and the envelope key (no re-wrap), like the lease sweeper', () => {
    const plane = stack.controlPlane;
    const actions = statementsOfRole(resources, idOf(plane.rotation.role)).map((s) => asList(s.Action).sort());
    expect(actions).toContainEqual([...STORE_TABLE_ACTIONS].sort());
    expect(actions).toContainEqual([...ENVELOPE_KEY_ACTIONS].sort());
    expect(actions.flat()).not.toContain('kms:ReEncryptFrom');
    expect(actions.flat()).not.toContain('kms:CreateKey');
  });

  it('shows the failed-executions alarm with the deployment alarms', () => {
    expect(stack.controlPlane.alarms).toContain(stack.controlPlane.rotation.failedAlarm);
  });

  it('leaves no unacknowledged AwsSolutions finding', () => {
    expect(new AwsSolutionsChecks().validateScope(stack).violations.map((v) => v.ruleName)).toEqual([]);
  });
});

describe('Rotation definition (committed ASL)', () => {
  it('equals the definition CDK synthesises now (run `npm run asl` after changing the workflow)', () => {
    const committed = JSON.parse(fs.readFileSync(ROTATION_ASL_PATH, 'utf8'));
    expect(synthesiseRotationDefinition()).toEqual(committed);
  });

  it('holds no CloudFormation token', () => {
    const text = fs.readFileSync(ROTATION_ASL_PATH, 'utf8');
    expect(text).not.toMatch(/Fn::|"Ref"|\$\{Token/);
  });

  it('refuses a template with an unknown token or without the rotation state machine', () => {
    const machine = (definition: unknown) => ({
      Type: 'AWS::StepFunctions::StateMachine',
      Properties: { DefinitionString: definition },
    });
    const withToken = {
      Resources: {
        M: machine({ 'Fn::Join': ['', ['{"StartAt":"resumeOrStart","States":{},"X":"', { Ref: 'SomeParam' }, '"}']] }),
      },
    };
    expect(() => rotationDefinitionFromTemplate(withToken)).toThrow(/no placeholder for the token/);
    const other = { Resources: { M: machine('{"StartAt":"Poll","States":{}}') } };
    expect(() => rotationDefinitionFromTemplate(other)).toThrow(/found 0/);
  });
});

describe('Rotation definition executed (aws-local-stepfunctions)', () => {
  type Handler = (input: StepTaskInput) => unknown;
  type Local = typeof import('aws-local-stepfunctions');
  type RunOptions = NonNullable<Parameters<InstanceType<Local['StateMachine']>['run']>[1]>;
  type LocalHandlers = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>;
  let local: Local;
  let definition: AslDefinition;

  beforeAll(async () => {
    local = await import('aws-local-stepfunctions');
    definition = synthesiseRotationDefinition();
  });

  const input: RotationExecutionInput = {
    RotationId: 'r-1',
    ClientRequestToken: '5b6d6a2c-7a0e-4f57-9c1c-1d1f1e6b3a10',
    Secrets: ['prod/db', 'prod/api-key'],
    Trigger: 'on-demand',
  };

  /** Runs the definition with every task bound to a fake by state name; records each call. */
  async function run(execInput: RotationExecutionInput, handlers: Partial<Record<string, Handler>> = {}) {
    const calls: { state: string; input: StepTaskInput | Record<string, unknown> }[] = [];
    const bind = (state: string) => async (payload: unknown) => {
      calls.push({ state, input: payload as StepTaskInput });
      const handler = handlers[state];
      return (handler ? await handler(payload as StepTaskInput) : null) ?? {};
    };
    const taskStates = Object.entries(definition.States)
      .filter(([, s]) => s.Type === 'Task')
      .map(([name]) => name);
    const machine = new local.StateMachine(definition as never);
    const execution = machine.run(execInput as never, {
      overrides: {
        taskResourceLocalHandlers: Object.fromEntries(taskStates.map((name) => [name, bind(name)])) as LocalHandlers,
        retryIntervalOverrides: Object.fromEntries(taskStates.map((name) => [name, 0])),
      },
    });
    try {
      return { output: await execution.result, error: undefined, calls };
    } catch (error) {
      return { output: undefined, error: error as Error & { cause?: Error }, calls };
    }
  }

  it('runs the four steps in order, each given the execution input, and succeeds', async () => {
    const { output, error, calls } = await run(input);
    expect(error).toBeUndefined();
    expect(calls.map((c) => c.state)).toEqual(['createSecret', 'setSecret', 'testSecret', 'finishSecret']);
    for (const call of calls) expect(call.input).toEqual({ Step: call.state, Rotation: input });
    expect(output).toEqual(input);
  });

  it('retries a TransientRotationError at setSecret, then carries on', async () => {
    let failures = 2;
    const { error, calls } = await run(input, {
      setSecret: () => {
        if (failures-- > 0) throw new TransientRotationError('target unreachable');
      },
    });
    expect(error).toBeUndefined();
    expect(calls.map((c) => c.state)).toEqual([
      'createSecret',
      'setSecret',
      'setSecret',
      'setSecret',
      'testSecret',
      'finishSecret',
    ]);
  });

  it('rolls back when a transient error outlasts the four retries', async () => {
    const { error, calls } = await run(input, {
      testSecret: () => {
        throw new TransientRotationError('still unreachable');
      },
    });
    expect(calls.filter((c) => c.state === 'testSecret')).toHaveLength(5);
    expect(calls.map((c) => c.state).slice(-2)).toEqual(['rollback', 'publishFailure']);
    expect(error?.cause?.name).toBe('RotationFailed');
  });

  it.each(ROTATION_STEPS)('rolls back a permanent failure at %s, publishes it and ends failed', async (step) => {
    const { error, calls } = await run(input, {
      [step]: () => {
        throw new RotationStepError(`${step} cannot proceed`);
      },
    });
    const order = calls.map((c) => c.state);
    const ran = ROTATION_STEPS.slice(0, ROTATION_STEPS.indexOf(step) + 1);
    // Not retried: one call of the failing step, none after it.
    expect(order).toEqual([...ran, 'rollback', 'publishFailure']);
    const caught = { Error: 'RotationStepError', Cause: `${step} cannot proceed` };
    expect(calls.at(-2)!.input).toEqual({ Step: 'rollback', Rotation: { ...input, Error: caught } });
    expect(calls.at(-1)!.input).toMatchObject({
      Entries: [
        { Source: ROTATION_EVENTS.source, DetailType: ROTATION_EVENTS.failed, Detail: { ...input, Error: caught } },
      ],
    });
    expect(error?.cause?.name).toBe('RotationFailed');
  });

  it('passes the rollback result on to the failure event as $.Failure', async () => {
    const failure = { failedStep: 'setSecret', error: 'RotationStepError' };
    const { calls } = await run(input, {
      setSecret: () => {
        throw new RotationStepError('no');
      },
      rollback: () => failure,
    });
    const published = calls.at(-1)!.input as { Entries: { Detail: Record<string, unknown> }[] };
    expect(published.Entries[0]!.Detail.Failure).toEqual(failure);
  });

  it('retries a failing rollback, then still publishes the failure with $.RollbackError', async () => {
    const { error, calls } = await run(input, {
      createSecret: () => {
        throw new RotationStepError('bad config');
      },
      rollback: () => {
        throw new Error('target gone');
      },
    });
    expect(calls.filter((c) => c.state === 'rollback')).toHaveLength(6);
    const published = calls.at(-1)!.input as { Entries: { Detail: Record<string, unknown> }[] };
    expect(calls.at(-1)!.state).toBe('publishFailure');
    expect(published.Entries[0]!.Detail).toMatchObject({
      Error: { Error: 'RotationStepError' },
      RollbackError: { Error: 'Error', Cause: 'target gone' },
    });
    expect(error?.cause?.name).toBe('RotationFailed');
  });

  it('goes straight to rollback when resumed with ResumeAt: rollback', async () => {
    const resumed: RotationExecutionInput = { ...input, ResumeAt: 'rollback' };
    const { error, calls } = await run(resumed);
    expect(calls.map((c) => c.state)).toEqual(['rollback', 'publishFailure']);
    expect(calls[0]!.input).toEqual({ Step: 'rollback', Rotation: resumed });
    expect(error?.cause?.name).toBe('RotationFailed');
  });
});
