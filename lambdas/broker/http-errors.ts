import { type CofferError, type ErrorCode, isCofferError } from '../core/errors.ts';
import { secretsManagerAnswer } from './routes/secretsmanager/errors.ts';

/** The one place where core error codes become HTTP statuses. */
const STATUS: Record<ErrorCode, number> = {
  validation: 400,
  invalid_request: 400,
  not_found: 404,
  expired: 410,
  already_exists: 409,
  conflict: 409,
  unauthenticated: 401,
  permission_denied: 403,
  limit_exceeded: 429,
  throttled: 429,
  payload_too_large: 413,
  audit_unavailable: 503,
  storage_unavailable: 503,
  dependency_unavailable: 503,
  sealed: 503,
  decryption_failure: 500,
  internal: 500,
};

/** Each error status with the codes answered with it, in status order: what the OpenAPI document lists. */
export const ERROR_STATUSES: ReadonlyMap<number, readonly ErrorCode[]> = new Map(
  Object.entries(STATUS)
    .sort(([, a], [, b]) => a - b)
    .reduce<Map<number, ErrorCode[]>>((byStatus, [code, status]) => {
      byStatus.set(status, [...(byStatus.get(status) ?? []), code as ErrorCode]);
      return byStatus;
    }, new Map()),
);

/** 5xx errors whose message is still safe and useful to show: they describe the server's state, not its data. */
const SAFE_SERVER_ERRORS: ReadonlySet<ErrorCode> = new Set([
  'audit_unavailable',
  'storage_unavailable',
  'dependency_unavailable',
  'sealed',
]);

/**
 * `Retry-After` seconds for an error a retry can cure, by code. A throttled or failing dependency has already been
 * retried with backoff inside this request (the SDK's bounded attempts), so the client waits a little before asking
 * again rather than at once; AWS SDK clients ignore the header and back off on the 503 itself.
 */
const RETRY_AFTER_SECONDS: Partial<Record<ErrorCode, number>> = { dependency_unavailable: 1 };

export interface HttpError {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  /** False when the real error must stay in the server log only. */
  readonly exposed: boolean;
  /** The `Retry-After` header, in whole seconds, when a later retry of the same request can succeed. */
  readonly retryAfterSeconds?: number;
}

export function toHttpError(err: unknown): HttpError {
  if (!isCofferError(err)) return { status: 500, code: 'internal', message: 'internal error', exposed: false };
  const status = STATUS[(err as CofferError).code];
  const exposed = status < 500 || SAFE_SERVER_ERRORS.has(err.code);
  const retryAfterSeconds = RETRY_AFTER_SECONDS[err.code];
  return {
    status,
    code: err.code,
    message: exposed ? err.message : 'internal error',
    exposed,
    ...(retryAfterSeconds !== undefined && { retryAfterSeconds }),
  };
}

export function errorBody(error: HttpError, requestId: string): string {
  return JSON.stringify({ error: { code: error.code, message: error.message, requestId } });
}

/** An error as the AWS JSON 1.1 protocol sends it: `{"__type": type, "message": message}` with `status`. */
export interface AwsJsonError {
  readonly status: number;
  readonly type: string;
  readonly message: string;
  readonly exposed: boolean;
}

/**
 * Core error codes as AWS Secrets Manager names them (see REFERENCE.md), for the AWS-compatible facade. Client errors
 * are 400 as in AWS, authentication failures 403, and server failures 500 `InternalServiceError`.
 */
const AWS_TYPE: Record<ErrorCode, { status: number; type: string }> = {
  validation: { status: 400, type: 'InvalidParameterException' },
  invalid_request: { status: 400, type: 'InvalidRequestException' },
  not_found: { status: 400, type: 'ResourceNotFoundException' },
  // AWS has no expiring secrets; a state that refuses the operation is its InvalidRequestException.
  expired: { status: 400, type: 'InvalidRequestException' },
  already_exists: { status: 400, type: 'ResourceExistsException' },
  // A lost race that exhausted its retries, or a failed check-and-set: the request is valid, the state moved.
  conflict: { status: 400, type: 'InvalidRequestException' },
  unauthenticated: { status: 403, type: 'UnrecognizedClientException' },
  permission_denied: { status: 400, type: 'AccessDeniedException' },
  limit_exceeded: { status: 400, type: 'LimitExceededException' },
  // AWS answers a rate limit with HTTP 400 ThrottlingException, which its SDKs retry with backoff.
  throttled: { status: 400, type: 'ThrottlingException' },
  payload_too_large: { status: 400, type: 'InvalidParameterException' },
  audit_unavailable: { status: 500, type: 'InternalServiceError' },
  storage_unavailable: { status: 500, type: 'InternalServiceError' },
  // Secrets Manager's own type, with 503: its SDKs retry a 503 with backoff as they do AWS's own "service unavailable".
  dependency_unavailable: { status: 503, type: 'InternalServiceError' },
  sealed: { status: 500, type: 'InternalServiceError' },
  decryption_failure: { status: 400, type: 'DecryptionFailure' },
  internal: { status: 500, type: 'InternalServiceError' },
};

/**
 * An error as the AWS JSON API answers it. `operation` (`secretsmanager.<Operation>`) lets the Secrets Manager error
 * catalogue word a condition as AWS does for that operation.
 */
export function toAwsJsonError(err: unknown, operation?: string): AwsJsonError {
  if (!isCofferError(err))
    return { status: 500, type: 'InternalServiceError', message: 'internal error', exposed: false };
  const awsCode = err.details?.awsCode;
  // SigV4 failures carry the exact name AWS answers with (InvalidSignatureException, IncompleteSignature, ...).
  if (err.code === 'unauthenticated' && typeof awsCode === 'string') {
    return { status: 403, type: awsCode, message: err.message, exposed: true };
  }
  const malformed = err.details?.malformed;
  if (err.code === 'validation' && malformed === 'serialization') {
    return { status: 400, type: 'SerializationException', message: err.message, exposed: true };
  }
  if (err.code === 'validation' && malformed !== undefined) {
    // The request does not fit the operation's model (a missing member, a wrong type, a length out of range).
    return { status: 400, type: 'ValidationException', message: err.message, exposed: true };
  }
  const { status, type: mapped } = AWS_TYPE[err.code];
  const awsType = err.details?.awsType;
  // A few AWS names have no core code of their own (InvalidNextTokenException, MalformedPolicyDocumentException).
  if (status < 500 && typeof awsType === 'string') {
    return { status, type: awsType, message: err.message, exposed: true };
  }
  const exposed = status < 500 || SAFE_SERVER_ERRORS.has(err.code);
  if (!exposed) return { status, type: mapped, message: 'internal error', exposed };
  const answer = secretsManagerAnswer(err, operation);
  return { status, type: answer?.type ?? mapped, message: answer?.message ?? err.message, exposed };
}

export function awsJsonErrorBody(error: AwsJsonError): string {
  return JSON.stringify({ __type: error.type, message: error.message });
}
