/**
 * The SDK's error vocabulary. Every failure of a `CofferClient` call is one of these, so callers branch on classes
 * (`err instanceof CofferNotFoundError`) rather than on status codes. Messages come from the server's error body,
 * which never holds secret material; the SDK adds none.
 */

/** What every SDK error carries besides its message. */
export interface CofferClientErrorOptions {
  /** HTTP status, when the server answered. */
  readonly status?: number | undefined;
  /** The server's error code (`not_found`, `permission_denied`, ...), or `network` / `http_<status>`. */
  readonly code: string;
  /** The server's request id, to find the call in the audit log. */
  readonly requestId?: string | undefined;
  /** The server's `Retry-After` (a rate limit or a login lockout), in seconds. */
  readonly retryAfterSeconds?: number | undefined;
  readonly cause?: unknown;
}

export class CofferClientError extends Error {
  readonly status: number | undefined;
  readonly code: string;
  readonly requestId: string | undefined;
  /** When the server said to try again, in seconds (`Retry-After` of a 429 or a ThrottlingException). */
  readonly retryAfterSeconds: number | undefined;
  /** Whether the same request may succeed if sent again (throttling, server-side and network failures). */
  readonly retryable: boolean = false;

  constructor(message: string, options: CofferClientErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.status = options.status;
    this.code = options.code;
    this.requestId = options.requestId;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** The request broke an input rule (name syntax, sizes, both a value and a binary, body too large). */
export class CofferValidationError extends CofferClientError {}

/** Well-formed but not allowed in the resource's current state, e.g. the secret is scheduled for deletion. */
export class CofferInvalidRequestError extends CofferClientError {}

export class CofferNotFoundError extends CofferClientError {}

/** No, an invalid or an expired credential (401), or a policy that does not allow the call (403). */
export class CofferAccessDeniedError extends CofferClientError {}

/** Check-and-set failed, or a create-only write / request token met an existing resource. */
export class CofferConflictError extends CofferClientError {}

/** Too many requests (429). Retried with backoff before it reaches the caller. */
export class CofferThrottledError extends CofferClientError {
  override readonly retryable = true;
}

/** The server answered 5xx: sealed, audit log unavailable, or an internal error. */
export class CofferServerError extends CofferClientError {
  override readonly retryable = true;
}

/** No answer: connection refused or reset, DNS failure, or the per-attempt timeout. */
export class CofferNetworkError extends CofferClientError {
  override readonly retryable = true;
}

type ErrorClass = new (message: string, options: CofferClientErrorOptions) => CofferClientError;

/** Native error codes (`lambdas/core/errors.ts`) to SDK classes; anything else is classified by status. */
const BY_CODE: Readonly<Record<string, ErrorClass>> = {
  validation: CofferValidationError,
  payload_too_large: CofferValidationError,
  invalid_request: CofferInvalidRequestError,
  not_found: CofferNotFoundError,
  unauthenticated: CofferAccessDeniedError,
  permission_denied: CofferAccessDeniedError,
  already_exists: CofferConflictError,
  conflict: CofferConflictError,
  limit_exceeded: CofferThrottledError,
  throttled: CofferThrottledError,
  audit_unavailable: CofferServerError,
  sealed: CofferServerError,
  decryption_failure: CofferServerError,
  internal: CofferServerError,
};

/** The AWS JSON 1.1 error names of Coffer's Secrets Manager–compatible API, for reads by ARN. */
const BY_AWS_TYPE: Readonly<Record<string, ErrorClass>> = {
  ResourceNotFoundException: CofferNotFoundError,
  InvalidRequestException: CofferInvalidRequestError,
  InvalidParameterException: CofferValidationError,
  ValidationException: CofferValidationError,
  AccessDeniedException: CofferAccessDeniedError,
  UnrecognizedClientException: CofferAccessDeniedError,
  ResourceExistsException: CofferConflictError,
  LimitExceededException: CofferThrottledError,
  ThrottlingException: CofferThrottledError,
  InternalServiceError: CofferServerError,
  DecryptionFailure: CofferServerError,
};

function byStatus(status: number): ErrorClass {
  if (status === 401 || status === 403) return CofferAccessDeniedError;
  if (status === 404) return CofferNotFoundError;
  if (status === 409) return CofferConflictError;
  if (status === 413) return CofferValidationError;
  if (status === 429) return CofferThrottledError;
  if (status >= 500) return CofferServerError;
  return CofferClientError;
}

/**
 * Turns a non-2xx answer into a typed error. The native body is `{"error":{"code","message","requestId"}}`; proxies
 * in front (API Gateway) answer with other shapes, which are classified by status alone.
 * @example throw errorFromResponse(res.status, await res.text(), res.headers.get('x-request-id'));
 */
export function errorFromResponse(
  status: number,
  body: string,
  requestIdHeader?: string | null,
  retryAfterHeader?: string | null,
): CofferClientError {
  let code: string | undefined;
  let message: string | undefined;
  let requestId = requestIdHeader ?? undefined;
  // Only the delta-seconds form: Coffer sends no other, and a date would need a clock the client may not share.
  const retryAfterSeconds =
    retryAfterHeader !== undefined && retryAfterHeader !== null && /^\d{1,9}$/.test(retryAfterHeader)
      ? Number(retryAfterHeader)
      : undefined;
  try {
    const parsed = JSON.parse(body) as {
      error?: { code?: unknown; message?: unknown; requestId?: unknown };
      __type?: unknown;
      message?: unknown;
    };
    if (typeof parsed.__type === 'string') {
      const AwsClass = BY_AWS_TYPE[parsed.__type] ?? byStatus(status);
      const text = typeof parsed.message === 'string' ? parsed.message : `Coffer answered ${parsed.__type}`;
      return new AwsClass(text, { status, code: parsed.__type, requestId, retryAfterSeconds });
    }
    if (typeof parsed.error?.code === 'string') code = parsed.error.code;
    if (typeof parsed.error?.message === 'string') message = parsed.error.message;
    if (typeof parsed.error?.requestId === 'string') requestId = parsed.error.requestId;
  } catch {
    // Not the native shape: the status decides.
  }
  const ErrorClass = (code === undefined ? undefined : BY_CODE[code]) ?? byStatus(status);
  return new ErrorClass(message ?? `Coffer answered HTTP ${status}`, {
    status,
    code: code ?? `http_${status}`,
    requestId,
    retryAfterSeconds,
  });
}
