import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  RotationEventPublisher,
  RotationLauncher,
  RotationScheduleSync,
} from '../../lambdas/core/ports/rotation.ts';
import { ROTATION_EVENTS, type RotationExecutionInput } from '../../lambdas/core/rotation/rotation-workflow.ts';

/** One execution a launcher started: the rotation it runs and the input it was given. */
export interface StartedExecution {
  readonly rotationId: string;
  readonly input: RotationExecutionInput;
}

export interface RotationLauncherUnderTest {
  readonly launcher: RotationLauncher;
  /** Every execution started so far, in any order, read from where executions run (not from the launcher). */
  executions(): Promise<StartedExecution[]>;
  /** Ends the execution of `rotationId`, as its last step (or an operator stopping it) would. */
  end(rotationId: string): Promise<void>;
  cleanup?: () => Promise<void>;
}

export interface RotationLauncherTraits {
  /**
   * A rotation id names at most one execution ever (Step Functions keeps an execution's name taken after it ended).
   * The local runner runs one execution per id at a time: a restarted node resumes an interrupted rotation by
   * launching it again.
   */
  readonly oncePerRotationEver: boolean;
}

function executionInput(rotationId: string = randomUUID()): RotationExecutionInput {
  return {
    RotationId: rotationId,
    ClientRequestToken: randomUUID(),
    Secrets: ['prod/db/password'],
    Trigger: 'schedule',
  };
}

/**
 * The behaviour every {@link RotationLauncher} must share (the local runner, Step Functions): a launch starts one
 * execution with its input, and launching a rotation again while it runs starts no other.
 *
 * @example
 * ```ts
 * describeRotationLauncherContract('LocalRotationRunner', { oncePerRotationEver: false }, async () => ({ ... }));
 * ```
 */
export function describeRotationLauncherContract(
  name: string,
  traits: RotationLauncherTraits,
  factory: () => Promise<RotationLauncherUnderTest>,
): void {
  describe(`Contract: RotationLauncher (${name})`, () => {
    let under: RotationLauncherUnderTest;

    beforeEach(async () => {
      under = await factory();
    });

    afterEach(async () => {
      await under.cleanup?.();
    });

    it('starts an execution with the input it was given once launch resolves', async () => {
      const input = executionInput();
      await under.launcher.launch(input);
      expect(await under.executions()).toEqual([{ rotationId: input.RotationId, input }]);
    });

    it('starts one execution when a running rotation is launched again, in turn or at once', async () => {
      const input = executionInput();
      await under.launcher.launch(input);
      await under.launcher.launch(input);
      await Promise.all([under.launcher.launch(input), under.launcher.launch(input)]);
      expect((await under.executions()).map((each) => each.rotationId)).toEqual([input.RotationId]);
    });

    it('starts one execution per rotation', async () => {
      const first = executionInput();
      const second = executionInput();
      await Promise.all([under.launcher.launch(first), under.launcher.launch(second)]);
      const started = (await under.executions()).map((each) => each.rotationId);
      expect(started.sort()).toEqual([first.RotationId, second.RotationId].sort());
    });

    it('launches rotations whose ids are not valid execution names, one execution each', async () => {
      const slashed = executionInput('prod/db rotation #1');
      const similar = executionInput('prod/db rotation #2');
      await under.launcher.launch(slashed);
      await under.launcher.launch(similar);
      await under.launcher.launch(slashed);
      const started = await under.executions();
      expect(started.map((each) => each.rotationId).sort()).toEqual([slashed.RotationId, similar.RotationId]);
      expect(started.find((each) => each.rotationId === slashed.RotationId)?.input).toEqual(slashed);
    });

    if (traits.oncePerRotationEver) {
      it('starts no other execution when a rotation whose execution ended is launched again', async () => {
        const input = executionInput();
        await under.launcher.launch(input);
        await under.end(input.RotationId);
        await under.launcher.launch(input);
        expect((await under.executions()).map((each) => each.rotationId)).toEqual([input.RotationId]);
      });
    }
  });
}

/** A schedule as the adapter holds it: its expression and the window a due rotation may start in. */
export interface HeldSchedule {
  readonly expression: string;
  readonly windowMinutes: number;
}

export interface RotationSchedulesUnderTest {
  readonly schedules: RotationScheduleSync;
  /**
   * The schedule the adapter holds for `secretName`, or undefined when there is none. Left out by adapters that hold
   * no schedules: the local node's schedules are the rotation configs in the store, which its scheduler reads, so
   * syncing them is a no-op and the cases below can only check that it accepts every call.
   */
  readonly scheduleOf?: (secretName: string) => Promise<HeldSchedule | undefined>;
  cleanup?: () => Promise<void>;
}

/**
 * The behaviour every {@link RotationScheduleSync} must share (store-backed, EventBridge Scheduler): `put` creates or
 * replaces a secret's schedule, `delete` removes it and succeeds when there is none, and secrets never share one.
 */
