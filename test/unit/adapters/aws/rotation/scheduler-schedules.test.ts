import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  ResourceNotFoundException,
  SchedulerClient,
  SchedulerServiceException,
  UpdateScheduleCommand,
  ValidationException,
} from '@aws-sdk/client-scheduler';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  SchedulerRotationSchedules,
  scheduleNameOf,
} from '../../../../../lambdas/adapters/aws/rotation/scheduler-schedules.ts';
import {
  ConflictError,
  DependencyUnavailableError,
  InternalError,
  ValidationError,
} from '../../../../../lambdas/core/errors.ts';
import { rejectionOf } from '../../../../support/rejection.ts';

const GROUP = 'coffer-rotation';
const TARGET = 'arn:aws:lambda:eu-west-1:111122223333:function:coffer-rotation';
const ROLE = 'arn:aws:iam::111122223333:role/coffer-rotation-scheduler';
const SECRET = 'prod/db/password';
/** EventBridge Scheduler's schedule name rule. */
const VALID_NAME = /^[0-9A-Za-z_.-]{1,64}$/;

const notFound = () =>
  new ResourceNotFoundException({
    Message: 'Schedule does not exist.',
    message: 'Schedule does not exist.',
    $metadata: {},
  });
const conflict = () =>
  new ConflictException({ Message: 'Schedule already exists.', message: 'Schedule already exists.', $metadata: {} });

describe('Function: scheduleNameOf', () => {
  it('keeps the secret name readable and adds 20 hex digits of its hash', () => {
    expect(scheduleNameOf(SECRET)).toMatch(/^prod-db-password-[0-9a-f]{20}$/);
  });

  it('gives every name a valid schedule name of at most 64 characters, the same one every time', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 512 }), (name) => {
        const scheduleName = scheduleNameOf(name);
        expect(scheduleName).toMatch(VALID_NAME);
        expect(scheduleNameOf(name)).toBe(scheduleName);
      }),
    );
  });

  it('gives distinct secrets distinct schedules even when their readable parts agree', () => {
    expect(scheduleNameOf('a/b')).not.toBe(scheduleNameOf('a+b'));
    const long = 'x'.repeat(100);
    expect(scheduleNameOf(`${long}1`)).not.toBe(scheduleNameOf(`${long}2`));
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), (a, b) => {
        fc.pre(a !== b);
        expect(scheduleNameOf(a)).not.toBe(scheduleNameOf(b));
      }),
    );
  });
});

