import { readFileSync } from 'node:fs';
import {
  CreateEventBusCommand,
  EventBridgeClient,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import { CreateScheduleGroupCommand, GetScheduleCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  ListExecutionsCommand,
  SFNClient,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { EventBridgeRotationEvents } from '../../../lambdas/adapters/aws/rotation/eventbridge-events.ts';
import {
  SchedulerRotationSchedules,
  scheduleNameOf,
} from '../../../lambdas/adapters/aws/rotation/scheduler-schedules.ts';
import { StepFunctionsRotationLauncher } from '../../../lambdas/adapters/aws/rotation/step-functions-launcher.ts';
import { ROTATION_EVENTS, type RotationExecutionInput } from '../../../lambdas/core/rotation/rotation-workflow.ts';
import {
  type DeliveredEvent,
  describeRotationEventsContract,
  describeRotationLauncherContract,
  describeRotationSchedulesContract,
  type StartedExecution,
} from '../../contract/rotation-ports.contract.ts';
import { awsEmulator, uniqueName } from '../../support/aws-emulator.ts';

const ACCOUNT = '123456789012';
/** The definition CDK synthesises (committed; a drift test keeps it equal to the synth). */
const DEFINITION = readFileSync(
  new URL('../../../lambdas/core/rotation/workflow/rotation-state-machine.asl.json', import.meta.url),
  'utf8',
);

// The emulator (moto) records executions but does not run the definition's tasks (they invoke the rotation Lambda,
// which is not deployed there), so executions stay RUNNING until stopped. That is all the launcher promises: that
// an execution started, once, with its input; running the workflow is the local runner's and the e2e suites' part.
describeRotationLauncherContract(
  'StepFunctionsRotationLauncher (emulator)',
  { oncePerRotationEver: true },
  async () => {
    const sfn = new SFNClient(awsEmulator());
    const created = await sfn.send(
      new CreateStateMachineCommand({
        name: uniqueName('coffer-rotation-contract'),
        definition: DEFINITION,
        roleArn: `arn:aws:iam::${ACCOUNT}:role/coffer-rotation-states`,
      }),
    );
    const stateMachineArn = created.stateMachineArn!;
    const described = async () => {
      const listed = (await sfn.send(new ListExecutionsCommand({ stateMachineArn }))).executions ?? [];
      return Promise.all(
        listed.map(async ({ executionArn }) => {
          const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
          const input = JSON.parse(execution.input!) as RotationExecutionInput;
          return { executionArn: executionArn!, input };
        }),
      );
    };
    return {
      launcher: new StepFunctionsRotationLauncher({ client: sfn, stateMachineArn }),
      executions: async () =>
        (await described()).map(({ input }): StartedExecution => ({ rotationId: input.RotationId, input })),
      end: async (rotationId) => {
        for (const { executionArn, input } of await described()) {
          if (input.RotationId === rotationId) await sfn.send(new StopExecutionCommand({ executionArn }));
        }
      },
      cleanup: async () => sfn.destroy(),
    };
  },
);

describeRotationSchedulesContract('SchedulerRotationSchedules (emulator)', async () => {
  const scheduler = new SchedulerClient(awsEmulator());
  const groupName = uniqueName('coffer-rotation-contract');
  await scheduler.send(new CreateScheduleGroupCommand({ Name: groupName }));
  return {
    schedules: new SchedulerRotationSchedules({
      client: scheduler,
      groupName,
      targetArn: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:coffer-rotation`,
      roleArn: `arn:aws:iam::${ACCOUNT}:role/coffer-rotation-scheduler`,
    }),
    scheduleOf: async (secretName) => {
      try {
        const schedule = await scheduler.send(
          new GetScheduleCommand({ GroupName: groupName, Name: scheduleNameOf(secretName) }),
        );
        return {
          expression: schedule.ScheduleExpression!,
          windowMinutes: schedule.FlexibleTimeWindow?.MaximumWindowInMinutes ?? 0,
        };
      } catch (err) {
        if ((err as Error).name === 'ResourceNotFoundException') return undefined;
        throw err;
      }
    },
    cleanup: async () => scheduler.destroy(),
  };
});

/**
 * One call of the emulator's SQS JSON API. The project has no SQS client (nothing in Coffer uses SQS), and the
 * emulator checks no signatures, only which service and region a request names.
 */
async function sqs<T>(action: string, body: Record<string, unknown>): Promise<T> {
  const { endpoint, region } = awsEmulator();
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-amz-json-1.0',
      'X-Amz-Target': `AmazonSQS.${action}`,
      Authorization: `AWS4-HMAC-SHA256 Credential=test/20260101/${region}/sqs/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`SQS ${action} failed with HTTP ${response.status}`);
  return (await response.json()) as T;
}

// A queue subscribed to the bus by a rule on the rotation source receives what EventBridge delivered.
describeRotationEventsContract('EventBridgeRotationEvents (emulator)', async () => {
  const eventBridge = new EventBridgeClient(awsEmulator());
  const busName = uniqueName('coffer-bus-contract');
  await eventBridge.send(new CreateEventBusCommand({ Name: busName }));
  const { QueueUrl: queueUrl } = await sqs<{ QueueUrl: string }>('CreateQueue', {
    QueueName: uniqueName('coffer-events-contract'),
  });
  const { Attributes: attributes } = await sqs<{ Attributes: { QueueArn: string } }>('GetQueueAttributes', {
    QueueUrl: queueUrl,
    AttributeNames: ['QueueArn'],
  });
  const ruleName = uniqueName('coffer-rotation-events');
  await eventBridge.send(
    new PutRuleCommand({
      Name: ruleName,
      EventBusName: busName,
      EventPattern: JSON.stringify({ source: [ROTATION_EVENTS.source] }),
    }),
  );
  await eventBridge.send(
    new PutTargetsCommand({
      Rule: ruleName,
      EventBusName: busName,
      Targets: [{ Id: 'queue', Arn: attributes.QueueArn }],
    }),
  );
  const received: DeliveredEvent[] = [];
  return {
    events: new EventBridgeRotationEvents({ client: eventBridge, eventBusName: busName }),
    delivered: async () => {
      // The emulator delivers during PutEvents, so what was published is in the queue: drain it.
      for (;;) {
        const page = await sqs<{ Messages?: { Body: string }[] }>('ReceiveMessage', {
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
        });
        const messages = page.Messages ?? [];
        if (messages.length === 0) return [...received];
        received.push(...messages.map((message) => JSON.parse(message.Body) as DeliveredEvent));
      }
    },
    unreachable: () =>
      new EventBridgeRotationEvents({ client: eventBridge, eventBusName: uniqueName('coffer-missing-bus') }),
    cleanup: async () => {
      await sqs('DeleteQueue', { QueueUrl: queueUrl });
      eventBridge.destroy();
    },
  };
});
