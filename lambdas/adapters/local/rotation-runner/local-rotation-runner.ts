import { type Claims, soleNodeClaims } from '../../../core/coordination/claims.ts';
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
  /**
   * Where nodes sharing the store agree who runs each rotation: an execution runs only on the node holding the claim
   * `rotation/<id>`, renewed before every step and every `heartbeatMs`. @default soleNodeClaims (the store's only node)
   */
  readonly claims?: Claims | undefined;
  /** How long a rotation stays its node's after the last renewal; a killed node's rotations wait this long. @default 30_000 */
  readonly claimTtlMs?: number | undefined;
  /** How often running executions renew their claims; 0: only before each step and on `heartbeat()`. @default claimTtlMs / 3 */
  readonly heartbeatMs?: number | undefined;
}

/** The claim naming the node that runs a rotation's execution. */
export function rotationClaim(rotationId: string): string {
  return `rotation/${rotationId}`;
}

/** An execution stopped because another node took its rotation over (this node was paused past its claim). */
export class RotationClaimLostError extends Error {
  override readonly name = 'RotationClaimLostError';
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
  readonly #claims: Claims;
  readonly #claimTtlMs: number;
  readonly #heartbeat: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: LocalRotationRunnerOptions) {
    this.#options = options;
    this.#claims = options.claims ?? soleNodeClaims;
    this.#claimTtlMs = options.claimTtlMs ?? 30_000;
    const beat = options.heartbeatMs ?? Math.floor(this.#claimTtlMs / 3);
    if (this.#claims !== soleNodeClaims && beat > 0) {
      this.#heartbeat = setInterval(() => void this.heartbeat(), beat);
      this.#heartbeat.unref();
    }
  }

  /**
   * Starts the execution of `input` on this node, unless it runs here already or another node holds its claim (that
   * node runs it: Step Functions' one execution per name, across nodes).
   */
  async launch(input: RotationExecutionInput): Promise<void> {
    if (this.#closed) throw new Error('the rotation runner is shut down');
    if (this.#running.has(input.RotationId)) return;
    // Registered before the claim's round trip, so a second launch of the id on this node finds it running.
    const claimed = deferred();
    const run = this.#claimed(input, claimed).finally(() => this.#running.delete(input.RotationId));
    this.#running.set(input.RotationId, run);
    // The start is durable once this node holds the claim (or another node does: it runs the execution).
    await claimed.promise;
  }

  /**
   * Takes over an interrupted rotation (for `RotationService.interrupted`): true when no execution of it runs here and
   * this node won its claim, i.e. the node that ran it is gone (its claim expired) or it was this node before a restart.
   */
  async adopt(rotationId: string): Promise<boolean> {
    if (this.#closed || this.#running.has(rotationId)) return false;
    return this.#claims.claim(rotationClaim(rotationId), this.#claimTtlMs);
  }

  /** Renews the claim of every execution running here (the timer calls it; tests call it). */
  async heartbeat(): Promise<void> {
    await Promise.allSettled(this.running.map((id) => this.#claims.renew(rotationClaim(id), this.#claimTtlMs)));
  }

  async #claimed(input: RotationExecutionInput, claimed: Deferred): Promise<void> {
    const claim = rotationClaim(input.RotationId);
    let won: boolean;
    try {
      won = await this.#claims.claim(claim, this.#claimTtlMs);
    } catch (error) {
      claimed.reject(error);
      return;
    }
    claimed.resolve();
    if (!won) return;
    const lost = await this.#run(input).then(
      () => false,
      (error: unknown) => {
        this.#options.onError?.(input.RotationId, error);
        return error instanceof RotationClaimLostError;
      },
    );
    // A lost claim is another node's now: releasing it would free the rotation for a third node.
    if (!lost) await this.#claims.release(claim).catch(() => undefined);
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
    clearInterval(this.#heartbeat);
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
    const claim = rotationClaim(input.RotationId);
    let lost = false;
    let abort = (): void => undefined;
    // Fencing: a node paused past its claim must not run one more step of a rotation another node took over.
    const fenced =
      <A, R>(task: (value: A) => Promise<R>) =>
      async (value: A): Promise<R> => {
        if (!lost && !(await this.#claims.renew(claim, this.#claimTtlMs))) {
          lost = true;
          abort();
        }
        if (lost) throw new RotationClaimLostError(`rotation ${input.RotationId} is run by another node now`);
        return task(value);
      };
    const step = fenced(
      (value: JsonValue): Promise<JsonValue> =>
        this.#options.step(value as unknown as StepTaskInput) as Promise<JsonValue>,
    );
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
          [ROTATION_STATES.publishFailure]: fenced(async (value: JsonValue) => {
            await this.#publish(value);
            return {};
          }),
        },
        ...(interval === undefined
          ? {}
          : { retryIntervalOverrides: Object.fromEntries(retryNames.map((name) => [name, interval])) }),
      },
      context: { Execution: { Name: input.RotationId } },
    });
    abort = execution.abort;
    try {
      await execution.result;
    } catch (error) {
      if (lost) throw new RotationClaimLostError(`rotation ${input.RotationId} is run by another node now`);
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

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
