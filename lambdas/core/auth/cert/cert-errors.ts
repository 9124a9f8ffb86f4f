import { LoginFailedError } from '../methods/login-error.ts';

/** Why a certificate login was refused, for audit and metrics (the message says it in words). */
export type CertLoginFailure =
  | 'no_certificate'
  | 'malformed'
  | 'expired'
  | 'not_yet_valid'
  | 'untrusted'
  | 'usage'
  | 'name'
  | 'extension'
  | 'revoked'
  | 'source'
  | 'no_role';

/**
 * A client certificate a role refuses. The message names the check that failed (`certificate revoked`, `common name
 * not allowed by the role`): the client holds its certificate and can read every field of it, so naming the check
 * reveals nothing it does not know, and an operator wiring up a service needs to know which binding refused it. No
 * field of the certificate is ever echoed.
 */
export class CertLoginError extends LoginFailedError {
  constructor(
    readonly reason: CertLoginFailure,
    message: string,
    role?: string,
  ) {
    super(message, `cert ${reason}: ${message}`, role);
  }

  /** The same refusal, naming the role that refused it (for the audit log). */
  forRole(role: string): CertLoginError {
    return new CertLoginError(this.reason, this.message, role);
  }
}