describe('Class: SchedulerRotationSchedules', () => {
  const client = new SchedulerClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const scheduler = mockClient(client);
  const schedules = new SchedulerRotationSchedules({ client, groupName: GROUP, targetArn: TARGET, roleArn: ROLE });
  const expected = {
    Name: scheduleNameOf(SECRET),
    GroupName: GROUP,
    ScheduleExpression: 'rate(30 days)',
    ScheduleExpressionTimezone: 'UTC',
    FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 180 },
    State: 'ENABLED',
    Target: { Arn: TARGET, RoleArn: ROLE, Input: JSON.stringify({ action: 'scheduled', secretId: SECRET }) },
  };

  beforeEach(() => scheduler.reset());
  afterEach(() => scheduler.reset());

  describe('put', () => {
    it('updates an existing schedule with the expression, window, UTC and the rotation target', async () => {
      scheduler.on(UpdateScheduleCommand).resolves({ ScheduleArn: 'arn' });
      await schedules.put(SECRET, { automaticallyAfterDays: 30, duration: '3h' });
      expect(scheduler.commandCalls(UpdateScheduleCommand).map((call) => call.args[0].input)).toEqual([expected]);
      expect(scheduler.commandCalls(CreateScheduleCommand)).toHaveLength(0);
    });

    it('creates the schedule when there is none', async () => {
      scheduler.on(UpdateScheduleCommand).rejects(notFound());
      scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn' });
      await schedules.put(SECRET, { automaticallyAfterDays: 30, duration: '3h' });
      expect(scheduler.commandCalls(CreateScheduleCommand).map((call) => call.args[0].input)).toEqual([expected]);
    });

    it('carries a cron expression and its window as the rules give them', async () => {
      scheduler.on(UpdateScheduleCommand).resolves({ ScheduleArn: 'arn' });
      await schedules.put(SECRET, { scheduleExpression: 'cron(0 4 ? * sun *)', duration: '2h' });
      const input = scheduler.commandCalls(UpdateScheduleCommand)[0]!.args[0].input;
      expect(input.ScheduleExpression).toBe('cron(0 4 ? * SUN *)');
      expect(input.FlexibleTimeWindow).toEqual({ Mode: 'FLEXIBLE', MaximumWindowInMinutes: 120 });
    });

    it('updates when another writer created the schedule between its update and its create', async () => {
      scheduler.on(UpdateScheduleCommand).rejectsOnce(notFound()).resolves({ ScheduleArn: 'arn' });
      scheduler.on(CreateScheduleCommand).rejects(conflict());
      await schedules.put(SECRET, { automaticallyAfterDays: 30 });
      expect(scheduler.commandCalls(UpdateScheduleCommand)).toHaveLength(2);
      expect(scheduler.commandCalls(CreateScheduleCommand)).toHaveLength(1);
    });

    it('gives up with a ConflictError when the schedule keeps appearing and disappearing', async () => {
      scheduler.on(UpdateScheduleCommand).rejects(notFound());
      scheduler.on(CreateScheduleCommand).rejects(conflict());
      const err = await rejectionOf(schedules.put(SECRET, { automaticallyAfterDays: 30 }));
      expect(err).toBeInstanceOf(ConflictError);
      expect(scheduler.commandCalls(UpdateScheduleCommand)).toHaveLength(3);
      expect(scheduler.commandCalls(CreateScheduleCommand)).toHaveLength(3);
    });

    it('refuses rules that cannot be a schedule before calling Scheduler', async () => {
      const err = await rejectionOf(schedules.put(SECRET, { scheduleExpression: 'every tuesday' }));
      expect(err).toBeInstanceOf(ValidationError);
      expect(scheduler.calls()).toHaveLength(0);
    });

    it('reports any other refusal without trying to create', async () => {
      scheduler
        .on(UpdateScheduleCommand)
        .rejects(new ValidationException({ Message: 'bad role', message: 'bad role', $metadata: {} }));
      const err = await rejectionOf(schedules.put(SECRET, { automaticallyAfterDays: 30 }));
      expect(err).toBeInstanceOf(InternalError);
      expect(err.message).toBe('Scheduler UpdateSchedule failed (ValidationException)');
      expect(scheduler.commandCalls(CreateScheduleCommand)).toHaveLength(0);
    });
  });

  describe('throttling', () => {
    it('answers Scheduler throttling past the SDK retries as a dependency unavailable (503) on put and delete', async () => {
      const throttled = () =>
        new SchedulerServiceException({
          name: 'ThrottlingException',
          $fault: 'client',
          message: 'Rate exceeded',
          $metadata: { httpStatusCode: 400 },
        });
      scheduler.on(UpdateScheduleCommand).rejects(throttled());
      scheduler.on(DeleteScheduleCommand).rejects(throttled());
      const put = await rejectionOf(schedules.put(SECRET, { automaticallyAfterDays: 30 }));
      expect(put).toBeInstanceOf(DependencyUnavailableError);
      expect(put.message).toBe(
        'Scheduler UpdateSchedule is unavailable (ThrottlingException) after retries; the rotation config is saved but its schedule is not; repeat the request: retry later',
      );
      expect(scheduler.commandCalls(CreateScheduleCommand)).toHaveLength(0);
      expect(await rejectionOf(schedules.delete(SECRET))).toBeInstanceOf(DependencyUnavailableError);
    });
  });

  describe('delete', () => {
    it('deletes the schedule of the secret in the group', async () => {
      scheduler.on(DeleteScheduleCommand).resolves({});
      await schedules.delete(SECRET);
      expect(scheduler.commandCalls(DeleteScheduleCommand).map((call) => call.args[0].input)).toEqual([
        { Name: scheduleNameOf(SECRET), GroupName: GROUP },
      ]);
    });

    it('succeeds when there is no schedule', async () => {
      scheduler.on(DeleteScheduleCommand).rejects(notFound());
      await expect(schedules.delete(SECRET)).resolves.toBeUndefined();
    });

    it('reports any other failure', async () => {
      scheduler
        .on(DeleteScheduleCommand)
        .rejects(new ValidationException({ Message: 'no', message: 'no', $metadata: {} }));
      const err = await rejectionOf(schedules.delete(SECRET));
      expect(err).toBeInstanceOf(InternalError);
      expect(err.message).toBe('Scheduler DeleteSchedule failed (ValidationException)');
    });
  });
});
