import { randomUUID } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import * as z from 'zod';
import { ConflictError, InvalidRequestError, NotFoundError, ValidationError } from '../../core/errors.ts';
import { type Clock, systemClock } from '../../core/ports/clock.ts';
import type { RotationService } from '../../core/rotation/rotation-service.ts';
import { ROTATION_STEPS } from '../../core/rotation/rotation-types.ts';
import { ROTATION_EVENTS, type StepTaskInput } from '../../core/rotation/rotation-workflow.ts';
import { type AwsClients, composeAwsDeps, createAwsClients, resolveAuditSalt } from './compose.ts';
import type { AwsConfig } from './config.ts';

/** The `service` name of the rotation function's logs. */
export const ROTATION_SERVICE_NAME = 'coffer-rotation';

/** What the rotation function asks of the rotation service (a fake in tests, type-checked against the real one). */
export type RotationOperations = Pick<RotationService, 'rotate' | 'compromised' | 'runStep' | 'sweepRevocations'>;

/** The part of a Powertools `Logger` the rotation function uses. */
export interface RotationLogger {
  info(message: string, attributes: Record<string, unknown>): void;
  warn(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}

/** Secret names or ARNs, as the service accepts them (ARNs are longer than names). */
const SecretIdSchema = z.string().min(1).max(2048);
/** Rotation ids and request tokens: client tokens of 32-64 characters, or UUIDs. */
const TokenSchema = z.string().min(1).max(128);

/**
 * A task of the state machine: `{ "Step": "<step>", "Rotation.$": "$" }`. The state carries more than the execution
 * input (`$.Error` after a catch, `$.Failure`, `$.RollbackError`), so the rotation object is loose: what the service
 * reads is checked, the rest passes through.
 */
const StepTaskSchema = z.object({
  Step: z.enum([...ROTATION_STEPS, 'rollback']),
  Rotation: z.looseObject({
    RotationId: TokenSchema,
    ClientRequestToken: TokenSchema,
    Secrets: z.array(SecretIdSchema).min(1).max(20),
    Trigger: z.enum(['schedule', 'on-demand', 'breach']),
    ResumeAt: z.literal('rollback').optional(),
    Error: z.looseObject({ Error: z.string(), Cause: z.string().optional() }).optional(),
  }),
});

/** The input of every EventBridge Scheduler schedule (see `SchedulerRotationSchedules`). */
const ScheduledSchema = z.strictObject({ action: z.literal('scheduled'), secretId: SecretIdSchema });

/** The sweep rule's constant input: revoke retired credentials whose overlap has ended. */
const SweepSchema = z.strictObject({ action: z.literal('sweep') });

/**
 * A breach report on EventBridge: source `coffer.security`, detail type `Secret Compromised`. The envelope's other
 * fields (id, time, account, resources...) are EventBridge's and pass unchecked.
 */
const BreachSchema = z.looseObject({
  source: z.literal(ROTATION_EVENTS.breachSource),
  'detail-type': z.literal(ROTATION_EVENTS.breachReported),
  detail: z.looseObject({ secretId: SecretIdSchema, reason: z.string().max(4096).optional() }),
});

/** One invocation of the rotation function, by kind. */
export type RotationEvent =
  | { readonly kind: 'step'; readonly input: StepTaskInput }
  | { readonly kind: 'scheduled'; readonly secretId: string }
  | { readonly kind: 'breach'; readonly secretId: string; readonly reason: string | undefined }
  | { readonly kind: 'sweep' };

const EXPECTED =
  'expected a step task {Step, Rotation}, {"action":"scheduled","secretId":...}, {"action":"sweep"} or a ' +
  `${ROTATION_EVENTS.breachSource} "${ROTATION_EVENTS.breachReported}" event`;

/**
 * Tells the four kinds of invocation apart and validates the one it is. The kind is chosen by its discriminating
 * field (`Step`, `action`, `source`), so an error names what is wrong with that kind rather than with all four.
 *
 * @throws ValidationError naming the kind and the first bad field (never a field's value: an event can carry anything).
 * @example
 * parseRotationEvent({ action: 'scheduled', secretId: 'prod/db' }); // { kind: 'scheduled', secretId: 'prod/db' }
 */
export function parseRotationEvent(event: unknown): RotationEvent {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new ValidationError(`invalid rotation event: not an object; ${EXPECTED}`);
  }
  const fields = event as Record<string, unknown>;
  if ('Step' in fields) {
    const input = parseAs('step task', StepTaskSchema, event);
    return { kind: 'step', input: input as StepTaskInput };
  }
  if (fields.action === 'scheduled') {
    return { kind: 'scheduled', secretId: parseAs('scheduled rotation', ScheduledSchema, event).secretId };
  }
  if (fields.action === 'sweep') {
    parseAs('sweep', SweepSchema, event);
    return { kind: 'sweep' };
  }
  if ('source' in fields || 'detail-type' in fields) {
    const { detail } = parseAs('breach event', BreachSchema, event);
    return { kind: 'breach', secretId: detail.secretId, reason: detail.reason };
  }
  throw new ValidationError(`invalid rotation event: unrecognised; ${EXPECTED}`);
}

function parseAs<T>(kind: string, schema: z.ZodType<T>, event: unknown): T {
  const parsed = schema.safeParse(event);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const path = issue.path.length === 0 ? '' : ` at ${issue.path.map(String).join('.')}`;
  throw new ValidationError(`invalid ${kind}${path}: ${issue.message}`);
}

export interface RotationHandlerOptions {
  readonly rotation: RotationOperations;
  readonly logger: RotationLogger;
  /**
   * Wraps each invocation, e.g. in the audit outbox's scope (`AuditOutbox.run`), so the audit records of a step
   * commit with its changes.
   * @default none: invocations run unwrapped
   */
  readonly requestScope?: <T>(requestId: string, fn: () => Promise<T>) => Promise<T>;
}

