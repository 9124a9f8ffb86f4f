import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateArchiveCommand,
  CreateEventBusCommand,
  DescribeArchiveCommand,
  EventBridgeClient,
} from '@aws-sdk/client-eventbridge';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  CreateScheduleGroupCommand,
  GetScheduleCommand,
  ListSchedulesCommand,
  SchedulerClient,
} from '@aws-sdk/client-scheduler';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  ListExecutionsCommand,
  SFNClient,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { DynamoDbStore } from '../../../lambdas/adapters/aws/dynamodb-store/dynamodb-store.ts';
import { EventBridgeRotationEvents } from '../../../lambdas/adapters/aws/rotation/eventbridge-events.ts';
import {
  SchedulerRotationSchedules,
  scheduleNameOf,
} from '../../../lambdas/adapters/aws/rotation/scheduler-schedules.ts';
import { StepFunctionsRotationLauncher } from '../../../lambdas/adapters/aws/rotation/step-functions-launcher.ts';
import type { AuditRecord } from '../../../lambdas/core/audit/audit-types.ts';
import {
  DEFAULT_OUTBOX_SHARDS,
  type OutboxItemData,
  outboxPartition,
} from '../../../lambdas/core/audit/outbox/audit-outbox.ts';
import { InternalError } from '../../../lambdas/core/errors.ts';
import { ROTATION_STEPS } from '../../../lambdas/core/rotation/rotation-types.ts';
import { ROTATION_EVENTS, type RotationExecutionInput } from '../../../lambdas/core/rotation/rotation-workflow.ts';
import { AWSCURRENT, AWSPREVIOUS } from '../../../lambdas/core/secrets/secret-types.ts';
import { composeAwsDeps } from '../../../lambdas/entrypoints/lambda/compose.ts';
import { loadAwsConfig } from '../../../lambdas/entrypoints/lambda/config.ts';
import { loadRotationHandler } from '../../../lambdas/entrypoints/lambda/rotation.ts';
import { awsEmulator, createItemsTable, uniqueName } from '../../support/aws-emulator.ts';
import { TEST_GRANT } from '../../support/rotation-harness.ts';

