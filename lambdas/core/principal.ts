/**
 * Who is calling. Every auth method (tokens now; IAM via API Gateway, Kubernetes, OIDC later) resolves a request to a
 * principal, and only the principal reaches policy evaluation and audit.
 */
export type PrincipalType = 'token' | 'iam' | 'access-key';

export interface Principal {
  readonly type: PrincipalType;
  /** Stable identifier: a token accessor, or an IAM ARN. Used in templated policy paths and audit. */
  readonly id: string;
  /**
   * The identity's name (`{{principal.name}}` in templated policies, the name the audit log shows). Always set by the
   * server from the authenticated identity, never from a label the caller chose, or templated policies would let a
   * caller pick whose paths it reaches.
   */
  readonly displayName: string;
  readonly policies: readonly string[];
  /** Identity metadata usable by templated policies; server-set for the same reason as `displayName`. */
  readonly metadata: Readonly<Record<string, string>>;
  /**
   * The creators this credential was derived from (a child token's ancestors, the creator of an access key or of an
   * IAM mapping), as they were at derivation. A request must also be allowed to each of them: policy names alone do
   * not bound access, since dropping a policy can drop a `deny` or a more specific rule. Absent = none.
   */
  readonly ceilings?: readonly PrincipalCeiling[];
}

/** A creator's identity and policy names, frozen into what it derived; see `Principal.ceilings`. */
export interface PrincipalCeiling {
  readonly id: string;
  readonly name: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly policies: readonly string[];
}

/** The identity a derived credential carries: the name and metadata templated policies and the audit log see. */
export interface PrincipalIdentity {
  readonly name: string;
  readonly metadata: Readonly<Record<string, string>>;
}

/** Facts about the request that policy conditions may test. */
export interface RequestContext {
  readonly requestId: string;
  readonly sourceIp: string;
  /** Epoch milliseconds. */
  readonly now: number;
  /**
   * The region the request acts in (as AWS's `aws:RequestedRegion`), once the broker knows it: absent before the
   * caller is authenticated, and for requests that name none (a policy's `regions` condition then does not hold).
   */
  readonly region?: string | undefined;
}
