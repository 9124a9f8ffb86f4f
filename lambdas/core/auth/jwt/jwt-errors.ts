import { PermissionDeniedError } from '../../errors.ts';

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
 * bearer credential, and a refused one may still be valid at another relying party.
 *
 * @example throw new JwtLoginError('expired', 'token expired');
 */
export class JwtLoginError extends PermissionDeniedError {
  constructor(
    readonly reason: JwtLoginFailure,
    message: string,
  ) {
    super(message, { details: { reason } });
  }
}
