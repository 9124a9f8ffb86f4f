import { InternalError } from '../../../core/errors.ts';
import { TransientRotationError } from '../../../core/rotation/rotation-types.ts';

/** Error names AWS services answer when a retry later can succeed, whatever the service. */
const TRANSIENT_NAMES: ReadonlySet<string> = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'InternalServerException',
  'InternalException',
  'InternalFailure',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'TimeoutError',
]);

/** The parts of an SDK service exception this module reads. */
interface SdkErrorShape {
  readonly name?: unknown;
  readonly $fault?: unknown;
  readonly $retryable?: unknown;
}

/** The SDK error's `name` (`ExecutionAlreadyExists`, `ConflictException`, ...), or '' for anything else. */
export function awsErrorName(err: unknown): string {
  return err instanceof Error ? err.name : '';
}

/**
 * True when `err` is worth retrying: throttling, a server-side fault, or a failure that is no service answer at all
 * (network, timeout: SDK service exceptions carry `$fault`, those do not). A client fault (refused, invalid,
 * missing) is final.
 */
export function isTransientAwsError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const shape = err as SdkErrorShape;
  if (TRANSIENT_NAMES.has(err.name) || shape.$retryable !== undefined) return true;
  return shape.$fault !== 'client';
}

/**
 * Wraps a failed AWS call in Coffer's vocabulary: {@link TransientRotationError} when a retry can help (the rotation
 * state machine's Retry matches that name), {@link InternalError} otherwise. The message names the service, the
 * operation and the SDK error's name only (SDK messages can quote request parameters); the SDK error is the cause.
 *
 * @example
 * throw awsFailure('Step Functions', 'StartExecution', err);
 */
export function awsFailure(service: string, operation: string, err: unknown): Error {
  const name = awsErrorName(err) || 'unknown error';
  const message = `${service} ${operation} failed (${name})`;
  return isTransientAwsError(err)
    ? new TransientRotationError(message, { cause: err })
    : new InternalError(message, { cause: err });
}
