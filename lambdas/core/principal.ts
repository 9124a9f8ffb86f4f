/**
 * Who is calling. Every auth method (tokens now; IAM via API Gateway, Kubernetes, OIDC later) resolves a request to a
 * principal, and only the principal reaches policy evaluation and audit.
 */
export type PrincipalType = 'token' | 'iam' | 'access-key';

export interface Principal {
  readonly type: PrincipalType;
  /** Stable identifier: a token accessor, or an IAM ARN. Used in templated policy paths and audit. */
  readonly id: string;
  readonly displayName: string;
  readonly policies: readonly string[];
  /** Free-form identity metadata usable by templated policies. */
  readonly metadata: Readonly<Record<string, string>>;
}

/** Facts about the request that policy conditions may test. */
export interface RequestContext {
  readonly requestId: string;
  readonly sourceIp: string;
  /** Epoch milliseconds. */
  readonly now: number;
}
