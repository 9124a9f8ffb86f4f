import { DependencyUnavailableError } from './errors.ts';

/**
 * Error names AWS services answer when the same request can succeed later, whatever the service: throttling (each
 * service spells it its own way), a fault on the service's side, a dependency of the service timing out.
 */
const TRANSIENT_NAMES: ReadonlySet<string> = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'ProvisionedThroughputExceededException',
  'SlowDown',
  'InternalServerException',
  'InternalServerError',
  'InternalException',
  'InternalFailure',
  'InternalError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'KMSInternalException',
  'DependencyTimeoutException',
  'KeyUnavailableException',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);

/** The parts of an SDK service exception this module reads. */
interface SdkErrorShape {
  readonly name?: unknown;
  readonly $fault?: unknown;
  readonly $retryable?: unknown;
}

/**
 * True when `err`, thrown by an SDK client's `send`, is worth retrying: throttling, a server-side fault, or a failure
 * that is no service answer at all (network, timeout: SDK service exceptions carry `$fault`, those do not). A client
 * fault (refused, invalid, missing, denied) is final.
 */
export function isTransientAwsError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const shape = err as SdkErrorShape;
  if (TRANSIENT_NAMES.has(err.name) || shape.$retryable !== undefined) return true;
  return shape.$fault !== 'client';
}

/** Node's codes for a request that got no answer: the connection failed, reset or timed out. */
const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
]);

/**
 * True when `err` says the service is throttling, failing or out of reach, as opposed to refusing this request:
 * a transient name, an error the SDK marks retryable, a server fault, or a network failure by its code. Stricter than
 * {@link isTransientAwsError} about errors that are no service answer: only a known network failure counts, so an
 * unexpected error (a bug, a malformed answer) stays an internal error rather than "come back later".
 */
export function isUnavailableAwsError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const shape = err as SdkErrorShape & { readonly code?: unknown };
  if (TRANSIENT_NAMES.has(err.name) || shape.$retryable !== undefined || shape.$fault === 'server') return true;
  return typeof shape.code === 'string' && NETWORK_CODES.has(shape.code);
}

/**
 * A transient AWS failure that outlasted the client's bounded retries, as the core names it: the request is refused
 * with 503 and `Retry-After` rather than reported as a bug. The message names the service, the operation and the SDK
 * error's name only (SDK messages can quote request parameters); the SDK error is the cause.
 *
 * @example
 * if (isUnavailableAwsError(err)) throw dependencyUnavailable('KMS', 'GenerateDataKey', err);
 */
export function dependencyUnavailable(
  service: string,
  operation: string,
  err: unknown,
  outcome = 'the request was not completed',
): DependencyUnavailableError {
  const name = err instanceof Error ? err.name : 'unknown error';
  return new DependencyUnavailableError(
    `${service} ${operation} is unavailable (${name}) after retries; ${outcome}: retry later`,
    { cause: err, details: { dependency: service } },
  );
}
