import {
  ExecutionAlreadyExists,
  SFNClient,
  SFNServiceException,
  StartExecutionCommand,
  StateMachineDoesNotExist,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  executionNameOf,
  StepFunctionsRotationLauncher,
} from '../../../../../lambdas/adapters/aws/rotation/step-functions-launcher.ts';
import { toHttpError } from '../../../../../lambdas/broker/http-errors.ts';
import { DependencyUnavailableError, InternalError } from '../../../../../lambdas/core/errors.ts';
import { TransientRotationError } from '../../../../../lambdas/core/rotation/rotation-types.ts';
import type { RotationExecutionInput } from '../../../../../lambdas/core/rotation/rotation-workflow.ts';
import { rejectionOf } from '../../../../support/rejection.ts';

const STATE_MACHINE = 'arn:aws:states:eu-west-1:111122223333:stateMachine:coffer-rotation';
const TOKEN = '6f1c2b0e-8d2e-4a53-9a7b-0c6d3f7e1a42';
const INPUT: RotationExecutionInput = {
  RotationId: TOKEN,
  ClientRequestToken: TOKEN,
  Secrets: ['prod/db/password', 'prod/api/key'],
  Trigger: 'on-demand',
};
/** What Step Functions accepts in an execution name that CloudWatch Logs can carry. */
const VALID_NAME = /^[A-Za-z0-9_-]{1,80}$/;

describe('Function: executionNameOf', () => {
  it('uses a UUID or a client request token unchanged', () => {
    expect(executionNameOf(TOKEN)).toBe(TOKEN);
    const token = 'Ab_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX';
    expect(token).toHaveLength(64);
    expect(executionNameOf(token)).toBe(token);
  });

  it('maps any other id to a valid name, deterministically, longer than any client request token', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 300 }), (id) => {
        const name = executionNameOf(id);
        expect(name).toMatch(VALID_NAME);
        expect(executionNameOf(id)).toBe(name);
        if (!/^[A-Za-z0-9_-]{1,80}$/.test(id)) expect(name.length).toBeGreaterThan(64);
      }),
    );
  });

  it('gives distinct ids distinct names, even when their readable parts agree', () => {
    expect(executionNameOf('prod/db rotation 1')).not.toBe(executionNameOf('prod/db rotation 2'));
    expect(executionNameOf('a/b')).not.toBe(executionNameOf('a+b'));
    expect(executionNameOf('a/b')).toMatch(/^a_b-[0-9a-f]{64}$/);
  });
});

describe('Class: StepFunctionsRotationLauncher', () => {
  const client = new SFNClient({ region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const sfn = mockClient(client);
  const launcher = new StepFunctionsRotationLauncher({ client, stateMachineArn: STATE_MACHINE });

  beforeEach(() => sfn.reset());
  afterEach(() => sfn.reset());

  it('starts one execution named after the rotation id, with the input as JSON', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: `${STATE_MACHINE}:${TOKEN}`, startDate: new Date() });
    await launcher.launch(INPUT);
    const calls = sfn.commandCalls(StartExecutionCommand);
    expect(calls).toHaveLength(1);
    const request = calls[0]!.args[0].input;
    expect(request).toEqual({ stateMachineArn: STATE_MACHINE, name: TOKEN, input: expect.any(String) });
    expect(JSON.parse(request.input!)).toEqual(INPUT);
  });

  it('names the execution of an id Step Functions would refuse by executionNameOf', async () => {
    sfn.on(StartExecutionCommand).resolves({});
    await launcher.launch({ ...INPUT, RotationId: 'group: prod/db' });
    expect(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input.name).toBe(executionNameOf('group: prod/db'));
  });

  it('succeeds without starting another when the execution already exists', async () => {
    sfn
      .on(StartExecutionCommand)
      .rejects(new ExecutionAlreadyExists({ message: 'Execution Already Exists', $metadata: { httpStatusCode: 400 } }));
    await expect(launcher.launch(INPUT)).resolves.toBeUndefined();
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
  });

  it('answers throttling past the SDK retries as a dependency unavailable (503), naming the operation and error only', async () => {
    sfn.on(StartExecutionCommand).rejects(
      new SFNServiceException({
        name: 'ThrottlingException',
        $fault: 'client',
        message: 'Rate exceeded for arn:aws:states:secret-looking-detail',
        $metadata: { httpStatusCode: 400 },
      }),
    );
    const err = await rejectionOf(launcher.launch(INPUT));
    expect(err).toBeInstanceOf(DependencyUnavailableError);
    expect(toHttpError(err)).toMatchObject({ status: 503, code: 'dependency_unavailable', retryAfterSeconds: 1 });
    expect(err.message).toBe(
      'Step Functions StartExecution is unavailable (ThrottlingException) after retries; the rotation was not started: retry later',
    );
  });

  it('answers a server-side fault as a dependency unavailable, whatever its name', async () => {
    sfn.on(StartExecutionCommand).rejects(
      new SFNServiceException({
        name: 'SomethingBrokeException',
        $fault: 'server',
        message: 'try again',
        $metadata: { httpStatusCode: 503 },
      }),
    );
    expect(await rejectionOf(launcher.launch(INPUT))).toBeInstanceOf(DependencyUnavailableError);
  });

  it('keeps an unexpected failure that is no service answer retryable for the state machine, not a 503', async () => {
    sfn.on(StartExecutionCommand).rejects(new Error('socket hang up, maybe'));
    expect(await rejectionOf(launcher.launch(INPUT))).toBeInstanceOf(TransientRotationError);
  });

  it('reports a missing state machine as an internal error, not a retryable one', async () => {
    sfn
      .on(StartExecutionCommand)
      .rejects(
        new StateMachineDoesNotExist({ message: 'State Machine Does Not Exist', $metadata: { httpStatusCode: 400 } }),
      );
    const err = await rejectionOf(launcher.launch(INPUT));
    expect(err).toBeInstanceOf(InternalError);
    expect(err.message).toBe('Step Functions StartExecution failed (StateMachineDoesNotExist)');
    expect((err as InternalError).cause).toBeInstanceOf(StateMachineDoesNotExist);
  });
});