/** The part of the Lambda context the handler reads. */
export interface RotationInvocationContext {
  readonly awsRequestId?: string;
}

/**
 * Builds the rotation function's handler: parse the event ({@link parseRotationEvent}), call one method of the
 * rotation service, return its result.
 *
 * - A step task runs `runStep`; its errors propagate unchanged, so Lambda reports `errorType` = the error's `name` and
 *   the state machine's Retry (`TransientRotationError`) and Catch (everything else) match on it.
 * - A scheduled rotation runs `rotate` with trigger `schedule`. A rotation already in progress (ConflictError) covers
 *   the schedule, and a schedule left behind by a deleted secret or a disabled rotation (NotFoundError,
 *   InvalidRequestError) has nothing to rotate: both are logged and answered `{ skipped }`, since retrying cannot
 *   change them.
 * - A breach event runs `compromised`; a sweep runs `sweepRevocations`.
 *
 * Logs hold the kind, step, rotation id, secret names and error names and messages: never a value (rotators and the
 * service keep secret material out of their messages).
 *
 * @example
 * ```ts
 * export const handler = createRotationHandler({ rotation, logger: new Logger({ serviceName: ROTATION_SERVICE_NAME }) });
 * ```
 */
export function createRotationHandler(
  options: RotationHandlerOptions,
): (event: unknown, context?: RotationInvocationContext) => Promise<unknown> {
  const { rotation, logger } = options;
  const scope = options.requestScope ?? (<T>(_requestId: string, fn: () => Promise<T>) => fn());

  async function dispatch(event: RotationEvent): Promise<unknown> {
    switch (event.kind) {
      case 'step':
        return rotation.runStep(event.input);
      case 'scheduled':
        try {
          return await rotation.rotate({ secretId: event.secretId, trigger: 'schedule' });
        } catch (err) {
          const reason = skipReason(err);
          if (reason === undefined) throw err;
          logger.warn('scheduled rotation skipped', { secretId: event.secretId, reason, error: describe(err) });
          return { skipped: reason, secretId: event.secretId };
        }
      case 'breach':
        return rotation.compromised({ secretId: event.secretId, reason: event.reason });
      case 'sweep':
        return rotation.sweepRevocations();
    }
  }

  return async (event, context) => {
    let parsed: RotationEvent;
    try {
      parsed = parseRotationEvent(event);
    } catch (err) {
      logger.error('rotation event refused', { error: describe(err) });
      throw err;
    }
    const attributes = summary(parsed);
    try {
      const result = await scope(context?.awsRequestId ?? randomUUID(), () => dispatch(parsed));
      logger.info('rotation event handled', attributes);
      return result;
    } catch (err) {
      logger.error('rotation event failed', { ...attributes, error: describe(err) });
      throw err;
    }
  };
}

/** Why a scheduled rotation has nothing to do, or undefined when its error is a real failure. */
function skipReason(err: unknown): string | undefined {
  if (err instanceof ConflictError) return 'rotation in progress';
  if (err instanceof NotFoundError) return 'secret not found';
  if (err instanceof InvalidRequestError) return 'rotation not configured';
  return undefined;
}

function summary(event: RotationEvent): Record<string, unknown> {
  switch (event.kind) {
    case 'step':
      return {
        kind: event.kind,
        step: event.input.Step,
        rotationId: event.input.Rotation.RotationId,
        secrets: event.input.Rotation.Secrets,
      };
    case 'scheduled':
    case 'breach':
      return { kind: event.kind, secretId: event.secretId };
    case 'sweep':
      return { kind: event.kind };
  }
}

function describe(err: unknown): { name: string; message?: string } {
  return err instanceof Error ? { name: err.name, message: err.message } : { name: typeof err };
}

/** The rotation function's handler, as {@link createRotationHandler} builds it. */
export type RotationHandler = ReturnType<typeof createRotationHandler>;

export interface LoadRotationHandlerOptions {
  /** @default a Powertools logger, service {@link ROTATION_SERVICE_NAME} */
  readonly logger?: RotationLogger;
  /** @default systemClock */
  readonly clock?: Clock;
}

/**
 * What `rotation-handler.ts` runs at cold start: reads the audit salt secret if one is named, composes exactly as the
 * broker does (`composeAwsDeps`: same table, audit outbox, envelope key, PKI, AWS rotation adapters), and builds the
 * handler over its rotation service. Each invocation runs in its own audit outbox scope, keyed by the Lambda request
 * id, so the audit records of a step commit with its changes. Constructors only: nothing connects before use.
 *
 * @throws ValidationError naming the setting: the rotation settings (`COFFER_ROTATION_*`) are required here.
 * @example
 * ```ts
 * export const handler = await loadRotationHandler(loadAwsConfig());
 * ```
 */
export async function loadRotationHandler(
  config: AwsConfig,
  clients: AwsClients = createAwsClients(config),
  options: LoadRotationHandlerOptions = {},
): Promise<RotationHandler> {
  if (config.rotation === undefined) {
    throw new ValidationError(
      'invalid configuration COFFER_ROTATION_STATE_MACHINE_ARN: is required by the rotation function',
    );
  }
  const resolved = await resolveAuditSalt(config, clients.secretsManager);
  // The broker's own composition: the same store, audit outbox, envelope key, PKI and rotation adapters.
  const deps = composeAwsDeps(resolved, clients, options.clock ?? systemClock);
  return createRotationHandler({
    rotation: deps.rotation!,
    logger: options.logger ?? new Logger({ serviceName: ROTATION_SERVICE_NAME }),
    ...(deps.requestScope !== undefined && { requestScope: deps.requestScope }),
  });
}
