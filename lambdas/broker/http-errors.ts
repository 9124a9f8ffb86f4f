import { type CofferError, type ErrorCode, isCofferError } from '../core/errors.ts';

/** The one place where core error codes become HTTP statuses. */
const STATUS: Record<ErrorCode, number> = {
  validation: 400,
  invalid_request: 400,
  not_found: 404,
  already_exists: 409,
  conflict: 409,
  unauthenticated: 401,
  permission_denied: 403,
  limit_exceeded: 429,
  payload_too_large: 413,
  audit_unavailable: 503,
  sealed: 503,
  decryption_failure: 500,
  internal: 500,
};

/** 5xx errors whose message is still safe and useful to show: they describe the server's state, not its data. */
const SAFE_SERVER_ERRORS: ReadonlySet<ErrorCode> = new Set(['audit_unavailable', 'sealed']);

export interface HttpError {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  /** False when the real error must stay in the server log only. */
  readonly exposed: boolean;
}

export function toHttpError(err: unknown): HttpError {
  if (!isCofferError(err)) return { status: 500, code: 'internal', message: 'internal error', exposed: false };
  const status = STATUS[(err as CofferError).code];
  const exposed = status < 500 || SAFE_SERVER_ERRORS.has(err.code);
  return { status, code: err.code, message: exposed ? err.message : 'internal error', exposed };
}

export function errorBody(error: HttpError, requestId: string): string {
  return JSON.stringify({ error: { code: error.code, message: error.message, requestId } });
}
