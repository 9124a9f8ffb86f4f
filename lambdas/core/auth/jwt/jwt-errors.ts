import { LoginFailedError } from '../methods/login-error.ts';

/** Why a JWT login was refused, for audit and metrics (the message says it in words). */
export type JwtLoginFailure =
  | 'malformed'
  | 'algorithm'
  | 'signature'
  | 'expired'
  | 'not_yet_valid'
  | 'issuer'
  | 'audience'
  | 'subject'
  | 'claim';

/**
 * A JWT presented at login that the mount or role refuses. The message names the check that failed (`token expired`,
 * `audience not allowed`, `claim "repository" does not match the role`) and never any part of the token: a JWT is a
 * bearer credential, and a refused one may still be valid at another relying party. Unlike AppRole's one answer for
 * all failures, the check is named: the bearer holds the token and can read every claim in it, so naming the failed
 * check reveals nothing it does not know, and an operator wiring up CI needs to know which binding refused it.
 *
 * @example throw new JwtLoginError('expired', 'token expired');
 */
export class JwtLoginError extends LoginFailedError {
  constructor(
    readonly reason: JwtLoginFailure,
    message: string,
    role?: string,
  ) {
    super(message, `jwt ${reason}: ${message}`, role);
  }

  /** The same refusal, naming the role the login asked for (for the audit log). */
  forRole(role: string): JwtLoginError {
    return new JwtLoginError(this.reason, this.message, role);
  }
}
