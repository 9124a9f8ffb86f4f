import { createHash } from 'node:crypto';
import {
  CreateScheduleCommand,
  type CreateScheduleCommandInput,
  DeleteScheduleCommand,
  type SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import { ConflictError } from '../../../core/errors.ts';
import type { RotationScheduleSync } from '../../../core/ports/rotation.ts';
import type { RotationRules } from '../../../core/rotation/rotation-types.ts';
import { toSchedulerExpression } from '../../../core/rotation/schedule/rotation-rules.ts';
import { awsErrorName, requestFailure } from './aws-failure.ts';

/** What a refused schedule write leaves: the rotation config is written first, so repeating the request completes it. */
const NOT_CHANGED = 'the rotation config is saved but its schedule is not; repeat the request';

/** EventBridge Scheduler's bound on a schedule name (`[0-9a-zA-Z-_.]{1,64}`). */
const MAX_SCHEDULE_NAME = 64;
/** Hex digits of the name's hash: 80 bits, so two secrets never share a schedule. */
const HASH_DIGITS = 20;
const READABLE_LENGTH = MAX_SCHEDULE_NAME - HASH_DIGITS - 1;
/**
 * Update/create attempts before giving up on a schedule that keeps appearing and disappearing under us (another
 * writer deleting and re-creating it at the same time).
 */
const MAX_PUT_ATTEMPTS = 3;

/**
 * The schedule name of `secretName`: the name with every character Scheduler refuses replaced by `-` (cut to 43
 * characters, so a listing of the group stays readable), then `-` and 20 hex digits of the SHA-256 of the full name,
 * so secrets whose readable parts agree (`a/b` and `a+b`, long shared prefixes) still get distinct schedules.
 *
 * @example
 * scheduleNameOf('prod/db/password'); // 'prod-db-password-<20 hex digits>'
 */
export function scheduleNameOf(secretName: string): string {
  const readable = secretName.replace(/[^0-9A-Za-z_.-]/g, '-').slice(0, READABLE_LENGTH);
  const hash = createHash('sha256').update(secretName).digest('hex').slice(0, HASH_DIGITS);
  return `${readable}-${hash}`;
}

/** What a schedule asks of the rotation Lambda: `{"action":"scheduled","secretId":"<name>"}`. */
export function scheduledInputOf(secretName: string): string {
  return JSON.stringify({ action: 'scheduled', secretId: secretName });
}

export interface SchedulerRotationSchedulesOptions {
  /** The EventBridge Scheduler client, injected so tests can point it at an emulator or mock it. */
  readonly client: SchedulerClient;
  /** The schedule group that holds Coffer's rotation schedules (one per secret). */
  readonly groupName: string;
  /** ARN of the rotation Lambda the schedules invoke. */
  readonly targetArn: string;
  /** ARN of the role Scheduler assumes to invoke the target (`lambda:InvokeFunction` on it). */
  readonly roleArn: string;
}

/**
 * The AWS {@link RotationScheduleSync}: one EventBridge Scheduler schedule per secret, in one group, named by
 * {@link scheduleNameOf}. Each one invokes the rotation Lambda with `{"action":"scheduled","secretId":"<name>"}` at the
 * times `toSchedulerExpression(rules)` gives, in UTC, at some time within the rules' window (`FlexibleTimeWindow`).
 *
 * `put` updates the schedule and creates it when there is none; when two writers race, a create that finds the
 * schedule made meanwhile (`ConflictException`) updates it, and an update that finds it deleted meanwhile
 * (`ResourceNotFoundException`) creates it. `delete` succeeds when there is no schedule. The caller's IAM role needs
 * `scheduler:CreateSchedule`, `scheduler:UpdateSchedule`, `scheduler:DeleteSchedule` on the group's schedules and
 * `iam:PassRole` on `roleArn`.
 *
 * @example
 * ```ts
 * const schedules = new SchedulerRotationSchedules({ client, groupName: 'coffer-rotation', targetArn, roleArn });
 * await schedules.put('prod/db/password', { automaticallyAfterDays: 30, duration: '3h' });
 * ```
 */
export class SchedulerRotationSchedules implements RotationScheduleSync {
  readonly #client: SchedulerClient;
  readonly #groupName: string;
  readonly #targetArn: string;
  readonly #roleArn: string;

  constructor(options: SchedulerRotationSchedulesOptions) {
    this.#client = options.client;
    this.#groupName = options.groupName;
    this.#targetArn = options.targetArn;
    this.#roleArn = options.roleArn;
  }

  /**
   * @throws ValidationError (from `toSchedulerExpression`) when the rules cannot be expressed as a schedule;
   * DependencyUnavailableError when Scheduler throttles, fails or is out of reach past the SDK's retries; ConflictError when the schedule kept
   * appearing and disappearing for {@link MAX_PUT_ATTEMPTS} attempts; InternalError for any other refusal.
   */
  async put(secretName: string, rules: RotationRules): Promise<void> {
    const request = this.#request(secretName, rules);
    for (let attempt = 0; attempt < MAX_PUT_ATTEMPTS; attempt++) {
      try {
        await this.#client.send(new UpdateScheduleCommand(request));
        return;
      } catch (err) {
        if (awsErrorName(err) !== 'ResourceNotFoundException')
          throw requestFailure('Scheduler', 'UpdateSchedule', err, NOT_CHANGED);
      }
      try {
        await this.#client.send(new CreateScheduleCommand(request));
        return;
      } catch (err) {
        if (awsErrorName(err) !== 'ConflictException')
          throw requestFailure('Scheduler', 'CreateSchedule', err, NOT_CHANGED);
      }
    }
    throw new ConflictError(`the rotation schedule of ${secretName} changed concurrently; retry`);
  }

  /** @throws DependencyUnavailableError when Scheduler throttles, fails or is out of reach past the SDK's retries; InternalError for any other refusal. */
  async delete(secretName: string): Promise<void> {
    try {
      await this.#client.send(
        new DeleteScheduleCommand({ Name: scheduleNameOf(secretName), GroupName: this.#groupName }),
      );
    } catch (err) {
      if (awsErrorName(err) === 'ResourceNotFoundException') return;
      throw requestFailure('Scheduler', 'DeleteSchedule', err, NOT_CHANGED);
    }
  }

  /** The full schedule: UpdateSchedule replaces every field, so create and update send the same request. */
  #request(secretName: string, rules: RotationRules): CreateScheduleCommandInput {
    const schedule = toSchedulerExpression(rules);
    return {
      Name: scheduleNameOf(secretName),
      GroupName: this.#groupName,
      ScheduleExpression: schedule.ScheduleExpression,
      ScheduleExpressionTimezone: schedule.ScheduleExpressionTimezone,
      FlexibleTimeWindow: { ...schedule.FlexibleTimeWindow },
      State: 'ENABLED',
      Target: { Arn: this.#targetArn, RoleArn: this.#roleArn, Input: scheduledInputOf(secretName) },
    };
  }
}
