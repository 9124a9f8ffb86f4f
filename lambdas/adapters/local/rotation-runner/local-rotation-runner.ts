import type { RotationEventPublisher, RotationLauncher } from '../../../core/ports/rotation.ts';
import {
  ROTATION_EVENTS,
  ROTATION_STATES,
  type RotationExecutionInput,
  type StepTaskInput,
} from '../../../core/rotation/rotation-workflow.ts';

export interface LocalRotationRunnerOptions {
  /** The state-machine definition CDK synthesises (`lambdas/core/rotation/workflow/rotation-state-machine.asl.json`). */
  readonly definition: Record<string, unknown>;
  /** The in-process step handler: `RotationService.runStep`. */
  readonly step: (input: StepTaskInput) => Promise<Record<string, unknown>>;
  readonly events: RotationEventPublisher;
  /** Replaces every retry interval of the definition (tests, chaos drills). @default the definition's own */
  readonly retryIntervalMs?: number | undefined;
  /** Told when an execution ends abnormally (not a handled rotation failure). Never given secret material. */
  readonly onError?: ((rotationId: string, error: unknown) => void) | undefined;
}

type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * Runs the rotation workflow in-process, from the very definition Step Functions runs on AWS
 * (`aws-local-stepfunctions` interprets it; its task states are bound by name to the in-process step handler).
 *
 * It keeps no state of its own: progress lives in the store (the rotation record and the secret's labels), so a
 * node killed mid-rotation resumes on restart by launching the interrupted rotations again (`RotationService
 * .interrupted()`): every step is idempotent, so the replay skips what was done and continues, or finishes a rollback
 * that had begun. One execution per rotation id at a time, as Step Functions' execution names guarantee on AWS.
 */
export class LocalRotationRunner implements RotationLauncher {
  readonly #options: LocalRotationRunnerOptions;
  readonly #running = new Map<string, Promise<void>>();
  #closed = false;

  constructor(options: LocalRotationRunnerOptions) {
    this.#options = options;
  }

  async launch(input: RotationExecutionInput): Promise<void> {
    if (this.#closed) throw new Error('the rotation runner is shut down');
    if (this.#running.has(input.RotationId)) return;
    const run = this.#run(input).finally(() => this.#running.delete(input.RotationId));
    this.#running.set(input.RotationId, run);
  }

  /** Rotation ids whose execution is in flight. */
  get running(): string[] {
    return [...this.#running.keys()];
  }

  /** Resolves when the execution of `rotationId` has ended (at once if none is in flight). */
  async done(rotationId: string): Promise<void> {
    await this.#running.get(rotationId);
  }

  /** Resolves when every execution in flight has ended (tests, graceful shutdown). */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running.values()]);
  }

  /** Stops taking new executions and waits up to `timeoutMs` for those in flight; the rest resume on next start. */
  async close(timeoutMs = 5_000): Promise<void> {
    this.#closed = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.idle(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }

  #machinePromise: Promise<import('aws-local-stepfunctions').StateMachine> | undefined;

  /** Built (and validated) once: validation compiles a JSON schema, far costlier than running the machine. */
  #machine(): Promise<import('aws-local-stepfunctions').StateMachine> {
    this.#machinePromise ??= import('aws-local-stepfunctions').then(
      ({ StateMachine }) =>
        // biome-ignore lint/suspicious/noExplicitAny: the definition is validated by the library itself
        new StateMachine(this.#options.definition as any, { validationOptions: { checkArn: false } }),
    );
    return this.#machinePromise;
  }

  async #run(input: RotationExecutionInput): Promise<void> {
    const machine = await this.#machine();
    const step = (value: JsonValue): Promise<JsonValue> =>
      this.#options.step(value as unknown as StepTaskInput) as Promise<JsonValue>;
    const retryNames = [
      ROTATION_STATES.createSecret,
      ROTATION_STATES.setSecret,
      ROTATION_STATES.testSecret,
      ROTATION_STATES.finishSecret,
      ROTATION_STATES.rollback,
    ];
    const interval = this.#options.retryIntervalMs;
    const execution = machine.run(input as unknown as JsonValue, {
      overrides: {
        taskResourceLocalHandlers: {
          [ROTATION_STATES.createSecret]: step,
          [ROTATION_STATES.setSecret]: step,
          [ROTATION_STATES.testSecret]: step,
          [ROTATION_STATES.finishSecret]: step,
          [ROTATION_STATES.rollback]: step,
          [ROTATION_STATES.publishFailure]: async (value: JsonValue) => {
            await this.#publish(value);
            return {};
          },
        },
        ...(interval === undefined
          ? {}
          : { retryIntervalOverrides: Object.fromEntries(retryNames.map((name) => [name, interval])) }),
      },
      context: { Execution: { Name: input.RotationId } },
    });
    try {
      await execution.result;
    } catch (error) {
      // A rotation that failed and rolled back ends in the definition's Fail state: expected, already recorded.
      if (isHandledFailure(error)) return;
      this.#options.onError?.(input.RotationId, error);
    }
  }

  /** The publishFailure state's PutEvents entries, delivered to the local event publisher. */
  async #publish(value: JsonValue): Promise<void> {
    const entries =
      typeof value === 'object' && value !== null && !Array.isArray(value) && Array.isArray(value.Entries)
        ? value.Entries
        : [value];
    for (const entry of entries) {
      const record = typeof entry === 'object' && entry !== null && !Array.isArray(entry) ? entry : {};
      const detail = typeof record.Detail === 'string' ? (JSON.parse(record.Detail) as JsonValue) : record.Detail;
      const detailType = typeof record.DetailType === 'string' ? record.DetailType : ROTATION_EVENTS.failed;
      await this.#options.events.publish(
        detailType,
        typeof detail === 'object' && detail !== null && !Array.isArray(detail) ? detail : { detail: detail ?? null },
      );
    }
  }
}

/** The execution reached the definition's Fail state: the rotation failed, rolled back and published its event. */
function isHandledFailure(error: unknown): boolean {
  const cause = error instanceof Error ? error.cause : undefined;
  return typeof cause === 'object' && cause !== null && cause.constructor.name === 'FailStateError';
}
