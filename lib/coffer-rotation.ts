import { createHash } from 'node:crypto';
import path from 'node:path';
import { Annotations, ArnFormat, Aws, Duration, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { ROTATION_STEPS } from '../lambdas/core/rotation/rotation-types.ts';
import { ROTATION_EVENTS, ROTATION_STATES } from '../lambdas/core/rotation/rotation-workflow.ts';
import { CA_KEY_TAG, METRICS_NAMESPACE, SERVICE_NAME } from '../lambdas/entrypoints/lambda/deployment-names.ts';
import { REPO_ROOT } from './broker-bundling.ts';
import { CofferFunction } from './coffer-function.ts';
import { functionRole } from './function-role.ts';

/** The rotation Lambda's entry module: answers step tasks, scheduler targets, breach events and the sweep. */
export const ROTATION_ENTRY = path.join(REPO_ROOT, 'lambdas/entrypoints/lambda/rotation-handler.ts');

/**
 * Errors a step is retried on: the rotators' {@link TransientRotationError} (by its `name`) and the Lambda service
 * errors Step Functions reports for an invocation that never ran the handler (throttling included).
 */
export const ROTATION_RETRY_ERRORS: readonly string[] = [
  'TransientRotationError',
  'Lambda.ClientExecutionTimeoutException',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
];

/** What the broker and the rotation Lambda may do with the rotation schedules (one per secret, in one group). */
export const ROTATION_SCHEDULE_ACTIONS: readonly string[] = [
  'scheduler:CreateSchedule',
  'scheduler:UpdateSchedule',
  'scheduler:DeleteSchedule',
  'scheduler:GetSchedule',
];

/** Names of the environment variables that tell a Lambda where the rotation machinery lives. */
export const ROTATION_ENV = {
  stateMachineArn: 'COFFER_ROTATION_STATE_MACHINE_ARN',
  scheduleGroup: 'COFFER_ROTATION_SCHEDULE_GROUP',
  schedulerRoleArn: 'COFFER_ROTATION_SCHEDULER_ROLE_ARN',
  targetArn: 'COFFER_ROTATION_TARGET_ARN',
  eventBusName: 'COFFER_EVENT_BUS_NAME',
} as const;

/** Rotation events go to, and breach reports come from, the account's default bus. */
export const ROTATION_EVENT_BUS = 'default';

/** How long one execution may run: retries included, a coordinated group's four steps end well within it. */
const EXECUTION_TIMEOUT = Duration.hours(1);
/** One step of a coordinated group runs for every member; a hung target is cut off and the step retried. */
const FUNCTION_TIMEOUT = Duration.minutes(2);
/**
 * A task's own limit, a little over the function's: explicit, because runners disagree on the default (Step
 * Functions: none to speak of; the ASL specification and the local runner: 60 s).
 */
const STEP_TIMEOUT = FUNCTION_TIMEOUT.plus(Duration.seconds(30));
const NAME_MAX = 64;

/**
 * `<deployment>-rotation`: the physical name of the rotation function, state machine and schedule group. They are
 * named (not generated) because the function's own environment must carry its ARN and the state machine's, and a
 * reference to either would be a dependency cycle. A deployment name too long for Lambda's 64 characters is
 * shortened and made unique again with a hash.
 *
 * @example
 * rotationResourceName('coffer'); // 'coffer-rotation'
 */
export function rotationResourceName(deploymentName: string): string {
  const full = `${deploymentName}-rotation`;
  if (full.length <= NAME_MAX) return full;
  const hash = createHash('sha256').update(deploymentName).digest('hex').slice(0, 8);
  return `${deploymentName.slice(0, NAME_MAX - '-rotation'.length - hash.length - 1)}-${hash}-rotation`;
}

/** Configuration of {@link CofferRotation}. */
export interface CofferRotationProps {
  /** @default 'coffer' (names `<name>-rotation`, descriptions) */
  readonly deploymentName?: string;
  /** The items table (secrets, rotation configs, locks, revocation queue). */
  readonly tableName: string;
  /** The envelope key: every step reads and writes secret versions. */
  readonly envelopeKeyArn: string;
  /** The audit bucket (the records themselves go to the table's outbox, as the broker's). */
  readonly auditBucketName: string;
  /** The audit HMAC salt, read at cold start as the broker does. */
  readonly auditSaltSecret: secretsmanager.ISecret;
  /**
   * Where `Coffer Rotation Failed` events and the failed-executions alarm notify.
   * @default - no notification; the event is still published and the alarm still shows in the console
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Concurrent rotation Lambda invocations: bounds the load rotations put on databases and providers; a throttled
   * step is retried by the workflow.
   * @default 10
   */
  readonly reservedConcurrentExecutions?: number;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /** @default RETAIN (the log groups) */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Secret rotation on AWS: the rotation Lambda, the Step Functions workflow it serves, the EventBridge Scheduler group
 * the broker puts one schedule per secret into, the breach-report rule, a sweep every minute (revocations due after
 * an overlap), and the failure notifications.
 *
 * The workflow is the one the local runner executes (`lambdas/core/rotation/workflow/rotation-state-machine.asl.json`
 * is generated from it by `npm run asl`): `resumeOrStart` → createSecret → setSecret → testSecret → finishSecret →
 * `Rotated`; each step retries transient errors with backoff and any other failure goes to `rollback`, then
 * `publishFailure` (EventBridge `Coffer Rotation Failed`) and `RotationFailed`.
 *
 * The function's role starts with its logs, the audit salt, the workflow and the schedules; {@link CofferControlPlane}
 * grants the table and the envelope key, as for the broker. {@link CofferRotation.grantControl} gives the broker what
 * it needs to start rotations and manage schedules, and {@link CofferRotation.environment} where to find them.
 *
 * @example
 * ```ts
 * const rotation = new CofferRotation(this, 'Rotation', { tableName, envelopeKeyArn, auditBucketName, auditSaltSecret });
 * plane.grantStore(rotation.role);
 * plane.grantEnvelope(rotation.role);
 * rotation.grantControl(broker.role);
 * ```
 */
export class CofferRotation extends Construct {
  readonly function: CofferFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly stateMachine: sfn.StateMachine;
  readonly stateMachineLogGroup: logs.LogGroup;
  readonly scheduleGroup: scheduler.ScheduleGroup;
  /** The role EventBridge Scheduler assumes to invoke the rotation Lambda: passed with every schedule. */
  readonly schedulerRole: iam.Role;
  /** Breach reports (`coffer.security` / `Secret Compromised`) → the rotation Lambda. */
  readonly breachRule: events.Rule;
  /** Every minute, `{ "action": "sweep" }` → the rotation Lambda. */
  readonly sweepRule: events.Rule;
  /** `Coffer Rotation Failed` → the alarm topic; only with `alarmTopic`. */
  readonly failureRule?: events.Rule;
  /** At least one execution failed (rolled back, or broke) in 5 minutes. */
  readonly failedAlarm: cloudwatch.Alarm;
  /** The physical name of the function, state machine and schedule group. */
  readonly resourceName: string;
  /** ARN of the state machine, built from its name (see {@link rotationResourceName}). */
  readonly stateMachineArn: string;

  constructor(scope: Construct, id: string, props: CofferRotationProps) {
    super(scope, id);
    const name = props.deploymentName ?? 'coffer';
    const stack = Stack.of(this);
    this.resourceName = rotationResourceName(name);
    this.stateMachineArn = stack.formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: this.resourceName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const functionArn = stack.formatArn({
      service: 'lambda',
      resource: 'function',
      resourceName: this.resourceName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });

    this.scheduleGroup = new scheduler.ScheduleGroup(this, 'ScheduleGroup', {
      scheduleGroupName: this.resourceName,
    });

    ({ logGroup: this.logGroup, role: this.role } = functionRole(this, {
      description: `Coffer (${name}): the rotation function`,
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
    }));
    props.auditSaltSecret.grantRead(this.role);
    // Certificate rotation re-issues from the PKI engine: signing with the deployment's CA keys, nothing more.
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'UseCaKeys',
        actions: ['kms:Sign', 'kms:GetPublicKey', 'kms:DescribeKey'],
        resources: ['*'],
        conditions: { StringEquals: { [`aws:ResourceTag/${CA_KEY_TAG}`]: name } },
      }),
    );
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'CA keys are created by the broker at run time, so they cannot be named: kms:Sign/GetPublicKey/DescribeKey ' +
        `apply only to keys tagged ${CA_KEY_TAG}=<deployment> (certificate rotation re-issues with them).`,
    });

    this.schedulerRole = new iam.Role(this, 'SchedulerRole', {
      description: `Coffer (${name}): EventBridge Scheduler invokes the rotation function with it`,
      // Confused-deputy guard: only schedules of this account's rotation group may use the role.
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com').withConditions({
        StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
        ArnEquals: { 'aws:SourceArn': this.scheduleGroup.scheduleGroupArn },
      }),
    });

    this.function = new CofferFunction(this, 'Function', {
      functionName: this.resourceName,
      description: `Coffer (${name}): rotation steps, scheduled and breach rotations, revocation sweep`,
      entry: ROTATION_ENTRY,
      // Key generation (certificates) is CPU-bound, and CPU scales with memory.
      memorySize: 1024,
      timeout: FUNCTION_TIMEOUT,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions ?? 10,
      role: this.role,
      logGroup: this.logGroup,
      environment: {
        COFFER_TABLE_NAME: props.tableName,
        COFFER_ENVELOPE_KEY_ARN: props.envelopeKeyArn,
        COFFER_AUDIT_BUCKET: props.auditBucketName,
        COFFER_AUDIT_SALT_SECRET_ARN: props.auditSaltSecret.secretArn,
        COFFER_DEPLOYMENT_NAME: name,
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        ...this.environmentFor(functionArn),
      },
    });
    // Exactly this function, no version or alias.
    this.schedulerRole.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.function.functionArn] }),
    );

    this.stateMachineLogGroup = new logs.LogGroup(this, 'StateMachineLogGroup', {
      // Step Functions' log delivery keeps its resource policy small for groups under /aws/vendedlogs/.
      logGroupName: `/aws/vendedlogs/states/${this.resourceName}`,
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      ...(props.removalPolicy !== undefined && { removalPolicy: props.removalPolicy }),
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: this.resourceName,
      comment: `Coffer (${name}): rotates one secret or a rotation group; any failure rolls back`,
      definitionBody: sfn.DefinitionBody.fromChainable(rotationWorkflow(this, this.function)),
      timeout: EXECUTION_TIMEOUT,
      tracingEnabled: true,
      // Inputs and outputs hold secret names and error messages, never values; they stay out of the logs anyway.
      logs: { destination: this.stateMachineLogGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    const stateMachineRole = this.stateMachine.role;
    Validations.of(stateMachineRole).acknowledge(
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'Step Functions log delivery (logs:CreateLogDelivery and friends) and X-Ray (PutTraceSegments) support no ' +
          'resource ARNs; CDK adds them for logging and tracing.',
      },
      {
        id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(this.function.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
        reason:
          'The LambdaInvoke tasks may invoke versions of the rotation function (`<arn>:*`), and nothing else; the ' +
          'definition calls the unqualified function.',
      },
    );

    this.grantControl(this.role);

    this.breachRule = new events.Rule(this, 'BreachRule', {
      description: `Coffer (${name}): a reported compromise rotates the secret at once`,
      eventPattern: { source: [ROTATION_EVENTS.breachSource], detailType: [ROTATION_EVENTS.breachReported] },
      targets: [new eventsTargets.LambdaFunction(this.function, { retryAttempts: 8, maxEventAge: Duration.hours(2) })],
    });

    this.sweepRule = new events.Rule(this, 'SweepRule', {
      description: `Coffer (${name}): revokes retired credentials whose overlap has ended`,
      schedule: events.Schedule.rate(Duration.minutes(1)),
      // No retries: the next minute's sweep picks up whatever this one left.
      targets: [
        new eventsTargets.LambdaFunction(this.function, {
          event: events.RuleTargetInput.fromObject({ action: 'sweep' }),
          retryAttempts: 0,
          maxEventAge: Duration.minutes(1),
        }),
      ],
    });

    if (props.alarmTopic) {
      this.failureRule = new events.Rule(this, 'FailureRule', {
        description: `Coffer (${name}): a failed (rolled back) rotation notifies the alarm topic`,
        eventPattern: { source: [ROTATION_EVENTS.source], detailType: [ROTATION_EVENTS.failed] },
        // A role, because an imported topic's policy cannot be extended from here.
        targets: [new eventsTargets.SnsTopic(props.alarmTopic, { authorizeUsingRole: true })],
      });
      Annotations.of(this.failureRule).acknowledgeWarning(
        '@aws-cdk/aws-events:ruleUnresolvedEnvironment',
        'The alarm topic is in the deployment account and region (its alarms notify it too); an imported ARN just ' +
          'cannot prove it to CDK.',
      );
    }

    this.failedAlarm = new cloudwatch.Alarm(this, 'ExecutionsFailedAlarm', {
      alarmDescription: `Coffer (${name}): a rotation failed and was rolled back (see the Coffer Rotation Failed event)`,
      metric: this.stateMachine.metricFailed({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    if (props.alarmTopic) this.failedAlarm.addAlarmAction(new cloudwatchActions.SnsAction(props.alarmTopic));
  }

  /**
   * Where the rotation machinery lives, as environment variables ({@link ROTATION_ENV}): for the broker, which
   * starts rotations and keeps the schedules in step with rotation configs.
   *
   * @example
   * for (const [key, value] of Object.entries(rotation.environment)) broker.addEnvironment(key, value);
   */
  get environment(): Readonly<Record<string, string>> {
    return this.environmentFor(this.function.functionArn);
  }

  /**
   * Lets `grantee` start and inspect executions of the workflow (`states:StartExecution` on the state machine,
   * `states:DescribeExecution` on its executions), manage the schedules of the rotation group (create, update,
   * delete, get: nothing on other groups), pass the scheduler role to EventBridge Scheduler only, and publish
   * `coffer.rotation` events to the default bus.
   *
   * @example
   * rotation.grantControl(broker.role);
   */
  grantControl(grantee: iam.IGrantable & Construct): void {
    const stack = Stack.of(this);
    const statements = [
      new iam.PolicyStatement({
        sid: 'StartRotations',
        actions: ['states:StartExecution'],
        resources: [this.stateMachineArn],
      }),
      new iam.PolicyStatement({
        sid: 'DescribeRotations',
        actions: ['states:DescribeExecution'],
        resources: [this.executionArnPattern()],
      }),
      new iam.PolicyStatement({
        sid: 'ManageRotationSchedules',
        actions: [...ROTATION_SCHEDULE_ACTIONS],
        resources: [this.scheduleArnPattern()],
      }),
      new iam.PolicyStatement({
        sid: 'PassSchedulerRole',
        actions: ['iam:PassRole'],
        resources: [this.schedulerRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
      }),
      new iam.PolicyStatement({
        sid: 'PublishRotationEvents',
        actions: ['events:PutEvents'],
        resources: [stack.formatArn({ service: 'events', resource: 'event-bus', resourceName: ROTATION_EVENT_BUS })],
        conditions: { StringEquals: { 'events:source': ROTATION_EVENTS.source } },
      }),
    ];
    for (const statement of statements) grantee.grantPrincipal.addToPrincipalPolicy(statement);
    Validations.of(grantee).acknowledge(
      {
        id: `AwsSolutions-IAM5[Resource::${this.nagArn(this.scheduleArnPattern())}]`,
        reason:
          'Schedules are created at run time, one per secret; the grant covers only the schedules of the rotation ' +
          'schedule group, with the scheduler role as the only role that can be passed.',
      },
      {
        id: `AwsSolutions-IAM5[Resource::${this.nagArn(this.executionArnPattern())}]`,
        reason:
          'Executions are named at run time (after the rotation token); DescribeExecution covers only the executions ' +
          'of the rotation state machine.',
      },
    );
  }

  private environmentFor(targetArn: string): Record<string, string> {
    return {
      [ROTATION_ENV.stateMachineArn]: this.stateMachineArn,
      [ROTATION_ENV.scheduleGroup]: this.resourceName,
      [ROTATION_ENV.schedulerRoleArn]: this.schedulerRole.roleArn,
      [ROTATION_ENV.targetArn]: targetArn,
      [ROTATION_ENV.eventBusName]: ROTATION_EVENT_BUS,
    };
  }

  private executionArnPattern(): string {
    return Stack.of(this).formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${this.resourceName}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  private scheduleArnPattern(): string {
    return Stack.of(this).formatArn({
      service: 'scheduler',
      resource: 'schedule',
      resourceName: `${this.resourceName}/*`,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
  }

  /** An ARN as cdk-nag prints it in a finding id (pseudo parameters as `<AWS::...>`). */
  private nagArn(arn: string): string {
    const resolved = Stack.of(this).resolve(arn) as string | { 'Fn::Join': [string, unknown[]] };
    if (typeof resolved === 'string') return resolved;
    return resolved['Fn::Join'][1]
      .map((part) => (typeof part === 'string' ? part : `<${(part as { Ref: string }).Ref}>`))
      .join(resolved['Fn::Join'][0]);
  }
}

/**
 * The workflow, with the builder API so CDK renders (and validates) the ASL. State names come from
 * `ROTATION_STATES`: the local runner binds its in-process handlers to them.
 */
function rotationWorkflow(scope: Construct, stepFunction: lambda.IFunction): sfn.IChainable {
  const retry: sfn.RetryProps = {
    errors: [...ROTATION_RETRY_ERRORS],
    interval: Duration.seconds(2),
    backoffRate: 2,
    maxAttempts: 4,
    jitterStrategy: sfn.JitterType.FULL,
  };
  const invoke = (stateName: string, step: string, resultPath: string) =>
    new tasks.LambdaInvoke(scope, stateName, {
      stateName,
      lambdaFunction: stepFunction,
      payloadResponseOnly: true,
      // The Retry below covers the Lambda service errors with the same backoff as the rotators' transient ones.
      retryOnServiceExceptions: false,
      payload: sfn.TaskInput.fromObject({ Step: step, Rotation: sfn.JsonPath.entirePayload }),
      resultPath,
      taskTimeout: sfn.Timeout.duration(STEP_TIMEOUT),
    });

  const failed = new sfn.Fail(scope, ROTATION_STATES.failed, {
    stateName: ROTATION_STATES.failed,
    error: 'RotationFailed',
    cause: 'The rotation failed and was rolled back; see the Coffer Rotation Failed event',
  });
  const publishFailure = new tasks.EventBridgePutEvents(scope, ROTATION_STATES.publishFailure, {
    stateName: ROTATION_STATES.publishFailure,
    entries: [
      {
        source: ROTATION_EVENTS.source,
        detailType: ROTATION_EVENTS.failed,
        detail: sfn.TaskInput.fromJsonPathAt(sfn.JsonPath.entirePayload),
      },
    ],
    resultPath: sfn.JsonPath.DISCARD,
  });
  publishFailure.addRetry({
    errors: ['States.ALL'],
    interval: Duration.seconds(2),
    backoffRate: 2,
    maxAttempts: 3,
    jitterStrategy: sfn.JitterType.FULL,
  });
  publishFailure.next(failed);

  const rollback = invoke(ROTATION_STATES.rollback, 'rollback', '$.Failure');
  rollback.addRetry({
    errors: ['States.ALL'],
    interval: Duration.seconds(2),
    backoffRate: 2,
    maxAttempts: 5,
    jitterStrategy: sfn.JitterType.FULL,
  });
  // A rollback that keeps failing still gets reported; its error goes beside the step's.
  rollback.addCatch(publishFailure, { errors: ['States.ALL'], resultPath: '$.RollbackError' });
  rollback.next(publishFailure);

  const steps = ROTATION_STEPS.map((step) => {
    const task = invoke(ROTATION_STATES[step], step, sfn.JsonPath.DISCARD);
    task.addRetry(retry);
    task.addCatch(rollback, { errors: ['States.ALL'], resultPath: '$.Error' });
    return task;
  });
  const [first, ...rest] = steps;
  let chain: sfn.Chain = sfn.Chain.start(first!);
  for (const task of rest) chain = chain.next(task);
  chain.next(new sfn.Succeed(scope, ROTATION_STATES.succeeded, { stateName: ROTATION_STATES.succeeded }));

  return new sfn.Choice(scope, ROTATION_STATES.resume, { stateName: ROTATION_STATES.resume })
    .when(
      sfn.Condition.and(sfn.Condition.isPresent('$.ResumeAt'), sfn.Condition.stringEquals('$.ResumeAt', 'rollback')),
      rollback,
    )
    .otherwise(first!);
}