const ACCOUNT = '123456789012';
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/coffer-rotation-scheduler`;
const TARGET_ARN = `arn:aws:lambda:us-east-1:${ACCOUNT}:function:coffer-rotation`;
/** The definition CDK synthesises (committed; a drift test keeps it equal to the synth). */
const DEFINITION = readFileSync(
  new URL('../../../lambdas/core/rotation/workflow/rotation-state-machine.asl.json', import.meta.url),
  'utf8',
);
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

function clients() {
  const emulator = awsEmulator();
  return {
    sfn: new SFNClient(emulator),
    scheduler: new SchedulerClient(emulator),
    eventBridge: new EventBridgeClient(emulator),
  };
}

async function createStateMachine(sfn: SFNClient): Promise<string> {
  const created = await sfn.send(
    new CreateStateMachineCommand({
      name: uniqueName('coffer-rotation'),
      definition: DEFINITION,
      roleArn: `arn:aws:iam::${ACCOUNT}:role/coffer-rotation-states`,
    }),
  );
  return created.stateMachineArn!;
}

async function createScheduleGroup(scheduler: SchedulerClient): Promise<string> {
  const name = uniqueName('coffer-rotation');
  await scheduler.send(new CreateScheduleGroupCommand({ Name: name }));
  return name;
}

/** A bus with an archive of Coffer's rotation events: the archive's event count shows what was delivered. */
async function createArchivedBus(eventBridge: EventBridgeClient, detailType: string) {
  const busName = uniqueName('coffer-bus');
  const bus = await eventBridge.send(new CreateEventBusCommand({ Name: busName }));
  const archiveName = uniqueName('coffer-archive');
  await eventBridge.send(
    new CreateArchiveCommand({
      ArchiveName: archiveName,
      EventSourceArn: bus.EventBusArn!,
      EventPattern: JSON.stringify({ source: [ROTATION_EVENTS.source], 'detail-type': [detailType] }),
    }),
  );
  const delivered = async () =>
    (await eventBridge.send(new DescribeArchiveCommand({ ArchiveName: archiveName }))).EventCount;
  return { busName, delivered };
}

async function executionsOf(sfn: SFNClient, stateMachineArn: string) {
  return (await sfn.send(new ListExecutionsCommand({ stateMachineArn }))).executions ?? [];
}

describe('StepFunctionsRotationLauncher (Step Functions on the emulator)', () => {
  it('starts one execution per rotation id, however often it is launched', async () => {
    const { sfn } = clients();
    const stateMachineArn = await createStateMachine(sfn);
    const launcher = new StepFunctionsRotationLauncher({ client: sfn, stateMachineArn });
    const token = randomUUID();
    const input: RotationExecutionInput = {
      RotationId: token,
      ClientRequestToken: token,
      Secrets: ['prod/db/password'],
      Trigger: 'on-demand',
    };

    await launcher.launch(input);
    await launcher.launch(input);
    const executions = await executionsOf(sfn, stateMachineArn);
    expect(executions.map((e) => e.name)).toEqual([token]);
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn: executions[0]!.executionArn }));
    expect(JSON.parse(described.input!)).toEqual(input);

    // Once the execution has ended, the name stays taken: a late repeat succeeds without starting another.
    await sfn.send(new StopExecutionCommand({ executionArn: executions[0]!.executionArn }));
    await launcher.launch(input);
    expect(await executionsOf(sfn, stateMachineArn)).toHaveLength(1);

    const other = randomUUID();
    await launcher.launch({ ...input, RotationId: other, ClientRequestToken: other });
    expect((await executionsOf(sfn, stateMachineArn)).map((e) => e.name).sort()).toEqual([token, other].sort());
  });

  it('fails, naming the error, when the state machine does not exist', async () => {
    const { sfn } = clients();
    const launcher = new StepFunctionsRotationLauncher({
      client: sfn,
      stateMachineArn: `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:${uniqueName('missing')}`,
    });
    const token = randomUUID();
    const launched = launcher.launch({
      RotationId: token,
      ClientRequestToken: token,
      Secrets: ['a'],
      Trigger: 'schedule',
    });
    await expect(launched).rejects.toBeInstanceOf(InternalError);
    await expect(launched).rejects.toThrow(/^Step Functions StartExecution failed \(StateMachineDoesNotExist\)$/);
  });
});

describe('SchedulerRotationSchedules (EventBridge Scheduler on the emulator)', () => {
  it('creates, updates and deletes the schedule of a secret', async () => {
    const { scheduler } = clients();
    const groupName = await createScheduleGroup(scheduler);
    const schedules = new SchedulerRotationSchedules({
      client: scheduler,
      groupName,
      targetArn: TARGET_ARN,
      roleArn: ROLE_ARN,
    });
    const secret = 'prod/db/password';
    const get = () => scheduler.send(new GetScheduleCommand({ GroupName: groupName, Name: scheduleNameOf(secret) }));

    await schedules.put(secret, { automaticallyAfterDays: 30, duration: '3h' });
    expect(await get()).toMatchObject({
      GroupName: groupName,
      ScheduleExpression: 'rate(30 days)',
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 180 },
      State: 'ENABLED',
      Target: { Arn: TARGET_ARN, RoleArn: ROLE_ARN },
    });
    expect(JSON.parse((await get()).Target!.Input!)).toEqual({ action: 'scheduled', secretId: secret });

    await schedules.put(secret, { scheduleExpression: 'cron(0 4 ? * SUN *)', duration: '2h' });
    expect(await get()).toMatchObject({
      ScheduleExpression: 'cron(0 4 ? * SUN *)',
      FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 120 },
      Target: { Arn: TARGET_ARN, RoleArn: ROLE_ARN },
    });
    const listed = await scheduler.send(new ListSchedulesCommand({ GroupName: groupName }));
    expect(listed.Schedules?.map((s) => s.Name)).toEqual([scheduleNameOf(secret)]);

    await schedules.delete(secret);
    await expect(get()).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    // Deleting what is not there succeeds.
    await expect(schedules.delete(secret)).resolves.toBeUndefined();
  });
});

describe('EventBridgeRotationEvents (EventBridge on the emulator)', () => {
  it('delivers an event with the rotation source and detail type to the bus', async () => {
    const { eventBridge } = clients();
    const { busName, delivered } = await createArchivedBus(eventBridge, ROTATION_EVENTS.failed);
    const events = new EventBridgeRotationEvents({ client: eventBridge, eventBusName: busName });
    await events.publish(ROTATION_EVENTS.failed, { rotationId: randomUUID(), secrets: ['prod/db'] });
    expect(await delivered()).toBe(1);
  });

  it('fails when the bus does not exist', async () => {
    const { eventBridge } = clients();
    const events = new EventBridgeRotationEvents({ client: eventBridge, eventBusName: uniqueName('missing') });
    await expect(events.publish(ROTATION_EVENTS.failed, { rotationId: 'r' })).rejects.toBeInstanceOf(InternalError);
  });
});

describe('Rotation function (DynamoDB, KMS, Step Functions, Scheduler and EventBridge on the emulator)', () => {
  it('rotates on schedule through the function, one execution at a time, and answers a breach', async () => {
    const emulator = awsEmulator();
    const rotationClients = clients();
    const dynamodb = new DynamoDBClient(emulator);
    const kms = new KMSClient(emulator);
    const tableName = uniqueName('coffer-rotation');
    await createItemsTable(dynamodb, tableName);
    const key = await kms.send(new CreateKeyCommand({ Description: 'coffer rotation test envelope key' }));
    const stateMachineArn = await createStateMachine(rotationClients.sfn);
    const groupName = await createScheduleGroup(rotationClients.scheduler);
    const { busName, delivered } = await createArchivedBus(rotationClients.eventBridge, ROTATION_EVENTS.compromised);
    const config = loadAwsConfig({
      COFFER_TABLE_NAME: tableName,
      COFFER_ENVELOPE_KEY_ARN: key.KeyMetadata!.Arn!,
      COFFER_AUDIT_BUCKET: 'coffer-audit',
      COFFER_AUDIT_SALT: randomBytes(32).toString('base64'),
      AWS_REGION: emulator.region,
      AWS_ENDPOINT_URL: emulator.endpoint,
      COFFER_ROTATION_STATE_MACHINE_ARN: stateMachineArn,
      COFFER_ROTATION_SCHEDULE_GROUP: groupName,
      COFFER_ROTATION_SCHEDULER_ROLE_ARN: ROLE_ARN,
      COFFER_ROTATION_TARGET_ARN: TARGET_ARN,
      COFFER_EVENT_BUS_NAME: busName,
    });
    const awsClients = { dynamodb, kms, rotation: rotationClients };
    // The broker's side configures rotation; the rotation function does the rest.
    const broker = composeAwsDeps({ ...config, auditSalt: config.auditSalt! }, awsClients);
    const handler = await loadRotationHandler(config, awsClients, { logger: silent });
    const secret = uniqueName('billing/api-key');
    await broker.secrets.create({ name: secret, value: { kind: 'string', string: '{"service":"billing"}' } });
    await broker.rotation!.configure({
      grant: TEST_GRANT,
      secretId: secret,
      type: 'api-key-coffer',
      rules: { automaticallyAfterDays: 30 },
    });

    // The schedule invokes the function with the secret's name.
    const schedule = await rotationClients.scheduler.send(
      new GetScheduleCommand({ GroupName: groupName, Name: scheduleNameOf(secret) }),
    );
    const scheduled = JSON.parse(schedule.Target!.Input!) as unknown;
    expect(scheduled).toEqual({ action: 'scheduled', secretId: secret });

    const started = (await handler(scheduled, { awsRequestId: randomUUID() })) as { rotationId: string };
    // A second firing while the rotation runs starts nothing.
    expect(await handler(scheduled, { awsRequestId: randomUUID() })).toEqual({
      skipped: 'rotation in progress',
      secretId: secret,
    });
    const executions = await executionsOf(rotationClients.sfn, stateMachineArn);
    expect(executions.map((e) => e.name)).toEqual([started.rotationId]);
    const input = JSON.parse(
      (await rotationClients.sfn.send(new DescribeExecutionCommand({ executionArn: executions[0]!.executionArn })))
        .input!,
    ) as RotationExecutionInput;
    expect(input).toMatchObject({ RotationId: started.rotationId, Secrets: [secret], Trigger: 'schedule' });

    // What Step Functions would do: each task invokes the function with { Step, Rotation: <state> }.
    const before = await broker.secrets.describe({ secretId: secret });
    for (const step of ROTATION_STEPS) {
      await handler({ Step: step, Rotation: input }, { awsRequestId: randomUUID() });
    }
    const after = await broker.secrets.describe({ secretId: secret });
    const versionWith = (stages: Record<string, string[]>, label: string) =>
      Object.entries(stages).find(([, labels]) => labels.includes(label))?.[0];
    expect(versionWith(after.versionIdsToStages, AWSCURRENT)).toBe(input.ClientRequestToken);
    expect(versionWith(after.versionIdsToStages, AWSPREVIOUS)).toBe(versionWith(before.versionIdsToStages, AWSCURRENT));
    const rotated = JSON.parse(((await broker.secrets.get({ secretId: secret })).value as { string: string }).string);
    expect(rotated).toMatchObject({ service: 'billing', keyId: expect.any(String), apiKey: expect.any(String) });
    // Services validate the new key through the broker, on AWS as locally.
    expect(await broker.apiKeys!.validate(rotated.apiKey)).toMatchObject({ valid: true, secretName: secret });

    // A breach report: published, and a new rotation started at once.
    await handler(
      {
        source: ROTATION_EVENTS.breachSource,
        'detail-type': ROTATION_EVENTS.breachReported,
        detail: { secretId: secret, reason: 'leaked in a log' },
      },
      { awsRequestId: randomUUID() },
    );
    expect(await delivered()).toBe(1);
    const afterBreach = await executionsOf(rotationClients.sfn, stateMachineArn);
    expect(afterBreach).toHaveLength(2);

    expect(await handler({ action: 'sweep' }, { awsRequestId: randomUUID() })).toEqual({ revoked: 0, failed: 0 });

    // The function audits through the outbox, like the broker, and never writes the value there.
    const items = new DynamoDbStore({ client: dynamodb, tableName });
    const records: AuditRecord[] = [];
    for (let shard = 0; shard < DEFAULT_OUTBOX_SHARDS; shard++) {
      const page = await items.query<OutboxItemData>(outboxPartition(shard), { limit: 1000 });
      for (const item of page.items) records.push(...item.data.records);
    }
    const operations = records.map((record) => record.operation);
    expect(operations).toEqual(
      expect.arrayContaining(['rotation.start', 'rotation.succeeded', 'rotation.compromised']),
    );
    expect(JSON.stringify(records)).not.toContain(rotated.apiKey);
  });
});
