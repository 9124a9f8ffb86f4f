import { dependencyUnavailable, isTransientAwsError, isUnavailableAwsError } from '../../../core/aws-errors.ts';
import { InternalError } from '../../../core/errors.ts';
import { TransientRotationError } from '../../../core/rotation/rotation-types.ts';

/** The SDK error's `name` (`ExecutionAlreadyExists`, `ConflictException`, ...), or '' for anything else. */
export function awsErrorName(err: unknown): string {
  return err instanceof Error ? err.name : '';
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

/**
 * {@link awsFailure} for a call made while answering a request (starting a rotation, writing its schedule), where no
 * state machine retries it: a service throttling or failing past the SDK's retries is the core's
 * `DependencyUnavailableError` (503 with `Retry-After`), not `TransientRotationError`, which the broker would answer
 * as an internal error.
 *
 * @example
 * throw requestFailure('Step Functions', 'StartExecution', err, 'the rotation was not started');
 */
export function requestFailure(service: string, operation: string, err: unknown, outcome: string): Error {
  return isUnavailableAwsError(err)
    ? dependencyUnavailable(service, operation, err, outcome)
    : awsFailure(service, operation, err);
}
