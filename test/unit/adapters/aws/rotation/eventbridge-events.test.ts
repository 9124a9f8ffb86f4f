import { EventBridgeClient, EventBridgeServiceException, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBridgeRotationEvents } from '../../../../../lambdas/adapters/aws/rotation/eventbridge-events.ts';
import { InternalError } from '../../../../../lambdas/core/errors.ts';
import { TransientRotationError } from '../../../../../lambdas/core/rotation/rotation-types.ts';
import { ROTATION_EVENTS } from '../../../../../lambdas/core/rotation/rotation-workflow.ts';
import { rejectionOf } from '../../../../support/rejection.ts';

const DETAIL = { rotationId: 'r-1', secrets: ['prod/db/password'], failedStep: 'setSecret' };

describe('Class: EventBridgeRotationEvents', () => {
  const client = new EventBridgeClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const events = mockClient(client);

  beforeEach(() => events.reset());
  afterEach(() => events.reset());

  it('puts one entry with the rotation source, the detail type and the detail as JSON, on the configured bus', async () => {
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
    await new EventBridgeRotationEvents({ client, eventBusName: 'coffer-bus' }).publish(ROTATION_EVENTS.failed, DETAIL);
    const calls = events.commandCalls(PutEventsCommand);
    expect(calls).toHaveLength(1);
    const entries = calls[0]!.args[0].input.Entries!;
    expect(entries).toEqual([
      {
        Source: 'coffer.rotation',
        DetailType: 'Coffer Rotation Failed',
        Detail: expect.any(String),
        EventBusName: 'coffer-bus',
      },
    ]);
    expect(JSON.parse(entries[0]!.Detail!)).toEqual(DETAIL);
  });

  it('uses the default bus when none is configured', async () => {
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
    await new EventBridgeRotationEvents({ client }).publish(ROTATION_EVENTS.succeeded, DETAIL);
    expect(events.commandCalls(PutEventsCommand)[0]!.args[0].input.Entries![0]!.EventBusName).toBe('default');
  });

  it('fails when EventBridge accepts the request but drops the entry', async () => {
    events
      .on(PutEventsCommand)
      .resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'AccessDeniedException', ErrorMessage: 'denied' }] });
    const err = await rejectionOf(new EventBridgeRotationEvents({ client }).publish(ROTATION_EVENTS.failed, DETAIL));
    expect(err).toBeInstanceOf(InternalError);
    expect(err.message).toBe(
      'EventBridge PutEvents did not put the Coffer Rotation Failed event (AccessDeniedException)',
    );
  });

  it('reports a throttled entry as a transient failure', async () => {
    events
      .on(PutEventsCommand)
      .resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' }] });
    const err = await rejectionOf(new EventBridgeRotationEvents({ client }).publish(ROTATION_EVENTS.failed, DETAIL));
    expect(err).toBeInstanceOf(TransientRotationError);
  });

  it('maps a refused request by its error name', async () => {
    events.on(PutEventsCommand).rejects(
      new EventBridgeServiceException({
        name: 'ResourceNotFoundException',
        $fault: 'client',
        message: 'Event bus coffer-bus does not exist.',
        $metadata: { httpStatusCode: 400 },
      }),
    );
    const err = await rejectionOf(new EventBridgeRotationEvents({ client }).publish(ROTATION_EVENTS.failed, DETAIL));
    expect(err).toBeInstanceOf(InternalError);
    expect(err.message).toBe('EventBridge PutEvents failed (ResourceNotFoundException)');
  });

  it('treats a failure that never reached EventBridge (network) as transient', async () => {
    events.on(PutEventsCommand).rejects(Object.assign(new Error('connect ECONNREFUSED'), { name: 'Error' }));
    const err = await rejectionOf(new EventBridgeRotationEvents({ client }).publish(ROTATION_EVENTS.failed, DETAIL));
    expect(err).toBeInstanceOf(TransientRotationError);
    expect(err.message).toBe('EventBridge PutEvents failed (Error)');
  });
});