export function describeRotationSchedulesContract(
  name: string,
  factory: () => Promise<RotationSchedulesUnderTest>,
): void {
  describe(`Contract: RotationScheduleSync (${name})`, () => {
    let under: RotationSchedulesUnderTest;
    /** A secret name no other test (or earlier run against a long-lived emulator) uses. */
    const secret = (label: string) => `contract/${label}/${randomUUID()}`;

    beforeEach(async () => {
      under = await factory();
    });

    afterEach(async () => {
      await under.cleanup?.();
    });

    /** Asserts the held schedule when the adapter holds schedules. */
    async function expectHeld(secretName: string, expected: HeldSchedule | undefined): Promise<void> {
      if (under.scheduleOf === undefined) return;
      expect(await under.scheduleOf(secretName)).toEqual(expected);
    }

    it('creates the schedule of a secret', async () => {
      const name = secret('create');
      await under.schedules.put(name, { automaticallyAfterDays: 30, duration: '3h' });
      await expectHeld(name, { expression: 'rate(30 days)', windowMinutes: 180 });
    });

    it('replaces the schedule of a secret that has one', async () => {
      const name = secret('update');
      await under.schedules.put(name, { automaticallyAfterDays: 30, duration: '3h' });
      await under.schedules.put(name, { scheduleExpression: 'cron(0 4 ? * SUN *)', duration: '2h' });
      await expectHeld(name, { expression: 'cron(0 4 ? * SUN *)', windowMinutes: 120 });
    });

    it('deletes the schedule of a secret, and succeeds when there is none', async () => {
      const name = secret('delete');
      await under.schedules.put(name, { automaticallyAfterDays: 7, duration: '1h' });
      await under.schedules.delete(name);
      await expectHeld(name, undefined);
      await expect(under.schedules.delete(name)).resolves.toBeUndefined();
      await expect(under.schedules.delete(secret('never-scheduled'))).resolves.toBeUndefined();
    });

    it('gives secrets whose names differ only in characters a schedule name cannot hold schedules of their own', async () => {
      const base = secret('twins');
      const [slashed, plussed] = [`${base}/a`, `${base}+a`];
      await under.schedules.put(slashed, { automaticallyAfterDays: 10, duration: '1h' });
      await under.schedules.put(plussed, { automaticallyAfterDays: 20, duration: '2h' });
      await under.schedules.delete(slashed);
      await expectHeld(slashed, undefined);
      await expectHeld(plussed, { expression: 'rate(20 days)', windowMinutes: 120 });
    });
  });
}

/** An event as it reached the bus: EventBridge's envelope. */
export interface DeliveredEvent {
  readonly source: string;
  readonly 'detail-type': string;
  readonly detail: unknown;
}

export interface RotationEventsUnderTest {
  readonly events: RotationEventPublisher;
  /** Every event delivered so far, read from where they go (the events file, a queue subscribed to the bus). */
  delivered(): Promise<DeliveredEvent[]>;
  /** A publisher of the same kind whose destination does not exist. */
  unreachable(): RotationEventPublisher;
  cleanup?: () => Promise<void>;
}

/**
 * The behaviour every {@link RotationEventPublisher} must share (the events file, EventBridge): an event is delivered
 * once publish resolves, in EventBridge's envelope with Coffer's rotation source, and publish rejects when it cannot
 * deliver (an event is never lost silently).
 */
export function describeRotationEventsContract(name: string, factory: () => Promise<RotationEventsUnderTest>): void {
  describe(`Contract: RotationEventPublisher (${name})`, () => {
    let under: RotationEventsUnderTest;

    beforeEach(async () => {
      under = await factory();
    });

    afterEach(async () => {
      await under.cleanup?.();
    });

    const detail = () => ({
      rotationId: randomUUID(),
      secrets: ['prod/db/password'],
      failedStep: 'setSecret',
      nested: { attempts: 3, transient: true },
    });

    it('delivers an event once publish resolves, in the envelope with the rotation source', async () => {
      const published = detail();
      await under.events.publish(ROTATION_EVENTS.failed, published);
      expect(await under.delivered()).toEqual([
        expect.objectContaining({
          source: ROTATION_EVENTS.source,
          'detail-type': ROTATION_EVENTS.failed,
          detail: published,
        }),
      ]);
    });

    it('delivers every event published, each with its own detail type', async () => {
      const failed = detail();
      const succeeded = detail();
      await Promise.all([
        under.events.publish(ROTATION_EVENTS.failed, failed),
        under.events.publish(ROTATION_EVENTS.succeeded, succeeded),
      ]);
      const delivered = await under.delivered();
      const byRotation = new Map(
        delivered.map((event) => [(event.detail as { rotationId: string }).rotationId, event]),
      );
      expect(delivered).toHaveLength(2);
      expect(byRotation.get(failed.rotationId)).toMatchObject({
        'detail-type': ROTATION_EVENTS.failed,
        detail: failed,
      });
      expect(byRotation.get(succeeded.rotationId)).toMatchObject({
        'detail-type': ROTATION_EVENTS.succeeded,
        detail: succeeded,
      });
    });

    it('rejects when the event cannot be delivered', async () => {
      await expect(under.unreachable().publish(ROTATION_EVENTS.failed, detail())).rejects.toBeInstanceOf(Error);
    });
  });
}
