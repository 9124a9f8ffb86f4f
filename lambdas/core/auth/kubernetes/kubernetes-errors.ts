import type { JwtLoginFailure } from '../jwt/jwt-errors.ts';
import { LoginFailedError } from '../methods/login-error.ts';

/** Why a Kubernetes login was refused, for audit and metrics: a JWT check, or a Kubernetes one. */
export type KubernetesLoginFailure =
  | JwtLoginFailure
  | 'service_account'
  | 'namespace'
  | 'token_review'
  | 'source_address'
  | 'unknown_role';

/**
 * A service-account token the mount or role refuses. As for the JWT method, the message names the check that failed
 * (`token expired`, `namespace not allowed by the role`, `token review refused the token`) and never any part of the
 * token: the bearer can read every claim in it, and the operator wiring up a pod needs to know which binding refused
 * it.
 *
 * @example throw new KubernetesLoginError('namespace', 'namespace not allowed by the role');
 */
export class KubernetesLoginError extends LoginFailedError {
  constructor(
    readonly reason: KubernetesLoginFailure,
    message: string,
    role?: string,
    /** More than the caller is told (the API server's own refusal), for the audit log. */
    readonly detail?: string,
  ) {
    super(message, `kubernetes ${reason}: ${message}${detail === undefined ? '' : ` (${detail})`}`, role);
  }

  /** The same refusal, naming the role the login asked for (for the audit log). */
  forRole(role: string): KubernetesLoginError {
    return new KubernetesLoginError(this.reason, this.message, role, this.detail);
  }
}
