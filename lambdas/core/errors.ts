/**
 * The core's error vocabulary. Errors know nothing about HTTP: the broker maps `code` to a status in one place
 * (`lambdas/broker/http-errors.ts`). Messages of client errors are shown to callers, so they must never contain a
 * secret value; internal errors are never shown.
 */
export type ErrorCode =
  | 'validation'
  | 'not_found'
  | 'expired'
  | 'already_exists'
  | 'conflict'
  | 'invalid_request'
  | 'unauthenticated'
  | 'permission_denied'
  | 'limit_exceeded'
  | 'throttled'
  | 'payload_too_large'
  | 'audit_unavailable'
  | 'storage_unavailable'
  | 'dependency_unavailable'
  | 'sealed'
  | 'decryption_failure'
  | 'internal';

export interface CofferErrorOptions {
  cause?: unknown;
  /** Extra machine-readable context. Never put secret material here. */
  details?: Record<string, unknown>;
}

export abstract class CofferError extends Error {
  abstract readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(message: string, options: CofferErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.details = options.details;
  }
}

/** Input breaks a rule (name syntax, sizes, tag counts, ...). */
export class ValidationError extends CofferError {
  readonly code = 'validation' as const;
}

export class NotFoundError extends CofferError {
  readonly code = 'not_found' as const;
}

/**
 * The resource exists but its expiration policy ended it (a time past its grace period, a spent read budget, a
 * condition met): gone for good, unlike a refusal a retry could change. The message names the expiry, never a value.
 */
export class ExpiredError extends CofferError {
  readonly code = 'expired' as const;
}

/** Create-only write hit an existing resource, or a request token was reused with a different value. */
export class AlreadyExistsError extends CofferError {
  readonly code = 'already_exists' as const;
}

/** Check-and-set failed or a concurrent writer won: the caller must re-read and retry. */
export class ConflictError extends CofferError {
  readonly code = 'conflict' as const;
}

/** The request is well-formed but not allowed in the resource's current state (e.g. pending deletion). */
export class InvalidRequestError extends CofferError {
  readonly code = 'invalid_request' as const;
}

/**
 * The operation belongs to an optional feature this runtime was composed without (an engine, a local-only
 * operation). Every such route answers this one error, so callers can tell "off here" from "bad request".
 */
export class FeatureNotEnabledError extends InvalidRequestError {
  constructor(
    readonly feature: string,
    description: string,
    runtime: string,
  ) {
    super(`${description} is not enabled on this runtime`, { details: { feature, runtime } });
  }
}

export class UnauthenticatedError extends CofferError {
  readonly code = 'unauthenticated' as const;
}

export class PermissionDeniedError extends CofferError {
  readonly code = 'permission_denied' as const;
}

export class LimitExceededError extends CofferError {
  readonly code = 'limit_exceeded' as const;
}

/** Too many requests in too short a time (a write rate); the same request may succeed after a pause. */
export class ThrottledError extends CofferError {
  readonly code = 'throttled' as const;
}

export class PayloadTooLargeError extends CofferError {
  readonly code = 'payload_too_large' as const;
}

/** Fail-closed: the audit record could not be written, so the request must not proceed. */
export class AuditUnavailableError extends CofferError {
  readonly code = 'audit_unavailable' as const;
}

/**
 * Fail-closed: the store cannot be written (disk full, file system read-only, I/O error), so the change was not
 * applied. Transient: the same node takes writes again once the disk does.
 */
export class StorageUnavailableError extends CofferError {
  readonly code = 'storage_unavailable' as const;
}

/**
 * Fail-closed: a service the runtime depends on (KMS, DynamoDB) kept throttling or failing through its bounded retries,
 * so the request was not served. Transient, unlike an `InternalError`: the same request may succeed once the service
 * recovers, so callers are told to come back (503 with `Retry-After`). A refusal that retrying cannot change (access
 * denied, a disabled or missing key) is never this. `details.dependency` names the service.
 */
export class DependencyUnavailableError extends CofferError {
  readonly code = 'dependency_unavailable' as const;
}

/** The keyring is sealed (passphrase missing or wrong), so no data key can be unwrapped. */
export class SealedError extends CofferError {
  readonly code = 'sealed' as const;
}

/** Ciphertext failed authentication: wrong key, wrong context, or tampering. */
export class DecryptionFailureError extends CofferError {
  readonly code = 'decryption_failure' as const;
}

/** A bug or an infrastructure failure. The message is logged, never returned to callers. */
export class InternalError extends CofferError {
  readonly code = 'internal' as const;
}

export function isCofferError(err: unknown): err is CofferError {
  return err instanceof CofferError;
}
