import { InternalError } from '../../../core/errors.ts';
import { TransientRotationError } from '../../../core/rotation/rotation-types.ts';
import { isTransientAwsError } from '../transient-errors.ts';

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
